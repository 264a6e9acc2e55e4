-- Records an export in the audit log.  SECURITY DEFINER because the
-- application role, which may export its own tenant, has no INSERT on
-- saas.audit_logs (so that it cannot forge audit rows); this function writes
-- nothing but an EXPORT row of the current tenant.
CREATE FUNCTION saas._audit_export(org uuid, summary jsonb, metadata jsonb) RETURNS void
    LANGUAGE plpgsql VOLATILE
    SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $fn$
DECLARE
    tenant uuid := saas.current_tenant_id();
BEGIN
    IF org IS NULL OR pg_catalog.jsonb_typeof(summary) IS DISTINCT FROM 'object'
       OR pg_catalog.jsonb_typeof(metadata) IS DISTINCT FROM 'object' THEN
        RAISE EXCEPTION 'saas._audit_export: invalid arguments' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF tenant IS DISTINCT FROM org THEN
        RAISE EXCEPTION 'saas._audit_export: organization % is not the current tenant', org
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    INSERT INTO saas.audit_logs (organization_id, table_name, record_id, action, user_id, new_values,
                                 transaction_id, metadata)
    VALUES (org, 'saas.organizations', NULL, 'EXPORT', saas.current_actor_id(), summary,
            pg_catalog.txid_current(), metadata);
END
$fn$;
COMMENT ON FUNCTION saas._audit_export(uuid, jsonb, jsonb) IS
    'Internal: writes the EXPORT audit row of saas.export_tenant (for the application role, which cannot insert into saas.audit_logs).';
REVOKE EXECUTE ON FUNCTION saas._audit_export(uuid, jsonb, jsonb) FROM PUBLIC;
