CREATE FUNCTION saas.set_tenant(org uuid) RETURNS uuid
    LANGUAGE plpgsql VOLATILE
    SECURITY DEFINER  -- validates org whatever the caller's privileges on organizations
    SET search_path = pg_catalog, saas, pg_temp
    AS $fn$
BEGIN
    IF org IS NULL THEN
        RAISE EXCEPTION 'saas.set_tenant: the organization id must not be NULL'
            USING ERRCODE = 'null_value_not_allowed',
                  HINT = 'To leave the tenant context, end the transaction (COMMIT or ROLLBACK).';
    END IF;
    PERFORM saas._require_transaction_block('saas.set_tenant');
    -- SET LOCAL (not set_config): Citus propagates SET LOCAL to the workers
    -- that evaluate the policies (citus.propagate_set_commands = 'local').
    -- Set before the check, which the error below undoes: this function
    -- runs as the owner of saas.organizations, and when that owner is not a
    -- superuser (a database owner's install) the forced row-level security
    -- shows it only the tenant that is set.
    EXECUTE pg_catalog.format('SET LOCAL app.current_tenant_id = %L', org);
    IF NOT EXISTS (SELECT 1 FROM saas.organizations AS o WHERE o.id = org) THEN
        RAISE EXCEPTION 'saas.set_tenant: organization % does not exist', org
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- A tenant switch must not carry the previous tenant's actor along.
    SET LOCAL app.current_user_id = '';
    SET LOCAL app.request_metadata = '';
    RETURN org;
END
$fn$;
COMMENT ON FUNCTION saas.set_tenant(uuid) IS
    'Sets the tenant for the current transaction only (SET LOCAL app.current_tenant_id). Must be called inside BEGIN ... COMMIT; NULL or unknown organizations are refused. Clears the actor.';
