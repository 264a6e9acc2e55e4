#!/usr/bin/env bash
# Dump/restore round trip of saas.audit_logs: monthly partitions created
# after installation (not extension members) and their rows must come back
# exactly, and restoring must not add audit rows of its own.
#
# Tables created by the extension script (saas.organizations, ...) are
# extension configuration tables: CREATE EXTENSION re-creates them, with
# their audit triggers, before pg_restore loads their data.  The trigger stays
# silent in restore sessions (row_security = off, as pg_dump scripts set it,
# in a session that bypasses RLS), so a plain restore must add no audit row
# either; a restore with session_replication_role = replica (no ordinary
# trigger fires) is checked too.  When the saas tables exist, both are run.
#
# Usage: test/dump_audit_partitions.sh   (starts and stops its own cluster;
# the extension must be installed in $PG_CONFIG's tree, see scripts/pgenv.sh)
set -euo pipefail
source "$(dirname "$0")/../scripts/pgenv.sh"
[ -n "${SAAS_PG_TREE:-}" ] && use_private_pg_tree "$SAAS_PG_TREE"

DIR="$(mktemp -d /tmp/saas-dump-audit.XXXXXX)"
PORT="$(free_port 55600)"
trap 'cluster_stop "$DIR"' EXIT
cluster_start "$DIR" "$PORT"
DUMP="$DIR/audit.dump"
chmod 777 "$DIR"

q() { "$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -At "$@"; }

"$PGBIN/createdb" src
q -d src >/dev/null <<'SQL'
SET client_min_messages = warning;
CREATE EXTENSION saas_schema CASCADE;
CREATE SCHEMA app;
CREATE TABLE app.notes (organization_id uuid NOT NULL, id uuid PRIMARY KEY, body text);
SELECT saas.enable_audit('app.notes');
INSERT INTO app.notes SELECT '00000000-0000-0000-0000-00000000000a', gen_random_uuid(), 'note ' || i
  FROM generate_series(1, 50) i;
UPDATE app.notes SET body = body || ' (edited)' WHERE body LIKE '%5';
-- One row of two months ago, in the default partition until partitions exist.
INSERT INTO saas.audit_logs (organization_id, table_name, action, new_values, transaction_id, created_at)
VALUES ('00000000-0000-0000-0000-00000000000a', 'app.notes', 'INSERT', '{"body": "old"}', 1, now() - interval '2 months');
SELECT count(*) FROM saas.audit_create_partitions(1, months_back => 2);
-- And one far in the future: stays in the default partition.
INSERT INTO saas.audit_logs (organization_id, table_name, action, new_values, transaction_id, created_at)
VALUES ('00000000-0000-0000-0000-00000000000a', 'app.notes', 'INSERT', '{"body": "future"}', 1, '2099-01-01 00:00+00');
-- Rows in the extension's own (configuration) tables, when they exist.
DO $$
BEGIN
    IF to_regclass('saas.users') IS NOT NULL THEN
        INSERT INTO saas.organizations (id, name, slug) VALUES ('00000000-0000-0000-0000-00000000000a', 'Acme', 'acme');
        INSERT INTO saas.users (organization_id, email, password_hash)
        VALUES ('00000000-0000-0000-0000-00000000000a', 'ann@example.com', 'x');
    END IF;
END $$;
SQL

# Fingerprints: every audit row, and every partition with its bounds.
fingerprint() {
    q -d "$1" <<'SQL'
SELECT count(*) || ' rows, md5 ' || md5(string_agg(to_jsonb(a)::text, E'\n' ORDER BY created_at, id))
  FROM saas.audit_logs a;
SELECT string_agg(c.relname || ' ' || pg_get_expr(c.relpartbound, c.oid), E'\n' ORDER BY c.relname)
  FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'saas.audit_logs'::regclass;
SELECT 'rows per partition: ' || string_agg(p || '=' || n, ' ' ORDER BY p)
  FROM (SELECT tableoid::regclass::text AS p, count(*) AS n FROM saas.audit_logs GROUP BY 1) s;
SQL
}

before="$(fingerprint src)"
"$PGBIN/pg_dump" -Fc -d src -f "$DUMP"
"$PGBIN/createdb" dst
PGOPTIONS="-c session_replication_role=replica" "$PGBIN/pg_restore" --exit-on-error -d dst "$DUMP"
after="$(fingerprint dst)"
has_saas_tables="$(q -d src -c "SELECT to_regclass('saas.users') IS NOT NULL")"
if [ "$has_saas_tables" = t ]; then
    "$PGBIN/createdb" dst_plain
    "$PGBIN/pg_restore" --exit-on-error -d dst_plain "$DUMP"
    added=$(( $(q -d dst_plain -c "SELECT count(*) FROM saas.audit_logs") - $(q -d src -c "SELECT count(*) FROM saas.audit_logs") ))
    echo "--- plain restore: audit rows added by the restore itself: $added"
    if [ "$added" -ne 0 ]; then
        echo "FAIL: a plain restore wrote audit rows"
        exit 1
    fi
fi

echo "--- source"; echo "$before"
echo "--- restored"; echo "$after"
echo "--- how pg_dump writes a partition created after installation:"
"$PGBIN/pg_restore" -f - "$DUMP" | grep -E "^(CREATE TABLE|ALTER TABLE ONLY saas.audit_logs ATTACH|COPY saas.audit_logs)" | sort | uniq -c | sed 's/audit_logs_p[0-9]\{6\}/audit_logs_pYYYYMM/g' | sort -u

if [ "$before" = "$after" ]; then
    echo "PASS: partitions and audit rows round-trip exactly; the restore added no audit row"
else
    echo "FAIL: restored audit log differs"
    exit 1
fi
