#!/usr/bin/env bash
# Benchmark of saas.audit_trigger against PL/pgSQL audit triggers.
#
# One run (not a test): a tasks-shaped table of BENCH_ROWS rows with a jsonb
# custom_fields column; for each trigger variant, pgbench workloads
#   update1 / update2  single-row UPDATE by key, 1 and 2 clients
#   insert             single-row INSERT
#   delete             single-row DELETE (BENCH_DELETES transactions)
#   bulk               one UPDATE statement touching every row (timed by psql)
# Every round runs every workload for every variant in turn (the order of the
# variants rotates by round); a pgbench figure is the median of its per-second
# tps samples, and the table shows each figure's median over the rounds,
# ratios to the no-trigger baseline, the bulk UPDATE times, and audit bytes
# per UPDATE.
#
# Env: BENCH_SECONDS (default 10), BENCH_ROWS (100000), BENCH_DELETES (50000),
#      BENCH_ROUNDS (3), BENCH_QUICK=1 (3 s runs, 20000 deletes),
#      SAAS_PG_TREE (private PG tree), BENCH_VARIANTS (space-separated subset),
#      BENCH_ACTOR=1: every session sets app.current_tenant_id and
#      app.current_user_id (an active user of that tenant), which every
#      variant records, so audit rows also enter the actor index.  Set by
#      hand (not by saas.set_actor), the actor costs saas.audit_trigger one
#      lookup in saas.users per transaction: the path without a certificate.
set -euo pipefail
source "$(dirname "$0")/../scripts/pgenv.sh"
source "$(dirname "$0")/cluster.sh"
[ -n "${SAAS_PG_TREE:-}" ] && use_private_pg_tree "$SAAS_PG_TREE"

SECONDS_PER_RUN="${BENCH_SECONDS:-10}"
ROWS="${BENCH_ROWS:-100000}"
DELETES="${BENCH_DELETES:-50000}"
ROUNDS="${BENCH_ROUNDS:-3}"
if [ "${BENCH_ACTOR:-0}" = 1 ]; then
    export PGOPTIONS="${PGOPTIONS:-} -c app.current_tenant_id=00000000-0000-0000-0000-00000000000a -c app.current_user_id=00000000-0000-0000-0000-0000000000ee"
fi
if [ "${BENCH_QUICK:-0}" = 1 ]; then SECONDS_PER_RUN=3; DELETES=20000; fi
VARIANTS="${BENCH_VARIANTS:-none plpgsql_insert_only plpgsql_diff plpgsql_full_row plpgsql_hstore saas_row saas_statement}"

