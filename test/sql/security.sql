-- Security: what a hostile role tries, run as that role, and what stops it
-- (docs/security.md lists each claim with the test that proves it).  The
-- roles: the application role (saas.grant_app_access), a role with nothing
-- but CONNECT, a non-superuser owner of tables in its own schema, a role
-- that may create objects in schema public (as in clusters upgraded from
-- PostgreSQL 14), and a role granted SELECT on one audit partition.
SET client_min_messages = warning;
DROP SCHEMA IF EXISTS saas CASCADE;
DROP SCHEMA IF EXISTS sec CASCADE;
DROP SCHEMA IF EXISTS sec_owner CASCADE;
DROP EXTENSION IF EXISTS dblink;
DO $$
DECLARE
    r text;
BEGIN
    FOREACH r IN ARRAY ARRAY['regress_sec_app', 'regress_sec_nobody', 'regress_sec_owner',
                             'regress_sec_planter', 'regress_sec_reader', 'regress_sec_clerk'] LOOP
        IF EXISTS (SELECT FROM pg_roles WHERE rolname = r) THEN
            EXECUTE format('DROP OWNED BY %I', r);
            EXECUTE format('DROP ROLE %I', r);
        END IF;
    END LOOP;
END
$$;
CREATE EXTENSION saas_schema CASCADE;
CREATE EXTENSION dblink;
RESET client_min_messages;

-- Runs a statement and shows its error as SQLSTATE: message [hint].  Every
-- name in it is qualified, and it has no SET clause: it runs the statement
-- under the caller's search_path, also the hostile one below.
CREATE FUNCTION pg_temp.err(stmt pg_catalog.text) RETURNS pg_catalog.text LANGUAGE plpgsql AS $$
DECLARE
    state pg_catalog.text; msg pg_catalog.text; hnt pg_catalog.text;
BEGIN
    EXECUTE stmt;
    RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, msg = MESSAGE_TEXT, hnt = PG_EXCEPTION_HINT;
    RETURN pg_catalog.concat(state, ': ', msg,
                             CASE WHEN hnt OPERATOR(pg_catalog.<>) '' THEN pg_catalog.concat(' [', hnt, ']') END);
END
$$;

CREATE ROLE regress_sec_app LOGIN;
SELECT saas.grant_app_access('regress_sec_app');
CREATE ROLE regress_sec_nobody LOGIN;      -- CONNECT (as PUBLIC has it), nothing else
CREATE ROLE regress_sec_owner;             -- owns schema sec_owner; may use saas' helpers
CREATE SCHEMA sec_owner AUTHORIZATION regress_sec_owner;
GRANT USAGE ON SCHEMA saas TO regress_sec_owner;
CREATE SCHEMA sec;

-- Two tenants: the victim V and the attacker's own W.
INSERT INTO saas.organizations (id, name, slug) VALUES
    ('00000000-0000-7000-8000-0000000000a1', 'Victim', 'victim'),
    ('00000000-0000-7000-8000-0000000000a2', 'Attacker', 'attacker');
INSERT INTO saas.users (id, organization_id, email, password_hash) VALUES
    ('00000000-0000-7000-8000-0000000000b1', '00000000-0000-7000-8000-0000000000a1', 'v@victim.example', 'h'),
    ('00000000-0000-7000-8000-0000000000b2', '00000000-0000-7000-8000-0000000000a2', 'w@attacker.example', 'h');
INSERT INTO saas.projects (id, organization_id, name) VALUES
    ('00000000-0000-7000-8000-0000000000c1', '00000000-0000-7000-8000-0000000000a1', 'Victim project');
INSERT INTO saas.tasks (id, organization_id, project_id, title) VALUES
    ('00000000-0000-7000-8000-0000000000d1', '00000000-0000-7000-8000-0000000000a1',
     '00000000-0000-7000-8000-0000000000c1', 'genuine');

-- =====================================================================
-- Forged audit rows.  Creating a trigger that runs saas.audit_trigger() --
-- which writes saas.audit_logs as its owner -- needs EXECUTE on it, and
-- PUBLIC does not have it.  PostgreSQL checks that privilege when a trigger
-- is created, not when it fires: the application's changes are audited as
-- before.
-- =====================================================================
SELECT has_function_privilege('regress_sec_app', 'saas.audit_trigger()', 'EXECUTE') AS app_may_attach,
       has_function_privilege('regress_sec_owner', 'saas.audit_trigger()', 'EXECUTE') AS owner_may_attach;

