-- updated_at: the C++ trigger saas.set_updated_at() on every table with an
-- updated_at column, and enable/disable helpers for users' own tables.
--
-- Maintains a timestamptz/timestamp column (default updated_at) on INSERT and
-- UPDATE and keeps created_at immutable; see src/updated_at.cpp.  Arguments:
-- ([column name [, 'changed' | 'always']]).  'changed' (default): an UPDATE
-- that changes no other column keeps the stored updated_at.
CREATE FUNCTION saas.set_updated_at() RETURNS trigger
    LANGUAGE c
    AS 'MODULE_PATHNAME', 'saas_set_updated_at';
COMMENT ON FUNCTION saas.set_updated_at() IS
    'BEFORE INSERT OR UPDATE row trigger: sets updated_at to now() when the row changes, protects created_at';

-- Installs trigger trg_<table>_updated_at on tbl.  Returns true when it
-- created (or re-created with another column) the trigger, false when it was
-- already in place.  Not SECURITY DEFINER: the caller needs the right to
-- create triggers on tbl.
CREATE FUNCTION saas.enable_updated_at(tbl regclass, column_name name DEFAULT 'updated_at')
    RETURNS boolean
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
    AS $fn$
DECLARE
    rel record;
    col record;
    trg record;
    trg_name name;
    arg0 bytea;
BEGIN
    IF tbl IS NULL OR column_name IS NULL THEN
        RAISE EXCEPTION 'saas.enable_updated_at: arguments must not be NULL'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    SELECT c.relname, c.relkind INTO rel FROM pg_catalog.pg_class c WHERE c.oid = tbl;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'saas.enable_updated_at: relation with OID % does not exist', tbl::oid
            USING ERRCODE = 'undefined_table';
    END IF;
    IF rel.relkind NOT IN ('r', 'p') THEN
        RAISE EXCEPTION 'saas.enable_updated_at: "%" is not a table', tbl
            USING ERRCODE = 'wrong_object_type',
                  DETAIL = 'Only ordinary and partitioned tables can have the updated_at trigger.';
    END IF;
    SELECT a.attnum, a.atttypid, a.attisdropped INTO col
      FROM pg_catalog.pg_attribute a
     WHERE a.attrelid = tbl AND a.attname = column_name;
    IF NOT FOUND OR col.attisdropped THEN
        RAISE EXCEPTION 'saas.enable_updated_at: column "%" of relation "%" does not exist', column_name, tbl
            USING ERRCODE = 'undefined_column';
    END IF;
    IF col.attnum < 0 THEN
        RAISE EXCEPTION 'saas.enable_updated_at: "%" is a system column of relation "%"', column_name, tbl
            USING ERRCODE = 'invalid_column_reference';
    END IF;
    IF col.atttypid NOT IN ('pg_catalog.timestamptz'::pg_catalog.regtype, 'pg_catalog.timestamp'::pg_catalog.regtype) THEN
        RAISE EXCEPTION 'saas.enable_updated_at: column "%" of relation "%" is of type %',
                column_name, tbl, pg_catalog.format_type(col.atttypid, NULL)
            USING ERRCODE = 'datatype_mismatch',
                  DETAIL = 'The column must be timestamp with time zone or timestamp without time zone.';
    END IF;

    -- A partition already maintained through its parent's cloned trigger
    -- (named after the parent) must not get a second one.
    IF EXISTS (SELECT FROM pg_catalog.pg_trigger t
                WHERE t.tgrelid = tbl AND t.tgparentid <> 0
                  AND t.tgfoid = 'saas.set_updated_at()'::pg_catalog.regprocedure) THEN
        RAISE EXCEPTION 'saas.enable_updated_at: "%" already has the trigger through its partitioned parent', tbl
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'Manage the trigger on the partitioned parent table.';
    END IF;
    -- A name cast truncates to NAMEDATALEN-1 like CREATE TRIGGER would, so the
    -- lookup below finds what we create even for long table names.
    trg_name := ('trg_' || rel.relname || '_updated_at')::name;
    SELECT t.tgfoid, t.tgnargs, t.tgargs, t.tgparentid INTO trg
      FROM pg_catalog.pg_trigger t
     WHERE t.tgrelid = tbl AND t.tgname = trg_name;
    IF FOUND THEN
        IF trg.tgfoid <> 'saas.set_updated_at()'::pg_catalog.regprocedure THEN
            RAISE EXCEPTION 'saas.enable_updated_at: relation "%" already has a trigger "%" that does not call saas.set_updated_at()',
                    tbl, trg_name
                USING ERRCODE = 'duplicate_object';
        END IF;
        -- Same column already maintained (whatever its mode): nothing to do.
        -- tgargs holds the arguments, each followed by a NUL byte.
        arg0 := pg_catalog.convert_to(column_name::text, pg_catalog.getdatabaseencoding())
                || pg_catalog.decode('00', 'hex');
        IF (trg.tgnargs = 0 AND column_name = 'updated_at')
           OR (trg.tgnargs > 0 AND pg_catalog.substr(trg.tgargs, 1, pg_catalog.length(arg0)) = arg0) THEN
            RETURN false;
        END IF;
        EXECUTE pg_catalog.format('DROP TRIGGER %I ON %s', trg_name, tbl);
    END IF;
    EXECUTE pg_catalog.format(
        'CREATE TRIGGER %I BEFORE INSERT OR UPDATE ON %s FOR EACH ROW EXECUTE FUNCTION saas.set_updated_at(%L)',
        trg_name, tbl, column_name);
    RETURN true;
