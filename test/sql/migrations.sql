-- Helpers for users' own migrations, and the 0.2.0 ticket numbers.
SET client_min_messages = warning;
DROP SCHEMA IF EXISTS saas CASCADE;
DROP SCHEMA IF EXISTS regress_mig CASCADE;
CREATE EXTENSION saas_schema CASCADE;
RESET client_min_messages;
\set VERBOSITY terse

-- saas.set_not_null_safely: the safe NOT NULL pattern as one CALL.
CREATE SCHEMA regress_mig;
CREATE TABLE regress_mig.accounts (id int PRIMARY KEY, region text);
INSERT INTO regress_mig.accounts SELECT g, NULL FROM generate_series(1, 1000) g;
-- Refused while NULLs remain, with a hint to backfill.
CALL saas.set_not_null_safely('regress_mig.accounts', 'region');
UPDATE regress_mig.accounts SET region = 'eu' WHERE region IS NULL;
CALL saas.set_not_null_safely('regress_mig.accounts', 'region');
SELECT attnotnull FROM pg_attribute WHERE attrelid = 'regress_mig.accounts'::regclass AND attname = 'region';
-- The helper CHECK is gone; the column now refuses NULLs.
SELECT conname FROM pg_constraint WHERE conrelid = 'regress_mig.accounts'::regclass AND contype = 'c';
INSERT INTO regress_mig.accounts VALUES (0, NULL);
-- Idempotent, and clear errors.
CALL saas.set_not_null_safely('regress_mig.accounts', 'region');
CALL saas.set_not_null_safely('regress_mig.accounts', 'nope');
CALL saas.set_not_null_safely(NULL, 'region');
-- Inside a transaction block it cannot commit its steps.
ALTER TABLE regress_mig.accounts ADD COLUMN tier text DEFAULT 'basic';
BEGIN;
CALL saas.set_not_null_safely('regress_mig.accounts', 'tier');
ROLLBACK;

-- Ticket numbers: per organization, in insertion order, never reused.
INSERT INTO saas.organizations (id, name, slug) VALUES
    ('00000000-0000-7000-8000-00000000000a', 'A', 'a'), ('00000000-0000-7000-8000-00000000000b', 'B', 'b');
INSERT INTO saas.users (id, organization_id, email, password_hash) VALUES
    ('00000000-0000-7000-8000-0000000000a1', '00000000-0000-7000-8000-00000000000a', 'u@a.example', 'h'),
    ('00000000-0000-7000-8000-0000000000b1', '00000000-0000-7000-8000-00000000000b', 'u@b.example', 'h');
INSERT INTO saas.tickets (organization_id, title, created_by_id)
SELECT u.organization_id, 'ticket ' || g, u.id FROM saas.users u, generate_series(1, 3) g ORDER BY u.email, g;
SELECT o.slug, t.title, t.number FROM saas.tickets t JOIN saas.organizations o ON o.id = t.organization_id
ORDER BY o.slug, t.number;
-- An explicit number is kept; a duplicate or non-positive one is refused.
INSERT INTO saas.tickets (organization_id, title, created_by_id, number)
VALUES ('00000000-0000-7000-8000-00000000000a', 'imported', '00000000-0000-7000-8000-0000000000a1', 100) RETURNING number;
INSERT INTO saas.tickets (organization_id, title, created_by_id, number)
VALUES ('00000000-0000-7000-8000-00000000000a', 'dup', '00000000-0000-7000-8000-0000000000a1', 100);
INSERT INTO saas.tickets (organization_id, title, created_by_id, number)
VALUES ('00000000-0000-7000-8000-00000000000a', 'zero', '00000000-0000-7000-8000-0000000000a1', 0);
-- The next one continues after the highest.
INSERT INTO saas.tickets (organization_id, title, created_by_id)
VALUES ('00000000-0000-7000-8000-00000000000a', 'next', '00000000-0000-7000-8000-0000000000a1') RETURNING number;
-- A soft-deleted ticket keeps its number, which is not handed out again.
BEGIN;
SELECT saas.set_tenant('00000000-0000-7000-8000-00000000000b') IS NOT NULL AS tenant;
SELECT saas.soft_delete('saas.tickets', (SELECT id FROM saas.tickets WHERE number = 3
    AND organization_id = '00000000-0000-7000-8000-00000000000b')) AS deleted;
INSERT INTO saas.tickets (organization_id, title, created_by_id)
VALUES ('00000000-0000-7000-8000-00000000000b', 'after delete', '00000000-0000-7000-8000-0000000000b1') RETURNING number;
COMMIT;

DROP SCHEMA regress_mig CASCADE;