SET ROLE regress_sec_app;
BEGIN;
SELECT saas.set_tenant('00000000-0000-7000-8000-0000000000a1') IS NOT NULL AS tenant_set;
UPDATE saas.tasks SET title = 'renamed by the application' WHERE id = '00000000-0000-7000-8000-0000000000d1';
COMMIT;
-- The attack: a temporary table shaped like saas.tasks, with the audit
-- trigger posing as saas.tasks, fed the victim's ids.
CREATE TEMP TABLE forge (id uuid, organization_id uuid, title text, deleted_at timestamptz);
SELECT pg_temp.err($$CREATE TRIGGER forge_audit AFTER INSERT OR UPDATE OR DELETE ON forge
    FOR EACH ROW EXECUTE FUNCTION saas.audit_trigger('saas.tasks', 'organization_id')$$);
SELECT pg_temp.err($$CREATE TRIGGER forge_audit_stmt AFTER INSERT ON forge REFERENCING NEW TABLE AS n
    FOR EACH STATEMENT EXECUTE FUNCTION saas.audit_trigger('saas.tasks', 'organization_id')$$);
INSERT INTO forge VALUES ('00000000-0000-7000-8000-0000000000d1', '00000000-0000-7000-8000-0000000000a1', 'forged', NULL);
UPDATE forge SET deleted_at = now();
DELETE FROM forge;
RESET ROLE;
-- The victim's task has its two genuine audit rows only, and its history
-- answers with the genuine title.
SELECT action, new_values->>'title' AS title FROM saas.audit_logs
 WHERE record_id = '00000000-0000-7000-8000-0000000000d1' ORDER BY created_at, id;
SELECT saas.record_as_of('saas.tasks', '00000000-0000-7000-8000-0000000000d1', now())->>'title' AS title_as_of_now;

-- A non-superuser table owner, through enable_audit with any uuid column as
-- the tenant column, or directly.
SET ROLE regress_sec_owner;
CREATE TABLE sec_owner.ledger (id uuid PRIMARY KEY, organization_id uuid NOT NULL, victim uuid);
SELECT pg_temp.err($$SELECT saas.enable_audit('sec_owner.ledger', tenant_column => 'victim')$$);
SELECT pg_temp.err($$CREATE TRIGGER ledger_audit AFTER INSERT ON sec_owner.ledger
    FOR EACH ROW EXECUTE FUNCTION saas.audit_trigger('sec_owner.ledger', 'victim')$$);
INSERT INTO sec_owner.ledger VALUES ('00000000-0000-7000-8000-0000000000e1',
    '00000000-0000-7000-8000-0000000000a2', '00000000-0000-7000-8000-0000000000a1');
RESET ROLE;
SELECT count(*) AS victim_rows_from_ledger FROM saas.audit_logs
 WHERE organization_id = '00000000-0000-7000-8000-0000000000a1' AND table_name = 'sec_owner.ledger';

-- A role the DBA trusts with the audit log gets the privilege and audits its
-- own tables (every row it writes is then trusted).
GRANT EXECUTE ON FUNCTION saas.audit_trigger() TO regress_sec_owner;
SET ROLE regress_sec_owner;
SELECT saas.enable_audit('sec_owner.ledger');
INSERT INTO sec_owner.ledger VALUES ('00000000-0000-7000-8000-0000000000e2',
    '00000000-0000-7000-8000-0000000000a2', NULL);
RESET ROLE;
SELECT organization_id, action FROM saas.audit_logs WHERE table_name = 'sec_owner.ledger';
REVOKE EXECUTE ON FUNCTION saas.audit_trigger() FROM regress_sec_owner;

