#!/usr/bin/env bash
# The demo: installs dependencies, builds and installs saas_schema into the
# system's PostgreSQL 15, starts a throwaway cluster, creates the extension,
# two sample tenants with data, and shows an audited change.
#
#   bash scripts/demo.sh           # run and clean up
#   bash scripts/demo.sh --keep    # leave the cluster running to explore
set -euo pipefail
KEEP=0
[ "${1:-}" = "--keep" ] && KEEP=1

HERE="$(cd "$(dirname "$0")" && pwd)"
bash "$HERE/setup.sh"
source "$HERE/pgenv.sh"
cd "$REPO_ROOT"

echo "== building and installing into $("$PG_CONFIG" --pkglibdir)"
build_and_install

DIR="$(mktemp -d /tmp/saas-demo.XXXXXX)"
PORT="$(free_port 55499)"
cluster_start "$DIR" "$PORT"
if [ $KEEP -eq 0 ]; then
    trap 'cluster_stop "$DIR"' EXIT
fi
echo "== throwaway cluster on 127.0.0.1:$PORT (socket $DIR)"

psql -X -v ON_ERROR_STOP=1 -d postgres -f demo/demo.sql

if [ $KEEP -eq 1 ]; then
    echo
    echo "Cluster left running. Connect with:  psql -h $DIR -p $PORT -U postgres"
    echo "Stop it with:  bash -c 'source scripts/pgenv.sh; cluster_stop $DIR'"
fi
