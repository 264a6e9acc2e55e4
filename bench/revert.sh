#!/usr/bin/env bash
# Benchmark of saas.revert_transaction() against the statement it undoes.
#
# One run (not a test): a tasks-shaped audited table of BENCH_ROWS rows.  For
# each audit mode (row, statement) and each kind of statement (an UPDATE of
# every row, a DELETE of every row, an INSERT of BENCH_ROWS rows), every
# round times the statement, then saas.revert_transaction() of its
# transaction, each in its own transaction, in one backend: wall clock (psql)
# and the backend's CPU time (/proc/<pid>/stat, user + system).  The table
# shows the medians over the rounds and revert / statement ratios.
#
# Env: BENCH_ROWS (default 100000), BENCH_ROUNDS (3), SAAS_PG_TREE (private
#      PostgreSQL tree, see scripts/pgenv.sh).
set -euo pipefail
source "$(dirname "$0")/../scripts/pgenv.sh"
source "$(dirname "$0")/cluster.sh"
[ -n "${SAAS_PG_TREE:-}" ] && use_private_pg_tree "$SAAS_PG_TREE"

ROWS="${BENCH_ROWS:-100000}"
ROUNDS="${BENCH_ROUNDS:-3}"
DIR="$(mktemp -d /tmp/saas-bench-revert.XXXXXX)"
PORT="$(free_port 55800)"
trap 'cluster_stop "$DIR"' EXIT
cluster_start "$DIR" "$PORT" "max_wal_size = 4GB" "checkpoint_timeout = 30min"
q() { "$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -At "$@"; }

q <<SQL
SET client_min_messages = warning;
CREATE EXTENSION saas_schema CASCADE;
CREATE SCHEMA bench;
CREATE TABLE bench.tasks_row (
    organization_id uuid NOT NULL, id uuid NOT NULL DEFAULT saas.uuid_generate_v7(), n bigint NOT NULL,
    title text NOT NULL, status text NOT NULL, priority int NOT NULL, custom_fields jsonb NOT NULL,
    due_date date, created_at timestamptz NOT NULL DEFAULT now(), updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (organization_id, id));
CREATE TABLE bench.tasks_statement (LIKE bench.tasks_row INCLUDING ALL);
SELECT saas.enable_audit('bench.tasks_row');
SELECT saas.enable_audit('bench.tasks_statement', mode => 'statement');
SELECT saas.enable_updated_at('bench.tasks_row');
SELECT saas.enable_updated_at('bench.tasks_statement');
SQL

median() { sort -n | awk '{ v[NR] = $1 } END { if (NR == 0) { print "-" } else if (NR % 2) { print v[(NR + 1) / 2] } else { printf "%.1f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 } }'; }

# Runs one statement in its own transaction, then the revert of that
# transaction in another, in one backend; prints "statement_ms revert_ms
# statement_cpu_ms revert_cpu_ms".
measure() { # measure TABLE KIND
    local table="$1" kind="$2" statement
    case "$kind" in
    update) statement="UPDATE $table SET status = 'done', priority = priority % 5 + 1, custom_fields = custom_fields || '{\"x\": 1}'" ;;
    delete) statement="DELETE FROM $table" ;;
    insert) statement="INSERT INTO $table (organization_id, n, title, status, priority, custom_fields)
                       SELECT '00000000-0000-0000-0000-00000000000a', g, 'task ' || g, 'todo', 3, '{\"k\": \"v\"}'
                         FROM generate_series(1, $ROWS) g" ;;
    esac
    q <<SQL
\\set QUIET on
CREATE TEMP TABLE m (what text, ms float8, cpu float8);
CREATE FUNCTION pg_temp.cpu() RETURNS float8 LANGUAGE sql AS \$\$
    SELECT (split_part(pg_read_file('/proc/' || pg_backend_pid() || '/stat'), ' ', 14)::float8
          + split_part(pg_read_file('/proc/' || pg_backend_pid() || '/stat'), ' ', 15)::float8) * 10 \$\$;
SELECT pg_temp.cpu() AS c0, clock_timestamp() AS t0 \\gset
BEGIN;
$statement;
SELECT txid_current() AS tx \\gset
COMMIT;
INSERT INTO m SELECT 'statement', extract(epoch FROM clock_timestamp() - :'t0') * 1000, pg_temp.cpu() - :c0;
SELECT pg_temp.cpu() AS c0, clock_timestamp() AS t0 \\gset
BEGIN;
SELECT saas.revert_transaction(:tx) IS NOT NULL;
COMMIT;
INSERT INTO m SELECT 'revert', extract(epoch FROM clock_timestamp() - :'t0') * 1000, pg_temp.cpu() - :c0;
\\set QUIET off
SELECT string_agg(round(ms)::text, ' ' ORDER BY what DESC) || ' ' || string_agg(round(cpu)::text, ' ' ORDER BY what DESC) FROM m;
SQL
}

fill() { # fill TABLE: BENCH_ROWS rows, committed, outside the measurement
    q -c "SET saas.audit_enabled = off" -c "TRUNCATE $1" \
      -c "INSERT INTO $1 (organization_id, n, title, status, priority, custom_fields)
          SELECT '00000000-0000-0000-0000-00000000000a', g, 'task ' || g, 'todo', 3, '{\"k\": \"v\"}'
            FROM generate_series(1, $ROWS) g" -c "VACUUM ANALYZE $1" >/dev/null
}

RESULTS="$DIR/results.txt"
for round in $(seq 1 "$ROUNDS"); do
    for mode in row statement; do
        table="bench.tasks_$mode"
        for kind in update delete insert; do
            if [ "$kind" = insert ]; then q -c "SET saas.audit_enabled = off" -c "TRUNCATE $table" >/dev/null; else fill "$table"; fi
            echo "$mode $kind $(measure "$table" "$kind" | tail -1)" >>"$RESULTS"
        done
    done
    echo "round $round done" >&2
done

echo "revert_transaction of one statement's $ROWS audited rows; medians of $ROUNDS rounds"
printf '%-10s %-7s %12s %12s %7s %12s %12s %7s\n' mode kind statement_ms revert_ms ratio stmt_cpu_ms revert_cpu_ms ratio
for mode in row statement; do
    for kind in update delete insert; do
        s=$(awk -v m="$mode" -v k="$kind" '$1 == m && $2 == k { print $3 }' "$RESULTS" | median)
        r=$(awk -v m="$mode" -v k="$kind" '$1 == m && $2 == k { print $4 }' "$RESULTS" | median)
        sc=$(awk -v m="$mode" -v k="$kind" '$1 == m && $2 == k { print $5 }' "$RESULTS" | median)
        rc=$(awk -v m="$mode" -v k="$kind" '$1 == m && $2 == k { print $6 }' "$RESULTS" | median)
        printf '%-10s %-7s %12s %12s %7.2f %12s %12s %7.2f\n' "$mode" "$kind" "$s" "$r" \
            "$(echo "$r $s" | awk '{ print $1 / $2 }')" "$sc" "$rc" "$(echo "$rc $sc" | awk '{ print ($2 > 0) ? $1 / $2 : 0 }')"
    done
done
