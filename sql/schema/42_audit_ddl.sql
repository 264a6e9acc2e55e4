-- Schema changes of audited tables: ALTER TABLE (disabling the audit
-- trigger included), DROP TABLE, CREATE/DROP TRIGGER, CREATE INDEX and any
-- other DDL on an audited table is recorded, with who, when, the command tag
-- and the object, by an event trigger.  Row changes go to saas.audit_logs,
-- per tenant; a schema change concerns every tenant of the table, so it goes
-- to saas.schema_changes, which every role that may read the audit log may
-- read whole.  Append-only like the audit log.

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

CREATE FUNCTION saas.schema_changes_guard() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RAISE EXCEPTION 'saas.schema_changes is append-only: % is not allowed', TG_OP
        USING ERRCODE = 'insufficient_privilege',
              DETAIL = pg_catalog.format('%s on %I.%I was refused.', TG_OP, TG_TABLE_SCHEMA, TG_TABLE_NAME);
END;
$$;
COMMENT ON FUNCTION saas.schema_changes_guard() IS 'Guard trigger keeping saas.schema_changes append-only.';
CREATE TRIGGER schema_changes_append_only BEFORE UPDATE OR DELETE ON saas.schema_changes
    FOR EACH ROW EXECUTE FUNCTION saas.schema_changes_guard();
CREATE TRIGGER schema_changes_no_truncate BEFORE TRUNCATE ON saas.schema_changes
    FOR EACH STATEMENT EXECUTE FUNCTION saas.schema_changes_guard();

-- The event trigger function (src/schema_changes.cpp): on ddl_command_end
-- a command whose object is an audited table or belongs to one (trigger,
-- index, constraint, policy, rule) is recorded; on sql_drop, dropping an
-- audited table or its audit trigger (the audit trigger is among the dropped
-- objects either way).  It writes as the owner of saas.schema_changes, like
-- the audit trigger, and records the role that ran the command; restores
-- are not recorded.
CREATE FUNCTION saas._record_schema_change() RETURNS event_trigger
    LANGUAGE c
    AS 'MODULE_PATHNAME', 'saas_record_schema_change';
COMMENT ON FUNCTION saas._record_schema_change() IS
    'Internal: event trigger function recording DDL on audited tables in saas.schema_changes.';

CREATE EVENT TRIGGER saas_schema_ddl_command_end ON ddl_command_end
    EXECUTE FUNCTION saas._record_schema_change();
CREATE EVENT TRIGGER saas_schema_sql_drop ON sql_drop
    EXECUTE FUNCTION saas._record_schema_change();
