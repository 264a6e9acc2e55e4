-- Tenant isolation, tested as the application role (never as a superuser):
-- row-level security on every tenant table, the tenant/actor helpers, the
-- app-role grants, and adversarial attempts to reach another tenant's rows.
SET client_min_messages = warning;
DROP SCHEMA IF EXISTS saas CASCADE;
CREATE EXTENSION saas_schema CASCADE;
DO $$ BEGIN  -- leftovers of an interrupted earlier run
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'regress_saas_app') THEN
        DROP OWNED BY regress_saas_app;
    END IF;
END $$;
DROP ROLE IF EXISTS regress_saas_app;
DROP ROLE IF EXISTS regress_saas_bypass;
RESET client_min_messages;
SELECT current_user AS superuser \gset
CREATE ROLE regress_saas_app LOGIN NOSUPERUSER NOBYPASSRLS;
CREATE ROLE regress_saas_bypass LOGIN NOSUPERUSER BYPASSRLS;
\set VERBOSITY terse
-- Statements expected to fail inside a transaction roll back to an implicit
-- savepoint instead of aborting the transaction.
\set ON_ERROR_ROLLBACK on

-- Every tenant table has RLS enabled and forced with the tenant policy
-- (schema_changes is no tenant table: the app role cannot read it at all).
SELECT c.relname, c.relrowsecurity AS enabled, c.relforcerowsecurity AS forced,
       p.polname, p.polcmd, pg_get_expr(p.polqual, p.polrelid) AS using_expr,
       pg_get_expr(p.polwithcheck, p.polrelid) = pg_get_expr(p.polqual, p.polrelid) AS check_same
FROM pg_class c LEFT JOIN pg_policy p ON p.polrelid = c.oid
WHERE c.relnamespace = 'saas'::regnamespace AND c.relkind IN ('r', 'p') AND NOT c.relispartition
ORDER BY c.relname;

-- grant_app_access validates the role.
SELECT saas.grant_app_access(NULL);
SELECT saas.grant_app_access('regress_no_such_role');
SELECT saas.grant_app_access(current_user);          -- a superuser
SELECT saas.grant_app_access('regress_saas_bypass');  -- BYPASSRLS
SELECT saas.grant_app_access('regress_saas_app');
SELECT saas.grant_app_access('regress_saas_app');     -- idempotent
-- Exactly what the app needs: DML on tenant tables, SELECT/UPDATE on its
-- organization, SELECT only on audit logs (the trigger writes them as owner).
SELECT c.relname,
       string_agg(p.privilege_type, ',' ORDER BY p.privilege_type) AS privileges
FROM pg_class c
CROSS JOIN LATERAL (SELECT unnest(ARRAY['SELECT','INSERT','UPDATE','DELETE','TRUNCATE','REFERENCES','TRIGGER']) AS privilege_type) p
WHERE c.relnamespace = 'saas'::regnamespace AND c.relkind IN ('r', 'p') AND NOT c.relispartition
  AND has_table_privilege('regress_saas_app', c.oid, p.privilege_type)
GROUP BY c.relname ORDER BY c.relname;
SELECT p.oid::regprocedure AS app_can_execute
FROM pg_proc p WHERE p.pronamespace = 'saas'::regnamespace
  AND has_function_privilege('regress_saas_app', p.oid, 'EXECUTE')
  AND NOT has_function_privilege('public', p.oid, 'EXECUTE')
ORDER BY 1;
SELECT p.oid::regprocedure AS admin_only
FROM pg_proc p WHERE p.pronamespace = 'saas'::regnamespace
  AND NOT has_function_privilege('regress_saas_app', p.oid, 'EXECUTE')
ORDER BY 1;

-- Data: tenants A and B with a row in every table, and 40 more tenants.
INSERT INTO saas.organizations (id, name, slug) VALUES
    ('00000000-0000-7000-8000-00000000000a', 'Acme', 'acme'),
    ('00000000-0000-7000-8000-00000000000b', 'Beta', 'beta');
