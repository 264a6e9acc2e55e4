-- Audit: the append-only, partitioned audit log, the C++ trigger that writes
-- only the changed columns, and the history functions built on it.
--
-- The audit log.  One row per audited change, written by saas.audit_trigger()
-- (C++).  Design notes:
--  * No foreign keys: audit history must outlive the organizations, users and
--    records it describes.
--  * created_at is the time of the change (clock_timestamp(), not the
--    transaction start), so ordering by created_at is change order even when
--    an older transaction changes a row after a younger one did.
--  * Partitioned by month on created_at; the DEFAULT partition guarantees
--    that no audit row is ever refused.  saas.audit_create_partitions() adds
--    monthly partitions, saas.audit_drop_partitions() is the retention.
--  * Append-only: the trigger writes as the table owner, so the application
--    role needs no privilege here; a guard trigger refuses UPDATE, DELETE and
--    TRUNCATE.
CREATE TABLE saas.audit_logs (
    id               uuid         NOT NULL DEFAULT saas.uuid_generate_v7(),
    organization_id  uuid         NOT NULL,
    table_name       text         NOT NULL,
    record_id        uuid,
    action           text         NOT NULL,
    user_id          uuid,
    old_values       jsonb,
    new_values       jsonb,
    changed_columns  text[],
    transaction_id   bigint       NOT NULL,
    created_at       timestamptz  NOT NULL DEFAULT pg_catalog.clock_timestamp(),
    metadata         jsonb        NOT NULL DEFAULT '{}',
    -- One action a line (leading commas): a new action is a one-line change.
    CONSTRAINT chk_audit_logs_action CHECK (action IN (
          'INSERT'
        , 'UPDATE'
        , 'DELETE'
        , 'SOFT_DELETE'
        , 'RESTORE'
        , 'REDACT'      -- saas.erase_user
        , 'EXPORT'      -- saas.export_tenant
        , 'IMPORT'      -- saas.import_tenant
        , 'TRUNCATE'    -- one row per tenant whose rows a TRUNCATE removed
    )),
    CONSTRAINT chk_audit_logs_metadata_object CHECK (pg_catalog.jsonb_typeof(metadata) = 'object'),
    CONSTRAINT chk_audit_logs_values_present CHECK (old_values IS NOT NULL OR new_values IS NOT NULL)
) PARTITION BY RANGE (created_at);

-- Keys and indexes are per partition, not on the parent (a choice from when
-- the parent was an extension member that pg_dump did not dump; it is kept
-- so that every released version has the same partitions).  Each partition's
-- primary key includes the partition key created_at, so per-partition keys
-- are exactly as unique as a key on the parent.  saas.audit_create_partitions()
-- creates the same key and indexes on every partition:
--   pk_<partition>          (organization_id, created_at, id): a tenant's recent activity
--   idx_<partition>_record  (record_id, id) WHERE record_id IS NOT NULL: one record's
--                           history (record ids are UUIDs, so record_id first is
--                           selective with or without a tenant filter; table_name is
--                           checked on the row, which keeps the key fixed-width)
--   idx_<partition>_user    (organization_id, user_id, created_at) WHERE user_id IS NOT
--                           NULL: one actor's changes (read backwards for newest
--                           first; changes without an actor, e.g. batch jobs, are not
--                           in it)
-- Every audit row is inserted into these indexes, so each one is paid by every
-- audited change: see bench/README.md for what they cost.
CREATE TABLE saas.audit_logs_default PARTITION OF saas.audit_logs (
    CONSTRAINT pk_audit_logs_default PRIMARY KEY (organization_id, created_at, id)
) DEFAULT;
CREATE INDEX idx_audit_logs_default_record ON saas.audit_logs_default (record_id, id)
    WHERE record_id IS NOT NULL;
CREATE INDEX idx_audit_logs_default_user ON saas.audit_logs_default (organization_id, user_id, created_at)
    WHERE user_id IS NOT NULL;

COMMENT ON TABLE saas.audit_logs IS 'Append-only audit log of changes to tenant tables, written by saas.audit_trigger(). Partitioned by month on created_at.';
COMMENT ON COLUMN saas.audit_logs.id IS 'UUIDv7: ORDER BY id is change order.';
COMMENT ON COLUMN saas.audit_logs.table_name IS 'Logical schema.table of the audited table (the parent of a partition).';
COMMENT ON COLUMN saas.audit_logs.record_id IS 'The row''s uuid "id"; NULL for tables without one (junction tables: the key columns are in old_values/new_values).';
COMMENT ON COLUMN saas.audit_logs.action IS 'INSERT, UPDATE, DELETE; an UPDATE setting deleted_at from NULL is SOFT_DELETE, the reverse RESTORE. Tenant lifecycle: REDACT (saas.erase_user), EXPORT, IMPORT.';
COMMENT ON COLUMN saas.audit_logs.user_id IS 'The actor: app.current_user_id when it names an active user of the current tenant (what saas.set_actor checks), else NULL.';
COMMENT ON COLUMN saas.audit_logs.old_values IS 'DELETE: the whole row; UPDATE: the changed columns before; values as to_jsonb() gives them.';
COMMENT ON COLUMN saas.audit_logs.new_values IS 'INSERT: the whole row; UPDATE: the changed columns after.';
COMMENT ON COLUMN saas.audit_logs.changed_columns IS 'UPDATE family: changed columns in column order (excluded columns by name only, never their values); NULL for INSERT and DELETE.';
COMMENT ON COLUMN saas.audit_logs.transaction_id IS 'Top-level transaction id (txid_current() semantics).';
COMMENT ON COLUMN saas.audit_logs.created_at IS 'When the change was made (clock_timestamp()).';
COMMENT ON COLUMN saas.audit_logs.metadata IS 'app.request_metadata (a JSON object) when there is an actor (see user_id), else {}.';

