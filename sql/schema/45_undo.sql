-- Undo: put records back from the audit log.  saas.revert_record() returns
-- one row to its state at a point in time; saas.revert_transaction() undoes
-- every audited change of one transaction, refusing when a later transaction
-- changed the same rows and columns.  Both run with the caller's rights, so
-- row-level security confines them to the caller's tenant, and their own
-- changes are audited like any other (metadata names what they revert), so
-- a revert can itself be reverted.
--
-- How: the audit rows to undo are read once into a temporary table; taken
-- newest first, consecutive rows of the same table form a segment, and each
-- segment is undone with a few set-based statements (delete what it
-- inserted, insert again what it deleted, update back what it updated): a
-- row's value before the segment is the old value of its earliest change in
-- the segment.  Undoing the segments newest first restores the state before
-- the oldest one.

-- Key columns that identify a row of tbl in audit rows: id when the table
-- has a uuid id (audit rows carry it as record_id), else its primary key.
CREATE FUNCTION saas._revert_key_columns(tbl regclass) RETURNS name[]
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, pg_temp
    AS $fn$
    SELECT CASE
        WHEN EXISTS (SELECT FROM pg_catalog.pg_attribute AS a
                      WHERE a.attrelid = tbl AND a.attname = 'id' AND a.atttypid = 'pg_catalog.uuid'::pg_catalog.regtype
                        AND a.attnum > 0 AND NOT a.attisdropped)
        THEN ARRAY['id']::pg_catalog.name[]
        ELSE (SELECT pg_catalog.array_agg(a.attname ORDER BY k.ord)
                FROM pg_catalog.pg_index AS i
                CROSS JOIN LATERAL pg_catalog.unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)
                JOIN pg_catalog.pg_attribute AS a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
               WHERE i.indrelid = tbl AND i.indisprimary)
    END
$fn$;
COMMENT ON FUNCTION saas._revert_key_columns(regclass) IS
    'Internal: the columns that identify a row of a table in its audit rows (id, else the primary key).';

-- The audited tenant column of tbl when rows are identified by id and the
-- tenant column is another one.  Matching it too lets a revert find rows
-- through the (tenant, id) primary keys of tenant tables instead of reading
-- the whole table.
CREATE FUNCTION saas._revert_tenant_column(tbl regclass) RETURNS name
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, pg_temp
    AS $fn$
    SELECT a.attname
      FROM pg_catalog.pg_trigger AS t
      JOIN pg_catalog.pg_attribute AS a
        ON a.attrelid = t.tgrelid AND NOT a.attisdropped AND a.attnum > 0
       AND a.attname OPERATOR(pg_catalog.=) (pg_catalog.string_to_array(pg_catalog.encode(t.tgargs, 'escape'), E'\\000'))[2]
     WHERE t.tgrelid = tbl AND t.tgfoid = 'saas.audit_trigger()'::pg_catalog.regprocedure
       AND a.attname OPERATOR(pg_catalog.<>) 'id' AND a.atttypid = 'pg_catalog.uuid'::pg_catalog.regtype
       AND saas._revert_key_columns(tbl) OPERATOR(pg_catalog.=) ARRAY['id']::pg_catalog.name[]
     LIMIT 1
$fn$;
COMMENT ON FUNCTION saas._revert_tenant_column(regclass) IS
    'Internal: the tenant column a revert matches besides id (NULL when rows are not identified by id alone).';

-- Many rows to join to the table: hash or merge joins, whatever the table's
-- statistics say (a table just filled or truncated looks empty, and a
-- nested loop over it is quadratic).  Few rows: the planner's choice, an
-- index lookup each.  Returns the setting to restore.
CREATE FUNCTION saas._revert_join_strategy(rows_to_join bigint) RETURNS text
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $fn$
DECLARE
    before text := pg_catalog.current_setting('enable_nestloop');
BEGIN
    IF rows_to_join > 1000 THEN
        PERFORM pg_catalog.set_config('enable_nestloop', 'off', true);
    END IF;
    RETURN before;
