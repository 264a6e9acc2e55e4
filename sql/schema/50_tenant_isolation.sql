-- Tenant isolation: row-level security on every tenant table, the
-- transaction-local tenant and actor settings, and the application role's
-- grants.
--
-- The tenant is a transaction-local setting, app.current_tenant_id, set with
-- SET LOCAL (through saas.set_tenant) so that a pooled connection can never
-- carry one client's tenant over to the next.  Every tenant table has RLS
-- enabled and forced with one policy, tenant_isolation:
--     organization_id = saas.current_tenant_id()      (USING and WITH CHECK)
-- current_tenant_id() is NULL when no tenant is set, so the comparison is
-- NULL and the policy fails closed: nothing visible, every write refused.

CREATE FUNCTION saas.current_tenant_id() RETURNS uuid
    LANGUAGE c STABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'saas_current_tenant_id';
COMMENT ON FUNCTION saas.current_tenant_id() IS
    'The current tenant (setting app.current_tenant_id), NULL when unset or empty; raises 22P02 when the setting is not a uuid.';

CREATE FUNCTION saas._require_transaction_block(caller text) RETURNS void
    LANGUAGE c VOLATILE
    AS 'MODULE_PATHNAME', 'saas_require_transaction_block';
COMMENT ON FUNCTION saas._require_transaction_block(text) IS
    'Internal: raises 25P01 when called outside a transaction block.';

-- The lookups behind set_tenant and set_actor, made as the owner of the
-- table they read: the SECURITY DEFINER functions below belong to whoever
-- installed the extension, and the tables may belong to another role
-- (restored from a database owner's dump, or handed over), whose views,
-- triggers and casts must not run with the installer's rights.
CREATE FUNCTION saas._organization_exists(org uuid) RETURNS boolean
    LANGUAGE c VOLATILE STRICT
    AS 'MODULE_PATHNAME', 'saas_organization_exists';
COMMENT ON FUNCTION saas._organization_exists(uuid) IS
    'Internal: whether the organization exists (saas.set_tenant''s check), looked up as the owner of saas.organizations.';

CREATE FUNCTION saas._user_is_active(tenant uuid, user_id uuid) RETURNS boolean
    LANGUAGE c VOLATILE STRICT
    AS 'MODULE_PATHNAME', 'saas_user_is_active';
COMMENT ON FUNCTION saas._user_is_active(uuid, uuid) IS
    'Internal: whether the user of the tenant is active, NULL when it is not the tenant''s (saas.set_actor''s check), looked up as the owner of saas.users.';

CREATE FUNCTION saas.set_tenant(org uuid) RETURNS uuid
    LANGUAGE plpgsql VOLATILE
    SECURITY DEFINER  -- as in 0.5.0; the check itself runs as the owner of organizations
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
    -- Set before the check, which the error below undoes.
    EXECUTE pg_catalog.format('SET LOCAL app.current_tenant_id = %L', org);
    IF NOT saas._organization_exists(org) THEN
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

CREATE FUNCTION saas.set_actor(user_id uuid, metadata jsonb DEFAULT '{}'::jsonb) RETURNS uuid
    LANGUAGE plpgsql VOLATILE
    SECURITY DEFINER  -- for saas._certify_actor(); the check runs as the owner of users
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
    active := saas._user_is_active(tenant, set_actor.user_id);
    IF active IS NULL THEN
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

-- Internal, called only by saas.set_actor (it refuses any other caller):
-- remembers, for this backend and transaction, that the current actor was
-- checked for the current tenant.
CREATE FUNCTION saas._certify_actor() RETURNS void
    LANGUAGE c VOLATILE
    AS 'MODULE_PATHNAME', 'saas_certify_actor';
COMMENT ON FUNCTION saas._certify_actor() IS
    'Internal: called by saas.set_actor() after its checks; raises 42501 for any other caller.';
REVOKE EXECUTE ON FUNCTION saas._certify_actor() FROM PUBLIC;

CREATE FUNCTION saas._tenant_column(tbl regclass) RETURNS name
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, saas, pg_temp
    AS $fn$
    SELECT CASE WHEN tbl = 'saas.organizations'::pg_catalog.regclass
                THEN 'id'::pg_catalog.name ELSE 'organization_id'::pg_catalog.name END
$fn$;
COMMENT ON FUNCTION saas._tenant_column(regclass) IS
    'Internal: the column holding the tenant id (id for organizations, organization_id elsewhere).';

CREATE FUNCTION saas.enable_tenant_isolation(tbl regclass) RETURNS void
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, saas, pg_temp
    AS $fn$
DECLARE
    kind "char";
    col name;
    coltype oid;
    rel regclass;
BEGIN
    IF tbl IS NULL THEN
        RAISE EXCEPTION 'saas.enable_tenant_isolation: the table must not be NULL'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    SELECT c.relkind INTO kind FROM pg_catalog.pg_class AS c WHERE c.oid = tbl;
    IF kind IS NULL OR kind NOT IN ('r', 'p') THEN
        RAISE EXCEPTION 'saas.enable_tenant_isolation: % is not a table', tbl
            USING ERRCODE = 'wrong_object_type';
    END IF;
    col := saas._tenant_column(tbl);
    SELECT a.atttypid INTO coltype FROM pg_catalog.pg_attribute AS a
    WHERE a.attrelid = tbl AND a.attname = col AND a.attnum > 0 AND NOT a.attisdropped;
    IF coltype IS NULL THEN
        RAISE EXCEPTION 'saas.enable_tenant_isolation: table % has no column %', tbl, col
            USING ERRCODE = 'undefined_column',
                  HINT = 'Add organization_id uuid NOT NULL REFERENCES saas.organizations (id) first.';
    END IF;
    IF coltype <> 'pg_catalog.uuid'::pg_catalog.regtype THEN
        RAISE EXCEPTION 'saas.enable_tenant_isolation: column %.% is of type %, not uuid',
                        tbl, col, coltype::pg_catalog.regtype
            USING ERRCODE = 'datatype_mismatch';
    END IF;
    -- The table and, for a partitioned table, every existing partition: a
    -- query naming a partition directly does not see the parent's policies.
    FOR rel IN SELECT tbl UNION ALL SELECT t.relid FROM pg_catalog.pg_partition_tree(tbl) AS t WHERE t.level > 0
    LOOP
        EXECUTE pg_catalog.format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', rel);
        EXECUTE pg_catalog.format('ALTER TABLE %s FORCE ROW LEVEL SECURITY', rel);
        IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_policy AS p
                       WHERE p.polrelid = rel AND p.polname = 'tenant_isolation') THEN
            EXECUTE pg_catalog.format(
                'CREATE POLICY tenant_isolation ON %s AS PERMISSIVE FOR ALL '
                'USING (%I = saas.current_tenant_id()) WITH CHECK (%I = saas.current_tenant_id())',
                rel, col, col);
        END IF;
    END LOOP;
