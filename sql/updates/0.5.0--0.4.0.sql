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
DECLARE
    recorded boolean := false;
BEGIN
    -- (Dynamic: the DBA may have dropped the table, as the hint says.)
    IF pg_catalog.to_regclass('saas.schema_changes') IS NOT NULL THEN
        EXECUTE 'SELECT EXISTS (SELECT FROM saas.schema_changes)' INTO recorded;
    END IF;
    IF recorded THEN
        RAISE EXCEPTION 'cannot downgrade to 0.4.0: saas.schema_changes holds records of schema changes'
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = '0.4.0 does not record schema changes and has no table for them.',
                  HINT = 'Keep them (pg_dump --table=saas.schema_changes), then DROP TABLE saas.schema_changes, and downgrade again.';
    END IF;
END
$do$;

-- 0.4.0 keeps its tables as members on every node, the Citus workers
-- included, where its distribute() uses them as Citus' shell tables.  Since
-- 0.5.0 a worker has tables only once they are distributed (Citus makes
-- them): before that, or on a worker Citus is adding (its CREATE EXTENSION
-- ... VERSION '0.4.0' runs the 0.5.0 install script, then this), there is
-- nothing to take back, and the downgrade stops here with a reason instead
-- of a missing type half-way through.
DO $do$
DECLARE
    local_group integer;
BEGIN
    IF EXISTS (SELECT FROM pg_catalog.pg_extension AS e WHERE e.extname = 'citus') THEN
        EXECUTE 'SELECT g.groupid FROM pg_catalog.pg_dist_local_group AS g' INTO local_group;
        IF local_group IS DISTINCT FROM 0 AND pg_catalog.to_regclass('saas.organizations') IS NULL THEN
            RAISE EXCEPTION 'saas_schema 0.4.0 needs its tables on every Citus worker, and this worker (group %) has none', local_group
                USING ERRCODE = 'object_not_in_prerequisite_state',
                      DETAIL = 'Since 0.5.0, Citus makes the workers'' tables when saas.distribute() distributes them; 0.4.0 expects copies made by CREATE EXTENSION.',
                      HINT = 'Downgrade a Citus cluster only after saas.distribute(), and add workers only on 0.5.0 or later.';
        END IF;
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
DROP FUNCTION saas._revert_join_strategy(bigint);
DROP FUNCTION saas._revert_key_columns(regclass);

-- Tenant lifecycle and TRUNCATE.  0.4.0 knows none of the actions REDACT,
-- EXPORT, IMPORT and TRUNCATE: such audit rows become UPDATE rows with the action kept in
-- metadata.saas_schema_action (the update to 0.5.0 maps them back), so that
-- the downgrade loses no audit row.  Their table_name (saas.audit_logs, or
-- saas.organizations with no record_id) keeps them out of every record's
-- history.
-- It refuses rather than lose something: a lifecycle row whose metadata
-- already holds saas_schema_action (it would be overwritten), or pg_cron
-- jobs of this database calling a function dropped below (they would fail).
-- (One DO block: Citus forwards a top-level statement of an extension
-- script to the workers as the text of the whole script.)
DO $do$
DECLARE
    n bigint;
    jobs text;
    distributed boolean := false;
    coordinator boolean := true;
    saved text[];