END
$fn$;
COMMENT ON FUNCTION saas._revert_join_strategy(bigint) IS
    'Internal: turns nested loops off for the joins of a large revert; returns the setting before.';

-- Undoes the audit rows of one segment (pg_temp.saas_revert_changes rows with
-- that segment number) on tbl.  Returns {"deleted": n, "inserted": n,
-- "updated": n}.
CREATE FUNCTION saas._revert_segment(tbl regclass, segment integer) RETURNS jsonb
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $fn$
DECLARE
    key_columns name[] := saas._revert_key_columns(tbl);
    tenant_column name := saas._revert_tenant_column(tbl);
    nestloop text;
    match text;          -- t (the table's row) matches r (the plan's key record)
    settable text[];     -- columns an INSERT or UPDATE may write
    cols text[];
    deleted bigint := 0;
    inserted bigint := 0;
    updated bigint := 0;
    n bigint;
BEGIN
    IF key_columns IS NULL THEN
        RAISE EXCEPTION 'cannot revert changes of %: it has neither a uuid id column nor a primary key', tbl
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    SELECT pg_catalog.string_agg(pg_catalog.format('t.%1$I OPERATOR(pg_catalog.=) k.%1$I', c), ' AND ')
      INTO match FROM pg_catalog.unnest(key_columns OPERATOR(pg_catalog.||) pg_catalog.array_remove(ARRAY[tenant_column], NULL)) AS c;
    -- Generated columns are computed; the rest may be written.
    SELECT pg_catalog.array_agg(a.attname::text ORDER BY a.attnum) INTO settable
      FROM pg_catalog.pg_attribute AS a
     WHERE a.attrelid = tbl AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = '';

    -- One plan row per record: its key, its first action in the segment,
    -- and its values before the segment (earliest old value of each column).
    IF pg_catalog.to_regclass('pg_temp.saas_revert_plan') IS NOT NULL THEN
        DROP TABLE pg_temp.saas_revert_plan;
    END IF;
    -- Grouped first, into a table of its own that is then analysed: joined
    -- in one query, the planner guesses 200 groups and may pick nested loops
    -- that make a 100,000-row segment quadratic.
    EXECUTE pg_catalog.format($sql$
        CREATE TEMP TABLE saas_revert_groups ON COMMIT DROP AS
        WITH keyed AS (
            SELECT c.*, CASE WHEN c.record_id IS NOT NULL
                             THEN pg_catalog.jsonb_build_object('id', c.record_id)
                                  OPERATOR(pg_catalog.||) CASE WHEN $3 IS NULL THEN '{}'::pg_catalog.jsonb
                                                               ELSE pg_catalog.jsonb_build_object($3, c.organization_id) END
                             ELSE (SELECT pg_catalog.jsonb_object_agg(e.key, e.value)
                                     FROM pg_catalog.jsonb_each(COALESCE(c.new_values, c.old_values)) AS e
                                    WHERE e.key = ANY ($1)) END AS key
              FROM pg_temp.saas_revert_changes AS c WHERE c.segment = $2),
        grouped AS (
            SELECT k.key, (pg_catalog.array_agg(k.action ORDER BY k.created_at, k.id))[1] AS first_action,
                   pg_catalog.array_agg(k.old_values ORDER BY k.created_at, k.id)
                       FILTER (WHERE k.action <> 'INSERT' AND k.old_values IS NOT NULL) AS olds
              FROM keyed AS k GROUP BY k.key)
        SELECT g.key, g.first_action,
               (SELECT pg_catalog.jsonb_object_agg(x.key, x.value)
                  FROM (SELECT DISTINCT ON (e.key) e.key, e.value
                          FROM pg_catalog.unnest(g.olds) WITH ORDINALITY AS v(j, n)
                         CROSS JOIN LATERAL pg_catalog.jsonb_each(v.j) AS e
                         ORDER BY e.key, v.n) AS x) AS vals
          FROM grouped AS g
    $sql$) USING key_columns, segment, tenant_column;
    ANALYZE pg_temp.saas_revert_groups;
    nestloop := saas._revert_join_strategy((SELECT pg_catalog.count(*) FROM pg_temp.saas_revert_groups));
    EXECUTE pg_catalog.format($sql$
        CREATE TEMP TABLE saas_revert_plan ON COMMIT DROP AS
        SELECT g.key, g.first_action, g.vals, t.ctid IS NOT NULL AS exists_now
          FROM pg_temp.saas_revert_groups AS g
         CROSS JOIN LATERAL pg_catalog.jsonb_populate_record(NULL::%1$s, g.key) AS k
          LEFT JOIN %1$s AS t ON %2$s
    $sql$, tbl, match);
    DROP TABLE pg_temp.saas_revert_groups;
    ANALYZE pg_temp.saas_revert_plan;

    -- Rows the segment inserted: delete them.
    EXECUTE pg_catalog.format($sql$
        DELETE FROM %1$s AS t USING pg_temp.saas_revert_plan AS p,
                    LATERAL pg_catalog.jsonb_populate_record(NULL::%1$s, p.key) AS k
         WHERE p.first_action = 'INSERT' AND %2$s
    $sql$, tbl, match);
    GET DIAGNOSTICS deleted = ROW_COUNT;

    -- Rows the segment deleted: insert them again, with the columns the
    -- audit recorded (excluded columns take their defaults).
    SELECT pg_catalog.array_agg(DISTINCT name ORDER BY name) INTO cols
      FROM pg_temp.saas_revert_plan AS p, pg_catalog.jsonb_object_keys(p.vals) AS name
     WHERE p.first_action <> 'INSERT' AND NOT p.exists_now AND name = ANY (settable);
    IF cols IS NOT NULL THEN
        IF EXISTS (SELECT FROM pg_temp.saas_revert_plan AS p
                    WHERE p.first_action <> 'INSERT' AND NOT p.exists_now
                      AND NOT (p.vals ?& key_columns::text[])) THEN
            RAISE EXCEPTION 'cannot revert changes of %: a row is gone but its audit rows do not hold it whole', tbl
                USING ERRCODE = 'object_not_in_prerequisite_state',
                      DETAIL = 'It was deleted without an audit row (auditing off, or TRUNCATE).';
        END IF;
        EXECUTE pg_catalog.format($sql$
            INSERT INTO %1$s (%2$s)
            SELECT %3$s FROM pg_temp.saas_revert_plan AS p,
                   LATERAL pg_catalog.jsonb_populate_record(NULL::%1$s, p.vals) AS r
             WHERE p.first_action <> 'INSERT' AND NOT p.exists_now
        $sql$, tbl,
            (SELECT pg_catalog.string_agg(pg_catalog.quote_ident(c), ', ') FROM pg_catalog.unnest(cols) AS c),
            (SELECT pg_catalog.string_agg('r.' OPERATOR(pg_catalog.||) pg_catalog.quote_ident(c), ', ')
               FROM pg_catalog.unnest(cols) AS c));
        GET DIAGNOSTICS inserted = ROW_COUNT;
    END IF;

    -- Rows the segment updated: set the changed columns back, one UPDATE per
    -- set of columns.
    FOR cols IN
        SELECT DISTINCT ARRAY(SELECT name FROM pg_catalog.jsonb_object_keys(p.vals) AS name
                               WHERE name = ANY (settable) AND name <> ALL (key_columns) ORDER BY name)
          FROM pg_temp.saas_revert_plan AS p
         WHERE p.first_action <> 'INSERT' AND p.exists_now AND p.vals IS NOT NULL
    LOOP
        CONTINUE WHEN pg_catalog.cardinality(cols) = 0;
        EXECUTE pg_catalog.format($sql$
            UPDATE %1$s AS t SET (%3$s) = ROW(%4$s)
              FROM pg_temp.saas_revert_plan AS p,
                   LATERAL pg_catalog.jsonb_populate_record(NULL::%1$s, p.key) AS k,
                   LATERAL pg_catalog.jsonb_populate_record(NULL::%1$s, p.vals) AS r
             WHERE p.first_action <> 'INSERT' AND p.exists_now AND %2$s
               AND ARRAY(SELECT name FROM pg_catalog.jsonb_object_keys(p.vals) AS name
                          WHERE name = ANY ($1) AND name <> ALL ($2) ORDER BY name) = $3
        $sql$, tbl, match,
            (SELECT pg_catalog.string_agg(pg_catalog.quote_ident(c), ', ') FROM pg_catalog.unnest(cols) AS c),
            (SELECT pg_catalog.string_agg('r.' OPERATOR(pg_catalog.||) pg_catalog.quote_ident(c), ', ')
               FROM pg_catalog.unnest(cols) AS c))
            USING settable, key_columns, cols;
        GET DIAGNOSTICS n = ROW_COUNT;
        updated := updated + n;
    END LOOP;
    DROP TABLE pg_temp.saas_revert_plan;
    PERFORM pg_catalog.set_config('enable_nestloop', nestloop, true);
    RETURN pg_catalog.jsonb_build_object('deleted', deleted, 'inserted', inserted, 'updated', updated);
