-- Tenant lifecycle: export and import a tenant, erase a person (GDPR) from
-- the live rows and the audit log, delete a large tenant in batches, and
-- schedule the maintenance jobs with pg_cron (docs/tenant_lifecycle.md).
--
-- "The tenant's tables" are saas.organizations and every table with an
-- organization_id uuid column, in any schema but the system ones, whether
-- the extension shipped it or the DBA created it, and whether or not it has
-- the tenant_isolation policy (a table without it still holds the tenant's
-- rows); not partitions (their partitioned table stands for them), not
-- temporary tables, not other extensions' tables, and not saas.audit_logs,
-- which is handled as the audit log.  saas.tenant_tables() lists them in
-- foreign-key order.
--
-- Rights: export_tenant runs with the caller's rights, under row-level
-- security (the application role exports its current tenant); the others are
-- administrators' (EXECUTE revoked from PUBLIC, and refused to any role that
-- is not a member of the owner of the saas tables).

CREATE FUNCTION saas._require_no_transaction_block(caller text) RETURNS void
    LANGUAGE c VOLATILE
    AS 'MODULE_PATHNAME', 'saas_require_no_transaction_block';
COMMENT ON FUNCTION saas._require_no_transaction_block(text) IS
    'Internal: raises 25001 inside a transaction block (procedures that commit between batches).';
REVOKE EXECUTE ON FUNCTION saas._require_no_transaction_block(text) FROM PUBLIC;

-- Administrators: the owner of the saas tables and its members (superusers
-- included), the roles the audit log's guard trusts.  The application role
-- never is one: saas.grant_app_access() refuses the owner's members.
CREATE FUNCTION saas._require_admin(caller text) RETURNS void
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
    AS $fn$
DECLARE
    owner_oid oid;
BEGIN
    FOR owner_oid IN
        SELECT DISTINCT c.relowner FROM pg_catalog.pg_class AS c
         WHERE c.oid IN (pg_catalog.to_regclass('saas.organizations'), pg_catalog.to_regclass('saas.audit_logs'))
    LOOP
        IF NOT pg_catalog.pg_has_role(current_user, owner_oid, 'USAGE') THEN
            RAISE EXCEPTION '%: permission denied for role %', caller, current_user
                USING ERRCODE = 'insufficient_privilege',
                      DETAIL = pg_catalog.format('Only the owner of the saas tables (%s) and its members may run %s.',
                                                 owner_oid::pg_catalog.regrole, caller),
                      HINT = 'Tenant lifecycle operations are for administrators; the application role never runs them.';
        END IF;
    END LOOP;
END
$fn$;
COMMENT ON FUNCTION saas._require_admin(text) IS
    'Internal: raises 42501 unless the current role is a member of the owner of saas.organizations and saas.audit_logs.';

-- What a lifecycle operation records in audit_logs.metadata: the request
-- metadata of saas.set_actor() (only with an actor, as the audit trigger
-- records it), the operation, and the database roles.
CREATE FUNCTION saas._lifecycle_metadata(operation text) RETURNS jsonb
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
    AS $fn$
DECLARE
    request text := pg_catalog.current_setting('app.request_metadata', true);
    doc jsonb := '{}';
BEGIN
    IF request IS NOT NULL AND request <> '' AND saas.current_actor_id() IS NOT NULL THEN
        doc := request::jsonb;
        IF pg_catalog.jsonb_typeof(doc) <> 'object' THEN
            doc := '{}';
        END IF;
    END IF;
    RETURN doc || pg_catalog.jsonb_build_object('operation', operation, 'session_user', session_user::text,
                                                'current_user', current_user::text);
END
$fn$;
COMMENT ON FUNCTION saas._lifecycle_metadata(text) IS
    'Internal: the metadata a tenant lifecycle operation writes with its audit row.';

-- The tenant's tables in foreign-key order (a table after every table it
-- references), organizations first; tables in a foreign-key cycle come last,
-- flagged in_cycle.
CREATE FUNCTION saas.tenant_tables()
    RETURNS TABLE (ordinal integer, table_name text, tbl regclass, tenant_column name,
                   self_referencing boolean, in_cycle boolean)
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
    AS $fn$
DECLARE
    pending oid[];
    ready oid[];
    cyclic boolean := false;
    n integer := 0;
    r record;
BEGIN
    SELECT pg_catalog.array_agg(c.oid) INTO pending
      FROM pg_catalog.pg_class AS c
      JOIN pg_catalog.pg_namespace AS ns ON ns.oid = c.relnamespace
     WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition AND c.relpersistence <> 't'
       AND ns.nspname NOT IN ('pg_catalog', 'information_schema') AND ns.nspname !~ '^pg_'
       AND c.oid IS DISTINCT FROM pg_catalog.to_regclass('saas.audit_logs')
       AND NOT EXISTS (SELECT FROM pg_catalog.pg_depend AS d
                        WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass AND d.objid = c.oid
                          AND d.deptype = 'e')
       AND (c.oid = pg_catalog.to_regclass('saas.organizations')
            OR EXISTS (SELECT FROM pg_catalog.pg_attribute AS a
                         JOIN pg_catalog.pg_type AS ty ON ty.oid = a.atttypid
                        WHERE a.attrelid = c.oid AND a.attname = 'organization_id' AND a.attnum > 0
                          AND NOT a.attisdropped
                          AND 'pg_catalog.uuid'::pg_catalog.regtype
                              IN (ty.oid, CASE WHEN ty.typtype = 'd' THEN ty.typbasetype END)));
    WHILE pg_catalog.cardinality(pending) > 0 LOOP
        -- Ready: every table it references (other than itself) is placed.
        SELECT pg_catalog.array_agg(p) INTO ready
          FROM pg_catalog.unnest(pending) AS p
         WHERE NOT EXISTS (SELECT FROM pg_catalog.pg_constraint AS k
                            WHERE k.conrelid = p AND k.contype = 'f'
                              AND k.confrelid <> p AND k.confrelid = ANY (pending));
        IF ready IS NULL THEN
            cyclic := true;
            ready := pending;
        END IF;
        FOR r IN
            SELECT c.oid, ns.nspname, c.relname
              FROM pg_catalog.pg_class AS c JOIN pg_catalog.pg_namespace AS ns ON ns.oid = c.relnamespace
             WHERE c.oid = ANY (ready)
             ORDER BY c.oid <> pg_catalog.to_regclass('saas.organizations'), ns.nspname, c.relname
        LOOP
            n := n + 1;
            ordinal := n;
            table_name := r.nspname || '.' || r.relname;
            tbl := r.oid::pg_catalog.regclass;
            tenant_column := CASE WHEN r.oid = pg_catalog.to_regclass('saas.organizations')
                                  THEN 'id' ELSE 'organization_id' END;
            self_referencing := EXISTS (SELECT FROM pg_catalog.pg_constraint AS k
                                         WHERE k.conrelid = r.oid AND k.confrelid = r.oid AND k.contype = 'f');
            in_cycle := cyclic;
            RETURN NEXT;
        END LOOP;
        SELECT pg_catalog.array_agg(p) INTO pending FROM pg_catalog.unnest(pending) AS p WHERE p <> ALL (ready);
    END LOOP;
END
$fn$;
COMMENT ON FUNCTION saas.tenant_tables() IS
    'The tables holding tenant rows (saas.organizations and every table with organization_id uuid, any schema, not saas.audit_logs) in foreign-key order: what export_tenant, import_tenant and delete_tenant cover.';

-- The query exporting one table's rows of a tenant ($1), as (table_name,
-- record).  A table that references itself (threaded comments) is walked
-- from its roots, so that every row comes after the row it references; rows
-- in a reference cycle (unreachable from a root) come last.  Otherwise rows
-- are in primary-key order.
CREATE FUNCTION saas._export_query(tbl regclass, tenant_column name) RETURNS text
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
    AS $fn$
DECLARE
    rel text;
    logical text;
    order_by text;
    keys name[];
    key_list text;
    root_cond text;
    step_cond text;
    join_cond text;
