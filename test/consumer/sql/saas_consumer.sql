-- A user's test: two tenants, some changes, and assertions on ids and on
-- the audit trail.  Deterministic: the same expected file on every run.
SET saas.test_seed = 20261122;
-- The application connects as its own role, never as a superuser: row-level
-- security then confines it to the tenant it sets.
SET client_min_messages = warning;
DROP ROLE IF EXISTS regress_consumer_app;
RESET client_min_messages;
CREATE ROLE regress_consumer_app;
SELECT saas.grant_app_access('regress_consumer_app');

INSERT INTO saas.organizations (name, slug, plan)
VALUES ('Acme', 'acme', 'pro'), ('Globex', 'globex', 'free')
RETURNING slug, id;

INSERT INTO saas.users (organization_id, email, password_hash, full_name, role)
SELECT id, 'owner@' || slug || '.example', 'secret-hash', initcap(slug) || ' Owner', 'owner'
FROM saas.organizations ORDER BY slug
RETURNING email, id;

INSERT INTO saas.projects (organization_id, name, created_by_id)
SELECT organization_id, 'Launch', id FROM saas.users ORDER BY email
RETURNING name, id;

INSERT INTO saas.tasks (organization_id, project_id, title, priority)
SELECT organization_id, id, 'Write the docs', 3 FROM saas.projects ORDER BY id
RETURNING title, id;

-- Acme's owner raises the priority of every task it can see: Acme's only.
SELECT id AS acme FROM saas.organizations WHERE slug = 'acme' \gset
SELECT id AS globex FROM saas.organizations WHERE slug = 'globex' \gset
SELECT id AS acme_owner FROM saas.users WHERE email = 'owner@acme.example' \gset
SET ROLE regress_consumer_app;
BEGIN;
SELECT saas.set_tenant(:'acme') IS NOT NULL AS tenant;
SELECT saas.set_actor(:'acme_owner') IS NOT NULL AS actor;
UPDATE saas.tasks SET priority = 1 WHERE title = 'Write the docs';
COMMIT;
-- Globex's project is soft-deleted (its task goes with it).
BEGIN;
SELECT saas.set_tenant(:'globex') IS NOT NULL AS tenant;
SELECT saas.soft_delete('saas.projects', (SELECT id FROM saas.projects)) AS soft_deleted;
COMMIT;
RESET ROLE;
-- A no-op update is not audited.
UPDATE saas.organizations SET plan = plan;

SELECT table_name, record_id, action, changed_columns, old_values, new_values
FROM saas.audit_trail()
WHERE table_name <> 'saas.users';
-- password_hash never reaches the audit log.
SELECT count(*) AS audited_users, count(*) FILTER (WHERE new_values ? 'password_hash') AS leaked_hashes
FROM saas.audit_trail() WHERE table_name = 'saas.users';
-- Who did it.
SELECT a.table_name, a.action, u.email AS actor
FROM saas.audit_logs a JOIN saas.users u ON u.id = a.user_id
ORDER BY a.id;

DROP OWNED BY regress_consumer_app;
DROP ROLE regress_consumer_app;
