CREATE FUNCTION saas._app_functions() RETURNS name[]
    LANGUAGE sql IMMUTABLE
    AS $fn$
    SELECT ARRAY['current_tenant_id', 'set_tenant', 'set_actor',
                 'uuid_generate_v7', 'uuid_v7_to_timestamptz', 'uuid_v7_lower_bound',
                 'record_history', 'record_as_of', 'audit_trail',
                 'current_actor_id', 'soft_delete', 'restore']::pg_catalog.name[]
$fn$;
COMMENT ON FUNCTION saas._app_functions() IS
    'Internal: names of the functions saas.grant_app_access grants EXECUTE on.';