BEGIN
    SELECT CASE WHEN c.relkind = 'p' THEN '' ELSE 'ONLY ' END || c.oid::pg_catalog.regclass::text,
           ns.nspname || '.' || c.relname
      INTO rel, logical
      FROM pg_catalog.pg_class AS c JOIN pg_catalog.pg_namespace AS ns ON ns.oid = c.relnamespace
     WHERE c.oid = tbl;
    SELECT pg_catalog.string_agg(pg_catalog.format('t.%I', a.attname), ', ' ORDER BY k.ord) INTO order_by
      FROM pg_catalog.pg_index AS i
     CROSS JOIN LATERAL pg_catalog.unnest(i.indkey::smallint[]) WITH ORDINALITY AS k(att, ord)
      JOIN pg_catalog.pg_attribute AS a ON a.attrelid = i.indrelid AND a.attnum = k.att
     WHERE i.indrelid = tbl AND i.indisprimary;
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_constraint AS k
                    WHERE k.conrelid = tbl AND k.confrelid = tbl AND k.contype = 'f') THEN
        RETURN pg_catalog.format('SELECT %L::text, pg_catalog.to_jsonb(t) FROM %s AS t WHERE t.%I = $1%s',
                                 logical, rel, tenant_column,
                                 COALESCE(' ORDER BY ' || order_by, ''));
    END IF;
    -- Self references: the walk carries the referenced key columns of every
    -- self-referencing foreign key (each one unique, so any of them
    -- identifies a row).
    SELECT pg_catalog.array_agg(DISTINCT a.attname ORDER BY a.attname) INTO keys
      FROM pg_catalog.pg_constraint AS k
     CROSS JOIN LATERAL pg_catalog.unnest(k.confkey) AS x(att)
      JOIN pg_catalog.pg_attribute AS a ON a.attrelid = tbl AND a.attnum = x.att
     WHERE k.conrelid = tbl AND k.confrelid = tbl AND k.contype = 'f';
    SELECT pg_catalog.string_agg(pg_catalog.format('%I', x), ', ') INTO key_list FROM pg_catalog.unnest(keys) AS x;
    -- A root: for every self reference, a NULL in its columns or the row itself.
    -- A step: the child references the walked row through one of them.
    SELECT pg_catalog.string_agg(pg_catalog.format('(%s OR (%s))', nulls, self_ref), ' AND '),
           pg_catalog.string_agg(pg_catalog.format('(%s)', step), ' OR ')
      INTO root_cond, step_cond
      FROM (SELECT pg_catalog.string_agg(pg_catalog.format('t.%I IS NULL', ca.attname), ' OR ') AS nulls,
                   pg_catalog.string_agg(pg_catalog.format('t.%I = t.%I', ca.attname, pa.attname), ' AND ') AS self_ref,
                   pg_catalog.string_agg(pg_catalog.format('c.%I = w.%I', ca.attname, pa.attname), ' AND ') AS step
              FROM pg_catalog.pg_constraint AS k
             CROSS JOIN LATERAL ROWS FROM (pg_catalog.unnest(k.conkey), pg_catalog.unnest(k.confkey)) AS x(c_att, p_att)
              JOIN pg_catalog.pg_attribute AS ca ON ca.attrelid = tbl AND ca.attnum = x.c_att
              JOIN pg_catalog.pg_attribute AS pa ON pa.attrelid = tbl AND pa.attnum = x.p_att
             WHERE k.conrelid = tbl AND k.confrelid = tbl AND k.contype = 'f'
             GROUP BY k.oid) AS f;
    SELECT pg_catalog.string_agg(pg_catalog.format('d.%I = t.%I', x, x), ' AND ') INTO join_cond
      FROM pg_catalog.unnest(keys) AS x;
    -- (The path guards against reference cycles; not the CYCLE clause,
    -- which Citus does not plan.)
    RETURN pg_catalog.format(
        'WITH RECURSIVE walk (depth, path, %1$s) AS ('
        ' SELECT 0, ARRAY[ROW(%2$s)::text], %2$s FROM %3$s AS t WHERE t.%4$I = $1 AND %5$s'
        ' UNION ALL'
        ' SELECT w.depth + 1, w.path || ROW(%6$s)::text, %6$s FROM walk AS w JOIN %3$s AS c ON c.%4$I = $1 AND (%7$s)'
        ' WHERE ROW(%6$s)::text <> ALL (w.path)'
        '), '
        'depths AS (SELECT %1$s, pg_catalog.max(depth) AS depth FROM walk GROUP BY %1$s) '
        'SELECT %8$L::text, pg_catalog.to_jsonb(t) FROM %3$s AS t LEFT JOIN depths AS d ON %9$s '
        'WHERE t.%4$I = $1 ORDER BY d.depth NULLS LAST%10$s',
        key_list,
        (SELECT pg_catalog.string_agg(pg_catalog.format('t.%I', x), ', ') FROM pg_catalog.unnest(keys) AS x),
        rel, tenant_column, root_cond,
        (SELECT pg_catalog.string_agg(pg_catalog.format('c.%I', x), ', ') FROM pg_catalog.unnest(keys) AS x),
        step_cond, logical, join_cond, COALESCE(', ' || order_by, ''));
END
$fn$;
COMMENT ON FUNCTION saas._export_query(regclass, name) IS
    'Internal: the SELECT exporting one table''s rows of the tenant $1 in foreign-key order.';

-- Records an export in the audit log.  The application role, which may
-- export its own tenant, has no INSERT on saas.audit_logs (so that it cannot
-- forge audit rows): this function writes nothing but an EXPORT row of the
-- current tenant, as the owner of saas.audit_logs (whose triggers, defaults
-- and casts that owner controls), as the audit trigger writes.
CREATE FUNCTION saas._audit_export(org uuid, summary jsonb, metadata jsonb) RETURNS void
    LANGUAGE c VOLATILE
    AS 'MODULE_PATHNAME', 'saas_audit_export';
COMMENT ON FUNCTION saas._audit_export(uuid, jsonb, jsonb) IS
    'Internal: writes the EXPORT audit row of saas.export_tenant (for the application role, which cannot insert into saas.audit_logs).';
REVOKE EXECUTE ON FUNCTION saas._audit_export(uuid, jsonb, jsonb) FROM PUBLIC;

-- Every row of one tenant, table by table in foreign-key order, then its
-- audit rows (oldest first): COPY (SELECT * FROM saas.export_tenant(...)) TO
-- STDOUT.  Runs with the caller's rights: under row-level security the
-- tenant must be the current one.  Records itself as an EXPORT audit row.
CREATE FUNCTION saas.export_tenant(org uuid)
    RETURNS TABLE (table_name text, record jsonb)
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
    AS $fn$
DECLARE
    t record;
    n bigint;
    counts jsonb := '{}';
    saved_tenant text;
BEGIN
    IF org IS NULL THEN
        RAISE EXCEPTION 'saas.export_tenant: the organization must not be NULL'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF pg_catalog.current_setting('transaction_read_only') = 'on' THEN
        RAISE EXCEPTION 'saas.export_tenant: cannot export in a read-only transaction'
            USING ERRCODE = 'read_only_sql_transaction',
                  DETAIL = 'Every export is recorded in saas.audit_logs (action EXPORT).',
                  HINT = 'Export on the primary, in a read-write transaction.';
    END IF;
    IF NOT EXISTS (SELECT FROM saas.organizations AS o WHERE o.id = org) THEN
        RAISE EXCEPTION 'saas.export_tenant: organization % not found', org
            USING ERRCODE = 'no_data_found',
                  HINT = 'Under row-level security only the current tenant is visible: BEGIN; SELECT saas.set_tenant(''<organization>''); COPY (SELECT * FROM saas.export_tenant(''<organization>'')) TO STDOUT; COMMIT;';
    END IF;
    FOR t IN SELECT * FROM saas.tenant_tables() AS x ORDER BY x.ordinal LOOP
        RETURN QUERY EXECUTE saas._export_query(t.tbl, t.tenant_column) USING org;
        GET DIAGNOSTICS n = ROW_COUNT;
        counts := counts || pg_catalog.jsonb_build_object(t.table_name, n);
    END LOOP;
    RETURN QUERY
        SELECT 'saas.audit_logs'::text, pg_catalog.to_jsonb(a)
          FROM saas.audit_logs AS a
         WHERE a.organization_id = org
         ORDER BY a.created_at, a.id;
    GET DIAGNOSTICS n = ROW_COUNT;
    counts := counts || pg_catalog.jsonb_build_object('saas.audit_logs', n);
    -- The EXPORT row is written for the current tenant only: a caller who
    -- bypasses row-level security and set none has it set meanwhile.
    saved_tenant := pg_catalog.current_setting('app.current_tenant_id', true);
    PERFORM pg_catalog.set_config('app.current_tenant_id', org::text, true);
    PERFORM saas._audit_export(org, pg_catalog.jsonb_build_object('rows', counts),
                               saas._lifecycle_metadata('saas.export_tenant'));
    PERFORM pg_catalog.set_config('app.current_tenant_id', COALESCE(saved_tenant, ''), true);
END
$fn$;
COMMENT ON FUNCTION saas.export_tenant(uuid) IS
    'One row per record of a tenant (table_name, record as to_jsonb) across every tenant table in foreign-key order, then its audit rows; for COPY (SELECT * FROM saas.export_tenant(org)) TO STDOUT. Caller''s rights (RLS); recorded as an EXPORT audit row.';

-- Loads an export into this database: source is a table (table_name text,
-- record jsonb) holding what export_tenant returned, e.g. a temporary table
-- filled with COPY ... FROM.  Ids, keys, timestamps and the audit rows are
-- kept as exported.  The rows are inserted with session_replication_role =
-- replica, like pg_restore --disable-triggers: no trigger rewrites them and
-- the audit trigger does not log them again (their history is in the
-- export); the foreign keys, which that mode does not check, are checked
-- afterwards for the tenant's rows.  One transaction: all or nothing.
CREATE FUNCTION saas.import_tenant(source regclass)
    RETURNS TABLE (table_name text, rows bigint)
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
    AS $fn$
DECLARE
    src text;
    org uuid;
    n bigint;
    t record;
    fk record;
    problem text;
    cols text;
    vals text;
    overriding text;
    present jsonb;
    counts jsonb := '{}';
    imported oid[] := '{}';
    targets record;
    saved_role text := pg_catalog.current_setting('session_replication_role');
    saved_tenant text := pg_catalog.current_setting('app.current_tenant_id', true);
    violated boolean;
    have_present boolean := false;
    logical text;
    excluded text[];
    recreated bigint := 0;