-- PostgreSQL checks the privilege also when it clones the trigger to a new
-- partition: the owner of a partitioned table the DBA audits adds
-- partitions only with the grant (its error names no function).
SET ROLE regress_sec_owner;
CREATE TABLE sec_owner.journal (id uuid, organization_id uuid NOT NULL, at date NOT NULL) PARTITION BY RANGE (at);
RESET ROLE;
SELECT saas.enable_audit('sec_owner.journal');
SET ROLE regress_sec_owner;
SELECT pg_temp.err($$CREATE TABLE sec_owner.journal_2020s PARTITION OF sec_owner.journal
    FOR VALUES FROM ('2020-01-01') TO ('2030-01-01')$$);
RESET ROLE;
GRANT EXECUTE ON FUNCTION saas.audit_trigger() TO regress_sec_owner;
SET ROLE regress_sec_owner;
CREATE TABLE sec_owner.journal_2020s PARTITION OF sec_owner.journal FOR VALUES FROM ('2020-01-01') TO ('2030-01-01');
RESET ROLE;
REVOKE EXECUTE ON FUNCTION saas.audit_trigger() FROM regress_sec_owner;
SELECT tgname, encode(tgargs, 'escape') AS args FROM pg_trigger WHERE tgrelid = 'sec_owner.journal_2020s'::regclass;

-- =====================================================================
-- Helpers cannot be hijacked through search_path.  Every function and
-- procedure of the extension is written in C, or pins its search_path to
-- trusted schemas, or is in the allowlist below -- procedures that COMMIT
-- cannot have a SET clause -- and qualifies every name.
-- =====================================================================
SELECT p.oid::regprocedure AS not_pinned
  FROM pg_depend d
  JOIN pg_proc p ON p.oid = d.objid
  JOIN pg_language l ON l.oid = p.prolang
 WHERE d.classid = 'pg_proc'::regclass AND d.deptype = 'e' AND d.refclassid = 'pg_extension'::regclass
   AND d.refobjid = (SELECT e.oid FROM pg_extension e WHERE e.extname = 'saas_schema')
   AND l.lanname <> 'c'
   AND NOT EXISTS (SELECT FROM unnest(p.proconfig) AS c
                    WHERE c IN ('search_path=pg_catalog, saas, pg_temp', 'search_path=pg_catalog, pg_temp'))
   AND p.oid::regprocedure::text NOT IN ('saas.set_not_null_safely(regclass,name,interval)',
                                         'saas.delete_tenant(uuid,integer)')
 ORDER BY 1::text;
-- The allowlist names what exists, and it is what the next test exercises.
SELECT p.oid::regprocedure AS allowlisted, p.prokind, p.proconfig
  FROM pg_proc p WHERE p.oid IN ('saas.set_not_null_safely(regclass,name,interval)'::regprocedure,
                                 'saas.delete_tenant(uuid,integer)'::regprocedure)
 ORDER BY p.oid::regprocedure::text;

-- Tables to run them on (made before anything is planted), and a tenant to
-- delete, with rows in a thread and in a partitioned table of the DBA's.
CREATE TABLE sec.backfilled (id integer PRIMARY KEY, note text);
INSERT INTO sec.backfilled VALUES (1, 'a'), (2, 'b');
CREATE TABLE sec.not_backfilled (id integer PRIMARY KEY, note text);
INSERT INTO sec.not_backfilled VALUES (1, NULL);
INSERT INTO saas.organizations (id, name, slug) VALUES ('00000000-0000-7000-8000-0000000000d1', 'Doomed', 'sec-doomed');
INSERT INTO saas.users (id, organization_id, email, password_hash, full_name)
VALUES ('00000000-0000-7000-8000-0000000000d7', '00000000-0000-7000-8000-0000000000d1', 'd@doomed.example', 'h', 'D');
INSERT INTO saas.projects (id, organization_id, name)
VALUES ('00000000-0000-7000-8000-0000000000d2', '00000000-0000-7000-8000-0000000000d1', 'p');
INSERT INTO saas.tasks (id, organization_id, project_id, title)
VALUES ('00000000-0000-7000-8000-0000000000d3', '00000000-0000-7000-8000-0000000000d1',
        '00000000-0000-7000-8000-0000000000d2', 't');
INSERT INTO saas.task_comments (id, organization_id, task_id, author_id, body)
VALUES ('00000000-0000-7000-8000-0000000000d4', '00000000-0000-7000-8000-0000000000d1',
        '00000000-0000-7000-8000-0000000000d3', '00000000-0000-7000-8000-0000000000d7', 'root');
