#!/usr/bin/env bash
# A/B comparison of two builds of saas_schema's audit trigger, measured in the
# same conditions: both builds run side by side in two clusters, and every
# workload runs on A then B (the order alternates by round).  One run, not a
# test.  Used to measure the direct insert path against the SPI-only build.
#
#   A_TREE=/tmp/pgtree-old B_TREE=/tmp/pgtree-new bench/audit_ab.sh
#
# Each tree is a private PostgreSQL tree (scripts/pgenv.sh use_private_pg_tree)
# with one build of the extension installed.  Tables (100,000 tasks-shaped
# rows each): t_none (no trigger), t_row (saas row mode), t_stmt (saas
# statement mode), t_plpgsql (PL/pgSQL insert-only audit trigger).
# Workloads per round:
#   wall  pgbench -M prepared single-row UPDATE, 1 client, AB_SECONDS s (median
#         of per-second tps); one 100,000-row UPDATE (EXPLAIN ANALYZE time)
#   cpu   AB_UPDATES single-row UPDATEs (a procedure, COMMIT after each) and
#         the 100,000-row UPDATE, as backend CPU time (utime+stime from
#         /proc/self/stat): much less sensitive to other jobs' load.
# Env: AB_ROUNDS (5), AB_SECONDS (3), AB_UPDATES (10000).
set -uo pipefail
source "$(dirname "$0")/../scripts/pgenv.sh"
source "$(dirname "$0")/cluster.sh"
ROUNDS="${AB_ROUNDS:-5}"; SECS="${AB_SECONDS:-3}"; UPDATES="${AB_UPDATES:-10000}"; ROWS=100000
declare -A TREE DIRS PORTS
TREE[A]="${A_TREE:?A_TREE: private PostgreSQL tree of build A}"
TREE[B]="${B_TREE:?B_TREE: private PostgreSQL tree of build B}"
WORK="$(mktemp -d /tmp/saas-bench-ab.XXXXXX)"
chmod 755 "$WORK"
PORTS[A]="$(free_port 55800)"
PORTS[B]="$(free_port $((PORTS[A] + 1)))"
for b in A B; do
    DIRS[$b]="$WORK/$b"
    (use_private_pg_tree "${TREE[$b]}" && cluster_start "${DIRS[$b]}" "${PORTS[$b]}" \
        "max_wal_size = 4GB" "checkpoint_timeout = 30min") || exit 1