END
$fn$;
COMMENT ON FUNCTION saas._revert_segment(regclass, integer) IS
    'Internal: undoes one segment of audit rows (pg_temp.saas_revert_changes) on one table.';

-- The rows of tbl that changed since the staged changes (a transaction's):
-- a row it left in place whose columns it wrote no longer hold what it wrote,
-- a row it deleted that exists again, a row it wrote that is gone.  Undoing
-- the transaction would overwrite those later changes.  Returns up to limit
-- descriptions "table key".
CREATE FUNCTION saas._revert_conflicts(tbl regclass, logical text, max_rows integer) RETURNS text[]
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $fn$
DECLARE
    key_columns name[] := saas._revert_key_columns(tbl);
    tenant_column name := saas._revert_tenant_column(tbl);
    nestloop text;
    match text;
    found text[];
BEGIN
    IF key_columns IS NULL THEN
        RETURN NULL;  -- _revert_segment refuses such a table with a clear error
    END IF;
    SELECT pg_catalog.string_agg(pg_catalog.format('t.%1$I OPERATOR(pg_catalog.=) k.%1$I', c), ' AND ')
      INTO match FROM pg_catalog.unnest(key_columns OPERATOR(pg_catalog.||) pg_catalog.array_remove(ARRAY[tenant_column], NULL)) AS c;
    -- Grouped first and analysed, as in _revert_segment.
    IF pg_catalog.to_regclass('pg_temp.saas_revert_groups') IS NOT NULL THEN
        DROP TABLE pg_temp.saas_revert_groups;
    END IF;
    EXECUTE $sql$
        CREATE TEMP TABLE saas_revert_groups ON COMMIT DROP AS
        WITH keyed AS (
            SELECT c.*, CASE WHEN c.record_id IS NOT NULL
                             THEN pg_catalog.jsonb_build_object('id', c.record_id)
                                  OPERATOR(pg_catalog.||) CASE WHEN $3 IS NULL THEN '{}'::pg_catalog.jsonb
                                                               ELSE pg_catalog.jsonb_build_object($3, c.organization_id) END
                             ELSE (SELECT pg_catalog.jsonb_object_agg(e.key, e.value)
                                     FROM pg_catalog.jsonb_each(COALESCE(c.new_values, c.old_values)) AS e
                                    WHERE e.key = ANY ($1)) END AS key
              FROM pg_temp.saas_revert_changes AS c WHERE c.table_name = $2),
        grouped AS (
            SELECT k.key, (pg_catalog.array_agg(k.action ORDER BY k.created_at DESC, k.id DESC))[1] AS last_action,
                   pg_catalog.array_agg(k.new_values ORDER BY k.created_at DESC, k.id DESC)
                       FILTER (WHERE k.new_values IS NOT NULL) AS news
              FROM keyed AS k GROUP BY k.key)
        SELECT g.key, g.last_action,
               (SELECT pg_catalog.jsonb_object_agg(x.key, x.value)
                  FROM (SELECT DISTINCT ON (e.key) e.key, e.value
                          FROM pg_catalog.unnest(g.news) WITH ORDINALITY AS v(j, n)
                         CROSS JOIN LATERAL pg_catalog.jsonb_each(v.j) AS e
                         ORDER BY e.key, v.n) AS x) AS vals
          FROM grouped AS g
    $sql$ USING key_columns, logical, tenant_column;
    ANALYZE pg_temp.saas_revert_groups;
    nestloop := saas._revert_join_strategy((SELECT pg_catalog.count(*) FROM pg_temp.saas_revert_groups));
    EXECUTE pg_catalog.format($sql$
        SELECT pg_catalog.array_agg($1 OPERATOR(pg_catalog.||) ' ' OPERATOR(pg_catalog.||) l.key::text
                                    ORDER BY l.key::text)
          FROM (SELECT l.key FROM pg_temp.saas_revert_groups AS l
                 CROSS JOIN LATERAL pg_catalog.jsonb_populate_record(NULL::%1$s, l.key) AS k
                  LEFT JOIN %1$s AS t ON %2$s
                 -- the row as jsonb once, not once per column (OFFSET 0
                 -- keeps the planner from pulling it into the subquery)
                 CROSS JOIN LATERAL (SELECT pg_catalog.to_jsonb(t) AS now_row OFFSET 0) AS cur
                 WHERE CASE WHEN l.last_action = 'DELETE' THEN t.ctid IS NOT NULL
                            ELSE t.ctid IS NULL
                                 OR EXISTS (SELECT FROM pg_catalog.jsonb_each(l.vals) AS e
                                             WHERE cur.now_row -> e.key IS DISTINCT FROM e.value) END
                 LIMIT $2) AS l
    $sql$, tbl, match) INTO found USING logical, max_rows;
    DROP TABLE pg_temp.saas_revert_groups;
    PERFORM pg_catalog.set_config('enable_nestloop', nestloop, true);
    RETURN found;
END
$fn$;
COMMENT ON FUNCTION saas._revert_conflicts(regclass, text, integer) IS
    'Internal: rows of a table whose later changes undoing the staged transaction would overwrite.';

-- Undoes what pg_temp.saas_revert_changes holds, newest segment first, with
-- note (e.g. {"revert_of": 123}) in the metadata of the revert's own audit
-- rows.  Returns one entry per segment.
CREATE FUNCTION saas._revert_changes(note jsonb) RETURNS jsonb
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $fn$
DECLARE
    seg record;
    done jsonb := '[]';
    tbl regclass;
BEGIN
    IF EXISTS (SELECT FROM pg_temp.saas_revert_changes AS c WHERE c.action = 'TRUNCATE') THEN
        RAISE EXCEPTION 'cannot revert a TRUNCATE: the audit log records that it happened and how many rows it removed, not the rows'
            USING ERRCODE = 'feature_not_supported';
    END IF;
    -- Consecutive rows of one table, newest first, form a segment.
    WITH ordered AS (
        SELECT c.id, c.table_name,
               pg_catalog.row_number() OVER (ORDER BY c.created_at DESC, c.id DESC)
             - pg_catalog.row_number() OVER (PARTITION BY c.table_name ORDER BY c.created_at DESC, c.id DESC) AS run
          FROM pg_temp.saas_revert_changes AS c),
    runs AS (
        SELECT o.id, pg_catalog.dense_rank() OVER (ORDER BY r.newest DESC) AS segment
          FROM ordered AS o
          JOIN (SELECT o2.table_name, o2.run, pg_catalog.max(c.created_at) AS newest
                  FROM ordered AS o2 JOIN pg_temp.saas_revert_changes AS c ON c.id = o2.id
                 GROUP BY o2.table_name, o2.run) AS r
            ON r.table_name = o.table_name AND r.run = o.run)
    UPDATE pg_temp.saas_revert_changes AS c SET segment = r.segment FROM runs AS r WHERE r.id = c.id;

    PERFORM saas._revert_note(note);
    FOR seg IN SELECT c.segment, pg_catalog.min(c.table_name) AS table_name
                 FROM pg_temp.saas_revert_changes AS c GROUP BY c.segment ORDER BY c.segment LOOP
        tbl := pg_catalog.to_regclass(seg.table_name);
        IF tbl IS NULL THEN
            RAISE EXCEPTION 'cannot revert changes of %: the table no longer exists', seg.table_name
                USING ERRCODE = 'undefined_table';
        END IF;
        done := done OPERATOR(pg_catalog.||) pg_catalog.jsonb_build_array(
                    pg_catalog.jsonb_build_object('table', seg.table_name)
                    OPERATOR(pg_catalog.||) saas._revert_segment(tbl, seg.segment));
    END LOOP;
    PERFORM saas._revert_note(NULL);
    DROP TABLE pg_temp.saas_revert_changes;
    RETURN done;
END
$fn$;
COMMENT ON FUNCTION saas._revert_changes(jsonb) IS
    'Internal: undoes the audit rows staged in pg_temp.saas_revert_changes, newest first.';

-- The metadata the revert's own audit rows carry ({"revert_of": ...}), for
-- the duration of a revert; NULL ends it.
CREATE FUNCTION saas._revert_note(note jsonb) RETURNS void
    LANGUAGE sql
    SET search_path = pg_catalog, pg_temp
    AS $fn$ SELECT pg_catalog.set_config('saas.audit_note', COALESCE(note::text, ''), true) $fn$;
COMMENT ON FUNCTION saas._revert_note(jsonb) IS
    'Internal: sets the note saas.audit_trigger() adds to the metadata of the audit rows of a revert.';

-- The audit trigger's excluded columns on tbl (its arguments after the
-- logical name and the tenant column).
CREATE FUNCTION saas._audit_excluded_columns(tbl regclass) RETURNS text[]
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, pg_temp
    AS $fn$
    SELECT COALESCE(pg_catalog.array_agg(DISTINCT arg ORDER BY arg), '{}')
      FROM pg_catalog.pg_trigger AS t
      CROSS JOIN LATERAL pg_catalog.unnest((pg_catalog.string_to_array(
                     pg_catalog.encode(t.tgargs, 'escape'), E'\\000'))[3:]) AS arg
     WHERE t.tgrelid = tbl AND t.tgfoid = 'saas.audit_trigger()'::pg_catalog.regprocedure AND arg <> ''
