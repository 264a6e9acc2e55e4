-- Monthly partitions (UTC months), named audit_logs_pYYYYMM, with the key and
-- indexes every partition has (see saas.audit_logs_default).  Creates the
-- partitions from months_back months ago to months_ahead months ahead that do
-- not exist yet, and returns their names.  Rows of those months already in
-- the default partition are moved into the new partition (ATTACH would
-- refuse otherwise).  Run by the owner of saas.audit_logs (e.g. from cron).
CREATE FUNCTION saas.audit_create_partitions(months_ahead integer DEFAULT 3, months_back integer DEFAULT 0)
    RETURNS SETOF text
    LANGUAGE plpgsql
    SET search_path = pg_catalog, saas, pg_temp
AS $$
DECLARE
    this_month timestamp := pg_catalog.date_trunc('month', pg_catalog.now() AT TIME ZONE 'UTC');
    month_start timestamp;
    lower_bound timestamptz;
    upper_bound timestamptz;
    part text;
    columns constant text := 'id, organization_id, table_name, record_id, action, user_id, old_values, '
                             'new_values, changed_columns, transaction_id, created_at, metadata';
    distributed boolean := false;
    saved text[];
BEGIN
    IF months_ahead IS NULL OR months_ahead NOT BETWEEN 0 AND 120
       OR months_back IS NULL OR months_back NOT BETWEEN 0 AND 1200 THEN
        RAISE EXCEPTION 'invalid partition range: months_ahead % and months_back %',
                        COALESCE(months_ahead::text, 'NULL'), COALESCE(months_back::text, 'NULL')
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'months_ahead must be between 0 and 120, months_back between 0 and 1200.';
    END IF;
    -- On Citus (saas.distribute()), audit_logs is distributed: the guard runs
    -- on the shards, so the maintenance flag must reach the workers (SET
    -- LOCAL with citus.propagate_set_commands = 'local'), and the new
    -- partition, distributed by ATTACH, needs citus.enable_unsafe_triggers
    -- for its TRUNCATE guard.
    IF pg_catalog.to_regclass('pg_catalog.pg_dist_partition') IS NOT NULL THEN
        EXECUTE 'SELECT EXISTS (SELECT FROM pg_catalog.pg_dist_partition AS p WHERE p.logicalrelid = $1)'
            INTO distributed USING 'saas.audit_logs'::pg_catalog.regclass;
    END IF;
    IF distributed THEN
        saved := ARRAY[pg_catalog.current_setting('citus.propagate_set_commands'),
                       pg_catalog.current_setting('citus.enable_unsafe_triggers'),
                       pg_catalog.current_setting('citus.multi_shard_modify_mode')];
        PERFORM pg_catalog.set_config('citus.propagate_set_commands', 'local', true);
        PERFORM pg_catalog.set_config('citus.enable_unsafe_triggers', 'on', true);
        PERFORM pg_catalog.set_config('citus.multi_shard_modify_mode', 'sequential', true);
    END IF;
    -- No audit row may land in the default partition while rows move out of it.
    LOCK TABLE saas.audit_logs_default IN ACCESS EXCLUSIVE MODE;
    FOR i IN -months_back .. months_ahead LOOP
        month_start := this_month OPERATOR(pg_catalog.+) pg_catalog.make_interval(months => i);
        part := 'audit_logs_p' OPERATOR(pg_catalog.||) pg_catalog.to_char(month_start, 'YYYYMM');
        CONTINUE WHEN EXISTS (SELECT FROM pg_catalog.pg_class c
                               WHERE c.relnamespace = 'saas'::pg_catalog.regnamespace AND c.relname = part);
        lower_bound := month_start AT TIME ZONE 'UTC';
        upper_bound := (month_start OPERATOR(pg_catalog.+) interval '1 month') AT TIME ZONE 'UTC';
        EXECUTE pg_catalog.format('CREATE TABLE saas.%I (LIKE saas.audit_logs INCLUDING DEFAULTS '
                                  'INCLUDING CONSTRAINTS INCLUDING STORAGE INCLUDING COMPRESSION)', part);
        -- Citus propagates SET LOCAL only inside a transaction block.
        IF distributed AND EXISTS (SELECT 1 FROM saas.audit_logs_default AS d
                                      WHERE d.created_at >= lower_bound AND d.created_at < upper_bound) THEN
            -- (Not in an EXCEPTION block: inside its subtransaction every
            -- call counts as a transaction block.)
            PERFORM saas._require_transaction_block('saas.audit_create_partitions');
        END IF;
        SET LOCAL saas_audit.partition_maintenance = on;
        EXECUTE pg_catalog.format('WITH moved AS (DELETE FROM saas.audit_logs_default '
                                  'WHERE created_at >= $1 AND created_at < $2 RETURNING %s) '
                                  'INSERT INTO saas.%I (%s) SELECT %s FROM moved',
                                  columns, part, columns, columns)
            USING lower_bound, upper_bound;
        SET LOCAL saas_audit.partition_maintenance = off;
        -- Same key and indexes as the default partition (see above).
        EXECUTE pg_catalog.format('ALTER TABLE saas.%I ADD CONSTRAINT %I PRIMARY KEY (organization_id, created_at, id)',
                                  part, 'pk_' OPERATOR(pg_catalog.||) part);
        EXECUTE pg_catalog.format('CREATE INDEX %I ON saas.%I (record_id, id) WHERE record_id IS NOT NULL',
                                  'idx_' OPERATOR(pg_catalog.||) part OPERATOR(pg_catalog.||) '_record', part);
        EXECUTE pg_catalog.format('CREATE INDEX %I ON saas.%I (organization_id, user_id, created_at) '
                                  'WHERE user_id IS NOT NULL',
                                  'idx_' OPERATOR(pg_catalog.||) part OPERATOR(pg_catalog.||) '_user', part);
        EXECUTE pg_catalog.format('ALTER TABLE saas.audit_logs ATTACH PARTITION saas.%I '
                                  'FOR VALUES FROM (%L) TO (%L)', part, lower_bound, upper_bound);
        IF distributed THEN
            -- ATTACH distributed the partition and copied its rows into the
            -- shards: drop the coordinator's local copy of them.
            EXECUTE 'SELECT pg_catalog.truncate_local_data_after_distributing_table($1)'
                USING pg_catalog.format('saas.%I', part)::pg_catalog.regclass;
        END IF;
        EXECUTE pg_catalog.format('CREATE TRIGGER audit_logs_no_truncate BEFORE TRUNCATE ON saas.%I '
                                  'FOR EACH STATEMENT EXECUTE FUNCTION saas.audit_logs_guard()', part);
        RETURN NEXT part;
    END LOOP;
    IF distributed THEN
        PERFORM pg_catalog.set_config('citus.propagate_set_commands', saved[1], true);
        PERFORM pg_catalog.set_config('citus.enable_unsafe_triggers', saved[2], true);
        PERFORM pg_catalog.set_config('citus.multi_shard_modify_mode', saved[3], true);
    END IF;
END;
$$;
COMMENT ON FUNCTION saas.audit_create_partitions(integer, integer) IS 'Creates missing monthly partitions of saas.audit_logs (UTC months, audit_logs_pYYYYMM), moving rows of those months out of the default partition. Returns the partitions created.';
