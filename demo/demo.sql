-- saas_schema demo: two tenants, their data, and what the extension adds.
\pset footer off
\set QUIET on
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS saas_schema CASCADE;
RESET client_min_messages;
\set QUIET off
\echo
\echo '== CREATE EXTENSION saas_schema CASCADE: the tables'
SELECT c.relname AS table, obj_description(c.oid, 'pg_class') AS purpose
FROM pg_class c WHERE c.relnamespace = 'saas'::regnamespace AND c.relkind IN ('r', 'p')
  AND NOT c.relispartition ORDER BY 1;

\echo '== Two tenants'
INSERT INTO saas.organizations (name, slug, plan) VALUES
    ('Acme Rockets', 'acme', 'pro'), ('Globex', 'globex', 'free')
RETURNING id, slug, plan;
SELECT id AS acme FROM saas.organizations WHERE slug = 'acme' \gset
SELECT id AS globex FROM saas.organizations WHERE slug = 'globex' \gset

\set QUIET on
INSERT INTO saas.users (organization_id, email, password_hash, full_name, role) VALUES
    (:'acme', 'wile@acme.example', '$argon2id$demo', 'Wile E. Coyote', 'owner'),
    (:'acme', 'road@acme.example', '$argon2id$demo', 'Road Runner', 'member'),
    (:'globex', 'hank@globex.example', '$argon2id$demo', 'Hank Scorpio', 'owner');
SELECT id AS wile FROM saas.users WHERE email = 'wile@acme.example' \gset
SELECT id AS hank FROM saas.users WHERE email = 'hank@globex.example' \gset

INSERT INTO saas.projects (organization_id, name, created_by_id) VALUES
    (:'acme', 'Catch the road runner', :'wile'), (:'globex', 'Doomsday device', :'hank');
INSERT INTO saas.tasks (organization_id, project_id, title, priority, due_date, assignee_id, custom_fields)
SELECT p.organization_id, p.id, t.title, t.priority, current_date + t.days, p.created_by_id, t.cf
FROM saas.projects p
CROSS JOIN (VALUES ('Order rocket skates', 1, 3, '{"vendor": "ACME"}'::jsonb),
                   ('Paint tunnel on rock', 3, 7, '{}'::jsonb)) AS t(title, priority, days, cf);
INSERT INTO saas.tickets (organization_id, title, priority, created_by_id, custom_fields)
VALUES (:'globex', 'Laser is too weak', 'urgent', :'hank', '{"department": "R&D"}');

\set QUIET off
\echo '== Each tenant''s data'
SELECT o.slug, p.name AS project, t.title, t.priority, t.due_date
FROM saas.tasks t JOIN saas.projects p USING (organization_id) JOIN saas.organizations o ON o.id = t.organization_id
WHERE p.id = t.project_id ORDER BY o.slug, t.priority;

\echo '== The database refuses a cross-tenant reference (Globex task in an Acme project):'
\set ON_ERROR_STOP off
INSERT INTO saas.tasks (organization_id, project_id, title)
SELECT :'globex', id, 'sneaky' FROM saas.projects WHERE organization_id = :'acme';
\set ON_ERROR_STOP on

\echo '== The application connects as its own role; each transaction names its tenant'
\set QUIET on
SET client_min_messages = warning;
DROP ROLE IF EXISTS demo_app;
RESET client_min_messages;
CREATE ROLE demo_app;
SELECT saas.grant_app_access('demo_app') \g /dev/null
\set QUIET off
SET ROLE demo_app;
BEGIN;
SELECT saas.set_tenant(:'acme') AS tenant, saas.set_actor(:'wile', '{"ip": "203.0.113.7", "request_id": "demo-1"}') AS actor;
-- No WHERE organization_id = ... anywhere: row-level security scopes every statement.
SELECT title, priority FROM saas.tasks ORDER BY priority;
UPDATE saas.tasks SET priority = 2, custom_fields = custom_fields || '{"rush": true}'
WHERE title = 'Order rocket skates';
COMMIT;
\echo '== Without a tenant, the application sees nothing (fails closed)'
SELECT count(*) AS visible_tasks FROM saas.tasks;
RESET ROLE;

\echo '== The audited change: only the changed columns, who, and the request metadata'
SELECT a.table_name, a.action, a.changed_columns, a.old_values, a.new_values, u.email AS actor, a.metadata
FROM saas.audit_logs a LEFT JOIN saas.users u ON u.id = a.user_id
WHERE a.action = 'UPDATE' ORDER BY a.id DESC LIMIT 1 \gx

\echo '== Soft delete cascades to the project''s tasks; restore reverses exactly that'
BEGIN;
SELECT saas.set_tenant(:'globex') IS NOT NULL AS tenant;
SELECT saas.soft_delete('saas.projects', (SELECT id FROM saas.projects WHERE organization_id = :'globex')) AS rows_soft_deleted;
SELECT count(*) AS active_globex_tasks FROM saas.active_tasks WHERE organization_id = :'globex';
SELECT saas.restore('saas.projects', (SELECT id FROM saas.projects WHERE organization_id = :'globex')) AS rows_restored;
COMMIT;

\echo '== History of one task, and the schema lint (clean)'
SELECT action, changed_columns FROM saas.record_history('saas.tasks',
    (SELECT id FROM saas.tasks WHERE organization_id = :'acme' AND title = 'Order rocket skates'));
SELECT count(*) AS lint_findings FROM saas.lint('saas');
\set QUIET on
DROP OWNED BY demo_app;
DROP ROLE demo_app;