$fn$;
COMMENT ON FUNCTION saas._audit_excluded_columns(regclass) IS
    'Internal: the columns the audit trigger of a table leaves out of the audit log.';

-- Puts one row back to its state at a point in time: undoes its audited
-- changes made after at, newest first (deleting it if it did not exist yet,
-- inserting it again if it was deleted since, clearing a soft delete like
-- any other column).  Returns what it did.
CREATE FUNCTION saas.revert_record(tbl regclass, id uuid, at timestamptz) RETURNS jsonb
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $fn$
DECLARE
    logical text;
    staged bigint;
    steps jsonb := '[]';
    totals record;
BEGIN
    IF tbl IS NULL OR id IS NULL OR at IS NULL THEN
        RAISE EXCEPTION 'saas.revert_record: table, id and time must not be NULL'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_trigger AS t
                    WHERE t.tgrelid = tbl AND t.tgfoid = 'saas.audit_trigger()'::pg_catalog.regprocedure) THEN
        RAISE EXCEPTION 'saas.revert_record: table % is not audited', tbl
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'Only changes recorded by saas.enable_audit() can be reverted.';
    END IF;
    IF saas._revert_key_columns(tbl) IS DISTINCT FROM ARRAY['id']::pg_catalog.name[] THEN
        RAISE EXCEPTION 'saas.revert_record: table % has no uuid id column', tbl
            USING ERRCODE = 'feature_not_supported',
                  HINT = 'Revert the changes of its rows with saas.revert_transaction().';
    END IF;
    logical := saas.audit_table_name(tbl);
    -- A TRUNCATE since then removed rows the audit log does not hold.
    IF EXISTS (SELECT FROM saas.audit_logs AS a
                WHERE a.table_name = logical AND a.action = 'TRUNCATE' AND a.created_at > revert_record.at) THEN
        RAISE EXCEPTION 'saas.revert_record: table % was truncated after %', tbl, revert_record.at
            USING ERRCODE = 'feature_not_supported',
                  DETAIL = 'The audit log records that a TRUNCATE happened and how many rows it removed, not the rows.';
    END IF;
    IF pg_catalog.to_regclass('pg_temp.saas_revert_changes') IS NOT NULL THEN
        DROP TABLE pg_temp.saas_revert_changes;
    END IF;
    CREATE TEMP TABLE saas_revert_changes ON COMMIT DROP AS
        SELECT a.id, a.table_name, a.record_id, a.action, a.old_values, a.new_values, a.changed_columns,
               a.created_at, a.transaction_id, a.organization_id, 0 AS segment
          FROM saas.audit_logs AS a
         WHERE a.table_name = logical AND a.record_id = revert_record.id AND a.created_at > revert_record.at;
    GET DIAGNOSTICS staged = ROW_COUNT;
    ANALYZE pg_temp.saas_revert_changes;  -- the plans below join on it
    IF staged > 0 THEN
        steps := saas._revert_changes(pg_catalog.jsonb_build_object('revert_of_record',
                     pg_catalog.jsonb_build_object('table', logical, 'id', revert_record.id, 'at', revert_record.at)));
    ELSE
        DROP TABLE pg_temp.saas_revert_changes;
    END IF;
    SELECT COALESCE(pg_catalog.sum((s ->> 'deleted')::bigint), 0) AS deleted,
           COALESCE(pg_catalog.sum((s ->> 'inserted')::bigint), 0) AS inserted,
           COALESCE(pg_catalog.sum((s ->> 'updated')::bigint), 0) AS updated
      INTO totals FROM pg_catalog.jsonb_array_elements(steps) AS s;
    RETURN pg_catalog.jsonb_build_object(
        'table', logical, 'id', revert_record.id, 'at', revert_record.at,
        'action', CASE WHEN totals.deleted > 0 THEN 'deleted' WHEN totals.inserted > 0 THEN 'inserted'
                       WHEN totals.updated > 0 THEN 'updated' ELSE 'none' END,
        'changes_undone', staged,
        'left_as_is', pg_catalog.jsonb_build_object(
            'excluded_columns', pg_catalog.to_jsonb(saas._audit_excluded_columns(tbl)),
            'generated_columns', (SELECT pg_catalog.to_jsonb(COALESCE(pg_catalog.array_agg(a.attname ORDER BY a.attnum), '{}'))
                                    FROM pg_catalog.pg_attribute AS a
                                   WHERE a.attrelid = tbl AND a.attnum > 0 AND NOT a.attisdropped
                                     AND a.attgenerated <> '')));