BEGIN
    PERFORM saas._require_admin('saas.import_tenant');
    IF source IS NULL THEN
        RAISE EXCEPTION 'saas.import_tenant: the source table must not be NULL'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF (SELECT pg_catalog.count(*) FROM pg_catalog.pg_attribute AS a
         WHERE a.attrelid = source AND NOT a.attisdropped AND a.attnum > 0
           AND ((a.attname = 'table_name' AND a.atttypid = 'pg_catalog.text'::pg_catalog.regtype)
                OR (a.attname = 'record' AND a.atttypid = 'pg_catalog.jsonb'::pg_catalog.regtype))) <> 2 THEN
        RAISE EXCEPTION 'saas.import_tenant: % is not an export', source
            USING ERRCODE = 'datatype_mismatch',
                  DETAIL = 'The source needs the columns table_name text and record jsonb, as saas.export_tenant() returns them.',
                  HINT = 'CREATE TEMP TABLE export (table_name text, record jsonb); COPY export FROM ...; SELECT * FROM saas.import_tenant(''export'');';
    END IF;
    IF NOT pg_catalog.has_parameter_privilege('session_replication_role', 'SET') THEN
        RAISE EXCEPTION 'saas.import_tenant: permission denied to set session_replication_role'
            USING ERRCODE = 'insufficient_privilege',
                  DETAIL = 'The rows are loaded with session_replication_role = replica, as pg_restore --disable-triggers does, so that no trigger changes them or logs them again.',
                  HINT = pg_catalog.format('Run it as a superuser, or GRANT SET ON PARAMETER session_replication_role TO %I.', current_user);
    END IF;
    src := source::text;

    -- The organization: exactly one, and new here.
    EXECUTE pg_catalog.format('SELECT pg_catalog.count(*), (pg_catalog.array_agg((s.record->>''id'')::uuid))[1] '
                              'FROM %s AS s WHERE s.table_name = ''saas.organizations''', src)
        INTO n, org;
    IF n <> 1 OR org IS NULL THEN
        RAISE EXCEPTION 'saas.import_tenant: the export holds % saas.organizations rows, not one', n
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Import what saas.export_tenant() returned for one organization.';
    END IF;
    -- The owner is held by the forced policies too: work as that tenant.
    PERFORM pg_catalog.set_config('app.current_tenant_id', org::text, true);
    IF EXISTS (SELECT FROM saas.organizations AS o WHERE o.id = org) THEN
        RAISE EXCEPTION 'saas.import_tenant: organization % already exists', org
            USING ERRCODE = 'unique_violation',
                  HINT = 'Delete it first (CALL saas.delete_tenant(...)), or import into another database.';
    END IF;
    -- Every table known, every row the organization's.
    EXECUTE pg_catalog.format(
        'SELECT pg_catalog.string_agg(DISTINCT COALESCE(s.table_name, ''NULL''), '', '') FROM %s AS s '
        'WHERE s.table_name IS NULL OR (s.table_name <> ''saas.audit_logs'' AND s.table_name <> ALL ($1))', src)
        INTO problem USING ARRAY(SELECT x.table_name FROM saas.tenant_tables() AS x);
    IF problem IS NOT NULL THEN
        RAISE EXCEPTION 'saas.import_tenant: the export holds rows of tables this database does not have: %', problem
            USING ERRCODE = 'undefined_table',
                  HINT = 'Create them first (with an organization_id uuid column): the export carries rows, not table definitions.';
    END IF;
    EXECUTE pg_catalog.format(
        'SELECT pg_catalog.count(*) FROM %s AS s WHERE pg_catalog.jsonb_typeof(s.record) IS DISTINCT FROM ''object'' '
        'OR (CASE WHEN s.table_name = ''saas.organizations'' THEN s.record->>''id'' '
        'ELSE s.record->>''organization_id'' END)::uuid IS DISTINCT FROM $1', src)
        INTO n USING org;
    IF n > 0 THEN
        RAISE EXCEPTION 'saas.import_tenant: % rows of the export are not rows of organization %', n, org
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'An export holds one organization''s rows only; every record must be a JSON object.';
    END IF;
    -- The columns each table's records carry.
    EXECUTE pg_catalog.format(
        'SELECT pg_catalog.jsonb_object_agg(x.table_name, x.keys) FROM (SELECT s.table_name, '
        'pg_catalog.to_jsonb(pg_catalog.array_agg(DISTINCT k.key)) AS keys FROM %s AS s '
        'CROSS JOIN LATERAL pg_catalog.jsonb_object_keys(s.record) AS k(key) GROUP BY s.table_name) AS x', src)
        INTO present;

    -- Audit rows already here (the tenant was deleted, its audit rows kept
    -- until retention) are not loaded twice.  (Their ids go to a temporary
    -- table: on Citus a distributed table cannot be joined with a local one.)
    IF EXISTS (SELECT FROM saas.audit_logs AS a WHERE a.organization_id = org) THEN
        IF pg_catalog.to_regclass('pg_temp.saas_import_present') IS NOT NULL THEN
            DROP TABLE pg_temp.saas_import_present;  -- an earlier import in this transaction
        END IF;
        CREATE TEMPORARY TABLE saas_import_present ON COMMIT DROP AS
            SELECT a.id, a.table_name, a.record_id, a.action, a.created_at FROM saas.audit_logs AS a
             WHERE a.organization_id = org;
        CREATE INDEX ON pg_temp.saas_import_present (id);
        CREATE INDEX ON pg_temp.saas_import_present (record_id);
        ANALYZE pg_temp.saas_import_present;
        have_present := true;
    END IF;
    PERFORM pg_catalog.set_config('session_replication_role', 'replica', true);
    FOR t IN
        SELECT x.ordinal, x.table_name, x.tbl FROM saas.tenant_tables() AS x
        UNION ALL
        SELECT 2147483647, 'saas.audit_logs', 'saas.audit_logs'::pg_catalog.regclass
        ORDER BY 1
    LOOP
        CONTINUE WHEN NOT present ? t.table_name;
        SELECT pg_catalog.string_agg(k.key, ', ' ORDER BY k.key) INTO problem
          FROM pg_catalog.jsonb_array_elements_text(present -> t.table_name) AS k(key)
         WHERE NOT EXISTS (SELECT FROM pg_catalog.pg_attribute AS a
                            WHERE a.attrelid = t.tbl AND a.attname = k.key AND a.attnum > 0 AND NOT a.attisdropped);
        IF problem IS NOT NULL THEN
            RAISE EXCEPTION 'saas.import_tenant: % has no column(s) % that the export holds', t.table_name, problem
                USING ERRCODE = 'undefined_column',
                      HINT = 'Add the columns (the source database had them), or drop the keys from the records first.';
        END IF;
        -- Generated columns are computed again; identity columns keep their values.
        SELECT pg_catalog.string_agg(pg_catalog.format('%I', a.attname), ', ' ORDER BY a.attnum),
               pg_catalog.string_agg(pg_catalog.format('r.%I', a.attname), ', ' ORDER BY a.attnum),
               CASE WHEN pg_catalog.bool_or(a.attidentity = 'a') THEN ' OVERRIDING SYSTEM VALUE' ELSE '' END
          INTO cols, vals, overriding
          FROM pg_catalog.pg_attribute AS a
         WHERE a.attrelid = t.tbl AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = ''
           AND (present -> t.table_name) ? a.attname;
        EXECUTE pg_catalog.format('INSERT INTO %s (%s)%s SELECT %s FROM %s AS s '
                                  'CROSS JOIN LATERAL pg_catalog.jsonb_populate_record(NULL::%s, s.record) AS r '
                                  'WHERE s.table_name = $1%s',
                                  t.tbl, cols, overriding, vals, src, t.tbl,
                                  CASE WHEN t.table_name = 'saas.audit_logs' AND have_present
                                       THEN ' AND NOT EXISTS (SELECT FROM pg_temp.saas_import_present AS a WHERE a.id = r.id)'
                                       ELSE '' END)
            USING t.table_name;
        GET DIAGNOSTICS n = ROW_COUNT;
        imported := imported || t.tbl::oid;
        counts := counts || pg_catalog.jsonb_build_object(t.table_name, n);
        table_name := t.table_name;
        rows := n;
        RETURN NEXT;
    END LOOP;
    IF present ? 'saas.audit_logs' THEN
        EXECUTE pg_catalog.format('SELECT pg_catalog.count(*) FROM %s AS s WHERE s.table_name = ''saas.audit_logs''', src)
            INTO n;
        counts := counts || pg_catalog.jsonb_build_object('audit_rows_already_present',
                                                          n - (counts->>'saas.audit_logs')::bigint);
    END IF;
    -- Records whose history here ends with a DELETE (the tenant was deleted
    -- from this database and its audit rows kept) are re-created by the
    -- import: each gets the INSERT audit row the audit trigger would have
    -- written (the row without the trigger's excluded columns).
    FOR t IN SELECT x.table_name, x.tbl FROM saas.tenant_tables() AS x ORDER BY x.ordinal LOOP
        CONTINUE WHEN NOT present ? t.table_name OR NOT (present -> t.table_name) ? 'id';
        SELECT args[1], ARRAY['password_hash'] || args[3:]
          INTO logical, excluded
          FROM (SELECT pg_catalog.array_remove(pg_catalog.string_to_array(pg_catalog.encode(tg.tgargs, 'escape'), '\000'), '')
                       AS args
                  FROM pg_catalog.pg_trigger AS tg
                 WHERE tg.tgrelid = t.tbl AND tg.tgparentid = 0
                   AND tg.tgfoid = 'saas.audit_trigger'::pg_catalog.regproc
                 ORDER BY tg.tgname LIMIT 1) AS trg;
        CONTINUE WHEN NOT FOUND OR NOT have_present;
        CONTINUE WHEN NOT EXISTS (SELECT FROM pg_temp.saas_import_present AS a
                                   WHERE a.table_name = logical AND a.action = 'DELETE');
        EXECUTE pg_catalog.format(
            'INSERT INTO saas.audit_logs (organization_id, table_name, record_id, action, new_values, transaction_id, metadata) '
            'SELECT $1, $2, (s.record->>''id'')::uuid, ''INSERT'', s.record - $3, pg_catalog.txid_current(), $4 '
            'FROM %s AS s WHERE s.table_name = $5 '
            'AND (SELECT a.action FROM pg_temp.saas_import_present AS a WHERE a.table_name = $2 '
            '     AND a.record_id = (s.record->>''id'')::uuid ORDER BY a.created_at DESC, a.id DESC LIMIT 1) = ''DELETE''',
            src)
            USING org, logical, excluded, saas._lifecycle_metadata('saas.import_tenant'), t.table_name;
        GET DIAGNOSTICS n = ROW_COUNT;
        recreated := recreated + n;
    END LOOP;
    counts := counts || pg_catalog.jsonb_build_object('records_recreated', recreated);
    -- The foreign keys of what was imported, for the tenant's rows (replica
    -- mode did not check them).
    FOR fk IN
        SELECT k.conname, k.conrelid::pg_catalog.regclass AS child, k.confrelid::pg_catalog.regclass AS parent,
               k.confmatchtype,
               CASE WHEN cc.relkind = 'p' THEN '' ELSE 'ONLY ' END AS child_only,
               CASE WHEN pc.relkind = 'p' THEN '' ELSE 'ONLY ' END AS parent_only,
               (SELECT pg_catalog.string_agg(pg_catalog.format('c.%I IS NOT NULL', a.attname), ' AND ')
                  FROM pg_catalog.unnest(k.conkey) AS x(att)
                  JOIN pg_catalog.pg_attribute AS a ON a.attrelid = k.conrelid AND a.attnum = x.att) AS all_set,
               (SELECT pg_catalog.string_agg(pg_catalog.format('c.%I IS NOT NULL', a.attname), ' OR ')
                  FROM pg_catalog.unnest(k.conkey) AS x(att)
                  JOIN pg_catalog.pg_attribute AS a ON a.attrelid = k.conrelid AND a.attnum = x.att) AS any_set,
               (SELECT pg_catalog.string_agg(pg_catalog.format('p.%I = c.%I', pa.attname, ca.attname), ' AND ')
                  FROM ROWS FROM (pg_catalog.unnest(k.conkey), pg_catalog.unnest(k.confkey)) AS x(c_att, p_att)
                  JOIN pg_catalog.pg_attribute AS ca ON ca.attrelid = k.conrelid AND ca.attnum = x.c_att
                  JOIN pg_catalog.pg_attribute AS pa ON pa.attrelid = k.confrelid AND pa.attnum = x.p_att) AS matches,
               CASE WHEN k.conrelid = 'saas.organizations'::pg_catalog.regclass THEN 'id' ELSE 'organization_id' END
                   AS tenant_column
          FROM pg_catalog.pg_constraint AS k
          JOIN pg_catalog.pg_class AS cc ON cc.oid = k.conrelid
          JOIN pg_catalog.pg_class AS pc ON pc.oid = k.confrelid
         WHERE k.contype = 'f' AND k.conrelid = ANY (imported) AND k.conparentid = 0
         ORDER BY 2, 1
    LOOP
        EXECUTE pg_catalog.format('SELECT EXISTS (SELECT FROM %s%s AS c WHERE c.%I = $1 AND (%s) '
                                  'AND NOT EXISTS (SELECT FROM %s%s AS p WHERE %s))',
                                  fk.child_only, fk.child, fk.tenant_column,
                                  CASE WHEN fk.confmatchtype = 'f' THEN fk.any_set ELSE fk.all_set END,
                                  fk.parent_only, fk.parent, fk.matches)
            INTO violated USING org;
        IF violated THEN
            RAISE EXCEPTION 'saas.import_tenant: rows of % violate foreign key % (to %)', fk.child, fk.conname, fk.parent
                USING ERRCODE = 'foreign_key_violation',
                      HINT = 'The export is incomplete, or rows it references (e.g. of shared tables without organization_id) are missing here.';
        END IF;
    END LOOP;
    PERFORM pg_catalog.set_config('session_replication_role', saved_role, true);
    INSERT INTO saas.audit_logs (organization_id, table_name, record_id, action, user_id, new_values,
                                 transaction_id, metadata)
    VALUES (org, 'saas.organizations', NULL, 'IMPORT', NULL, pg_catalog.jsonb_build_object('rows', counts),
            pg_catalog.txid_current(),
            saas._lifecycle_metadata('saas.import_tenant') || pg_catalog.jsonb_build_object('source', src));
    PERFORM pg_catalog.set_config('app.current_tenant_id', COALESCE(saved_tenant, ''), true);
