-- Test support: stable audit assertions for users' pg_regress suites (the
-- deterministic ids of saas.test_seed are in src/uuidv7.cpp).
--
-- Replaces the values of volatile keys (timestamps) with "<volatile>" so that
-- expected files stay stable; NULLs stay NULL (a column being cleared or
-- still unset is not volatile information).
CREATE FUNCTION saas._mask_volatile(doc jsonb, volatile_keys text[]) RETURNS jsonb
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    SET search_path = pg_catalog, saas, pg_temp
    AS $fn$
    SELECT CASE WHEN doc IS NULL THEN NULL
                WHEN pg_catalog.jsonb_typeof(doc) <> 'object' THEN doc
                ELSE COALESCE(
                    (SELECT pg_catalog.jsonb_object_agg(
                                e.key,
                                CASE WHEN e.key = ANY (volatile_keys) AND e.value <> 'null'::jsonb
                                     THEN '"<volatile>"'::jsonb ELSE e.value END)
                     FROM pg_catalog.jsonb_each(doc) AS e),
                    '{}'::jsonb)
           END
$fn$;

CREATE FUNCTION saas.audit_trail(since timestamptz DEFAULT NULL,
                                 volatile_keys text[] DEFAULT ARRAY['created_at', 'updated_at', 'deleted_at'])
    RETURNS TABLE (table_name text, record_id uuid, action text, changed_columns text[],
                   old_values jsonb, new_values jsonb)
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, saas, pg_temp
    AS $fn$
    SELECT a.table_name, a.record_id, a.action, a.changed_columns,
           saas._mask_volatile(a.old_values, volatile_keys),
           saas._mask_volatile(a.new_values, volatile_keys)
    FROM saas.audit_logs AS a
    WHERE since IS NULL OR a.created_at >= since
    -- Within one record, audit ids (UUIDv7) are in change order.
    ORDER BY a.table_name, a.record_id NULLS LAST, a.id
$fn$;
COMMENT ON FUNCTION saas.audit_trail(timestamptz, text[]) IS
    'Audit rows without volatile columns (id, created_at, transaction_id, user_id, metadata) and with timestamp values masked, in a deterministic order: for assertions in regression tests. Row-level security applies.';
