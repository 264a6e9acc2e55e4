-- Soft delete and restore: cascades to soft-deletable children, restores
-- exactly what was cascaded, refuses bad input; active-row views; purge.
SET client_min_messages = warning;
DROP SCHEMA IF EXISTS saas CASCADE;
CREATE EXTENSION saas_schema CASCADE;
DO $$ BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'regress_saas_sd') THEN
        DROP OWNED BY regress_saas_sd; DROP ROLE regress_saas_sd;
    END IF;
END $$;
RESET client_min_messages;
SELECT current_user AS superuser \gset
CREATE ROLE regress_saas_sd LOGIN;
SELECT saas.grant_app_access('regress_saas_sd');
\set VERBOSITY terse
\set ON_ERROR_ROLLBACK on
\set A '00000000-0000-7000-8000-00000000000a'
\set B '00000000-0000-7000-8000-00000000000b'
\set P '00000000-0000-7000-8000-0000000000f1'
\set T1 '00000000-0000-7000-8000-0000000000e1'
\set T2 '00000000-0000-7000-8000-0000000000e2'
\set T3 '00000000-0000-7000-8000-0000000000e3'
\set U '00000000-0000-7000-8000-0000000000a1'
\set K '00000000-0000-7000-8000-0000000000c1'

INSERT INTO saas.organizations (id, name, slug) VALUES (:'A', 'A', 'a'), (:'B', 'B', 'b');
INSERT INTO saas.users (organization_id, id, email, password_hash) VALUES
    (:'A', :'U', 'u@a.example', 'h'), (:'B', '00000000-0000-7000-8000-0000000000b1', 'u@b.example', 'h');
INSERT INTO saas.projects (organization_id, id, name) VALUES (:'A', :'P', 'P'),
    (:'B', '00000000-0000-7000-8000-0000000000f2', 'B project');
INSERT INTO saas.tasks (organization_id, id, project_id, title) VALUES
    (:'A', :'T1', :'P', 'T1'), (:'A', :'T2', :'P', 'T2'), (:'A', :'T3', :'P', 'T3');
INSERT INTO saas.task_comments (organization_id, id, task_id, parent_id, author_id, body) VALUES
    (:'A', '00000000-0000-7000-8000-00000000cc01', :'T1', NULL, :'U', 'on T1'),
    (:'A', '00000000-0000-7000-8000-00000000cc02', :'T1', '00000000-0000-7000-8000-00000000cc01', :'U', 'reply on T1'),
    (:'A', '00000000-0000-7000-8000-00000000cc03', :'T2', NULL, :'U', 'on T2'),
    (:'A', '00000000-0000-7000-8000-00000000cc04', :'T3', NULL, :'U', 'on T3');
INSERT INTO saas.tickets (organization_id, id, title, created_by_id) VALUES (:'A', :'K', 'K', :'U');
INSERT INTO saas.ticket_comments (organization_id, id, ticket_id, parent_id, author_id, body) VALUES
    (:'A', '00000000-0000-7000-8000-00000000dd01', :'K', NULL, :'U', 'on K'),
    (:'A', '00000000-0000-7000-8000-00000000dd02', :'K', '00000000-0000-7000-8000-00000000dd01', :'U', 'reply on K');

-- Everything below runs as the application role.
\c - regress_saas_sd
CREATE TEMP VIEW state AS
SELECT 'project' AS kind, name AS label, deleted_at IS NOT NULL AS deleted, deleted_by_id IS NOT NULL AS by_actor FROM saas.projects
UNION ALL SELECT 'task', title, deleted_at IS NOT NULL, deleted_by_id IS NOT NULL FROM saas.tasks
UNION ALL SELECT 'task_comment', body, deleted_at IS NOT NULL, deleted_by_id IS NOT NULL FROM saas.task_comments
UNION ALL SELECT 'ticket', title, deleted_at IS NOT NULL, deleted_by_id IS NOT NULL FROM saas.tickets
UNION ALL SELECT 'ticket_comment', body, deleted_at IS NOT NULL, deleted_by_id IS NOT NULL FROM saas.ticket_comments;

BEGIN;
SELECT saas.set_tenant(:'A') IS NOT NULL AS tenant, saas.set_actor(:'U') IS NOT NULL AS actor;
-- T3 is deleted on its own first (its comment goes with it).
SELECT saas.soft_delete('saas.tasks', :'T3') AS rows_deleted;
-- Deleting the project cascades to its active tasks and their comments.
SELECT saas.soft_delete('saas.projects', :'P') AS rows_deleted;
SELECT * FROM state ORDER BY kind, label;
-- One stamp per call: the project's cascade shares one deleted_at, T3's differs.
SELECT count(DISTINCT deleted_at) AS stamps FROM saas.tasks;
SELECT (SELECT count(*) FROM saas.active_tasks) AS active_tasks,
       (SELECT count(*) FROM saas.active_task_comments) AS active_task_comments;
