-- saas_schema 0.5.0 -> 0.4.0 (downgrade): the tables, views and the
-- ticket_status type become extension members again, registered with
-- pg_extension_config_dump for their rows, as 0.4.0 had them.  Rows and
-- customisations stay in the database, but from then on pg_dump dumps only
-- the rows of those tables, not what was added to them: dump with 0.5.0.
-- (A table of 0.4.0 that was dropped in the meantime stops the downgrade.)

-- What 0.4.0 has no place for stops the downgrade: the record of schema
-- changes.  Keep it first if it matters (pg_dump --table=saas.schema_changes),
-- then drop it.
DO $do$
BEGIN
    IF pg_catalog.to_regclass('saas.schema_changes') IS NOT NULL
       AND EXISTS (SELECT FROM saas.schema_changes) THEN
        RAISE EXCEPTION 'cannot downgrade to 0.4.0: saas.schema_changes holds records of schema changes'
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = '0.4.0 does not record schema changes and has no table for them.',
                  HINT = 'Keep them (pg_dump --table=saas.schema_changes), then DROP TABLE saas.schema_changes, and downgrade again.';
    END IF;
END
$do$;
DROP EVENT TRIGGER saas_schema_ddl_command_start;
DROP EVENT TRIGGER saas_schema_ddl_command_end;
DROP EVENT TRIGGER saas_schema_sql_drop;
DROP TABLE IF EXISTS saas.schema_changes;
DROP FUNCTION saas.schema_changes_guard();
DROP FUNCTION saas._record_schema_change();
DROP FUNCTION saas.revert_transaction(bigint, boolean);
DROP FUNCTION saas.revert_record(regclass, uuid, timestamptz);
DROP FUNCTION saas._audit_excluded_columns(regclass);
DROP FUNCTION saas._revert_note(jsonb);
DROP FUNCTION saas._revert_changes(jsonb);
DROP FUNCTION saas._revert_segment(regclass, integer);
DROP FUNCTION saas._revert_conflicts(regclass, text, integer);
DROP FUNCTION saas._revert_tenant_column(regclass);
DROP FUNCTION saas._revert_key_columns(regclass);

ALTER EXTENSION saas_schema ADD TYPE saas.ticket_status;
ALTER EXTENSION saas_schema ADD TABLE saas.organizations;
ALTER EXTENSION saas_schema ADD TABLE saas.users;
ALTER EXTENSION saas_schema ADD TABLE saas.projects;
ALTER EXTENSION saas_schema ADD TABLE saas.tasks;
ALTER EXTENSION saas_schema ADD TABLE saas.task_comments;
ALTER EXTENSION saas_schema ADD TABLE saas.tags;
ALTER EXTENSION saas_schema ADD TABLE saas.task_tags;
ALTER EXTENSION saas_schema ADD TABLE saas.ticket_categories;
ALTER EXTENSION saas_schema ADD TABLE saas.tickets;
ALTER EXTENSION saas_schema ADD TABLE saas.ticket_comments;
ALTER EXTENSION saas_schema ADD TABLE saas.ticket_tags;
ALTER EXTENSION saas_schema ADD TABLE saas.audit_logs;
ALTER EXTENSION saas_schema ADD TABLE saas.audit_logs_default;
ALTER EXTENSION saas_schema ADD VIEW saas.active_projects;
ALTER EXTENSION saas_schema ADD VIEW saas.active_tasks;
ALTER EXTENSION saas_schema ADD VIEW saas.active_task_comments;
ALTER EXTENSION saas_schema ADD VIEW saas.active_tickets;
ALTER EXTENSION saas_schema ADD VIEW saas.active_ticket_comments;
SELECT pg_catalog.pg_extension_config_dump('saas.organizations', '');
SELECT pg_catalog.pg_extension_config_dump('saas.users', '');
SELECT pg_catalog.pg_extension_config_dump('saas.projects', '');
SELECT pg_catalog.pg_extension_config_dump('saas.tasks', '');
SELECT pg_catalog.pg_extension_config_dump('saas.task_comments', '');
SELECT pg_catalog.pg_extension_config_dump('saas.tags', '');
SELECT pg_catalog.pg_extension_config_dump('saas.task_tags', '');
SELECT pg_catalog.pg_extension_config_dump('saas.ticket_categories', '');
SELECT pg_catalog.pg_extension_config_dump('saas.tickets', '');
SELECT pg_catalog.pg_extension_config_dump('saas.ticket_comments', '');
SELECT pg_catalog.pg_extension_config_dump('saas.ticket_tags', '');
SELECT pg_catalog.pg_extension_config_dump('saas.audit_logs', '');
SELECT pg_catalog.pg_extension_config_dump('saas.audit_logs_default', '');

-- record_history returns SETOF saas.audit_logs again, with its grants.
ALTER FUNCTION saas.record_history(pg_catalog.regclass, uuid) RENAME TO _record_history_replaced;
--#create record_history
SELECT saas._regrant('saas.record_history(pg_catalog.regclass, uuid)',
                    (SELECT p.proacl FROM pg_catalog.pg_proc AS p
                      WHERE p.oid = 'saas._record_history_replaced(pg_catalog.regclass, uuid)'::pg_catalog.regprocedure));
