-- saas_schema 0.4.0 -> 0.5.0: the tables, views and the ticket_status type
-- become the DBA's (see sql/schema/95_ownership.sql): they stop being
-- extension members, so pg_dump dumps their definitions and every
-- customisation, and DROP EXTENSION can no longer drop a row.  Rows,
-- columns, indexes, constraints, triggers, policies, comments and grants all
-- stay exactly as they are.

-- record_history's result becomes a column list instead of SETOF
-- saas.audit_logs (a function of the extension must not depend on a table
-- that is not).  The result type changes, so the function is created anew
-- (the old one renamed out of the way, then dropped) with the grants the
-- old one had.
ALTER FUNCTION saas.record_history(pg_catalog.regclass, uuid) RENAME TO _record_history_replaced;
--#create record_history
--#create _regrant
SELECT saas._regrant('saas.record_history(pg_catalog.regclass, uuid)',
                    (SELECT p.proacl FROM pg_catalog.pg_proc AS p
                      WHERE p.oid = 'saas._record_history_replaced(pg_catalog.regclass, uuid)'::pg_catalog.regprocedure));
DROP FUNCTION saas._record_history_replaced(pg_catalog.regclass, uuid);

--#create _ddl_command_start
--#create _remember_pristine_objects
--#create _allow_member_repair

--#create _shipped_functions
--#create _function_definition
--#create _record_extension_functions
--#create repair_extension_member
--#create _release_data_objects
--#create _certify_actor
--#create _drop_tables_on_citus_worker
--#create _register_citus_tables

-- Tenant lifecycle (sql/schema/75_tenant_lifecycle.sql).  The audit log
-- gets three actions: REDACT (saas.erase_user), EXPORT and IMPORT.  Rows a
-- downgrade to 0.4.0 relabelled (UPDATE, with the action kept in
-- metadata.saas_schema_action) get their action back first; the CHECK is
-- then validated against every row.
-- (One DO block, ALTER TABLE through EXECUTE: Citus forwards a top-level
-- statement of an extension script to the workers as the text of the whole
-- script.)
DO $do$
DECLARE
    distributed boolean := false;
    coordinator boolean := true;
    saved text[];
BEGIN
    -- On Citus with audit_logs distributed, the coordinator's UPDATE changes
    -- the rows of every shard; a worker, running this script as a command
    -- the coordinator sent, leaves them to it (Citus refuses a distributed
    -- query there) and changes only its table's definition.
    IF pg_catalog.to_regclass('pg_catalog.pg_dist_partition') IS NOT NULL THEN
        EXECUTE 'SELECT EXISTS (SELECT FROM pg_catalog.pg_dist_partition AS p WHERE p.logicalrelid OPERATOR(pg_catalog.=) $1), '
                '(SELECT g.groupid OPERATOR(pg_catalog.=) 0 FROM pg_catalog.pg_dist_local_group AS g)'
            INTO distributed, coordinator USING 'saas.audit_logs'::pg_catalog.regclass;
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
           SET action = a.metadata OPERATOR(pg_catalog.->>) 'saas_schema_action',
               metadata = a.metadata OPERATOR(pg_catalog.-) 'saas_schema_action'::text
         WHERE a.action OPERATOR(pg_catalog.=) 'UPDATE'
           AND a.metadata OPERATOR(pg_catalog.?) 'saas_schema_action'
           AND ((a.metadata OPERATOR(pg_catalog.->>) 'saas_schema_action' IN ('REDACT', 'EXPORT', 'IMPORT')
                 AND (a.table_name OPERATOR(pg_catalog.=) 'saas.audit_logs'
                      OR (a.table_name OPERATOR(pg_catalog.=) 'saas.organizations' AND a.record_id IS NULL)))
                -- a TRUNCATE row: no record, no new values (an UPDATE always has them)
                OR (a.metadata OPERATOR(pg_catalog.->>) 'saas_schema_action' OPERATOR(pg_catalog.=) 'TRUNCATE'
                    AND a.record_id IS NULL AND a.new_values IS NULL
                    AND a.old_values OPERATOR(pg_catalog.?) 'rows'));
        SET LOCAL saas_audit.partition_maintenance = off;
    END IF;
    -- (One action a line, as in sql/schema/40_audit.sql.)
    EXECUTE $sql$ALTER TABLE saas.audit_logs ADD CONSTRAINT chk_audit_logs_action CHECK (action IN (
          'INSERT'
        , 'UPDATE'
        , 'DELETE'
        , 'SOFT_DELETE'
        , 'RESTORE'
        , 'REDACT'
        , 'EXPORT'
        , 'IMPORT'
        , 'TRUNCATE'
    ))$sql$;
    IF distributed THEN
        PERFORM pg_catalog.set_config('citus.propagate_set_commands', saved[1], true);
        PERFORM pg_catalog.set_config('citus.multi_shard_modify_mode', saved[2], true);
    END IF;
