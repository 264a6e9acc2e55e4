-- The audit trigger (C++).  FOR EACH ROW, or FOR EACH STATEMENT with
-- transition tables.  Arguments: logical table name, tenant column, excluded
-- columns.  Install it with saas.enable_audit().  No SET clause: it would
-- cost a GUC save/restore per row, and the C++ code does not depend on
-- search_path.
CREATE FUNCTION saas.audit_trigger() RETURNS trigger
    LANGUAGE c
    AS 'MODULE_PATHNAME', 'saas_audit_trigger';
COMMENT ON FUNCTION saas.audit_trigger() IS 'Audit trigger: writes one saas.audit_logs row per changed row (C++). Install with saas.enable_audit().';