INSERT INTO saas.task_comments (id, organization_id, task_id, parent_id, author_id, body)
VALUES ('00000000-0000-7000-8000-0000000000d5', '00000000-0000-7000-8000-0000000000d1',
        '00000000-0000-7000-8000-0000000000d3', '00000000-0000-7000-8000-0000000000d4',
        '00000000-0000-7000-8000-0000000000d7', 'reply');
INSERT INTO sec_owner.journal (id, organization_id, at)
VALUES ('00000000-0000-7000-8000-0000000000d6', '00000000-0000-7000-8000-0000000000d1', '2024-05-01');

-- A role that may create objects in public plants operators whose argument
-- types match the procedure's expressions better than pg_catalog's (or
-- exactly as well, earlier in the path), and domains named like the types it
-- uses; the superuser plants the same in pg_temp.  Each records that it ran.
CREATE ROLE regress_sec_planter;
GRANT CREATE ON SCHEMA public TO regress_sec_planter;
SET ROLE regress_sec_planter;
CREATE TABLE public.sec_ran (what text, run_as name);
GRANT SELECT, INSERT ON public.sec_ran TO PUBLIC;
CREATE FUNCTION public.sec_ran(what text) RETURNS boolean LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    INSERT INTO public.sec_ran VALUES (what, current_user);
    RETURN true;
END
$$;
CREATE FUNCTION public.sec_cat_name(a text, b name) RETURNS text LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp AS 'BEGIN PERFORM public.sec_ran(''||(text,name)''); RETURN a || b::text; END';
CREATE FUNCTION public.sec_cat_text(a text, b text) RETURNS text LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp AS 'BEGIN PERFORM public.sec_ran(''||(text,text)''); RETURN textcat(a, b); END';
CREATE FUNCTION public.sec_eq_oid_regclass(a oid, b regclass) RETURNS boolean LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp AS 'BEGIN PERFORM public.sec_ran(''=(oid,regclass)''); RETURN oideq(a, b::oid); END';
CREATE FUNCTION public.sec_eq_oid(a oid, b oid) RETURNS boolean LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp AS 'BEGIN PERFORM public.sec_ran(''=(oid,oid)''); RETURN oideq(a, b); END';
CREATE FUNCTION public.sec_eq_name(a name, b name) RETURNS boolean LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp AS 'BEGIN PERFORM public.sec_ran(''=(name,name)''); RETURN nameeq(a, b); END';
CREATE FUNCTION public.sec_gt_int2_int4(a smallint, b integer) RETURNS boolean LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp AS 'BEGIN PERFORM public.sec_ran(''>(smallint,integer)''); RETURN int24gt(a, b); END';
CREATE FUNCTION public.sec_mul_float8_int4(a double precision, b integer) RETURNS double precision LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp AS 'BEGIN PERFORM public.sec_ran(''*(double precision,integer)''); RETURN float8mul(a, b); END';
CREATE FUNCTION public.sec_left(a text, n integer) RETURNS text LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp AS 'BEGIN PERFORM public.sec_ran(''left(text,integer)''); RETURN pg_catalog.left(a, n); END';
CREATE OPERATOR public.|| (LEFTARG = text, RIGHTARG = name, FUNCTION = public.sec_cat_name);
CREATE OPERATOR public.|| (LEFTARG = text, RIGHTARG = text, FUNCTION = public.sec_cat_text);
CREATE OPERATOR public.= (LEFTARG = oid, RIGHTARG = regclass, FUNCTION = public.sec_eq_oid_regclass);
CREATE OPERATOR public.= (LEFTARG = oid, RIGHTARG = oid, FUNCTION = public.sec_eq_oid);
CREATE OPERATOR public.= (LEFTARG = name, RIGHTARG = name, FUNCTION = public.sec_eq_name);
CREATE OPERATOR public.> (LEFTARG = smallint, RIGHTARG = integer, FUNCTION = public.sec_gt_int2_int4);
CREATE OPERATOR public.* (LEFTARG = double precision, RIGHTARG = integer, FUNCTION = public.sec_mul_float8_int4);
CREATE FUNCTION public.left(a text, n integer) RETURNS text LANGUAGE sql AS 'SELECT public.sec_left(a, n)';
CREATE DOMAIN public.text AS pg_catalog.text CHECK (public.sec_ran('domain public.text'));
CREATE DOMAIN public.name AS pg_catalog.name CHECK (public.sec_ran('domain public.name'));
CREATE DOMAIN public.int8 AS pg_catalog.int8 CHECK (public.sec_ran('domain public.int8'));
RESET ROLE;
CREATE DOMAIN pg_temp.text AS pg_catalog.text CHECK (public.sec_ran('domain pg_temp.text'));
CREATE DOMAIN pg_temp.name AS pg_catalog.name CHECK (public.sec_ran('domain pg_temp.name'));
CREATE FUNCTION pg_temp.left(a pg_catalog.text, n pg_catalog.int4) RETURNS pg_catalog.text LANGUAGE sql
    AS 'SELECT public.sec_left(a, n)';