END
$do$;

--#create _require_no_transaction_block
--#create _require_admin
--#create _lifecycle_metadata
--#create tenant_tables
--#create _export_query
--#create _audit_export
--#create export_tenant
--#create import_tenant
--#create personal_columns
--#create declare_personal
--#create _redact_text
--#create _redact_jsonb
--#create _person_link
--#create erase_user
--#create _delete_tenant_context
--#create _delete_tenant_start
--#create _delete_tenant_batch
--#create _delete_tenant_finish
--#create delete_tenant
--#create purge_all_soft_deleted
--#create _maintenance_jobs
--#create _maintenance_without_cron
--#create schedule_maintenance
--#create unschedule_maintenance

-- saas.grant_app_access() grants the application role EXECUTE on the new
-- tenant functions too: roles it already gave EXECUTE on saas.set_tenant
-- get the same on them now, as grants pg_dump dumps.
SELECT saas._regrant(f.fn, (SELECT pg_catalog.array_agg(pg_catalog.makeaclitem(a.grantee, a.grantor, a.privilege_type,
                                                                               a.is_grantable))
                              FROM pg_catalog.pg_proc AS p CROSS JOIN LATERAL pg_catalog.aclexplode(p.proacl) AS a
                             WHERE p.oid = 'saas.set_tenant(uuid)'::pg_catalog.regprocedure
                               AND a.grantee OPERATOR(pg_catalog.<>) 0 AND a.grantee OPERATOR(pg_catalog.<>) p.proowner))
  FROM pg_catalog.unnest(ARRAY['saas.tenant_tables()', 'saas.export_tenant(uuid)',
                               'saas._audit_export(uuid, jsonb, jsonb)']::pg_catalog.regprocedure[]) AS f(fn);

-- The personal columns every install starts with (those the DBA kept).
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
        EXECUTE pg_catalog.format('SECURITY LABEL FOR saas_schema ON COLUMN saas.users.%I IS ''personal''', col);
    END LOOP;
END
$do$;

-- Schema changes of audited tables are recorded (42_audit_ddl.sql): the
-- table, its guard, the event trigger function.  The event triggers are
-- created at the end, after the tables are released.
CREATE TABLE saas.schema_changes (
    id                 uuid         NOT NULL DEFAULT saas.uuid_generate_v7(),
    table_name         text         NOT NULL,
    command_tag        text         NOT NULL,
    object_type        text         NOT NULL,
    object_identity    text         NOT NULL,
    role_name          name         NOT NULL DEFAULT current_user,
    session_role_name  name         NOT NULL DEFAULT session_user,
    transaction_id     bigint       NOT NULL DEFAULT pg_catalog.txid_current(),
    created_at         timestamptz  NOT NULL DEFAULT pg_catalog.clock_timestamp(),
    CONSTRAINT pk_schema_changes PRIMARY KEY (id)
);
CREATE INDEX idx_schema_changes_table_name ON saas.schema_changes (table_name, created_at);
COMMENT ON TABLE saas.schema_changes IS 'Append-only record of schema changes (DDL) of audited tables, written by an event trigger.';
COMMENT ON COLUMN saas.schema_changes.table_name IS 'The audited table the change concerns (schema.table).';
COMMENT ON COLUMN saas.schema_changes.command_tag IS 'The command, e.g. ALTER TABLE, DROP TRIGGER.';
COMMENT ON COLUMN saas.schema_changes.object_identity IS 'The object the command created, changed or dropped (pg_identify_object).';
COMMENT ON COLUMN saas.schema_changes.role_name IS 'current_user when the command ran.';
COMMENT ON COLUMN saas.schema_changes.session_role_name IS 'session_user when the command ran (the login, whatever SET ROLE).';
--#create schema_changes_guard
CREATE TRIGGER schema_changes_append_only BEFORE UPDATE OR DELETE ON saas.schema_changes
    FOR EACH ROW EXECUTE FUNCTION saas.schema_changes_guard();
CREATE TRIGGER schema_changes_no_truncate BEFORE TRUNCATE ON saas.schema_changes
    FOR EACH STATEMENT EXECUTE FUNCTION saas.schema_changes_guard();
