#!/usr/bin/env bash
# Memory: one UPDATE of N audited rows (SAAS_MEM_ROWS, else 300,000 in short
# mode -- row mode takes ~100 us a row on 2 cores -- and 1,000,000 in long mode), as
# superuser, runs with bounded backend memory in row mode and in statement
# mode, compared with a no-audit baseline UPDATE of the same rows (the table
# keeps its updated_at trigger throughout).  For each statement the backend's
# peak RSS is measured two ways:
#   * VmHWM, read by the backend itself from /proc/self/status right after
#     the statement (a high-water mark; it includes the shared buffers the
#     backend touched, up to shared_buffers = 256MB);
#   * peak RssAnon (private memory only), sampled every 50 ms from this
#     shell through /proc/<backend pid>/status while the statement runs.
# Checks: every statement audited every row (one audit row per row, one
# transaction each), VmHWM < 1 GB, and each audit mode's peak private memory
# stays within baseline + 32 MB + 64 bytes per row: the fixed part covers the
# statement mode's transition tables (work_mem each before they spill) and
# audit batches; the per-row part covers the row-mode AFTER trigger event
# queue, PostgreSQL's own per-row cost (measured: ~16 B/row).  A leak of a
# few dozen bytes per row in the trigger would exceed it.
set -uo pipefail
source "$(dirname "$0")/../lib.sh"
DB=saas_mem
if [ -n "${SAAS_MEM_ROWS:-}" ]; then ROWS=$SAAS_MEM_ROWS
elif [ "${SAAS_TEST_MODE:-short}" = long ]; then ROWS=1000000
else ROWS=300000; fi
LIMIT_KB=$((1024 * 1024))
WORK="$(mktemp -d /tmp/saas-mem.XXXXXX)"
chmod 755 "$WORK"
trap 'rm -rf "$WORK"' EXIT

psql -X -q -d postgres -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB"
psql -X -q -v ON_ERROR_STOP=1 -d $DB >/dev/null <<SQL
SET client_min_messages = warning;
CREATE EXTENSION saas_schema CASCADE;
CREATE TABLE mem_items (
    id              uuid        NOT NULL DEFAULT saas.uuid_generate_v7() PRIMARY KEY,
    organization_id uuid        NOT NULL,
    n               integer     NOT NULL,
    label           text        NOT NULL,
    custom_fields   jsonb       NOT NULL DEFAULT '{}',
    updated_at      timestamptz NOT NULL DEFAULT now()
);
INSERT INTO mem_items (organization_id, n, label, custom_fields)
SELECT '00000000-0000-7000-8000-000000000001', g, 'item ' || g, jsonb_build_object('g', g)
FROM generate_series(1, $ROWS) g;
SELECT saas.enable_updated_at('mem_items');
VACUUM ANALYZE mem_items;
SQL
ok $? "loaded $ROWS rows"

# run_update NAME: one UPDATE of every row in a fresh session; prints
# "seconds vmhwm_kB peak_rssanon_kB start_rssanon_kB".
run_update() {
    local name="$1" app="saas_mem_$1" pid="" peak=0 start_anon="" v t0 t1
    t0=$(date +%s.%N)
    psql -X -q -At -v ON_ERROR_STOP=1 -d $DB >"$WORK/$name.out" 2>"$WORK/$name.err" <<SQL &
SET application_name = '$app';
SELECT pg_sleep(0.5);
UPDATE mem_items SET n = n + 1;
SELECT 'VmHWM ' || (regexp_match(pg_read_file('/proc/self/status'), 'VmHWM:\s+([0-9]+) kB'))[1];
SQL
    local psql_pid=$!
    for _ in $(seq 1 50); do
        pid=$(q $DB "SELECT pid FROM pg_stat_activity WHERE application_name = '$app'")
        [ -n "$pid" ] && break
        sleep 0.1
    done
    # Sample until the session ends (bounded: 30 minutes).
    for _ in $(seq 1 36000); do
        kill -0 "$psql_pid" 2>/dev/null || break
        if [ -n "$pid" ]; then
            v=$(awk '/^RssAnon:/ {print $2}' "/proc/$pid/status" 2>/dev/null)
            if [ -n "$v" ]; then
                [ -z "$start_anon" ] && start_anon=$v
                [ "$v" -gt "$peak" ] && peak=$v
            fi
        fi
        sleep 0.05
    done
    wait "$psql_pid"
    local rc=$?
    t1=$(date +%s.%N)
    [ $rc -eq 0 ] || { sed 's/^/#   /' "$WORK/$name.err"; return 1; }
    local hwm
    hwm=$(sed -n 's/^VmHWM //p' "$WORK/$name.out")
    echo "$(echo "$t1 - $t0 - 0.5" | bc) ${hwm:-0} $peak ${start_anon:-0}"
}

