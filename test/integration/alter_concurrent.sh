#!/usr/bin/env bash
# Triggers firing while another session ALTERs the table.  Session A loops
# (one transaction per iteration) updating every row of two audited tables
# (row mode and statement mode, both with the updated_at trigger) and now
# and then inserting a row; session B concurrently ALTERs both tables: ADD
# COLUMN c_k DEFAULT k / DROP COLUMN c_(k-1), and every 10th time drops and
# re-adds updated_at itself, which moves it to a new attribute number.  The
# C++ triggers cache attribute numbers and column descriptions per trigger:
# a stale cache would raise, write the wrong column or label a value with
# the wrong name.  Checks: both sessions finish without error (lock waits
# only), audit rows == rows changed, every UPDATE audit row is n -> n + 1
# and continues the previous one of its record, every c_k value recorded
# under the name c_k is k, updated_at is always set.
# Iterations: SAAS_ALTER_ITERATIONS (A), else 1500 (short) / 5000 (long).
set -uo pipefail
source "$(dirname "$0")/../lib.sh"
DB=saas_alter
if [ -n "${SAAS_ALTER_ITERATIONS:-}" ]; then ITER=$SAAS_ALTER_ITERATIONS
elif [ "${SAAS_TEST_MODE:-short}" = long ]; then ITER=5000
else ITER=1500; fi
ALTERS=$((ITER / 5))
WORK="$(mktemp -d /tmp/saas-alter.XXXXXX)"
trap 'rm -rf "$WORK"' EXIT
log_offset=0
[ -n "${SAAS_SERVER_LOG:-}" ] && [ -f "$SAAS_SERVER_LOG" ] && log_offset=$(stat -c %s "$SAAS_SERVER_LOG")

psql -X -q -d postgres -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB"
psql -X -q -v ON_ERROR_STOP=1 -d $DB >/dev/null <<'SQL'
SET client_min_messages = warning;
CREATE EXTENSION saas_schema CASCADE;
CREATE TABLE alt_row (organization_id uuid NOT NULL, id uuid NOT NULL DEFAULT saas.uuid_generate_v7(),
                      n int NOT NULL, note text, updated_at timestamptz NOT NULL DEFAULT now(),
                      PRIMARY KEY (organization_id, id));
CREATE TABLE alt_stmt (LIKE alt_row INCLUDING ALL);
SELECT saas.enable_audit('alt_row');
SELECT saas.enable_audit('alt_stmt', mode => 'statement');
SELECT saas.enable_updated_at('alt_row');
SELECT saas.enable_updated_at('alt_stmt');
INSERT INTO alt_row (organization_id, n, note) SELECT '00000000-0000-7000-8000-000000000001', 0, 'r' || g FROM generate_series(1, 20) g;
INSERT INTO alt_stmt (organization_id, n, note) SELECT '00000000-0000-7000-8000-000000000001', 0, 's' || g FROM generate_series(1, 20) g;
CREATE TABLE alt_log (tbl text, action text, changed bigint);
SQL
ok $? "two audited tables (row and statement mode) with updated_at prepared"
base=$(q $DB "SELECT count(*) FROM saas.audit_logs")

cat >"$WORK/a.sql" <<SQL
\set ON_ERROR_STOP 1
DO \$\$
DECLARE k bigint;
BEGIN
    FOR i IN 1 .. $ITER LOOP
        UPDATE alt_row SET n = n + 1;
        GET DIAGNOSTICS k = ROW_COUNT;
        INSERT INTO alt_log VALUES ('alt_row', 'UPDATE', k);
        UPDATE alt_stmt SET n = n + 1;
        GET DIAGNOSTICS k = ROW_COUNT;
        INSERT INTO alt_log VALUES ('alt_stmt', 'UPDATE', k);
        IF i % 10 = 0 THEN
            INSERT INTO alt_row (organization_id, n, note) VALUES ('00000000-0000-7000-8000-000000000001', 0, 'new ' || i);
            INSERT INTO alt_stmt (organization_id, n, note) VALUES ('00000000-0000-7000-8000-000000000001', 0, 'new ' || i);
            INSERT INTO alt_log VALUES ('alt_row', 'INSERT', 1), ('alt_stmt', 'INSERT', 1);
        END IF;
        COMMIT;
    END LOOP;
END \$\$;
SQL
cat >"$WORK/b.sql" <<SQL
\set ON_ERROR_STOP 1
DO \$\$
BEGIN
    FOR k IN 1 .. $ALTERS LOOP
        EXECUTE format('ALTER TABLE alt_row ADD COLUMN c_%s int DEFAULT %s', k, k);
        COMMIT;
        EXECUTE format('ALTER TABLE alt_stmt ADD COLUMN c_%s int DEFAULT %s', k, k);
        COMMIT;
        IF k > 1 THEN
            EXECUTE format('ALTER TABLE alt_row DROP COLUMN c_%s', k - 1);
            COMMIT;
            EXECUTE format('ALTER TABLE alt_stmt DROP COLUMN c_%s', k - 1);
            COMMIT;
        END IF;
        IF k % 10 = 0 THEN
            ALTER TABLE alt_row DROP COLUMN updated_at, ADD COLUMN updated_at timestamptz NOT NULL DEFAULT now();
            COMMIT;
            ALTER TABLE alt_stmt DROP COLUMN updated_at, ADD COLUMN updated_at timestamptz NOT NULL DEFAULT now();
            COMMIT;
        END IF;
        PERFORM pg_sleep(0.01);
    END LOOP;