--#create _record_schema_change

-- Undo from the audit log (45_undo.sql).
--#create _revert_key_columns
--#create _revert_tenant_column
--#create _revert_join_strategy
--#create _revert_segment
--#create _revert_conflicts
--#create _revert_changes
--#create _revert_note
--#create _audit_excluded_columns
--#create revert_record
--#create revert_transaction

-- Every other function is created again as 0.5.0 ships it, so that what
-- saas._extension_functions records as shipped is what the extension
-- shipped, whatever was changed by hand before.
--#replace uuid_generate_v7
--#replace uuid_v7_to_timestamptz
--#replace uuid_v7_lower_bound
--#replace assign_ticket_number
--#replace set_updated_at
--#replace enable_updated_at
--#replace disable_updated_at
--#replace audit_logs_guard
--#replace audit_create_partitions
--#replace audit_drop_partitions
--#replace audit_trigger
--#replace audit_table_name
--#replace disable_audit
--#create audit_refuse_truncate
-- enable_audit gains on_truncate: a new signature, with the old one's grants.
ALTER FUNCTION saas.enable_audit(pg_catalog.regclass, text[], text, text) RENAME TO _enable_audit_replaced;
--#create enable_audit
SELECT saas._regrant('saas.enable_audit(pg_catalog.regclass, text[], text, text, text)',
                    (SELECT p.proacl FROM pg_catalog.pg_proc AS p
                      WHERE p.oid = 'saas._enable_audit_replaced(pg_catalog.regclass, text[], text, text)'::pg_catalog.regprocedure));
DROP FUNCTION saas._enable_audit_replaced(pg_catalog.regclass, text[], text, text);
-- Audited tables record TRUNCATE from now on (the default of 0.5.0): the
-- same function with the same arguments as the table's audit trigger, read
-- from tgargs (each argument followed by a NUL byte).
DO $do$
DECLARE
    trg record;
    rest bytea;
    pos integer;
    args text;
BEGIN
    -- On Citus the audited tables are distributed: their triggers are
    -- created the way saas.distribute() creates them.
    IF EXISTS (SELECT FROM pg_catalog.pg_extension AS e WHERE e.extname OPERATOR(pg_catalog.=) 'citus') THEN
        PERFORM pg_catalog.set_config('citus.enable_unsafe_triggers', 'on', true);
    END IF;
    FOR trg IN
        SELECT DISTINCT ON (t.tgrelid) t.tgrelid::pg_catalog.regclass AS tbl, t.tgnargs, t.tgargs
          FROM pg_catalog.pg_trigger AS t
         WHERE t.tgparentid OPERATOR(pg_catalog.=) 0
           AND t.tgfoid OPERATOR(pg_catalog.=) 'saas.audit_trigger()'::pg_catalog.regprocedure
           AND t.tgname IN ('saas_audit', 'saas_audit_insert', 'saas_audit_update', 'saas_audit_delete')
           AND NOT EXISTS (SELECT FROM pg_catalog.pg_trigger AS x
                            WHERE x.tgrelid OPERATOR(pg_catalog.=) t.tgrelid
                              AND x.tgname IN ('saas_audit_truncate', 'saas_audit_no_truncate'))
         ORDER BY t.tgrelid, t.tgname
    LOOP
        rest := trg.tgargs;
        args := NULL;
        FOR i IN 1 .. trg.tgnargs LOOP
            pos := pg_catalog.position(rest, pg_catalog.decode('00', 'hex'));  -- POSITION(x IN rest)
            EXIT WHEN pos OPERATOR(pg_catalog.=) 0;
            args := COALESCE(args OPERATOR(pg_catalog.||) ', ', '')
                    OPERATOR(pg_catalog.||) pg_catalog.quote_literal(
                        pg_catalog.convert_from(pg_catalog.substr(rest, 1, pos OPERATOR(pg_catalog.-) 1),
                                                pg_catalog.getdatabaseencoding()));
            rest := pg_catalog.substr(rest, pos OPERATOR(pg_catalog.+) 1);
        END LOOP;
        CONTINUE WHEN args IS NULL;  -- not installed by enable_audit: left alone
        EXECUTE pg_catalog.format('CREATE TRIGGER saas_audit_truncate BEFORE TRUNCATE ON %s '
                                  'FOR EACH STATEMENT EXECUTE FUNCTION saas.audit_trigger(%s)', trg.tbl, args);
    END LOOP;