done
cleanup() { for b in A B; do (use_private_pg_tree "${TREE[$b]}" && cluster_stop "${DIRS[$b]}"); done; rm -rf "$WORK"; }
trap cleanup EXIT
q() { local b=$1; shift; PGHOST="${DIRS[$b]}" PGPORT="${PORTS[$b]}" PGUSER=postgres PGDATABASE=postgres "$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -At "$@"; }

setup_sql() {
    cat <<'SQL'
SET client_min_messages = warning;
CREATE EXTENSION saas_schema CASCADE;
CREATE SCHEMA bench;
CREATE FUNCTION bench.audit_insert_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO saas.audit_logs (organization_id, table_name, record_id, action, new_values, transaction_id)
    VALUES (COALESCE(NEW.organization_id, OLD.organization_id), TG_TABLE_SCHEMA || '.' || TG_TABLE_NAME,
            COALESCE(NEW.id, OLD.id), TG_OP, '{}', txid_current());
    RETURN NULL;
END $$;
CREATE FUNCTION bench.cpu_ticks() RETURNS bigint LANGUAGE sql AS $$
    SELECT split_part(s, ' ', 12)::bigint + split_part(s, ' ', 13)::bigint
      FROM (SELECT substr(f, strpos(f, ') ') + 2) AS s FROM pg_read_file('/proc/self/stat') f) x $$;
CREATE PROCEDURE bench.updates(t text, n int) LANGUAGE plpgsql AS $$
BEGIN
    FOR i IN 1..n LOOP
        EXECUTE format('UPDATE bench.%I SET priority = priority + 1, updated_at = now() WHERE n = $1', t)
          USING 1 + (i * 7919) % 100000;
        COMMIT;
    END LOOP;
END $$;
SQL
    for t in t_none t_row t_stmt t_plpgsql; do
        cat <<SQL
CREATE TABLE bench.$t (
    organization_id uuid NOT NULL, id uuid NOT NULL, n bigint NOT NULL,
    title text NOT NULL, status text NOT NULL, priority int NOT NULL,
    custom_fields jsonb NOT NULL, description text,
    due_date date, created_at timestamptz NOT NULL DEFAULT now(), updated_at timestamptz NOT NULL DEFAULT now(),
    deleted_at timestamptz, PRIMARY KEY (organization_id, id));
CREATE UNIQUE INDEX ON bench.$t (n);
INSERT INTO bench.$t (organization_id, id, n, title, status, priority, custom_fields, description, due_date)
SELECT '00000000-0000-0000-0000-00000000000a', gen_random_uuid(), i, 'Task number ' || i,
       (ARRAY['open', 'in_progress', 'done'])[1 + i % 3], i % 5,
       jsonb_build_object('estimate', i % 13, 'labels', jsonb_build_array('a', 'b'), 'customer', 'Customer ' || (i % 97),
                          'score', (i % 1000) / 10.0),
       repeat('Some description text. ', 4), date '2026-01-01' + (i % 365)
  FROM generate_series(1, $ROWS) i;
SQL
    done
    cat <<'SQL'
SELECT saas.enable_audit('bench.t_row');
SELECT saas.enable_audit('bench.t_stmt', mode => 'statement');
CREATE TRIGGER bench_audit AFTER INSERT OR UPDATE OR DELETE ON bench.t_plpgsql
    FOR EACH ROW EXECUTE FUNCTION bench.audit_insert_only();
VACUUM ANALYZE;
CHECKPOINT;
SQL
}
for b in A B; do setup_sql | q "$b" >/dev/null || exit 1; done
for t in t_none t_row t_stmt; do
    printf '\\set r random(1, %d)\nUPDATE bench.%s SET priority = priority + 1, updated_at = now() WHERE n = :r;\n' \
        "$ROWS" "$t" >"$WORK/upd_$t.sql"
done
median() { sort -n | awk '{v[NR]=$1} END {if (NR%2) {print v[(NR+1)/2]} else {printf "%.1f\n", (v[NR/2]+v[NR/2+1])/2}}'; }
median_tps() { grep -o 'progress: [0-9.]* s, [0-9.]* tps' "$1" | awk '{print $4}' | median; }
cpu_of() { # build, SQL...: backend CPU ms of the statements
    local b=$1; shift
    local args=(-c "SELECT bench.cpu_ticks()")
    for s in "$@"; do args+=(-c "$s"); done
    args+=(-c "SELECT bench.cpu_ticks()")
    q "$b" "${args[@]}" | awk 'NR==1 {s=$1} END {print ($1 - s) * 10}'
}
RAW="$WORK/raw.txt"
for r in $(seq 1 "$ROUNDS"); do
    order="A B"; [ $((r % 2)) = 0 ] && order="B A"
    for t in t_none t_row t_stmt; do
        for b in $order; do
            PGHOST="${DIRS[$b]}" PGPORT="${PORTS[$b]}" PGUSER=postgres PGDATABASE=postgres "$PGBIN/pgbench" \
                -n -M prepared -P 1 -c 1 -j 1 -T "$SECS" -f "$WORK/upd_$t.sql" >"$WORK/pgbench.log" 2>&1
            echo "$b wall_update_tps $t $(median_tps "$WORK/pgbench.log")" >>"$RAW"
            echo "$b cpu_update_us $t $(cpu_of "$b" "CALL bench.updates('$t', $UPDATES)" | awk -v n="$UPDATES" '{printf "%.1f", $1 * 1000 / n}')" >>"$RAW"
        done
    done
    for t in t_none t_row t_stmt t_plpgsql; do
        for b in $order; do
            ms="$(q "$b" -c "EXPLAIN (ANALYZE) UPDATE bench.$t SET priority = priority + 1" | awk '/Execution Time/ {printf "%.0f", $3}')"
            echo "$b wall_bulk_ms $t $ms" >>"$RAW"
            q "$b" -c "VACUUM bench.$t"
            echo "$b cpu_bulk_ms $t $(cpu_of "$b" "UPDATE bench.$t SET priority = priority + 1")" >>"$RAW"
            q "$b" -c "VACUUM bench.$t"
        done
    done
    echo "round $r done" >&2
done
echo "raw measurements:"
cat "$RAW"
echo
echo "A = ${TREE[A]}, B = ${TREE[B]}; medians of $ROUNDS rounds"
printf "%-16s %-10s %10s %10s\n" metric table A B
for metric in wall_update_tps cpu_update_us wall_bulk_ms cpu_bulk_ms; do
    for t in t_none t_row t_stmt t_plpgsql; do
        grep -q " $metric $t " "$RAW" || continue
        a="$(awk -v m="$metric" -v t="$t" '$1=="A" && $2==m && $3==t {print $4}' "$RAW" | median)"
        b="$(awk -v m="$metric" -v t="$t" '$1=="B" && $2==m && $3==t {print $4}' "$RAW" | median)"
        printf "%-16s %-10s %10s %10s\n" "$metric" "$t" "$a" "$b"
    done
done