END \$\$;
SQL
t0=$(date +%s.%N)
psql -X -q -d $DB -f "$WORK/a.sql" >"$WORK/a.out" 2>&1 &
a_pid=$!
psql -X -q -d $DB -f "$WORK/b.sql" >"$WORK/b.out" 2>&1 &
b_pid=$!
wait $b_pid
b_rc=$?
tb=$(date +%s.%N)
a_running=0
kill -0 $a_pid 2>/dev/null && a_running=1
wait $a_pid
a_rc=$?
ta=$(date +%s.%N)
is "$a_rc" 0 "session A: $ITER update iterations, no error" || sed 's/^/#   /' "$WORK/a.out" | head
is "$b_rc" 0 "session B: $ALTERS rounds of ADD/DROP COLUMN, no error" || sed 's/^/#   /' "$WORK/b.out" | head
is "$a_running" 1 "the ALTERs ran while the updates were still running"
echo "# figure: updates ran $(echo "$ta - $t0" | bc)s, alters $(echo "$tb - $t0" | bc)s"
if [ -n "${SAAS_SERVER_LOG:-}" ] && [ -f "$SAAS_SERVER_LOG" ]; then
    is "$(tail -c +"$((log_offset + 1))" "$SAAS_SERVER_LOG" | grep -c 'ERROR:')" 0 "no ERROR in the server log"
fi
is "$(q $DB "SELECT count(*) FROM pg_attribute WHERE attrelid = 'alt_row'::regclass AND attname = 'updated_at' AND attnum > 5")" 1 \
    "updated_at really moved to a new attribute number"

for t in alt_row alt_stmt; do
    is "$(q $DB "SELECT count(*) FROM saas.audit_logs WHERE table_name = 'public.$t' AND action = 'UPDATE'")" \
        "$(q $DB "SELECT sum(changed) FROM alt_log WHERE tbl = '$t' AND action = 'UPDATE'")" \
        "$t: one UPDATE audit row per updated row"
    is "$(q $DB "SELECT count(*) FROM saas.audit_logs WHERE table_name = 'public.$t' AND action = 'INSERT'")" \
        "$(q $DB "SELECT 20 + sum(changed) FROM alt_log WHERE tbl = '$t' AND action = 'INSERT'")" \
        "$t: one INSERT audit row per inserted row"
    out=$(q $DB "WITH u AS (
        SELECT record_id, id, (old_values->>'n')::int AS o, (new_values->>'n')::int AS nw, changed_columns,
               lag((new_values->>'n')::int) OVER (PARTITION BY record_id ORDER BY id) AS prev
          FROM saas.audit_logs WHERE table_name = 'public.$t' AND action = 'UPDATE')
      SELECT count(*) FILTER (WHERE nw IS DISTINCT FROM o + 1 OR (prev IS NOT NULL AND o <> prev)
                                  OR NOT changed_columns <@ '{n,updated_at}' OR NOT changed_columns @> '{n}')
             || ' ' || count(*) FROM u")
    set -- $out
    is "${1:-x}" 0 "$t: every UPDATE audit row is n -> n + 1, continues its record, changes only n/updated_at (${2:-0} rows)"
    out=$(q $DB "SELECT count(*) FILTER (WHERE (a.new_values->>e.key)::int IS DISTINCT FROM substr(e.key, 3)::int) || ' ' || count(*)
                   FROM saas.audit_logs a, jsonb_each(a.new_values) e
                  WHERE a.table_name = 'public.$t' AND a.action = 'INSERT' AND e.key ~ '^c_[0-9]+\$'")
    set -- $out
    is "${1:-x}" 0 "$t: every c_k value recorded under the name c_k is k (${2:-0} values)"
    [ "${2:-0}" -gt 0 ]
    ok $? "$t: inserts ran while added columns existed"
    is "$(q $DB "SELECT count(*) FROM $t WHERE updated_at IS NULL")" 0 "$t: updated_at always set"
    # A's last iterations ran after B's last ALTER: each row's current
    # updated_at must be the one its newest audit row recorded (set by the
    # trigger at the column's new attribute number).
    is "$(q $DB "SELECT count(*) FROM $t r
                  WHERE r.updated_at IS DISTINCT FROM (
                        SELECT (a.new_values->>'updated_at')::timestamptz FROM saas.audit_logs a
                         WHERE a.record_id = r.id AND a.table_name = 'public.$t' ORDER BY a.id DESC LIMIT 1)")" 0 \
        "$t: every row's updated_at is the one its newest audit row recorded"
done
echo "# figure: audit rows written: $(($(q $DB "SELECT count(*) FROM saas.audit_logs") - base))"
psql -X -q -d postgres -c "DROP DATABASE $DB"
done_testing
