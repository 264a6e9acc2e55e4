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

SELECT to_regclass('saas.audit_logs') IS NOT NULL AS has_audit \gset
\if :has_audit
\echo '== An audited change: only the changed columns are recorded'
BEGIN;
SET LOCAL app.current_user_id = :'wile';
SET LOCAL app.request_metadata = '{"ip": "203.0.113.7", "request_id": "demo-1"}';
UPDATE saas.tasks SET priority = 2, custom_fields = custom_fields || '{"rush": true}'
WHERE title = 'Order rocket skates' AND organization_id = :'acme';
COMMIT;
SELECT table_name, action, changed_columns, old_values, new_values, metadata
FROM saas.audit_logs WHERE action = 'UPDATE' ORDER BY id DESC LIMIT 1 \gx
\endif
