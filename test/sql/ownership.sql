-- The tables are the DBA's; what pg_dump would lose is refused when it is
-- typed; saas.lint() reports what an older install (or a superuser who
-- switched the guard off) left behind, with fixes that work.  The dump and
-- restore paths themselves are tested on real clusters (test/t/130_ownership.pl).
SET client_min_messages = warning;
DROP SCHEMA IF EXISTS saas CASCADE;
DROP SCHEMA IF EXISTS own CASCADE;
DROP ROLE IF EXISTS regress_own_owner;
CREATE EXTENSION saas_schema CASCADE;
RESET client_min_messages;
CREATE ROLE regress_own_owner;

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

-- What belongs to the extension: its functions and its event trigger; the
-- tables, views and the type do not.
SELECT d.classid::regclass AS kind, count(*)
  FROM pg_depend d JOIN pg_extension e ON e.oid = d.refobjid
 WHERE e.extname = 'saas_schema' AND d.deptype = 'e'
 GROUP BY 1 ORDER BY 1;
SELECT e.extconfig FROM pg_extension e WHERE e.extname = 'saas_schema';

-- Plain DDL on the shipped tables works right away.
SELECT pg_temp.err($$ALTER TABLE saas.tasks ADD COLUMN estimate_hours integer NOT NULL DEFAULT 1$$);
SELECT pg_temp.err($$CREATE INDEX idx_tasks_estimate_hours ON saas.tasks (organization_id, estimate_hours)$$);
SELECT pg_temp.err($$ALTER TABLE saas.tasks RENAME COLUMN description TO details$$);
SELECT pg_temp.err($$COMMENT ON TABLE saas.tasks IS 'Our tasks.'$$);
SELECT pg_temp.err($$CREATE FUNCTION saas.my_helper() RETURNS integer LANGUAGE sql AS 'SELECT 1'$$);
SELECT pg_temp.err($$GRANT EXECUTE ON FUNCTION saas.lint(name) TO regress_own_owner$$);

-- Refused when typed: changes to the extension's own functions, which pg_dump
-- never dumps (a restore would bring back the shipped ones)...
SELECT pg_temp.err($$CREATE OR REPLACE FUNCTION saas.current_actor_id() RETURNS uuid LANGUAGE sql AS 'SELECT NULL::uuid'$$);
SELECT pg_temp.err($$CREATE FUNCTION saas.set_tenant(org integer) RETURNS integer LANGUAGE sql AS 'SELECT 1'$$);
SELECT pg_temp.err($$ALTER FUNCTION saas.set_tenant(uuid) SET work_mem = '1MB'$$);
SELECT pg_temp.err($$ALTER FUNCTION saas.set_tenant(uuid) RENAME TO choose_tenant$$);
SELECT pg_temp.err($$ALTER FUNCTION saas.set_tenant(uuid) OWNER TO regress_own_owner$$);
SELECT pg_temp.err($$ALTER FUNCTION saas.set_tenant(uuid) SET SCHEMA public$$);
SELECT pg_temp.err($$ALTER PROCEDURE saas.set_not_null_safely(regclass, name, interval) SET work_mem = '1MB'$$);
SELECT pg_temp.err($$COMMENT ON FUNCTION saas.set_tenant(uuid) IS 'ours now'$$);
-- ...changes to what belongs to the extension...
CREATE SCHEMA own;
CREATE TABLE own.things (id integer PRIMARY KEY);
SELECT pg_temp.err($$ALTER EXTENSION saas_schema ADD TABLE own.things$$);
SELECT pg_temp.err($$ALTER EXTENSION saas_schema DROP FUNCTION saas.lint(name)$$);
-- ...and reshaping what the extension's code uses by name.
SELECT pg_temp.err($$ALTER TABLE saas.audit_logs DROP COLUMN metadata$$);
SELECT pg_temp.err($$ALTER TABLE saas.audit_logs ALTER COLUMN action TYPE varchar(20)$$);
SELECT pg_temp.err($$ALTER TABLE saas.users RENAME COLUMN is_active TO active$$);
SELECT pg_temp.err($$ALTER TABLE saas.organizations RENAME TO tenants$$);
SELECT pg_temp.err($$ALTER TABLE saas.tickets SET SCHEMA own$$);
SELECT pg_temp.err($$ALTER SCHEMA saas RENAME TO crm$$);

