-- Attacks on the audit trail and on updated_at, each made by the role that
-- could make it: the application role (saas.grant_app_access), a role with
-- no grants, and a table owner that is not a superuser.  Every attack here
-- succeeded against 0.4.0 (or, for statement mode, failed with XX000).
SET client_min_messages = warning;
DROP SCHEMA IF EXISTS saas CASCADE;
DROP SCHEMA IF EXISTS sec CASCADE;
CREATE EXTENSION saas_schema CASCADE;
DO $$
DECLARE
    r text;
BEGIN
    FOREACH r IN ARRAY ARRAY['regress_sec_app', 'regress_sec_nobody', 'regress_sec_owner', 'regress_sec_restorer', 'regress_sec_bypass'] LOOP
        IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r) THEN
            EXECUTE format('DROP OWNED BY %I', r);
            EXECUTE format('DROP ROLE %I', r);
        END IF;
    END LOOP;
END $$;
RESET client_min_messages;
CREATE ROLE regress_sec_app LOGIN NOSUPERUSER NOBYPASSRLS;
CREATE ROLE regress_sec_nobody LOGIN NOSUPERUSER NOBYPASSRLS;
CREATE ROLE regress_sec_owner LOGIN NOSUPERUSER NOBYPASSRLS;
CREATE ROLE regress_sec_bypass NOLOGIN NOSUPERUSER BYPASSRLS;
CREATE ROLE regress_sec_restorer LOGIN NOSUPERUSER NOBYPASSRLS;
SELECT saas.grant_app_access('regress_sec_app');
-- Defence in depth: whatever EXECUTE on saas.audit_trigger() is granted
-- (it may be revoked from PUBLIC), the trigger's own checks must hold.
GRANT EXECUTE ON FUNCTION saas.audit_trigger() TO regress_sec_app, regress_sec_owner;

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

-- Tenants A and B; users a1 (active) and a2 (deactivated) of A, b1 of B; a
-- task in each tenant.
INSERT INTO saas.organizations (id, name, slug) VALUES
    ('00000000-0000-7000-8000-00000000000a', 'Acme', 'acme'),
    ('00000000-0000-7000-8000-00000000000b', 'Beta', 'beta');
INSERT INTO saas.users (id, organization_id, email, password_hash, is_active) VALUES
    ('00000000-0000-7000-8000-0000000000a1', '00000000-0000-7000-8000-00000000000a', 'a1@acme.example', 'h', true),
    ('00000000-0000-7000-8000-0000000000a2', '00000000-0000-7000-8000-00000000000a', 'a2@acme.example', 'h', false),
    ('00000000-0000-7000-8000-0000000000b1', '00000000-0000-7000-8000-00000000000b', 'b1@beta.example', 'h', true);
INSERT INTO saas.projects (id, organization_id, name) VALUES
    ('00000000-0000-7000-8000-000000000fa0', '00000000-0000-7000-8000-00000000000a', 'PA'),
    ('00000000-0000-7000-8000-000000000fb0', '00000000-0000-7000-8000-00000000000b', 'PB');
INSERT INTO saas.tasks (id, organization_id, project_id, title) VALUES
    ('00000000-0000-7000-8000-0000000007a0', '00000000-0000-7000-8000-00000000000a', '00000000-0000-7000-8000-000000000fa0', 'task of A'),
    ('00000000-0000-7000-8000-0000000007b0', '00000000-0000-7000-8000-00000000000b', '00000000-0000-7000-8000-000000000fb0', 'task of B');
-- Names for the ids in the output.
CREATE FUNCTION pg_temp.who(u uuid) RETURNS text LANGUAGE sql AS $$
    SELECT CASE u WHEN '00000000-0000-7000-8000-0000000000a1' THEN 'a1'
                  WHEN '00000000-0000-7000-8000-0000000000a2' THEN 'a2'
                  WHEN '00000000-0000-7000-8000-0000000000b1' THEN 'b1'
                  ELSE u::text END
$$;