DIR="$(mktemp -d /tmp/saas-bench-audit.XXXXXX)"
PORT="$(free_port 55700)"
trap 'cluster_stop "$DIR"' EXIT
cluster_start "$DIR" "$PORT" "max_wal_size = 4GB" "checkpoint_timeout = 30min"
chmod 777 "$DIR"
OUT="$DIR/results.txt"
q() { "$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -At "$@"; }

q <<'SQL'
SET client_min_messages = warning;
CREATE EXTENSION saas_schema CASCADE;
CREATE EXTENSION hstore;
-- The actor of BENCH_ACTOR=1: an active user of the tenant.
SET saas.audit_enabled = off;
INSERT INTO saas.organizations (id, name, slug) VALUES ('00000000-0000-0000-0000-00000000000a', 'Bench', 'bench');
INSERT INTO saas.users (id, organization_id, email, password_hash)
VALUES ('00000000-0000-0000-0000-0000000000ee', '00000000-0000-0000-0000-00000000000a', 'ee@bench.example', 'h');
RESET saas.audit_enabled;
CREATE SCHEMA bench;
CREATE SEQUENCE bench.n_seq;
CREATE SEQUENCE bench.delete_seq;
CREATE TABLE bench.tasks (
    organization_id uuid NOT NULL, id uuid NOT NULL, n bigint NOT NULL,
    title text NOT NULL, status text NOT NULL, priority int NOT NULL,
    custom_fields jsonb NOT NULL, description text,
    due_date date, created_at timestamptz NOT NULL DEFAULT now(), updated_at timestamptz NOT NULL DEFAULT now(),
    deleted_at timestamptz,
    PRIMARY KEY (organization_id, id));
CREATE UNIQUE INDEX ON bench.tasks (n);

-- PL/pgSQL variants, all writing to saas.audit_logs like the C++ trigger,
-- and recording the actor (app.current_user_id) as it does.
CREATE FUNCTION bench.actor() RETURNS uuid LANGUAGE sql STABLE AS
$$ SELECT NULLIF(current_setting('app.current_user_id', true), '')::uuid $$;
CREATE FUNCTION bench.audit_insert_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO saas.audit_logs (organization_id, table_name, record_id, action, user_id, new_values, transaction_id)
    VALUES (COALESCE(NEW.organization_id, OLD.organization_id), TG_TABLE_SCHEMA || '.' || TG_TABLE_NAME,
            COALESCE(NEW.id, OLD.id), TG_OP, bench.actor(), '{}', txid_current());
    RETURN NULL;
END $$;
CREATE FUNCTION bench.audit_diff() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    o jsonb; n jsonb; ov jsonb; nv jsonb; cols text[];
BEGIN
    IF TG_OP = 'UPDATE' THEN
        o := to_jsonb(OLD); n := to_jsonb(NEW);
        SELECT jsonb_object_agg(e.key, o -> e.key), jsonb_object_agg(e.key, e.value), array_agg(e.key)
          INTO ov, nv, cols
          FROM jsonb_each(n) e WHERE (o -> e.key) IS DISTINCT FROM e.value;
        IF cols IS NULL THEN RETURN NULL; END IF;
    ELSIF TG_OP = 'INSERT' THEN
        nv := to_jsonb(NEW);
    ELSE
        ov := to_jsonb(OLD);
    END IF;
    INSERT INTO saas.audit_logs (organization_id, table_name, record_id, action, user_id, old_values, new_values,
                                 changed_columns, transaction_id)
    VALUES (COALESCE(NEW.organization_id, OLD.organization_id), TG_TABLE_SCHEMA || '.' || TG_TABLE_NAME,
            COALESCE(NEW.id, OLD.id), TG_OP, bench.actor(), ov, nv, cols, txid_current());
    RETURN NULL;
END $$;
-- supa_audit style: the whole old and new row, no diff.
CREATE FUNCTION bench.audit_full_row() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO saas.audit_logs (organization_id, table_name, record_id, action, user_id, old_values, new_values, transaction_id)
    VALUES (COALESCE(NEW.organization_id, OLD.organization_id), TG_TABLE_SCHEMA || '.' || TG_TABLE_NAME,
            COALESCE(NEW.id, OLD.id), TG_OP, bench.actor(),
            CASE WHEN TG_OP <> 'INSERT' THEN to_jsonb(OLD) END, CASE WHEN TG_OP <> 'DELETE' THEN to_jsonb(NEW) END,
            txid_current());
    RETURN NULL;
END $$;
-- The classic hstore subtraction diff (values become text).
CREATE FUNCTION bench.audit_hstore() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    ov hstore; nv hstore;
BEGIN
    IF TG_OP = 'UPDATE' THEN
        nv := hstore(NEW) - hstore(OLD);
        IF nv = ''::hstore THEN RETURN NULL; END IF;
        ov := hstore(OLD) - hstore(NEW);
    ELSIF TG_OP = 'INSERT' THEN
        nv := hstore(NEW);
    ELSE
        ov := hstore(OLD);
    END IF;
    INSERT INTO saas.audit_logs (organization_id, table_name, record_id, action, user_id, old_values, new_values,
                                 changed_columns, transaction_id)
    VALUES (COALESCE(NEW.organization_id, OLD.organization_id), TG_TABLE_SCHEMA || '.' || TG_TABLE_NAME,
            COALESCE(NEW.id, OLD.id), TG_OP, bench.actor(), hstore_to_jsonb(ov), hstore_to_jsonb(nv),
            CASE WHEN TG_OP = 'UPDATE' THEN akeys(nv) END, txid_current());
    RETURN NULL;
END $$;
SQL

load_rows() {
    q >/dev/null <<SQL
SET client_min_messages = warning;
SET session_replication_role = replica;  -- no trigger while loading; lets TRUNCATE pass the guard
TRUNCATE bench.tasks;
TRUNCATE saas.audit_logs;
SELECT setval('bench.n_seq', $ROWS);
SELECT setval('bench.delete_seq', 1, false);
INSERT INTO bench.tasks (organization_id, id, n, title, status, priority, custom_fields, description, due_date)
SELECT '00000000-0000-0000-0000-00000000000a', gen_random_uuid(), i, 'Task number ' || i,
       (ARRAY['open', 'in_progress', 'done'])[1 + i % 3], i % 5,
       jsonb_build_object('estimate', i % 13, 'labels', jsonb_build_array('a', 'b'), 'customer', 'Customer ' || (i % 97),
                          'score', (i % 1000) / 10.0),
       repeat('Some description text. ', 4), date '2026-01-01' + (i % 365)
  FROM generate_series(1, $ROWS) i;
RESET session_replication_role;
VACUUM ANALYZE bench.tasks;
CHECKPOINT;
SQL
}

install_variant() {
    q -c "SET client_min_messages = warning" -c "DROP TRIGGER IF EXISTS bench_audit ON bench.tasks" \
      -c "SELECT saas.disable_audit('bench.tasks')" >/dev/null
    case "$1" in
    none) ;;
    plpgsql_insert_only) q -c "CREATE TRIGGER bench_audit AFTER INSERT OR UPDATE OR DELETE ON bench.tasks FOR EACH ROW EXECUTE FUNCTION bench.audit_insert_only()" ;;
    plpgsql_diff) q -c "CREATE TRIGGER bench_audit AFTER INSERT OR UPDATE OR DELETE ON bench.tasks FOR EACH ROW EXECUTE FUNCTION bench.audit_diff()" ;;
    plpgsql_full_row) q -c "CREATE TRIGGER bench_audit AFTER INSERT OR UPDATE OR DELETE ON bench.tasks FOR EACH ROW EXECUTE FUNCTION bench.audit_full_row()" ;;
    plpgsql_hstore) q -c "CREATE TRIGGER bench_audit AFTER INSERT OR UPDATE OR DELETE ON bench.tasks FOR EACH ROW EXECUTE FUNCTION bench.audit_hstore()" ;;
    saas_row) q -c "SELECT saas.enable_audit('bench.tasks')" >/dev/null ;;
    saas_statement) q -c "SELECT saas.enable_audit('bench.tasks', mode => 'statement')" >/dev/null ;;
    *) echo "unknown variant $1" >&2; exit 1 ;;
    esac
}

