CREATE FUNCTION saas.set_actor(user_id uuid, metadata jsonb DEFAULT '{}'::jsonb) RETURNS uuid
    LANGUAGE plpgsql VOLATILE
    SECURITY DEFINER  -- validates the user whatever the caller's privileges on users
    SET search_path = pg_catalog, saas, pg_temp
    AS $fn$
DECLARE
    tenant uuid := saas.current_tenant_id();
    active boolean;
BEGIN
    IF user_id IS NULL THEN
        RAISE EXCEPTION 'saas.set_actor: the user id must not be NULL'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    PERFORM saas._require_transaction_block('saas.set_actor');
    IF tenant IS NULL THEN
        RAISE EXCEPTION 'saas.set_actor: no tenant is set'
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'Call saas.set_tenant(organization_id) first, in the same transaction.';
    END IF;
    IF metadata IS NOT NULL AND pg_catalog.jsonb_typeof(metadata) <> 'object' THEN
        RAISE EXCEPTION 'saas.set_actor: metadata must be a JSON object, not %', pg_catalog.jsonb_typeof(metadata)
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT u.is_active INTO active FROM saas.users AS u
    WHERE u.organization_id = tenant AND u.id = set_actor.user_id;
    IF NOT FOUND THEN
        -- Same message whether the user is unknown or another tenant's: no
        -- existence oracle across tenants.
        RAISE EXCEPTION 'saas.set_actor: user % does not belong to the current tenant', user_id
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF NOT active THEN
        RAISE EXCEPTION 'saas.set_actor: user % is deactivated', user_id
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Reactivate the user (is_active = true) or act as another user.';
    END IF;
    EXECUTE pg_catalog.format('SET LOCAL app.current_user_id = %L', user_id);
    EXECUTE pg_catalog.format('SET LOCAL app.request_metadata = %L',
                              COALESCE(metadata, '{}'::jsonb)::text);
    -- The audit trigger and current_actor_id() believe app.current_user_id
    -- only for an actor checked as above; this records the check for this
    -- backend and transaction, so they need not repeat it.
    PERFORM saas._certify_actor();
    RETURN user_id;
END
$fn$;
COMMENT ON FUNCTION saas.set_actor(uuid, jsonb) IS
    'Sets the acting user and request metadata (IP, user agent, request id) for the audit trigger, for the current transaction only. The user must be an active user of the current tenant.';