CREATE OPERATOR pg_temp.|| (LEFTARG = pg_catalog.text, RIGHTARG = pg_catalog.name, FUNCTION = public.sec_cat_name);

-- The planted code works where an unqualified name reaches it:
SET search_path = public, pg_catalog;
SELECT 'chk_' || 'x'::pg_catalog.name AS planted_operator_runs;
SELECT what, run_as FROM public.sec_ran;
RESET search_path;
TRUNCATE public.sec_ran;

-- The allowlisted procedures, run by the superuser under that search_path,
-- on each of their paths (done, already NOT NULL, still NULLs; a tenant in
-- batches of one row, then nothing left): the planted code never runs.
SET search_path = public, pg_catalog;
CALL saas.set_not_null_safely('sec.backfilled', 'note');
CALL saas.set_not_null_safely('sec.backfilled', 'note', '2 seconds');
SELECT pg_temp.err($$CALL saas.set_not_null_safely('sec.not_backfilled', 'note')$$);
CALL saas.delete_tenant('00000000-0000-7000-8000-0000000000d1', 1);
CALL saas.delete_tenant('00000000-0000-7000-8000-0000000000d1');
RESET search_path;
SELECT what, run_as FROM public.sec_ran;
SELECT (SELECT count(*) FROM saas.organizations WHERE id = '00000000-0000-7000-8000-0000000000d1') AS doomed_left,
       (SELECT count(*) FROM sec_owner.journal WHERE organization_id = '00000000-0000-7000-8000-0000000000d1') AS journal_left,
       (SELECT count(*) FROM saas.audit_logs WHERE organization_id = '00000000-0000-7000-8000-0000000000d1'
           AND action = 'DELETE') AS delete_audit_rows;
SELECT a.attnotnull AS backfilled_note_not_null FROM pg_attribute a
 WHERE a.attrelid = 'sec.backfilled'::regclass AND a.attname = 'note';
SELECT conname FROM pg_constraint WHERE conrelid IN ('sec.backfilled'::regclass, 'sec.not_backfilled'::regclass)
 ORDER BY 1;

DROP OPERATOR pg_temp.|| (pg_catalog.text, pg_catalog.name);
DROP FUNCTION pg_temp.left(pg_catalog.text, pg_catalog.int4);
DROP DOMAIN pg_temp.text;
DROP DOMAIN pg_temp.name;
DROP OWNED BY regress_sec_planter;
DROP ROLE regress_sec_planter;

-- =====================================================================
-- Re-enabling the audit keeps what it does not name: excluded columns,
-- tenant column, mode.
-- =====================================================================
CREATE TABLE sec.payments (
    id uuid PRIMARY KEY DEFAULT saas.uuid_generate_v7(), organization_id uuid NOT NULL,
    billed_org uuid NOT NULL, amount integer, card_token text);
SELECT saas.enable_audit('sec.payments', excluded_columns => '{card_token}', tenant_column => 'billed_org');
SELECT saas.enable_audit('sec.payments', mode => 'statement');
SELECT tgname, encode(tgargs, 'escape') AS args FROM pg_trigger
 WHERE tgrelid = 'sec.payments'::regclass ORDER BY 1;
