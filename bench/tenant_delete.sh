#!/usr/bin/env bash
# Benchmark (not a test): deleting a 1,000,000-row tenant while other tenants
# write, with saas.delete_tenant() (batches, one transaction each) against a
# single DELETE FROM saas.organizations WHERE id = ... (ON DELETE CASCADE).
#
# A template database holds tenant "big" (BENCH_ROWS rows: users, projects,
# tags, tasks, threaded task comments, task tags) and 8 small tenants; every
# run deletes "big" in a fresh copy of it.  Scenarios, for each method:
#   alone  the deletion alone: wall clock and server CPU time;
#   load   the deletion while pgbench writes for the 8 other tenants as the
#          application role (BENCH_CLIENTS clients, BENCH_RATE transactions/s
#          in all; each: set_tenant, insert a task, update a task);
#   ddl    the same, plus a migration (ALTER TABLE saas.tasks ADD COLUMN) sent
#          BENCH_DDL_AT seconds into the deletion: it waits for the deletion's
#          locks on saas.tasks, and every other tenant's task write queues
#          behind it.
# The other tenants' waits come from the server log: every statement of the
# application role is logged with its duration (log_min_duration_statement =
# 0 for that role), and lock waits longer than deadlock_timeout (50 ms) with
# log_lock_waits.  Reported per method and scenario, medians over
# BENCH_ROUNDS rounds: deletion seconds, server CPU seconds (alone), the
# other tenants' transactions and their longest and 99th-percentile
# statement time, their longest lock wait, and the migration's wait.
#
# Env: BENCH_ROWS (1000000), BENCH_ROUNDS (3), BENCH_BATCH (10000),
#      BENCH_CLIENTS (4), BENCH_RATE (100), BENCH_DDL_AT (5),
#      BENCH_SCENARIOS ("alone load ddl"), BENCH_QUICK=1 (100,000 rows, 1 round),
#      SAAS_PG_TREE (private PostgreSQL tree to build into).
set -euo pipefail
trap 'echo "bench: failed at line $LINENO" >&2' ERR
source "$(dirname "$0")/../scripts/pgenv.sh"
source "$(dirname "$0")/cluster.sh"
[ -n "${SAAS_PG_TREE:-}" ] && use_private_pg_tree "$SAAS_PG_TREE"

ROWS="${BENCH_ROWS:-1000000}"
ROUNDS="${BENCH_ROUNDS:-3}"
BATCH="${BENCH_BATCH:-10000}"
CLIENTS="${BENCH_CLIENTS:-4}"
RATE="${BENCH_RATE:-100}"
DDL_AT="${BENCH_DDL_AT:-5}"
SCENARIOS="${BENCH_SCENARIOS:-alone load ddl}"
if [ "${BENCH_QUICK:-0}" = 1 ]; then ROWS="${BENCH_ROWS:-100000}"; ROUNDS=1; fi

build_and_install
DIR="$(mktemp -d /tmp/saas-bench-delete.XXXXXX)"
PORT="$(free_port 55800)"
trap 'cluster_stop "$DIR"' EXIT
cluster_start "$DIR" "$PORT" "max_wal_size = 8GB" "checkpoint_timeout = 30min" \
    "log_line_prefix = '%m [%p] %u '" "log_lock_waits = on" "deadlock_timeout = 50ms" \
    "log_min_messages = warning" "log_min_error_statement = error"