\set A '00000000-0000-7000-8000-00000000000a'
\set B '00000000-0000-7000-8000-00000000000b'
INSERT INTO saas.organizations (name, slug) SELECT 'Org ' || g, 'org-' || g FROM generate_series(1, 40) g;
-- For each tenant: 2 users, a project, 3 tasks, comments, tags, a category, tickets.
INSERT INTO saas.users (organization_id, id, email, password_hash)
SELECT o.id, ('00000000-0000-7000-8000-' || lpad(to_hex(row_number() OVER (ORDER BY o.slug, g)::int), 12, '0'))::uuid,
       'u' || g || '@' || o.slug || '.example', 'h'
FROM saas.organizations o, generate_series(1, 2) g;
INSERT INTO saas.projects (organization_id, name) SELECT id, 'P of ' || slug FROM saas.organizations;
INSERT INTO saas.tasks (organization_id, project_id, title)
SELECT p.organization_id, p.id, 'T' || g FROM saas.projects p, generate_series(1, 3) g;
INSERT INTO saas.task_comments (organization_id, task_id, author_id, body)
SELECT t.organization_id, t.id, (SELECT min(u.id::text)::uuid FROM saas.users u WHERE u.organization_id = t.organization_id), 'c'
FROM saas.tasks t;
INSERT INTO saas.tags (organization_id, name) SELECT id, 'tag' FROM saas.organizations;
INSERT INTO saas.task_tags (organization_id, task_id, tag_id)
SELECT t.organization_id, t.id, g.id FROM saas.tasks t JOIN saas.tags g USING (organization_id);
INSERT INTO saas.ticket_categories (organization_id, name) SELECT id, 'cat' FROM saas.organizations;
INSERT INTO saas.tickets (organization_id, title, created_by_id, category_id)
SELECT c.organization_id, 'ticket', (SELECT min(u.id::text)::uuid FROM saas.users u WHERE u.organization_id = c.organization_id), c.id
FROM saas.ticket_categories c;
INSERT INTO saas.ticket_comments (organization_id, ticket_id, author_id, body)
SELECT organization_id, id, created_by_id, 'tc' FROM saas.tickets;
INSERT INTO saas.ticket_tags (organization_id, ticket_id, tag_id)
SELECT t.organization_id, t.id, g.id FROM saas.tickets t JOIN saas.tags g USING (organization_id);

-- What each tenant must see, computed as superuser, readable by the app.
CREATE TABLE public.regress_expected AS
SELECT o.id AS org, c.relname::text AS tbl,
       (xpath('/row/n/text()', query_to_xml(format('SELECT count(*) AS n FROM saas.%I WHERE %I = %L',
            c.relname, CASE WHEN c.relname = 'organizations' THEN 'id' ELSE 'organization_id' END, o.id), false, true, '')))[1]::text::int AS n
FROM saas.organizations o, pg_class c
WHERE c.relnamespace = 'saas'::regnamespace AND c.relkind IN ('r', 'p') AND NOT c.relispartition
  AND c.relname <> 'schema_changes';  -- one log for every tenant (admins read it), not a tenant table
GRANT SELECT ON public.regress_expected TO regress_saas_app;
SELECT count(DISTINCT org) AS tenants, count(DISTINCT tbl) AS tables, min(n) > 0 AS every_table_has_rows_per_tenant
FROM public.regress_expected WHERE tbl <> 'audit_logs';

-- Counts, as the caller sees them, of every tenant table: own rows and
-- rows of other tenants.
CREATE FUNCTION public.regress_visible() RETURNS TABLE (tbl text, own bigint, foreign_rows bigint)
LANGUAGE plpgsql AS $$
DECLARE r record;
BEGIN
    FOR r IN SELECT DISTINCT e.tbl FROM public.regress_expected e ORDER BY 1 LOOP
        tbl := r.tbl;
        EXECUTE format('SELECT count(*) FILTER (WHERE %1$I = saas.current_tenant_id()),
                               count(*) FILTER (WHERE %1$I IS DISTINCT FROM saas.current_tenant_id())
                        FROM saas.%2$I',
                       CASE WHEN r.tbl = 'organizations' THEN 'id' ELSE 'organization_id' END, r.tbl)
            INTO own, foreign_rows;
        RETURN NEXT;
    END LOOP;