INSERT INTO sec.payments (organization_id, billed_org, amount, card_token) VALUES
    ('00000000-0000-7000-8000-0000000000a2', '00000000-0000-7000-8000-0000000000a1', 10, '4111-1111-1111-1111');
SELECT organization_id, action, new_values ? 'card_token' AS card_token_logged, new_values->>'amount' AS amount
  FROM saas.audit_logs WHERE table_name = 'sec.payments';
-- Back to row mode: still excluded; naming a setting changes only that one.
SELECT saas.enable_audit('sec.payments', mode => 'row');
SELECT saas.enable_audit('sec.payments', excluded_columns => '{card_token,amount}');
SELECT tgname, encode(tgargs, 'escape') AS args FROM pg_trigger
 WHERE tgrelid = 'sec.payments'::regclass ORDER BY 1;
SELECT saas.enable_audit('sec.payments', excluded_columns => '{}', tenant_column => 'organization_id');
SELECT tgname, encode(tgargs, 'escape') AS args FROM pg_trigger
 WHERE tgrelid = 'sec.payments'::regclass ORDER BY 1;

-- =====================================================================
-- No outsider can stall a tenant's ticket inserts.  The number is assigned
-- under a lock on the organization's row, which a role needs UPDATE on
-- saas.organizations (and sight of the row) to take; the advisory lock of
-- 0.4.0 had a key anyone could compute and take.
-- =====================================================================
INSERT INTO saas.tickets (organization_id, title, created_by_id) VALUES
    ('00000000-0000-7000-8000-0000000000a1', 'first', '00000000-0000-7000-8000-0000000000b1');
SELECT format('host=%s port=%s dbname=%s', split_part(current_setting('unix_socket_directories'), ',', 1),
              current_setting('port'), current_database()) AS conninfo \gset
SELECT dblink_connect('sec_nobody', :'conninfo' || ' user=regress_sec_nobody');
-- The outsider takes the key 0.4.0 locked on, and holds it...
SELECT * FROM dblink('sec_nobody', $$SELECT pg_advisory_lock(hashtextextended(
    'saas.tickets.number:00000000-0000-7000-8000-0000000000a1', 0))::text$$) AS t(locked text);
-- ...and cannot take the one that counts.
SELECT pg_temp.err($$SELECT * FROM dblink('sec_nobody', 'SELECT 1 FROM saas.organizations FOR NO KEY UPDATE') AS t(x int)$$);
-- The tenant's ticket insert completes (with 0.4.0 it waited until the
-- statement timeout).
SET ROLE regress_sec_app;
SET statement_timeout = '5s';
BEGIN;
SELECT saas.set_tenant('00000000-0000-7000-8000-0000000000a1') IS NOT NULL AS tenant_set;
SELECT pg_temp.err($$INSERT INTO saas.tickets (organization_id, title, created_by_id) VALUES
    ('00000000-0000-7000-8000-0000000000a1', 'despite the outsider', '00000000-0000-7000-8000-0000000000b1')$$);
SELECT number FROM saas.tickets WHERE title = 'despite the outsider';
COMMIT;
RESET statement_timeout;
RESET ROLE;
SELECT dblink_disconnect('sec_nobody');

-- Two concurrent inserts of one tenant still get distinct, consecutive
-- numbers: B waits for A's lock, then counts A's ticket.
SELECT dblink_connect('sec_a', :'conninfo' || ' user=regress_sec_app');
SELECT dblink_connect('sec_b', :'conninfo' || ' user=regress_sec_app');
SELECT pid AS b_pid FROM dblink('sec_b', 'SELECT pg_backend_pid()') AS t(pid integer) \gset
SELECT dblink_exec('sec_a', 'BEGIN');
SELECT * FROM dblink('sec_a', $$SELECT saas.set_tenant('00000000-0000-7000-8000-0000000000a1')$$) AS t(tenant uuid);
SELECT * FROM dblink('sec_a', $$INSERT INTO saas.tickets (organization_id, title, created_by_id)
    VALUES ('00000000-0000-7000-8000-0000000000a1', 'from A', '00000000-0000-7000-8000-0000000000b1')
    RETURNING number$$) AS t(a_number integer);