-- Restoring the project reverses exactly that cascade: T3 stays deleted.
SELECT saas.restore('saas.projects', :'P') AS rows_restored;
SELECT * FROM state ORDER BY kind, label;
-- Then T3 can be restored on its own, with its comment.
SELECT saas.restore('saas.tasks', :'T3') AS rows_restored;
SELECT count(*) FILTER (WHERE deleted) AS still_deleted FROM state;
-- Tickets and their threaded comments.
SELECT saas.soft_delete('saas.tickets', :'K') AS rows_deleted;
SELECT kind, label, deleted FROM state WHERE kind LIKE 'ticket%' ORDER BY 1, 2;
SELECT saas.restore('saas.tickets', :'K') AS rows_restored;
-- A comment with a reply: the reply follows it.
SELECT saas.soft_delete('saas.task_comments', '00000000-0000-7000-8000-00000000cc01') AS rows_deleted;
SELECT saas.restore('saas.task_comments', '00000000-0000-7000-8000-00000000cc01') AS rows_restored;
-- A task restored while its project is deleted is refused.
SELECT saas.soft_delete('saas.projects', :'P') AS rows_deleted;
SELECT saas.restore('saas.tasks', :'T1');
SELECT saas.restore('saas.projects', :'P') AS rows_restored;
COMMIT;

-- Errors.
BEGIN;
SELECT saas.soft_delete('saas.tasks', :'T1');                           -- no tenant set
SELECT saas.set_tenant(:'A') IS NOT NULL AS tenant;
SELECT saas.soft_delete('saas.tags', :'T1');                            -- table without the columns
SELECT saas.soft_delete('saas.active_tasks', :'T1');                    -- not a table
SELECT saas.soft_delete(NULL, :'T1');
SELECT saas.soft_delete('saas.tasks', NULL);
SELECT saas.soft_delete('saas.tasks', '00000000-0000-7000-8000-0000000000ff');  -- unknown id
SELECT saas.soft_delete('saas.projects', '00000000-0000-7000-8000-0000000000f2'); -- tenant B's row
SELECT saas.restore('saas.projects', '00000000-0000-7000-8000-0000000000f2');     -- tenant B's row
SELECT saas.restore('saas.tasks', :'T1');                               -- not deleted
SELECT saas.soft_delete('saas.tasks', :'T1') AS rows_deleted;
SELECT saas.soft_delete('saas.tasks', :'T1');                           -- already deleted
-- Without an actor, deleted_by_id stays NULL.
SELECT deleted_by_id IS NULL AS no_actor FROM saas.tasks WHERE id = :'T1';
ROLLBACK;
BEGIN;
SET LOCAL app.current_tenant_id = '00000000-0000-7000-8000-00000000000a';
SET LOCAL app.current_user_id = 'bogus';
SELECT saas.soft_delete('saas.tasks', :'T1');                           -- malformed actor
ROLLBACK;

-- Active-row views use the partial indexes.
BEGIN;
SELECT saas.set_tenant(:'A') IS NOT NULL AS tenant;
SET LOCAL enable_seqscan = off;
EXPLAIN (COSTS OFF) SELECT id FROM saas.active_tasks WHERE project_id = :'P';
EXPLAIN (COSTS OFF) SELECT id FROM saas.active_tickets ORDER BY created_at DESC LIMIT 10;
ROLLBACK;
-- Views obey row-level security: no tenant, nothing.
SELECT count(*) AS visible_without_tenant FROM saas.active_tasks;

-- Purge: only rows deleted before the cutoff, audited like any delete.
\c - :superuser
UPDATE saas.tasks SET deleted_at = now() - interval '100 days' WHERE id = :'T2';
UPDATE saas.tasks SET deleted_at = now() - interval '10 days' WHERE id = :'T3';
SELECT saas.purge_soft_deleted('saas.tasks') AS purged_90_days;
SELECT title FROM saas.tasks ORDER BY title;
SELECT count(*) AS t2_comments_left FROM saas.task_comments WHERE task_id = :'T2';
SELECT saas.purge_soft_deleted('saas.tasks', '1 day') AS purged_1_day;
SELECT saas.purge_soft_deleted('saas.tasks', '-1 day');
SELECT saas.purge_soft_deleted('saas.tags');
\c - regress_saas_sd
SELECT saas.purge_soft_deleted('saas.tasks');                           -- admin only

\c - :superuser
DROP SCHEMA saas CASCADE;
DROP OWNED BY regress_saas_sd;
DROP ROLE regress_saas_sd;