END
$fn$;
COMMENT ON FUNCTION saas.enable_tenant_isolation(regclass) IS
    'Enables and forces row-level security on a table with organization_id (and its partitions) with the tenant_isolation policy. Idempotent.';

CREATE FUNCTION saas.disable_tenant_isolation(tbl regclass) RETURNS void
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, saas, pg_temp
    AS $fn$
DECLARE
    kind "char";
    rel regclass;
BEGIN
    IF tbl IS NULL THEN
        RAISE EXCEPTION 'saas.disable_tenant_isolation: the table must not be NULL'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    SELECT c.relkind INTO kind FROM pg_catalog.pg_class AS c WHERE c.oid = tbl;
    IF kind IS NULL OR kind NOT IN ('r', 'p') THEN
        RAISE EXCEPTION 'saas.disable_tenant_isolation: % is not a table', tbl
            USING ERRCODE = 'wrong_object_type';
    END IF;
    FOR rel IN SELECT tbl UNION ALL SELECT t.relid FROM pg_catalog.pg_partition_tree(tbl) AS t WHERE t.level > 0
    LOOP
        IF EXISTS (SELECT 1 FROM pg_catalog.pg_policy AS p
                   WHERE p.polrelid = rel AND p.polname = 'tenant_isolation') THEN
            EXECUTE pg_catalog.format('DROP POLICY tenant_isolation ON %s', rel);
        END IF;
        IF EXISTS (SELECT 1 FROM pg_catalog.pg_policy AS p WHERE p.polrelid = rel) THEN
            -- Other policies remain: turning RLS off would silently disable them too.
            RAISE NOTICE 'saas.disable_tenant_isolation: % keeps row-level security on for its other policies', rel;
        ELSE
            EXECUTE pg_catalog.format('ALTER TABLE %s NO FORCE ROW LEVEL SECURITY', rel);
            EXECUTE pg_catalog.format('ALTER TABLE %s DISABLE ROW LEVEL SECURITY', rel);
        END IF;
    END LOOP;
END
$fn$;
COMMENT ON FUNCTION saas.disable_tenant_isolation(regclass) IS
    'Removes the tenant_isolation policy (and row-level security, unless other policies remain). Idempotent.';

CREATE FUNCTION saas.grant_app_access(role_name name) RETURNS void
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, saas, pg_temp
    AS $fn$
DECLARE
    r record;
    owner_name name;
    tbl regclass;
    fn regprocedure;
