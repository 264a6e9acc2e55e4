CREATE FUNCTION saas.enable_audit(tbl regclass, excluded_columns text[] DEFAULT '{}', mode text DEFAULT 'row',
                                  tenant_column text DEFAULT NULL)
    RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, saas, pg_temp
AS $$
DECLARE
    rel record;
    tenant_base_type oid;
    col text;
    args text;
    target text;
BEGIN
    IF tbl IS NULL THEN
        RAISE EXCEPTION 'table must not be NULL' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF mode IS NULL OR mode NOT IN ('row', 'statement') THEN
        RAISE EXCEPTION 'invalid audit mode "%"', mode
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Use ''row'' (the default, best for single-row changes) or ''statement'' (bulk changes).';
    END IF;
    IF excluded_columns IS NULL OR pg_catalog.array_position(excluded_columns, NULL) IS NOT NULL THEN
        RAISE EXCEPTION 'excluded_columns must not be NULL or contain NULL'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    SELECT c.relkind, c.relname, n.nspname INTO rel
      FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
     WHERE c.oid = tbl;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'relation with OID % does not exist', tbl::oid USING ERRCODE = 'undefined_table';
    END IF;
    IF rel.relkind NOT IN ('r', 'p') THEN
        RAISE EXCEPTION '"%.%" is not a table', rel.nspname, rel.relname
            USING ERRCODE = 'wrong_object_type',
                  HINT = 'Only ordinary and partitioned tables can be audited.';
    END IF;
    IF tbl = 'saas.audit_logs'::regclass
       OR EXISTS (SELECT FROM pg_catalog.pg_partition_ancestors(tbl) a
                   WHERE a.relid = 'saas.audit_logs'::regclass) THEN
        RAISE EXCEPTION 'the audit log itself cannot be audited' USING ERRCODE = 'wrong_object_type';
    END IF;
    -- The tenant root is its own tenant; other tables name it organization_id
    -- unless the caller says otherwise.
    IF tenant_column IS NULL THEN
        tenant_column := CASE WHEN rel.nspname = 'saas' AND rel.relname = 'organizations'
                              THEN 'id' ELSE 'organization_id' END;
    END IF;
    SELECT CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE t.oid END INTO tenant_base_type
      FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_type t ON t.oid = a.atttypid
     WHERE a.attrelid = tbl AND a.attname = tenant_column AND a.attnum > 0 AND NOT a.attisdropped;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'table "%.%" has no column "%"', rel.nspname, rel.relname, tenant_column
            USING ERRCODE = 'undefined_column',
                  DETAIL = 'Every audit row belongs to a tenant: an audited table needs an organization_id uuid column.';
    END IF;
    IF tenant_base_type <> 'pg_catalog.uuid'::pg_catalog.regtype THEN
        RAISE EXCEPTION 'column "%" of table "%.%" must be of type uuid', tenant_column, rel.nspname, rel.relname
            USING ERRCODE = 'datatype_mismatch';
    END IF;
    FOREACH col IN ARRAY excluded_columns LOOP
        IF NOT EXISTS (SELECT FROM pg_catalog.pg_attribute a
                        WHERE a.attrelid = tbl AND a.attname = col AND a.attnum > 0 AND NOT a.attisdropped) THEN
            RAISE EXCEPTION 'column "%" of table "%.%" does not exist', col, rel.nspname, rel.relname
                USING ERRCODE = 'undefined_column',
                      HINT = 'excluded_columns lists columns never written to the audit log.';
        END IF;
        IF col = tenant_column THEN
            RAISE EXCEPTION 'the tenant column "%" cannot be excluded from the audit', col
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
    END LOOP;

    PERFORM saas.disable_audit(tbl);

    target := pg_catalog.format('%I.%I', rel.nspname, rel.relname);
    args := pg_catalog.quote_literal(rel.nspname OPERATOR(pg_catalog.||) '.' OPERATOR(pg_catalog.||) rel.relname)
            OPERATOR(pg_catalog.||) ', ' OPERATOR(pg_catalog.||) pg_catalog.quote_literal(tenant_column);
    FOREACH col IN ARRAY excluded_columns LOOP
        args := args OPERATOR(pg_catalog.||) ', ' OPERATOR(pg_catalog.||) pg_catalog.quote_literal(col);
    END LOOP;

    IF mode = 'row' THEN
        EXECUTE pg_catalog.format('CREATE TRIGGER saas_audit AFTER INSERT OR UPDATE OR DELETE ON %s '
                                  'FOR EACH ROW EXECUTE FUNCTION saas.audit_trigger(%s)', target, args);
    ELSE
        -- A trigger with transition tables can have only one event.
        EXECUTE pg_catalog.format('CREATE TRIGGER saas_audit_insert AFTER INSERT ON %s '
                                  'REFERENCING NEW TABLE AS saas_new_rows '
                                  'FOR EACH STATEMENT EXECUTE FUNCTION saas.audit_trigger(%s)', target, args);
        EXECUTE pg_catalog.format('CREATE TRIGGER saas_audit_update AFTER UPDATE ON %s '
                                  'REFERENCING OLD TABLE AS saas_old_rows NEW TABLE AS saas_new_rows '
                                  'FOR EACH STATEMENT EXECUTE FUNCTION saas.audit_trigger(%s)', target, args);
        EXECUTE pg_catalog.format('CREATE TRIGGER saas_audit_delete AFTER DELETE ON %s '
                                  'REFERENCING OLD TABLE AS saas_old_rows '
                                  'FOR EACH STATEMENT EXECUTE FUNCTION saas.audit_trigger(%s)', target, args);
    END IF;
END;
$$;
COMMENT ON FUNCTION saas.enable_audit(regclass, text[], text, text) IS 'Installs the audit trigger on a table (idempotent). mode => ''row'' (default) or ''statement'' (transition tables, for bulk changes); tenant_column defaults to organization_id (id for saas.organizations). Columns named password_hash are never recorded.';