------------------------------------------------------------------------------
-- 1. Forged audit rows.  The trigger writes as the owner of saas.audit_logs
--    into the log of whatever tenant the row names, under the logical table
--    name of its first argument: that name must be the audited table's own
--    (or its partitioned parent's), and temporary tables are refused.
------------------------------------------------------------------------------
-- The application role attaches the trigger to a temporary table and
-- "inserts", "soft-deletes" and "deletes" tenant B's task.
SET ROLE regress_sec_app;
BEGIN;
SELECT saas.set_tenant('00000000-0000-7000-8000-00000000000a') IS NOT NULL AS tenant_a;
CREATE TEMP TABLE forged (id uuid, organization_id uuid, title text, deleted_at timestamptz);
INSERT INTO forged VALUES ('00000000-0000-7000-8000-0000000007b0', '00000000-0000-7000-8000-00000000000b', 'task of B', NULL);
CREATE TRIGGER forge AFTER INSERT OR UPDATE OR DELETE ON forged
    FOR EACH ROW EXECUTE FUNCTION saas.audit_trigger('saas.tasks', 'organization_id');
SELECT pg_temp.err($$INSERT INTO forged VALUES ('00000000-0000-7000-8000-0000000007b0', '00000000-0000-7000-8000-00000000000b', 'forged', NULL)$$);
SELECT pg_temp.err($$UPDATE forged SET deleted_at = now()$$);
SELECT pg_temp.err($$DELETE FROM forged$$);
-- Without arguments (the table's own name) a temporary table is refused too.
DROP TRIGGER forge ON forged;
CREATE TRIGGER forge AFTER INSERT ON forged FOR EACH ROW EXECUTE FUNCTION saas.audit_trigger();
SELECT pg_temp.err($$INSERT INTO forged VALUES (saas.uuid_generate_v7(), '00000000-0000-7000-8000-00000000000b', 'noise', NULL)$$);
-- Statement mode likewise.
DROP TRIGGER forge ON forged;
CREATE TRIGGER forge AFTER DELETE ON forged REFERENCING OLD TABLE AS gone
    FOR EACH STATEMENT EXECUTE FUNCTION saas.audit_trigger('saas.tasks', 'organization_id');
SELECT pg_temp.err($$DELETE FROM forged$$);
COMMIT;
RESET ROLE;

-- A role with no grants cannot even name the trigger function.
SET ROLE regress_sec_nobody;
CREATE TEMP TABLE nobody_forged (id uuid, organization_id uuid);
SELECT pg_temp.err($$CREATE TRIGGER forge AFTER INSERT ON nobody_forged FOR EACH ROW
                     EXECUTE FUNCTION saas.audit_trigger('saas.tasks', 'organization_id')$$);
RESET ROLE;

-- A table owner that is not a superuser, on a permanent table of its own.
CREATE SCHEMA sec AUTHORIZATION regress_sec_owner;
GRANT USAGE ON SCHEMA saas TO regress_sec_owner;
SET ROLE regress_sec_owner;
CREATE TABLE sec.notes (id uuid PRIMARY KEY, organization_id uuid NOT NULL, body text);
CREATE TRIGGER forge AFTER INSERT OR UPDATE OR DELETE ON sec.notes
    FOR EACH ROW EXECUTE FUNCTION saas.audit_trigger('saas.tasks', 'organization_id');
SELECT pg_temp.err($$INSERT INTO sec.notes VALUES ('00000000-0000-7000-8000-0000000007b0', '00000000-0000-7000-8000-00000000000b', 'forged')$$);
-- A name that looks like a Citus shard of saas.tasks is no shard without Citus.
CREATE TABLE sec.tasks_102104 (id uuid PRIMARY KEY, organization_id uuid NOT NULL);
CREATE TRIGGER forge AFTER INSERT ON sec.tasks_102104
    FOR EACH ROW EXECUTE FUNCTION saas.audit_trigger('sec.tasks', 'organization_id');
SELECT pg_temp.err($$INSERT INTO sec.tasks_102104 VALUES ('00000000-0000-7000-8000-0000000007b0', '00000000-0000-7000-8000-00000000000b')$$);
-- Its own name is what the trigger is for.
DROP TRIGGER forge ON sec.notes;
CREATE TRIGGER audit AFTER INSERT OR UPDATE OR DELETE ON sec.notes
    FOR EACH ROW EXECUTE FUNCTION saas.audit_trigger('sec.notes', 'organization_id');
SELECT pg_temp.err($$INSERT INTO sec.notes VALUES ('00000000-0000-7000-8000-00000000e001', '00000000-0000-7000-8000-00000000000a', 'mine')$$);
RESET ROLE;
-- A partition's rows carry its partitioned parent's name (the trigger is
-- cloned with the parent's arguments).
CREATE TABLE sec.parts (id uuid PRIMARY KEY, organization_id uuid NOT NULL, body text) PARTITION BY HASH (id);
CREATE TABLE sec.parts_0 PARTITION OF sec.parts FOR VALUES WITH (MODULUS 2, REMAINDER 0);
CREATE TABLE sec.parts_1 PARTITION OF sec.parts FOR VALUES WITH (MODULUS 2, REMAINDER 1);
SELECT saas.enable_audit('sec.parts');
INSERT INTO sec.parts SELECT ('00000000-0000-7000-8000-00000000f00' || g)::uuid, '00000000-0000-7000-8000-00000000000a', 'p' FROM generate_series(1, 4) g;
-- The rename of an audited table is refused when typed (below).  Behind
-- that, with the event trigger that refuses it switched off, the trigger
-- itself refuses to record under a stale name until enable_audit runs again.
ALTER EVENT TRIGGER saas_schema_ddl_command_start DISABLE;
ALTER TABLE sec.parts RENAME TO parts_renamed;
ALTER EVENT TRIGGER saas_schema_ddl_command_start ENABLE ALWAYS;
SELECT pg_temp.err($$UPDATE sec.parts_renamed SET body = 'q'$$);
SELECT saas.enable_audit('sec.parts_renamed');
UPDATE sec.parts_renamed SET body = 'q';

-- What the log holds: tenant B's task has only its own INSERT, and
-- record_as_of still sees it.
SELECT table_name, action, count(*) FROM saas.audit_logs
 WHERE organization_id = '00000000-0000-7000-8000-00000000000b'
 GROUP BY 1, 2 ORDER BY 1, 2;
SELECT saas.record_as_of('saas.tasks', '00000000-0000-7000-8000-0000000007b0', clock_timestamp())->>'title' AS task_b_as_of_now;
SELECT table_name, action, count(*) FROM saas.audit_logs
 WHERE table_name LIKE 'sec.%' GROUP BY 1, 2 ORDER BY 1, 2;

------------------------------------------------------------------------------
-- 2. Spoofed actor.  app.current_user_id and app.request_metadata are
--    ordinary settings; the actor is recorded (and current_actor_id()
--    returns it) only when saas.set_actor() would accept it: an active user
--    of the current tenant.  Otherwise user_id is NULL and metadata {}.
------------------------------------------------------------------------------
SET ROLE regress_sec_app;
BEGIN;
SELECT saas.set_tenant('00000000-0000-7000-8000-00000000000a') IS NOT NULL AS tenant_a;
-- Tenant B's user, with made-up metadata, set by hand.
SELECT set_config('app.current_user_id', '00000000-0000-7000-8000-0000000000b1', true) IS NOT NULL AS spoofed,
       set_config('app.request_metadata', '{"ip": "forged"}', true) IS NOT NULL AS forged_metadata;
SELECT saas.current_actor_id() AS actor_b1_in_tenant_a;
UPDATE saas.tasks SET title = 'spoof: user of B' WHERE id = '00000000-0000-7000-8000-0000000007a0';
-- A deactivated user of the tenant.
SELECT set_config('app.current_user_id', '00000000-0000-7000-8000-0000000000a2', true) IS NOT NULL AS spoofed;
SELECT saas.current_actor_id() AS actor_a2_deactivated;
UPDATE saas.tasks SET title = 'spoof: deactivated user' WHERE id = '00000000-0000-7000-8000-0000000007a0';
-- set_actor, then the setting changed by hand behind its back.
SELECT pg_temp.who(saas.set_actor('00000000-0000-7000-8000-0000000000a1', '{"ip": "192.0.2.1"}')) AS set_actor;
SELECT pg_temp.who(saas.current_actor_id()) AS checked_actor;
UPDATE saas.tasks SET title = 'set_actor a1' WHERE id = '00000000-0000-7000-8000-0000000007a0';
SELECT set_config('app.current_user_id', '00000000-0000-7000-8000-0000000000b1', true) IS NOT NULL AS spoofed;
SELECT saas.current_actor_id() AS actor_b1_after_set_actor;
UPDATE saas.tasks SET title = 'spoof: after set_actor' WHERE id = '00000000-0000-7000-8000-0000000007a0';
-- Back to a1 by hand: a1 is what set_actor accepts, so it is recorded.
SELECT set_config('app.current_user_id', '00000000-0000-7000-8000-0000000000a1', true) IS NOT NULL AS by_hand;
SELECT pg_temp.who(saas.current_actor_id()) AS actor_a1_by_hand;
UPDATE saas.tasks SET title = 'a1 by hand' WHERE id = '00000000-0000-7000-8000-0000000007a0';
-- Switching the tenant: a1 is no actor of tenant B.
SELECT saas.set_tenant('00000000-0000-7000-8000-00000000000b') IS NOT NULL AS tenant_b;
SELECT set_config('app.current_user_id', '00000000-0000-7000-8000-0000000000a1', true) IS NOT NULL AS spoofed;
SELECT saas.current_actor_id() AS actor_a1_in_tenant_b;
UPDATE saas.tasks SET title = 'spoof: user of A' WHERE id = '00000000-0000-7000-8000-0000000007b0';
-- Only set_actor may certify an actor.
SELECT pg_temp.err($$SELECT saas._certify_actor()$$);
COMMIT;
RESET ROLE;
GRANT EXECUTE ON FUNCTION saas._certify_actor() TO regress_sec_app;
SET ROLE regress_sec_app;
BEGIN;
SELECT saas.set_tenant('00000000-0000-7000-8000-00000000000b') IS NOT NULL AS tenant_b;
SELECT set_config('app.current_user_id', '00000000-0000-7000-8000-0000000000a1', true) IS NOT NULL AS spoofed;
SELECT pg_temp.err($$SELECT saas._certify_actor()$$);
SELECT saas.current_actor_id() AS actor_after_certify_attempt;
UPDATE saas.tasks SET title = 'spoof: certified by hand' WHERE id = '00000000-0000-7000-8000-0000000007b0';
COMMIT;
RESET ROLE;
REVOKE EXECUTE ON FUNCTION saas._certify_actor() FROM regress_sec_app;
-- Statement mode reads the actor the same way.
SELECT saas.enable_audit('saas.projects', mode => 'statement');
SET ROLE regress_sec_app;
BEGIN;
SELECT saas.set_tenant('00000000-0000-7000-8000-00000000000a') IS NOT NULL AS tenant_a;
SELECT set_config('app.current_user_id', '00000000-0000-7000-8000-0000000000b1', true) IS NOT NULL AS spoofed,
       set_config('app.request_metadata', '{"ip": "forged"}', true) IS NOT NULL AS forged_metadata;
UPDATE saas.projects SET name = 'spoof: statement mode';
SELECT saas.set_actor('00000000-0000-7000-8000-0000000000a1', '{"ip": "192.0.2.1"}') IS NOT NULL AS set_actor;
UPDATE saas.projects SET name = 'statement mode a1';
COMMIT;
RESET ROLE;
SELECT saas.enable_audit('saas.projects');

SELECT table_name, new_values->>COALESCE(NULLIF(changed_columns[1], 'updated_at'), 'name') AS change,
       pg_temp.who(user_id) AS user_id, metadata
  FROM saas.audit_logs
 WHERE table_name IN ('saas.tasks', 'saas.projects') AND action = 'UPDATE'
 ORDER BY created_at, id;

------------------------------------------------------------------------------
-- 3. Auditing silenced by the caller.  A session with row_security = off
--    skips auditing (a restore) only when the session user -- or the role
--    it SET ROLE to -- bypasses row-level security, not when a SECURITY
--    DEFINER function's owner does.
------------------------------------------------------------------------------
CREATE FUNCTION sec.definer_rename(task uuid, new_title text) RETURNS void
    LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog
    AS $$ UPDATE saas.tasks SET title = new_title WHERE id = task $$;
ALTER FUNCTION sec.definer_rename(uuid, text) OWNER TO CURRENT_USER;  -- a superuser
CREATE FUNCTION sec.bypass_rename(task uuid, new_title text) RETURNS void
    LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog
    AS $$ UPDATE saas.tasks SET title = new_title WHERE id = task $$;
GRANT USAGE ON SCHEMA saas, sec TO regress_sec_bypass;
GRANT SELECT, UPDATE ON saas.tasks TO regress_sec_bypass;
ALTER FUNCTION sec.bypass_rename(uuid, text) OWNER TO regress_sec_bypass;
GRANT USAGE ON SCHEMA sec TO regress_sec_app;
GRANT EXECUTE ON FUNCTION sec.definer_rename(uuid, text), sec.bypass_rename(uuid, text) TO regress_sec_app;
-- A login that may SET ROLE to the BYPASSRLS role (as pg_restore --role does).
GRANT regress_sec_bypass TO regress_sec_restorer;
-- The session user must be the application role itself (SET ROLE would
-- leave this superuser session's user in place).
SET SESSION AUTHORIZATION regress_sec_app;
SET row_security = off;
BEGIN;
SELECT saas.set_tenant('00000000-0000-7000-8000-00000000000a') IS NOT NULL AS tenant_a;
SELECT sec.definer_rename('00000000-0000-7000-8000-0000000007a0', 'renamed by a superuser''s definer');
SELECT sec.bypass_rename('00000000-0000-7000-8000-0000000007a0', 'renamed by a BYPASSRLS definer');
-- Directly, RLS still refuses the statement in this mode.
SELECT pg_temp.err($$UPDATE saas.tasks SET title = 'direct' WHERE id = '00000000-0000-7000-8000-0000000007a0'$$);
COMMIT;
RESET row_security;
RESET SESSION AUTHORIZATION;
-- A superuser session with row_security = off, as pg_restore runs, is not
-- audited; nor one that SET ROLE to a BYPASSRLS role (pg_restore --role).
SET row_security = off;
UPDATE saas.tasks SET title = 'restore-like' WHERE id = '00000000-0000-7000-8000-0000000007a0';
RESET row_security;
SET SESSION AUTHORIZATION regress_sec_restorer;
SET row_security = off;
SET ROLE regress_sec_bypass;
UPDATE saas.tasks SET title = 'restore-like, SET ROLE' WHERE id = '00000000-0000-7000-8000-0000000007a0';
RESET ROLE;
-- ...but the same login without SET ROLE, through the BYPASSRLS role's
-- SECURITY DEFINER function, is audited.
SELECT sec.bypass_rename('00000000-0000-7000-8000-0000000007a0', 'member, through the definer');
RESET row_security;
RESET SESSION AUTHORIZATION;
SELECT t.title, count(a.id) AS audit_rows
  FROM (VALUES ('renamed by a superuser''s definer'), ('renamed by a BYPASSRLS definer'),
               ('restore-like'), ('restore-like, SET ROLE'), ('member, through the definer')) AS t(title)
  LEFT JOIN saas.audit_logs a ON a.record_id = '00000000-0000-7000-8000-0000000007a0'
                             AND a.new_values->>'title' = t.title
 GROUP BY 1 ORDER BY 1;

------------------------------------------------------------------------------
-- 4. Password changes leave a trace: an UPDATE of an excluded column alone
--    is recorded, by name in changed_columns, never by value.
------------------------------------------------------------------------------
SET ROLE regress_sec_app;
BEGIN;
SELECT saas.set_tenant('00000000-0000-7000-8000-00000000000a') IS NOT NULL AS tenant_a;
SELECT saas.set_actor('00000000-0000-7000-8000-0000000000a1') IS NOT NULL AS set_actor;
UPDATE saas.users SET password_hash = 'new-secret-hash' WHERE id = '00000000-0000-7000-8000-0000000000a1';
COMMIT;
RESET ROLE;
CREATE FUNCTION pg_temp.keys(j jsonb) RETURNS text[] LANGUAGE sql AS $$
    SELECT array_agg(k ORDER BY k) FROM jsonb_object_keys(j) k
$$;
SELECT action, changed_columns, pg_temp.keys(old_values) AS old_keys, pg_temp.keys(new_values) AS new_keys,
       pg_temp.who(user_id) AS user_id,
       (old_values::text || new_values::text) LIKE '%secret%' AS leaks_hash
  FROM saas.audit_logs
 WHERE table_name = 'saas.users' AND record_id = '00000000-0000-7000-8000-0000000000a1' AND action <> 'INSERT';
-- Any excluded column of any table, without updated_at: old and new values
-- are empty objects.  Row and statement mode, direct and SPI insert paths.
CREATE TABLE sec.accounts (id uuid PRIMARY KEY, organization_id uuid NOT NULL, name text, api_token text);
INSERT INTO sec.accounts VALUES ('00000000-0000-7000-8000-00000000ac01', '00000000-0000-7000-8000-00000000000a', 'acct', 't0');
CREATE FUNCTION sec.noop() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NULL; END $$;
CREATE FUNCTION pg_temp.token_round(mode text, spi boolean, token text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    PERFORM saas.enable_audit('sec.accounts', '{api_token}', mode);
    IF spi THEN  -- an INSERT trigger on audit_logs sends audit rows through SPI
        CREATE TRIGGER sec_force_spi AFTER INSERT ON saas.audit_logs FOR EACH ROW EXECUTE FUNCTION sec.noop();
    END IF;
    UPDATE sec.accounts SET api_token = token;
    IF spi THEN
        DROP TRIGGER sec_force_spi ON saas.audit_logs;
    END IF;
END
$$;
SELECT pg_temp.token_round('row', false, 't1'), pg_temp.token_round('statement', false, 't2'),
       pg_temp.token_round('row', true, 't3'), pg_temp.token_round('statement', true, 't4');
SELECT action, changed_columns, old_values, new_values FROM saas.audit_logs
 WHERE table_name = 'sec.accounts' ORDER BY created_at, id;

------------------------------------------------------------------------------
-- 5. Statement mode and a cross-partition UPDATE whose row a BEFORE INSERT
--    trigger of the target partition discards: PostgreSQL deletes the row
--    from its old partition and inserts nothing.  The old and new transition
--    tables then differ in length; rows are paired by id, and the discarded
--    row is recorded as what happened to it: a DELETE.
------------------------------------------------------------------------------
CREATE TABLE sec.events (id uuid NOT NULL, organization_id uuid NOT NULL, kind text NOT NULL, note text)
    PARTITION BY LIST (kind);
CREATE TABLE sec.events_a PARTITION OF sec.events FOR VALUES IN ('a');
CREATE TABLE sec.events_b PARTITION OF sec.events FOR VALUES IN ('b');
SELECT saas.enable_audit('sec.events', mode => 'statement');
INSERT INTO sec.events VALUES
    ('00000000-0000-7000-8000-00000000e0e1', '00000000-0000-7000-8000-00000000000a', 'a', 'one'),
    ('00000000-0000-7000-8000-00000000e0e2', '00000000-0000-7000-8000-00000000000a', 'a', 'two'),
    ('00000000-0000-7000-8000-00000000e0e3', '00000000-0000-7000-8000-00000000000a', 'b', 'three');
CREATE TRIGGER discard BEFORE INSERT ON sec.events_b FOR EACH ROW EXECUTE FUNCTION sec.noop();
UPDATE sec.events SET note = note || '!',
                      kind = CASE WHEN id = '00000000-0000-7000-8000-00000000e0e1' THEN 'b' ELSE kind END;
SELECT id, kind, note FROM sec.events ORDER BY id;
SELECT record_id, action, old_values, new_values FROM saas.audit_logs
 WHERE table_name = 'sec.events' AND action <> 'INSERT' ORDER BY created_at, id;
-- A table without an id cannot pair rows: every old row is recorded as a
-- DELETE and every new one as an INSERT.
CREATE TABLE sec.pairs (organization_id uuid NOT NULL, kind text NOT NULL, note text) PARTITION BY LIST (kind);
CREATE TABLE sec.pairs_a PARTITION OF sec.pairs FOR VALUES IN ('a');
CREATE TABLE sec.pairs_b PARTITION OF sec.pairs FOR VALUES IN ('b');
CREATE TRIGGER discard BEFORE INSERT ON sec.pairs_b FOR EACH ROW EXECUTE FUNCTION sec.noop();
SELECT saas.enable_audit('sec.pairs', mode => 'statement');
INSERT INTO sec.pairs VALUES ('00000000-0000-7000-8000-00000000000a', 'a', 'x'), ('00000000-0000-7000-8000-00000000000a', 'a', 'y');
UPDATE sec.pairs SET kind = CASE WHEN note = 'x' THEN 'b' ELSE kind END, note = note || '!';
SELECT action, old_values, new_values FROM saas.audit_logs
 WHERE table_name = 'sec.pairs' ORDER BY created_at, id;
-- Row mode records the same: the move fires the DELETE trigger of the old
-- partition and no INSERT trigger.
SELECT saas.enable_audit('sec.events');
UPDATE sec.events SET kind = 'b' WHERE id = '00000000-0000-7000-8000-00000000e0e2';
SELECT record_id, action FROM saas.audit_logs
 WHERE table_name = 'sec.events' AND record_id = '00000000-0000-7000-8000-00000000e0e2' ORDER BY created_at, id;

------------------------------------------------------------------------------
-- 6. updated_at = 'infinity' does not pin the stamp: "never backwards"
--    applies to finite stamps only.
------------------------------------------------------------------------------
SET ROLE regress_sec_app;
BEGIN;
SELECT saas.set_tenant('00000000-0000-7000-8000-00000000000a') IS NOT NULL AS tenant_a;
INSERT INTO saas.tasks (id, organization_id, project_id, title, updated_at) VALUES
    ('00000000-0000-7000-8000-0000000007a1', '00000000-0000-7000-8000-00000000000a', '00000000-0000-7000-8000-000000000fa0', 'pinned?', 'infinity'),
    ('00000000-0000-7000-8000-0000000007a2', '00000000-0000-7000-8000-00000000000a', '00000000-0000-7000-8000-000000000fa0', 'pinned?', '-infinity');
SELECT title, updated_at FROM saas.tasks WHERE id IN ('00000000-0000-7000-8000-0000000007a1', '00000000-0000-7000-8000-0000000007a2') ORDER BY id;
COMMIT;
BEGIN;
SELECT saas.set_tenant('00000000-0000-7000-8000-00000000000a') IS NOT NULL AS tenant_a;
UPDATE saas.tasks SET title = 'changed' WHERE id IN ('00000000-0000-7000-8000-0000000007a1', '00000000-0000-7000-8000-0000000007a2');
SELECT id, updated_at = now() AS stamped_now FROM saas.tasks
 WHERE id IN ('00000000-0000-7000-8000-0000000007a1', '00000000-0000-7000-8000-0000000007a2') ORDER BY id;
COMMIT;
RESET ROLE;
-- The same for a timestamp without time zone column.
CREATE TABLE sec.stamped (id int PRIMARY KEY, v int, updated_at timestamp);
SELECT saas.enable_updated_at('sec.stamped');
INSERT INTO sec.stamped VALUES (1, 0, 'infinity');
BEGIN;
UPDATE sec.stamped SET v = 1;
SELECT id, updated_at = now()::timestamp AS stamped_now FROM sec.stamped;
COMMIT;

-- Renaming or moving an audited table, or renaming a column its audit
-- trigger names, is refused when typed (afterwards every write would be
-- refused, or an excluded column recorded), by its owner as by a superuser.
CREATE TABLE sec.renamed (id uuid PRIMARY KEY, organization_id uuid NOT NULL, secret text, note text);
SELECT saas.enable_audit('sec.renamed', ARRAY['secret']);
ALTER TABLE sec.renamed OWNER TO regress_sec_owner;
SET ROLE regress_sec_owner;
SELECT pg_temp.err('ALTER TABLE sec.renamed RENAME TO renamed2') AS rename_table;
SELECT pg_temp.err('ALTER TABLE sec.renamed RENAME COLUMN secret TO secret2') AS rename_excluded_column;
SELECT pg_temp.err('ALTER TABLE sec.renamed RENAME COLUMN organization_id TO org') AS rename_tenant_column;
SELECT pg_temp.err('ALTER TABLE sec.renamed RENAME COLUMN note TO remark') AS rename_other_column;
RESET ROLE;
SELECT pg_temp.err('ALTER TABLE sec.renamed SET SCHEMA public') AS move_table;
-- A partition of an audited table may be renamed: its trigger is a clone
-- naming the parent.
SELECT pg_temp.err('ALTER TABLE sec.parts_1 RENAME TO parts_one') AS rename_partition;
ALTER TABLE sec.parts_one RENAME TO parts_1;
-- The way the hint gives.
SELECT saas.disable_audit('sec.renamed');
ALTER TABLE sec.renamed RENAME TO renamed2;
SELECT saas.enable_audit('sec.renamed2', ARRAY['secret']);
INSERT INTO sec.renamed2 VALUES ('00000000-0000-7000-8000-0000000009a1', '00000000-0000-7000-8000-00000000000a', 's', 'n');
SELECT table_name, new_values ? 'secret' AS secret_recorded FROM saas.audit_logs
 WHERE record_id = '00000000-0000-7000-8000-0000000009a1';

-- Clean up.
SET client_min_messages = warning;
DROP SCHEMA sec CASCADE;
DROP SCHEMA saas CASCADE;
DROP OWNED BY regress_sec_app, regress_sec_nobody, regress_sec_owner, regress_sec_restorer, regress_sec_bypass;
DROP ROLE regress_sec_app, regress_sec_nobody, regress_sec_owner, regress_sec_restorer, regress_sec_bypass;
