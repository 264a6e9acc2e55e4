-- Migrations: helpers for users' own schema changes on busy tables.
--
-- The safe way to make an existing column NOT NULL on a big, busy table,
-- for users' own migrations.  Each step is its own short transaction:
--   1. ADD CONSTRAINT ... CHECK (col IS NOT NULL) NOT VALID  (brief lock, no scan)
--   2. VALIDATE CONSTRAINT   (full scan under SHARE UPDATE EXCLUSIVE: reads and
--                             writes go on)
--   3. SET NOT NULL          (brief lock; PostgreSQL 12+ skips the scan because
--                             the validated CHECK proves it), then DROP the CHECK.
-- Backfill first (in batches); CALL it outside a transaction block.  It has no
-- SET clause on purpose: a procedure with one cannot COMMIT.
CREATE PROCEDURE saas.set_not_null_safely(tbl regclass, column_name name,
                                          lock_timeout interval DEFAULT '5s')
    LANGUAGE plpgsql
    AS $fn$
DECLARE
    con name;
    already boolean;
    has_nulls boolean;
    -- Milliseconds: independent of the session's IntervalStyle.
    timeout_ms text := (pg_catalog.date_part('epoch', lock_timeout) * 1000)::bigint::text;
BEGIN
    IF tbl IS NULL OR column_name IS NULL THEN
        RAISE EXCEPTION 'saas.set_not_null_safely: table and column must not be NULL'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    SELECT a.attnotnull INTO already FROM pg_catalog.pg_attribute AS a
    WHERE a.attrelid = tbl AND a.attname = column_name AND a.attnum > 0 AND NOT a.attisdropped;
    IF already IS NULL THEN
        RAISE EXCEPTION 'saas.set_not_null_safely: table % has no column %', tbl, column_name
            USING ERRCODE = 'undefined_column';
    END IF;
    IF already THEN
        RAISE NOTICE 'saas.set_not_null_safely: %.% is already NOT NULL', tbl, column_name;
        RETURN;
    END IF;
    EXECUTE pg_catalog.format('SELECT EXISTS (SELECT 1 FROM %s WHERE %I IS NULL)', tbl, column_name)
        INTO has_nulls;
    IF has_nulls THEN
        RAISE EXCEPTION 'saas.set_not_null_safely: %.% still has NULLs', tbl, column_name
            USING ERRCODE = 'not_null_violation',
                  HINT = 'Backfill the column first, e.g. in batches of UPDATE ... WHERE col IS NULL AND id IN (... LIMIT 10000).';
    END IF;
    con := pg_catalog.left('chk_' || (SELECT c.relname FROM pg_catalog.pg_class AS c WHERE c.oid = tbl)
                           || '_' || column_name || '_not_null', 63);
    PERFORM pg_catalog.set_config('lock_timeout', timeout_ms, true);
    EXECUTE pg_catalog.format('ALTER TABLE %s ADD CONSTRAINT %I CHECK (%I IS NOT NULL) NOT VALID',
                              tbl, con, column_name);
    COMMIT;
    PERFORM pg_catalog.set_config('lock_timeout', timeout_ms, true);
    EXECUTE pg_catalog.format('ALTER TABLE %s VALIDATE CONSTRAINT %I', tbl, con);
    COMMIT;
    PERFORM pg_catalog.set_config('lock_timeout', timeout_ms, true);
    EXECUTE pg_catalog.format('ALTER TABLE %s ALTER COLUMN %I SET NOT NULL', tbl, column_name);
    EXECUTE pg_catalog.format('ALTER TABLE %s DROP CONSTRAINT %I', tbl, con);
    COMMIT;
END
$fn$;
COMMENT ON PROCEDURE saas.set_not_null_safely(regclass, name, interval) IS
    'Makes a backfilled column NOT NULL without a long exclusive lock: CHECK NOT VALID, VALIDATE, SET NOT NULL, each in its own transaction. CALL outside a transaction block.';
REVOKE EXECUTE ON PROCEDURE saas.set_not_null_safely(regclass, name, interval) FROM PUBLIC;
