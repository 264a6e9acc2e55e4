-- TRUNCATE of audited tables: recorded as one audit row per tenant whose rows
-- it removed (the default), or refused when the table is configured so; the
-- count ignores row-level security (TRUNCATE does); what the application
-- role sees; undo refuses what the log cannot give back.
SET client_min_messages = warning;
DROP SCHEMA IF EXISTS saas CASCADE;
DROP SCHEMA IF EXISTS tt CASCADE;
DROP ROLE IF EXISTS regress_trunc_owner;
DROP ROLE IF EXISTS regress_trunc_app;
CREATE EXTENSION saas_schema CASCADE;
RESET client_min_messages;
\set SHOW_CONTEXT never
\set A '''0190b000-0000-7000-8000-00000000000a'''
\set B '''0190b000-0000-7000-8000-00000000000b'''

-- Runs a statement and shows its error as SQLSTATE: message [hint].
CREATE FUNCTION pg_temp.err(stmt text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    state text; msg text; hnt text;
BEGIN
    EXECUTE stmt;
    RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, msg = MESSAGE_TEXT, hnt = PG_EXCEPTION_HINT;
    RETURN state || ': ' || msg || CASE WHEN hnt <> '' THEN ' [' || hnt || ']' ELSE '' END;
END
$$;

-- The TRUNCATE audit rows of a table, oldest first.
CREATE FUNCTION pg_temp.truncations(logical text)
RETURNS TABLE (tenant text, action text, record_id uuid, old_values jsonb, new_values jsonb,
               changed_columns text[], same_transaction boolean)
LANGUAGE sql AS $$
    SELECT CASE a.organization_id WHEN '0190b000-0000-7000-8000-00000000000a' THEN 'A'
                                  WHEN '0190b000-0000-7000-8000-00000000000b' THEN 'B' ELSE '?' END,
           a.action, a.record_id, a.old_values, a.new_values, a.changed_columns,
           a.transaction_id = pg_catalog.txid_current_if_assigned()
      FROM saas.audit_logs AS a
     WHERE a.table_name = logical AND a.action = 'TRUNCATE'
     ORDER BY a.created_at, a.organization_id
$$;

INSERT INTO saas.organizations (id, name, slug) VALUES (:A, 'Acme', 'acme'), (:B, 'Beta', 'beta');
CREATE SCHEMA tt;
CREATE TABLE tt.notes (organization_id uuid NOT NULL, id uuid NOT NULL DEFAULT saas.uuid_generate_v7(),
                       body text, PRIMARY KEY (organization_id, id));
CREATE TABLE tt.bulk (LIKE tt.notes INCLUDING ALL);
CREATE TABLE tt.parted (organization_id uuid NOT NULL, n int NOT NULL) PARTITION BY RANGE (n);
CREATE TABLE tt.parted_low PARTITION OF tt.parted FOR VALUES FROM (0) TO (100);
CREATE TABLE tt.parted_high PARTITION OF tt.parted FOR VALUES FROM (100) TO (1000);
SELECT saas.enable_audit('tt.notes');
SELECT saas.enable_audit('tt.bulk', mode => 'statement');
SELECT saas.enable_audit('tt.parted');
-- The triggers enable_audit installs: TRUNCATE is counted before it happens.
SELECT c.relname, t.tgname, pg_get_triggerdef(t.oid) ~ 'BEFORE TRUNCATE' AS before_truncate,
       t.tgfoid::regproc AS function
  FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
 WHERE c.relnamespace = 'tt'::regnamespace AND t.tgname LIKE 'saas_audit%' AND t.tgparentid = 0
 ORDER BY 1, 2;

INSERT INTO tt.notes (organization_id, body)
SELECT CASE WHEN g <= 3 THEN :A ELSE :B END::uuid, 'note ' || g FROM generate_series(1, 5) g;
INSERT INTO tt.bulk (organization_id, body)
SELECT CASE WHEN g <= 7 THEN :A ELSE :B END::uuid, 'row ' || g FROM generate_series(1, 8) g;
INSERT INTO tt.parted SELECT :A, g * 10 FROM generate_series(1, 30) g;

-- 1. Recorded: one row per tenant, with the number of rows removed.
BEGIN;
TRUNCATE tt.notes;
SELECT * FROM pg_temp.truncations('tt.notes');
COMMIT;
BEGIN;
TRUNCATE tt.bulk;
SELECT * FROM pg_temp.truncations('tt.bulk');
COMMIT;
-- A partitioned table: its partitions' rows, under the parent's name.
TRUNCATE tt.parted;
SELECT tenant, old_values FROM pg_temp.truncations('tt.parted');
-- An empty table: nothing removed, nothing recorded.
BEGIN;
TRUNCATE tt.notes;
SELECT count(*) AS rows_for_empty_truncate FROM pg_temp.truncations('tt.notes') WHERE same_transaction;
COMMIT;
-- Two audited tables in one command: each records its own.
INSERT INTO tt.notes (organization_id, body) VALUES (:A, 'again');
INSERT INTO tt.bulk (organization_id, body) VALUES (:B, 'again'), (:B, 'and again');
BEGIN;
TRUNCATE tt.notes, tt.bulk;
SELECT a.table_name, a.organization_id = :A AS tenant_a, a.old_values FROM saas.audit_logs a
 WHERE a.action = 'TRUNCATE' AND a.transaction_id = txid_current() ORDER BY 1;
COMMIT;

-- 2. The count sees every tenant's rows even when the table's owner is
-- subject to forced row-level security: TRUNCATE removes them all.
CREATE ROLE regress_trunc_owner;
GRANT USAGE ON SCHEMA tt, saas TO regress_trunc_owner;
SELECT saas.enable_tenant_isolation('tt.notes');
INSERT INTO tt.notes (organization_id, body)
SELECT CASE WHEN g <= 2 THEN :A ELSE :B END::uuid, 'owned ' || g FROM generate_series(1, 6) g;
ALTER TABLE tt.notes OWNER TO regress_trunc_owner;
SET ROLE regress_trunc_owner;
SELECT count(*) AS owner_sees_without_tenant FROM tt.notes;
BEGIN;
TRUNCATE tt.notes;
RESET ROLE;
SELECT tenant, old_values FROM pg_temp.truncations('tt.notes') WHERE same_transaction;
COMMIT;
ALTER TABLE tt.notes OWNER TO CURRENT_USER;

-- 3. The application role sees its own tenant's TRUNCATE rows only, and
-- cannot undo a TRUNCATE: the log holds the count, not the rows.
CREATE ROLE regress_trunc_app;
SELECT saas.grant_app_access('regress_trunc_app');
GRANT USAGE ON SCHEMA tt TO regress_trunc_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON tt.notes TO regress_trunc_app;
SELECT max(transaction_id) AS truncate_tx FROM saas.audit_logs WHERE action = 'TRUNCATE' AND table_name = 'tt.notes' \gset
SET ROLE regress_trunc_app;
BEGIN;
SELECT saas.set_tenant(:A) IS NOT NULL AS tenant_set;
SELECT table_name, old_values FROM saas.audit_logs WHERE action = 'TRUNCATE' ORDER BY created_at, table_name;
SELECT regexp_replace(pg_temp.err(format('SELECT saas.revert_transaction(%s)', :truncate_tx)), 'transaction [0-9]+', 'transaction N') AS revert_truncate;
COMMIT;
RESET ROLE;
-- revert_record of a row of a table truncated since: refused, not "nothing to do".
INSERT INTO tt.notes (organization_id, body) VALUES (:A, 'to be truncated') RETURNING id AS note_id \gset
SELECT clock_timestamp() AS before_truncate \gset
TRUNCATE tt.notes;
SELECT regexp_replace(pg_temp.err(format('SELECT saas.revert_record(''tt.notes'', %L, %L)', :'note_id', :'before_truncate')),
                      'after .*$', 'after <time>') AS revert_record_after_truncate;

-- 4. Refused when the table is configured so; the setting is kept when
-- enable_audit is called again without it; audit off lets it through.
SELECT saas.enable_audit('tt.bulk', on_truncate => 'refuse');
INSERT INTO tt.bulk (organization_id, body) VALUES (:A, 'kept');
SELECT pg_temp.err('TRUNCATE tt.bulk') AS refused;
SELECT count(*) AS rows_still_there FROM tt.bulk;
SELECT saas.enable_audit('tt.bulk', excluded_columns => ARRAY['body']);
SELECT t.tgname FROM pg_trigger t WHERE t.tgrelid = 'tt.bulk'::regclass AND t.tgname LIKE '%truncate%';
SELECT pg_temp.err('TRUNCATE tt.bulk') AS still_refused;
BEGIN;
SET LOCAL saas.audit_enabled = off;
TRUNCATE tt.bulk;
SELECT count(*) AS truncated_with_audit_off FROM tt.bulk;
ROLLBACK;
SELECT saas.enable_audit('tt.bulk', on_truncate => 'record');
TRUNCATE tt.bulk;
SELECT old_values FROM pg_temp.truncations('tt.bulk') ORDER BY 1 DESC LIMIT 1;
-- A bad setting is a clear error.
SELECT pg_temp.err($$SELECT saas.enable_audit('tt.bulk', on_truncate => 'ignore')$$) AS bad_setting;

-- 5. disable_audit removes the TRUNCATE trigger with the others.
SELECT saas.disable_audit('tt.bulk');
SELECT count(*) AS audit_triggers_left FROM pg_trigger WHERE tgrelid = 'tt.bulk'::regclass AND tgname LIKE 'saas_audit%';
INSERT INTO tt.bulk (organization_id, body) VALUES (:A, 'unaudited');
SELECT count(*) AS before FROM pg_temp.truncations('tt.bulk') \gset
TRUNCATE tt.bulk;
SELECT count(*) - :before AS recorded_after_disable FROM pg_temp.truncations('tt.bulk');

-- 6. Rows without a tenant (written while auditing was off) cannot be
-- recorded: the TRUNCATE is refused, as a change of such a row would be.
CREATE TABLE tt.loose (organization_id uuid, id uuid DEFAULT saas.uuid_generate_v7());
SELECT saas.enable_audit('tt.loose');
BEGIN;
SET LOCAL saas.audit_enabled = off;
INSERT INTO tt.loose (organization_id) VALUES (NULL), (:A);
COMMIT;
SELECT pg_temp.err('TRUNCATE tt.loose') AS truncate_without_tenant;
SELECT count(*) AS rows_still_there FROM tt.loose;

-- 7. The trigger function refuses to run as anything else.
CREATE TABLE tt.wrong (organization_id uuid NOT NULL);
CREATE TRIGGER wrong AFTER TRUNCATE ON tt.wrong FOR EACH STATEMENT
    EXECUTE FUNCTION saas.audit_trigger('tt.wrong', 'organization_id');
SELECT pg_temp.err('TRUNCATE tt.wrong') AS after_truncate_trigger;

SET client_min_messages = warning;
DROP SCHEMA tt CASCADE;
DROP SCHEMA saas CASCADE;
RESET client_min_messages;
DROP OWNED BY regress_trunc_owner;
DROP ROLE regress_trunc_owner;
DROP OWNED BY regress_trunc_app;
DROP ROLE regress_trunc_app;