END $$;

SELECT id AS b_project FROM saas.projects WHERE organization_id = :'B' \gset
SELECT md5(string_agg(t::text, '' ORDER BY t::text)) AS b_before FROM saas.tasks t WHERE organization_id = :'B' \gset
\c - regress_saas_app
SELECT current_user, (SELECT rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = current_user) AS bypasses_rls;

-- 1. No tenant set: nothing visible, nothing writable (fails closed).
SELECT saas.current_tenant_id() IS NULL AS no_tenant;
SELECT * FROM public.regress_visible();
INSERT INTO saas.tags (organization_id, name) VALUES (:'A', 'x');
UPDATE saas.tasks SET title = 'x' RETURNING id;
DELETE FROM saas.tasks RETURNING id;

-- 2. Tenant A: exactly A's rows in every table.
BEGIN;
SELECT saas.set_tenant(:'A') = :'A' AS set;
SELECT v.tbl, v.own = e.n AS sees_all_own, v.foreign_rows AS foreign_rows
FROM public.regress_visible() v JOIN public.regress_expected e ON e.tbl = v.tbl AND e.org = :'A'
ORDER BY 1;

-- 3. Cross-tenant access through every kind of statement.
-- SELECT by another tenant's key, and through a join
SELECT count(*) AS b_tasks_by_org FROM saas.tasks WHERE organization_id = :'B';
-- INSERT of a B row
INSERT INTO saas.tags (organization_id, name) VALUES (:'B', 'sneaky');
-- INSERT of an A row is fine
INSERT INTO saas.tags (organization_id, name) VALUES (:'A', 'fine') RETURNING name;
-- UPDATE of B rows touches nothing; moving an A row to B is refused
UPDATE saas.tasks SET title = 'hijacked' WHERE organization_id = :'B' RETURNING id;
UPDATE saas.tags SET organization_id = :'B' WHERE name = 'fine';
-- DELETE of B rows deletes nothing; RETURNING returns only A's rows
DELETE FROM saas.task_tags WHERE organization_id = :'B' RETURNING task_id;
DELETE FROM saas.tags WHERE name = 'fine' RETURNING organization_id = :'A' AS own_row;
-- INSERT ... ON CONFLICT: cannot update a B row, cannot insert one
INSERT INTO saas.tags (organization_id, name) VALUES (:'B', 'tag')
ON CONFLICT (organization_id, name) DO UPDATE SET color = '#000000';
INSERT INTO saas.tags (organization_id, name) VALUES (:'A', 'tag')
ON CONFLICT (organization_id, name) DO UPDATE SET organization_id = :'B';
INSERT INTO saas.tags (organization_id, name) VALUES (:'A', 'tag')
ON CONFLICT (organization_id, name) DO UPDATE SET color = '#111111' RETURNING name, color;
-- UPDATE ... FROM / DELETE ... USING cannot join to B rows
UPDATE saas.tasks t SET title = 'via-join' FROM saas.projects p
WHERE p.organization_id = :'B' AND t.project_id = p.id RETURNING t.id;
DELETE FROM saas.task_comments c USING saas.tasks t
WHERE t.organization_id = :'B' AND c.task_id = t.id RETURNING c.id;
-- CTEs: data-modifying and reading
WITH moved AS (UPDATE saas.tasks SET priority = 2 RETURNING organization_id)
SELECT count(*) AS updated, count(*) FILTER (WHERE organization_id <> :'A') AS foreign_updated FROM moved;
WITH RECURSIVE all_orgs AS (SELECT id FROM saas.organizations) SELECT count(*) AS visible_orgs FROM all_orgs;
-- COPY out shows A's rows only; COPY in of a B row is refused
COPY (SELECT count(*) FROM saas.users) TO STDOUT;
COPY saas.users (organization_id) TO STDOUT;
COPY saas.tags (organization_id, name) FROM STDIN;
00000000-0000-7000-8000-00000000000b	copied-in
\.
-- A view the application creates obeys the policies (security_invoker, and
-- even a definer view owned by the app role: the owner is still subject to RLS).
CREATE TEMP VIEW my_tasks AS SELECT organization_id FROM saas.tasks;
CREATE TEMP VIEW my_tasks_invoker WITH (security_invoker) AS SELECT organization_id FROM saas.tasks;
SELECT (SELECT count(DISTINCT organization_id) FROM my_tasks) AS tenants_in_view,
       (SELECT count(DISTINCT organization_id) FROM my_tasks_invoker) AS tenants_in_invoker_view;