END
$fn$;
COMMENT ON FUNCTION saas.import_tenant(regclass) IS
    'Loads an export of saas.export_tenant (a table of table_name text, record jsonb) into this database, keeping ids, keys and audit rows; checks the foreign keys; records an IMPORT audit row. Administrators only; needs SET on session_replication_role.';
REVOKE EXECUTE ON FUNCTION saas.import_tenant(regclass) FROM PUBLIC;

-- Personal columns.  Declared as the security label 'personal' of provider
-- saas_schema on the column (src/tenant_lifecycle.cpp), so that the
-- declaration is part of the DBA's table: dumped, restored and upgraded with
-- it.  saas.users.email and saas.users.full_name are declared by default.
CREATE FUNCTION saas.personal_columns()
    RETURNS TABLE (table_name text, tbl regclass, column_name name)
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, pg_temp
    AS $fn$
    SELECT ns.nspname || '.' || c.relname, c.oid::pg_catalog.regclass, a.attname
      FROM pg_catalog.pg_seclabel AS l
      JOIN pg_catalog.pg_class AS c ON c.oid = l.objoid
      JOIN pg_catalog.pg_namespace AS ns ON ns.oid = c.relnamespace
      JOIN pg_catalog.pg_attribute AS a ON a.attrelid = l.objoid AND a.attnum = l.objsubid
     WHERE l.provider = 'saas_schema' AND l.classoid = 'pg_catalog.pg_class'::pg_catalog.regclass
       AND l.objsubid > 0 AND l.label = 'personal' AND NOT a.attisdropped
     ORDER BY 1, 3
$fn$;
COMMENT ON FUNCTION saas.personal_columns() IS
    'The columns declared personal (SECURITY LABEL FOR saas_schema ... IS ''personal''), whose values saas.erase_user() erases.';

CREATE FUNCTION saas.declare_personal(tbl regclass, columns name[], personal boolean DEFAULT true) RETURNS void
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
    AS $fn$
DECLARE
    col name;
BEGIN
    IF tbl IS NULL OR columns IS NULL OR personal IS NULL
       OR pg_catalog.array_position(columns, NULL) IS NOT NULL THEN
        RAISE EXCEPTION 'saas.declare_personal: arguments must not be NULL'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    FOREACH col IN ARRAY columns LOOP
        IF NOT EXISTS (SELECT FROM pg_catalog.pg_attribute AS a
                        WHERE a.attrelid = tbl AND a.attname = col AND a.attnum > 0 AND NOT a.attisdropped) THEN
            RAISE EXCEPTION 'saas.declare_personal: % has no column %', tbl, col USING ERRCODE = 'undefined_column';
        END IF;
        EXECUTE pg_catalog.format('SECURITY LABEL FOR saas_schema ON COLUMN %s.%I IS %L',
                                  tbl, col, CASE WHEN personal THEN 'personal' END);
    END LOOP;
    IF personal AND tbl <> 'saas.users'::pg_catalog.regclass
       AND NOT EXISTS (SELECT FROM pg_catalog.pg_constraint AS k
                        WHERE k.conrelid = tbl AND k.contype = 'f' AND k.confrelid = 'saas.users'::pg_catalog.regclass) THEN
        RAISE NOTICE 'saas.declare_personal: % has no foreign key to saas.users', tbl
            USING DETAIL = 'saas.erase_user() finds a person''s rows through foreign keys to saas.users: it cannot tell whose values these columns hold, and erases them only where they equal a value it erases.';
    END IF;
END
$fn$;
COMMENT ON FUNCTION saas.declare_personal(regclass, name[], boolean) IS
    'Declares columns personal (or, with personal => false, no longer personal): SECURITY LABEL FOR saas_schema ON COLUMN ... IS ''personal''. Needs ownership of the table.';
REVOKE EXECUTE ON FUNCTION saas.declare_personal(regclass, name[], boolean) FROM PUBLIC;

-- Redaction.  The marker replacing an erased value is the JSON string
-- "[redacted]".  A text loses every occurrence of the erased values (case
-- insensitively; values shorter than 4 characters only when they are the
-- whole text).
CREATE FUNCTION saas._redact_text(value text, needles text[]) RETURNS text
    LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
    AS $fn$
DECLARE
    needle text;
BEGIN
    IF value IS NULL OR needles IS NULL THEN
        RETURN value;
    END IF;
    FOREACH needle IN ARRAY needles LOOP
        IF pg_catalog.lower(value) = pg_catalog.lower(needle) THEN
            RETURN '[redacted]';
        END IF;
        IF pg_catalog.length(needle) >= 4 THEN
            -- Every character but letters, digits and spaces escaped: a literal match.
            value := pg_catalog.regexp_replace(value, pg_catalog.regexp_replace(needle, '([^[:alnum:] ])', '\\\1', 'g'),
                                               '[redacted]', 'gi');
        END IF;
    END LOOP;
    RETURN value;
END
$fn$;
COMMENT ON FUNCTION saas._redact_text(text, text[]) IS
    'Internal: the text with every occurrence of the erased values replaced by [redacted].';

-- A JSON document with the values under the top-level keys redact_keys
-- replaced by "[redacted]" (JSON nulls stay null), the values under keep_keys
-- left alone, and every other string, at any depth, passed through
-- saas._redact_text.
CREATE FUNCTION saas._redact_jsonb(doc jsonb, redact_keys text[], needles text[], keep_keys text[] DEFAULT '{}')
    RETURNS jsonb
    LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
    AS $fn$
