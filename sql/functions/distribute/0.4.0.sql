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
-- are remembered (pg_get_triggerdef), dropped, and re-created on the shards
-- once the tables are distributed.  CREATE EXTENSION on a coordinator also
-- runs the extension script on every worker, so each worker already has the
-- extension's tables with their triggers, foreign keys and policies; Citus
-- uses those copies as the workers' shell tables (it skips creating shell
-- tables, foreign keys and partitions of extension-owned tables), so the
-- triggers are re-created with citus.enable_metadata_sync off: on the shards
-- only, not a second time on the workers' copies ("already exists").
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
    old_sync text;
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
    --    that local tables reference a reference table would turn those
    --    tables into Citus local tables, which collide with the workers'
    --    copies.  They are added again once every table is distributed.
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

    -- 6. The foreign keys to organizations and the triggers again, on the
    --    shards only (the workers' copies of the tables still have theirs,
    --    see above).
    old_unsafe := pg_catalog.current_setting('citus.enable_unsafe_triggers');
    old_sync := pg_catalog.current_setting('citus.enable_metadata_sync');
    PERFORM pg_catalog.set_config('citus.enable_unsafe_triggers', 'on', true);
    PERFORM pg_catalog.set_config('citus.enable_metadata_sync', 'off', true);
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
    PERFORM pg_catalog.set_config('citus.enable_metadata_sync', old_sync, true);
    PERFORM pg_catalog.set_config('citus.enable_unsafe_triggers', old_unsafe, true);
    PERFORM pg_catalog.set_config('citus.multi_shard_modify_mode', old_mode, true);
    RETURN NEXT pg_catalog.format('%s triggers re-created on the shards', n);
    IF pg_catalog.cardinality(skipped) > 0 THEN
        RETURN NEXT pg_catalog.format('not re-created on the reference table: %s',
                                      pg_catalog.array_to_string(skipped, ', '));
    END IF;
END
$fn$;
COMMENT ON FUNCTION saas.distribute(integer) IS
    'Citus coordinator only: makes organizations a reference table and distributes every tenant table (audit_logs included) by organization_id, colocated; re-creates the triggers on the shards. See README "Scaling out with Citus".';
REVOKE EXECUTE ON FUNCTION saas.distribute(integer) FROM PUBLIC;