END
$do$;
--#replace record_as_of
--#replace current_tenant_id
--#replace _require_transaction_block
--#replace set_tenant
--#replace set_actor
--#replace _tenant_column
--#replace enable_tenant_isolation
--#replace disable_tenant_isolation
--#replace grant_app_access
--#replace _app_functions
--#replace current_actor_id
--#replace _check_soft_deletable
--#replace _soft_delete_children
--#replace _soft_delete_cascade
--#replace _soft_delete_target
--#replace soft_delete
--#replace restore
--#replace purge_soft_deleted
--#replace set_not_null_safely
--#replace lint
--#replace _mask_volatile
--#replace audit_trail
--#replace distribute
--#changed-functions

-- Partitions of saas.audit_logs made by audit_create_partitions before 0.5.0
-- have no row-level security of their own (only audit_logs and
-- audit_logs_default had it): a role granted SELECT on one read every
-- tenant's rows there.  They get the parent's (enabled, forced, its
-- policies), as 0.5.0 gives every new partition.
--#create _audit_partition_security
SELECT saas._audit_partition_security(i.inhrelid::pg_catalog.regclass)
  FROM pg_catalog.pg_inherits AS i
 WHERE i.inhparent = 'saas.audit_logs'::pg_catalog.regclass
 ORDER BY i.inhrelid;

SELECT saas._record_extension_functions(NULL);

CREATE EVENT TRIGGER saas_schema_ddl_command_start ON ddl_command_start
    EXECUTE FUNCTION saas._ddl_command_start();
ALTER EVENT TRIGGER saas_schema_ddl_command_start ENABLE ALWAYS;
CREATE EVENT TRIGGER saas_schema_ddl_command_end ON ddl_command_end
    EXECUTE FUNCTION saas._record_schema_change();
CREATE EVENT TRIGGER saas_schema_sql_drop ON sql_drop
    EXECUTE FUNCTION saas._record_schema_change();
COMMENT ON EVENT TRIGGER saas_schema_ddl_command_start IS
    'saas_schema: lets a restore replace the tables CREATE EXTENSION made; refuses changes pg_dump would lose.';

-- The audit columns whose meaning 0.5.0 sharpens (the actor must be one
-- saas.set_actor would accept; excluded columns are named when they
-- change): new comments, unless the DBA wrote their own.
DO $$
DECLARE
    c record;
BEGIN
    FOR c IN SELECT * FROM (VALUES
        ('user_id', 'app.current_user_id of the session, NULL when unset.', 'The actor: app.current_user_id when it names an active user of the current tenant (what saas.set_actor checks), else NULL.'),
        ('changed_columns', 'UPDATE family: changed columns in column order; NULL for INSERT and DELETE.', 'UPDATE family: changed columns in column order (excluded columns by name only, never their values); NULL for INSERT and DELETE.'),
        ('metadata', 'app.request_metadata of the session (a JSON object), {} when unset.', 'app.request_metadata (a JSON object) when there is an actor (see user_id), else {}.'),
        ('action', 'INSERT, UPDATE, DELETE; an UPDATE setting deleted_at from NULL is SOFT_DELETE, the reverse RESTORE.', 'INSERT, UPDATE, DELETE; an UPDATE setting deleted_at from NULL is SOFT_DELETE, the reverse RESTORE. Tenant lifecycle: REDACT (saas.erase_user), EXPORT, IMPORT.')) AS v(col, old_text, new_text)
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

-- Last, once nothing above needs the tables any more: on a Citus worker,
-- the copies of the tables CREATE EXTENSION made there go unless they were
-- distributed already (then they are Citus' shell tables): Citus makes the
-- workers' tables from now on (docs/citus.md).  saas.schema_changes goes in
-- either case: schema changes are recorded on the coordinator, and a worker
-- installed with 0.5.0 has no such table either.
DO $do$
DECLARE
    local_group integer;
BEGIN
    IF EXISTS (SELECT FROM pg_catalog.pg_extension AS e WHERE e.extname OPERATOR(pg_catalog.=) 'citus') THEN
        EXECUTE 'SELECT g.groupid FROM pg_catalog.pg_dist_local_group AS g' INTO local_group;
        IF local_group OPERATOR(pg_catalog.<>) 0 THEN
            DROP TABLE saas.schema_changes;
        END IF;
    END IF;
END
$do$;
SELECT saas._drop_tables_on_citus_worker();

-- The tables become ordinary tables; their pg_extension_config_dump
-- registrations go with their membership.
SELECT saas._release_data_objects();

-- Distributed tables, no longer the extension's, become Citus distributed
-- objects, so that a worker added later gets them from Citus.
SELECT saas._register_citus_tables();
