#!/usr/bin/env bash
# Benchmark: updated_at triggers and UUIDv7 keys (issue 3).  Not a test.
#
#  1. Single-row UPDATE by primary key on a tasks-shaped table, one table per
#     variant: no trigger, contrib moddatetime, a PL/pgSQL trigger
#     (NEW.updated_at = now()), saas.set_updated_at.  The UPDATE flips
#     `status`, so every row really changes (the no-op skip never kicks in).
#  2. Single-row INSERT with DEFAULT saas.uuid_generate_v7() vs
#     DEFAULT gen_random_uuid(), and a bulk load of BULK_ROWS rows into each,
#     reporting the primary-key index size.
#
# Variants alternate within each round (the order rotates per round) and the
# tables are vacuumed before every run; medians over the rounds are reported.
#
# Knobs (environment): DURATION (s per pgbench run, default 10), ROUNDS (5),
# CLIENTS ("1 2"), ROWS (100000), INSERT_DURATION (DURATION), BULK_ROWS
# (1000000), BULK_ROUNDS (3), PGTREE (private PostgreSQL tree),
# BENCH_PORT (default: a free port from 55600).  Quick mode:
#   DURATION=2 ROUNDS=3 BULK_ROWS=200000 BULK_ROUNDS=1 bench/updated_at_uuid.sh
set -euo pipefail

source "$(dirname "$0")/../scripts/pgenv.sh"
source "$(dirname "$0")/cluster.sh"

DURATION="${DURATION:-10}"
ROUNDS="${ROUNDS:-5}"
CLIENTS="${CLIENTS:-1 2}"
ROWS="${ROWS:-100000}"
INSERT_DURATION="${INSERT_DURATION:-$DURATION}"
BULK_ROWS="${BULK_ROWS:-1000000}"
BULK_ROUNDS="${BULK_ROUNDS:-3}"
PGTREE="${PGTREE:-/tmp/pgtree-bench-updated_at}"
[ "$ROWS" -ge 1 ] && [ "$ROWS" -le 999999 ] || { echo "ROWS must be 1..999999" >&2; exit 1; }

use_private_pg_tree "$PGTREE"
build_and_install
PORT="${BENCH_PORT:-$(free_port 55600)}"
DIR="$(mktemp -d /tmp/pg-bench-updated_at.XXXXXX)"
WORK="$(mktemp -d /tmp/bench-updated_at-work.XXXXXX)"
cleanup() { cluster_stop "$DIR"; rm -rf "$WORK"; }
trap cleanup EXIT
cluster_start "$DIR" "$PORT" "autovacuum = off"
chmod 755 "$WORK"