cat >"$DIR/update.sql" <<EOF2
\set r random(1, $ROWS)
UPDATE bench.tasks SET priority = priority + 1, updated_at = now() WHERE n = :r;
EOF2
cat >"$DIR/insert.sql" <<'EOF2'
INSERT INTO bench.tasks (organization_id, id, n, title, status, priority, custom_fields, description)
VALUES ('00000000-0000-0000-0000-00000000000a', gen_random_uuid(), nextval('bench.n_seq'), 'New task', 'open', 1,
        '{"estimate": 3, "labels": ["new"]}', 'Created by pgbench');
EOF2
cat >"$DIR/delete.sql" <<'EOF2'
SELECT nextval('bench.delete_seq') AS d \gset
DELETE FROM bench.tasks WHERE n = :d;
EOF2

# median: the median of the numbers on stdin, one per line.
median() {
    sort -n | awk '{v[NR]=$1} END {if (NR%2) {print v[(NR+1)/2]} else {printf "%.1f\n", (v[NR/2]+v[NR/2+1])/2}}'
}

# median_tps LOGFILE: median of pgbench -P 1 progress samples; pgbench's own
# summary tps when the run was too short for two samples.
median_tps() {
    local samples
    samples="$(grep -o 'progress: [0-9.]* s, [0-9.]* tps' "$1" | awk '{print $4}' || true)"
    if [ "$(printf '%s\n' "$samples" | grep -c .)" -lt 2 ]; then
        grep -o 'tps = [0-9.]*' "$1" | awk '{printf "%.1f\n", $3}' | tail -1
        return
    fi
    printf '%s\n' "$samples" | median
}

