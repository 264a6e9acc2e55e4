-- saas_schema 0.5.0 -> 0.4.0 (downgrade): the tables, views and the
-- ticket_status type become extension members again, registered with
-- pg_extension_config_dump for their rows, as 0.4.0 had them.  Rows and
-- customisations stay in the database, but from then on pg_dump dumps only
-- the rows of those tables, not what was added to them: dump with 0.5.0.
-- (A table of 0.4.0 that was dropped in the meantime stops the downgrade.)

DROP EVENT TRIGGER saas_schema_ddl_command_start;

-- Tenant lifecycle.  0.4.0 knows none of the actions REDACT, EXPORT and
-- IMPORT: such audit rows become UPDATE rows with the action kept in
-- metadata.saas_schema_action (the update to 0.5.0 maps them back), so that
-- the downgrade loses no audit row.  Their table_name (saas.audit_logs, or
-- saas.organizations with no record_id) keeps them out of every record's
-- history.
ALTER TABLE saas.audit_logs DROP CONSTRAINT IF EXISTS chk_audit_logs_action;
SET LOCAL saas_audit.partition_maintenance = on;
UPDATE saas.audit_logs AS a
   SET metadata = a.metadata OPERATOR(pg_catalog.||)
                  pg_catalog.jsonb_build_object('saas_schema_action', a.action),
       action = 'UPDATE'
 WHERE a.action IN ('REDACT', 'EXPORT', 'IMPORT');
SET LOCAL saas_audit.partition_maintenance = off;
ALTER TABLE saas.audit_logs ADD CONSTRAINT chk_audit_logs_action
    CHECK (action IN ('INSERT', 'UPDATE', 'DELETE', 'SOFT_DELETE', 'RESTORE'));
COMMENT ON COLUMN saas.audit_logs.action IS 'INSERT, UPDATE, DELETE; an UPDATE setting deleted_at from NULL is SOFT_DELETE, the reverse RESTORE.';
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

-- record_history returns SETOF saas.audit_logs again, with its grants.
ALTER FUNCTION saas.record_history(pg_catalog.regclass, uuid) RENAME TO _record_history_replaced;
--#create record_history
SELECT saas._regrant('saas.record_history(pg_catalog.regclass, uuid)',
                    (SELECT p.proacl FROM pg_catalog.pg_proc AS p
                      WHERE p.oid = 'saas._record_history_replaced(pg_catalog.regclass, uuid)'::pg_catalog.regprocedure));
DROP FUNCTION saas._record_history_replaced(pg_catalog.regclass, uuid);

DROP FUNCTION saas._regrant(regprocedure, aclitem[]);
DROP FUNCTION saas._release_data_objects();
DROP FUNCTION saas.repair_extension_member(text);
DROP FUNCTION saas._record_extension_functions(name[]);
DROP FUNCTION saas._shipped_functions();
DROP FUNCTION saas._function_definition(regprocedure);
DROP FUNCTION saas._allow_member_repair();
DROP FUNCTION saas._remember_pristine_objects();
DROP FUNCTION saas._ddl_command_start();
