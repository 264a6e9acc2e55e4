-- The extension's objects, listed from the catalogs, so that any schema change
-- shows up in review as a diff of this file's expected output.
SET client_min_messages = warning;
DROP SCHEMA IF EXISTS saas CASCADE;
CREATE EXTENSION saas_schema CASCADE;
RESET client_min_messages;

SELECT extname, extversion, extrelocatable, n.nspname AS schema,
       (SELECT array_agg(r.extname ORDER BY r.extname) FROM pg_extension r
        WHERE r.oid = ANY (SELECT refobjid FROM pg_depend
                           WHERE objid = e.oid AND classid = 'pg_extension'::regclass
                             AND refclassid = 'pg_extension'::regclass)) AS requires
FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
WHERE extname = 'saas_schema';

-- Tables (partitions excluded), with RLS flags and whether pg_dump dumps them
-- (definition and rows): they are the DBA's, not extension members.
SELECT c.relname, c.relkind, c.relrowsecurity AS rls, c.relforcerowsecurity AS rls_forced,
       NOT EXISTS (SELECT FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
                   AND d.refobjid = e.oid AND d.deptype = 'e') AS dumped_by_pg_dump,
       obj_description(c.oid, 'pg_class') IS NOT NULL AS has_comment
FROM pg_class c, pg_extension e
WHERE e.extname = 'saas_schema' AND c.relnamespace = 'saas'::regnamespace
  AND c.relkind IN ('r', 'p') AND NOT c.relispartition
ORDER BY c.relname;

-- Columns.
SELECT c.relname, a.attnum, a.attname, format_type(a.atttypid, a.atttypmod) AS type,
       a.attnotnull AS not_null, pg_get_expr(d.adbin, d.adrelid) AS default
FROM pg_class c
JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
LEFT JOIN pg_attrdef d ON d.adrelid = c.oid AND d.adnum = a.attnum
WHERE c.relnamespace = 'saas'::regnamespace AND c.relkind IN ('r', 'p') AND NOT c.relispartition
ORDER BY c.relname, a.attnum;

-- Constraints (p = primary key, u = unique, f = foreign key, c = check).
SELECT conrelid::regclass AS tbl, conname, contype, pg_get_constraintdef(oid) AS definition
FROM pg_constraint
WHERE connamespace = 'saas'::regnamespace AND conrelid <> 0
  AND conrelid IN (SELECT oid FROM pg_class WHERE NOT relispartition)
ORDER BY conrelid::regclass::text, contype, conname;

-- Indexes.
SELECT indrelid::regclass AS tbl, c.relname AS index, pg_get_indexdef(i.indexrelid) AS definition
FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
JOIN pg_class t ON t.oid = i.indrelid
WHERE c.relnamespace = 'saas'::regnamespace AND NOT t.relispartition
ORDER BY indrelid::regclass::text, c.relname;

-- Triggers.
SELECT t.tgrelid::regclass AS tbl, t.tgname, pg_get_triggerdef(t.oid) AS definition
FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
WHERE c.relnamespace = 'saas'::regnamespace AND NOT t.tgisinternal AND NOT c.relispartition
ORDER BY t.tgrelid::regclass::text, t.tgname;

-- Functions and views.
SELECT p.oid::regprocedure AS function, p.prosecdef AS security_definer, p.proconfig AS config
FROM pg_proc p WHERE p.pronamespace = 'saas'::regnamespace ORDER BY p.oid::regprocedure::text;
SELECT c.relname AS view, c.reloptions FROM pg_class c
WHERE c.relnamespace = 'saas'::regnamespace AND c.relkind = 'v' ORDER BY 1;

-- Invariant checks, as temp views so they can be shown to fire (below).
CREATE TEMP VIEW badly_named AS
SELECT conname::text AS name FROM pg_constraint
WHERE connamespace = 'saas'::regnamespace AND conrelid <> 0
  AND conname !~ ('^' || CASE contype WHEN 'p' THEN 'pk' WHEN 'u' THEN 'uq' WHEN 'f' THEN 'fk'
                                      WHEN 'c' THEN 'chk' ELSE 'x' END || '_')
UNION ALL
SELECT c.relname::text FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
WHERE c.relnamespace = 'saas'::regnamespace AND NOT (c.relname ~ '^(idx|pk|uq)_');
-- Every foreign key is covered by a non-partial index whose leading columns
-- are the FK's columns (in any order), so parent deletes never scan the child.
CREATE TEMP VIEW uncovered_fks AS
SELECT con.conname::text AS name
FROM pg_constraint con
WHERE con.contype = 'f' AND con.connamespace = 'saas'::regnamespace
  AND NOT EXISTS (
      SELECT 1 FROM pg_index i
      WHERE i.indrelid = con.conrelid AND i.indpred IS NULL
        AND (SELECT array_agg(k ORDER BY k) FROM unnest((i.indkey::int2[])[0:cardinality(con.conkey) - 1]) k)
            = (SELECT array_agg(k ORDER BY k) FROM unnest(con.conkey) k));
-- Tenant rules (Citus-ready): organization_id NOT NULL on every tenant table
-- and part of every PK / UNIQUE / unique index; no SET NULL / SET DEFAULT
-- delete actions and no ON UPDATE actions.
CREATE TEMP VIEW tenant_rule_violations AS
SELECT 'no organization_id: ' || c.relname AS name
FROM pg_class c
WHERE c.relnamespace = 'saas'::regnamespace AND c.relkind IN ('r', 'p') AND NOT c.relispartition
  AND c.relname NOT IN ('organizations', 'schema_changes')  -- the tenant root; the one log of DDL for all tenants
  AND NOT EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'organization_id'
                  AND a.attnotnull AND NOT a.attisdropped)
UNION ALL
SELECT 'unique without organization_id: ' || i.indexrelid::regclass
FROM pg_index i JOIN pg_class t ON t.oid = i.indrelid
WHERE i.indisunique AND t.relnamespace = 'saas'::regnamespace AND t.relname NOT IN ('organizations', 'schema_changes')
  AND NOT EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = t.oid AND a.attname = 'organization_id'
                  AND a.attnum = ANY (i.indkey::int2[]))
UNION ALL
SELECT 'forbidden FK action: ' || conname FROM pg_constraint
WHERE contype = 'f' AND connamespace = 'saas'::regnamespace
  AND (confdeltype IN ('n', 'd') OR confupdtype <> 'a');

SELECT * FROM badly_named;
SELECT * FROM uncovered_fks;
SELECT * FROM tenant_rule_violations;

-- The checks can fail: a badly designed table makes each of them fire.
BEGIN;
CREATE TABLE saas.bad_widgets (
    id uuid PRIMARY KEY,
    org uuid,
    owner_id uuid,
    CONSTRAINT widgets_owner FOREIGN KEY (org, owner_id) REFERENCES saas.users (organization_id, id) ON DELETE SET NULL
);
CREATE INDEX bad_widgets_partial ON saas.bad_widgets (org, owner_id) WHERE owner_id IS NOT NULL;
SELECT * FROM badly_named ORDER BY 1;
SELECT * FROM uncovered_fks ORDER BY 1;
SELECT * FROM tenant_rule_violations ORDER BY 1;
ROLLBACK;

-- Every non-obvious column is commented where the README says so; every
-- table has a comment (checked above); list the commented columns.
SELECT c.relname, a.attname
FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid
WHERE c.relnamespace = 'saas'::regnamespace AND col_description(c.oid, a.attnum) IS NOT NULL
  AND NOT c.relispartition
ORDER BY 1, 2;