SELECT dblink_exec('sec_b', 'BEGIN');
SELECT * FROM dblink('sec_b', $$SELECT saas.set_tenant('00000000-0000-7000-8000-0000000000a1')$$) AS t(tenant uuid);
SELECT dblink_send_query('sec_b', $$INSERT INTO saas.tickets (organization_id, title, created_by_id)
    VALUES ('00000000-0000-7000-8000-0000000000a1', 'from B', '00000000-0000-7000-8000-0000000000b1')
    RETURNING number$$);
SELECT set_config('sec.b_pid', :'b_pid', false) IS NOT NULL AS b_pid_noted;
DO $$
BEGIN
    FOR i IN 1 .. 600 LOOP
        EXIT WHEN EXISTS (SELECT FROM pg_stat_activity
                           WHERE pid = current_setting('sec.b_pid')::integer AND wait_event_type = 'Lock');
        PERFORM pg_sleep(0.05);
    END LOOP;
END
$$;
SELECT wait_event_type AS b_waits_on FROM pg_stat_activity WHERE pid = :b_pid;
SELECT dblink_exec('sec_a', 'COMMIT');
SELECT * FROM dblink_get_result('sec_b') AS t(b_number integer);
SELECT * FROM dblink_get_result('sec_b') AS t(b_number integer);
SELECT dblink_exec('sec_b', 'COMMIT');
SELECT dblink_disconnect('sec_a');
SELECT dblink_disconnect('sec_b');
SELECT number, title FROM saas.tickets WHERE organization_id = '00000000-0000-7000-8000-0000000000a1' ORDER BY number;

-- A role that may insert tickets but not lock organizations is told what it
-- lacks.
CREATE ROLE regress_sec_clerk;
GRANT USAGE ON SCHEMA saas TO regress_sec_clerk;
GRANT SELECT ON saas.organizations TO regress_sec_clerk;
GRANT SELECT, INSERT ON saas.tickets TO regress_sec_clerk;
SET ROLE regress_sec_clerk;
BEGIN;
SELECT saas.set_tenant('00000000-0000-7000-8000-0000000000a1') IS NOT NULL AS tenant_set;
SELECT pg_temp.err($$INSERT INTO saas.tickets (organization_id, title, created_by_id) VALUES
    ('00000000-0000-7000-8000-0000000000a1', 'by the clerk', '00000000-0000-7000-8000-0000000000b1')$$);
ROLLBACK;
RESET ROLE;

-- =====================================================================
-- Retention cannot drop the present, and the partition functions do not
-- depend on the session's DateStyle, TimeZone or IntervalStyle.
-- =====================================================================
SET DateStyle = 'SQL, MDY';
SET TimeZone = 'FOO+3';            -- a POSIX zone whose abbreviation no parser knows
SET IntervalStyle = 'sql_standard';
SELECT count(*) AS created FROM saas.audit_create_partitions(months_ahead => 1, months_back => 3);
SELECT count(*) AS dropped FROM saas.audit_drop_partitions('1000 months');
SELECT count(*) AS dropped FROM saas.audit_drop_partitions('2 months');
RESET DateStyle;
RESET TimeZone;
RESET IntervalStyle;
-- Each partition covers its UTC month.
SET DateStyle = 'ISO, YMD';
SET TimeZone = 'UTC';
SELECT count(*) AS partitions,
       bool_and(pg_get_expr(c.relpartbound, c.oid) = format('FOR VALUES FROM (%L) TO (%L)',
                    to_char(to_date(right(c.relname, 6), 'YYYYMM'), 'YYYY-MM-DD "00:00:00+00"'),
                    to_char(to_date(right(c.relname, 6), 'YYYYMM') + interval '1 month', 'YYYY-MM-DD "00:00:00+00"')))
           AS utc_months
  FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
 WHERE i.inhparent = 'saas.audit_logs'::regclass AND c.relname LIKE 'audit\_logs\_p%';
RESET DateStyle;
RESET TimeZone;
-- Months compare as 30 days: this interval is "positive", yet now() minus it
-- lies in the future.
SELECT interval '-120 months +3601 days' > interval '0' AS compares_positive;
SELECT pg_temp.err($$SELECT saas.audit_drop_partitions('-120 months +3601 days')$$);
SELECT pg_temp.err($$SELECT saas.audit_drop_partitions('1 month -40 days')$$);
SELECT EXISTS (SELECT FROM pg_class WHERE relnamespace = 'saas'::regnamespace
                AND relname = 'audit_logs_p' || to_char(now() AT TIME ZONE 'UTC', 'YYYYMM')) AS current_month_kept;

