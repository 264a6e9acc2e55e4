-- Ownership: the tables, views and the ticket_status type are the DBA's.
--
-- Everything an extension script creates becomes a member of the extension,
-- and pg_dump never dumps a member's definition: a column, index, constraint,
-- trigger, policy or comment a DBA added to a member table would be lost at
-- the next restore (and the data COPY would then fail on the missing
-- column).  So the script hands the tables, views and type over at the end:
-- they stop being members, pg_dump dumps them like any table (definitions,
-- customisations, rows; foreign keys after the data, which is what makes
-- pg_restore -j work), and pg_upgrade carries them over.  The extension keeps
-- its functions, its event trigger and its internal catalog.  They depend on
-- the extension's functions (defaults, triggers, policies), so DROP EXTENSION
-- without CASCADE refuses, and with CASCADE drops only those dependent
-- defaults, triggers and policies: never a table or a row.
--
-- A restore runs CREATE EXTENSION, and so this script, before it creates the
-- dumped tables.  The event trigger below (src/ownership.cpp) drops the
-- still-empty tables this script made as soon as the restore, in the same
-- session, creates the first of them from the dump: the dumped definitions
-- are the only ones left.  It also refuses, when they are typed, the changes
-- pg_dump would lose: to the extension's own functions, to what belongs to
-- the extension, and to the names its code relies on.

CREATE FUNCTION saas._ddl_command_start() RETURNS event_trigger
    LANGUAGE c
    AS 'MODULE_PATHNAME', 'saas_ddl_command_start';
COMMENT ON FUNCTION saas._ddl_command_start() IS
    'Internal: event trigger function; replaces the tables CREATE EXTENSION made when a restore creates the dumped ones, and refuses changes pg_dump would lose.';

CREATE FUNCTION saas._remember_pristine_objects() RETURNS void
    LANGUAGE c
    AS 'MODULE_PATHNAME', 'saas_remember_pristine_objects';
COMMENT ON FUNCTION saas._remember_pristine_objects() IS
    'Internal: remembers, for this session, the tables, views and types the install script made (a restore may replace them).';
REVOKE EXECUTE ON FUNCTION saas._remember_pristine_objects() FROM PUBLIC;

CREATE FUNCTION saas._allow_member_repair() RETURNS void
    LANGUAGE c
    AS 'MODULE_PATHNAME', 'saas_allow_member_repair';
COMMENT ON FUNCTION saas._allow_member_repair() IS
    'Internal: lets the current transaction replace the extension''s functions (saas.repair_extension_member).';
REVOKE EXECUTE ON FUNCTION saas._allow_member_repair() FROM PUBLIC;

-- The extension's functions as installed or last updated, so that
-- saas.lint() can report one that was changed since (a restore would bring
-- back the shipped one) and saas.repair_extension_member() can put it back.
-- Its body is the data: saas._record_extension_functions() writes it, in the
-- install and update scripts, so it is an extension member like the
-- functions it describes and a restore's CREATE EXTENSION writes it afresh.
CREATE FUNCTION saas._shipped_functions()
    RETURNS TABLE (function_identity text, definition text, description text)
    LANGUAGE sql IMMUTABLE
    SET search_path = pg_catalog, pg_temp
    AS $fn$ SELECT NULL::text, NULL::text, NULL::text WHERE false $fn$;
COMMENT ON FUNCTION saas._shipped_functions() IS
    'Internal: every function of extension saas_schema as shipped (pg_get_functiondef and comment), written by the install and update scripts.';

-- A function's definition as pg_get_functiondef gives it with a fixed
-- search_path (it names types relative to the search_path), so that what is
-- recorded and what saas.lint() compares it with are written alike.
CREATE FUNCTION saas._function_definition(fn regprocedure) RETURNS text
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, pg_temp
    AS $fn$ SELECT pg_catalog.pg_get_functiondef(fn) $fn$;
COMMENT ON FUNCTION saas._function_definition(regprocedure) IS
    'Internal: pg_get_functiondef under a fixed search_path.';

-- Records the named functions of the extension (all of them when names is
-- NULL) as they are now, keeping what was recorded of the others; the
-- install script and every update script call it for the functions they
-- create.
CREATE FUNCTION saas._record_extension_functions(names name[]) RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $fn$
DECLARE
    recorded text;
