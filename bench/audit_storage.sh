#!/usr/bin/env bash
# Measures the disk cost of saas.audit_logs per million audited changes, and
# the backend memory of writing them (issue 10).  Not a test.
#
# On a tasks table of ROWS rows (default 1,000,000) in one tenant:
#   1. INSERT of ROWS tasks          -> ROWS audit rows with the full row
#   2. UPDATE of every task's priority (one statement, row mode)
#                                     -> ROWS audit rows with a 2-column diff
#   3. the same UPDATE in statement mode (saas.enable_audit(..., mode => 'statement'))
# After each step: audit_logs size (heap+TOAST, indexes) per million rows,
# bytes per audit row, and the peak RSS (VmHWM) of the backend that ran it.
#
# Knobs: ROWS, PGTREE, BENCH_PORT.
set -euo pipefail
source "$(dirname "$0")/../scripts/pgenv.sh"
source "$(dirname "$0")/cluster.sh"
ROWS="${ROWS:-1000000}"
PGTREE="${PGTREE:-/tmp/pgtree-bench-storage}"
use_private_pg_tree "$PGTREE"
build_and_install
PORT="${BENCH_PORT:-$(free_port 55650)}"
DIR="$(mktemp -d /tmp/pg-bench-storage.XXXXXX)"
trap 'cluster_stop "$DIR"' EXIT
cluster_start "$DIR" "$PORT" "autovacuum = off" "work_mem = '4MB'"
"$PGBIN/createdb" bench
p() { "$PGBIN/psql" -X -q -At -v ON_ERROR_STOP=1 -d bench "$@"; }

p -c "SET client_min_messages = warning; CREATE EXTENSION saas_schema CASCADE" \
  -c "INSERT INTO saas.organizations (id, name, slug) VALUES ('00000000-0000-7000-8000-000000000001', 'Bench', 'bench')" \
  -c "INSERT INTO saas.projects (id, organization_id, name) VALUES ('00000000-0000-7000-8000-000000000002', '00000000-0000-7000-8000-000000000001', 'P')"

# Runs SQL in one backend and prints "<elapsed ms> <VmHWM kB>".
measured() {
    p <<SQL
SELECT pg_backend_pid() AS pid \gset
\timing on
$1
\timing off
SELECT (regexp_match(pg_read_file('/proc/' || :pid || '/status'), 'VmHWM:\s+(\d+) kB'))[1];
SQL
}
sizes() {
    p -c "SELECT sum(pg_table_size(c.oid)) || ' ' || sum(pg_indexes_size(c.oid)) || ' ' ||
                 (SELECT count(*) FROM saas.audit_logs)
          FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
          WHERE i.inhparent = 'saas.audit_logs'::regclass"
}
report() { # label before_sizes after_sizes hwm ms
    read -r t0 i0 n0 <<<"$2"
    read -r t1 i1 n1 <<<"$3"
    local n=$((n1 - n0))
    awk -v l="$1" -v n="$n" -v t=$((t1 - t0)) -v i=$((i1 - i0)) -v hwm="$4" -v ms="$5" 'BEGIN {
        printf "%-34s %9d rows  heap+toast %7.1f MB/M  indexes %6.1f MB/M  %5.0f B/row  peak RSS %5.0f MB  %7.0f ms\n",
               l, n, t / n * 1e6 / 1048576, i / n * 1e6 / 1048576, (t + i) / n, hwm / 1024, ms }'
}
run_step() { # label sql
    local before after out ms hwm
    before=$(sizes)
    out=$(measured "$2" 2>&1)
    ms=$(echo "$out" | sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p' | tail -1)
    hwm=$(echo "$out" | tail -1)
    after=$(sizes)
    report "$1" "$before" "$after" "$hwm" "$ms"
}

echo "audit_logs cost, $ROWS changes per step (PostgreSQL $("$PG_CONFIG" --version | awk '{print $2}'))"
run_step "INSERT (full row)" \
  "INSERT INTO saas.tasks (organization_id, project_id, title, priority, custom_fields)
   SELECT '00000000-0000-7000-8000-000000000001', '00000000-0000-7000-8000-000000000002',
          'Task number ' || g, 1 + g % 5, jsonb_build_object('points', g % 13, 'label', 'x' || g % 7)
   FROM generate_series(1, $ROWS) g;"
run_step "UPDATE priority, row mode" \
  "UPDATE saas.tasks SET priority = 1 + priority % 5;"
p -c "SELECT saas.enable_audit('saas.tasks', mode => 'statement')" >/dev/null
run_step "UPDATE priority, statement mode" \
  "UPDATE saas.tasks SET priority = 1 + priority % 5;"
p -c "SELECT saas.disable_audit('saas.tasks')" >/dev/null
run_step "UPDATE priority, no audit (baseline)" \
  "UPDATE saas.tasks SET priority = 1 + priority % 5;"
