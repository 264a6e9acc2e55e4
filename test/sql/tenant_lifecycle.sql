-- Tenant lifecycle: the tenant's tables in foreign-key order, export and
-- import (round trip in one database), personal columns, erasing a person,
-- deleting a tenant in batches, scheduled maintenance without pg_cron.  Run
-- as the roles that matter: the application role (grant_app_access), a role
-- with no grant, an administrator that is a member of the tables' owner but
-- no superuser, and the owner (the superuser running the tests).  The
-- cluster-level parts (between databases and clusters, pg_dump, pg_cron,
-- crashes, concurrent writes) are in test/t/150_tenant_lifecycle.pl and
-- test/t/155_tenant_delete.pl.
SET client_min_messages = warning;
DROP SCHEMA IF EXISTS saas CASCADE;
DROP SCHEMA IF EXISTS lc CASCADE;
DO $$ BEGIN  -- leftovers of an interrupted earlier run
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'regress_lc_app') THEN
        DROP OWNED BY regress_lc_app;
    END IF;
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'regress_lc_admin') THEN
        DROP OWNED BY regress_lc_admin;
    END IF;
END $$;
DROP ROLE IF EXISTS regress_lc_app;
DROP ROLE IF EXISTS regress_lc_nogrant;
DROP ROLE IF EXISTS regress_lc_admin;
CREATE EXTENSION saas_schema CASCADE;
RESET client_min_messages;
SELECT current_user AS owner \gset
CREATE ROLE regress_lc_app NOSUPERUSER NOBYPASSRLS;
CREATE ROLE regress_lc_nogrant NOSUPERUSER NOBYPASSRLS;
-- An administrator: a member of the tables' owner, no superuser, subject to
-- row-level security like everyone but superusers.
CREATE ROLE regress_lc_admin NOSUPERUSER NOBYPASSRLS;
GRANT :"owner" TO regress_lc_admin;
SELECT saas.grant_app_access('regress_lc_app');

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
-- The same, with the error's DETAIL (for the pg_cron lines).
CREATE FUNCTION pg_temp.err_detail(stmt text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    state text; msg text; det text; hnt text;
BEGIN
    EXECUTE stmt;
    RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, msg = MESSAGE_TEXT, det = PG_EXCEPTION_DETAIL,
                            hnt = PG_EXCEPTION_HINT;
    RETURN state || ': ' || msg || E'\nDETAIL: ' || det || E'\nHINT: ' || hnt;
END
$$;

-- ---------------------------------------------------------------------------
-- The tenant's tables: shipped and the DBA's own, in foreign-key order.
-- ---------------------------------------------------------------------------
CREATE SCHEMA lc;
-- A profile per user, with a personal column, referencing users.
CREATE TABLE lc.profiles (
    id uuid NOT NULL DEFAULT saas.uuid_generate_v7(),
    organization_id uuid NOT NULL REFERENCES saas.organizations (id) ON DELETE CASCADE,
    user_id uuid NOT NULL,
    phone text,
    bio text,
    PRIMARY KEY (organization_id, id),
    FOREIGN KEY (organization_id, user_id) REFERENCES saas.users (organization_id, id)
);
-- Notes that reference each other without ON DELETE CASCADE.
CREATE TABLE lc.notes (
    id uuid NOT NULL,
    organization_id uuid NOT NULL REFERENCES saas.organizations (id) ON DELETE CASCADE,
    parent_id uuid,
    body text NOT NULL,
    PRIMARY KEY (organization_id, id),
    FOREIGN KEY (organization_id, parent_id) REFERENCES lc.notes (organization_id, id)
);
-- A partitioned table of the DBA's.
CREATE TABLE lc.events (
    organization_id uuid NOT NULL REFERENCES saas.organizations (id) ON DELETE CASCADE,
    n integer NOT NULL,
    kind text NOT NULL
) PARTITION BY LIST (kind);
CREATE TABLE lc.events_a PARTITION OF lc.events FOR VALUES IN ('a');
CREATE TABLE lc.events_b PARTITION OF lc.events FOR VALUES IN ('b');
-- Not tenant tables: no organization_id, a temporary table.
CREATE TABLE lc.currencies (code text PRIMARY KEY);
CREATE TEMP TABLE scratch (organization_id uuid);
SELECT saas.enable_audit(t) FROM unnest(ARRAY['lc.profiles', 'lc.notes', 'lc.events']::regclass[]) AS t;
SELECT saas.enable_tenant_isolation(t) FROM unnest(ARRAY['lc.profiles', 'lc.notes', 'lc.events']::regclass[]) AS t;
GRANT USAGE ON SCHEMA lc TO regress_lc_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON lc.profiles, lc.notes, lc.events TO regress_lc_app;

SELECT ordinal, table_name, tenant_column, self_referencing, in_cycle FROM saas.tenant_tables() ORDER BY ordinal;

-- ---------------------------------------------------------------------------
-- Personal columns: security labels of provider saas_schema.
-- ---------------------------------------------------------------------------
SELECT * FROM saas.personal_columns();
SELECT pg_temp.err($$SELECT saas.declare_personal('saas.active_tasks', '{title}')$$);
SELECT pg_temp.err($$SECURITY LABEL FOR saas_schema ON COLUMN lc.profiles.bio IS 'secret'$$);
SELECT pg_temp.err($$SECURITY LABEL FOR saas_schema ON TABLE lc.profiles IS 'personal'$$);
SELECT pg_temp.err($$SECURITY LABEL FOR saas_schema ON COLUMN lc.profiles.id IS 'personal'$$);
SELECT pg_temp.err($$SECURITY LABEL FOR saas_schema ON COLUMN lc.events_a.kind IS 'personal'$$);
SELECT pg_temp.err($$SELECT saas.declare_personal('lc.profiles', '{no_such_column}')$$);
SELECT pg_temp.err($$SELECT saas.declare_personal('lc.profiles', NULL)$$);
-- A table without a foreign key to users: declared, with a notice.
SELECT saas.declare_personal('lc.notes', '{body}');
SELECT saas.declare_personal('lc.notes', '{body}', personal => false);
SELECT * FROM saas.personal_columns();
-- Only the owner of a table declares its columns; the application cannot.
SET ROLE regress_lc_app;
SELECT pg_temp.err($$SELECT saas.declare_personal('saas.tasks', '{description}')$$);
SELECT pg_temp.err($$SECURITY LABEL FOR saas_schema ON COLUMN saas.tasks.description IS 'personal'$$);
RESET ROLE;

-- ---------------------------------------------------------------------------
-- Data: two tenants, deterministic ids.
-- ---------------------------------------------------------------------------
SET saas.test_seed = 4242;
INSERT INTO saas.organizations (name, slug) VALUES ('Acme', 'acme'), ('Globex', 'globex');
SELECT id AS acme FROM saas.organizations WHERE slug = 'acme' \gset
SELECT id AS globex FROM saas.organizations WHERE slug = 'globex' \gset
INSERT INTO saas.users (organization_id, email, password_hash, full_name, role) VALUES
    (:'acme', 'wile.coyote@acme.example', '$argon2id$wile', 'Wile E. Coyote', 'owner'),
    (:'acme', 'road.runner@acme.example', '$argon2id$road', 'Road Runner', 'member'),
    (:'globex', 'hank.scorpio@globex.example', '$argon2id$hank', 'Hank Scorpio', 'owner');
SELECT id AS wile FROM saas.users WHERE full_name = 'Wile E. Coyote' \gset
SELECT id AS road FROM saas.users WHERE full_name = 'Road Runner' \gset
SELECT id AS hank FROM saas.users WHERE full_name = 'Hank Scorpio' \gset
INSERT INTO lc.profiles (organization_id, user_id, phone, bio) VALUES
    (:'acme', :'wile', '+1 555 0100', 'Genius. Call +1 555 0100.'),
    (:'acme', :'road', '+1 555 0199', 'Meep meep.');
INSERT INTO saas.projects (organization_id, name, created_by_id) VALUES
    (:'acme', 'Catch the bird', :'wile'), (:'globex', 'Doomsday', :'hank');
INSERT INTO saas.tasks (organization_id, project_id, title, description, created_by_id, custom_fields)
SELECT p.organization_id, p.id, 'task ' || g,
       CASE WHEN g = 1 AND p.organization_id = :'acme' THEN 'Ask Wile E. Coyote (wile.coyote@acme.example) for rockets' END,
       p.created_by_id,
       CASE WHEN g = 2 AND p.organization_id = :'acme'
            THEN '{"contact": {"mail": "WILE.COYOTE@acme.example", "tel": ["+1 555 0100"]}}'::jsonb
            ELSE '{}'::jsonb END
  FROM saas.projects p, generate_series(1, 3) g;
-- The other tenant writes about Wile too: erasure is per tenant (his user
-- record is Acme's), so Globex's rows keep it.
INSERT INTO saas.tasks (organization_id, project_id, title, description)
SELECT organization_id, id, 'globex task', 'Beware of Wile E. Coyote' FROM saas.projects WHERE organization_id = :'globex';
INSERT INTO saas.tags (organization_id, name) VALUES (:'acme', 'urgent'), (:'globex', 'urgent');
INSERT INTO saas.task_tags (organization_id, task_id, tag_id)
SELECT t.organization_id, t.id, g.id FROM saas.tasks t JOIN saas.tags g USING (organization_id) WHERE t.title = 'task 1';
-- Threads whose replies have smaller ids than the comments they answer, so
-- that id order is not reference order.
INSERT INTO saas.task_comments (id, organization_id, task_id, parent_id, author_id, body)
SELECT ('00000000-0000-7000-8000-00000000000' || n)::uuid, t.organization_id, t.id,
       CASE WHEN n = 1 THEN '00000000-0000-7000-8000-000000000002'::uuid
            WHEN n = 2 THEN '00000000-0000-7000-8000-000000000003'::uuid END,
       :'road', 'comment ' || n
  FROM saas.tasks t, generate_series(3, 1, -1) n WHERE t.organization_id = :'acme' AND t.title = 'task 1';
INSERT INTO lc.notes (id, organization_id, parent_id, body) VALUES
    ('00000000-0000-7000-8000-00000000000c', :'acme', NULL, 'root'),
    ('00000000-0000-7000-8000-00000000000b', :'acme', '00000000-0000-7000-8000-00000000000c', 'child'),
    ('00000000-0000-7000-8000-00000000000a', :'acme', '00000000-0000-7000-8000-00000000000b', 'grandchild');
INSERT INTO lc.events VALUES (:'acme', 1, 'a'), (:'acme', 2, 'b'), (:'globex', 3, 'a');
INSERT INTO saas.ticket_categories (organization_id, name) VALUES (:'acme', 'billing');
INSERT INTO saas.tickets (organization_id, title, created_by_id, category_id)
SELECT :'acme', 'ticket ' || g, :'road', (SELECT id FROM saas.ticket_categories) FROM generate_series(1, 2) g;
-- Changes by Wile, with request metadata naming him.
BEGIN;
SELECT saas.set_tenant(:'acme') IS NOT NULL AS tenant_set;
SELECT saas.set_actor(:'wile', '{"request_id": "r-1", "by": "wile.coyote@acme.example"}') IS NOT NULL AS actor_set;
UPDATE saas.users SET email = 'wile@acme.example' WHERE id = :'wile';
UPDATE saas.tasks SET status = 'done' WHERE title = 'task 3' AND organization_id = :'acme';
UPDATE lc.profiles SET phone = '+1 555 0101' WHERE user_id = :'wile';
COMMIT;
RESET saas.test_seed;

-- ---------------------------------------------------------------------------
-- Export.
-- ---------------------------------------------------------------------------
CREATE TEMP TABLE acme_export AS
SELECT n, e.table_name, e.record FROM saas.export_tenant(:'acme') WITH ORDINALITY AS e(table_name, record, n);
SELECT table_name, count(*) AS rows, min(n) AS first, max(n) AS last
  FROM acme_export GROUP BY table_name ORDER BY min(n);
-- Foreign-key order: no row comes before a row it references.
SELECT count(*) AS rows_before_their_parents
  FROM acme_export c JOIN acme_export p ON p.table_name = c.table_name AND p.record->>'id' = c.record->>'parent_id'
 WHERE c.n < p.n;
SELECT record->>'body' AS body FROM acme_export WHERE table_name IN ('saas.task_comments', 'lc.notes') ORDER BY n;
-- Only Acme's rows, every one of them.
SELECT count(*) FILTER (WHERE coalesce(record->>'organization_id', record->>'id') <> :'acme') AS foreign_rows,
       count(*) FILTER (WHERE table_name = 'saas.audit_logs')
           = (SELECT count(*) FROM saas.audit_logs WHERE organization_id = :'acme' AND action <> 'EXPORT') AS every_audit_row
  FROM acme_export;
-- Password hashes are exported (an import must let people log in).
SELECT record->>'password_hash' AS password_hash FROM acme_export WHERE table_name = 'saas.users' ORDER BY n;
-- The export is recorded.
SELECT action, table_name, record_id, new_values->'rows'->'saas.task_comments' AS comments,
       new_values->'rows'->'lc.notes' AS notes, metadata->>'operation' AS operation
  FROM saas.audit_logs WHERE action = 'EXPORT';
-- Errors.
SELECT pg_temp.err($$SELECT * FROM saas.export_tenant(NULL)$$);
SELECT pg_temp.err($$SELECT * FROM saas.export_tenant('00000000-0000-7000-8000-000000000000')$$);
BEGIN READ ONLY;
SELECT pg_temp.err(format('SELECT * FROM saas.export_tenant(%L)', :'acme'));
ROLLBACK;

-- As the application role: its current tenant only, under row-level security.
SET ROLE regress_lc_app;
SELECT pg_temp.err(format('SELECT * FROM saas.export_tenant(%L)', :'acme'));
BEGIN;
SELECT saas.set_tenant(:'acme') IS NOT NULL AS tenant_set;
SELECT saas.set_actor(:'road') IS NOT NULL AS actor_set;
SELECT table_name, count(*) FROM saas.export_tenant(:'acme') GROUP BY table_name ORDER BY table_name;
SELECT pg_temp.err(format('SELECT * FROM saas.export_tenant(%L)', :'globex'));
-- It cannot write audit rows for another tenant through the export's helper.
SELECT pg_temp.err(format($$SELECT saas._audit_export(%L, '{}', '{}')$$, :'globex'));
-- Bad arguments are refused (22023): no organization, a summary or metadata
-- that is not a JSON object.
SELECT pg_temp.err($$SELECT saas._audit_export(NULL, '{}', '{}')$$);
SELECT pg_temp.err(format($$SELECT saas._audit_export(%L, '[1]', '{}')$$, :'acme'));
SELECT pg_temp.err(format($$SELECT saas._audit_export(%L, '{}', NULL)$$, :'acme'));
-- The lookups of set_tenant and set_actor run as the tables' owner, past
-- the caller's row-level security (Globex is not this transaction's tenant)
-- and answer nothing more than set_tenant and set_actor do: whether an
-- organization exists, whether a user of it is active (NULL: not its user).
SELECT saas._organization_exists(:'acme') AS acme, saas._organization_exists(:'globex') AS globex,
       saas._organization_exists('00000000-0000-7000-8000-000000000000') AS unknown,
       saas._organization_exists(NULL) AS no_org;
SELECT saas._user_is_active(:'acme', :'road') AS road, saas._user_is_active(:'globex', :'hank') AS hank,
       saas._user_is_active(:'globex', :'road') AS road_at_globex, saas._user_is_active(:'acme', NULL) AS no_user;
COMMIT;
RESET ROLE;
SELECT action, user_id = :'road' AS by_road, metadata->>'current_user' AS db_role
  FROM saas.audit_logs WHERE action = 'EXPORT' ORDER BY id;
-- A role without grants reaches nothing.
SET ROLE regress_lc_nogrant;
SELECT pg_temp.err(format('SELECT * FROM saas.export_tenant(%L)', :'acme'));
RESET ROLE;

-- ---------------------------------------------------------------------------
-- Import: the round trip.  Delete Acme, load its export back, compare.
-- ---------------------------------------------------------------------------
CREATE TEMP TABLE before_rows AS
SELECT t.table_name, md5(string_agg(x.r::text, ',' ORDER BY x.r::text)) AS digest, count(*) AS rows
  FROM saas.tenant_tables() t
  CROSS JOIN LATERAL (SELECT record AS r FROM acme_export e WHERE e.table_name = t.table_name) x
 GROUP BY t.table_name;
CREATE TEMP TABLE before_audit AS
SELECT id, to_jsonb(a) AS r FROM saas.audit_logs a WHERE organization_id = :'acme';
CREATE TEMP TABLE export AS SELECT table_name, record FROM acme_export ORDER BY n;
-- Refused: the organization still exists.
SELECT pg_temp.err($$SELECT * FROM saas.import_tenant('export')$$);
CALL saas.delete_tenant(:'acme', 2);
SELECT count(*) AS acme_rows_left FROM saas.users WHERE organization_id = :'acme';
-- Malformed exports are refused before anything is written.
CREATE TEMP TABLE not_an_export (table_name text, record json);
SELECT pg_temp.err($$SELECT * FROM saas.import_tenant('not_an_export')$$);
SELECT pg_temp.err($$SELECT * FROM saas.import_tenant(NULL)$$);
CREATE TEMP TABLE bad AS SELECT * FROM export;
INSERT INTO bad SELECT table_name, record FROM export WHERE table_name = 'saas.organizations';
SELECT pg_temp.err($$SELECT * FROM saas.import_tenant('bad')$$);
TRUNCATE bad; INSERT INTO bad SELECT * FROM export;
INSERT INTO bad VALUES ('lc.unknown', '{}');
SELECT pg_temp.err($$SELECT * FROM saas.import_tenant('bad')$$);
TRUNCATE bad; INSERT INTO bad SELECT * FROM export;
UPDATE bad SET record = record || '{"shoe_size": 44}' WHERE table_name = 'saas.users';
SELECT pg_temp.err($$SELECT * FROM saas.import_tenant('bad')$$);
TRUNCATE bad; INSERT INTO bad SELECT * FROM export;
UPDATE bad SET record = jsonb_set(record, '{organization_id}', to_jsonb(:'globex'::text)) WHERE table_name = 'saas.tags';
SELECT pg_temp.err($$SELECT * FROM saas.import_tenant('bad')$$);
-- An export missing rows that others reference: the foreign keys are checked.
TRUNCATE bad; INSERT INTO bad SELECT * FROM export WHERE NOT (table_name = 'lc.notes' AND record->>'body' = 'root');
SELECT pg_temp.err($$SELECT * FROM saas.import_tenant('bad')$$);
SELECT count(*) AS nothing_written FROM saas.organizations WHERE id = :'acme';
-- Not for the application role, nor for an administrator who may not set
-- session_replication_role.
GRANT SELECT ON export TO regress_lc_app, regress_lc_admin;
SET ROLE regress_lc_app;
SELECT pg_temp.err($$SELECT * FROM saas.import_tenant('export')$$);
RESET ROLE;
SET ROLE regress_lc_admin;
SELECT pg_temp.err($$SELECT * FROM saas.import_tenant('export')$$);
RESET ROLE;
-- The import.  The audit rows the deletion kept are not loaded twice.
CREATE TEMP TABLE pre_import_audit AS SELECT id FROM saas.audit_logs;
SELECT * FROM saas.import_tenant('export');
-- Every row back, identical (ids, keys, timestamps, ticket numbers, audit rows).
CREATE TEMP TABLE reexport AS SELECT * FROM saas.export_tenant(:'acme');
SELECT t.table_name, b.rows,
       b.digest = (SELECT md5(string_agg(x.record::text, ',' ORDER BY x.record::text))
                     FROM reexport AS x WHERE x.table_name = t.table_name) AS identical
  FROM saas.tenant_tables() t JOIN before_rows b USING (table_name) ORDER BY t.ordinal;
SELECT count(*) AS audit_rows_changed
  FROM before_audit b LEFT JOIN saas.audit_logs a ON a.id = b.id
 WHERE to_jsonb(a) IS DISTINCT FROM b.r;
-- No trigger ran on the imported rows.  The records the deletion had
-- deleted here got an INSERT audit row each (their history went on), and
-- the import its marker (the EXPORT is the re-export above).
SELECT table_name, action, count(*), min(metadata->>'operation') AS operation FROM saas.audit_logs
 WHERE id NOT IN (SELECT id FROM pre_import_audit) GROUP BY table_name, action ORDER BY table_name, action;
SELECT new_values->'rows'->>'saas.audit_logs' AS audit_rows_imported,
       new_values->'rows'->>'audit_rows_already_present' AS already_present,
       new_values->'rows'->>'records_recreated' AS records_recreated, metadata->>'source' AS source
  FROM saas.audit_logs WHERE action = 'IMPORT';
SHOW session_replication_role;
-- History works on the imported tenant.
SELECT action, changed_columns FROM saas.record_history('saas.users', :'wile');
SELECT saas.record_as_of('saas.users', :'wile', now())->>'email' AS wile_email;
-- Ticket numbers continue after the imported ones.
INSERT INTO saas.tickets (organization_id, title, created_by_id) VALUES (:'acme', 'after import', :'road') RETURNING number;

-- ---------------------------------------------------------------------------
-- Erasing a person.
-- ---------------------------------------------------------------------------
SELECT saas.declare_personal('lc.profiles', '{phone}');
SELECT * FROM saas.personal_columns();
-- Where Wile's personal values are before: his users row and its history,
-- his profile, a task text, a nested custom field, request metadata.
CREATE TEMP TABLE erased_strings (s text);
INSERT INTO erased_strings VALUES ('wile.coyote@acme.example'), ('wile@acme.example'), ('Wile E. Coyote'),
    ('+1 555 0100'), ('+1 555 0101');
SELECT s, (SELECT count(*) FROM saas.audit_logs a WHERE strpos(lower(a::text), lower(s)) > 0) AS audit_rows
  FROM erased_strings ORDER BY s;
CREATE TEMP TABLE history_before AS
SELECT a.id, a.table_name, a.record_id, a.action, a.user_id, a.changed_columns, a.created_at, a.transaction_id
  FROM saas.audit_logs a;
-- Refused to the application role and to roles that do not own the tables.
SET ROLE regress_lc_app;
SELECT pg_temp.err(format('SELECT saas.erase_user(%L)', :'wile'));
RESET ROLE;
GRANT USAGE ON SCHEMA saas TO regress_lc_nogrant;
GRANT EXECUTE ON FUNCTION saas.erase_user(uuid) TO regress_lc_nogrant;
SET ROLE regress_lc_nogrant;
SELECT pg_temp.err(format('SELECT saas.erase_user(%L)', :'wile'));
RESET ROLE;
REVOKE EXECUTE ON FUNCTION saas.erase_user(uuid) FROM regress_lc_nogrant;
REVOKE USAGE ON SCHEMA saas FROM regress_lc_nogrant;
SELECT pg_temp.err($$SELECT saas.erase_user(NULL)$$);
SELECT pg_temp.err($$SELECT saas.erase_user('00000000-0000-7000-8000-000000000000')$$);
-- An administrator subject to row-level security names the tenant first.
SET ROLE regress_lc_admin;
SELECT pg_temp.err(format('SELECT saas.erase_user(%L)', :'wile'));
BEGIN;
SELECT saas.set_tenant(:'acme') IS NOT NULL AS tenant_set;
SELECT saas.set_actor(:'road') IS NOT NULL AS actor_set;
SELECT saas.erase_user(:'wile') - 'user_id' AS erased;
COMMIT;
RESET ROLE;
-- The row: anonymised, deactivated, unusable password.
SELECT email = 'erased-' || id || '@erased.invalid' AS email_erased, full_name, password_hash, is_active
  FROM saas.users WHERE id = :'wile';
SELECT phone, bio FROM lc.profiles WHERE user_id = :'wile';
-- The audit log: no row of Acme's holds any of the erased strings any more
-- (searched as text, whole rows); Globex's row about Wile stays (erasure is
-- per tenant: the user record is Acme's)...
SELECT s, (SELECT count(*) FROM saas.audit_logs a WHERE strpos(lower(a::text), lower(s)) > 0
              AND a.organization_id = :'acme') AS acme_audit_rows,
          (SELECT count(*) FROM saas.audit_logs a WHERE strpos(lower(a::text), lower(s)) > 0
              AND a.organization_id <> :'acme') AS other_audit_rows
  FROM erased_strings ORDER BY s;
-- ...every row is still there, with what happened, when, by whom...
SELECT count(*) AS rows_lost FROM history_before h LEFT JOIN saas.audit_logs a USING (id) WHERE a.id IS NULL;
SELECT count(*) AS facts_changed
  FROM history_before h JOIN saas.audit_logs a USING (id)
 WHERE (a.table_name, a.record_id, a.action, a.user_id, a.changed_columns, a.created_at, a.transaction_id)
       IS DISTINCT FROM (h.table_name, h.record_id, h.action, h.user_id, h.changed_columns, h.created_at, h.transaction_id);
-- ...Wile's values are "[redacted]", everything else is kept.
SELECT action, old_values->>'email' AS old_email, new_values->>'email' AS new_email,
       new_values->>'full_name' AS full_name, new_values->>'role' AS role
  FROM saas.record_history('saas.users', :'wile');
SELECT new_values->>'description' AS description, new_values->'custom_fields' AS custom_fields
  FROM saas.audit_logs WHERE table_name = 'saas.tasks' AND action = 'INSERT' AND organization_id = :'acme'
 ORDER BY record_id;
SELECT metadata FROM saas.audit_logs WHERE user_id = :'wile' AND table_name = 'saas.tasks';
SELECT action, old_values->>'phone' AS old_phone, new_values->>'phone' AS new_phone, new_values->>'bio' AS bio
  FROM saas.audit_logs WHERE table_name = 'lc.profiles' ORDER BY id;
-- Road Runner and the other tenant are untouched.
SELECT new_values->>'description' AS globex_description FROM saas.audit_logs
 WHERE organization_id = :'globex' AND table_name = 'saas.tasks' AND new_values->>'description' IS NOT NULL;
SELECT new_values->>'email' AS email, new_values->>'full_name' AS full_name
  FROM saas.record_history('saas.users', :'road') WHERE action = 'INSERT';
SELECT saas.record_as_of('saas.users', :'hank', now())->>'full_name' AS hank;
SELECT saas.record_as_of('lc.profiles', (SELECT id FROM lc.profiles WHERE user_id = :'road'), now())->>'phone' AS road_phone;
-- The erasure's own audit row: who, when, how many.
SELECT table_name, record_id = :'wile' AS the_user, user_id = :'road' AS by_road, new_values - 'user_id' AS summary,
       metadata->>'operation' AS operation, metadata->>'current_user' AS db_role
  FROM saas.audit_logs WHERE action = 'REDACT';
-- It is the only way audit rows change: the guard still refuses the rest.
SELECT pg_temp.err($$UPDATE saas.audit_logs SET metadata = '{}'$$);
-- A second erasure finds nothing more to redact.
SELECT saas.erase_user(:'wile') - 'user_id' AS again;
-- A personal column erase_user cannot clear is an error, and nothing changes.
ALTER TABLE lc.profiles ADD COLUMN nickname text NOT NULL DEFAULT 'nick';
ALTER TABLE lc.profiles ALTER COLUMN nickname DROP DEFAULT;
SELECT saas.declare_personal('lc.profiles', '{nickname}');
SELECT pg_temp.err(format('SELECT saas.erase_user(%L)', :'road'));
ALTER TABLE lc.profiles DROP COLUMN nickname;
SELECT full_name FROM saas.users WHERE id = :'road';

-- ---------------------------------------------------------------------------
-- Deleting a tenant in batches.
-- ---------------------------------------------------------------------------
SELECT count(*) AS globex_audit_rows_before FROM saas.audit_logs WHERE organization_id = :'globex' \gset
SELECT pg_temp.err(format('CALL saas.delete_tenant(%L, 0)', :'globex'));
SELECT pg_temp.err($$CALL saas.delete_tenant(NULL)$$);
BEGIN;
SELECT pg_temp.err(format('CALL saas.delete_tenant(%L)', :'globex'));
ROLLBACK;
SET ROLE regress_lc_app;
SELECT pg_temp.err(format('CALL saas.delete_tenant(%L)', :'globex'));
RESET ROLE;
-- Notes that reference each other without a cascade go leaves first.
CREATE TEMP TABLE pre_delete_audit AS SELECT id FROM saas.audit_logs;
CALL saas.delete_tenant(:'acme', 1);
SELECT (SELECT count(*) FROM saas.organizations WHERE id = :'acme') AS organizations,
       (SELECT count(*) FROM lc.notes WHERE organization_id = :'acme') AS notes,
       (SELECT count(*) FROM lc.events WHERE organization_id = :'acme') AS events,
       (SELECT count(*) FROM saas.task_comments WHERE organization_id = :'acme') AS comments;
-- Every deleted row has its DELETE audit row, with no actor and no request
-- metadata (a deletion has no actor, and 0.5.0 records metadata only with
-- one); the tenant's earlier audit rows stay (until retention).
SELECT table_name, count(*) AS deleted, bool_and(user_id IS NULL AND metadata = '{}') AS no_actor_no_metadata
  FROM saas.audit_logs WHERE organization_id = :'acme' AND action = 'DELETE'
   AND id NOT IN (SELECT id FROM pre_delete_audit)
 GROUP BY table_name ORDER BY table_name;
-- One transaction per batch (batch_rows 1: one per row), the organization
-- row in the last one.
SELECT count(DISTINCT transaction_id) AS transactions, count(*) AS rows_deleted
  FROM saas.audit_logs WHERE organization_id = :'acme' AND action = 'DELETE'
   AND id NOT IN (SELECT id FROM pre_delete_audit);
SELECT count(*) AS audit_rows_kept FROM pre_delete_audit b JOIN saas.audit_logs a USING (id)
 WHERE a.organization_id = :'acme';
-- The administrator's path (row-level security applies to it; the
-- procedure sets the tenant itself).  Globex goes; nothing else changes.
SET ROLE regress_lc_admin;
CALL saas.delete_tenant(:'globex');
CALL saas.delete_tenant(:'globex');
RESET ROLE;
SELECT count(*) AS organizations_left FROM saas.organizations;
SELECT count(*) - :globex_audit_rows_before AS globex_delete_audit_rows
  FROM saas.audit_logs WHERE organization_id = :'globex';