BEGIN
    WITH members AS (
        SELECT p.oid, p.proname
          FROM pg_catalog.pg_depend AS d
          JOIN pg_catalog.pg_proc AS p ON p.oid = d.objid
         WHERE d.classid = 'pg_catalog.pg_proc'::pg_catalog.regclass AND d.deptype = 'e'
           AND d.refclassid = 'pg_catalog.pg_extension'::pg_catalog.regclass
           AND d.refobjid = (SELECT e.oid FROM pg_catalog.pg_extension AS e WHERE e.extname = 'saas_schema')
           AND p.proname <> '_shipped_functions'
    ), entries AS (
        SELECT s.function_identity, s.definition, s.description
          FROM saas._shipped_functions() AS s
          JOIN members AS m ON m.oid = pg_catalog.to_regprocedure(s.function_identity)
         WHERE names IS NOT NULL AND m.proname <> ALL (names)
        UNION ALL
        SELECT m.oid::pg_catalog.regprocedure::text, saas._function_definition(m.oid),
               pg_catalog.obj_description(m.oid, 'pg_proc')
          FROM members AS m
         WHERE names IS NULL OR m.proname = ANY (names)
    )
    SELECT pg_catalog.string_agg(pg_catalog.format('(%L::text, %L::text, %L::text)', e.function_identity,
                                                   e.definition, e.description),
                                 E',\n' ORDER BY e.function_identity)
      INTO recorded FROM entries AS e;
    EXECUTE pg_catalog.format(
        'CREATE OR REPLACE FUNCTION saas._shipped_functions() '
        'RETURNS TABLE (function_identity text, definition text, description text) '
        'LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, pg_temp AS %L',
        'SELECT * FROM (VALUES ' || recorded || ') AS f(function_identity, definition, description)');
END
$fn$;
COMMENT ON FUNCTION saas._record_extension_functions(name[]) IS
    'Internal: records the current definition of the named functions of the extension (all when NULL) in saas._shipped_functions().';
REVOKE EXECUTE ON FUNCTION saas._record_extension_functions(name[]) FROM PUBLIC;

-- Puts one of the extension's functions back as shipped: definition,
-- comment, owner, membership.  The fix saas.lint() proposes for a function
-- that was changed after installation.
CREATE FUNCTION saas.repair_extension_member(function_identity text) RETURNS text
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $fn$
DECLARE
    shipped record;
    extension_oid oid;
    extension_owner regrole;
    fn regprocedure;
BEGIN
    SELECT * INTO shipped FROM saas._shipped_functions() AS f
     WHERE f.function_identity = repair_extension_member.function_identity;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'saas.repair_extension_member: % is not a function of extension saas_schema',
                        COALESCE(function_identity, 'NULL')
            USING ERRCODE = 'undefined_function',
                  HINT = 'Pass the identity saas.lint() reports, e.g. ''saas.lint(name)''.';
    END IF;
    SELECT e.oid, e.extowner::regrole INTO extension_oid, extension_owner
      FROM pg_catalog.pg_extension AS e WHERE e.extname = 'saas_schema';
    PERFORM saas._allow_member_repair();
    EXECUTE shipped.definition;
    fn := shipped.function_identity::regprocedure;
    EXECUTE pg_catalog.format('COMMENT ON ROUTINE %s IS %L', fn, shipped.description);
    EXECUTE pg_catalog.format('ALTER ROUTINE %s OWNER TO %s', fn, extension_owner);
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_depend AS d
                    WHERE d.classid = 'pg_catalog.pg_proc'::pg_catalog.regclass AND d.objid = fn
                      AND d.refobjid = extension_oid AND d.deptype = 'e') THEN
        EXECUTE pg_catalog.format('ALTER EXTENSION saas_schema ADD ROUTINE %s', fn);
    END IF;
    RETURN pg_catalog.format('%s is as extension saas_schema shipped it', fn);
END
$fn$;
COMMENT ON FUNCTION saas.repair_extension_member(text) IS
    'Restores one function of extension saas_schema as shipped (definition, comment, owner, membership); the fix saas.lint() gives for a changed one.';
REVOKE EXECUTE ON FUNCTION saas.repair_extension_member(text) FROM PUBLIC;

-- Gives a function that an update script had to drop and create again the
-- grants it had (acl: its old proacl).  A GRANT inside an extension script
-- counts as the extension's own initial privilege, which pg_dump does not
-- dump; so the initial privileges are set back to what they were right after
-- the CREATE, and pg_dump keeps dumping these grants as the DBA's.
CREATE FUNCTION saas._regrant(fn regprocedure, acl aclitem[]) RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $fn$
DECLARE
    initial aclitem[];
    had_initial boolean;
    g record;
