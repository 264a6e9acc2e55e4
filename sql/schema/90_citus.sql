-- Citus: scale out by tenant.  Run once, on the Citus coordinator, after
-- the worker nodes are added:
--     SELECT * FROM saas.distribute();          -- or saas.distribute(64)
-- organizations becomes a reference table (a copy on every node: the
-- globally unique slug stays enforced, set_tenant() validates locally, and
-- every tenant table can reference it); every table with organization_id
-- (audit_logs and its partitions included) is hash-distributed by
-- organization_id, all in one colocation group, so a tenant's rows, their
-- composite foreign keys and their audit rows live in the same shard group.
--
-- Citus refuses to distribute a table that has triggers, and creating a
-- trigger on a Citus table needs citus.enable_unsafe_triggers: the triggers
-- are remembered (pg_get_triggerdef), dropped, and re-created once the tables
-- are distributed, on the shards and on the workers' shell tables alike.
-- The workers hold no tables of their own: CREATE EXTENSION, which Citus runs
-- on every worker, leaves the tables to Citus there (see
-- saas._drop_tables_on_citus_worker below), and Citus creates each worker's
-- shell tables as it distributes them (and on a worker added later, from the
-- coordinator's definitions, triggers, foreign keys and grants included).
--
-- Triggers on the reference table organizations would fire once per copy:
-- the audit trigger's insert would then be a distributed query run from a
-- shard on every node, which Citus refuses (every UPDATE of an organization
-- fails), and updated_at would differ between the copies (each node's own
-- transaction start).  So the audit and updated_at triggers of organizations
-- are not re-created: changes of organizations are not audited on a
-- distributed install (docs/citus.md).
CREATE FUNCTION saas.distribute(shard_count integer DEFAULT NULL)
    RETURNS SETOF text
    LANGUAGE plpgsql VOLATILE
    -- Without saas: pg_get_triggerdef() and pg_get_constraintdef() then
    -- qualify every name, as the shards' DDL (run without it) needs.
    SET search_path = pg_catalog, pg_temp
    SET client_min_messages = warning  -- Citus' notices on copying local data: the function empties it
    AS $fn$
DECLARE
    citus_version text;
    local_group integer;
    done boolean;
    trg record;
    tbl regclass;
    pending regclass[];
    ready regclass[];
    distributed regclass[] := '{}';
    first_table regclass;
    defs text[] := '{}';
    disabled text[] := '{}';
    skipped text[] := '{}';
    def text;
    n integer;
    fks text[] := '{}';
    fk record;
    old_unsafe text;
    old_mode text;
BEGIN
    SELECT e.extversion INTO citus_version FROM pg_catalog.pg_extension AS e WHERE e.extname = 'citus';
    IF citus_version IS NULL THEN
        RAISE EXCEPTION 'saas.distribute: the citus extension is not installed in this database'
            USING ERRCODE = 'feature_not_supported',
                  DETAIL = 'saas.distribute() turns the saas tables into Citus reference and distributed tables.',
                  HINT = 'Add citus to shared_preload_libraries, run CREATE EXTENSION citus before CREATE EXTENSION saas_schema, add the workers with citus_add_node(), then call saas.distribute() on the coordinator.';
    END IF;
    IF shard_count IS NOT NULL AND shard_count NOT BETWEEN 1 AND 64000 THEN
        RAISE EXCEPTION 'saas.distribute: shard_count must be between 1 and 64000, not %', shard_count
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Leave it NULL to use citus.shard_count.';
    END IF;
    EXECUTE 'SELECT g.groupid FROM pg_catalog.pg_dist_local_group AS g' INTO local_group;
    IF local_group IS DISTINCT FROM 0 THEN
        RAISE EXCEPTION 'saas.distribute: this node is a Citus worker (group %), not the coordinator', local_group
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'Call saas.distribute() on the coordinator; it distributes the tables on every node.';
    END IF;
    EXECUTE 'SELECT EXISTS (SELECT FROM pg_catalog.pg_dist_partition AS p WHERE p.logicalrelid = $1)'
        INTO done USING 'saas.organizations'::pg_catalog.regclass;
    IF done THEN
        RETURN NEXT 'already distributed: nothing to do';
        RETURN;
    END IF;

    -- Reference-table DDL and distributed-table DDL in one transaction.
    old_mode := pg_catalog.current_setting('citus.multi_shard_modify_mode');
    PERFORM pg_catalog.set_config('citus.multi_shard_modify_mode', 'sequential', true);

    -- The tables: organizations, and every table with organization_id.
    SELECT pg_catalog.array_agg(c.oid::pg_catalog.regclass ORDER BY c.relname) INTO pending
      FROM pg_catalog.pg_class AS c
     WHERE c.relnamespace = 'saas'::pg_catalog.regnamespace AND c.relkind IN ('r', 'p')
       AND NOT c.relispartition
       AND EXISTS (SELECT FROM pg_catalog.pg_attribute AS a
                    WHERE a.attrelid = c.oid AND a.attname = 'organization_id'
                      AND a.attnum > 0 AND NOT a.attisdropped);

    -- 1. Remember and drop the triggers of these tables and their partitions
    --    (clones on partitions go with their parent's trigger).
    FOR trg IN
        SELECT t.tgname, t.tgrelid::pg_catalog.regclass AS rel, t.tgenabled,
               pg_catalog.pg_get_triggerdef(t.oid) AS def, t.tgfoid::pg_catalog.regproc::text AS fn
          FROM pg_catalog.pg_trigger AS t
          JOIN pg_catalog.pg_class AS c ON c.oid = t.tgrelid
         WHERE c.relnamespace = 'saas'::pg_catalog.regnamespace
           AND NOT t.tgisinternal AND t.tgparentid = 0
           AND (t.tgrelid = 'saas.organizations'::pg_catalog.regclass
                OR t.tgrelid = ANY (pending)
                OR EXISTS (SELECT FROM pg_catalog.pg_partition_ancestors(t.tgrelid) AS an
                            WHERE an.relid = ANY (pending) AND an.relid <> t.tgrelid))
         ORDER BY c.relname, t.tgname
    LOOP
        IF trg.rel = 'saas.organizations'::pg_catalog.regclass
           AND trg.fn IN ('saas.audit_trigger', 'audit_trigger', 'saas.set_updated_at', 'set_updated_at') THEN
            skipped := skipped OPERATOR(pg_catalog.||) pg_catalog.format('%s on %s', trg.tgname, trg.rel);
        ELSE
            defs := defs OPERATOR(pg_catalog.||) trg.def;
            IF trg.tgenabled = 'D' THEN
                disabled := disabled OPERATOR(pg_catalog.||)
                            pg_catalog.format('ALTER TABLE %s DISABLE TRIGGER %I', trg.rel, trg.tgname);
            END IF;
        END IF;
        EXECUTE pg_catalog.format('DROP TRIGGER %I ON %s', trg.tgname, trg.rel);
    END LOOP;

    -- 2. Remember and drop the foreign keys to organizations: making a table
    --    that local tables reference a reference table turns those tables
    --    into Citus local tables first, which renames each to a shard name
    --    (the event trigger refuses renaming users and tickets, and it is a
    --    pointless detour).  They are added again once every table is
    --    distributed.
    FOR fk IN
        SELECT k.conname, k.conrelid::pg_catalog.regclass AS rel, pg_catalog.pg_get_constraintdef(k.oid) AS def
          FROM pg_catalog.pg_constraint AS k
         WHERE k.contype = 'f' AND k.confrelid = 'saas.organizations'::pg_catalog.regclass
           AND k.conrelid <> k.confrelid
         ORDER BY k.conrelid::pg_catalog.regclass::text, k.conname
    LOOP
        fks := fks OPERATOR(pg_catalog.||)
               pg_catalog.format('ALTER TABLE %s ADD CONSTRAINT %I %s', fk.rel, fk.conname, fk.def);
        EXECUTE pg_catalog.format('ALTER TABLE %s DROP CONSTRAINT %I', fk.rel, fk.conname);
    END LOOP;

    -- 3. organizations: a reference table.
    PERFORM pg_catalog.create_reference_table('saas.organizations'::pg_catalog.regclass);
    RETURN NEXT 'saas.organizations: reference table';

    -- 4. The tenant tables, parents before children (a foreign key to a
    --    table must find it distributed already), all colocated with the
    --    first one.
    WHILE pg_catalog.cardinality(pending) > 0 LOOP
        SELECT pg_catalog.array_agg(p ORDER BY p::text) INTO ready
          FROM pg_catalog.unnest(pending) AS p
         WHERE NOT EXISTS (SELECT FROM pg_catalog.pg_constraint AS k
                            WHERE k.conrelid = p AND k.contype = 'f'
                              AND k.confrelid <> p AND k.confrelid = ANY (pending));
        IF ready IS NULL THEN
            RAISE EXCEPTION 'saas.distribute: circular foreign keys between %', pending
                USING ERRCODE = 'invalid_foreign_key',
                      HINT = 'Drop one of the foreign keys, distribute, and add it again.';
        END IF;
        FOREACH tbl IN ARRAY ready LOOP
            IF first_table IS NULL THEN
                IF shard_count IS NULL THEN
                    PERFORM pg_catalog.create_distributed_table(tbl, 'organization_id', colocate_with => 'none');
                ELSE
                    PERFORM pg_catalog.create_distributed_table(tbl, 'organization_id', colocate_with => 'none',
                                                                shard_count => shard_count);
                END IF;
                first_table := tbl;
            ELSE
                PERFORM pg_catalog.create_distributed_table(tbl, 'organization_id', colocate_with => first_table::text);
            END IF;
            distributed := distributed OPERATOR(pg_catalog.||) tbl;
            pending := pg_catalog.array_remove(pending, tbl);
            RETURN NEXT pg_catalog.format('%s: distributed by organization_id, colocated with %s',
                                          saas.audit_table_name(tbl), saas.audit_table_name(first_table));
        END LOOP;
    END LOOP;

    -- 5. The rows now live in the shards: empty the coordinator's local
    --    copies (pg_dump would otherwise dump them too).
    PERFORM pg_catalog.truncate_local_data_after_distributing_table(t)
       FROM pg_catalog.unnest(distributed) AS t;
    PERFORM pg_catalog.truncate_local_data_after_distributing_table('saas.organizations'::pg_catalog.regclass);

    -- 6. The foreign keys to organizations and the triggers again.  Citus
    --    sends them to the shards and to the workers' shell tables.
    old_unsafe := pg_catalog.current_setting('citus.enable_unsafe_triggers');
    PERFORM pg_catalog.set_config('citus.enable_unsafe_triggers', 'on', true);
    FOREACH def IN ARRAY fks LOOP
        EXECUTE def;
    END LOOP;
    RETURN NEXT pg_catalog.format('%s foreign keys to organizations re-created', pg_catalog.cardinality(fks));
    n := 0;
    FOREACH def IN ARRAY defs LOOP
        EXECUTE def;
        n := n + 1;
    END LOOP;
    FOREACH def IN ARRAY disabled LOOP
        EXECUTE def;
    END LOOP;
    PERFORM pg_catalog.set_config('citus.enable_unsafe_triggers', old_unsafe, true);
    PERFORM pg_catalog.set_config('citus.multi_shard_modify_mode', old_mode, true);
    RETURN NEXT pg_catalog.format('%s triggers re-created on the shards and the workers'' shell tables', n);
    IF pg_catalog.cardinality(skipped) > 0 THEN
        RETURN NEXT pg_catalog.format('not re-created on the reference table: %s',
                                      pg_catalog.array_to_string(skipped, ', '));
    END IF;
END
$fn$;
COMMENT ON FUNCTION saas.distribute(integer) IS
    'Citus coordinator only: makes organizations a reference table and distributes every tenant table (audit_logs included) by organization_id, colocated; re-creates the triggers on the shards and the workers'' shell tables. See docs/citus.md.';
REVOKE EXECUTE ON FUNCTION saas.distribute(integer) FROM PUBLIC;

-- On a Citus worker the tables are not the extension's to make.  Citus runs
-- CREATE EXTENSION saas_schema on every worker: the coordinator's CREATE
-- EXTENSION is propagated to the workers it knows, and citus_add_node() runs
-- it on a new one.  Since 0.5.0 the tables, views and ticket_status type are
-- not extension members, so copies made there would be ordinary tables, and
-- Citus creates its own shell tables (and the type, and the views) on the
-- workers for every reference and distributed table: "relation already
-- exists".  So, on a worker, the install script drops what it just made
-- before handing anything over (95_ownership.sql then finds nothing to hand
-- over or to remember for a restore): a worker's schema saas holds the
-- extension's functions and the tables Citus puts there.
--
-- The update from 0.4.0 calls it too, before it hands the tables over: the
-- copies that an earlier CREATE EXTENSION made on the workers go as well,
-- unless the tables were distributed already (then those copies are Citus'
-- shell tables there, and stay).  A copy with rows stops the script: rows
-- written to a worker's copy are not in the tables the coordinator sees.
--
-- A worker is a node whose Citus metadata gives it a group other than the
-- coordinator's 0 (pg_dist_local_group).  Citus sets it before it creates
-- anything on a node it activates (citus_add_node), and it is set on every
-- node the coordinator's CREATE EXTENSION reaches; the coordinator, and a
-- node in no cluster, have group 0 and keep the tables.  Without Citus this
-- does nothing.  Returns what it dropped.
CREATE FUNCTION saas._drop_tables_on_citus_worker() RETURNS text
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $fn$
DECLARE
    local_group integer;
    copies record;
    shells boolean;
    tbl regclass;
    has_rows boolean;
BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_extension AS e WHERE e.extname = 'citus') THEN
        RETURN NULL;
    END IF;
    EXECUTE 'SELECT g.groupid FROM pg_catalog.pg_dist_local_group AS g' INTO local_group;
    IF local_group IS NULL OR local_group = 0 THEN
        RETURN NULL;
    END IF;
    -- The extension's tables, views and types that are still its members:
    -- the install script's own, right after it made them, or those of an
    -- install made before 0.5.0 (once handed over, none are members and
    -- this finds nothing).  No temporary table: Citus runs this inside its
    -- distributed transaction, which cannot PREPARE after using one.
    WITH members AS (
        SELECT CASE WHEN t.oid IS NOT NULL THEN 'TYPE' WHEN c.relkind = 'v' THEN 'VIEW' ELSE 'TABLE' END AS kind,
               c.oid::pg_catalog.regclass AS relid, pg_catalog.format('saas.%I', COALESCE(c.relname, t.typname)) AS name
          FROM pg_catalog.pg_depend AS d
          LEFT JOIN pg_catalog.pg_class AS c
            ON d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass AND c.oid = d.objid
          LEFT JOIN pg_catalog.pg_type AS t
            ON d.classid = 'pg_catalog.pg_type'::pg_catalog.regclass AND t.oid = d.objid
         WHERE d.refclassid = 'pg_catalog.pg_extension'::pg_catalog.regclass AND d.deptype = 'e'
           AND d.refobjid = (SELECT e.oid FROM pg_catalog.pg_extension AS e WHERE e.extname = 'saas_schema')
           AND ((c.relkind IN ('r', 'p') AND NOT c.relispartition) OR c.relkind = 'v' OR t.typtype IN ('e', 'c', 'd'))
           AND COALESCE(c.relnamespace, t.typnamespace) = 'saas'::pg_catalog.regnamespace
           AND COALESCE(c.relname, t.typname) !~ '^_'
    )
    SELECT pg_catalog.array_agg(m.relid ORDER BY m.name) FILTER (WHERE m.kind = 'TABLE') AS tables,
           pg_catalog.string_agg(m.name, ', ' ORDER BY m.name) FILTER (WHERE m.kind = 'TABLE') AS table_names,
           pg_catalog.string_agg(m.name, ', ' ORDER BY m.name) FILTER (WHERE m.kind = 'VIEW') AS view_names,
           pg_catalog.string_agg(m.name, ', ' ORDER BY m.name) FILTER (WHERE m.kind = 'TYPE') AS type_names
      INTO copies FROM members AS m;
    IF copies.tables IS NOT NULL THEN
        -- Distributed already (under 0.4.0, or before a downgrade to it):
        -- the copies are Citus' shell tables.
        EXECUTE 'SELECT EXISTS (SELECT FROM pg_catalog.pg_dist_partition AS p WHERE p.logicalrelid = ANY ($1))'
           INTO shells USING copies.tables;
        IF shells THEN
            RETURN NULL;
        END IF;
        FOREACH tbl IN ARRAY copies.tables LOOP
            EXECUTE pg_catalog.format('SELECT EXISTS (SELECT FROM %s)', tbl) INTO has_rows;
            IF has_rows THEN
                RAISE EXCEPTION 'saas_schema: % on this Citus worker (group %) is an ordinary table with rows', tbl, local_group
                    USING ERRCODE = 'object_not_in_prerequisite_state',
                          DETAIL = 'Before 0.5.0, CREATE EXTENSION made copies of the tables on the workers; the tenant data is in the coordinator''s tables, and Citus makes the workers'' tables when they are distributed.',
                          HINT = 'Rows written to a worker''s copy directly are not part of the distributed tables: move them to the coordinator, empty the copy, and try again.';
            END IF;
        END LOOP;
    END IF;
    -- Views, then the tables in one statement, then the types; no CASCADE.
    IF copies.view_names IS NOT NULL THEN
        EXECUTE 'DROP VIEW ' OPERATOR(pg_catalog.||) copies.view_names;
    END IF;
    IF copies.table_names IS NOT NULL THEN
        EXECUTE 'DROP TABLE ' OPERATOR(pg_catalog.||) copies.table_names;
    END IF;
    IF copies.type_names IS NOT NULL THEN
        EXECUTE 'DROP TYPE ' OPERATOR(pg_catalog.||) copies.type_names;
    END IF;
    RETURN pg_catalog.concat_ws(', ', copies.view_names, copies.table_names, copies.type_names);
END
$fn$;
COMMENT ON FUNCTION saas._drop_tables_on_citus_worker() IS
    'Internal, for the install and update scripts: on a Citus worker, drops the copies of the tables, views and types CREATE EXTENSION made (Citus creates the workers'' tables).';
REVOKE EXECUTE ON FUNCTION saas._drop_tables_on_citus_worker() FROM PUBLIC;

SELECT saas._drop_tables_on_citus_worker();

-- Tables distributed before 0.5.0 were extension members, and Citus left
-- them out of its distributed objects (pg_dist_object): every worker had
-- them from its own CREATE EXTENSION.  Once handed over, a worker added
-- later gets them only from there (its CREATE EXTENSION no longer makes
-- them), so the update from 0.4.0 records them, with the types they use and
-- the views on them, as Citus does when it distributes a table that no
-- extension owns (the same INSERT, on every node the update runs on).
-- Without Citus, or before saas.distribute(), it does nothing.  Returns how
-- many objects it recorded.
CREATE FUNCTION saas._register_citus_tables() RETURNS integer
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $fn$
DECLARE
    n integer;
BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_extension AS e WHERE e.extname = 'citus') THEN
        RETURN 0;
    END IF;
    EXECUTE $sql$
        WITH citus_tables AS (
            SELECT p.logicalrelid AS relid
              FROM pg_catalog.pg_dist_partition AS p
              JOIN pg_catalog.pg_class AS c ON c.oid = p.logicalrelid
             WHERE c.relnamespace = 'saas'::pg_catalog.regnamespace
        ), objects AS (
            SELECT 'pg_catalog.pg_type'::pg_catalog.regclass AS classid, t.oid AS objid
              FROM pg_catalog.pg_type AS t
             WHERE t.typnamespace = 'saas'::pg_catalog.regnamespace AND t.typtype IN ('e', 'c', 'd')
               AND t.typrelid = 0
               AND EXISTS (SELECT FROM pg_catalog.pg_attribute AS a JOIN citus_tables AS ct ON ct.relid = a.attrelid
                            WHERE a.atttypid = t.oid AND NOT a.attisdropped)
            UNION ALL
            SELECT 'pg_catalog.pg_class'::pg_catalog.regclass, ct.relid FROM citus_tables AS ct
            UNION ALL
            SELECT DISTINCT 'pg_catalog.pg_class'::pg_catalog.regclass, r.ev_class
              FROM pg_catalog.pg_rewrite AS r
              JOIN pg_catalog.pg_class AS v ON v.oid = r.ev_class
              JOIN pg_catalog.pg_depend AS d
                ON d.classid = 'pg_catalog.pg_rewrite'::pg_catalog.regclass AND d.objid = r.oid
               AND d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass
              JOIN citus_tables AS ct ON ct.relid = d.refobjid
             WHERE v.relkind = 'v' AND v.relnamespace = 'saas'::pg_catalog.regnamespace
        )
        INSERT INTO pg_catalog.pg_dist_object (classid, objid, objsubid)
        SELECT o.classid, o.objid, 0 FROM objects AS o
        ON CONFLICT DO NOTHING
    $sql$;
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END
$fn$;
COMMENT ON FUNCTION saas._register_citus_tables() IS
    'Internal, for the update from 0.4.0: records the distributed saas tables, their types and views as Citus distributed objects, so that workers added later get them.';
REVOKE EXECUTE ON FUNCTION saas._register_citus_tables() FROM PUBLIC;
