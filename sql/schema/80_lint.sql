-- Lint: saas.lint() checks a schema against the multi-tenant design rules
-- and returns a fix for every finding.

CREATE FUNCTION saas.lint(schema_name name DEFAULT NULL)
    RETURNS TABLE (severity text, rule text, object text, detail text, fix text)
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, saas, pg_temp
    AS $fn$
BEGIN
    IF schema_name IS NOT NULL AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = schema_name) THEN
        RAISE EXCEPTION 'saas.lint: schema "%" does not exist', schema_name USING ERRCODE = 'invalid_schema_name';
    END IF;

    RETURN QUERY
    WITH rels AS (
        -- rel: the schema-qualified name (regclass would drop "saas." here,
        -- since saas is on this function's search_path).
        SELECT c.oid, pg_catalog.format('%I.%I', n.nspname, c.relname) AS rel, c.relname, n.nspname, c.relkind,
               c.relrowsecurity, c.relforcerowsecurity,
               EXISTS (SELECT 1 FROM pg_catalog.pg_attribute AS a WHERE a.attrelid = c.oid
                       AND a.attname = 'organization_id' AND a.attnum > 0 AND NOT a.attisdropped) AS has_tenant,
               EXISTS (SELECT 1 FROM pg_catalog.pg_attribute AS a WHERE a.attrelid = c.oid
                       AND a.attname = 'updated_at' AND a.attnum > 0 AND NOT a.attisdropped) AS has_updated_at
        FROM pg_catalog.pg_class AS c JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
        WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition
          AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\_%'
          AND (schema_name IS NULL OR n.nspname = schema_name)
    ),
    -- Objects that belong to an extension are not the DBA's to drop.
    ext_members AS (
        SELECT d.objid FROM pg_catalog.pg_depend AS d
        WHERE d.deptype = 'e' AND d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass
    ),
    idx AS (
        SELECT i.indexrelid, pg_catalog.format('%I.%I', ins.nspname, ic.relname) AS idxname, ic.relname AS short_name, i.indrelid, i.indisunique, i.indisprimary,
               i.indkey::int2[] AS keys, i.indclass::oid[] AS opclasses,
               pg_catalog.pg_get_expr(i.indpred, i.indrelid) AS pred,
               pg_catalog.pg_get_expr(i.indexprs, i.indrelid) AS exprs,
               ic.relam, i.indnkeyatts
        FROM pg_catalog.pg_index AS i JOIN pg_catalog.pg_class AS ic ON ic.oid = i.indexrelid
        JOIN pg_catalog.pg_namespace AS ins ON ins.oid = ic.relnamespace
        WHERE i.indrelid IN (SELECT oid FROM rels)
    ),
    -- Duplicate indexes: same table, method, key columns, operator classes,
    -- expressions and predicate; or a plain index whose key is a leading
    -- prefix of another's.  One finding per redundant index.
    dups AS (
        SELECT DISTINCT ON (a.indexrelid) a.indexrelid, a.idxname, a.short_name, a.indrelid,
               b.idxname AS other_name, a.keys = b.keys AS same_keys
        FROM idx AS a
        JOIN idx AS b ON b.indrelid = a.indrelid AND b.indexrelid <> a.indexrelid
        WHERE a.relam = b.relam
          AND a.pred IS NOT DISTINCT FROM b.pred AND a.exprs IS NOT DISTINCT FROM b.exprs
          AND NOT a.indisunique
          AND a.indrelid NOT IN (SELECT objid FROM ext_members)
          AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_constraint AS con WHERE con.conindid = a.indexrelid)
          AND pg_catalog.cardinality(a.keys) <= pg_catalog.cardinality(b.keys)
          -- slices on both sides: indkey/indclass arrays start at 0, slices at 1
          AND a.keys[0:pg_catalog.cardinality(a.keys) - 1] = b.keys[0:pg_catalog.cardinality(a.keys) - 1]
          AND a.opclasses[0:pg_catalog.cardinality(a.keys) - 1] = b.opclasses[0:pg_catalog.cardinality(a.keys) - 1]
          -- of two identical plain indexes, report only one
          AND (a.keys <> b.keys OR b.indisunique OR a.indexrelid > b.indexrelid)
        ORDER BY a.indexrelid, b.indisunique DESC, b.indexrelid
    )
    -- 1. Foreign keys without a covering index.
    SELECT 'warning', 'fk_without_index',
           pg_catalog.format('%s.%I', r.rel, con.conname),
           pg_catalog.format('foreign key (%s) has no index whose leading columns are its columns; deletes and updates of the referenced rows scan %s',
                             cols.list, r.rel),
           pg_catalog.format('CREATE INDEX %I ON %s (%s);',
                             pg_catalog.left('idx_' || r.relname || '_' || pg_catalog.replace(cols.names, ', ', '_'), 63),
                             r.rel, cols.list)
    FROM rels AS r
    JOIN pg_catalog.pg_constraint AS con ON con.conrelid = r.oid AND con.contype = 'f'
    CROSS JOIN LATERAL (
        SELECT pg_catalog.string_agg(pg_catalog.quote_ident(a.attname), ', ' ORDER BY k.ord) AS list,
               pg_catalog.string_agg(a.attname, ', ' ORDER BY k.ord) AS names
        FROM pg_catalog.unnest(con.conkey) WITH ORDINALITY AS k(att, ord)
        JOIN pg_catalog.pg_attribute AS a ON a.attrelid = r.oid AND a.attnum = k.att) AS cols
    WHERE NOT EXISTS (
        SELECT 1 FROM idx AS i
        WHERE i.indrelid = r.oid AND i.pred IS NULL
          AND (SELECT pg_catalog.array_agg(x ORDER BY x) FROM pg_catalog.unnest(i.keys[0:pg_catalog.cardinality(con.conkey) - 1]) AS x)
              = (SELECT pg_catalog.array_agg(x ORDER BY x) FROM pg_catalog.unnest(con.conkey) AS x))

    UNION ALL
    -- 2. Tables that reference tenant data but have no organization_id.
    SELECT 'error', 'tenant_table_without_organization_id', r.rel,
           pg_catalog.format('%s references tenant-scoped %s but has no organization_id column, so row-level security and Citus distribution cannot scope it',
                             r.rel, (SELECT pg_catalog.string_agg(DISTINCT pg_catalog.format('%I.%I', fn.nspname, fc.relname), ', ')
                                     FROM pg_catalog.pg_constraint AS con
                                     JOIN pg_catalog.pg_class AS fc ON fc.oid = con.confrelid
                                     JOIN pg_catalog.pg_namespace AS fn ON fn.oid = fc.relnamespace
                                     WHERE con.conrelid = r.oid AND con.contype = 'f')),
           pg_catalog.format('ALTER TABLE %s ADD COLUMN organization_id uuid REFERENCES saas.organizations (id); -- then backfill, SET NOT NULL, and include it in the keys', r.rel)
    FROM rels AS r
    WHERE NOT r.has_tenant AND r.oid <> 'saas.organizations'::pg_catalog.regclass
      AND EXISTS (SELECT 1 FROM pg_catalog.pg_constraint AS con
                  WHERE con.conrelid = r.oid AND con.contype = 'f'
                    AND (con.confrelid = 'saas.organizations'::pg_catalog.regclass
                         OR EXISTS (SELECT 1 FROM pg_catalog.pg_attribute AS a WHERE a.attrelid = con.confrelid
                                    AND a.attname = 'organization_id' AND NOT a.attisdropped)))

    UNION ALL
    -- 3. Tenant tables without RLS enabled and forced, or without the policy.
    SELECT 'error', 'tenant_table_without_rls', r.rel,
           pg_catalog.format('row-level security is %s%s%s',
                             CASE WHEN r.relrowsecurity THEN 'enabled' ELSE 'disabled' END,
                             CASE WHEN r.relforcerowsecurity THEN ', forced' ELSE ', not forced' END,
                             CASE WHEN EXISTS (SELECT 1 FROM pg_catalog.pg_policy AS p WHERE p.polrelid = r.oid AND p.polname = 'tenant_isolation')
                                  THEN '' ELSE ', and there is no tenant_isolation policy' END),
           pg_catalog.format('SELECT saas.enable_tenant_isolation(%L);', r.rel)
    FROM rels AS r
    WHERE (r.has_tenant OR r.oid = 'saas.organizations'::pg_catalog.regclass)
      AND NOT (r.relrowsecurity AND r.relforcerowsecurity
               AND EXISTS (SELECT 1 FROM pg_catalog.pg_policy AS p WHERE p.polrelid = r.oid AND p.polname = 'tenant_isolation'))

    UNION ALL
    -- 4. PK / UNIQUE of a tenant table without organization_id (Citus rule).
    SELECT 'warning', 'unique_without_organization_id',
           pg_catalog.format('%s.%I', r.rel, ic.relname),
           pg_catalog.format('%s does not include organization_id: uniqueness cannot be enforced once the table is distributed by tenant',
                             CASE WHEN i.indisprimary THEN 'primary key' ELSE 'unique index' END),
           CASE WHEN con.oid IS NOT NULL THEN
               pg_catalog.format('ALTER TABLE %s DROP CONSTRAINT %I, ADD CONSTRAINT %I %s (organization_id, %s);',
                                 r.rel, con.conname, con.conname,
                                 CASE WHEN i.indisprimary THEN 'PRIMARY KEY' ELSE 'UNIQUE' END, cols.list)
           ELSE
               pg_catalog.format('DROP INDEX %s; CREATE UNIQUE INDEX %I ON %s (organization_id, %s);',
                                 i.idxname, ic.relname, r.rel, cols.list)
           END
    FROM rels AS r
    JOIN idx AS i ON i.indrelid = r.oid AND i.indisunique
    JOIN pg_catalog.pg_class AS ic ON ic.oid = i.indexrelid
    LEFT JOIN pg_catalog.pg_constraint AS con ON con.conindid = i.indexrelid AND con.contype IN ('p', 'u')
    CROSS JOIN LATERAL (
        SELECT pg_catalog.string_agg(pg_catalog.quote_ident(a.attname), ', ' ORDER BY k.ord) AS list
        FROM pg_catalog.unnest(i.keys) WITH ORDINALITY AS k(att, ord)
        JOIN pg_catalog.pg_attribute AS a ON a.attrelid = r.oid AND a.attnum = k.att) AS cols
    WHERE r.has_tenant
      AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_attribute AS a WHERE a.attrelid = r.oid
                      AND a.attname = 'organization_id' AND a.attnum = ANY (i.keys))

    UNION ALL
    -- 5a. Tables with updated_at but no updated_at trigger.
    SELECT 'warning', 'missing_updated_at_trigger', r.rel,
           'the table has an updated_at column but no saas.set_updated_at trigger keeps it current',
           pg_catalog.format('SELECT saas.enable_updated_at(%L);', r.rel)
    FROM rels AS r
    WHERE r.has_updated_at
      AND pg_catalog.to_regproc('saas.set_updated_at') IS NOT NULL
      AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_trigger AS t JOIN pg_catalog.pg_proc AS p ON p.oid = t.tgfoid
                      WHERE t.tgrelid = r.oid AND p.proname = 'set_updated_at'
                        AND p.pronamespace = 'saas'::pg_catalog.regnamespace)

    UNION ALL
    -- 5b. Tenant tables that are not audited.
    SELECT 'warning', 'missing_audit', r.rel,
           'changes to this tenant table are not recorded in saas.audit_logs',
           pg_catalog.format('SELECT saas.enable_audit(%L);', r.rel)
    FROM rels AS r
    WHERE (r.has_tenant OR r.oid = 'saas.organizations'::pg_catalog.regclass)
      AND r.relname <> 'audit_logs' AND r.nspname || '.' || r.relname <> 'saas.audit_logs'
      AND EXISTS (SELECT 1 FROM pg_catalog.pg_proc AS p WHERE p.proname = 'enable_audit'
                  AND p.pronamespace = 'saas'::pg_catalog.regnamespace)
      AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_trigger AS t JOIN pg_catalog.pg_proc AS p ON p.oid = t.tgfoid
                      WHERE t.tgrelid = r.oid AND p.proname LIKE 'audit%'
                        AND p.pronamespace = 'saas'::pg_catalog.regnamespace)

    UNION ALL
    -- 6. timestamp without time zone.
    SELECT 'warning', 'timestamp_without_time_zone',
           pg_catalog.format('%s.%I', r.rel, a.attname),
           'timestamp without time zone stores wall-clock time with no zone; use timestamptz (UTC internally)',
           pg_catalog.format('ALTER TABLE %s ALTER COLUMN %I TYPE timestamptz USING %I AT TIME ZONE ''UTC'';',
                             r.rel, a.attname, a.attname)
    FROM rels AS r
    JOIN pg_catalog.pg_attribute AS a ON a.attrelid = r.oid AND a.attnum > 0 AND NOT a.attisdropped
    WHERE a.atttypid = 'pg_catalog.timestamp'::pg_catalog.regtype

    UNION ALL
    -- 7. Unused indexes (never scanned since the statistics were last reset),
    -- on tables that hold rows and have been read; constraint indexes and
    -- extension-owned indexes are not candidates.
    SELECT 'info', 'unused_index',
           pg_catalog.format('%s.%I', r.rel, s.indexrelname),
           pg_catalog.format('idx_scan = 0 since %s while the table was read %s times; it costs writes and space (%s)',
                             COALESCE((SELECT st.stats_reset::text FROM pg_catalog.pg_stat_database AS st
                                       WHERE st.datname = pg_catalog.current_database()), 'the statistics were created'),
                             COALESCE(ts.seq_scan, 0) + COALESCE(ts.idx_scan, 0),
                             pg_catalog.pg_size_pretty(pg_catalog.pg_relation_size(s.indexrelid))),
           pg_catalog.format('DROP INDEX %s;', i.idxname)
    FROM rels AS r
    JOIN pg_catalog.pg_stat_user_indexes AS s ON s.relid = r.oid
    JOIN pg_catalog.pg_stat_user_tables AS ts ON ts.relid = r.oid
    JOIN idx AS i ON i.indexrelid = s.indexrelid
    WHERE s.idx_scan = 0 AND NOT i.indisunique
      AND COALESCE(ts.seq_scan, 0) + COALESCE(ts.idx_scan, 0) > 0
      AND pg_catalog.pg_relation_size(r.oid) > 0  -- a table never written to (a fresh install, read only by its own constraint checks) says nothing
      AND r.oid NOT IN (SELECT objid FROM ext_members)
      -- The log of schema changes is read when someone investigates, which
      -- may be never between two statistics resets.
      AND r.oid IS DISTINCT FROM pg_catalog.to_regclass('saas.schema_changes')
      AND s.indexrelid NOT IN (SELECT indexrelid FROM dups)  -- reported as duplicates instead
      AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_constraint AS con WHERE con.conindid = s.indexrelid)
      -- An index covering a foreign key serves the checks of parent deletes,
      -- however rarely those run; dropping it would be rule 1's finding.
      AND NOT EXISTS (
          SELECT 1 FROM pg_catalog.pg_constraint AS con
          WHERE con.conrelid = r.oid AND con.contype = 'f'
            AND (SELECT pg_catalog.array_agg(x ORDER BY x) FROM pg_catalog.unnest(i.keys[0:pg_catalog.cardinality(con.conkey) - 1]) AS x)
                = (SELECT pg_catalog.array_agg(x ORDER BY x) FROM pg_catalog.unnest(con.conkey) AS x))

    UNION ALL
    -- 8. Duplicate indexes.
    SELECT 'warning', 'duplicate_index',
           pg_catalog.format('%s.%I', r.rel, d.short_name),
           pg_catalog.format('%s %s %s', d.idxname,
                             CASE WHEN d.same_keys THEN 'duplicates' ELSE 'is a leading prefix of' END, d.other_name),
           pg_catalog.format('DROP INDEX %s;', d.idxname)
    FROM rels AS r JOIN dups AS d ON d.indrelid = r.oid

    UNION ALL
    -- 9. SECURITY DEFINER functions without a pinned search_path.
    SELECT 'error', 'security_definer_without_search_path',
           pg_catalog.format('%I.%I(%s)', n.nspname, p.proname, pg_catalog.pg_get_function_identity_arguments(p.oid)),
           'a SECURITY DEFINER function without SET search_path resolves names through the caller''s search_path, so a caller can hijack it with objects of the same name',
           pg_catalog.format('ALTER FUNCTION %I.%I(%s) SET search_path = pg_catalog, pg_temp;',
                             n.nspname, p.proname, pg_catalog.pg_get_function_identity_arguments(p.oid))
    FROM pg_catalog.pg_proc AS p JOIN pg_catalog.pg_namespace AS n ON n.oid = p.pronamespace
    WHERE p.prosecdef
      AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\_%'
      AND (schema_name IS NULL OR n.nspname = schema_name)
      AND NOT EXISTS (SELECT 1 FROM pg_catalog.unnest(p.proconfig) AS cfg WHERE cfg LIKE 'search\_path=%')

    UNION ALL
    -- 10. An audit trigger switched off: changes of the table go unrecorded.
    SELECT 'warning', 'audit_trigger_disabled',
           pg_catalog.format('%I.%I.%I', n.nspname, c.relname, t.tgname),
           pg_catalog.format('the audit trigger %I of %I.%I is disabled: changes of the table are not recorded (the switch itself is in saas.schema_changes)',
                             t.tgname, n.nspname, c.relname),
           pg_catalog.format('ALTER TABLE %I.%I ENABLE TRIGGER %I;', n.nspname, c.relname, t.tgname)
    FROM pg_catalog.pg_trigger AS t
    JOIN pg_catalog.pg_class AS c ON c.oid = t.tgrelid
    JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
    WHERE t.tgfoid = 'saas.audit_trigger()'::pg_catalog.regprocedure AND t.tgenabled = 'D'
      AND NOT t.tgisinternal
      AND (schema_name IS NULL OR n.nspname = schema_name)

    UNION ALL
    -- 11-13. State a restore would not bring back.  pg_dump never dumps the
    -- extension's own objects: a restore's CREATE EXTENSION recreates them as
    -- shipped (saas._shipped_functions()).  So a changed one comes back
    -- unchanged, one removed from the extension comes back twice (the
    -- restore fails), and an object added to it is not dumped at all.
    SELECT 'error', 'extension_member_changed', sf.function_identity,
           'differs from the definition extension saas_schema shipped (body, settings, comment or owner); '
           'pg_dump does not dump the extension''s own functions, so a restore brings back the shipped one',
           pg_catalog.format('SELECT saas.repair_extension_member(%L);', sf.function_identity)
    FROM saas._shipped_functions() AS sf
    JOIN pg_catalog.pg_proc AS p ON p.oid = pg_catalog.to_regprocedure(sf.function_identity)
    -- The functions belong to whoever ran the install script: the
    -- extension's owner when a superuser installed it, the bootstrap
    -- superuser (oid 10) when a database owner installed it as a trusted
    -- extension, apart from set_tenant, set_actor and _certify_actor, which
    -- the install script gives the extension's owner (95_ownership.sql).
    CROSS JOIN (SELECT e.oid, e.extowner, r.rolsuper
                  FROM pg_catalog.pg_extension AS e JOIN pg_catalog.pg_roles AS r ON r.oid = e.extowner
                 WHERE e.extname = 'saas_schema') AS ext
    WHERE (schema_name IS NULL OR schema_name = 'saas')
      AND EXISTS (SELECT 1 FROM pg_catalog.pg_depend AS d WHERE d.classid = 'pg_catalog.pg_proc'::pg_catalog.regclass
                  AND d.objid = p.oid AND d.refobjid = ext.oid AND d.deptype = 'e')
      AND (saas._function_definition(p.oid) <> sf.definition
           OR pg_catalog.obj_description(p.oid, 'pg_proc') IS DISTINCT FROM sf.description
           OR p.proowner <> CASE WHEN ext.rolsuper OR p.proname IN ('set_tenant', 'set_actor', '_certify_actor', '_audit_export')
                                 THEN ext.extowner ELSE 10::pg_catalog.oid END)

    UNION ALL
    SELECT 'error', 'extension_member_removed', sf.function_identity,
           CASE WHEN p.oid IS NULL
                THEN 'was dropped after being removed from extension saas_schema; the extension does not work without it'
                ELSE 'was removed from extension saas_schema: pg_dump dumps it, and a restore''s CREATE EXTENSION then fails on it (already exists)' END,
           pg_catalog.format('SELECT saas.repair_extension_member(%L);', sf.function_identity)
    FROM saas._shipped_functions() AS sf
    LEFT JOIN pg_catalog.pg_proc AS p ON p.oid = pg_catalog.to_regprocedure(sf.function_identity)
    CROSS JOIN (SELECT e.oid FROM pg_catalog.pg_extension AS e WHERE e.extname = 'saas_schema') AS ext
    WHERE (schema_name IS NULL OR schema_name = 'saas')
      AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend AS d WHERE d.classid = 'pg_catalog.pg_proc'::pg_catalog.regclass
                      AND d.objid = p.oid AND d.refobjid = ext.oid AND d.deptype = 'e')

    UNION ALL
    SELECT 'error', 'extension_member_added', pg_catalog.pg_describe_object(d.classid, d.objid, d.objsubid),
           'was added to extension saas_schema by hand: pg_dump does not dump it, and a restore does not create it',
           pg_catalog.format('ALTER EXTENSION saas_schema DROP %s;',
                             pg_catalog.pg_describe_object(d.classid, d.objid, d.objsubid))
    FROM pg_catalog.pg_depend AS d
    JOIN pg_catalog.pg_extension AS e ON e.oid = d.refobjid AND e.extname = 'saas_schema'
    WHERE (schema_name IS NULL OR schema_name = 'saas')
      AND d.refclassid = 'pg_catalog.pg_extension'::pg_catalog.regclass AND d.deptype = 'e'
      AND NOT (d.classid = 'pg_catalog.pg_proc'::pg_catalog.regclass
               AND (d.objid = 'saas._shipped_functions()'::pg_catalog.regprocedure
                    OR d.objid IN (SELECT pg_catalog.to_regprocedure(sf.function_identity)
                                     FROM saas._shipped_functions() AS sf)))
      AND NOT (d.classid = 'pg_catalog.pg_event_trigger'::pg_catalog.regclass
               AND d.objid IN (SELECT t.oid FROM pg_catalog.pg_event_trigger AS t
                                WHERE t.evtname IN ('saas_schema_ddl_command_start', 'saas_schema_ddl_command_end',
                                                    'saas_schema_sql_drop')))

    UNION ALL
    -- 14. The event trigger that refuses changes pg_dump would lose, off.
    SELECT 'warning', 'extension_guard_disabled', 'event trigger saas_schema_ddl_command_start',
           'disabled: changes to the extension''s own functions, which pg_dump would lose, are no longer refused',
           'ALTER EVENT TRIGGER saas_schema_ddl_command_start ENABLE;'
    FROM pg_catalog.pg_event_trigger AS t
    WHERE (schema_name IS NULL OR schema_name = 'saas')
      AND t.evtname = 'saas_schema_ddl_command_start' AND t.evtenabled = 'D'

    ORDER BY 1, 2, 3;
END
$fn$;
COMMENT ON FUNCTION saas.lint(name) IS
    'Checks a schema (or every user schema) against the multi-tenant design rules. One row per finding: severity (error, warning, info), rule, object, detail, and a fix as SQL.';