DROP FUNCTION saas._record_history_replaced(pg_catalog.regclass, uuid);

-- Anyone may create triggers running saas.audit_trigger() again, as in
-- 0.4.0.  Its ACL goes back to the default (NULL, with no initial-privileges
-- record), exactly as a fresh 0.4.0 install has it: a GRANT to PUBLIC would
-- give the same privileges, spelled out.  (Grants made to other roles in
-- 0.5.0 add nothing to PUBLIC's.)
UPDATE pg_catalog.pg_proc SET proacl = NULL
 WHERE oid OPERATOR(pg_catalog.=) 'saas.audit_trigger()'::pg_catalog.regprocedure;
DELETE FROM pg_catalog.pg_init_privs
 WHERE objoid OPERATOR(pg_catalog.=) 'saas.audit_trigger()'::pg_catalog.regprocedure
   AND classoid OPERATOR(pg_catalog.=) 'pg_catalog.pg_proc'::pg_catalog.regclass
   AND objsubid OPERATOR(pg_catalog.=) 0;

-- The monthly partitions of saas.audit_logs go back to what 0.4.0 made:
-- without row-level security of their own (audit_logs_default keeps its
-- own, as in 0.4.0).  The policies the update to 0.5.0 and
-- audit_create_partitions copied from the parent are dropped, and row-level
-- security is switched off where no other policy remains.  This reopens
-- those partitions to any role granted SELECT on one of them, as in 0.4.0:
-- grant SELECT on saas.audit_logs only.
DO $$
DECLARE
    part pg_catalog.regclass;
    pol pg_catalog.name;
BEGIN
    FOR part IN
        SELECT i.inhrelid::pg_catalog.regclass FROM pg_catalog.pg_inherits AS i
         WHERE i.inhparent OPERATOR(pg_catalog.=) 'saas.audit_logs'::pg_catalog.regclass
           AND i.inhrelid OPERATOR(pg_catalog.<>) 'saas.audit_logs_default'::pg_catalog.regclass
         ORDER BY i.inhrelid
    LOOP
        FOR pol IN
            SELECT p.polname FROM pg_catalog.pg_policy AS p
             WHERE p.polrelid OPERATOR(pg_catalog.=) part
               AND p.polname OPERATOR(pg_catalog.=) ANY (SELECT q.polname FROM pg_catalog.pg_policy AS q
                                                         WHERE q.polrelid OPERATOR(pg_catalog.=) 'saas.audit_logs'::pg_catalog.regclass)
        LOOP
            EXECUTE pg_catalog.format('DROP POLICY %I ON %s', pol, part);
        END LOOP;
        IF NOT EXISTS (SELECT FROM pg_catalog.pg_policy AS p WHERE p.polrelid OPERATOR(pg_catalog.=) part) THEN
            EXECUTE pg_catalog.format('ALTER TABLE %s NO FORCE ROW LEVEL SECURITY', part);
            EXECUTE pg_catalog.format('ALTER TABLE %s DISABLE ROW LEVEL SECURITY', part);
        END IF;
    END LOOP;
END
$$;
DROP FUNCTION saas._audit_partition_security(regclass);
DROP FUNCTION saas._regrant(regprocedure, aclitem[]);
DROP FUNCTION saas._release_data_objects();
DROP FUNCTION saas.repair_extension_member(text);
DROP FUNCTION saas._record_extension_functions(name[]);
DROP FUNCTION saas._shipped_functions();
DROP FUNCTION saas._function_definition(regprocedure);
DROP FUNCTION saas._allow_member_repair();
DROP FUNCTION saas._remember_pristine_objects();
DROP FUNCTION saas._ddl_command_start();
DROP FUNCTION saas._certify_actor();

-- 0.4.0's comments on the audit columns, unless the DBA wrote their own.
DO $$
DECLARE
    c record;
BEGIN
    FOR c IN SELECT * FROM (VALUES
        ('user_id', 'The actor: app.current_user_id when it names an active user of the current tenant (what saas.set_actor checks), else NULL.', 'app.current_user_id of the session, NULL when unset.'),
        ('changed_columns', 'UPDATE family: changed columns in column order (excluded columns by name only, never their values); NULL for INSERT and DELETE.', 'UPDATE family: changed columns in column order; NULL for INSERT and DELETE.'),
        ('metadata', 'app.request_metadata (a JSON object) when there is an actor (see user_id), else {}.', 'app.request_metadata of the session (a JSON object), {} when unset.')) AS v(col, old_text, new_text)
    LOOP
        IF pg_catalog.col_description('saas.audit_logs'::pg_catalog.regclass,
               (SELECT a.attnum FROM pg_catalog.pg_attribute a
                 WHERE a.attrelid = 'saas.audit_logs'::pg_catalog.regclass AND a.attname = c.col))
           OPERATOR(pg_catalog.=) c.old_text THEN
            EXECUTE pg_catalog.format('COMMENT ON COLUMN saas.audit_logs.%I IS %L', c.col, c.new_text);
        END IF;
    END LOOP;
END
$$;