END
$fn$;
COMMENT ON FUNCTION saas.enable_updated_at(regclass, name) IS
    'Installs trigger trg_<table>_updated_at (saas.set_updated_at) on a table; idempotent';

-- Removes trigger trg_<table>_updated_at.  Returns true when it dropped it,
-- false when there was nothing to drop.
CREATE FUNCTION saas.disable_updated_at(tbl regclass)
    RETURNS boolean
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
    AS $fn$
DECLARE
    trg record;
    trg_name name;
BEGIN
    IF tbl IS NULL THEN
        RAISE EXCEPTION 'saas.disable_updated_at: argument must not be NULL'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    SELECT ('trg_' || c.relname || '_updated_at')::name INTO trg_name
      FROM pg_catalog.pg_class c WHERE c.oid = tbl;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'saas.disable_updated_at: relation with OID % does not exist', tbl::oid
            USING ERRCODE = 'undefined_table';
    END IF;
    -- Disabling a partition alone would leave its parent's cloned trigger firing.
    IF EXISTS (SELECT FROM pg_catalog.pg_trigger t
                WHERE t.tgrelid = tbl AND t.tgparentid <> 0
                  AND t.tgfoid = 'saas.set_updated_at()'::pg_catalog.regprocedure) THEN
        RAISE EXCEPTION 'saas.disable_updated_at: "%" has the trigger through its partitioned parent', tbl
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'Call saas.disable_updated_at() on the partitioned parent table.';
    END IF;
    SELECT t.tgfoid INTO trg
      FROM pg_catalog.pg_trigger t
     WHERE t.tgrelid = tbl AND t.tgname = trg_name;
    IF NOT FOUND THEN
        RETURN false;
    END IF;
    IF trg.tgfoid <> 'saas.set_updated_at()'::pg_catalog.regprocedure THEN
        RAISE EXCEPTION 'saas.disable_updated_at: trigger "%" on "%" does not call saas.set_updated_at()', trg_name, tbl
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'Drop that trigger with DROP TRIGGER if it is really unwanted.';
    END IF;
    EXECUTE pg_catalog.format('DROP TRIGGER %I ON %s', trg_name, tbl);
    RETURN true;
END
$fn$;
COMMENT ON FUNCTION saas.disable_updated_at(regclass) IS
    'Removes trigger trg_<table>_updated_at installed by saas.enable_updated_at; idempotent';

-- Every saas table with an updated_at column gets the trigger, whatever
-- tables 20_tables.sql defines.  Partitions inherit the parent's trigger;
-- tables without updated_at (the partitioned audit log) are skipped.
DO $do$
DECLARE
    r record;
BEGIN
    FOR r IN
        SELECT c.oid::pg_catalog.regclass AS tbl
          FROM pg_catalog.pg_class c
          JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
          JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid
         WHERE n.nspname = 'saas' AND c.relkind IN ('r', 'p') AND NOT c.relispartition
           AND a.attname = 'updated_at' AND NOT a.attisdropped
         ORDER BY c.relname
    LOOP
        PERFORM saas.enable_updated_at(r.tbl, 'updated_at');
    END LOOP;
END
$do$;