-- ---------------------------------------------------------------------------
-- Maintenance: purging every soft-deletable table; scheduling without pg_cron.
-- ---------------------------------------------------------------------------
INSERT INTO saas.organizations (name, slug) VALUES ('Initech', 'initech') RETURNING id AS initech \gset
INSERT INTO saas.projects (organization_id, name, deleted_at) VALUES
    (:'initech', 'old', now() - interval '100 days'), (:'initech', 'recent', now() - interval '1 day');
SELECT tbl, purged FROM saas.purge_all_soft_deleted('90 days');
SELECT name FROM saas.projects;
SELECT pg_temp.err_detail($$SELECT * FROM saas.schedule_maintenance()$$);
SELECT pg_temp.err($$SELECT * FROM saas.schedule_maintenance(retention => '0 days')$$);
SELECT pg_temp.err($$SELECT * FROM saas.unschedule_maintenance()$$);
SET ROLE regress_lc_app;
SELECT pg_temp.err($$SELECT * FROM saas.schedule_maintenance()$$);
SELECT pg_temp.err($$SELECT * FROM saas.purge_all_soft_deleted()$$);
RESET ROLE;

-- The extension's new functions are recorded as shipped: lint is clean.
SELECT count(*) AS extension_findings FROM saas.lint() WHERE rule LIKE 'extension%';

-- Clean up the roles (the schemas stay for the next test to drop).
DROP OWNED BY regress_lc_app;
DROP OWNED BY regress_lc_admin;
DROP ROLE regress_lc_app;
DROP ROLE regress_lc_nogrant;
DROP ROLE regress_lc_admin;