END
$fn$;
COMMENT ON FUNCTION saas.revert_record(regclass, uuid, timestamptz) IS
    'Puts one row back to its state at a point in time from the audit log (runs with the caller''s rights; audited, with metadata revert_of_record). Returns what it did and which columns it left as they are.';

-- Undoes every audited change of one transaction, newest first, inside the
-- caller's transaction.  Refuses (SQLSTATE SR001) when a later transaction
-- changed the same rows and columns, unless force.
CREATE FUNCTION saas.revert_transaction(transaction_id bigint, force boolean DEFAULT false) RETURNS jsonb
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $fn$
DECLARE
    staged bigint;
    conflicts text[];
    conflict_count integer;
    later text;
    steps jsonb;
BEGIN
    IF transaction_id IS NULL OR force IS NULL THEN
        RAISE EXCEPTION 'saas.revert_transaction: transaction_id and force must not be NULL'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF pg_catalog.to_regclass('pg_temp.saas_revert_changes') IS NOT NULL THEN
        DROP TABLE pg_temp.saas_revert_changes;
    END IF;
    CREATE TEMP TABLE saas_revert_changes ON COMMIT DROP AS
        SELECT a.id, a.table_name, a.record_id, a.action, a.old_values, a.new_values, a.changed_columns,
               a.created_at, a.transaction_id, a.organization_id, 0 AS segment
          FROM saas.audit_logs AS a WHERE a.transaction_id = revert_transaction.transaction_id;
    GET DIAGNOSTICS staged = ROW_COUNT;
    ANALYZE pg_temp.saas_revert_changes;  -- the plans below join on it
    IF staged = 0 THEN
        -- The same error whether the transaction is unknown or another
        -- tenant's (row-level security hides its audit rows).
        RAISE EXCEPTION 'saas.revert_transaction: transaction % has no audited change you can revert', transaction_id
            USING ERRCODE = 'no_data_found';
    END IF;
    IF EXISTS (SELECT FROM pg_temp.saas_revert_changes AS c WHERE c.action = 'TRUNCATE') THEN
        DROP TABLE pg_temp.saas_revert_changes;
        RAISE EXCEPTION 'saas.revert_transaction: transaction % truncated a table', transaction_id
            USING ERRCODE = 'feature_not_supported',
                  DETAIL = 'The audit log records that a TRUNCATE happened and how many rows it removed, not the rows.';
    END IF;
    -- Rows changed since (by later transactions) in what this one wrote.
    SELECT pg_catalog.array_agg(d ORDER BY d) INTO conflicts
      FROM (SELECT DISTINCT c.table_name FROM pg_temp.saas_revert_changes AS c) AS t
     CROSS JOIN LATERAL pg_catalog.unnest(saas._revert_conflicts(pg_catalog.to_regclass(t.table_name), t.table_name, 20)) AS d
     WHERE pg_catalog.to_regclass(t.table_name) IS NOT NULL;
    conflict_count := COALESCE(pg_catalog.cardinality(conflicts), 0);
    -- Which later transactions: those with audit rows of the same records.
    IF conflict_count > 0 THEN
        SELECT pg_catalog.string_agg(DISTINCT a.transaction_id::text, ', ') INTO later
          FROM pg_temp.saas_revert_changes AS c
          JOIN saas.audit_logs AS a ON a.table_name = c.table_name AND a.record_id = c.record_id
                                   AND a.created_at > c.created_at AND a.transaction_id <> c.transaction_id;
    END IF;
    IF conflict_count > 0 AND NOT force THEN
        DROP TABLE pg_temp.saas_revert_changes;
        RAISE EXCEPTION 'saas.revert_transaction: later transactions changed rows and columns that transaction % changed', transaction_id
            USING ERRCODE = 'SR001',
                  DETAIL = pg_catalog.format('Changed since: %s%s.  Later transactions on those rows: %s.',
                                             pg_catalog.array_to_string(conflicts, ', '),
                                             CASE WHEN conflict_count >= 20 THEN ', ...' ELSE '' END,
                                             COALESCE(later, 'none audited')),
                  HINT = 'Revert those transactions first, or pass force => true to overwrite their changes of these columns.';
    END IF;
    steps := saas._revert_changes(pg_catalog.jsonb_build_object('revert_of', transaction_id));
    RETURN pg_catalog.jsonb_build_object('transaction_id', transaction_id, 'changes_undone', staged,
                                         'forced_over_later_changes', conflict_count > 0, 'steps', steps);
END
$fn$;
COMMENT ON FUNCTION saas.revert_transaction(bigint, boolean) IS
    'Undoes every audited change of a transaction, newest first (runs with the caller''s rights; audited, with metadata revert_of). Refuses with SQLSTATE SR001 when later transactions changed the same rows and columns, unless force.';