-- Every partition has the parent's row-level security: a role granted
-- SELECT on the current month's partition sees no tenant's rows without a
-- tenant, and only its tenant's with one.
SELECT count(*) AS created FROM saas.audit_create_partitions(months_ahead => 0, months_back => 0);
SELECT c.relname LIKE 'audit\_logs\_p%' AS monthly, count(*) AS partitions,
       bool_and(c.relrowsecurity AND c.relforcerowsecurity) AS rls_forced,
       bool_and(EXISTS (SELECT FROM pg_policy p WHERE p.polrelid = c.oid AND p.polname = 'tenant_isolation')) AS policy
  FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
 WHERE i.inhparent = 'saas.audit_logs'::regclass
 GROUP BY 1 ORDER BY 1;
SELECT 'saas.audit_logs_p' || to_char(now() AT TIME ZONE 'UTC', 'YYYYMM') AS current_part \gset
INSERT INTO saas.tasks (organization_id, project_id, title) VALUES
    ('00000000-0000-7000-8000-0000000000a1', '00000000-0000-7000-8000-0000000000c1', 'this month');
CREATE ROLE regress_sec_reader;
GRANT USAGE ON SCHEMA saas TO regress_sec_reader;
GRANT SELECT ON :current_part TO regress_sec_reader;
SET ROLE regress_sec_reader;
SELECT count(*) AS rows_seen_without_tenant FROM :current_part;
BEGIN;
SELECT saas.set_tenant('00000000-0000-7000-8000-0000000000a2') IS NOT NULL AS tenant_set;
SELECT count(*) AS victim_rows_seen_as_attacker FROM :current_part
 WHERE organization_id = '00000000-0000-7000-8000-0000000000a1';
COMMIT;
RESET ROLE;
SELECT count(*) > 0 AS victim_has_rows_there FROM :current_part
 WHERE organization_id = '00000000-0000-7000-8000-0000000000a1';

-- =====================================================================
-- Classic inheritance: a change made through the parent fires the row
-- triggers of the child holding the row, so a parent is audited only once
-- its children are (in row mode); a child added later is reported by lint.
-- =====================================================================
CREATE TABLE sec.events (id uuid PRIMARY KEY DEFAULT saas.uuid_generate_v7(), organization_id uuid NOT NULL, what text);
CREATE TABLE sec.events_2025 () INHERITS (sec.events);
SELECT pg_temp.err($$SELECT saas.enable_audit('sec.events')$$);
SELECT saas.enable_audit('sec.events_2025');
SELECT pg_temp.err($$SELECT saas.enable_audit('sec.events', mode => 'statement')$$);
SELECT saas.enable_audit('sec.events');
INSERT INTO sec.events_2025 (id, organization_id, what)
    VALUES ('00000000-0000-7000-8000-0000000000f1', '00000000-0000-7000-8000-0000000000a1', 'old');
UPDATE sec.events SET what = 'changed through the parent' WHERE id = '00000000-0000-7000-8000-0000000000f1';
SELECT table_name, action, new_values->>'what' AS what FROM saas.audit_logs
 WHERE record_id = '00000000-0000-7000-8000-0000000000f1' ORDER BY created_at, id;
CREATE TABLE sec.events_2026 () INHERITS (sec.events);
SELECT rule, object, fix FROM saas.lint('sec') WHERE rule = 'missing_audit' ORDER BY object;
SELECT pg_temp.err($$SELECT saas.enable_audit('sec.events')$$);

-- Clean up what other tests could trip over.
SET client_min_messages = warning;
DROP SCHEMA sec CASCADE;
DROP SCHEMA sec_owner CASCADE;
DROP EXTENSION dblink;
DROP OWNED BY regress_sec_app, regress_sec_nobody, regress_sec_owner, regress_sec_reader, regress_sec_clerk;
DROP ROLE regress_sec_app, regress_sec_nobody, regress_sec_owner, regress_sec_reader, regress_sec_clerk;