psql_b() { "$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -d bench "$@"; }
"$PGBIN/createdb" bench

VARIANTS="none moddatetime plpgsql saas"

# Ids are '00000000-0000-4000-8000-' || 12 decimal digits (valid hex), so a
# pgbench integer maps to a primary key without a lookup table.
psql_b <<SQL
SET client_min_messages = warning;
CREATE EXTENSION saas_schema CASCADE;
CREATE EXTENSION moddatetime;
CREATE SCHEMA bench;
CREATE FUNCTION bench.plpgsql_updated_at() RETURNS trigger LANGUAGE plpgsql AS
\$\$BEGIN NEW.updated_at = now(); RETURN NEW; END\$\$;
CREATE FUNCTION bench.key(n int) RETURNS uuid LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN ('00000000-0000-4000-8000-' || lpad(n::text, 12, '0'))::uuid;
DO \$\$
DECLARE v text;
BEGIN
    FOREACH v IN ARRAY string_to_array('$VARIANTS', ' ') LOOP
        EXECUTE format(\$f\$
            CREATE TABLE bench.%I (
                id uuid PRIMARY KEY,
                organization_id uuid NOT NULL,
                project_id uuid NOT NULL,
                title text NOT NULL,
                status text NOT NULL,
                priority smallint NOT NULL,
                due_date date,
                custom_fields jsonb NOT NULL DEFAULT '{}',
                created_at timestamptz NOT NULL DEFAULT now(),
                updated_at timestamptz NOT NULL DEFAULT now())\$f\$, 'tasks_' || v);
        EXECUTE format(\$f\$
            INSERT INTO bench.%I (id, organization_id, project_id, title, status, priority, due_date, custom_fields)
            SELECT bench.key(n), bench.key(n %% 50 + 1), bench.key(n %% 1000 + 1),
                   'Task number ' || n || ' of the benchmark', 'todo', (n %% 4 + 1)::smallint,
                   date '2026-01-01' + n %% 365, jsonb_build_object('estimate', n %% 13, 'labels', '["a","b"]'::jsonb)
              FROM generate_series(1, $ROWS) n\$f\$, 'tasks_' || v);
    END LOOP;
END
\$\$;
CREATE TRIGGER trg_tasks_moddatetime_updated_at BEFORE UPDATE ON bench.tasks_moddatetime
    FOR EACH ROW EXECUTE FUNCTION moddatetime(updated_at);
CREATE TRIGGER trg_tasks_plpgsql_updated_at BEFORE UPDATE ON bench.tasks_plpgsql
    FOR EACH ROW EXECUTE FUNCTION bench.plpgsql_updated_at();
SELECT saas.enable_updated_at('bench.tasks_saas') \\g /dev/null
CREATE TABLE bench.ins_v7 (LIKE bench.tasks_none INCLUDING DEFAULTS);
ALTER TABLE bench.ins_v7 ALTER COLUMN id SET DEFAULT saas.uuid_generate_v7(), ADD PRIMARY KEY (id);
CREATE TABLE bench.ins_v4 (LIKE bench.tasks_none INCLUDING DEFAULTS);
ALTER TABLE bench.ins_v4 ALTER COLUMN id SET DEFAULT gen_random_uuid(), ADD PRIMARY KEY (id);
VACUUM ANALYZE;
SQL

for v in $VARIANTS; do
    cat >"$WORK/update_$v.sql" <<SQL
\set k random(1, $ROWS)
UPDATE bench.tasks_$v SET status = CASE WHEN status = 'todo' THEN 'done' ELSE 'todo' END WHERE id = bench.key(:k);
SQL
done
for v in v7 v4; do
    cat >"$WORK/insert_$v.sql" <<SQL
INSERT INTO bench.ins_$v (organization_id, project_id, title, status, priority, due_date)
VALUES ('00000000-0000-4000-8000-000000000001', '00000000-0000-4000-8000-000000000002', 'New task', 'todo', 2, '2026-02-01');
SQL
done
chmod 644 "$WORK"/*.sql

# run_pgbench SCRIPT CLIENTS SECONDS -> tps
run_pgbench() {
    "$PGBIN/pgbench" -n -M prepared -f "$1" -c "$2" -j "$2" -T "$3" bench 2>&1 |
        awk '/^tps = / { print $3; exit }'
}
median() { sort -g | awk '{ a[NR] = $1 } END { if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
rotate() { local n=$1; shift; local a=("$@"); local i; for ((i = 0; i < ${#a[@]}; i++)); do echo "${a[(i + n) % ${#a[@]}]}"; done; }

echo "updated_at_uuid benchmark: PostgreSQL $("$PG_CONFIG" --version | awk '{print $2}'), $(nproc) CPUs," \
    "DURATION=${DURATION}s ROUNDS=$ROUNDS CLIENTS='$CLIENTS' ROWS=$ROWS INSERT_DURATION=${INSERT_DURATION}s" \
    "BULK_ROWS=$BULK_ROWS BULK_ROUNDS=$BULK_ROUNDS"

: >"$WORK/results"
read -r -a variant_list <<<"$VARIANTS"
for c in $CLIENTS; do
    for ((r = 0; r < ROUNDS; r++)); do
        for v in $(rotate "$r" "${variant_list[@]}"); do
            psql_b -c "VACUUM bench.tasks_$v"
            tps="$(run_pgbench "$WORK/update_$v.sql" "$c" "$DURATION")"
            echo "update $v $c $tps" >>"$WORK/results"
            echo "  round $((r + 1)) clients $c update $v: $tps tps" >&2
        done
        for v in $(rotate "$r" v7 v4); do
            tps="$(run_pgbench "$WORK/insert_$v.sql" "$c" "$INSERT_DURATION")"
            echo "insert $v $c $tps" >>"$WORK/results"
            echo "  round $((r + 1)) clients $c insert $v: $tps tps" >&2
        done
    done
done

# Bulk UPDATE of every row in one statement, timed in the server: the
# per-row trigger cost without client round trips (much less noise).
bulk_update() {
    psql_b -At <<SQL
VACUUM bench.tasks_$1;
SELECT clock_timestamp() AS t0 \\gset
UPDATE bench.tasks_$1 SET status = CASE WHEN status = 'todo' THEN 'done' ELSE 'todo' END;
SELECT round(1000 * extract(epoch FROM clock_timestamp() - :'t0'::timestamptz)::numeric, 1);
SQL
}
for ((r = 0; r < ROUNDS; r++)); do
    for v in $(rotate "$r" "${variant_list[@]}"); do
        ms="$(bulk_update "$v")"
        echo "bulkupdate $v 0 $ms" >>"$WORK/results"
        echo "  round $((r + 1)) bulk update $v: ${ms} ms" >&2
    done
done

# Bulk load: BULK_ROWS single-statement inserts into an empty table, timed in
# the server (clock_timestamp), then the primary-key index size.
bulk() {
    psql_b -At <<SQL
TRUNCATE bench.ins_$1;
CHECKPOINT;
SELECT clock_timestamp() AS t0 \\gset
INSERT INTO bench.ins_$1 (organization_id, project_id, title, status, priority, due_date)
SELECT '00000000-0000-4000-8000-000000000001', '00000000-0000-4000-8000-000000000002', 'Task ' || n, 'todo', 2, '2026-02-01'
  FROM generate_series(1, $BULK_ROWS) n;
SELECT round(extract(epoch FROM clock_timestamp() - :'t0'::timestamptz)::numeric, 3),
       pg_relation_size('bench.ins_$1_pkey');
SQL
}
for ((r = 0; r < BULK_ROUNDS; r++)); do
    for v in $(rotate "$r" v7 v4); do
        read -r secs size < <(bulk "$v" | tr '|' ' ')
        echo "bulk $v $secs $size" >>"$WORK/results"
        echo "  round $((r + 1)) bulk $v: ${secs}s, pkey $size bytes" >&2
    done
done

med() { awk -v k="$1" -v v="$2" -v c="$3" '$1 == k && $2 == v && $3 == c { print $4 }' "$WORK/results" | median; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a / b }'; }

echo
echo "UPDATE by primary key (median tps over $ROUNDS rounds of ${DURATION}s)"
printf '%-13s %7s %12s %10s %15s\n' variant clients median_tps vs_none vs_moddatetime
for c in $CLIENTS; do
    none="$(med update none "$c")"
    mod="$(med update moddatetime "$c")"
    for v in $VARIANTS; do
        m="$(med update "$v" "$c")"
        printf '%-13s %7s %12.1f %10s %15s\n' "$v" "$c" "$m" "$(ratio "$m" "$none")" "$(ratio "$m" "$mod")"
    done
done

echo
echo "Bulk UPDATE of all $ROWS rows in one statement (median ms over $ROUNDS rounds; lower is better)"
printf '%-13s %12s %18s %15s\n' variant median_ms none_ms/this_ms mod_ms/this_ms
none="$(med bulkupdate none 0)"
mod="$(med bulkupdate moddatetime 0)"
for v in $VARIANTS; do
    m="$(med bulkupdate "$v" 0)"
    printf '%-13s %12.1f %18s %15s\n' "$v" "$m" "$(ratio "$none" "$m")" "$(ratio "$mod" "$m")"
done

echo
echo "Single-row INSERT (median tps over $ROUNDS rounds of ${INSERT_DURATION}s)"
printf '%-18s %7s %12s %14s\n' default clients median_tps v7_vs_v4
for c in $CLIENTS; do
    v7="$(med insert v7 "$c")"
    v4="$(med insert v4 "$c")"
    printf '%-18s %7s %12.1f %14s\n' uuid_generate_v7 "$c" "$v7" "$(ratio "$v7" "$v4")"
    printf '%-18s %7s %12.1f %14s\n' gen_random_uuid "$c" "$v4" "1.000"
done

echo
echo "Bulk INSERT of $BULK_ROWS rows (median over $BULK_ROUNDS rounds)"
printf '%-18s %10s %10s %16s\n' default seconds rows_per_s pkey_index_bytes
for v in v7 v4; do
    s="$(awk -v v="$v" '$1 == "bulk" && $2 == v { print $3 }' "$WORK/results" | median)"
    b="$(awk -v v="$v" '$1 == "bulk" && $2 == v { print $4 }' "$WORK/results" | median)"
    name=$([ "$v" = v7 ] && echo uuid_generate_v7 || echo gen_random_uuid)
    printf '%-18s %10.3f %10.0f %16.0f (%.1f MB)\n' "$name" "$s" "$(awk -v n="$BULK_ROWS" -v s="$s" 'BEGIN { print n / s }')" "$b" \
        "$(awk -v b="$b" 'BEGIN { print b / 1048576 }')"
done
