-- When the audit trigger stays silent: saas.audit_enabled = off (superusers
-- only), and dump restores (row_security = off, as pg_dump/pg_restore set it,
-- in a session that bypasses row-level security).  Everyone else is audited.
SET client_min_messages = warning;
DROP SCHEMA IF EXISTS saas CASCADE;
CREATE EXTENSION saas_schema CASCADE;
DROP ROLE IF EXISTS regress_saas_quiet;
RESET client_min_messages;
\set VERBOSITY terse
CREATE ROLE regress_saas_quiet;
SELECT saas.grant_app_access('regress_saas_quiet');

INSERT INTO saas.organizations (id, name, slug) VALUES ('00000000-0000-7000-8000-00000000000a', 'A', 'a');
SELECT count(*) AS audit_rows FROM saas.audit_logs;

-- Switched off by a superuser: no audit row.
SET saas.audit_enabled = off;
INSERT INTO saas.organizations (name, slug) VALUES ('B', 'b');
RESET saas.audit_enabled;
SELECT count(*) AS audit_rows FROM saas.audit_logs;

-- A restore session (row_security = off, superuser): no audit row.
SET row_security = off;
INSERT INTO saas.organizations (name, slug) VALUES ('C', 'c');
RESET row_security;
SELECT count(*) AS audit_rows FROM saas.audit_logs;

-- Back to normal: audited.
UPDATE saas.organizations SET plan = 'pro' WHERE slug = 'a';
SELECT action, changed_columns FROM saas.audit_logs ORDER BY id;

-- The application role cannot switch auditing off ...
SET ROLE regress_saas_quiet;
SET saas.audit_enabled = off;
-- ... and with row_security = off it cannot change an audited table at all.
BEGIN;
SELECT saas.set_tenant('00000000-0000-7000-8000-00000000000a') IS NOT NULL AS tenant;
SET LOCAL row_security = off;
UPDATE saas.organizations SET plan = 'free';
ROLLBACK;
RESET ROLE;
SELECT (SELECT count(*) FROM saas.audit_logs) AS audit_rows,
       (SELECT plan FROM saas.organizations WHERE slug = 'a') AS plan_unchanged;

DROP SCHEMA saas CASCADE;
DROP OWNED BY regress_saas_quiet;
DROP ROLE regress_saas_quiet;
