-- Every CHECK / FK / UNIQUE of the schema rejects bad data with the right
-- SQLSTATE and constraint, and accepts good data.
SET client_min_messages = warning;
DROP SCHEMA IF EXISTS saas CASCADE;
CREATE EXTENSION saas_schema CASCADE;
RESET client_min_messages;

-- Runs a statement that must fail; shows SQLSTATE and the constraint hit.
CREATE FUNCTION pg_temp.rejects(stmt text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE st text; con text;
BEGIN
    EXECUTE stmt;
    RETURN 'ACCEPTED (expected an error)';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, con = CONSTRAINT_NAME;
    RETURN st || ' ' || coalesce(nullif(con, ''), '-');
END $$;

-- Two tenants with fixed ids so expected output is stable.
INSERT INTO saas.organizations (id, name, slug, plan) VALUES
    ('00000000-0000-7000-8000-00000000000a', 'Acme', 'acme', 'pro'),
    ('00000000-0000-7000-8000-00000000000b', 'Beta Corp', 'beta-corp', 'free');
\set A '''00000000-0000-7000-8000-00000000000a'''
\set B '''00000000-0000-7000-8000-00000000000b'''
INSERT INTO saas.users (id, organization_id, email, password_hash, full_name, role, age) VALUES
    ('00000000-0000-7000-8000-0000000000a1', :A, 'Alice@Acme.example', 'h', 'Alice', 'owner', 30),
    ('00000000-0000-7000-8000-0000000000a2', :A, 'bob@acme.example', 'h', 'Bob', 'member', NULL),
    ('00000000-0000-7000-8000-0000000000b1', :B, 'carol@beta.example', 'h', 'Carol', 'admin', 120);
INSERT INTO saas.projects (id, organization_id, name, created_by_id) VALUES
    ('00000000-0000-7000-8000-00000000a0a1', :A, 'Launch', '00000000-0000-7000-8000-0000000000a1'),
    ('00000000-0000-7000-8000-00000000b0b1', :B, 'Beta project', NULL);
INSERT INTO saas.tasks (id, organization_id, project_id, assignee_id, title, priority, due_date) VALUES
    ('00000000-0000-7000-8000-0000000a0001', :A, '00000000-0000-7000-8000-00000000a0a1',
     '00000000-0000-7000-8000-0000000000a2', 'Write docs', 1, '2026-12-01'),
    ('00000000-0000-7000-8000-0000000b0001', :B, '00000000-0000-7000-8000-00000000b0b1',
     NULL, 'Beta task', 5, NULL);
INSERT INTO saas.task_comments (id, organization_id, task_id, parent_id, author_id, body) VALUES
    ('00000000-0000-7000-8000-000000ac0001', :A, '00000000-0000-7000-8000-0000000a0001', NULL,
     '00000000-0000-7000-8000-0000000000a1', 'First!'),
    ('00000000-0000-7000-8000-000000ac0002', :A, '00000000-0000-7000-8000-0000000a0001',
     '00000000-0000-7000-8000-000000ac0001', '00000000-0000-7000-8000-0000000000a2', 'A reply');
INSERT INTO saas.tags (id, organization_id, name, color) VALUES
    ('00000000-0000-7000-8000-0000000a7a91', :A, 'urgent', '#FF0000'),
    ('00000000-0000-7000-8000-0000000b7a91', :B, 'urgent', '#00ff00');
INSERT INTO saas.task_tags (organization_id, task_id, tag_id) VALUES
    (:A, '00000000-0000-7000-8000-0000000a0001', '00000000-0000-7000-8000-0000000a7a91');
INSERT INTO saas.ticket_categories (id, organization_id, name, color, display_order) VALUES
    ('00000000-0000-7000-8000-0000000ac001', :A, 'Billing', '#123abc', 1);
INSERT INTO saas.tickets (id, organization_id, title, status, priority, category_id, assignee_id, created_by_id, custom_fields) VALUES
    ('00000000-0000-7000-8000-0000000a7001', :A, 'Cannot pay', 'open', 'high',
     '00000000-0000-7000-8000-0000000ac001', '00000000-0000-7000-8000-0000000000a2',
     '00000000-0000-7000-8000-0000000000a1', '{"department": "Billing"}');
INSERT INTO saas.ticket_comments (id, organization_id, ticket_id, parent_id, author_id, body, is_internal) VALUES
    ('00000000-0000-7000-8000-00000a7c0001', :A, '00000000-0000-7000-8000-0000000a7001', NULL,
     '00000000-0000-7000-8000-0000000000a2', 'Looking into it', true);
INSERT INTO saas.ticket_tags (organization_id, ticket_id, tag_id) VALUES
    (:A, '00000000-0000-7000-8000-0000000a7001', '00000000-0000-7000-8000-0000000a7a91');

-- Good data went in; defaults are what the schema promises.
SELECT plan, (SELECT count(*) FROM saas.users u WHERE u.organization_id = o.id) AS users
FROM saas.organizations o ORDER BY slug;
SELECT role, is_active FROM saas.users WHERE email = 'bob@acme.example';
SELECT status, priority, custom_fields FROM saas.tasks WHERE title = 'Beta task';
SELECT status, priority FROM saas.tickets;
-- citext: lookups and uniqueness ignore case.
SELECT full_name FROM saas.users WHERE email = 'ALICE@acme.EXAMPLE';

-- organizations
SELECT pg_temp.rejects($$INSERT INTO saas.organizations (name, slug) VALUES ('X', 'acme')$$) AS dup_slug;
SELECT pg_temp.rejects($$INSERT INTO saas.organizations (name, slug) VALUES ('X', 'Bad Slug')$$) AS slug_space;
SELECT pg_temp.rejects($$INSERT INTO saas.organizations (name, slug) VALUES ('X', '-lead')$$) AS slug_leading_hyphen;
SELECT pg_temp.rejects($$INSERT INTO saas.organizations (name, slug) VALUES ('X', 'trail-')$$) AS slug_trailing_hyphen;
SELECT pg_temp.rejects($$INSERT INTO saas.organizations (name, slug) VALUES ('X', '')$$) AS slug_empty;
SELECT pg_temp.rejects($$INSERT INTO saas.organizations (name, slug) VALUES ('   ', 'blank-name')$$) AS name_blank;
SELECT pg_temp.rejects($$INSERT INTO saas.organizations (name, slug, plan) VALUES ('X', 'x', 'platinum')$$) AS bad_plan;
SELECT pg_temp.rejects($$INSERT INTO saas.organizations (name, slug) VALUES (NULL, 'x')$$) AS null_name;
SELECT pg_temp.rejects($$INSERT INTO saas.organizations (name, slug) VALUES ('X', repeat('a', 81))$$) AS slug_too_long;
-- accepted edge cases
INSERT INTO saas.organizations (name, slug, plan) VALUES ('One', 'a', 'starter'), ('Two', 'a-1-b', 'enterprise');

-- users
SELECT pg_temp.rejects($$INSERT INTO saas.users (organization_id, email, password_hash) VALUES ('00000000-0000-7000-8000-00000000000a', 'ALICE@ACME.EXAMPLE', 'h')$$) AS dup_email_case_insensitive;
SELECT pg_temp.rejects($$INSERT INTO saas.users (organization_id, email, password_hash) VALUES ('00000000-0000-7000-8000-00000000000a', 'not-an-email', 'h')$$) AS email_no_at;
SELECT pg_temp.rejects($$INSERT INTO saas.users (organization_id, email, password_hash) VALUES ('00000000-0000-7000-8000-00000000000a', 'a@b', 'h')$$) AS email_no_tld;
SELECT pg_temp.rejects($$INSERT INTO saas.users (organization_id, email, password_hash) VALUES ('00000000-0000-7000-8000-00000000000a', 'a b@c.de', 'h')$$) AS email_space;
SELECT pg_temp.rejects($$INSERT INTO saas.users (organization_id, email, password_hash) VALUES ('00000000-0000-7000-8000-00000000000a', repeat('a', 250) || '@x.io', 'h')$$) AS email_too_long;
SELECT pg_temp.rejects($$INSERT INTO saas.users (organization_id, email, password_hash) VALUES ('00000000-0000-7000-8000-00000000000a', 'z@acme.example', '')$$) AS empty_hash;
SELECT pg_temp.rejects($$INSERT INTO saas.users (organization_id, email, password_hash, role) VALUES ('00000000-0000-7000-8000-00000000000a', 'z@acme.example', 'h', 'superuser')$$) AS bad_role;
SELECT pg_temp.rejects($$INSERT INTO saas.users (organization_id, email, password_hash, age) VALUES ('00000000-0000-7000-8000-00000000000a', 'z@acme.example', 'h', 12)$$) AS age_12;
SELECT pg_temp.rejects($$INSERT INTO saas.users (organization_id, email, password_hash, age) VALUES ('00000000-0000-7000-8000-00000000000a', 'z@acme.example', 'h', 121)$$) AS age_121;
SELECT pg_temp.rejects($$INSERT INTO saas.users (organization_id, email, password_hash) VALUES ('00000000-0000-7000-8000-0000000000ff', 'z@acme.example', 'h')$$) AS unknown_org;
SELECT pg_temp.rejects($$INSERT INTO saas.users (organization_id, email, password_hash) VALUES (NULL, 'z@acme.example', 'h')$$) AS null_org;
-- the same email in another organization is fine; age 13 is fine
INSERT INTO saas.users (organization_id, email, password_hash, age)
VALUES (:B, 'alice@acme.example', 'h', 13), (:A, 'first.last+tag@sub.acme.example', 'h', NULL);

-- projects
SELECT pg_temp.rejects($$INSERT INTO saas.projects (organization_id, name, status) VALUES ('00000000-0000-7000-8000-00000000000a', 'P', 'done')$$) AS bad_status;
SELECT pg_temp.rejects($$INSERT INTO saas.projects (organization_id, name) VALUES ('00000000-0000-7000-8000-00000000000a', ' ')$$) AS blank_name;
SELECT pg_temp.rejects($$INSERT INTO saas.projects (organization_id, name, created_by_id) VALUES ('00000000-0000-7000-8000-00000000000a', 'P', '00000000-0000-7000-8000-0000000000b1')$$) AS creator_of_other_tenant;
SELECT pg_temp.rejects($$INSERT INTO saas.projects (organization_id, name, deleted_by_id) VALUES ('00000000-0000-7000-8000-00000000000a', 'P', '00000000-0000-7000-8000-0000000000a1')$$) AS deleted_by_without_deleted_at;

-- tasks
SELECT pg_temp.rejects($$INSERT INTO saas.tasks (organization_id, project_id, title) VALUES ('00000000-0000-7000-8000-00000000000a', '00000000-0000-7000-8000-00000000b0b1', 'T')$$) AS task_in_a_on_project_of_b;
SELECT pg_temp.rejects($$INSERT INTO saas.tasks (organization_id, project_id, title, assignee_id) VALUES ('00000000-0000-7000-8000-00000000000a', '00000000-0000-7000-8000-00000000a0a1', 'T', '00000000-0000-7000-8000-0000000000b1')$$) AS assignee_of_other_tenant;
SELECT pg_temp.rejects($$INSERT INTO saas.tasks (organization_id, project_id, title, status) VALUES ('00000000-0000-7000-8000-00000000000a', '00000000-0000-7000-8000-00000000a0a1', 'T', 'blocked')$$) AS bad_status;
SELECT pg_temp.rejects($$INSERT INTO saas.tasks (organization_id, project_id, title, priority) VALUES ('00000000-0000-7000-8000-00000000000a', '00000000-0000-7000-8000-00000000a0a1', 'T', 0)$$) AS priority_0;
SELECT pg_temp.rejects($$INSERT INTO saas.tasks (organization_id, project_id, title, priority) VALUES ('00000000-0000-7000-8000-00000000000a', '00000000-0000-7000-8000-00000000a0a1', 'T', 6)$$) AS priority_6;
SELECT pg_temp.rejects($$INSERT INTO saas.tasks (organization_id, project_id, title, custom_fields) VALUES ('00000000-0000-7000-8000-00000000000a', '00000000-0000-7000-8000-00000000a0a1', 'T', '[1,2]')$$) AS custom_fields_array;
SELECT pg_temp.rejects($$INSERT INTO saas.tasks (organization_id, project_id, title) VALUES ('00000000-0000-7000-8000-00000000000a', '00000000-0000-7000-8000-00000000a0a1', '')$$) AS empty_title;

-- task_comments
SELECT pg_temp.rejects($$INSERT INTO saas.task_comments (organization_id, task_id, author_id, body) VALUES ('00000000-0000-7000-8000-00000000000a', '00000000-0000-7000-8000-0000000b0001', '00000000-0000-7000-8000-0000000000a1', 'x')$$) AS comment_on_other_tenants_task;
SELECT pg_temp.rejects($$INSERT INTO saas.task_comments (organization_id, task_id, author_id, body) VALUES ('00000000-0000-7000-8000-00000000000a', '00000000-0000-7000-8000-0000000a0001', '00000000-0000-7000-8000-0000000000b1', 'x')$$) AS author_of_other_tenant;
SELECT pg_temp.rejects($$INSERT INTO saas.task_comments (organization_id, task_id, author_id, body) VALUES ('00000000-0000-7000-8000-00000000000a', '00000000-0000-7000-8000-0000000a0001', '00000000-0000-7000-8000-0000000000a1', '  ')$$) AS blank_body;
SELECT pg_temp.rejects($$INSERT INTO saas.task_comments (organization_id, task_id, parent_id, author_id, body) VALUES ('00000000-0000-7000-8000-00000000000a', '00000000-0000-7000-8000-0000000a0001', '00000000-0000-7000-8000-0000000000ff', '00000000-0000-7000-8000-0000000000a1', 'x')$$) AS unknown_parent;
SELECT pg_temp.rejects($$UPDATE saas.task_comments SET parent_id = id WHERE body = 'First!'$$) AS own_parent;

-- A reply must sit on its parent's task: a second task in A, then a reply
-- on it to a comment of the first task is refused.
INSERT INTO saas.tasks (id, organization_id, project_id, title) VALUES
    ('00000000-0000-7000-8000-0000000a0002', :A, '00000000-0000-7000-8000-00000000a0a1', 'Second');
SELECT pg_temp.rejects($$INSERT INTO saas.task_comments (organization_id, task_id, parent_id, author_id, body) VALUES ('00000000-0000-7000-8000-00000000000a', '00000000-0000-7000-8000-0000000a0002', '00000000-0000-7000-8000-000000ac0001', '00000000-0000-7000-8000-0000000000a1', 'x')$$) AS reply_on_other_task;
-- Moving a row to another tenant breaks its composite references.
SELECT pg_temp.rejects($$UPDATE saas.tasks SET organization_id = '00000000-0000-7000-8000-00000000000b' WHERE title = 'Second'$$) AS move_task_to_other_tenant;

-- tags, task_tags
SELECT pg_temp.rejects($$INSERT INTO saas.tags (organization_id, name) VALUES ('00000000-0000-7000-8000-00000000000a', 'urgent')$$) AS dup_tag_name;
SELECT pg_temp.rejects($$INSERT INTO saas.tags (organization_id, name, color) VALUES ('00000000-0000-7000-8000-00000000000a', 't', 'red')$$) AS color_name;
SELECT pg_temp.rejects($$INSERT INTO saas.tags (organization_id, name, color) VALUES ('00000000-0000-7000-8000-00000000000a', 't', '#12345')$$) AS color_short;
SELECT pg_temp.rejects($$INSERT INTO saas.tags (organization_id, name, color) VALUES ('00000000-0000-7000-8000-00000000000a', 't', '#12345G')$$) AS color_not_hex;
SELECT pg_temp.rejects($$INSERT INTO saas.task_tags (organization_id, task_id, tag_id) VALUES ('00000000-0000-7000-8000-00000000000a', '00000000-0000-7000-8000-0000000a0001', '00000000-0000-7000-8000-0000000a7a91')$$) AS dup_task_tag;
SELECT pg_temp.rejects($$INSERT INTO saas.task_tags (organization_id, task_id, tag_id) VALUES ('00000000-0000-7000-8000-00000000000a', '00000000-0000-7000-8000-0000000a0001', '00000000-0000-7000-8000-0000000b7a91')$$) AS tag_of_other_tenant;

-- ticket_categories, tickets, ticket_comments, ticket_tags
SELECT pg_temp.rejects($$INSERT INTO saas.ticket_categories (organization_id, name) VALUES ('00000000-0000-7000-8000-00000000000a', 'Billing')$$) AS dup_category;
SELECT pg_temp.rejects($$INSERT INTO saas.ticket_categories (organization_id, name, display_order) VALUES ('00000000-0000-7000-8000-00000000000a', 'X', -1)$$) AS negative_order;
SELECT pg_temp.rejects($$INSERT INTO saas.ticket_categories (organization_id, name, color) VALUES ('00000000-0000-7000-8000-00000000000a', 'X', 'blue')$$) AS category_color;
SELECT pg_temp.rejects($$INSERT INTO saas.tickets (organization_id, title, created_by_id, status) VALUES ('00000000-0000-7000-8000-00000000000a', 'T', '00000000-0000-7000-8000-0000000000a1', 'resolved')$$) AS bad_enum_status;
SELECT pg_temp.rejects($$INSERT INTO saas.tickets (organization_id, title, created_by_id, priority) VALUES ('00000000-0000-7000-8000-00000000000a', 'T', '00000000-0000-7000-8000-0000000000a1', 'p1')$$) AS bad_priority;
SELECT pg_temp.rejects($$INSERT INTO saas.tickets (organization_id, title) VALUES ('00000000-0000-7000-8000-00000000000a', 'T')$$) AS missing_creator;
SELECT pg_temp.rejects($$INSERT INTO saas.tickets (organization_id, title, created_by_id) VALUES ('00000000-0000-7000-8000-00000000000b', 'T', '00000000-0000-7000-8000-0000000000a1')$$) AS creator_of_other_tenant;
SELECT pg_temp.rejects($$INSERT INTO saas.tickets (organization_id, title, created_by_id, category_id) VALUES ('00000000-0000-7000-8000-00000000000b', 'T', '00000000-0000-7000-8000-0000000000b1', '00000000-0000-7000-8000-0000000ac001')$$) AS category_of_other_tenant;
SELECT pg_temp.rejects($$INSERT INTO saas.tickets (organization_id, title, created_by_id, custom_fields) VALUES ('00000000-0000-7000-8000-00000000000a', 'T', '00000000-0000-7000-8000-0000000000a1', '"text"')$$) AS custom_fields_scalar;
SELECT pg_temp.rejects($$INSERT INTO saas.ticket_comments (organization_id, ticket_id, author_id, body) VALUES ('00000000-0000-7000-8000-00000000000b', '00000000-0000-7000-8000-0000000a7001', '00000000-0000-7000-8000-0000000000b1', 'x')$$) AS comment_on_other_tenants_ticket;
SELECT pg_temp.rejects($$INSERT INTO saas.ticket_tags (organization_id, ticket_id, tag_id) VALUES ('00000000-0000-7000-8000-00000000000b', '00000000-0000-7000-8000-0000000a7001', '00000000-0000-7000-8000-0000000b7a91')$$) AS ticket_tag_other_tenant;

-- Delete behaviour.  Users are referenced with NO ACTION: deleting one still
-- referenced is refused (deactivate instead).
SELECT pg_temp.rejects($$DELETE FROM saas.users WHERE email = 'bob@acme.example'$$) AS delete_referenced_user;
SELECT pg_temp.rejects($$DELETE FROM saas.ticket_categories WHERE name = 'Billing'$$) AS delete_category_in_use;
UPDATE saas.users SET is_active = false WHERE email = 'bob@acme.example';
-- Deleting a comment deletes its replies; deleting a project its tasks,
-- their comments and tag links.
DELETE FROM saas.task_comments WHERE body = 'First!';
SELECT count(*) AS comments_left FROM saas.task_comments;
DELETE FROM saas.projects WHERE name = 'Launch';
SELECT (SELECT count(*) FROM saas.tasks WHERE organization_id = :A) AS a_tasks,
       (SELECT count(*) FROM saas.task_tags) AS task_tags,
       (SELECT count(*) FROM saas.tasks WHERE organization_id = :B) AS b_tasks;
CREATE FUNCTION pg_temp.count_rows(tbl regclass, org uuid) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE n bigint;
BEGIN
    EXECUTE format('SELECT count(*) FROM %s WHERE %I = $1', tbl,
                   CASE WHEN tbl = 'saas.organizations'::regclass THEN 'id' ELSE 'organization_id' END)
        INTO n USING org;
    RETURN n;
END $$;
-- Before:
SELECT c.relname, pg_temp.count_rows(c.oid, :A) AS acme_rows, pg_temp.count_rows(c.oid, :B) AS beta_rows
FROM pg_class c
WHERE c.relnamespace = 'saas'::regnamespace AND c.relkind = 'r'
  AND c.relname NOT IN ('audit_logs', 'schema_changes')  -- logs, not tenant tables
  AND NOT c.relispartition
ORDER BY c.relname;
-- Deleting an organization removes all of its rows (users included, even
-- though other rows reference them: NO ACTION is checked at statement end)
-- and nothing of the other tenant's.
DELETE FROM saas.organizations WHERE slug = 'acme';
-- After:
SELECT c.relname, pg_temp.count_rows(c.oid, :A) AS acme_rows, pg_temp.count_rows(c.oid, :B) AS beta_rows
FROM pg_class c
WHERE c.relnamespace = 'saas'::regnamespace AND c.relkind = 'r'
  AND c.relname NOT IN ('audit_logs', 'schema_changes')  -- logs, not tenant tables
  AND NOT c.relispartition
ORDER BY c.relname;