BEGIN
    -- On Citus with audit_logs distributed, the coordinator's queries read
    -- and change the rows of every shard; a worker, running this script as a
    -- command the coordinator sent, leaves the rows to it (Citus refuses a
    -- distributed query there) and changes only its table's definition.
    IF pg_catalog.to_regclass('pg_catalog.pg_dist_partition') IS NOT NULL THEN
        EXECUTE 'SELECT EXISTS (SELECT FROM pg_catalog.pg_dist_partition AS p WHERE p.logicalrelid OPERATOR(pg_catalog.=) $1), '
                '(SELECT g.groupid OPERATOR(pg_catalog.=) 0 FROM pg_catalog.pg_dist_local_group AS g)'
            INTO distributed, coordinator USING 'saas.audit_logs'::pg_catalog.regclass;
    END IF;
    IF coordinator OR NOT distributed THEN
        SELECT pg_catalog.count(*) INTO n FROM saas.audit_logs AS a
         WHERE a.action IN ('REDACT', 'EXPORT', 'IMPORT', 'TRUNCATE') AND a.metadata OPERATOR(pg_catalog.?) 'saas_schema_action';
        IF n OPERATOR(pg_catalog.>) 0 THEN
            RAISE EXCEPTION 'saas_schema 0.5.0 -> 0.4.0: % REDACT/EXPORT/IMPORT/TRUNCATE audit rows have a metadata key saas_schema_action', n
                USING ERRCODE = 'object_not_in_prerequisite_state',
                      DETAIL = 'The downgrade keeps such rows as UPDATE rows naming their action in that key, which would overwrite the value they hold.',
                      HINT = 'Stay on 0.5.0, or export those rows first (SELECT * FROM saas.audit_logs WHERE action IN (''REDACT'', ''EXPORT'', ''IMPORT'', ''TRUNCATE'') AND metadata ? ''saas_schema_action'').';
        END IF;
    END IF;
    IF pg_catalog.to_regclass('cron.job') IS NOT NULL THEN
        EXECUTE $q$SELECT pg_catalog.string_agg(pg_catalog.format('%s (%s)', j.jobname, j.jobid), ', ' ORDER BY j.jobid)
                     FROM cron.job AS j
                    WHERE j.database OPERATOR(pg_catalog.=) pg_catalog.current_database()
                      AND j.command OPERATOR(pg_catalog.~*) 'saas\.("?)(purge_all_soft_deleted|schedule_maintenance|unschedule_maintenance|erase_user|export_tenant|import_tenant|delete_tenant|declare_personal|personal_columns|tenant_tables)\M'$q$
            INTO jobs;
        IF jobs IS NOT NULL THEN
            RAISE EXCEPTION 'saas_schema 0.5.0 -> 0.4.0: pg_cron jobs call tenant lifecycle functions that 0.4.0 does not have: %', jobs
                USING ERRCODE = 'dependent_objects_still_exist',
                      HINT = 'SELECT saas.unschedule_maintenance(); (or cron.unschedule() the jobs) first.';
        END IF;
    END IF;

    IF distributed THEN
        -- The guard on the shards needs the maintenance flag: SET LOCAL
        -- reaches the workers with citus.propagate_set_commands.  One
        -- connection a worker: Citus runs the ALTER TABLE after the UPDATE
        -- only over the connections the UPDATE used.
        saved := ARRAY[pg_catalog.current_setting('citus.propagate_set_commands'),
                       pg_catalog.current_setting('citus.multi_shard_modify_mode')];
        PERFORM pg_catalog.set_config('citus.propagate_set_commands', 'local', true);
        PERFORM pg_catalog.set_config('citus.multi_shard_modify_mode', 'sequential', true);
    END IF;
    EXECUTE 'ALTER TABLE saas.audit_logs DROP CONSTRAINT IF EXISTS chk_audit_logs_action';
    IF coordinator OR NOT distributed THEN
        SET LOCAL saas_audit.partition_maintenance = on;
        UPDATE saas.audit_logs AS a
           -- (jsonb_object, not the STABLE jsonb_build_object: Citus refuses
           -- STABLE functions of columns in an UPDATE of a distributed table.)
           SET metadata = a.metadata OPERATOR(pg_catalog.||)
                          pg_catalog.jsonb_object(ARRAY['saas_schema_action', a.action]),
               action = 'UPDATE'
         WHERE a.action IN ('REDACT', 'EXPORT', 'IMPORT', 'TRUNCATE');
        SET LOCAL saas_audit.partition_maintenance = off;
    END IF;
    EXECUTE $sql$ALTER TABLE saas.audit_logs ADD CONSTRAINT chk_audit_logs_action
        CHECK (action IN ('INSERT', 'UPDATE', 'DELETE', 'SOFT_DELETE', 'RESTORE'))$sql$;
    IF distributed THEN
        PERFORM pg_catalog.set_config('citus.propagate_set_commands', saved[1], true);
        PERFORM pg_catalog.set_config('citus.multi_shard_modify_mode', saved[2], true);
    END IF;
END
$do$;
-- The default personal columns go (labels the DBA added elsewhere stay).
DO $do$
DECLARE
    col name;
BEGIN
    FOR col IN
        SELECT a.attname FROM pg_catalog.pg_attribute AS a
         WHERE a.attrelid = pg_catalog.to_regclass('saas.users') AND a.attname IN ('email', 'full_name')
           AND NOT a.attisdropped
         ORDER BY a.attname
    LOOP
        EXECUTE pg_catalog.format('SECURITY LABEL FOR saas_schema ON COLUMN saas.users.%I IS NULL', col);
    END LOOP;