-- Foreign keys do not leak existence: B's project is "not present" for A.
INSERT INTO saas.tasks (organization_id, project_id, title) VALUES (:'A', :'b_project', 'x');
-- and a B task pointing at B's project is refused by the policy
INSERT INTO saas.tasks (organization_id, project_id, title) VALUES (:'B', :'b_project', 'x');
COMMIT;

-- Seen as superuser: B's data is untouched by all of the above.
\c - :superuser
SELECT md5(string_agg(t::text, '' ORDER BY t::text)) = :'b_before' AS b_tasks_untouched,
       (SELECT count(*) FROM saas.task_comments WHERE organization_id = :'B') AS b_comments,
       (SELECT count(*) FROM saas.task_tags WHERE organization_id = :'B') AS b_task_tags,
       (SELECT count(*) FROM saas.tags WHERE name IN ('sneaky', 'copied-in')) AS smuggled_tags
FROM saas.tasks t WHERE organization_id = :'B';
\c - regress_saas_app

-- 4. Setting edge cases.
-- empty string = unset
BEGIN;
SET LOCAL app.current_tenant_id = '';
SELECT saas.current_tenant_id() IS NULL AS empty_is_unset, count(*) AS visible FROM saas.tasks;
ROLLBACK;
-- malformed: a clear error naming the setting, never a silent match
BEGIN;
SET LOCAL app.current_tenant_id = 'not-a-uuid';
SELECT count(*) FROM saas.tasks;
ROLLBACK;
BEGIN;
SET LOCAL app.current_tenant_id = '00000000-0000-7000-8000-00000000000a-extra';
SELECT saas.current_tenant_id();
ROLLBACK;
-- other spellings uuid_in accepts are accepted
BEGIN;
SET LOCAL app.current_tenant_id = '{00000000000070008000-00000000000A}';
SELECT saas.current_tenant_id() = :'A' AS alternative_spelling;
ROLLBACK;
-- switched mid-transaction: the policy follows the current setting
BEGIN;
SELECT saas.set_tenant(:'A') IS NOT NULL AS a;
SELECT count(*) FILTER (WHERE organization_id = :'A') AS a_rows, count(*) AS all_rows FROM saas.tasks;
SELECT saas.set_tenant(:'B') IS NOT NULL AS b;
SELECT count(*) FILTER (WHERE organization_id = :'B') AS b_rows, count(*) AS all_rows FROM saas.tasks;
-- RESET clears it
RESET app.current_tenant_id;
SELECT saas.current_tenant_id() IS NULL AS reset_clears, count(*) AS visible FROM saas.tasks;
-- a rolled-back savepoint restores the tenant before it
SELECT saas.set_tenant(:'A') IS NOT NULL AS a;
SAVEPOINT s;
SELECT saas.set_tenant(:'B') IS NOT NULL AS b;
ROLLBACK TO SAVEPOINT s;
SELECT saas.current_tenant_id() = :'A' AS back_to_a_after_savepoint_rollback;
COMMIT;
-- after COMMIT and after ROLLBACK the setting is gone
SELECT saas.current_tenant_id() IS NULL AS gone_after_commit, count(*) AS visible FROM saas.tasks;
BEGIN;
SELECT saas.set_tenant(:'A') IS NOT NULL AS a;
ROLLBACK;
SELECT saas.current_tenant_id() IS NULL AS gone_after_rollback;

