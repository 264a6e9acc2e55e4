CREATE FUNCTION saas._soft_delete_target(tbl regclass, row_id uuid, caller text,
                                         OUT tenant uuid, OUT deleted_at timestamptz)
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, saas, pg_temp
    AS $fn$
DECLARE
    found_rows bigint;
BEGIN
    PERFORM saas._check_soft_deletable(tbl, caller);
    IF row_id IS NULL THEN
        RAISE EXCEPTION '%: the id must not be NULL', caller USING ERRCODE = 'null_value_not_allowed';
    END IF;
    tenant := saas.current_tenant_id();
    IF tenant IS NULL THEN
        RAISE EXCEPTION '%: no tenant is set', caller
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'Call saas.set_tenant(organization_id) first, in the same transaction.';
    END IF;
    EXECUTE pg_catalog.format('SELECT deleted_at FROM %s WHERE organization_id = $1 AND id = $2 FOR UPDATE', tbl)
        INTO deleted_at USING tenant, row_id;
    GET DIAGNOSTICS found_rows = ROW_COUNT;  -- EXECUTE does not set FOUND
    IF found_rows = 0 THEN
        -- The same error for an unknown id and another tenant's row.
        RAISE EXCEPTION '%: no row with id % in % for the current tenant', caller, row_id, tbl
            USING ERRCODE = 'no_data_found';
    END IF;
END
$fn$;