-- A table of a shipped name is an ordinary error in an ordinary session,
-- also in the session that created the extension.  (Only a restore session
-- -- check_function_bodies and row_security off, as pg_dump and pg_restore
-- set them -- replaces the untouched tables CREATE EXTENSION made in it.)
SELECT pg_temp.err($$CREATE TABLE saas.projects (id integer)$$);
-- Nor once the tables hold rows, even with a restore's settings.
INSERT INTO saas.organizations (name, slug) VALUES ('Acme', 'acme');
SET check_function_bodies = off;
SET row_security = off;
SELECT pg_temp.err($$CREATE TABLE saas.projects (id integer)$$);
RESET check_function_bodies;
RESET row_security;
SELECT count(*) AS organizations_kept FROM saas.organizations;

-- What an older install (or a superuser who switched the guard off) may
-- hold: saas.lint() reports each, and its fix puts it right.
ALTER EVENT TRIGGER saas_schema_ddl_command_start DISABLE;
CREATE OR REPLACE FUNCTION saas.current_actor_id() RETURNS uuid LANGUAGE sql AS 'SELECT NULL::uuid';
COMMENT ON FUNCTION saas.set_tenant(uuid) IS 'ours now';
ALTER FUNCTION saas.uuid_v7_lower_bound(timestamptz) OWNER TO regress_own_owner;
ALTER EXTENSION saas_schema DROP FUNCTION saas.audit_trail(timestamptz, text[]);
ALTER EXTENSION saas_schema ADD TABLE own.things;
SELECT severity, rule, object, fix FROM saas.lint()
 WHERE rule LIKE 'extension%' ORDER BY rule, object;
-- Applying the fixes (as lint gives them) leaves nothing to report.
DO $$
DECLARE
    f record;
BEGIN
    FOR f IN SELECT * FROM saas.lint() WHERE rule LIKE 'extension%' ORDER BY rule DESC, object LOOP
        EXECUTE f.fix;
    END LOOP;
END
$$;
SELECT count(*) AS extension_findings_left FROM saas.lint() WHERE rule LIKE 'extension%';
-- The repaired function is the shipped one again, and works.
SELECT saas._function_definition('saas.current_actor_id()') = definition AS as_shipped
  FROM saas._shipped_functions() WHERE function_identity = 'saas.current_actor_id()';
BEGIN;
SELECT saas.set_tenant(id) IS NOT NULL AS tenant_set FROM saas.organizations WHERE slug = 'acme';
COMMIT;
-- The guard is back on.
SELECT pg_temp.err($$COMMENT ON FUNCTION saas.set_tenant(uuid) IS 'ours again'$$);

-- The repair takes only the extension's own functions, and is for
-- administrators.
SELECT pg_temp.err($$SELECT saas.repair_extension_member('saas.my_helper()')$$);
SELECT pg_temp.err($$SELECT saas.repair_extension_member(NULL)$$);
GRANT USAGE ON SCHEMA saas TO regress_own_owner;
SET ROLE regress_own_owner;
SELECT pg_temp.err($$SELECT saas.repair_extension_member('saas.lint(name)')$$);
RESET ROLE;

SELECT count(*) AS personal_labels FROM pg_seclabel WHERE provider = 'saas_schema';
-- DROP EXTENSION keeps every row: without CASCADE it refuses...
SELECT pg_temp.err($$DROP EXTENSION saas_schema$$);
SET client_min_messages = warning;
DROP EXTENSION saas_schema CASCADE;
RESET client_min_messages;
-- ...and with CASCADE it removes the defaults, triggers and policies that
-- used its functions, never a table or a row.
SELECT count(*) AS organizations_kept FROM saas.organizations;
SELECT count(*) AS tables_kept FROM pg_class WHERE relnamespace = 'saas'::regnamespace AND relkind IN ('r', 'p');
-- The personal-column declarations (security labels of the extension's
-- provider) go with it: without its library no restore could set them.
SELECT count(*) AS personal_labels_left FROM pg_seclabel WHERE provider = 'saas_schema';
-- Creating it again over the kept tables is refused up front.
SELECT pg_temp.err($$CREATE EXTENSION saas_schema$$);
-- Losing the data takes the explicit command.
SET client_min_messages = warning;
DROP SCHEMA saas CASCADE;
DROP SCHEMA own CASCADE;
RESET client_min_messages;
DROP OWNED BY regress_own_owner;
DROP ROLE regress_own_owner;