chmod 777 "$DIR"
LOG="$DIR/server.log"
q() { "$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -At "$@"; }

# The template: tenant "big" with ROWS rows, loaded without audit rows
# (superuser, saas.audit_enabled = off), and 8 small tenants.
per=$(( (ROWS - 301) / 10 ))   # tasks = 3 per, comments = 4 per (half replies), task tags = 3 per
q -d postgres -c "CREATE DATABASE bench_template"
q -d bench_template -c "SET client_min_messages = warning" -c "CREATE EXTENSION saas_schema CASCADE"
q -d postgres -c "CREATE ROLE bench_app LOGIN" -c "ALTER ROLE bench_app SET log_min_duration_statement = 0"
started=$(date +%s)
q -d bench_template <<SQL
SET saas.audit_enabled = off;
SELECT saas.grant_app_access('bench_app');
INSERT INTO saas.organizations (name, slug) VALUES ('Big', 'big');
INSERT INTO saas.organizations (name, slug) SELECT 'Other ' || g, 'other-' || g FROM generate_series(1, 8) g;
INSERT INTO saas.users (organization_id, email, password_hash)
SELECT o.id, 'u' || g || '@' || o.slug || '.example', 'h' FROM saas.organizations o,
       generate_series(1, CASE WHEN o.slug = 'big' THEN 100 ELSE 2 END) g;
INSERT INTO saas.projects (organization_id, name) SELECT o.id, 'p' || g FROM saas.organizations o,
       generate_series(1, CASE WHEN o.slug = 'big' THEN 100 ELSE 1 END) g;
INSERT INTO saas.tags (organization_id, name) SELECT o.id, 't' || g FROM saas.organizations o,
       generate_series(1, CASE WHEN o.slug = 'big' THEN 100 ELSE 1 END) g;
INSERT INTO saas.tasks (organization_id, project_id, title)
SELECT p.organization_id, p.id, 'task' FROM saas.projects p JOIN saas.organizations o ON o.id = p.organization_id,
       generate_series(1, CASE WHEN o.slug = 'big' THEN 3 * $per / 100 ELSE 200 END) g;
WITH big AS (SELECT id FROM saas.organizations WHERE slug = 'big'),
     author AS (SELECT u.id FROM saas.users u, big WHERE u.organization_id = big.id LIMIT 1)
INSERT INTO saas.task_comments (organization_id, task_id, author_id, body)
SELECT t.organization_id, t.id, (SELECT id FROM author), 'comment'
  FROM (SELECT t.organization_id, t.id FROM saas.tasks t, big WHERE t.organization_id = big.id ORDER BY t.id LIMIT 2 * $per) t;
INSERT INTO saas.task_comments (organization_id, task_id, parent_id, author_id, body)
SELECT organization_id, task_id, id, author_id, 'reply' FROM saas.task_comments;
WITH big AS (SELECT id FROM saas.organizations WHERE slug = 'big'),
     tag AS (SELECT g.id FROM saas.tags g, big WHERE g.organization_id = big.id LIMIT 1)
INSERT INTO saas.task_tags (organization_id, task_id, tag_id)
SELECT t.organization_id, t.id, (SELECT id FROM tag) FROM saas.tasks t, big WHERE t.organization_id = big.id;
CREATE SCHEMA bench;
CREATE FUNCTION bench.tenant(n integer) RETURNS uuid LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp AS \$\$ SELECT id FROM saas.organizations WHERE slug = 'other-' || n \$\$;
-- One write of another tenant: a new task and an update of one of its tasks.
CREATE FUNCTION bench.write(n integer) RETURNS void LANGUAGE plpgsql AS \$\$
DECLARE
    org uuid := bench.tenant(n);
BEGIN
    PERFORM saas.set_tenant(org);
    INSERT INTO saas.tasks (organization_id, project_id, title)
    SELECT organization_id, id, 'written' FROM saas.projects LIMIT 1;
    UPDATE saas.tasks SET priority = 1 + (priority % 5)
     WHERE organization_id = org AND id = (SELECT id FROM saas.tasks WHERE organization_id = org
                                            ORDER BY id OFFSET (random() * 150)::int LIMIT 1);
END \$\$;
GRANT USAGE ON SCHEMA bench TO bench_app;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA bench TO bench_app;
SQL
q -d bench_template -c "VACUUM ANALYZE" -c "CHECKPOINT"
BIG_ROWS=$(q -d bench_template -c "SELECT sum((xpath('/row/c/text()', query_to_xml(format('SELECT count(*) AS c FROM %s WHERE %I = (SELECT id FROM saas.organizations WHERE slug = ''big'')', tbl, tenant_column), false, true, '')))[1]::text::bigint) FROM saas.tenant_tables()")
echo "template: tenant big holds $BIG_ROWS rows, 8 other tenants; loaded in $(( $(date +%s) - started )) s" | tee "$DIR/results.txt"

cat >"$DIR/write.sql" <<'EOF'
\set t random(1, 8)
BEGIN;
SELECT bench.write(:t);
COMMIT;
EOF

POSTMASTER_PID="$(head -1 "$DIR/data/postmaster.pid")"
server_cpu_ticks() { # the postmaster, its live children and those it reaped
    local total f g pid
    sleep 0.3
    read -r -a f < <(sed 's/^.*) //' "/proc/$POSTMASTER_PID/stat")
    total=$((f[11] + f[12] + f[13] + f[14]))
    for pid in $(pgrep -P "$POSTMASTER_PID"); do
        if read -r -a g < <(sed 's/^.*) //' "/proc/$pid/stat" 2>/dev/null); then
            total=$((total + g[11] + g[12]))
        fi
    done
    echo "$total"
}
TICK=$(getconf CLK_TCK)
now_ms() { date +%s%3N; }
# Log lines of the application role written between two epoch-ms marks (the
# server logs in UTC: compare the timestamps as text).
log_window() { # from_ms to_ms
    local from to
    from=$(date -u -d "@$(($1 / 1000)).$(printf %03d $(($1 % 1000)))" '+%Y-%m-%d %H:%M:%S.%3N')
    to=$(date -u -d "@$(($2 / 1000)).$(printf %03d $(($2 % 1000)))" '+%Y-%m-%d %H:%M:%S.%3N')
    awk -v from="$from" -v to="$to" '{ ts = $1 " " $2 } ts >= from && ts <= to' "$DIR/window.log"
}

RAW="$DIR/raw.txt"
: >"$RAW"
for r in $(seq 1 "$ROUNDS"); do
    for scenario in $SCENARIOS; do
        for method in single batched; do
            db="run_${r}_${scenario}_${method}"
            q -d postgres -c "CREATE DATABASE $db TEMPLATE bench_template STRATEGY FILE_COPY"
            org=$(q -d "$db" -c "SELECT id FROM saas.organizations WHERE slug = 'big'")
            if [ "$method" = single ]; then
                sql="DELETE FROM saas.organizations WHERE id = '$org'"
            else
                sql="CALL saas.delete_tenant('$org', $BATCH)"
            fi
            bench_pid=""
            log_from=$(wc -l <"$LOG")
            if [ "$scenario" != alone ]; then
                "$PGBIN/pgbench" -n -c "$CLIENTS" -j 2 -R "$RATE" -T 100000 -f "$DIR/write.sql" -U bench_app "$db" \
                    >"$DIR/pgbench.log" 2>&1 &
                bench_pid=$!
                sleep 5
            fi
            cpu_before=$(server_cpu_ticks)
            t0=$(now_ms)
            ddl_pid=""
            if [ "$scenario" = ddl ]; then
                ( sleep "$DDL_AT"; d0=$(now_ms)
                  q -d "$db" -c "ALTER TABLE saas.tasks ADD COLUMN bench_migrated boolean"
                  echo $(( $(now_ms) - d0 )) >"$DIR/ddl_ms" ) &
                ddl_pid=$!
            fi
            q -d "$db" -c "SET client_min_messages = warning" -c "$sql"
            t1=$(now_ms)
            [ -n "$ddl_pid" ] && wait "$ddl_pid"
            cpu_after=$(server_cpu_ticks)
            if [ -n "$bench_pid" ]; then
                sleep 5
                # (SIGTERM: a background job of a script ignores SIGINT.)
                kill -TERM "$bench_pid" 2>/dev/null || true
                wait "$bench_pid" 2>/dev/null || true
            fi
            tail -n +"$((log_from + 1))" "$LOG" | grep ' bench_app ' >"$DIR/window.log" || true
            # Statements completed from the deletion's start until 5 s after its end.
            log_window "$t0" "$((t1 + 5000))" >"$DIR/in_window.log"
            stats=$(awk '/duration: [0-9.]+ ms  statement: SELECT bench.write/ {
                              for (i = 1; i <= NF; i++) if ($i == "duration:") print $(i + 1) }' "$DIR/in_window.log" |
                    sort -n | awk '{ v[NR] = $1 } END {
                        if (NR == 0) { print "0 - -"; exit }
                        p = int(NR * 0.99); if (p < 1) p = 1; printf "%d %.1f %.1f\n", NR, v[NR], v[p] }')
            lockwait=$(grep -o 'acquired [A-Za-z]* on [a-z]* .* after [0-9.]* ms' "$DIR/in_window.log" |
                       sed 's/.* after \([0-9.]*\) ms/\1/' | sort -n | tail -1 || true)
            ddl_ms=-
            [ "$scenario" = ddl ] && ddl_ms=$(cat "$DIR/ddl_ms")
            read -r ntx maxms p99ms <<<"$stats"
            echo "$method $scenario delete_ms $(( t1 - t0 ))" >>"$RAW"
            [ "$scenario" = alone ] && echo "$method $scenario cpu_ms $(( (cpu_after - cpu_before) * 1000 / TICK ))" >>"$RAW"
            if [ "$scenario" != alone ]; then
                echo "$method $scenario others_tx $ntx" >>"$RAW"
                echo "$method $scenario others_max_ms $maxms" >>"$RAW"
                echo "$method $scenario others_p99_ms $p99ms" >>"$RAW"
                echo "$method $scenario lock_wait_ms ${lockwait:-0}" >>"$RAW"
                echo "$method $scenario ddl_wait_ms $ddl_ms" >>"$RAW"
            fi
            printf 'round %s %-6s %-8s deleted in %6.1f s  others: %s tx, max %s ms, p99 %s ms, lock wait %s ms, migration %s ms\n' \
                "$r" "$scenario" "$method" "$(echo "$t1 $t0" | awk '{printf "%.1f", ($1 - $2) / 1000}')" \
                "${ntx:--}" "${maxms:--}" "${p99ms:--}" "${lockwait:-0}" "$ddl_ms" | tee -a "$DIR/results.txt"
            q -d postgres -c "DROP DATABASE $db"
        done
    done