BEGIN
    CASE pg_catalog.jsonb_typeof(doc)
    WHEN 'object' THEN
        RETURN COALESCE((SELECT pg_catalog.jsonb_object_agg(
                                    e.key,
                                    CASE WHEN e.key = ANY (redact_keys) AND e.value <> 'null'::jsonb
                                              THEN '"[redacted]"'::jsonb
                                         WHEN e.key = ANY (keep_keys) THEN e.value
                                         ELSE saas._redact_jsonb(e.value, '{}', needles) END)
                           FROM pg_catalog.jsonb_each(doc) AS e),
                        '{}'::jsonb);
    WHEN 'array' THEN
        RETURN COALESCE((SELECT pg_catalog.jsonb_agg(saas._redact_jsonb(e.value, '{}', needles) ORDER BY e.n)
                           FROM pg_catalog.jsonb_array_elements(doc) WITH ORDINALITY AS e(value, n)),
                        '[]'::jsonb);
    WHEN 'string' THEN
        RETURN pg_catalog.to_jsonb(saas._redact_text(doc #>> '{}', needles));
    ELSE
        RETURN doc;
    END CASE;
END
$fn$;
COMMENT ON FUNCTION saas._redact_jsonb(jsonb, text[], text[], text[]) IS
    'Internal: a JSON document with personal values replaced by "[redacted]".';

-- The condition (on alias r, the user id as $1) selecting the rows of tbl
-- that belong to a user: the user's own row of saas.users, or rows whose
-- foreign keys to saas.users reference the user.  audit_form gives the same
-- condition on an audit row's old_values/new_values (alias a), for rows
-- without an id.  NULL when tbl has no such link.
CREATE FUNCTION saas._person_link(tbl regclass, audit_form boolean) RETURNS text
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, pg_temp
    AS $fn$
    SELECT CASE
        WHEN tbl = 'saas.users'::pg_catalog.regclass THEN
            CASE WHEN audit_form THEN 'a.record_id = $1' ELSE 'r.id = $1' END
        ELSE (SELECT pg_catalog.string_agg(
                         CASE WHEN audit_form
                              THEN pg_catalog.format('(a.old_values->>%1$L = $1::text OR a.new_values->>%1$L = $1::text)',
                                                     ca.attname)
                              ELSE pg_catalog.format('r.%I = $1', ca.attname) END,
                         ' OR ' ORDER BY ca.attname)
                FROM pg_catalog.pg_constraint AS k
               CROSS JOIN LATERAL ROWS FROM (pg_catalog.unnest(k.conkey), pg_catalog.unnest(k.confkey)) AS x(c_att, p_att)
                JOIN pg_catalog.pg_attribute AS ca ON ca.attrelid = k.conrelid AND ca.attnum = x.c_att
                JOIN pg_catalog.pg_attribute AS pa ON pa.attrelid = k.confrelid AND pa.attnum = x.p_att
               WHERE k.conrelid = tbl AND k.contype = 'f' AND k.confrelid = 'saas.users'::pg_catalog.regclass
                 AND pa.attname = 'id')
    END
$fn$;
COMMENT ON FUNCTION saas._person_link(regclass, boolean) IS
    'Internal: the SQL condition selecting the rows of a table (or its audit rows) that belong to the user $1.';

-- Erases a person: anonymises the user's row (personal columns, password
-- hash; the user is deactivated) and the personal columns of the rows that
-- reference the user, then redacts the person's personal values from the
-- tenant's audit rows (old_values, new_values, metadata), keeping every
-- other value and every row.  The only change ever made to audit rows.
-- Records a REDACT audit row (table_name saas.audit_logs, record_id the
-- user) saying who, when and how many rows.  Administrators only.
CREATE FUNCTION saas.erase_user(user_id uuid) RETURNS jsonb
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
    AS $fn$
DECLARE
    uid uuid := erase_user.user_id;
    orgs uuid[];
    org uuid;
    saved_tenant text := pg_catalog.current_setting('app.current_tenant_id', true);
    p record;
    link text;
    audit_link text;
    ids uuid[];
    found_ids uuid[];
    found_values text[];
    needles text[] := '{}';
    probes text[];
    targets jsonb := '[]';
    personal_map jsonb := '{}';
    target jsonb;
    set_list text;
    columns text[] := '{}';
    live bigint := 0;
    redacted bigint := 0;
    n bigint;
    summary jsonb;
BEGIN
    PERFORM saas._require_admin('saas.erase_user');
    IF uid IS NULL THEN
        RAISE EXCEPTION 'saas.erase_user: the user id must not be NULL' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    -- The user's organization, from the row or, for a user deleted since,
    -- from the audit log.
    SELECT pg_catalog.array_agg(DISTINCT u.organization_id) INTO orgs FROM saas.users AS u WHERE u.id = uid;
    IF orgs IS NULL THEN
        SELECT pg_catalog.array_agg(DISTINCT a.organization_id) INTO orgs
          FROM saas.audit_logs AS a WHERE a.record_id = uid AND a.table_name = 'saas.users';
    END IF;
    IF orgs IS NULL THEN
        RAISE EXCEPTION 'saas.erase_user: user % not found', uid
            USING ERRCODE = 'no_data_found',
                  HINT = 'Row-level security holds the owner too (it is forced): in the same transaction, SELECT saas.set_tenant(<organization>) first.';
    END IF;
    IF pg_catalog.cardinality(orgs) > 1 THEN
        RAISE EXCEPTION 'saas.erase_user: user id % exists in several organizations', uid
            USING ERRCODE = 'cardinality_violation',
                  HINT = 'SELECT saas.set_tenant(<organization>) first, in the same transaction, to choose one.';
    END IF;
    org := orgs[1];
    PERFORM pg_catalog.set_config('app.current_tenant_id', org::text, true);

    -- The person's records and values, table by table: the users row, and
    -- rows with declared personal columns that reference the user.
    FOR p IN
        SELECT pc.table_name, pc.tbl,
               COALESCE(pg_catalog.array_agg(pc.column_name::text ORDER BY pc.column_name)
                            FILTER (WHERE pc.column_name IS NOT NULL), '{}') AS cols,
               EXISTS (SELECT FROM pg_catalog.pg_attribute AS a
                        WHERE a.attrelid = pc.tbl AND a.attname = 'id' AND NOT a.attisdropped) AS has_id
          FROM (SELECT x.table_name, x.tbl, x.column_name FROM saas.personal_columns() AS x
                UNION ALL  -- the users row is anonymised even without personal columns (password hash)
                SELECT 'saas.users', 'saas.users'::pg_catalog.regclass, NULL) AS pc
         WHERE pc.tbl IN (SELECT x.tbl FROM saas.tenant_tables() AS x)
         GROUP BY pc.table_name, pc.tbl
         ORDER BY pc.table_name
    LOOP
        link := saas._person_link(p.tbl, false);
        CONTINUE WHEN link IS NULL;
        personal_map := personal_map || pg_catalog.jsonb_build_object(p.table_name, p.cols);
        audit_link := saas._person_link(p.tbl, true);
        columns := columns || ARRAY(SELECT p.table_name || '.' || c FROM pg_catalog.unnest(p.cols) AS c);
        -- Live rows: their ids and their personal values.
        IF p.has_id THEN
            EXECUTE pg_catalog.format('SELECT pg_catalog.array_agg(r.id) FROM %s AS r '
                                      'WHERE r.organization_id = $2 AND (%s)', p.tbl, link)
                INTO ids USING uid, org;
        ELSE
            ids := '{}';
        END IF;
        EXECUTE pg_catalog.format('SELECT pg_catalog.array_agg(DISTINCT v.value #>> ''{}'') FROM %s AS r '
                                  'CROSS JOIN LATERAL pg_catalog.jsonb_each(pg_catalog.to_jsonb(r)) AS v '
                                  'WHERE r.organization_id = $2 AND (%s) '
                                  'AND v.key = ANY ($3) AND pg_catalog.jsonb_typeof(v.value) = ''string''', p.tbl, link)
            INTO found_values USING uid, org, p.cols;
        needles := needles || COALESCE(found_values, '{}');
        -- Deleted rows still have audit rows: their ids from the foreign key values.
        IF p.has_id AND p.tbl <> 'saas.users'::pg_catalog.regclass THEN
            EXECUTE pg_catalog.format('SELECT pg_catalog.array_agg(DISTINCT a.record_id) FROM saas.audit_logs AS a '
                                      'WHERE a.organization_id = $2 AND a.table_name = $3 AND a.record_id IS NOT NULL AND (%s)',
                                      audit_link)
                INTO found_ids USING uid, org, p.table_name;
            ids := COALESCE(ids, '{}') || COALESCE(found_ids, '{}');
        ELSIF p.tbl = 'saas.users'::pg_catalog.regclass THEN
            ids := ARRAY[uid];
        END IF;
        ids := ARRAY(SELECT DISTINCT x FROM pg_catalog.unnest(ids) AS x WHERE x IS NOT NULL);
        -- Every value the audit log recorded for those columns of those records.
        SELECT pg_catalog.array_agg(DISTINCT v.value #>> '{}') INTO found_values
          FROM saas.audit_logs AS a
         CROSS JOIN LATERAL (SELECT * FROM pg_catalog.jsonb_each(a.old_values)
                             UNION ALL SELECT * FROM pg_catalog.jsonb_each(a.new_values)) AS v
         WHERE a.organization_id = org AND a.table_name = p.table_name AND a.record_id = ANY (ids)
           AND v.key = ANY (p.cols) AND pg_catalog.jsonb_typeof(v.value) = 'string';
        needles := needles || COALESCE(found_values, '{}');
        IF NOT p.has_id THEN
            EXECUTE pg_catalog.format(
                'SELECT pg_catalog.array_agg(DISTINCT v.value #>> ''{}'') FROM saas.audit_logs AS a '
                'CROSS JOIN LATERAL (SELECT * FROM pg_catalog.jsonb_each(a.old_values) '
                '                    UNION ALL SELECT * FROM pg_catalog.jsonb_each(a.new_values)) AS v '
                'WHERE a.organization_id = $2 AND a.table_name = $3 AND a.record_id IS NULL AND (%s) '
                '  AND v.key = ANY ($4) AND pg_catalog.jsonb_typeof(v.value) = ''string''', audit_link)
                INTO found_values USING uid, org, p.table_name, p.cols;
            needles := needles || COALESCE(found_values, '{}');
        END IF;
        targets := targets || pg_catalog.jsonb_build_array(pg_catalog.jsonb_build_object(
            'tbl', p.tbl::oid, 'table_name', p.table_name, 'cols', p.cols, 'ids', ids,
            'link', link, 'audit_link', CASE WHEN p.has_id THEN NULL ELSE audit_link END));
    END LOOP;
    needles := ARRAY(SELECT DISTINCT x FROM pg_catalog.unnest(needles) AS x
                      WHERE x IS NOT NULL AND x <> '' AND x <> '[redacted]' ORDER BY x);
    -- How a value appears in the JSON text: escaped; short values only whole.
    probes := ARRAY(SELECT CASE WHEN pg_catalog.length(x) >= 4
                                THEN pg_catalog.lower(pg_catalog.btrim(pg_catalog.to_jsonb(x)::text, '"'))
                                ELSE pg_catalog.lower(pg_catalog.to_jsonb(x)::text) END
                      FROM pg_catalog.unnest(needles) AS x);

    -- 1. The live rows.  Personal columns become NULL (or their default when
    -- NOT NULL); a users row's email becomes an address that names no one,
    -- its password hash unusable, and the user inactive.
    FOR target IN SELECT * FROM pg_catalog.jsonb_array_elements(targets) LOOP
        SELECT pg_catalog.string_agg(
                   pg_catalog.format('%I = %s', a.attname,
                       CASE WHEN (target->>'tbl')::oid = 'saas.users'::pg_catalog.regclass AND a.attname = 'email'
                                 THEN pg_catalog.format('%L', 'erased-' || uid::text || '@erased.invalid')
                            WHEN NOT a.attnotnull THEN 'NULL'
                            WHEN a.atthasdef THEN 'DEFAULT'
                            ELSE NULL END),
                   ', ' ORDER BY a.attnum),
               pg_catalog.string_agg(a.attname, ', ') FILTER (WHERE a.attnotnull AND NOT a.atthasdef
                   AND NOT ((target->>'tbl')::oid = 'saas.users'::pg_catalog.regclass AND a.attname = 'email'))
          INTO set_list, link
          FROM pg_catalog.pg_attribute AS a
         WHERE a.attrelid = (target->>'tbl')::oid AND a.attnum > 0 AND NOT a.attisdropped
           AND a.attname IN (SELECT pg_catalog.jsonb_array_elements_text(target->'cols'));
        IF link IS NOT NULL THEN
            RAISE EXCEPTION 'saas.erase_user: personal column(s) % of % are NOT NULL without a default', link, target->>'table_name'
                USING ERRCODE = 'not_null_violation',
                      HINT = 'Let erase_user clear them: ALTER TABLE ... ALTER COLUMN ... DROP NOT NULL, or SET DEFAULT a value that names no one.';
        END IF;
        IF (target->>'tbl')::oid = 'saas.users'::pg_catalog.regclass THEN
            SELECT pg_catalog.concat_ws(', ', set_list,
                       CASE WHEN EXISTS (SELECT FROM pg_catalog.pg_attribute AS a WHERE a.attrelid = 'saas.users'::pg_catalog.regclass
                                           AND a.attname = 'password_hash' AND NOT a.attisdropped)
                            THEN 'password_hash = ''!erased''' END,
                       CASE WHEN EXISTS (SELECT FROM pg_catalog.pg_attribute AS a WHERE a.attrelid = 'saas.users'::pg_catalog.regclass
                                           AND a.attname = 'is_active' AND NOT a.attisdropped)
                            THEN 'is_active = false' END)
              INTO set_list;
        END IF;
        CONTINUE WHEN set_list IS NULL OR set_list = '';
        EXECUTE pg_catalog.format('UPDATE %s AS r SET %s WHERE r.organization_id = $2 AND (%s)',
                                  (target->>'tbl')::oid::pg_catalog.regclass, set_list, target->>'link')
            USING uid, org;
        GET DIAGNOSTICS n = ROW_COUNT;
        live := live + n;
    END LOOP;

    -- 2. The audit rows (the UPDATEs just made included).  The guard lets
    -- the owner's members change audit rows under this flag only.
    SET LOCAL saas_audit.partition_maintenance = on;
    --    a. The person's records: their personal columns become "[redacted]".
    FOR target IN SELECT * FROM pg_catalog.jsonb_array_elements(targets) LOOP
        EXECUTE pg_catalog.format(
            'UPDATE saas.audit_logs AS a SET old_values = saas._redact_jsonb(a.old_values, $3, $4), '
            'new_values = saas._redact_jsonb(a.new_values, $3, $4), metadata = saas._redact_jsonb(a.metadata, ''{}'', $4) '
            'WHERE a.organization_id = $2 AND a.table_name = $5 AND (a.record_id = ANY ($6)%s) '
            'AND (EXISTS (SELECT FROM pg_catalog.jsonb_each(a.old_values) AS e WHERE e.key = ANY ($3) '
            '             AND e.value NOT IN (''null'', ''"[redacted]"'')) '
            '  OR EXISTS (SELECT FROM pg_catalog.jsonb_each(a.new_values) AS e WHERE e.key = ANY ($3) '
            '             AND e.value NOT IN (''null'', ''"[redacted]"'')) '
            '  OR EXISTS (SELECT FROM pg_catalog.unnest($7) AS pr(probe) '
            '             WHERE pg_catalog.strpos(pg_catalog.lower(a.old_values::text), pr.probe) > 0 '
            '                OR pg_catalog.strpos(pg_catalog.lower(a.new_values::text), pr.probe) > 0 '
            '                OR pg_catalog.strpos(pg_catalog.lower(a.metadata::text), pr.probe) > 0))',
            CASE WHEN target->>'audit_link' IS NULL THEN ''
                 ELSE ' OR (a.record_id IS NULL AND (' || (target->>'audit_link') || '))' END)
            USING uid, org, ARRAY(SELECT pg_catalog.jsonb_array_elements_text(target->'cols')), needles,
                  target->>'table_name', ARRAY(SELECT pg_catalog.jsonb_array_elements_text(target->'ids'))::uuid[],
                  probes;
        GET DIAGNOSTICS n = ROW_COUNT;
        redacted := redacted + n;
    END LOOP;
    --    b. Every other audit row of the tenant holding one of the values
    --       (in any column, nested, inside a text); other records' personal
    --       columns are theirs and left alone.
    IF pg_catalog.cardinality(needles) > 0 THEN
        UPDATE saas.audit_logs AS a
           SET old_values = saas._redact_jsonb(a.old_values, '{}', needles,
                                               ARRAY(SELECT pg_catalog.jsonb_array_elements_text(personal_map -> a.table_name))),
               new_values = saas._redact_jsonb(a.new_values, '{}', needles,
                                               ARRAY(SELECT pg_catalog.jsonb_array_elements_text(personal_map -> a.table_name))),
               metadata = saas._redact_jsonb(a.metadata, '{}', needles)
         WHERE a.organization_id = org
           AND EXISTS (SELECT FROM pg_catalog.unnest(probes) AS pr(probe)
                        WHERE pg_catalog.strpos(pg_catalog.lower(a.old_values::text), pr.probe) > 0
                           OR pg_catalog.strpos(pg_catalog.lower(a.new_values::text), pr.probe) > 0
                           OR pg_catalog.strpos(pg_catalog.lower(a.metadata::text), pr.probe) > 0);
        GET DIAGNOSTICS n = ROW_COUNT;
        redacted := redacted + n;
    END IF;
    SET LOCAL saas_audit.partition_maintenance = off;

    -- 3. The erasure's own audit row.
    summary := pg_catalog.jsonb_build_object('user_id', uid, 'columns', pg_catalog.to_jsonb(columns),
                                             'live_rows', live, 'audit_rows', redacted);
    INSERT INTO saas.audit_logs (organization_id, table_name, record_id, action, user_id, new_values,
                                 transaction_id, metadata)
    VALUES (org, 'saas.audit_logs', uid, 'REDACT', saas.current_actor_id(), summary, pg_catalog.txid_current(),
            saas._lifecycle_metadata('saas.erase_user'));
    PERFORM pg_catalog.set_config('app.current_tenant_id', COALESCE(saved_tenant, ''), true);
    RETURN summary;
END
$fn$;
COMMENT ON FUNCTION saas.erase_user(uuid) IS
    'GDPR erasure: anonymises a user''s row (personal columns, password hash; deactivated) and the personal columns of rows referencing the user, redacts the person''s personal values from the tenant''s audit rows, and records a REDACT audit row. Administrators only.';
REVOKE EXECUTE ON FUNCTION saas.erase_user(uuid) FROM PUBLIC;

-- Deleting a tenant in batches.  The tenant's rows are deleted child tables
-- first (reverse foreign-key order), at most batch_rows rows of one table
-- per transaction, each batch committed: other tenants' writes, and the DDL
-- they may queue behind, never wait longer than one batch.  Finally the
-- organization row goes, in one transaction with whatever the tenant wrote
-- meanwhile.  Every deleted row is audited like any DELETE (no actor, so
-- user_id NULL and metadata {}); the tenant's audit rows stay until
-- retention drops their partitions.  After a crash, CALL it again: it
-- carries on with what is left.

-- The tenant context of a deletion batch: the tenant (the owner is held by
-- the forced policies too), no actor and no request metadata.  (The audit
-- trigger records metadata only with an actor that saas.set_actor would
-- accept, and a deletion has none: its DELETE rows have user_id NULL and
-- metadata {}.)
CREATE FUNCTION saas._delete_tenant_context(org uuid) RETURNS void
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
    AS $fn$
BEGIN
    PERFORM pg_catalog.set_config('app.current_tenant_id', org::text, true);
    PERFORM pg_catalog.set_config('app.current_user_id', '', true);
    PERFORM pg_catalog.set_config('app.request_metadata', '', true);
END
$fn$;
COMMENT ON FUNCTION saas._delete_tenant_context(uuid) IS
    'Internal: sets the tenant (no actor, no request metadata) for one transaction of saas.delete_tenant.';
REVOKE EXECUTE ON FUNCTION saas._delete_tenant_context(uuid) FROM PUBLIC;

-- Checks the call and returns what to delete from, in order: every tenant
-- table but organizations, children first, a partitioned table as its leaf
-- partitions.  NULL when nothing of the tenant is left.
CREATE FUNCTION saas._delete_tenant_start(org uuid, batch_rows integer) RETURNS regclass[]
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
    AS $fn$
DECLARE
    t record;
    left_over boolean := false;
    targets regclass[] := '{}';
BEGIN
    PERFORM saas._require_admin('saas.delete_tenant');
    PERFORM saas._require_no_transaction_block('saas.delete_tenant');
    IF org IS NULL THEN
        RAISE EXCEPTION 'saas.delete_tenant: the organization must not be NULL' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF batch_rows IS NULL OR batch_rows < 1 THEN
        RAISE EXCEPTION 'saas.delete_tenant: batch_rows must be a positive number of rows, not %',
                        COALESCE(batch_rows::text, 'NULL')
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Each batch is one transaction: 10000 rows (the default) keep other tenants'' waits short.';
    END IF;
    PERFORM saas._delete_tenant_context(org);
    FOR t IN SELECT * FROM saas.tenant_tables() AS x ORDER BY x.ordinal DESC LOOP
        IF NOT left_over THEN
            EXECUTE pg_catalog.format('SELECT EXISTS (SELECT FROM %s AS r WHERE r.%I = $1)', t.tbl, t.tenant_column)
                INTO left_over USING org;
        END IF;
        CONTINUE WHEN t.tbl = 'saas.organizations'::pg_catalog.regclass;
        -- (pg_partition_tree() returns nothing for a table that is not partitioned.)
        targets := targets || ARRAY(SELECT t.tbl FROM pg_catalog.pg_class AS c WHERE c.oid = t.tbl AND c.relkind = 'r'
                                    UNION ALL
                                    SELECT x.relid FROM (SELECT p.relid, p.level, c.relname
                                                           FROM pg_catalog.pg_partition_tree(t.tbl) AS p
                                                           JOIN pg_catalog.pg_class AS c ON c.oid = p.relid
                                                          WHERE p.isleaf AND c.relkind = 'r'
                                                          ORDER BY p.level, c.relname) AS x);
    END LOOP;
    IF NOT left_over THEN
        RAISE NOTICE 'saas.delete_tenant: nothing left of organization %', org;
        RETURN NULL;
    END IF;
    RETURN targets;
END
$fn$;
COMMENT ON FUNCTION saas._delete_tenant_start(uuid, integer) IS
    'Internal: checks a saas.delete_tenant call and returns the tables (leaf partitions) to delete from, children first.';
REVOKE EXECUTE ON FUNCTION saas._delete_tenant_start(uuid, integer) FROM PUBLIC;

-- One batch: up to batch_rows rows of the tenant in one table (a leaf
-- partition or a plain table).  Where a table references itself (threads),
-- only rows no other row references are taken, leaves first: a batch never
-- cascades to more rows (nor fails on a reference without ON DELETE
-- CASCADE).  Rows in a reference cycle are left to the last transaction.
CREATE FUNCTION saas._delete_tenant_batch(org uuid, target regclass, batch_rows integer) RETURNS bigint
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
    AS $fn$
DECLARE
    root regclass := COALESCE(pg_catalog.pg_partition_root(target), target);
    root_rel text;
    guard text;
    key_list text;
    n bigint;
BEGIN
    PERFORM saas._delete_tenant_context(org);
    SELECT CASE WHEN c.relkind = 'p' THEN '' ELSE 'ONLY ' END || c.oid::pg_catalog.regclass::text INTO root_rel
      FROM pg_catalog.pg_class AS c WHERE c.oid = root;
    -- (A row referencing itself does not keep itself: the referenced key,
    -- unique, tells it from the others.)
    SELECT pg_catalog.string_agg(pg_catalog.format(
               ' AND NOT EXISTS (SELECT FROM %s AS c WHERE c.organization_id = $1 AND %s'
               ' AND (%s) IS DISTINCT FROM (%s))', root_rel, f.matches, f.c_key, f.t_key), '')
      INTO guard
      FROM (SELECT pg_catalog.string_agg(pg_catalog.format('c.%I = t.%I', ca.attname, pa.attname), ' AND ') AS matches,
                   'ROW(' || pg_catalog.string_agg(pg_catalog.format('c.%I', pa.attname), ', ') || ')' AS c_key,
                   'ROW(' || pg_catalog.string_agg(pg_catalog.format('t.%I', pa.attname), ', ') || ')' AS t_key
              FROM pg_catalog.pg_constraint AS k
             CROSS JOIN LATERAL ROWS FROM (pg_catalog.unnest(k.conkey), pg_catalog.unnest(k.confkey)) AS x(c_att, p_att)
              JOIN pg_catalog.pg_attribute AS ca ON ca.attrelid = root AND ca.attnum = x.c_att
              JOIN pg_catalog.pg_attribute AS pa ON pa.attrelid = root AND pa.attnum = x.p_att
             WHERE k.conrelid = root AND k.confrelid = root AND k.contype = 'f'
             GROUP BY k.oid) AS f;
    -- Rows are picked by primary key (Citus plans that as one shard's
    -- query), or by ctid where there is none.
    SELECT pg_catalog.string_agg(pg_catalog.format('%I', a.attname), ', ' ORDER BY k.ord) INTO key_list
      FROM pg_catalog.pg_index AS i
     CROSS JOIN LATERAL pg_catalog.unnest(i.indkey::smallint[]) WITH ORDINALITY AS k(att, ord)
      JOIN pg_catalog.pg_attribute AS a ON a.attrelid = i.indrelid AND a.attnum = k.att
     WHERE i.indrelid = target AND i.indisprimary;
    IF key_list IS NOT NULL THEN
        EXECUTE pg_catalog.format('DELETE FROM ONLY %1$s WHERE organization_id = $1 AND (%3$s) IN '
                                  '(SELECT %3$s FROM ONLY %1$s AS t WHERE t.organization_id = $1%2$s LIMIT $2)',
                                  target, COALESCE(guard, ''), key_list)
            USING org, batch_rows;
    ELSE
        EXECUTE pg_catalog.format('DELETE FROM ONLY %1$s WHERE ctid = ANY (ARRAY(SELECT t.ctid FROM ONLY %1$s AS t '
                                  'WHERE t.organization_id = $1%2$s LIMIT $2))', target, COALESCE(guard, ''))
            USING org, batch_rows;
    END IF;
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END
$fn$;
COMMENT ON FUNCTION saas._delete_tenant_batch(uuid, regclass, integer) IS
    'Internal: deletes one batch of a tenant''s rows from one table for saas.delete_tenant.';
REVOKE EXECUTE ON FUNCTION saas._delete_tenant_batch(uuid, regclass, integer) FROM PUBLIC;

-- The last transaction: what the tenant wrote since its tables were emptied,
-- and the organization row.
CREATE FUNCTION saas._delete_tenant_finish(org uuid) RETURNS bigint
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
    AS $fn$
DECLARE
    t record;
    n bigint;
    total bigint := 0;
BEGIN
    PERFORM saas._delete_tenant_context(org);
    FOR t IN SELECT * FROM saas.tenant_tables() AS x ORDER BY x.ordinal DESC LOOP
        EXECUTE pg_catalog.format('DELETE FROM %s%s AS r WHERE r.%I = $1',
                                  CASE WHEN (SELECT c.relkind FROM pg_catalog.pg_class AS c WHERE c.oid = t.tbl) = 'p'
                                       THEN '' ELSE 'ONLY ' END,
                                  t.tbl, t.tenant_column)
            USING org;
        GET DIAGNOSTICS n = ROW_COUNT;
        total := total + n;
    END LOOP;
    RETURN total;
END
$fn$;
COMMENT ON FUNCTION saas._delete_tenant_finish(uuid) IS
    'Internal: the last transaction of saas.delete_tenant: the rows written meanwhile and the organization row.';
REVOKE EXECUTE ON FUNCTION saas._delete_tenant_finish(uuid) FROM PUBLIC;

-- No SET clause: a procedure with one cannot COMMIT.  Everything it does
-- beyond the loop is in the functions above, which pin their search_path.
CREATE PROCEDURE saas.delete_tenant(org uuid, batch_rows integer DEFAULT 10000)
    LANGUAGE plpgsql
    AS $fn$
DECLARE
    targets pg_catalog.regclass[];
    target pg_catalog.regclass;
    deleted bigint;
    total bigint := 0;
BEGIN
    targets := saas._delete_tenant_start(org, batch_rows);
    IF targets IS NULL THEN
        RETURN;
    END IF;
    COMMIT;
    FOREACH target IN ARRAY targets LOOP
        LOOP
            deleted := saas._delete_tenant_batch(org, target, batch_rows);
            COMMIT;
            total := total OPERATOR(pg_catalog.+) deleted;
            EXIT WHEN deleted OPERATOR(pg_catalog.=) 0;
        END LOOP;
    END LOOP;
    deleted := saas._delete_tenant_finish(org);
    COMMIT;
    total := total OPERATOR(pg_catalog.+) deleted;
    RAISE NOTICE 'saas.delete_tenant: organization % deleted, % rows', org, total;
END
$fn$;
COMMENT ON PROCEDURE saas.delete_tenant(uuid, integer) IS
    'Deletes a tenant and all its rows in batches of batch_rows rows, committing after each (CALL it on its own); restartable. Deletions are audited; the tenant''s audit rows stay until retention. Administrators only.';
REVOKE EXECUTE ON PROCEDURE saas.delete_tenant(uuid, integer) FROM PUBLIC;

-- Maintenance.  saas.purge_soft_deleted for every soft-deletable tenant
-- table (parents first), for a scheduled job.
CREATE FUNCTION saas.purge_all_soft_deleted(older_than interval DEFAULT '90 days')
    RETURNS TABLE (tbl regclass, purged bigint)
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
    AS $fn$
DECLARE
    t record;
BEGIN
    PERFORM saas._require_admin('saas.purge_all_soft_deleted');
    FOR t IN
        SELECT x.tbl FROM saas.tenant_tables() AS x
         WHERE (SELECT pg_catalog.count(*) FROM pg_catalog.pg_attribute AS a
                 WHERE a.attrelid = x.tbl AND a.attnum > 0 AND NOT a.attisdropped
                   AND a.attname IN ('id', 'organization_id', 'deleted_at', 'deleted_by_id')) = 4
         ORDER BY x.ordinal
    LOOP
        tbl := t.tbl;
        purged := saas.purge_soft_deleted(t.tbl, older_than);
        RETURN NEXT;
    END LOOP;
END
$fn$;
COMMENT ON FUNCTION saas.purge_all_soft_deleted(interval) IS
    'saas.purge_soft_deleted() on every soft-deletable tenant table; returns the counts. Administrators only.';
REVOKE EXECUTE ON FUNCTION saas.purge_all_soft_deleted(interval) FROM PUBLIC;

-- The maintenance jobs: names, schedules, commands.
CREATE FUNCTION saas._maintenance_jobs(retention interval, purge_after interval, job_schedule text)
    RETURNS TABLE (jobname text, schedule text, command text)
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, pg_temp
    SET IntervalStyle = postgres
    AS $fn$
    SELECT pg_catalog.format('saas_schema[%s]: %s', pg_catalog.current_database(), j.what), $3, j.command
      FROM (VALUES (1, 'audit partitions', 'SELECT saas.audit_create_partitions(3)'),
                   (2, 'audit retention', pg_catalog.format('SELECT saas.audit_drop_partitions(%L)', $1::text)),
                   (3, 'purge soft-deleted', pg_catalog.format('SELECT saas.purge_all_soft_deleted(%L)', $2::text)))
           AS j(n, what, command)
     WHERE (j.n <> 2 OR $1 IS NOT NULL) AND (j.n <> 3 OR $2 IS NOT NULL)
     ORDER BY j.n
$fn$;
COMMENT ON FUNCTION saas._maintenance_jobs(interval, interval, text) IS
    'Internal: the jobs saas.schedule_maintenance registers.';

-- Without pg_cron in this database: the error, with the lines to use.
CREATE FUNCTION saas._maintenance_without_cron(retention interval, purge_after interval, schedule text) RETURNS void
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
    AS $fn$
DECLARE
    cron_db text := pg_catalog.current_setting('cron.database_name', true);
    sql_lines text;
    crontab_lines text;
BEGIN
    SELECT pg_catalog.string_agg(pg_catalog.format('  SELECT cron.schedule_in_database(%L, %L, %L, %L);',
                                                   j.jobname, j.schedule, j.command, pg_catalog.current_database()), E'\n'),
           pg_catalog.string_agg(pg_catalog.format('  %s psql -X -d %s -c %s', j.schedule,
                                                   pg_catalog.quote_literal(pg_catalog.current_database()),
                                                   '"' || j.command || '"'), E'\n')
      INTO sql_lines, crontab_lines
      FROM saas._maintenance_jobs(retention, purge_after, schedule) AS j;
    RAISE EXCEPTION 'saas.schedule_maintenance: pg_cron is not installed in database %', pg_catalog.current_database()
        USING ERRCODE = 'feature_not_supported',
              DETAIL = CASE WHEN cron_db IS NOT NULL
                            THEN pg_catalog.format('pg_cron runs in database %s. There, as this role, run:', cron_db)
                                 || E'\n' || sql_lines
                            ELSE 'pg_cron is not loaded (shared_preload_libraries).' END,
              HINT = 'Either install pg_cron (shared_preload_libraries = ''pg_cron'', cron.database_name = '
                     || pg_catalog.quote_literal(pg_catalog.current_database())
                     || ', restart, CREATE EXTENSION pg_cron) and call saas.schedule_maintenance() again, '
                     || 'or add these lines to the crontab of an account that connects as ' || current_user || E':\n'
                     || crontab_lines;
END
$fn$;
COMMENT ON FUNCTION saas._maintenance_without_cron(interval, interval, text) IS
    'Internal: the error saas.schedule_maintenance raises without pg_cron, with the cron lines to use.';

-- Registers the maintenance jobs with pg_cron (in this database; they run as
-- the calling role): audit partitions ahead, audit retention, purging
-- soft-deleted rows.  Idempotent: the jobs have fixed names, a second call
-- updates them; a job passed NULL is unscheduled.
CREATE FUNCTION saas.schedule_maintenance(retention interval DEFAULT '13 months',
                                          purge_after interval DEFAULT '90 days',
                                          schedule text DEFAULT '17 3 * * *')
    RETURNS TABLE (jobid bigint, jobname text, job_schedule text, command text)
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
    AS $fn$
DECLARE
    j record;
    wanted text[];
    stale text;
BEGIN
    PERFORM saas._require_admin('saas.schedule_maintenance');
    IF schedule IS NULL THEN
        RAISE EXCEPTION 'saas.schedule_maintenance: the schedule must not be NULL'
            USING ERRCODE = 'null_value_not_allowed', HINT = 'A cron schedule, e.g. ''17 3 * * *'' (daily at 03:17).';
    END IF;
    IF retention <= interval '0' OR purge_after < interval '0' THEN
        RAISE EXCEPTION 'saas.schedule_maintenance: retention must be positive and purge_after not negative'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Pass NULL to leave a job out.';
    END IF;
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_extension AS e WHERE e.extname = 'pg_cron') THEN
        PERFORM saas._maintenance_without_cron(retention, purge_after, schedule);
    END IF;
    IF purge_after IS NOT NULL
       AND NOT EXISTS (SELECT FROM pg_catalog.pg_roles AS r
                        WHERE r.rolname = current_user AND (r.rolsuper OR r.rolbypassrls)) THEN
        RAISE EXCEPTION 'saas.schedule_maintenance: the purge job would run as %, which row-level security confines', current_user
            USING ERRCODE = 'insufficient_privilege',
                  DETAIL = 'pg_cron runs a job as the role that scheduled it; without a tenant that role sees no rows and would purge nothing.',
                  HINT = 'Schedule as a superuser or a BYPASSRLS role, or pass purge_after => NULL.';
    END IF;
    FOR j IN SELECT * FROM saas._maintenance_jobs(retention, purge_after, schedule) LOOP
        EXECUTE 'SELECT cron.schedule($1, $2, $3)' INTO jobid USING j.jobname, j.schedule, j.command;
        jobname := j.jobname;
        job_schedule := j.schedule;
        command := j.command;
        wanted := wanted || j.jobname;
        RETURN NEXT;
    END LOOP;
    -- A job left out this time is unscheduled.
    FOR stale IN
        EXECUTE 'SELECT x.jobname FROM cron.job AS x WHERE x.username = current_user AND x.jobname LIKE $1 '
                'AND x.jobname <> ALL ($2)'
            USING pg_catalog.format('saas\_schema[%s]: %%', pg_catalog.current_database()), wanted
    LOOP
        EXECUTE 'SELECT cron.unschedule($1)' USING stale;
    END LOOP;
END
$fn$;
COMMENT ON FUNCTION saas.schedule_maintenance(interval, interval, text) IS
    'Registers the maintenance jobs with pg_cron (audit partitions, audit retention, purging soft-deleted rows), idempotently; without pg_cron raises 0A000 with the cron lines to use. Administrators only.';
REVOKE EXECUTE ON FUNCTION saas.schedule_maintenance(interval, interval, text) FROM PUBLIC;

CREATE FUNCTION saas.unschedule_maintenance() RETURNS SETOF text
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
    AS $fn$
DECLARE
    job text;
BEGIN
    PERFORM saas._require_admin('saas.unschedule_maintenance');
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_extension AS e WHERE e.extname = 'pg_cron') THEN
        RAISE EXCEPTION 'saas.unschedule_maintenance: pg_cron is not installed in database %', pg_catalog.current_database()
            USING ERRCODE = 'feature_not_supported';
    END IF;
    FOR job IN
        EXECUTE 'SELECT x.jobname FROM cron.job AS x WHERE x.username = current_user AND x.jobname LIKE $1 ORDER BY 1'
            USING pg_catalog.format('saas\_schema[%s]: %%', pg_catalog.current_database())
    LOOP
        EXECUTE 'SELECT cron.unschedule($1)' USING job;
        RETURN NEXT job;
    END LOOP;
END
$fn$;
COMMENT ON FUNCTION saas.unschedule_maintenance() IS
    'Removes the jobs saas.schedule_maintenance registered for this database and role; returns their names.';
REVOKE EXECUTE ON FUNCTION saas.unschedule_maintenance() FROM PUBLIC;

-- The personal columns every install starts with.
SECURITY LABEL FOR saas_schema ON COLUMN saas.users.email IS 'personal';
SECURITY LABEL FOR saas_schema ON COLUMN saas.users.full_name IS 'personal';