-- Refuses UPDATE, DELETE and TRUNCATE.  The only exception is the partition
-- maintenance of saas.audit_create_partitions(), which moves rows out of the
-- default partition: it sets a transaction-local flag, honoured only for the
-- owner of saas.audit_logs (an application role setting the flag gains
-- nothing).
CREATE FUNCTION saas.audit_logs_guard() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = pg_catalog, saas, pg_temp
AS $$
BEGIN
    IF pg_catalog.current_setting('saas_audit.partition_maintenance', true) = 'on'
       AND pg_catalog.pg_has_role(current_user,
                                  (SELECT c.relowner FROM pg_catalog.pg_class c
                                    WHERE c.oid = 'saas.audit_logs'::pg_catalog.regclass),
                                  'USAGE') THEN
        IF TG_OP = 'DELETE' THEN
            RETURN OLD;
        END IF;
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'saas.audit_logs is append-only: % is not allowed', TG_OP
        USING ERRCODE = 'insufficient_privilege',
              DETAIL = pg_catalog.format('%s on %I.%I was refused.', TG_OP, TG_TABLE_SCHEMA, TG_TABLE_NAME),
              HINT = 'Old audit rows are removed only by saas.audit_drop_partitions().';
END;
$$;
COMMENT ON FUNCTION saas.audit_logs_guard() IS 'Guard trigger keeping saas.audit_logs append-only.';

CREATE TRIGGER audit_logs_append_only BEFORE UPDATE OR DELETE ON saas.audit_logs
    FOR EACH ROW EXECUTE FUNCTION saas.audit_logs_guard();
-- TRUNCATE triggers are not cloned to partitions: each partition gets one.
CREATE TRIGGER audit_logs_no_truncate BEFORE TRUNCATE ON saas.audit_logs
    FOR EACH STATEMENT EXECUTE FUNCTION saas.audit_logs_guard();
CREATE TRIGGER audit_logs_no_truncate BEFORE TRUNCATE ON saas.audit_logs_default
    FOR EACH STATEMENT EXECUTE FUNCTION saas.audit_logs_guard();

-- Row-level security of a partition of saas.audit_logs, made to match the
-- parent's: enabled and forced when the parent's is, and every policy of the
-- parent that the partition lacks (by name), with the same command, roles and
-- expressions.  A query naming a partition is checked against the
-- partition's own policies only, never the parent's.  Used by
-- audit_create_partitions() for each partition it creates, and by the update
-- to 0.5.0 for the partitions made before.  (It needs no privilege of its
-- own: ALTER TABLE and CREATE POLICY are refused to all but the partition's
-- owner.)
CREATE FUNCTION saas._audit_partition_security(part regclass) RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, saas, pg_temp
AS $$
DECLARE
    parent constant regclass := 'saas.audit_logs'::pg_catalog.regclass;
    parent_rls record;
    pol record;
BEGIN
    IF part IS NULL OR NOT EXISTS (SELECT FROM pg_catalog.pg_class AS c
                                    WHERE c.oid = part AND c.relkind IN ('r', 'p')) THEN
        RAISE EXCEPTION 'saas._audit_partition_security: % is not a table', COALESCE(part::text, 'NULL')
            USING ERRCODE = 'wrong_object_type';
    END IF;
    SELECT c.relrowsecurity, c.relforcerowsecurity INTO parent_rls FROM pg_catalog.pg_class AS c WHERE c.oid = parent;
    IF parent_rls.relrowsecurity THEN
        EXECUTE pg_catalog.format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', part);
    END IF;
    IF parent_rls.relforcerowsecurity THEN
        EXECUTE pg_catalog.format('ALTER TABLE %s FORCE ROW LEVEL SECURITY', part);
    END IF;
    FOR pol IN
        SELECT p.polname,
               CASE WHEN p.polpermissive THEN 'PERMISSIVE' ELSE 'RESTRICTIVE' END AS kind,
               CASE p.polcmd WHEN 'r' THEN 'SELECT' WHEN 'a' THEN 'INSERT' WHEN 'w' THEN 'UPDATE'
                             WHEN 'd' THEN 'DELETE' ELSE 'ALL' END AS cmd,
               (SELECT pg_catalog.string_agg(CASE WHEN r.oid = 0 THEN 'PUBLIC'
                                                  ELSE pg_catalog.quote_ident(a.rolname) END, ', ' ORDER BY r.n)
                  FROM pg_catalog.unnest(p.polroles) WITH ORDINALITY AS r(oid, n)
                  LEFT JOIN pg_catalog.pg_roles AS a ON a.oid = r.oid) AS roles,
               pg_catalog.pg_get_expr(p.polqual, p.polrelid) AS using_expr,
               pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid) AS check_expr
          FROM pg_catalog.pg_policy AS p
         WHERE p.polrelid = parent
           AND NOT EXISTS (SELECT FROM pg_catalog.pg_policy AS q WHERE q.polrelid = part AND q.polname = p.polname)
         ORDER BY p.polname
    LOOP
        EXECUTE pg_catalog.format('CREATE POLICY %I ON %s AS %s FOR %s TO %s%s%s', pol.polname, part, pol.kind,
                                  pol.cmd, pol.roles, ' USING (' || pol.using_expr || ')',
                                  ' WITH CHECK (' || pol.check_expr || ')');
    END LOOP;
