-- Migrations: helpers for users' own schema changes on busy tables.
--
-- The safe way to make an existing column NOT NULL on a big, busy table,
-- for users' own migrations.  Each step is its own short transaction:
--   1. ADD CONSTRAINT ... CHECK (col IS NOT NULL) NOT VALID  (brief lock, no scan)
--   2. VALIDATE CONSTRAINT   (full scan under SHARE UPDATE EXCLUSIVE: reads and
--                             writes go on)
--   3. SET NOT NULL          (brief lock; PostgreSQL 12+ skips the scan because
--                             the validated CHECK proves it), then DROP the CHECK.
-- Backfill first (in batches); CALL it outside a transaction block.
--
-- It has no SET clause on purpose: a procedure with one cannot COMMIT.  So it
-- runs with the caller's search_path -- typically a superuser's, whose path
-- may hold a schema others can write to (public in clusters upgraded from
-- PostgreSQL 14): a function or operator planted there with a better-matching
-- signature than pg_catalog's would run as the caller.  Hence every name in
-- it is qualified: functions and types with pg_catalog., operators with
-- OPERATOR(pg_catalog.x), tables by regclass or pg_catalog., and the
-- dynamic SQL names schema and table explicitly (test/sql/security.sql
-- calls it under a hostile search_path).
CREATE PROCEDURE saas.set_not_null_safely(tbl regclass, column_name name,
                                          lock_timeout interval DEFAULT '5s')
    LANGUAGE plpgsql
    AS $fn$
DECLARE
    con pg_catalog.name;
    target pg_catalog.text;
    already pg_catalog.bool;
    has_nulls pg_catalog.bool;
    -- Milliseconds: independent of the session's IntervalStyle.
    timeout_ms pg_catalog.text := pg_catalog.round(pg_catalog.date_part('epoch'::pg_catalog.text, lock_timeout)
                                                   OPERATOR(pg_catalog.*) 1000::pg_catalog.float8)
                                  ::pg_catalog.int8::pg_catalog.text;
BEGIN
    IF tbl IS NULL OR column_name IS NULL THEN
        RAISE EXCEPTION 'saas.set_not_null_safely: table and column must not be NULL'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    SELECT a.attnotnull INTO already FROM pg_catalog.pg_attribute AS a
    WHERE a.attrelid OPERATOR(pg_catalog.=) tbl::pg_catalog.oid
      AND a.attname OPERATOR(pg_catalog.=) column_name
      AND a.attnum OPERATOR(pg_catalog.>) 0::pg_catalog.int2 AND NOT a.attisdropped;
    IF already IS NULL THEN
        RAISE EXCEPTION 'saas.set_not_null_safely: table % has no column %', tbl, column_name
            USING ERRCODE = 'undefined_column';
    END IF;
    IF already THEN
        RAISE NOTICE 'saas.set_not_null_safely: %.% is already NOT NULL', tbl, column_name;
        RETURN;
    END IF;
    SELECT pg_catalog.format('%I.%I'::pg_catalog.text, n.nspname, c.relname),
           pg_catalog.left(pg_catalog.concat('chk_'::pg_catalog.text, c.relname, '_'::pg_catalog.text,
                                             column_name, '_not_null'::pg_catalog.text), 63)
      INTO target, con
      FROM pg_catalog.pg_class AS c JOIN pg_catalog.pg_namespace AS n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace
     WHERE c.oid OPERATOR(pg_catalog.=) tbl::pg_catalog.oid;
    EXECUTE pg_catalog.format('SELECT EXISTS (SELECT FROM %s WHERE %I IS NULL)'::pg_catalog.text, target, column_name)
        INTO has_nulls;
    IF has_nulls THEN
        RAISE EXCEPTION 'saas.set_not_null_safely: %.% still has NULLs', tbl, column_name
            USING ERRCODE = 'not_null_violation',
                  HINT = 'Backfill the column first, e.g. in batches of UPDATE ... WHERE col IS NULL AND id IN (... LIMIT 10000).';
    END IF;
    PERFORM pg_catalog.set_config('lock_timeout'::pg_catalog.text, timeout_ms, true);
    EXECUTE pg_catalog.format('ALTER TABLE %s ADD CONSTRAINT %I CHECK (%I IS NOT NULL) NOT VALID'::pg_catalog.text,
                              target, con, column_name);
    COMMIT;
    PERFORM pg_catalog.set_config('lock_timeout'::pg_catalog.text, timeout_ms, true);
    EXECUTE pg_catalog.format('ALTER TABLE %s VALIDATE CONSTRAINT %I'::pg_catalog.text, target, con);
    COMMIT;
    PERFORM pg_catalog.set_config('lock_timeout'::pg_catalog.text, timeout_ms, true);
    EXECUTE pg_catalog.format('ALTER TABLE %s ALTER COLUMN %I SET NOT NULL'::pg_catalog.text, target, column_name);
    EXECUTE pg_catalog.format('ALTER TABLE %s DROP CONSTRAINT %I'::pg_catalog.text, target, con);
    COMMIT;
END
$fn$;
COMMENT ON PROCEDURE saas.set_not_null_safely(regclass, name, interval) IS
    'Makes a backfilled column NOT NULL without a long exclusive lock: CHECK NOT VALID, VALIDATE, SET NOT NULL, each in its own transaction. CALL outside a transaction block.';
REVOKE EXECUTE ON PROCEDURE saas.set_not_null_safely(regclass, name, interval) FROM PUBLIC;