done

median_of() { # method scenario measure
    awk -v m="$1" -v s="$2" -v k="$3" '$1 == m && $2 == s && $3 == k { print $4 }' "$RAW" | sort -n |
        awk '{ v[NR] = $1 } END { if (NR == 0) print "-"; else if (NR % 2) print v[(NR + 1) / 2];
                                   else printf "%.1f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
echo
echo "Medians over $ROUNDS rounds ($BIG_ROWS rows deleted; batches of $BATCH; others: $CLIENTS clients, $RATE tx/s):" | tee -a "$DIR/results.txt"
printf '%-28s %-6s %10s %8s %10s %14s %14s %14s %14s\n' method scenario delete_ms cpu_ms others_tx others_max_ms \
    others_p99_ms lock_wait_ms migration_ms | tee -a "$DIR/results.txt"
for scenario in $SCENARIOS; do
    for method in single batched; do
        label="DELETE FROM organizations"
        [ "$method" = batched ] && label="saas.delete_tenant($BATCH)"
        printf '%-28s %-6s %10s %8s %10s %14s %14s %14s %14s\n' "$label" "$scenario" \
            "$(median_of $method $scenario delete_ms)" "$(median_of $method $scenario cpu_ms)" \
            "$(median_of $method $scenario others_tx)" "$(median_of $method $scenario others_max_ms)" \
            "$(median_of $method $scenario others_p99_ms)" "$(median_of $method $scenario lock_wait_ms)" \
            "$(median_of $method $scenario ddl_wait_ms)" | tee -a "$DIR/results.txt"
    done
done
cp "$DIR/results.txt" "${BENCH_OUT:-/tmp/tenant_delete_results.txt}"
echo "(results also in ${BENCH_OUT:-/tmp/tenant_delete_results.txt})"
