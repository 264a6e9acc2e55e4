-- saas.audit_trigger (row mode): actions, diff rules, session settings,
-- enable/disable validation, cache invalidation, partitions, atomicity and
-- the append-only guard.
SET client_min_messages = warning;
DROP SCHEMA IF EXISTS saas CASCADE;
CREATE EXTENSION saas_schema;
RESET client_min_messages;
\set SHOW_CONTEXT never
SET TimeZone = 'UTC';

-- Runs a statement and shows its error as SQLSTATE: message (detail) [hint].
CREATE FUNCTION pg_temp.err(stmt text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    state text; msg text; det text; hnt text;
BEGIN
    EXECUTE stmt;
    RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, msg = MESSAGE_TEXT,
                            det = PG_EXCEPTION_DETAIL, hnt = PG_EXCEPTION_HINT;
    RETURN state || ': ' || msg
        || CASE WHEN det <> '' THEN ' (' || det || ')' ELSE '' END
        || CASE WHEN hnt <> '' THEN ' [' || hnt || ']' ELSE '' END;
END
$$;

-- Look-alike tenant tables in a schema of the user's own.
CREATE SCHEMA app;
CREATE TABLE app.orgs (
    id uuid PRIMARY KEY, name text NOT NULL, updated_at timestamptz);
CREATE TABLE app.accounts (
    organization_id uuid NOT NULL, id uuid NOT NULL, email citext NOT NULL,
    password_hash text, api_token text, updated_at timestamptz,
    PRIMARY KEY (organization_id, id));
CREATE TABLE app.items (
    organization_id uuid NOT NULL, id uuid NOT NULL, title text, amount numeric,
    deleted_at timestamptz, deleted_by_id uuid, created_at timestamptz, updated_at timestamptz,
    PRIMARY KEY (organization_id, id));
CREATE TABLE app.item_tags (
    organization_id uuid NOT NULL, item_id uuid NOT NULL, tag text NOT NULL,
    PRIMARY KEY (organization_id, item_id, tag));

-- enable_audit validates its arguments.  (excluded_columns NULL means "not
-- named": keep the current exclusions; app.items has none yet.)
SELECT pg_temp.err($$SELECT saas.enable_audit(NULL)$$);
SELECT pg_temp.err($$SELECT saas.enable_audit('app.items', NULL)$$);
SELECT pg_temp.err($$SELECT saas.enable_audit('app.items', ARRAY[NULL])$$);
SELECT pg_temp.err($$SELECT saas.enable_audit('app.items', mode => 'bulk')$$);
SELECT pg_temp.err($$SELECT saas.enable_audit('app.items', ARRAY['no_such_column'])$$);
SELECT pg_temp.err($$SELECT saas.enable_audit('app.items', ARRAY['organization_id'])$$);
SELECT pg_temp.err($$SELECT saas.enable_audit('app.orgs')$$);
SELECT pg_temp.err($$SELECT saas.enable_audit('app.orgs', tenant_column => 'name')$$);
CREATE VIEW app.items_view AS SELECT * FROM app.items;
SELECT pg_temp.err($$SELECT saas.enable_audit('app.items_view')$$);
SELECT pg_temp.err($$SELECT saas.enable_audit('saas.audit_logs')$$);
SELECT pg_temp.err($$SELECT saas.enable_audit('saas.audit_logs_default')$$);
SELECT pg_temp.err($$SELECT saas.enable_audit('app.no_such_table')$$);
SELECT pg_temp.err($$SELECT saas.disable_audit(NULL)$$);
SELECT pg_temp.err($$SELECT saas.disable_audit('app.items_view')$$);

-- enable_audit is idempotent: calling it twice leaves one trigger.
SELECT saas.enable_audit('app.orgs', tenant_column => 'id');
SELECT saas.enable_audit('app.accounts', ARRAY['api_token']);
SELECT saas.enable_audit('app.items');
SELECT saas.enable_audit('app.items');
SELECT saas.enable_audit('app.item_tags');
SELECT tgrelid::regclass, tgname, pg_catalog.encode(tgargs, 'escape') AS args
  FROM pg_trigger WHERE tgname LIKE 'saas_audit%' AND tgrelid::regclass::text LIKE 'app.%' ORDER BY tgrelid::regclass::text, tgname;

-- Every tenant table of schema saas is audited out of the box (nothing is
-- listed when all are).
SELECT c.relname AS saas_table_without_audit
  FROM pg_class c
 WHERE c.relnamespace = 'saas'::regnamespace AND c.relkind IN ('r', 'p') AND NOT c.relispartition
   AND c.relname NOT LIKE 'audit\_logs%'
   AND (c.relname = 'organizations' OR EXISTS (SELECT FROM pg_attribute a
        WHERE a.attrelid = c.oid AND a.attname = 'organization_id' AND NOT a.attisdropped))
   AND NOT EXISTS (SELECT FROM pg_trigger t WHERE t.tgrelid = c.oid AND t.tgname = 'saas_audit');

-- A view of the audit log for this test: newest rows last.
CREATE VIEW pg_temp.log AS
SELECT table_name, action, record_id, old_values, new_values, changed_columns
  FROM saas.audit_logs ORDER BY created_at, id;

-- INSERT records the full row; UPDATE only the changed columns; DELETE the full row.
INSERT INTO app.orgs VALUES ('00000000-0000-0000-0000-00000000000a', 'Acme', NULL);
INSERT INTO app.items VALUES ('00000000-0000-0000-0000-00000000000a', '00000000-0000-0000-0000-000000000001',
                              'first', 1.0, NULL, NULL, '2026-01-01 10:00+00', '2026-01-01 10:00+00');
UPDATE app.items SET title = 'renamed', updated_at = '2026-01-02 10:00+00';
DELETE FROM app.items;
SELECT * FROM pg_temp.log;
SELECT organization_id FROM saas.audit_logs WHERE table_name = 'app.orgs';

-- A no-op UPDATE, and an UPDATE of updated_at alone, write nothing.
INSERT INTO app.items (organization_id, id, title, amount)
VALUES ('00000000-0000-0000-0000-00000000000a', '00000000-0000-0000-0000-000000000002', 'second', 1.0);
SELECT count(*) AS rows_before FROM saas.audit_logs \gset
UPDATE app.items SET title = title;
UPDATE app.items SET updated_at = '2026-02-01 00:00+00';
UPDATE app.items SET amount = 1.0;
SELECT count(*) - :rows_before AS rows_written FROM saas.audit_logs;

-- numeric 1.0 -> 1.00: equal as numbers, but the stored value changed, so it
-- is a change, recorded exactly.
UPDATE app.items SET amount = 1.00;
SELECT old_values, new_values, changed_columns FROM saas.audit_logs ORDER BY created_at DESC, id DESC LIMIT 1;

-- Soft delete and restore.
UPDATE app.items SET deleted_at = '2026-03-01 00:00+00', deleted_by_id = '00000000-0000-0000-0000-0000000000ee';
UPDATE app.items SET deleted_at = NULL, deleted_by_id = NULL;
SELECT action, old_values, new_values, changed_columns FROM saas.audit_logs ORDER BY created_at DESC, id DESC LIMIT 2;

-- Excluded columns are never recorded: password_hash always, api_token
-- because enable_audit was told so.  Changing only them writes nothing.
INSERT INTO app.accounts VALUES ('00000000-0000-0000-0000-00000000000a', '00000000-0000-0000-0000-000000000003',
                                 'Ann@Example.com', 'hash1', 'token1', NULL);
SELECT count(*) AS rows_before FROM saas.audit_logs \gset
UPDATE app.accounts SET password_hash = 'hash2', api_token = 'token2';
SELECT count(*) - :rows_before AS rows_written FROM saas.audit_logs;
UPDATE app.accounts SET email = 'ann@example.com', password_hash = 'hash3';
SELECT action, old_values, new_values, changed_columns FROM saas.audit_logs
 WHERE table_name = 'app.accounts' ORDER BY created_at, id;
SELECT count(*) AS rows_mentioning_secrets FROM saas.audit_logs
 WHERE (coalesce(old_values, '{}') || coalesce(new_values, '{}')) ?| ARRAY['password_hash', 'api_token'];

-- A table without id: record_id is NULL, the key columns are in the values.
INSERT INTO app.item_tags VALUES ('00000000-0000-0000-0000-00000000000a', '00000000-0000-0000-0000-000000000002', 'red');
DELETE FROM app.item_tags;
SELECT action, record_id, old_values, new_values FROM saas.audit_logs
 WHERE table_name = 'app.item_tags' ORDER BY created_at, id;

-- user_id comes from app.current_user_id, metadata from app.request_metadata,
-- when the user is an active user of the current tenant (what
-- saas.set_actor checks; others are recorded as NULL and {}: see
-- audit_security.sql).
SET saas.audit_enabled = off;
INSERT INTO saas.organizations (id, name, slug) VALUES ('00000000-0000-0000-0000-00000000000a', 'A', 'a');
INSERT INTO saas.users (id, organization_id, email, password_hash)
    VALUES ('00000000-0000-0000-0000-0000000000b1', '00000000-0000-0000-0000-00000000000a', 'b1@a.example', 'h');
RESET saas.audit_enabled;
BEGIN;
SET LOCAL app.current_tenant_id = '00000000-0000-0000-0000-00000000000a';
SET LOCAL app.current_user_id = '00000000-0000-0000-0000-0000000000u1';
SAVEPOINT s;
SELECT pg_temp.err($$UPDATE app.items SET title = 'x'$$);
ROLLBACK TO s;
SET LOCAL app.current_user_id = '{00000000-0000-0000-0000-0000000000b1}';
SET LOCAL app.request_metadata = '{"request_id": "r-1", "ip": "10.0.0.1"}';
UPDATE app.items SET title = 'by user b1';
SET LOCAL app.current_user_id = '';
SET LOCAL app.request_metadata = '';
UPDATE app.items SET title = 'by nobody';
SELECT user_id, metadata, transaction_id = txid_current() AS this_transaction
  FROM saas.audit_logs ORDER BY created_at DESC, id DESC LIMIT 2;
COMMIT;
SELECT pg_temp.err($$SET LOCAL app.request_metadata = '{"a": '; UPDATE app.items SET title = 'x'$$);
SELECT pg_temp.err($$SET LOCAL app.request_metadata = '[1, 2]'; UPDATE app.items SET title = 'x'$$);
SELECT pg_temp.err($$SET LOCAL app.request_metadata = '"text"'; UPDATE app.items SET title = 'x'$$);
SELECT pg_temp.err($$SET LOCAL app.current_user_id = 'not-a-uuid'; UPDATE app.items SET title = 'x'$$);
SELECT pg_temp.err($$SET LOCAL app.current_user_id = '00000000-0000-0000-0000-00000000000'; UPDATE app.items SET title = 'x'$$);

-- Atomicity: a rolled-back transaction or savepoint leaves no audit row; a
-- committed one exactly one row per changed row.
SELECT count(*) AS rows_before FROM saas.audit_logs \gset
BEGIN;
UPDATE app.items SET title = 'rolled back';
ROLLBACK;
BEGIN;
UPDATE app.items SET title = 'kept';
SAVEPOINT s;
UPDATE app.items SET title = 'rolled back to savepoint';
INSERT INTO app.item_tags VALUES ('00000000-0000-0000-0000-00000000000a', '00000000-0000-0000-0000-000000000002', 'blue');
ROLLBACK TO s;
COMMIT;
SELECT count(*) - :rows_before AS rows_written FROM saas.audit_logs;
SELECT new_values->>'title' AS title FROM saas.audit_logs ORDER BY created_at DESC, id DESC LIMIT 1;

-- The cached column description follows ALTER TABLE: added, dropped and
-- retyped columns.
DROP VIEW app.items_view;
ALTER TABLE app.items ADD COLUMN priority int;
UPDATE app.items SET priority = 3;
ALTER TABLE app.items DROP COLUMN deleted_by_id;
UPDATE app.items SET priority = 4;
ALTER TABLE app.items ALTER COLUMN priority TYPE text;
UPDATE app.items SET priority = 'high';
DELETE FROM app.items;
SELECT action, old_values, new_values, changed_columns FROM saas.audit_logs
 WHERE table_name = 'app.items' ORDER BY created_at DESC, id DESC LIMIT 4;

-- Partitioned tables: the trigger is cloned onto every partition, also
-- partitions with a different physical layout, and rows carry the parent's
-- logical name.
CREATE TABLE app.events (
    organization_id uuid NOT NULL, id uuid NOT NULL, junk int, kind text NOT NULL, payload jsonb,
    PRIMARY KEY (organization_id, id, kind)) PARTITION BY LIST (kind);
ALTER TABLE app.events DROP COLUMN junk;
CREATE TABLE app.events_a PARTITION OF app.events FOR VALUES IN ('a');
SELECT saas.enable_audit('app.events');
-- Created after the trigger, with its own column order: attached later.
CREATE TABLE app.events_b (payload jsonb, kind text NOT NULL, id uuid NOT NULL, organization_id uuid NOT NULL);
ALTER TABLE app.events ATTACH PARTITION app.events_b FOR VALUES IN ('b');
INSERT INTO app.events VALUES ('00000000-0000-0000-0000-00000000000a', '00000000-0000-0000-0000-000000000011', 'a', '{"n": 1}'),
                              ('00000000-0000-0000-0000-00000000000a', '00000000-0000-0000-0000-000000000012', 'b', '{"n": 2}');
UPDATE app.events SET payload = '{"n": 3}';
-- Moving a row to another partition is a DELETE and an INSERT.
UPDATE app.events SET kind = 'b' WHERE kind = 'a';
SELECT table_name, action, old_values, new_values, changed_columns FROM saas.audit_logs
 WHERE table_name = 'app.events' ORDER BY created_at, id;

-- disable_audit is idempotent and stops the auditing.
SELECT saas.disable_audit('app.events');
SELECT saas.disable_audit('app.events');
SELECT count(*) AS rows_before FROM saas.audit_logs \gset
DELETE FROM app.events;
SELECT count(*) - :rows_before AS rows_written FROM saas.audit_logs;
SELECT count(*) AS audit_triggers_left FROM pg_trigger
 WHERE tgrelid IN (SELECT relid FROM pg_partition_tree('app.events')) AND tgname LIKE 'saas_audit%';

-- Misuse of the trigger function is refused clearly.
SELECT pg_temp.err($$SELECT saas.audit_trigger()$$);
CREATE TABLE app.misc (organization_id uuid, id uuid, note text, tenant_text text);
CREATE TRIGGER t_before BEFORE INSERT ON app.misc FOR EACH ROW EXECUTE FUNCTION saas.audit_trigger();
SELECT pg_temp.err($$INSERT INTO app.misc VALUES ('00000000-0000-0000-0000-00000000000a', NULL, 'x')$$);
DROP TRIGGER t_before ON app.misc;
CREATE TRIGGER t_truncate AFTER TRUNCATE ON app.misc FOR EACH STATEMENT EXECUTE FUNCTION saas.audit_trigger();
SELECT pg_temp.err($$TRUNCATE app.misc$$);
DROP TRIGGER t_truncate ON app.misc;
CREATE TRIGGER t_stmt AFTER INSERT ON app.misc FOR EACH STATEMENT EXECUTE FUNCTION saas.audit_trigger();
SELECT pg_temp.err($$INSERT INTO app.misc VALUES ('00000000-0000-0000-0000-00000000000a', NULL, 'x')$$);
DROP TRIGGER t_stmt ON app.misc;
CREATE TRIGGER t_tenant AFTER INSERT ON app.misc FOR EACH ROW EXECUTE FUNCTION saas.audit_trigger('app.misc', 'tenant');
SELECT pg_temp.err($$INSERT INTO app.misc VALUES ('00000000-0000-0000-0000-00000000000a', NULL, 'x')$$);
DROP TRIGGER t_tenant ON app.misc;
CREATE TRIGGER t_tenant AFTER INSERT ON app.misc FOR EACH ROW EXECUTE FUNCTION saas.audit_trigger('app.misc', 'tenant_text');
SELECT pg_temp.err($$INSERT INTO app.misc VALUES ('00000000-0000-0000-0000-00000000000a', NULL, 'x')$$);
DROP TRIGGER t_tenant ON app.misc;
CREATE TRIGGER t_excl AFTER INSERT ON app.misc FOR EACH ROW EXECUTE FUNCTION saas.audit_trigger('app.misc', 'organization_id', 'nope');
SELECT pg_temp.err($$INSERT INTO app.misc VALUES ('00000000-0000-0000-0000-00000000000a', NULL, 'x')$$);
DROP TRIGGER t_excl ON app.misc;
-- Without arguments the trigger uses the relation's name and organization_id;
-- a NULL tenant is refused rather than recorded nowhere.
CREATE TRIGGER t_plain AFTER INSERT ON app.misc FOR EACH ROW EXECUTE FUNCTION saas.audit_trigger();
SELECT pg_temp.err($$INSERT INTO app.misc VALUES (NULL, NULL, 'x')$$);
INSERT INTO app.misc VALUES ('00000000-0000-0000-0000-00000000000a', NULL, 'plain');
SELECT table_name, record_id, new_values FROM saas.audit_logs ORDER BY created_at DESC, id DESC LIMIT 1;
DROP TABLE app.misc;

-- The audit log is append-only, for superusers too.
SELECT pg_temp.err($$UPDATE saas.audit_logs SET action = 'DELETE'$$);
SELECT pg_temp.err($$DELETE FROM saas.audit_logs$$);
SELECT pg_temp.err($$TRUNCATE saas.audit_logs$$);
SELECT pg_temp.err($$TRUNCATE saas.audit_logs_default$$);

-- The application role writes audited tables without any privilege on the
-- audit log, and cannot change the log even when granted DELETE and setting
-- the maintenance flag (the guard honours it only for the owner).
CREATE ROLE audit_test_app;
GRANT USAGE ON SCHEMA app, saas TO audit_test_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON app.items TO audit_test_app;
SET ROLE audit_test_app;
INSERT INTO app.items (organization_id, id, title) VALUES ('00000000-0000-0000-0000-00000000000a', '00000000-0000-0000-0000-000000000021', 'by app');
SELECT pg_temp.err($$SELECT count(*) FROM saas.audit_logs$$);
-- Nor can it switch the auditing of a table it does not own off.
SELECT pg_temp.err($$SELECT saas.disable_audit('app.items')$$);
SELECT pg_temp.err($$SELECT saas.enable_audit('app.items', ARRAY['title'])$$);
RESET ROLE;
GRANT SELECT, DELETE ON saas.audit_logs TO audit_test_app;
SET ROLE audit_test_app;
-- (app.current_tenant_id makes the rows visible where tenant isolation applies.)
SELECT pg_temp.err($$SET LOCAL app.current_tenant_id = '00000000-0000-0000-0000-00000000000a';
                     SET LOCAL saas_audit.partition_maintenance = 'on'; DELETE FROM saas.audit_logs$$);
RESET ROLE;
SELECT new_values->>'title' AS title FROM saas.audit_logs ORDER BY created_at DESC, id DESC LIMIT 1;
REVOKE ALL ON saas.audit_logs FROM audit_test_app;
REVOKE ALL ON app.items FROM audit_test_app;
REVOKE ALL ON SCHEMA app, saas FROM audit_test_app;
DROP ROLE audit_test_app;

SET client_min_messages = warning;
DROP SCHEMA app CASCADE;
RESET client_min_messages;