BEGIN
    IF role_name IS NULL THEN
        RAISE EXCEPTION 'saas.grant_app_access: the role must not be NULL'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    SELECT a.oid, a.rolsuper, a.rolbypassrls INTO r FROM pg_catalog.pg_roles AS a WHERE a.rolname = role_name;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'saas.grant_app_access: role "%" does not exist', role_name
            USING ERRCODE = 'undefined_object';
    END IF;
    IF r.rolsuper OR r.rolbypassrls THEN
        RAISE EXCEPTION 'saas.grant_app_access: role "%" bypasses row-level security', role_name
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'Superusers and BYPASSRLS roles see every tenant''s rows.',
                  HINT = 'Create a dedicated application role: CREATE ROLE app LOGIN NOSUPERUSER NOBYPASSRLS.';
    END IF;
    SELECT c.relowner::pg_catalog.regrole::name INTO owner_name
    FROM pg_catalog.pg_class AS c
    WHERE c.relnamespace = 'saas'::pg_catalog.regnamespace AND c.relkind IN ('r', 'p')
      AND pg_catalog.pg_has_role(r.oid, c.relowner, 'USAGE')
    LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'saas.grant_app_access: role "%" owns the tables (or is a member of their owner "%")',
                        role_name, owner_name
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'A table owner can disable row-level security, drop policies and rewrite audit logs.',
                  HINT = 'Connect the application as a separate role that owns nothing.';
    END IF;

    EXECUTE pg_catalog.format('GRANT USAGE ON SCHEMA saas TO %I', role_name);
    FOR tbl IN
        SELECT c.oid::regclass FROM pg_catalog.pg_class AS c
        WHERE c.relnamespace = 'saas'::pg_catalog.regnamespace AND c.relkind IN ('r', 'p')
          AND NOT c.relispartition
          AND c.oid NOT IN ('saas.organizations'::regclass)
          AND c.relname <> 'audit_logs'
          AND EXISTS (SELECT 1 FROM pg_catalog.pg_attribute AS a
                      WHERE a.attrelid = c.oid AND a.attname = 'organization_id' AND NOT a.attisdropped)
    LOOP
        EXECUTE pg_catalog.format('GRANT SELECT, INSERT, UPDATE, DELETE ON %s TO %I', tbl, role_name);
    END LOOP;
    -- Creating and deleting tenants is an administrator's job; the
    -- application reads and renames its own organization.
    EXECUTE pg_catalog.format('GRANT SELECT, UPDATE ON saas.organizations TO %I', role_name);
    -- The active-row views (security_invoker: the policies still apply).
    FOR tbl IN
        SELECT c.oid::regclass FROM pg_catalog.pg_class AS c
        WHERE c.relnamespace = 'saas'::pg_catalog.regnamespace AND c.relkind = 'v'
    LOOP
        EXECUTE pg_catalog.format('GRANT SELECT ON %s TO %I', tbl, role_name);
    END LOOP;
    -- Audit logs: read-only for the application.  The audit trigger writes
    -- them as the table owner (like foreign-key triggers do), so the
    -- application needs no INSERT, and without it cannot forge audit rows;
    -- UPDATE and DELETE are refused to everyone by the guard trigger anyway.
    IF pg_catalog.to_regclass('saas.audit_logs') IS NOT NULL THEN
        EXECUTE pg_catalog.format('GRANT SELECT ON saas.audit_logs TO %I', role_name);
    END IF;
    FOR fn IN
        SELECT p.oid::regprocedure FROM pg_catalog.pg_proc AS p
        WHERE p.pronamespace = 'saas'::pg_catalog.regnamespace
          AND p.proname = ANY (saas._app_functions())
    LOOP
        EXECUTE pg_catalog.format('GRANT EXECUTE ON FUNCTION %s TO %I', fn, role_name);
    END LOOP;
END
$fn$;
COMMENT ON FUNCTION saas.grant_app_access(name) IS
    'Grants an application role (not a superuser, not BYPASSRLS, not the tables'' owner) DML on tenant tables, SELECT on audit_logs (the audit trigger writes as the owner), and EXECUTE on the helper functions.';

CREATE FUNCTION saas._app_functions() RETURNS name[]
    LANGUAGE sql IMMUTABLE
    SET search_path = pg_catalog, pg_temp
    AS $fn$
    SELECT ARRAY['current_tenant_id', 'set_tenant', 'set_actor',
                 'uuid_generate_v7', 'uuid_v7_to_timestamptz', 'uuid_v7_lower_bound',
                 'record_history', 'record_as_of', 'audit_trail',
                 'current_actor_id', 'soft_delete', 'restore',
                 'tenant_tables', 'export_tenant', '_audit_export']::pg_catalog.name[]
$fn$;
COMMENT ON FUNCTION saas._app_functions() IS
    'Internal: names of the functions saas.grant_app_access grants EXECUTE on.';

-- Administrative functions are not for PUBLIC.
REVOKE EXECUTE ON FUNCTION saas.enable_tenant_isolation(regclass) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION saas.disable_tenant_isolation(regclass) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION saas.grant_app_access(name) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION saas._require_transaction_block(text) FROM PUBLIC;

-- Every tenant table of the schema, audit_logs included, and organizations.
DO $do$
DECLARE
    tbl regclass;
BEGIN
    FOR tbl IN
        SELECT c.oid::regclass FROM pg_catalog.pg_class AS c
        WHERE c.relnamespace = 'saas'::pg_catalog.regnamespace AND c.relkind IN ('r', 'p')
          AND NOT c.relispartition
          AND (c.oid = 'saas.organizations'::pg_catalog.regclass
               OR EXISTS (SELECT 1 FROM pg_catalog.pg_attribute AS a
                          WHERE a.attrelid = c.oid AND a.attname = 'organization_id'))
        ORDER BY c.relname
    LOOP
        PERFORM saas.enable_tenant_isolation(tbl);
    END LOOP;
END
$do$;
