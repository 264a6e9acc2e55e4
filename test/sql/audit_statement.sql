-- Statement mode (FOR EACH STATEMENT with transition tables) writes exactly
-- the audit rows row mode writes, for the same statements.
SET client_min_messages = warning;
DROP SCHEMA IF EXISTS saas CASCADE;
CREATE EXTENSION saas_schema;
RESET client_min_messages;
\set SHOW_CONTEXT never
SET TimeZone = 'UTC';

CREATE SCHEMA st;
CREATE TYPE st.state AS ENUM ('new', 'done');
CREATE TABLE st.by_row (
    organization_id uuid NOT NULL, id uuid NOT NULL, title text, amount numeric, state st.state,
    tags text[], fields jsonb, due date, secret text, deleted_at timestamptz, updated_at timestamptz,
    PRIMARY KEY (organization_id, id));
CREATE TABLE st.by_statement (LIKE st.by_row INCLUDING ALL);
SELECT saas.enable_audit('st.by_row', ARRAY['secret']);
SELECT saas.enable_audit('st.by_statement', ARRAY['secret'], mode => 'statement');
SELECT tgname, tgtype, tgoldtable, tgnewtable FROM pg_trigger
 WHERE tgrelid = 'st.by_statement'::regclass ORDER BY tgname;
-- Switching modes replaces the triggers (idempotent either way).
SELECT saas.enable_audit('st.by_statement', ARRAY['secret'], mode => 'row');
SELECT tgname FROM pg_trigger WHERE tgrelid = 'st.by_statement'::regclass ORDER BY tgname;
SELECT saas.enable_audit('st.by_statement', ARRAY['secret'], mode => 'statement');
SELECT count(*) AS statement_triggers FROM pg_trigger WHERE tgrelid = 'st.by_statement'::regclass;

