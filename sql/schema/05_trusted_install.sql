-- A database owner who is not a superuser installs the extension (it is
-- trusted) and PostgreSQL runs this script as the bootstrap superuser.  The
-- script calls its own functions as saas.<name>: if schema saas existed
-- before and held objects of that owner's -- an overload of one of those
-- functions that matches a call better, an operator, a type -- the script
-- would run them as the superuser.  So such an install wants schema saas
-- new (CREATE EXTENSION creates it) or empty.  A superuser's install is
-- not refused here (the existing-tables check in 20_tables.sql applies).
DO $do$
DECLARE
    found text;
BEGIN
    IF (SELECT r.rolsuper FROM pg_catalog.pg_extension AS e
          JOIN pg_catalog.pg_roles AS r ON r.oid OPERATOR(pg_catalog.=) e.extowner
         WHERE e.extname OPERATOR(pg_catalog.=) 'saas_schema') THEN
        RETURN;
    END IF;
    SELECT pg_catalog.string_agg(o.name, ', ' ORDER BY o.name) INTO found FROM (
        SELECT c.oid::pg_catalog.regclass::pg_catalog.text AS name FROM pg_catalog.pg_class AS c
         WHERE c.relnamespace OPERATOR(pg_catalog.=) 'saas'::pg_catalog.regnamespace::pg_catalog.oid
        UNION ALL
        SELECT p.oid::pg_catalog.regprocedure::pg_catalog.text FROM pg_catalog.pg_proc AS p
         WHERE p.pronamespace OPERATOR(pg_catalog.=) 'saas'::pg_catalog.regnamespace::pg_catalog.oid
        UNION ALL
        SELECT t.oid::pg_catalog.regtype::pg_catalog.text FROM pg_catalog.pg_type AS t
         WHERE t.typnamespace OPERATOR(pg_catalog.=) 'saas'::pg_catalog.regnamespace::pg_catalog.oid
        UNION ALL
        SELECT o.oid::pg_catalog.regoperator::pg_catalog.text FROM pg_catalog.pg_operator AS o
         WHERE o.oprnamespace OPERATOR(pg_catalog.=) 'saas'::pg_catalog.regnamespace::pg_catalog.oid
        UNION ALL
        SELECT 'collation ' OPERATOR(pg_catalog.||) c.collname FROM pg_catalog.pg_collation AS c
         WHERE c.collnamespace OPERATOR(pg_catalog.=) 'saas'::pg_catalog.regnamespace::pg_catalog.oid
        UNION ALL
        SELECT 'conversion ' OPERATOR(pg_catalog.||) c.conname FROM pg_catalog.pg_conversion AS c
         WHERE c.connamespace OPERATOR(pg_catalog.=) 'saas'::pg_catalog.regnamespace::pg_catalog.oid
        UNION ALL
        SELECT 'operator family ' OPERATOR(pg_catalog.||) f.opfname FROM pg_catalog.pg_opfamily AS f
         WHERE f.opfnamespace OPERATOR(pg_catalog.=) 'saas'::pg_catalog.regnamespace::pg_catalog.oid
        UNION ALL
        SELECT 'text search configuration ' OPERATOR(pg_catalog.||) c.cfgname FROM pg_catalog.pg_ts_config AS c
         WHERE c.cfgnamespace OPERATOR(pg_catalog.=) 'saas'::pg_catalog.regnamespace::pg_catalog.oid
        UNION ALL
        SELECT 'statistics ' OPERATOR(pg_catalog.||) s.stxname FROM pg_catalog.pg_statistic_ext AS s
         WHERE s.stxnamespace OPERATOR(pg_catalog.=) 'saas'::pg_catalog.regnamespace::pg_catalog.oid
    ) AS o;
    IF found IS NOT NULL THEN
        RAISE EXCEPTION 'schema saas is not empty: %', found
            USING ERRCODE = 'duplicate_object',
                  DETAIL = 'A role that is not a superuser installs saas_schema only into a new or empty schema saas: the install script, which runs as a superuser, would resolve its calls among these objects.',
                  HINT = 'Rename or drop schema saas first (ALTER SCHEMA saas RENAME TO ...), or let a superuser install the extension.';
    END IF;
END
$do$;