BEGIN
    SELECT i.initprivs, true INTO initial, had_initial FROM pg_catalog.pg_init_privs AS i
     WHERE i.objoid = fn AND i.classoid = 'pg_catalog.pg_proc'::pg_catalog.regclass AND i.objsubid = 0;
    FOR g IN SELECT a.grantee, a.privilege_type, a.is_grantable
               FROM pg_catalog.aclexplode(acl) AS a
              WHERE a.grantee <> (SELECT p.proowner FROM pg_catalog.pg_proc AS p WHERE p.oid = fn)
    LOOP
        EXECUTE pg_catalog.format('GRANT %s ON ROUTINE %s TO %s%s', g.privilege_type, fn,
                                  CASE WHEN g.grantee = 0 THEN 'PUBLIC' ELSE g.grantee::pg_catalog.regrole::text END,
                                  CASE WHEN g.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END);
    END LOOP;
    IF had_initial THEN
        UPDATE pg_catalog.pg_init_privs AS i SET initprivs = initial
         WHERE i.objoid = fn AND i.classoid = 'pg_catalog.pg_proc'::pg_catalog.regclass AND i.objsubid = 0;
    ELSE
        DELETE FROM pg_catalog.pg_init_privs AS i
         WHERE i.objoid = fn AND i.classoid = 'pg_catalog.pg_proc'::pg_catalog.regclass AND i.objsubid = 0;
    END IF;
END
$fn$;
COMMENT ON FUNCTION saas._regrant(regprocedure, aclitem[]) IS
    'Internal, for update scripts: gives a re-created function its former grants, kept as grants pg_dump dumps.';
REVOKE EXECUTE ON FUNCTION saas._regrant(regprocedure, aclitem[]) FROM PUBLIC;

-- Hands the extension's tables, views and types over to the DBA: they stop
-- being members of the extension (internal ones, named _*, stay).
CREATE FUNCTION saas._release_data_objects() RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $fn$
DECLARE
    obj record;
BEGIN
    FOR obj IN
        SELECT CASE WHEN t.oid IS NOT NULL THEN 'TYPE' WHEN c.relkind = 'v' THEN 'VIEW' ELSE 'TABLE' END AS kind,
               pg_catalog.format('saas.%I', COALESCE(c.relname, t.typname)) AS name
          FROM pg_catalog.pg_depend AS d
          LEFT JOIN pg_catalog.pg_class AS c
            ON d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass AND c.oid = d.objid
          LEFT JOIN pg_catalog.pg_type AS t
            ON d.classid = 'pg_catalog.pg_type'::pg_catalog.regclass AND t.oid = d.objid
         WHERE d.refclassid = 'pg_catalog.pg_extension'::pg_catalog.regclass AND d.deptype = 'e'
           AND d.refobjid = (SELECT e.oid FROM pg_catalog.pg_extension AS e WHERE e.extname = 'saas_schema')
           AND (c.relkind IN ('r', 'p', 'v') OR t.typtype IN ('e', 'c', 'd'))
           AND COALESCE(c.relnamespace, t.typnamespace) = 'saas'::pg_catalog.regnamespace
           AND COALESCE(c.relname, t.typname) !~ '^_'
         ORDER BY 1, 2
    LOOP
        EXECUTE pg_catalog.format('ALTER EXTENSION saas_schema DROP %s %s', obj.kind, obj.name);
    END LOOP;
END
$fn$;
COMMENT ON FUNCTION saas._release_data_objects() IS
    'Internal: makes the extension''s tables, views and types ordinary objects of the database (no longer extension members).';
REVOKE EXECUTE ON FUNCTION saas._release_data_objects() FROM PUBLIC;

-- Hand them over; first remember them as the objects a restore in this
-- session may replace.
SELECT saas._remember_pristine_objects();
SELECT saas._release_data_objects();

SELECT saas._record_extension_functions(NULL);

CREATE EVENT TRIGGER saas_schema_ddl_command_start ON ddl_command_start
    EXECUTE FUNCTION saas._ddl_command_start();
-- Also in sessions with session_replication_role = replica, which some
-- restores use (pg_restore --disable-triggers, PGOPTIONS).
ALTER EVENT TRIGGER saas_schema_ddl_command_start ENABLE ALWAYS;
COMMENT ON EVENT TRIGGER saas_schema_ddl_command_start IS
    'saas_schema: lets a restore replace the tables CREATE EXTENSION made; refuses changes pg_dump would lose.';
