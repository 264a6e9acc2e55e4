-- A canonical, order-independent description of everything the extension
-- owns, one line per fact.  Two databases whose snapshots are equal have the
-- same columns, constraints, indexes, triggers, policies, functions, views,
-- types, comments, grants, security labels and extension membership.  Used by the
-- upgrade/downgrade test.
\pset format unaligned
\pset tuples_only on
WITH ext AS (SELECT oid FROM pg_extension WHERE extname = 'saas_schema'),
members AS (
    SELECT pg_describe_object(d.classid, d.objid, d.objsubid) AS obj
    FROM pg_depend d, ext WHERE d.refobjid = ext.oid AND d.deptype = 'e'
),
rels AS (
    SELECT c.oid, c.relname, c.relkind FROM pg_class c
    WHERE c.relnamespace = 'saas'::regnamespace AND c.relkind IN ('r', 'p', 'v', 'S')
)
SELECT line FROM (
    SELECT 'extension ' || extversion || ' config=' ||
           coalesce((SELECT string_agg(x::regclass::text, ',' ORDER BY x::regclass::text) FROM unnest(extconfig) x), '')
    FROM pg_extension WHERE extname = 'saas_schema'
    UNION ALL SELECT 'member ' || obj FROM members
    UNION ALL
    SELECT format('relation %s kind=%s rls=%s force=%s acl=%s comment=%s reloptions=%s partkey=%s',
                  c.relname, c.relkind, c.relrowsecurity, c.relforcerowsecurity, c.relacl,
                  md5(coalesce(obj_description(c.oid, 'pg_class'), '')), c.reloptions,
                  pg_get_partkeydef(c.oid))
    FROM pg_class c WHERE c.oid IN (SELECT oid FROM rels)
    UNION ALL
    SELECT format('column %s.%s #%s %s notnull=%s default=%s acl=%s comment=%s',
                  c.relname, a.attname,
                  -- position among live columns (a dropped column leaves a gap in attnum)
                  (SELECT count(*) FROM pg_attribute b WHERE b.attrelid = c.oid AND b.attnum > 0
                     AND NOT b.attisdropped AND b.attnum <= a.attnum),
                  format_type(a.atttypid, a.atttypmod), a.attnotnull,
                  pg_get_expr(d.adbin, d.adrelid), a.attacl, md5(coalesce(col_description(c.oid, a.attnum), '')))
    FROM rels c JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
    LEFT JOIN pg_attrdef d ON d.adrelid = c.oid AND d.adnum = a.attnum
    UNION ALL
    SELECT format('constraint %s.%s %s valid=%s', c.relname, con.conname, pg_get_constraintdef(con.oid), con.convalidated)
    FROM pg_constraint con JOIN rels c ON c.oid = con.conrelid
    UNION ALL
    SELECT format('index %s', pg_get_indexdef(i.indexrelid))
    FROM pg_index i JOIN rels c ON c.oid = i.indrelid
    UNION ALL
    SELECT format('trigger %s enabled=%s', pg_get_triggerdef(t.oid), t.tgenabled)
    FROM pg_trigger t JOIN rels c ON c.oid = t.tgrelid WHERE NOT t.tgisinternal
    UNION ALL
    SELECT format('policy %s.%s cmd=%s permissive=%s roles=%s using=%s check=%s', c.relname, p.polname, p.polcmd,
                  p.polpermissive, p.polroles::regrole[], pg_get_expr(p.polqual, p.polrelid),
                  pg_get_expr(p.polwithcheck, p.polrelid))
    FROM pg_policy p JOIN rels c ON c.oid = p.polrelid
    UNION ALL
    SELECT format('view %s %s', c.relname, md5(pg_get_viewdef(c.oid)))
    FROM rels c WHERE c.relkind = 'v'
    UNION ALL
    SELECT format('function %s returns %s lang=%s vol=%s strict=%s secdef=%s parallel=%s config=%s acl=%s body=%s comment=%s',
                  p.oid::regprocedure, pg_get_function_result(p.oid), l.lanname, p.provolatile, p.proisstrict,
                  p.prosecdef, p.proparallel, p.proconfig, p.proacl,
                  md5(coalesce(p.prosrc, '') || coalesce(p.probin, '')),
                  md5(coalesce(obj_description(p.oid, 'pg_proc'), '')))
    FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang
    WHERE p.pronamespace = 'saas'::regnamespace
    UNION ALL
    SELECT format('type %s kind=%s labels=%s comment=%s', t.typname, t.typtype,
                  (SELECT string_agg(enumlabel, ',' ORDER BY enumsortorder) FROM pg_enum e WHERE e.enumtypid = t.oid),
                  md5(coalesce(obj_description(t.oid, 'pg_type'), '')))
    FROM pg_type t WHERE t.typnamespace = 'saas'::regnamespace AND t.typtype IN ('e', 'c', 'd')
      AND NOT EXISTS (SELECT 1 FROM pg_class c WHERE c.reltype = t.oid)
    UNION ALL
    SELECT format('security label %s.%s provider=%s label=%s', c.relname, a.attname, l.provider, l.label)
    FROM pg_seclabel l JOIN rels c ON c.oid = l.objoid
    LEFT JOIN pg_attribute a ON a.attrelid = l.objoid AND a.attnum = l.objsubid
    WHERE l.classoid = 'pg_class'::regclass
    UNION ALL
    SELECT format('schema acl=%s', n.nspacl) FROM pg_namespace n WHERE n.nspname = 'saas'
) AS facts(line)
ORDER BY line;