# With one client and at least two CPUs, the server's new backend runs on
# CPU 0 and pgbench on CPU 1 (BENCH_PIN=0 turns this off): without pinning,
# the scheduler moving the two ping-ponging processes around made 1-client
# runs of the same variant differ by up to 2x on this 2-CPU machine.
# Backends inherit the postmaster's CPU set when they are forked.
PIN="${BENCH_PIN:-1}"
[ "$(nproc)" -ge 2 ] && command -v taskset >/dev/null || PIN=0
POSTMASTER_PID="$(head -1 "$DIR/data/postmaster.pid")"
# CPU time the whole server has used, in clock ticks: the postmaster, its
# live children (backends, WAL writer, checkpointer, ...) and the children it
# has reaped (cutime/cstime).  Wall-clock tps on this shared VM varies by up
# to 2x between runs of the same variant (its page cache is small, so WAL and
# data writes often wait for the disk); CPU time per transaction does not.
server_cpu_ticks() {
    local total f g pid
    sleep 0.3 # let the postmaster reap a backend that just exited
    read -r -a f < <(sed 's/^.*) //' "/proc/$POSTMASTER_PID/stat")
    total=$((f[11] + f[12] + f[13] + f[14]))
    for pid in $(pgrep -P "$POSTMASTER_PID"); do
        if read -r -a g < <(sed 's/^.*) //' "/proc/$pid/stat" 2>/dev/null); then
            total=$((total + g[11] + g[12]))
        fi
    done
    echo "$total"
}
TICK_US=$((1000000 / $(getconf CLK_TCK)))

run_pgbench() { # name script clients [extra args]; CPU µs per transaction into $DIR/last_cpu
    local name="$1" script="$2" clients="$3"
    shift 3
    local pin=()
    if [ "$PIN" = 1 ] && [ "$clients" = 1 ]; then
        taskset -pc 0 "$POSTMASTER_PID" >/dev/null 2>&1 || true
        pin=(taskset -c 1)
    fi
    local before after
    before="$(server_cpu_ticks)"
    "${pin[@]}" "$PGBIN/pgbench" -n -M prepared -P 1 -c "$clients" -j "$clients" -f "$DIR/$script" "$@" >"$DIR/$name.log" 2>&1
    after="$(server_cpu_ticks)"
    awk -v t=$((after - before)) -v us="$TICK_US" '/number of transactions actually processed/ {n=$NF}
        END {if (n > 0) printf "%.1f\n", t * us / n; else print "NaN"}' "$DIR/$name.log" >"$DIR/last_cpu"
    [ "$PIN" = 1 ] && taskset -pc "0-$(($(nproc) - 1))" "$POSTMASTER_PID" >/dev/null 2>&1 || true
    median_tps "$DIR/$name.log"
}