-- The same statements on both tables (5000 rows: more than one batch).
CREATE FUNCTION pg_temp.on_both(stmt text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format(stmt, 'st.by_row');
    EXECUTE format(stmt, 'st.by_statement');
END $$;
-- (The actor is recorded as an active user of the current tenant.)
SET saas.audit_enabled = off;
INSERT INTO saas.organizations (id, name, slug) VALUES ('00000000-0000-0000-0000-00000000000a', 'A', 'a');
INSERT INTO saas.users (id, organization_id, email, password_hash)
    VALUES ('00000000-0000-0000-0000-0000000000e1', '00000000-0000-0000-0000-00000000000a', 'e1@a.example', 'h');
RESET saas.audit_enabled;
SET app.current_tenant_id = '00000000-0000-0000-0000-00000000000a';
SET app.current_user_id = '00000000-0000-0000-0000-0000000000e1';
SET app.request_metadata = '{"job": "bulk"}';
SELECT pg_temp.on_both($$INSERT INTO %s (organization_id, id, title, amount, state, tags, fields, due, secret)
    SELECT '00000000-0000-0000-0000-00000000000a', ('00000000-0000-0000-0000-' || lpad(to_hex(i), 12, '0'))::uuid,
           'task ' || i, i / 4.0, 'new', ARRAY['t' || mod(i, 3)], jsonb_build_object('n', i, 'odd', mod(i, 2) = 1),
           date '2026-01-01' + i, 's' || i
      FROM generate_series(1, 5000) i$$);
SELECT pg_temp.on_both($$UPDATE %s SET amount = amount * 2, updated_at = '2026-06-01 00:00+00' WHERE title LIKE '%%7'$$);
-- Only updated_at and the excluded secret change: written, secret by name
-- only.  Nothing changes: nothing is written.
SELECT pg_temp.on_both($$UPDATE %s SET updated_at = '2026-06-02 00:00+00', secret = 'x' WHERE title LIKE '%%1'$$);
SELECT pg_temp.on_both($$UPDATE %s SET title = title$$);
SELECT pg_temp.on_both($$UPDATE %s SET state = 'done', fields = fields || '{"closed": true}' WHERE amount > 1200$$);
SELECT pg_temp.on_both($$UPDATE %s SET deleted_at = '2026-06-03 00:00+00' WHERE title LIKE '%%3'$$);
SELECT pg_temp.on_both($$UPDATE %s SET deleted_at = NULL WHERE title LIKE '%%13'$$);
SELECT pg_temp.on_both($$DELETE FROM %s WHERE title LIKE '%%9'$$);
SELECT pg_temp.on_both($$DELETE FROM %s WHERE false$$);
RESET app.current_user_id;
RESET app.request_metadata;
RESET app.current_tenant_id;

-- Compare everything but the table name and the row's own id/created_at.
CREATE TEMP VIEW audited AS
SELECT table_name, action, organization_id, record_id, user_id, old_values::text AS old_values,
       new_values::text AS new_values, changed_columns, metadata::text AS metadata
  FROM saas.audit_logs;
SELECT table_name, action, count(*) FROM saas.audit_logs GROUP BY 1, 2 ORDER BY 1, 2;
SELECT count(*) AS only_in_row_mode FROM (
    SELECT action, organization_id, record_id, user_id, old_values, new_values, changed_columns, metadata
      FROM audited WHERE table_name = 'st.by_row'
    EXCEPT ALL
    SELECT action, organization_id, record_id, user_id, old_values, new_values, changed_columns, metadata
      FROM audited WHERE table_name = 'st.by_statement') d;
SELECT count(*) AS only_in_statement_mode FROM (
    SELECT action, organization_id, record_id, user_id, old_values, new_values, changed_columns, metadata
      FROM audited WHERE table_name = 'st.by_statement'
    EXCEPT ALL
    SELECT action, organization_id, record_id, user_id, old_values, new_values, changed_columns, metadata
      FROM audited WHERE table_name = 'st.by_row') d;
-- Each on_both() call is one transaction, for both tables: 6 of them wrote rows.
SELECT table_name, count(DISTINCT transaction_id) AS transactions FROM saas.audit_logs GROUP BY 1 ORDER BY 1;
-- Samples, for a reviewer: task 4997 (doubled, then done) and task 4913
-- (soft-deleted, then restored).
SELECT action, old_values, new_values, changed_columns, user_id, metadata FROM saas.audit_logs
 WHERE table_name = 'st.by_statement' AND record_id = '00000000-0000-0000-0000-000000001385' ORDER BY created_at, id;
SELECT action, old_values, new_values, changed_columns FROM saas.audit_logs
 WHERE table_name = 'st.by_statement' AND record_id = '00000000-0000-0000-0000-000000001331' AND action <> 'INSERT'
 ORDER BY created_at, id;

-- A statement that changes no row writes nothing and assigns no transaction id.
BEGIN;
DELETE FROM st.by_statement WHERE false;
SELECT txid_current_if_assigned() IS NULL AS no_transaction_id;
COMMIT;

-- A rolled-back statement leaves nothing.
SELECT count(*) AS rows_before FROM saas.audit_logs \gset
BEGIN;
UPDATE st.by_statement SET title = 'rolled back';
ROLLBACK;
SELECT count(*) - :rows_before AS rows_written FROM saas.audit_logs;

-- Partitioned table in statement mode: the transition tables use the
-- parent's row type, and a row moving to another partition is one UPDATE
-- (row mode sees a DELETE and an INSERT).
CREATE TABLE st.parted (organization_id uuid NOT NULL, id uuid NOT NULL, kind text NOT NULL, note text)
    PARTITION BY LIST (kind);
CREATE TABLE st.parted_a PARTITION OF st.parted FOR VALUES IN ('a');
CREATE TABLE st.parted_b (note text, kind text NOT NULL, id uuid NOT NULL, organization_id uuid NOT NULL);
ALTER TABLE st.parted ATTACH PARTITION st.parted_b FOR VALUES IN ('b');
SELECT saas.enable_audit('st.parted', mode => 'statement');
INSERT INTO st.parted VALUES ('00000000-0000-0000-0000-00000000000a', '00000000-0000-0000-0000-000000000001', 'a', 'one'),
                             ('00000000-0000-0000-0000-00000000000a', '00000000-0000-0000-0000-000000000002', 'b', 'two');
UPDATE st.parted SET kind = 'b', note = 'moved' WHERE kind = 'a';
SELECT action, record_id, old_values, new_values, changed_columns FROM saas.audit_logs
 WHERE table_name = 'st.parted' ORDER BY created_at, id;

SET client_min_messages = warning;
DROP SCHEMA st CASCADE;
RESET client_min_messages;