END;
$$;
COMMENT ON FUNCTION saas._audit_partition_security(regclass) IS 'Internal: gives a partition of saas.audit_logs the parent''s row-level security (enabled, forced, policies).';

-- Monthly partitions (UTC months), named audit_logs_pYYYYMM, with the key and
-- indexes every partition has (see saas.audit_logs_default).  Creates the
-- partitions from months_back months ago to months_ahead months ahead that do
-- not exist yet, and returns their names.  Rows of those months already in
-- the default partition are moved into the new partition (ATTACH would
-- refuse otherwise).  Each new partition gets the row-level security of
-- saas.audit_logs (enabled, forced, the same policies): a role granted
-- SELECT on a partition would otherwise read it past the parent's policies.
-- Run by the owner of saas.audit_logs (e.g. from cron).  The partition bounds
-- go through text (ATTACH PARTITION ... FOR VALUES), so DateStyle, TimeZone
-- and IntervalStyle are pinned: the session's settings change nothing.
CREATE FUNCTION saas.audit_create_partitions(months_ahead integer DEFAULT 3, months_back integer DEFAULT 0)
    RETURNS SETOF text
    LANGUAGE plpgsql
    SET search_path = pg_catalog, saas, pg_temp
    SET DateStyle = 'ISO, YMD'
    SET TimeZone = 'UTC'
    SET IntervalStyle = 'postgres'
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
    unforce boolean;
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
        -- A table owner who is not a superuser (a database owner who
        -- installed the trusted extension) is subject to the row-level
        -- security forced on the default partition and would move no row:
        -- it is lifted for the move, under the ACCESS EXCLUSIVE lock above,
        -- so no other session ever reads the partition without it.
        unforce := (SELECT c.relforcerowsecurity FROM pg_catalog.pg_class AS c
                     WHERE c.oid = 'saas.audit_logs_default'::pg_catalog.regclass)
                   AND NOT (SELECT r.rolsuper OR r.rolbypassrls FROM pg_catalog.pg_roles AS r
                             WHERE r.rolname = CURRENT_USER);
        IF unforce THEN
            ALTER TABLE saas.audit_logs_default NO FORCE ROW LEVEL SECURITY;
        END IF;
        SET LOCAL saas_audit.partition_maintenance = on;
        EXECUTE pg_catalog.format('WITH moved AS (DELETE FROM saas.audit_logs_default '
                                  'WHERE created_at >= $1 AND created_at < $2 RETURNING %s) '
                                  'INSERT INTO saas.%I (%s) SELECT %s FROM moved',
                                  columns, part, columns, columns)
            USING lower_bound, upper_bound;
        SET LOCAL saas_audit.partition_maintenance = off;
        IF unforce THEN
            ALTER TABLE saas.audit_logs_default FORCE ROW LEVEL SECURITY;
        END IF;
        -- Same key and indexes as the default partition (see above).
        EXECUTE pg_catalog.format('ALTER TABLE saas.%I ADD CONSTRAINT %I PRIMARY KEY (organization_id, created_at, id)',
                                  part, 'pk_' OPERATOR(pg_catalog.||) part);
        EXECUTE pg_catalog.format('CREATE INDEX %I ON saas.%I (record_id, id) WHERE record_id IS NOT NULL',
                                  'idx_' OPERATOR(pg_catalog.||) part OPERATOR(pg_catalog.||) '_record', part);
        EXECUTE pg_catalog.format('CREATE INDEX %I ON saas.%I (organization_id, user_id, created_at) '
                                  'WHERE user_id IS NOT NULL',
                                  'idx_' OPERATOR(pg_catalog.||) part OPERATOR(pg_catalog.||) '_user', part);
        -- Row-level security as on saas.audit_logs (before ATTACH, like the
        -- indexes: on Citus, ATTACH distributes the partition as it is).
        PERFORM saas._audit_partition_security(pg_catalog.format('saas.%I', part)::pg_catalog.regclass);
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

