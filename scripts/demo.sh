#!/usr/bin/env bash
# The demo: installs dependencies, builds and installs saas_schema into the
# system's PostgreSQL 15, starts a throwaway cluster, creates the extension,
# two sample tenants with data, and shows an audited change.
#
#   bash scripts/demo.sh           # run and clean up
#   bash scripts/demo.sh --keep    # leave the cluster running to explore
#
# The cluster is the demo's own, not a test fixture (tests use
# PostgreSQL::Test::Cluster): initdb and pg_ctl, listening only on a unix
# socket in its directory, so no TCP port is taken or needs choosing.
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
chmod 755 "$DIR"
[ "$(id -u)" -eq 0 ] && chown postgres: "$DIR"
as_pg_owner "$PGBIN/initdb" -D "$DIR/data" -U postgres --auth=trust --encoding=UTF8 \
    --locale=C.UTF-8 --no-sync >"$DIR/initdb.log"
cat >>"$DIR/data/postgresql.conf" <<CONF
listen_addresses = ''
unix_socket_directories = '$DIR'
CONF
as_pg_owner "$PGBIN/pg_ctl" -D "$DIR/data" -l "$DIR/server.log" -w start >/dev/null
stop_cluster() {
    as_pg_owner "$PGBIN/pg_ctl" -D "$DIR/data" -m fast -w stop >/dev/null || true
    rm -rf "$DIR"
}
if [ $KEEP -eq 0 ]; then
    trap stop_cluster EXIT
fi
export PGHOST="$DIR" PGUSER=postgres
echo "== throwaway cluster (unix socket in $DIR)"

"$PGBIN/psql" -X -v ON_ERROR_STOP=1 -d postgres -f demo/demo.sql

if [ $KEEP -eq 1 ]; then
    stop="$PGBIN/pg_ctl -D $DIR/data stop && rm -rf $DIR"
    [ "$(id -u)" -eq 0 ] && stop="runuser -u postgres -- $PGBIN/pg_ctl -D $DIR/data stop && rm -rf $DIR"
    echo
    echo "Cluster left running. Connect with:  psql -h $DIR -U postgres"
    echo "Stop it with:  $stop"
fi
