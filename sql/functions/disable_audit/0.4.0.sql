CREATE FUNCTION saas.disable_audit(tbl regclass) RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, saas, pg_temp
AS $$
DECLARE
    rel record;
    trg record;
BEGIN
    IF tbl IS NULL THEN
        RAISE EXCEPTION 'table must not be NULL' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    SELECT c.relkind, c.relname, n.nspname INTO rel
      FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
     WHERE c.oid = tbl;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'relation with OID % does not exist', tbl::oid USING ERRCODE = 'undefined_table';
    END IF;
    IF rel.relkind NOT IN ('r', 'p') THEN
        RAISE EXCEPTION '"%.%" is not a table', rel.nspname, rel.relname
            USING ERRCODE = 'wrong_object_type';
    END IF;
    -- Only the triggers defined on this table: clones on partitions go with them.
    FOR trg IN
        SELECT t.tgname FROM pg_catalog.pg_trigger t
         WHERE t.tgrelid = tbl AND t.tgparentid = 0
           AND t.tgname IN ('saas_audit', 'saas_audit_insert', 'saas_audit_update', 'saas_audit_delete')
    LOOP
        EXECUTE pg_catalog.format('DROP TRIGGER %I ON %I.%I', trg.tgname, rel.nspname, rel.relname);
    END LOOP;
END;
$$;
COMMENT ON FUNCTION saas.disable_audit(regclass) IS 'Removes the audit triggers of a table (idempotent).';