-- 5. set_tenant errors.
SELECT saas.set_tenant(:'A');   -- outside a transaction block
BEGIN;
SELECT saas.set_tenant(NULL);
ROLLBACK;
BEGIN;
SELECT saas.set_tenant('00000000-0000-7000-8000-0000000000ff');
ROLLBACK;

-- 6. set_actor.
BEGIN;
SELECT saas.set_actor('00000000-0000-7000-8000-000000000001');   -- no tenant yet
ROLLBACK;
BEGIN;
SELECT saas.set_tenant(:'A') IS NOT NULL AS a;
SELECT id AS a_user FROM saas.users ORDER BY id LIMIT 1 \gset
SELECT saas.set_actor(:'a_user', '{"ip": "203.0.113.9"}') = :'a_user' AS actor_set;
SELECT current_setting('app.current_user_id') = :'a_user' AS user_setting,
       current_setting('app.request_metadata')::jsonb AS metadata;
SELECT saas.set_actor(:'a_user', '[1, 2]');
ROLLBACK;
BEGIN;
SELECT saas.set_tenant(:'A') IS NOT NULL AS a;
SELECT saas.set_actor(NULL);
ROLLBACK;
BEGIN;
SELECT saas.set_tenant(:'A') IS NOT NULL AS a;
-- a user of tenant B (ids are assigned in slug order: acme 1-2, beta 3-4)
SELECT saas.set_actor('00000000-0000-7000-8000-000000000003');
ROLLBACK;
BEGIN;
SELECT saas.set_tenant(:'A') IS NOT NULL AS a;
SELECT saas.set_actor(:'a_user') IS NOT NULL AS actor;
-- switching tenant drops the actor
SELECT saas.set_tenant(:'B') IS NOT NULL AS b;
SELECT current_setting('app.current_user_id') = '' AS actor_cleared;
ROLLBACK;

-- 7. Many tenants: for each of the 42 tenants, every table shows exactly its
-- own rows, in one transaction switching tenant each time.
BEGIN;
CREATE TEMP TABLE mismatches (org uuid, tbl text, own bigint, foreign_rows bigint, expected int);
DO $$
DECLARE o uuid;
BEGIN
    FOR o IN SELECT DISTINCT org FROM public.regress_expected LOOP
        PERFORM saas.set_tenant(o);
        INSERT INTO mismatches
        SELECT o, v.tbl, v.own, v.foreign_rows, e.n
        FROM public.regress_visible() v JOIN public.regress_expected e ON e.tbl = v.tbl AND e.org = o
        WHERE v.tbl <> 'audit_logs' AND (v.own <> e.n OR v.foreign_rows <> 0);
    END LOOP;
END $$;
SELECT (SELECT count(DISTINCT org) FROM public.regress_expected) AS tenants_checked, count(*) AS mismatches FROM mismatches;
ROLLBACK;

-- 7b. Audit rows: each tenant sees only its own; nobody can forge, change or
-- remove them.
BEGIN;
SELECT saas.set_tenant(:'A') IS NOT NULL AS a;
UPDATE saas.tasks SET priority = 5 WHERE title = 'T1';
SELECT count(*) > 0 AS sees_own_audit_rows,
       count(*) FILTER (WHERE organization_id <> :'A') AS foreign_audit_rows
FROM saas.audit_logs;
INSERT INTO saas.audit_logs (organization_id, table_name, action, transaction_id, new_values)
VALUES (:'A', 'saas.tasks', 'INSERT', 1, '{}');
UPDATE saas.audit_logs SET action = 'DELETE';
DELETE FROM saas.audit_logs;
TRUNCATE saas.audit_logs;
COMMIT;
BEGIN;
SELECT saas.set_tenant(:'B') IS NOT NULL AS b;
SELECT count(*) FILTER (WHERE organization_id <> :'B') AS foreign_audit_rows,
       count(*) FILTER (WHERE table_name = 'saas.tasks' AND changed_columns @> '{priority}') AS b_sees_a_update