audit_count() { q $DB "SELECT count(*) || ' ' || count(DISTINCT transaction_id) FROM saas.audit_logs WHERE table_name = 'public.mem_items'"; }

set -- $(run_update baseline)
ok $? "baseline UPDATE (no audit) of $ROWS rows"
b_sec=${1:-0} b_hwm=${2:-0} b_anon=${3:-0}
is "$(audit_count)" "0 0" "baseline: nothing audited"

q $DB "SELECT saas.enable_audit('mem_items')" >/dev/null
set -- $(run_update row)
ok $? "row-mode audited UPDATE of $ROWS rows"
r_sec=${1:-0} r_hwm=${2:-0} r_anon=${3:-0}
is "$(audit_count)" "$ROWS 1" "row mode: one audit row per row, in one transaction"

q $DB "SELECT saas.enable_audit('mem_items', mode => 'statement')" >/dev/null
is "$(q $DB "SELECT string_agg(tgname, ',' ORDER BY tgname) FROM pg_trigger WHERE tgrelid = 'mem_items'::regclass AND tgname LIKE 'saas_audit%'")" \
    "saas_audit_delete,saas_audit_insert,saas_audit_update" "statement-mode triggers installed"
set -- $(run_update statement)
ok $? "statement-mode audited UPDATE of $ROWS rows"
s_sec=${1:-0} s_hwm=${2:-0} s_anon=${3:-0}
is "$(audit_count)" "$((2 * ROWS)) 2" "statement mode: one more audit row per row, in one transaction"
is "$(q $DB "SELECT count(*) FROM saas.audit_logs WHERE table_name = 'public.mem_items' AND action = 'UPDATE'
              AND changed_columns = '{n,updated_at}' AND (new_values->>'n')::int = (old_values->>'n')::int + 1")" \
    "$((2 * ROWS))" "every audit row records the change of n (old + 1 = new) and updated_at"

echo "# figure: rows=$ROWS"
echo "# figure: baseline  : ${b_sec}s VmHWM ${b_hwm} kB, peak RssAnon ${b_anon} kB"
echo "# figure: row mode  : ${r_sec}s VmHWM ${r_hwm} kB, peak RssAnon ${r_anon} kB"
echo "# figure: statement : ${s_sec}s VmHWM ${s_hwm} kB, peak RssAnon ${s_anon} kB"
for m in b r s; do
    eval "hwm=\$${m}_hwm"
    [ "$hwm" -gt 0 ] && [ "$hwm" -lt $LIMIT_KB ]
    ok $? "$m: VmHWM $hwm kB < 1 GB"
done
allow=$((32 * 1024 + ROWS * 64 / 1024))
[ "$b_anon" -gt 0 ] && [ "$r_anon" -le $((b_anon + allow)) ]
ok $? "row mode private memory within baseline + 32 MB + 64 B/row ($r_anon <= $b_anon + $allow kB)"
[ "$b_anon" -gt 0 ] && [ "$s_anon" -le $((b_anon + allow)) ]
ok $? "statement mode private memory within baseline + 32 MB + 64 B/row ($s_anon <= $b_anon + $allow kB)"

psql -X -q -d postgres -c "DROP DATABASE $DB"
done_testing