RAW="$DIR/raw.txt"
: >"$RAW"
for r in $(seq 1 "$ROUNDS"); do
    # Rotate the order of the variants so none always runs first or last.
    set -- $VARIANTS
    shift_by=$(( (r - 1) % $# ))
    order="$(echo $VARIANTS | tr ' ' '\n' | awk -v k="$shift_by" '{v[NR]=$0} END {for (i=0; i<NR; i++) print v[(i+k)%NR+1]}')"
    for v in $order; do
        load_rows
        install_variant "$v"
        echo "$v update1 $(run_pgbench "$v-update1" update.sql 1 -T "$SECONDS_PER_RUN")" >>"$RAW"
        echo "$v update1_cpu $(cat "$DIR/last_cpu")" >>"$RAW"
        echo "$v update2 $(run_pgbench "$v-update2" update.sql 2 -T "$SECONDS_PER_RUN")" >>"$RAW"
        echo "$v update2_cpu $(cat "$DIR/last_cpu")" >>"$RAW"
        echo "$v bytes $(q -c "SELECT COALESCE(round(avg(pg_column_size(a.*))), 0) FROM saas.audit_logs a WHERE action = 'UPDATE'")" >>"$RAW"
        echo "$v insert $(run_pgbench "$v-insert" insert.sql 1 -T "$SECONDS_PER_RUN")" >>"$RAW"
        echo "$v delete $(run_pgbench "$v-delete" delete.sql 1 -t "$DELETES")" >>"$RAW"
        # The bulk UPDATE on a freshly loaded table, timed by the server.
        load_rows
        install_variant "$v"
        bulk_before="$(server_cpu_ticks)"
        echo "$v bulk $(q -c "EXPLAIN (ANALYZE, TIMING OFF, SUMMARY ON) UPDATE bench.tasks SET priority = priority + 1, updated_at = now()" |
            awk '/Execution Time/ {printf "%.0f", $3}')" >>"$RAW"
        echo "$v bulk_cpu $(( ($(server_cpu_ticks) - bulk_before) * TICK_US / 1000 ))" >>"$RAW"
    done
    echo "round $r of $ROUNDS done" >&2
done
median_of() { # variant workload
    awk -v v="$1" -v w="$2" '$1==v && $2==w {print $3}' "$RAW" | median
}
echo "actor set: ${BENCH_ACTOR:-0}; 1-client runs pinned: $PIN; rounds: $ROUNDS; seconds per pgbench run: $SECONDS_PER_RUN; rows: $ROWS"
printf "%-20s %10s %10s %10s %10s %10s %12s %12s %12s %12s\n" variant update1 update2 insert delete bulk_ms bytes/update \
    cpu_us/upd1 cpu_us/upd2 bulk_cpu_ms | tee "$OUT"
for v in $VARIANTS; do
    printf "%-20s %10s %10s %10s %10s %10s %12s %12s %12s %12s\n" "$v" "$(median_of "$v" update1)" "$(median_of "$v" update2)" \
        "$(median_of "$v" insert)" "$(median_of "$v" delete)" "$(median_of "$v" bulk)" "$(median_of "$v" bytes)" \
        "$(median_of "$v" update1_cpu)" "$(median_of "$v" update2_cpu)" "$(median_of "$v" bulk_cpu)" | tee -a "$OUT"
done
echo
echo "Ratios to 'none' (wall-clock tps, and server CPU per transaction: none's / this one's; higher is better):"
awk 'NR==1 {next} $1=="none" {b1=$2; b2=$3; bi=$4; bd=$5; bc1=$8; bc2=$9}
     {names[NR]=$1; u1[NR]=$2; u2[NR]=$3; ins[NR]=$4; del[NR]=$5; c1[NR]=$8; c2[NR]=$9; n=NR}
     END {printf "%-20s %10s %10s %10s %10s %12s %12s\n", "variant", "update1", "update2", "insert", "delete", "cpu_upd1", "cpu_upd2";
          for (i=2; i<=n; i++) printf "%-20s %10.2f %10.2f %10.2f %10.2f %12.2f %12.2f\n", names[i], u1[i]/b1, u2[i]/b2, ins[i]/bi, del[i]/bd, bc1/c1[i], bc2/c2[i]}' "$OUT"
echo
echo "Bulk UPDATE against the fastest PL/pgSQL variant (its time / this time, higher is better; wall and server CPU):"
awk 'NR==1 {next} $1 ~ /^plpgsql_/ && (best == "" || $6 < best) {best=$6; bestname=$1}
     $1 ~ /^plpgsql_/ && (bestc == "" || $10 < bestc) {bestc=$10; bestcname=$1}
     $1 ~ /^saas_/ {saas[$1]=$6; saasc[$1]=$10}
     END {if (best == "") exit; for (k in saas) printf "%-20s wall %5.2fx (fastest: %s, %s ms)   cpu %5.2fx (fastest: %s, %s ms)\n",
          k, best/saas[k], bestname, best, bestc/saasc[k], bestcname, bestc}' "$OUT"
echo
echo "Every measurement (variant workload value):"
cat "$RAW"
cp "$OUT" "${BENCH_RESULTS:-/dev/null}" 2>/dev/null || true