FROM saas.audit_logs;
COMMIT;

-- 8. The app cannot switch RLS off, drop policies, or use admin helpers.
ALTER TABLE saas.tasks DISABLE ROW LEVEL SECURITY;
DROP POLICY tenant_isolation ON saas.tasks;
SELECT saas.disable_tenant_isolation('saas.tasks');
SELECT saas.grant_app_access('regress_saas_app');

\c - :superuser
-- 9. enable/disable_tenant_isolation on a user's own table.
CREATE TABLE public.regress_invoices (id uuid PRIMARY KEY, organization_id uuid NOT NULL, amount numeric);
CREATE TABLE public.regress_no_tenant (id int);
CREATE TABLE public.regress_text_tenant (organization_id text);
CREATE TABLE public.regress_parted (organization_id uuid NOT NULL, n int) PARTITION BY RANGE (n);
CREATE TABLE public.regress_parted_1 PARTITION OF public.regress_parted FOR VALUES FROM (0) TO (10);
CREATE VIEW public.regress_view AS SELECT 1 AS x;
SELECT saas.enable_tenant_isolation(NULL);
SELECT saas.enable_tenant_isolation('public.regress_no_tenant');
SELECT saas.enable_tenant_isolation('public.regress_text_tenant');
SELECT saas.enable_tenant_isolation('public.regress_view');
SELECT saas.disable_tenant_isolation('public.regress_view');
SELECT saas.enable_tenant_isolation('public.regress_invoices');
SELECT saas.enable_tenant_isolation('public.regress_invoices');  -- idempotent
SELECT saas.enable_tenant_isolation('public.regress_parted');
SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity, count(p.*) AS policies
FROM pg_class c LEFT JOIN pg_policy p ON p.polrelid = c.oid
WHERE c.relname LIKE 'regress_%' AND c.relkind IN ('r', 'p')
GROUP BY 1, 2, 3 ORDER BY 1;
INSERT INTO public.regress_invoices VALUES ('00000000-0000-7000-8000-000000000101', :'A', 10),
                                           ('00000000-0000-7000-8000-000000000102', :'B', 20);
INSERT INTO public.regress_parted VALUES (:'A', 1), (:'B', 2);
GRANT SELECT ON public.regress_invoices, public.regress_parted, public.regress_parted_1 TO regress_saas_app;
\c - regress_saas_app
BEGIN;
SELECT saas.set_tenant(:'B') IS NOT NULL AS b;
SELECT amount FROM public.regress_invoices;
SELECT n FROM public.regress_parted;
SELECT n FROM public.regress_parted_1;  -- the partition directly: policy applies too
COMMIT;
\c - :superuser
SELECT saas.disable_tenant_isolation('public.regress_invoices');
SELECT saas.disable_tenant_isolation('public.regress_invoices');  -- idempotent
CREATE POLICY extra ON public.regress_parted_1 USING (n > 0);
SELECT saas.disable_tenant_isolation('public.regress_parted');
SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity, count(p.*) AS policies
FROM pg_class c LEFT JOIN pg_policy p ON p.polrelid = c.oid
WHERE c.relname LIKE 'regress_%' AND c.relkind IN ('r', 'p')
GROUP BY 1, 2, 3 ORDER BY 1;

-- A table owner cannot be the app role.
CREATE ROLE regress_saas_owner LOGIN;
ALTER TABLE saas.tags OWNER TO regress_saas_owner;
SELECT saas.grant_app_access('regress_saas_owner');
ALTER TABLE saas.tags OWNER TO :"superuser";
DROP ROLE regress_saas_owner;

-- Clean up the cluster-wide roles.
DROP TABLE public.regress_invoices, public.regress_no_tenant, public.regress_text_tenant,
           public.regress_parted, public.regress_expected;
DROP VIEW public.regress_view;
DROP FUNCTION public.regress_visible();
DROP SCHEMA saas CASCADE;
DROP OWNED BY regress_saas_app;
DROP ROLE regress_saas_app;
DROP ROLE regress_saas_bypass;