END
$do$;
DROP FUNCTION saas.unschedule_maintenance();
DROP FUNCTION saas.schedule_maintenance(interval, interval, text);
DROP FUNCTION saas._maintenance_without_cron(interval, interval, text);
DROP FUNCTION saas._maintenance_jobs(interval, interval, text);
DROP FUNCTION saas.purge_all_soft_deleted(interval);
DROP PROCEDURE saas.delete_tenant(uuid, integer);
DROP FUNCTION saas._delete_tenant_finish(uuid);
DROP FUNCTION saas._delete_tenant_batch(uuid, regclass, integer);
DROP FUNCTION saas._delete_tenant_start(uuid, integer);
DROP FUNCTION saas._delete_tenant_context(uuid);
DROP FUNCTION saas.erase_user(uuid);
DROP FUNCTION saas._person_link(regclass, boolean);
DROP FUNCTION saas._redact_jsonb(jsonb, text[], text[], text[]);
DROP FUNCTION saas._redact_text(text, text[]);
DROP FUNCTION saas.declare_personal(regclass, name[], boolean);
DROP FUNCTION saas.personal_columns();
DROP FUNCTION saas.import_tenant(regclass);
DROP FUNCTION saas.export_tenant(uuid);
DROP FUNCTION saas._audit_export(uuid, jsonb, jsonb);
DROP FUNCTION saas._export_query(regclass, name);
DROP FUNCTION saas.tenant_tables();
DROP FUNCTION saas._lifecycle_metadata(text);
DROP FUNCTION saas._require_admin(text);
DROP FUNCTION saas._require_no_transaction_block(text);

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

-- TRUNCATE is no longer audited: the truncate triggers go, enable_audit
-- takes its 0.4.0 arguments again, with its grants.
DO $do$
DECLARE
    trg record;
BEGIN
    -- On Citus the audited tables are distributed (see the update to 0.5.0).
    IF EXISTS (SELECT FROM pg_catalog.pg_extension AS e WHERE e.extname OPERATOR(pg_catalog.=) 'citus') THEN
        PERFORM pg_catalog.set_config('citus.enable_unsafe_triggers', 'on', true);
    END IF;
    FOR trg IN
        SELECT t.tgname, t.tgrelid::pg_catalog.regclass AS tbl FROM pg_catalog.pg_trigger AS t
         WHERE t.tgparentid OPERATOR(pg_catalog.=) 0
           AND t.tgname IN ('saas_audit_truncate', 'saas_audit_no_truncate')
           AND t.tgfoid IN ('saas.audit_trigger()'::pg_catalog.regprocedure,
                            'saas.audit_refuse_truncate()'::pg_catalog.regprocedure)
    LOOP
        EXECUTE pg_catalog.format('DROP TRIGGER %I ON %s', trg.tgname, trg.tbl);
    END LOOP;
END
$do$;
DROP FUNCTION saas.audit_refuse_truncate();
ALTER FUNCTION saas.enable_audit(pg_catalog.regclass, text[], text, text, text) RENAME TO _enable_audit_replaced;
--#create enable_audit
SELECT saas._regrant('saas.enable_audit(pg_catalog.regclass, text[], text, text)',
                    (SELECT p.proacl FROM pg_catalog.pg_proc AS p
                      WHERE p.oid = 'saas._enable_audit_replaced(pg_catalog.regclass, text[], text, text, text)'::pg_catalog.regprocedure));
DROP FUNCTION saas._enable_audit_replaced(pg_catalog.regclass, text[], text, text, text);

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
DROP FUNCTION saas._drop_tables_on_citus_worker();
DROP FUNCTION saas._register_citus_tables();
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
        ('metadata', 'app.request_metadata (a JSON object) when there is an actor (see user_id), else {}.', 'app.request_metadata of the session (a JSON object), {} when unset.'),
        ('action', 'INSERT, UPDATE, DELETE; an UPDATE setting deleted_at from NULL is SOFT_DELETE, the reverse RESTORE. Tenant lifecycle: REDACT (saas.erase_user), EXPORT, IMPORT.', 'INSERT, UPDATE, DELETE; an UPDATE setting deleted_at from NULL is SOFT_DELETE, the reverse RESTORE.')) AS v(col, old_text, new_text)
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