-- Retention: drops the monthly partitions that lie entirely before
-- now() - older_than, and returns their names.  The only way audit rows are
-- removed.  Rows in the default partition are never dropped.  The cut-off
-- must not be after now() by calendar arithmetic (an interval such as
-- '-120 months +3601 days' compares as positive, months counting 30 days,
-- yet reaches into the future), or the current month would be dropped.
-- The bounds are read back as text from the catalog: DateStyle, TimeZone and
-- IntervalStyle are pinned, so the session's settings change nothing.
CREATE FUNCTION saas.audit_drop_partitions(older_than interval)
    RETURNS SETOF text
    LANGUAGE plpgsql
    SET search_path = pg_catalog, saas, pg_temp
    SET DateStyle = 'ISO, YMD'
    SET TimeZone = 'UTC'
    SET IntervalStyle = 'postgres'
AS $$
DECLARE
    cutoff timestamptz;
    part record;
    upper_text text;
BEGIN
    IF older_than IS NULL THEN
        RAISE EXCEPTION 'older_than must be a non-negative interval, not NULL'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Partitions entirely older than now() - older_than are dropped, e.g. older_than => ''12 months''.';
    END IF;
    cutoff := pg_catalog.now() OPERATOR(pg_catalog.-) older_than;
    IF cutoff OPERATOR(pg_catalog.>) pg_catalog.now() THEN
        RAISE EXCEPTION 'older_than must be a non-negative interval, not %', older_than
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'By calendar arithmetic now() - older_than lies after now(): the current month''s partition would be dropped.',
                  HINT = 'Partitions entirely older than now() - older_than are dropped, e.g. older_than => ''12 months''.';
    END IF;
    FOR part IN
        SELECT c.relname, pg_catalog.pg_get_expr(c.relpartbound, c.oid) AS bound
          FROM pg_catalog.pg_inherits i JOIN pg_catalog.pg_class c ON c.oid = i.inhrelid
         WHERE i.inhparent = 'saas.audit_logs'::pg_catalog.regclass
         ORDER BY c.relname
    LOOP
        upper_text := (pg_catalog.regexp_match(part.bound, $re$ TO \('([^']+)'\)$re$))[1];
        CONTINUE WHEN upper_text IS NULL;  -- the default partition, or an unbounded one
        IF upper_text::timestamptz <= cutoff THEN
            EXECUTE pg_catalog.format('DROP TABLE saas.%I', part.relname);
            RETURN NEXT part.relname;
        END IF;
    END LOOP;
END;
$$;
COMMENT ON FUNCTION saas.audit_drop_partitions(interval) IS 'Retention: drops partitions of saas.audit_logs entirely older than now() - older_than; returns their names.';

-- The audit trigger (C++).  FOR EACH ROW, or FOR EACH STATEMENT with
-- transition tables.  Arguments: logical table name, tenant column, excluded
-- columns.  Install it with saas.enable_audit().  No SET clause: it would
-- cost a GUC save/restore per row, and the C++ code does not depend on
-- search_path.
--
-- Creating a trigger that runs it is a privilege: the trigger writes
-- saas.audit_logs as its owner, so every row it writes is trusted as a
-- record of a tenant's change.  PostgreSQL checks EXECUTE on a trigger
-- function when the trigger is created (not when it fires), so with EXECUTE
-- revoked from PUBLIC only superusers, the extension's owner and the roles a
-- DBA grants it to can attach it, and the triggers in place fire for
-- everyone.  PostgreSQL checks it as well when it clones the trigger to a
-- partition created or attached later: the owner of an audited partitioned
-- table needs the grant to add partitions (or the DBA adds them).  See
-- docs/security.md.
CREATE FUNCTION saas.audit_trigger() RETURNS trigger
    LANGUAGE c
    AS 'MODULE_PATHNAME', 'saas_audit_trigger';
COMMENT ON FUNCTION saas.audit_trigger() IS 'Audit trigger: writes one saas.audit_logs row per changed row (C++). Install with saas.enable_audit().';
REVOKE EXECUTE ON FUNCTION saas.audit_trigger() FROM PUBLIC;

-- The logical name audit rows carry for a table: schema.table.
CREATE FUNCTION saas.audit_table_name(tbl regclass) RETURNS text
    LANGUAGE sql STABLE STRICT
    SET search_path = pg_catalog, saas, pg_temp
AS $$
    SELECT n.nspname OPERATOR(pg_catalog.||) '.' OPERATOR(pg_catalog.||) c.relname
      FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
     WHERE c.oid = tbl
$$;
COMMENT ON FUNCTION saas.audit_table_name(regclass) IS 'The table_name under which saas.audit_logs records changes of a table.';

-- TRUNCATE of a table audited with on_truncate => 'refuse'.  Audit off
-- (saas.audit_enabled, superuser maintenance) lets it through, as it lets
-- every change through unrecorded.
CREATE FUNCTION saas.audit_refuse_truncate() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF pg_catalog.current_setting('saas.audit_enabled', true) = 'off' THEN
        RETURN NULL;
    END IF;
    RAISE EXCEPTION 'TRUNCATE of audited table %.% is refused', TG_TABLE_SCHEMA, TG_TABLE_NAME
        USING ERRCODE = 'object_not_in_prerequisite_state',
              DETAIL = 'The table is audited with on_truncate => ''refuse'': TRUNCATE removes rows without an audit row for each.',
              HINT = pg_catalog.format('DELETE the rows (each is audited), or SELECT saas.enable_audit(%L, on_truncate => ''record'') to record TRUNCATE as one audit row per tenant.',
                                       pg_catalog.format('%I.%I', TG_TABLE_SCHEMA, TG_TABLE_NAME));
END;
$$;
COMMENT ON FUNCTION saas.audit_refuse_truncate() IS 'Trigger function refusing TRUNCATE of a table audited with on_truncate => ''refuse''.';

CREATE FUNCTION saas.disable_audit(tbl regclass) RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, saas, pg_temp
AS $$
DECLARE
    rel record;
    trg record;
BEGIN
    IF tbl IS NULL THEN
        RAISE EXCEPTION 'table must not be NULL' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    SELECT c.relkind, c.relname, n.nspname INTO rel
      FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
     WHERE c.oid = tbl;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'relation with OID % does not exist', tbl::oid USING ERRCODE = 'undefined_table';
    END IF;
    IF rel.relkind NOT IN ('r', 'p') THEN
        RAISE EXCEPTION '"%.%" is not a table', rel.nspname, rel.relname
            USING ERRCODE = 'wrong_object_type';
    END IF;
    -- Only the triggers defined on this table: clones on partitions go with them.
    FOR trg IN
        SELECT t.tgname FROM pg_catalog.pg_trigger t
         WHERE t.tgrelid = tbl AND t.tgparentid = 0
           AND t.tgname IN ('saas_audit', 'saas_audit_insert', 'saas_audit_update', 'saas_audit_delete',
                            'saas_audit_truncate', 'saas_audit_no_truncate')
    LOOP
        EXECUTE pg_catalog.format('DROP TRIGGER %I ON %I.%I', trg.tgname, rel.nspname, rel.relname);
    END LOOP;
END;
$$;
COMMENT ON FUNCTION saas.disable_audit(regclass) IS 'Removes the audit triggers of a table (idempotent).';

-- Installs (or re-installs) the audit trigger of a table.  What is not named
-- is kept: re-enabling an audited table (e.g. to switch it to statement
-- mode) keeps its excluded columns, tenant column and mode unless the call
-- names new ones; NULL means "not named".  A table audited for the first time
-- gets no excluded columns, row mode and organization_id (id for
-- saas.organizations).
--
-- Refused: callers that may not create triggers running saas.audit_trigger()
-- (EXECUTE on it is a privilege: see its comment); and a table with classic
-- inheritance children (INHERITS, not partitions) that are not audited in row
-- mode themselves, or in statement mode: a change made through the parent
-- fires the row triggers of the child that holds the row, and neither the
-- child's statement triggers nor the parent's row triggers.
CREATE FUNCTION saas.enable_audit(tbl regclass, excluded_columns text[] DEFAULT NULL, mode text DEFAULT NULL,
                                  tenant_column text DEFAULT NULL, on_truncate text DEFAULT NULL)
    RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, saas, pg_temp
AS $$
DECLARE
    rel record;
    installed record;
    installed_args text[] := '{}';
    rest bytea;
    pos integer;
    unaudited text;
    tenant_base_type oid;
    col text;
    args text;
    target text;
BEGIN
    IF tbl IS NULL THEN
        RAISE EXCEPTION 'table must not be NULL' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF mode IS NOT NULL AND mode NOT IN ('row', 'statement') THEN
        RAISE EXCEPTION 'invalid audit mode "%"', mode
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Use ''row'' (the default, best for single-row changes) or ''statement'' (bulk changes).';
    END IF;
    IF on_truncate IS NOT NULL AND on_truncate NOT IN ('record', 'refuse') THEN
        RAISE EXCEPTION 'invalid on_truncate "%"', on_truncate
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Use ''record'' (the default: TRUNCATE writes one audit row per tenant with the number of rows it removed) or ''refuse'' (TRUNCATE is refused; DELETE is audited row by row).';
    END IF;
    IF pg_catalog.array_position(excluded_columns, NULL) IS NOT NULL THEN
        RAISE EXCEPTION 'excluded_columns must not contain NULL'
            USING ERRCODE = 'null_value_not_allowed',
                  HINT = 'Leave excluded_columns out (or pass NULL) to keep the columns excluded so far.';
    END IF;
    SELECT c.relkind, c.relname, n.nspname INTO rel
      FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
     WHERE c.oid = tbl;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'relation with OID % does not exist', tbl::oid USING ERRCODE = 'undefined_table';
    END IF;
    IF rel.relkind NOT IN ('r', 'p') THEN
        RAISE EXCEPTION '"%.%" is not a table', rel.nspname, rel.relname
            USING ERRCODE = 'wrong_object_type',
                  HINT = 'Only ordinary and partitioned tables can be audited.';
    END IF;
    IF tbl = 'saas.audit_logs'::regclass
       OR EXISTS (SELECT FROM pg_catalog.pg_partition_ancestors(tbl) a
                   WHERE a.relid = 'saas.audit_logs'::regclass) THEN
        RAISE EXCEPTION 'the audit log itself cannot be audited' USING ERRCODE = 'wrong_object_type';
    END IF;
    -- CREATE TRIGGER checks this privilege too; checked first for a clear message.
    IF NOT pg_catalog.has_function_privilege('saas.audit_trigger()', 'EXECUTE') THEN
        RAISE EXCEPTION 'permission denied to audit table "%.%": role "%" may not create triggers running saas.audit_trigger()',
                        rel.nspname, rel.relname, current_user
            USING ERRCODE = 'insufficient_privilege',
                  DETAIL = 'The audit trigger writes saas.audit_logs as its owner: the rows it writes are trusted as records of tenants'' changes.',
                  HINT = 'GRANT EXECUTE ON FUNCTION saas.audit_trigger() TO <role> lets a role audit its tables; every audit row it writes is then trusted.';
    END IF;

    -- What the table's audit trigger was installed with, if it has one:
    -- arguments (logical name, tenant column, excluded columns...) and mode.
    SELECT t.tgname, t.tgnargs, t.tgargs INTO installed
      FROM pg_catalog.pg_trigger t
     WHERE t.tgrelid = tbl AND t.tgparentid = 0
       AND t.tgname IN ('saas_audit', 'saas_audit_insert', 'saas_audit_update', 'saas_audit_delete')
       AND t.tgfoid = 'saas.audit_trigger()'::pg_catalog.regprocedure
     ORDER BY t.tgname = 'saas_audit' DESC, t.tgname
     LIMIT 1;
    IF FOUND THEN
        rest := installed.tgargs;
        FOR i IN 1 .. installed.tgnargs LOOP
            pos := pg_catalog.position(rest, pg_catalog.decode('00', 'hex'));  -- POSITION(x IN rest)
            EXIT WHEN pos = 0;
            installed_args := installed_args
                              || pg_catalog.convert_from(pg_catalog.substr(rest, 1, pos - 1),
                                                         pg_catalog.getdatabaseencoding());
            rest := pg_catalog.substr(rest, pos + 1);
        END LOOP;
        mode := COALESCE(mode, CASE WHEN installed.tgname = 'saas_audit' THEN 'row' ELSE 'statement' END);
        -- A table audited before TRUNCATE was audited gets the default.
        on_truncate := COALESCE(on_truncate,
                                (SELECT CASE t.tgname WHEN 'saas_audit_no_truncate' THEN 'refuse' ELSE 'record' END
                                   FROM pg_catalog.pg_trigger t
                                  WHERE t.tgrelid = tbl AND t.tgparentid = 0
                                    AND t.tgname IN ('saas_audit_truncate', 'saas_audit_no_truncate')
                                  LIMIT 1));
        tenant_column := COALESCE(tenant_column, installed_args[2]);
        excluded_columns := COALESCE(excluded_columns, installed_args[3:]);
    END IF;
    mode := COALESCE(mode, 'row');
    on_truncate := COALESCE(on_truncate, 'record');

    -- Classic inheritance: see above.
    IF EXISTS (SELECT FROM pg_catalog.pg_inherits i JOIN pg_catalog.pg_class c ON c.oid = i.inhrelid
                WHERE i.inhparent = tbl AND NOT c.relispartition) THEN
        IF mode = 'statement' THEN
            RAISE EXCEPTION 'table "%.%" has inheritance children: statement mode cannot audit it', rel.nspname, rel.relname
                USING ERRCODE = 'feature_not_supported',
                      DETAIL = 'A change made through an inheritance parent fires the row triggers of the child holding the row, not its statement triggers.',
                      HINT = 'Audit it in row mode (mode => ''row''), after each of its inheritance children.';
        END IF;
        WITH RECURSIVE descendants AS (
            SELECT i.inhrelid AS relid FROM pg_catalog.pg_inherits i WHERE i.inhparent = tbl
            UNION
            SELECT i.inhrelid FROM pg_catalog.pg_inherits i JOIN descendants d ON i.inhparent = d.relid
        )
        SELECT pg_catalog.string_agg(pg_catalog.format('%I.%I', n.nspname, c.relname), ', '
                                     ORDER BY n.nspname, c.relname)
          INTO unaudited
          FROM descendants d
          JOIN pg_catalog.pg_class c ON c.oid = d.relid
          JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
         WHERE NOT c.relispartition
           AND NOT EXISTS (SELECT FROM pg_catalog.pg_trigger t
                            WHERE t.tgrelid = d.relid AND t.tgname = 'saas_audit'
                              AND t.tgfoid = 'saas.audit_trigger()'::pg_catalog.regprocedure);
        IF unaudited IS NOT NULL THEN
            RAISE EXCEPTION 'table "%.%" has inheritance children that are not audited in row mode: %',
                            rel.nspname, rel.relname, unaudited
                USING ERRCODE = 'object_not_in_prerequisite_state',
                      DETAIL = 'A change made through an inheritance parent fires the triggers of the child holding the row: the parent''s audit trigger would not record it.',
                      HINT = pg_catalog.format('Audit each child first (SELECT saas.enable_audit(%L)); its rows are recorded under its own name.',
                                               pg_catalog.split_part(unaudited, ', ', 1));
        END IF;
    END IF;

    -- The tenant root is its own tenant; other tables name it organization_id
    -- unless the caller says otherwise.
    IF tenant_column IS NULL THEN
        tenant_column := CASE WHEN rel.nspname = 'saas' AND rel.relname = 'organizations'
                              THEN 'id' ELSE 'organization_id' END;
    END IF;
    SELECT CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE t.oid END INTO tenant_base_type
      FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_type t ON t.oid = a.atttypid
     WHERE a.attrelid = tbl AND a.attname = tenant_column AND a.attnum > 0 AND NOT a.attisdropped;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'table "%.%" has no column "%"', rel.nspname, rel.relname, tenant_column
            USING ERRCODE = 'undefined_column',
                  DETAIL = 'Every audit row belongs to a tenant: an audited table needs an organization_id uuid column.';
    END IF;
    IF tenant_base_type <> 'pg_catalog.uuid'::pg_catalog.regtype THEN
        RAISE EXCEPTION 'column "%" of table "%.%" must be of type uuid', tenant_column, rel.nspname, rel.relname
            USING ERRCODE = 'datatype_mismatch';
    END IF;
    IF excluded_columns IS NULL THEN
        excluded_columns := '{}';
    ELSE
        -- Kept exclusions are not checked again: a column dropped since then
        -- stays excluded should it come back.
        FOREACH col IN ARRAY excluded_columns LOOP
            IF NOT EXISTS (SELECT FROM pg_catalog.pg_attribute a
                            WHERE a.attrelid = tbl AND a.attname = col AND a.attnum > 0 AND NOT a.attisdropped)
               AND col <> ALL (installed_args[3:]) THEN
                RAISE EXCEPTION 'column "%" of table "%.%" does not exist', col, rel.nspname, rel.relname
                    USING ERRCODE = 'undefined_column',
                          HINT = 'excluded_columns lists columns never written to the audit log.';
            END IF;
            IF col = tenant_column THEN
                RAISE EXCEPTION 'the tenant column "%" cannot be excluded from the audit', col
                    USING ERRCODE = 'invalid_parameter_value';
            END IF;
        END LOOP;
    END IF;

    PERFORM saas.disable_audit(tbl);

    target := pg_catalog.format('%I.%I', rel.nspname, rel.relname);
    args := pg_catalog.quote_literal(rel.nspname OPERATOR(pg_catalog.||) '.' OPERATOR(pg_catalog.||) rel.relname)
            OPERATOR(pg_catalog.||) ', ' OPERATOR(pg_catalog.||) pg_catalog.quote_literal(tenant_column);
    FOREACH col IN ARRAY excluded_columns LOOP
        args := args OPERATOR(pg_catalog.||) ', ' OPERATOR(pg_catalog.||) pg_catalog.quote_literal(col);
    END LOOP;

    IF mode = 'row' THEN
        EXECUTE pg_catalog.format('CREATE TRIGGER saas_audit AFTER INSERT OR UPDATE OR DELETE ON %s '
                                  'FOR EACH ROW EXECUTE FUNCTION saas.audit_trigger(%s)', target, args);
    ELSE
        -- A trigger with transition tables can have only one event.
        EXECUTE pg_catalog.format('CREATE TRIGGER saas_audit_insert AFTER INSERT ON %s '
                                  'REFERENCING NEW TABLE AS saas_new_rows '
                                  'FOR EACH STATEMENT EXECUTE FUNCTION saas.audit_trigger(%s)', target, args);
        EXECUTE pg_catalog.format('CREATE TRIGGER saas_audit_update AFTER UPDATE ON %s '
                                  'REFERENCING OLD TABLE AS saas_old_rows NEW TABLE AS saas_new_rows '
                                  'FOR EACH STATEMENT EXECUTE FUNCTION saas.audit_trigger(%s)', target, args);
        EXECUTE pg_catalog.format('CREATE TRIGGER saas_audit_delete AFTER DELETE ON %s '
                                  'REFERENCING OLD TABLE AS saas_old_rows '
                                  'FOR EACH STATEMENT EXECUTE FUNCTION saas.audit_trigger(%s)', target, args);
    END IF;
    -- TRUNCATE removes rows without row triggers: the same function counts
    -- them per tenant before they go, or the table refuses TRUNCATE.
    IF on_truncate = 'record' THEN
        EXECUTE pg_catalog.format('CREATE TRIGGER saas_audit_truncate BEFORE TRUNCATE ON %s '
                                  'FOR EACH STATEMENT EXECUTE FUNCTION saas.audit_trigger(%s)', target, args);
    ELSE
        EXECUTE pg_catalog.format('CREATE TRIGGER saas_audit_no_truncate BEFORE TRUNCATE ON %s '
                                  'FOR EACH STATEMENT EXECUTE FUNCTION saas.audit_refuse_truncate()', target);
    END IF;
END;
$$;
COMMENT ON FUNCTION saas.enable_audit(regclass, text[], text, text, text) IS 'Installs the audit trigger on a table (idempotent; what is not named is kept from the current trigger). mode => ''row'' (default) or ''statement'' (transition tables, for bulk changes); tenant_column defaults to organization_id (id for saas.organizations); on_truncate => ''record'' (default: one TRUNCATE audit row per tenant with the number of rows removed) or ''refuse''. Columns named password_hash are never recorded. Needs EXECUTE on saas.audit_trigger().';

-- A record's audit rows, oldest first.
-- (Its result columns are spelled out rather than SETOF saas.audit_logs: an
-- extension function must not depend on a table that is the DBA's, see
-- 95_ownership.sql.)
CREATE FUNCTION saas.record_history(tbl regclass, id uuid)
    RETURNS TABLE (id uuid, organization_id uuid, table_name text, record_id uuid, action text,
                   user_id uuid, old_values jsonb, new_values jsonb, changed_columns text[],
                   transaction_id bigint, created_at timestamptz, metadata jsonb)
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, saas, pg_temp
AS $$
    SELECT a.id, a.organization_id, a.table_name, a.record_id, a.action, a.user_id, a.old_values,
           a.new_values, a.changed_columns, a.transaction_id, a.created_at, a.metadata
      FROM saas.audit_logs a
     WHERE a.record_id OPERATOR(pg_catalog.=) record_history.id
       AND a.table_name OPERATOR(pg_catalog.=) saas.audit_table_name(record_history.tbl)
     ORDER BY a.created_at, a.id
$$;
COMMENT ON FUNCTION saas.record_history(regclass, uuid) IS 'The audit rows of one record, oldest first.';

-- A record's state at a point in time, rebuilt from the audit rows: the
-- INSERT's full row, then each UPDATE's new values; NULL when the record did
-- not exist (or was deleted) at that time.
CREATE FUNCTION saas.record_as_of(tbl regclass, id uuid, at timestamptz) RETURNS jsonb
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, saas, pg_temp
AS $$
DECLARE
    state jsonb;
    change record;
BEGIN
    IF tbl IS NULL OR id IS NULL OR at IS NULL THEN
        RAISE EXCEPTION 'arguments of saas.record_as_of must not be NULL'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    FOR change IN
        SELECT h.action, h.new_values FROM saas.record_history(tbl, id) h
         WHERE h.created_at OPERATOR(pg_catalog.<=) at
    LOOP
        IF change.action = 'INSERT' THEN
            state := change.new_values;
        ELSIF change.action = 'DELETE' THEN
            state := NULL;
        ELSE
            state := COALESCE(state, '{}'::jsonb) OPERATOR(pg_catalog.||) change.new_values;
        END IF;
    END LOOP;
    RETURN state;
END;
$$;
COMMENT ON FUNCTION saas.record_as_of(regclass, uuid, timestamptz) IS 'A record''s recorded columns as JSONB at a point in time, rebuilt from saas.audit_logs; NULL if it did not exist then.';

-- Audit every tenant table of the schema out of the box.  The tenant root
-- (organizations) uses its own id as tenant; users' password_hash is never
-- recorded; junction tables without an id get record_id NULL.
DO $$
DECLARE
    t record;
BEGIN
    FOR t IN
        SELECT c.oid::pg_catalog.regclass AS tbl, c.relname
          FROM pg_catalog.pg_class c
         WHERE c.relnamespace = 'saas'::pg_catalog.regnamespace
           AND c.relkind IN ('r', 'p') AND NOT c.relispartition
           AND c.relname NOT LIKE 'audit\_logs%'
           AND (c.relname = 'organizations'
                OR EXISTS (SELECT FROM pg_catalog.pg_attribute a
                            WHERE a.attrelid = c.oid AND a.attname = 'organization_id'
                              AND a.attnum > 0 AND NOT a.attisdropped))
         ORDER BY c.relname
    LOOP
        IF t.relname = 'users' THEN
            PERFORM saas.enable_audit(t.tbl, ARRAY['password_hash']);
        ELSE
            PERFORM saas.enable_audit(t.tbl);
        END IF;
    END LOOP;
END;
$$;
