-- Soft deletes: soft_delete/restore with exact cascade reversal, the purge,
-- and the active-row views.
--
-- soft_delete/restore follow ON DELETE CASCADE foreign keys to soft-deletable
-- children (projects -> tasks -> task_comments -> replies, tickets ->
-- ticket_comments -> replies).  One call stamps every row it cascades to with
-- the same deleted_at (clock_timestamp() of the call), which is what restore
-- uses to reverse exactly that delete: a child deleted at another time keeps
-- its own deleted_at and is left alone.

CREATE FUNCTION saas.current_actor_id() RETURNS uuid
    LANGUAGE c STABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'saas_current_actor_id';
COMMENT ON FUNCTION saas.current_actor_id() IS
    'The acting user (setting app.current_user_id, set by saas.set_actor) when it is an active user of the current tenant, else NULL: the actor the audit trigger records. Raises 22P02 when the setting is not a uuid.';

CREATE FUNCTION saas._check_soft_deletable(tbl regclass, caller text) RETURNS void
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, saas, pg_temp
    AS $fn$
DECLARE
    missing text;
BEGIN
    IF tbl IS NULL THEN
        RAISE EXCEPTION '%: the table must not be NULL', caller USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_class AS c WHERE c.oid = tbl AND c.relkind IN ('r', 'p')) THEN
        RAISE EXCEPTION '%: % is not a table', caller, tbl USING ERRCODE = 'wrong_object_type';
    END IF;
    SELECT pg_catalog.string_agg(need, ', ' ORDER BY need) INTO missing
    FROM pg_catalog.unnest(ARRAY['id', 'organization_id', 'deleted_at', 'deleted_by_id']) AS need
    WHERE NOT EXISTS (SELECT 1 FROM pg_catalog.pg_attribute AS a
                      WHERE a.attrelid = tbl AND a.attname = need AND a.attnum > 0 AND NOT a.attisdropped);
    IF missing IS NOT NULL THEN
        RAISE EXCEPTION '%: table % is not soft-deletable', caller, tbl
            USING ERRCODE = 'undefined_column',
                  DETAIL = pg_catalog.format('It lacks the column(s): %s.', missing),
                  HINT = 'Soft-deletable tables have id, organization_id, deleted_at timestamptz and deleted_by_id uuid.';
    END IF;
END
$fn$;

-- The soft-deletable tables that reference tbl through an ON DELETE CASCADE
-- foreign key, with the child column that holds the parent's id.
CREATE FUNCTION saas._soft_delete_children(tbl regclass)
    RETURNS TABLE (child regclass, child_column name)
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, saas, pg_temp
    AS $fn$
    SELECT con.conrelid::pg_catalog.regclass, ca.attname
    FROM pg_catalog.pg_constraint AS con
    CROSS JOIN LATERAL ROWS FROM (pg_catalog.unnest(con.conkey), pg_catalog.unnest(con.confkey)) AS k(child_att, parent_att)
    JOIN pg_catalog.pg_attribute AS pa ON pa.attrelid = con.confrelid AND pa.attnum = k.parent_att
    JOIN pg_catalog.pg_attribute AS ca ON ca.attrelid = con.conrelid AND ca.attnum = k.child_att
    WHERE con.contype = 'f' AND con.confrelid = tbl AND con.confdeltype = 'c'
      AND pa.attname = 'id'
      AND EXISTS (SELECT 1 FROM pg_catalog.pg_attribute AS d
                  WHERE d.attrelid = con.conrelid AND d.attname = 'deleted_at' AND NOT d.attisdropped)
    ORDER BY 1, 2
$fn$;

CREATE FUNCTION saas._soft_delete_cascade(tbl regclass, tenant uuid, ids uuid[], stamp timestamptz,
                                          actor uuid, undo boolean) RETURNS bigint
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, saas, pg_temp
    AS $fn$
DECLARE
    ch record;
    child_ids uuid[];
    total bigint := 0;
BEGIN
    FOR ch IN SELECT * FROM saas._soft_delete_children(tbl) LOOP
        IF undo THEN
            EXECUTE pg_catalog.format(
                'WITH r AS (UPDATE %s SET deleted_at = NULL, deleted_by_id = NULL
                            WHERE organization_id = $1 AND %I = ANY ($2) AND deleted_at = $3
                            RETURNING id)
                 SELECT pg_catalog.array_agg(id) FROM r', ch.child, ch.child_column)
                INTO child_ids USING tenant, ids, stamp;
        ELSE
            EXECUTE pg_catalog.format(
                'WITH r AS (UPDATE %s SET deleted_at = $3, deleted_by_id = $4
                            WHERE organization_id = $1 AND %I = ANY ($2) AND deleted_at IS NULL
                            RETURNING id)
                 SELECT pg_catalog.array_agg(id) FROM r', ch.child, ch.child_column)
                INTO child_ids USING tenant, ids, stamp, actor;
        END IF;
        IF child_ids IS NOT NULL THEN
            total := total + pg_catalog.cardinality(child_ids)
                     + saas._soft_delete_cascade(ch.child, tenant, child_ids, stamp, actor, undo);
        END IF;
    END LOOP;
    RETURN total;
END
$fn$;

CREATE FUNCTION saas._soft_delete_target(tbl regclass, row_id uuid, caller text,
                                         OUT tenant uuid, OUT deleted_at timestamptz)
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, saas, pg_temp
    AS $fn$
DECLARE
    found_rows bigint;
BEGIN
    PERFORM saas._check_soft_deletable(tbl, caller);
    IF row_id IS NULL THEN
        RAISE EXCEPTION '%: the id must not be NULL', caller USING ERRCODE = 'null_value_not_allowed';
    END IF;
    tenant := saas.current_tenant_id();
    IF tenant IS NULL THEN
        RAISE EXCEPTION '%: no tenant is set', caller
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'Call saas.set_tenant(organization_id) first, in the same transaction.';
    END IF;
    -- NO KEY UPDATE: a soft delete changes no key, so inserts of children
    -- (whose foreign-key checks take KEY SHARE) need not wait, and cannot
    -- deadlock with it.
    EXECUTE pg_catalog.format('SELECT deleted_at FROM %s WHERE organization_id = $1 AND id = $2 FOR NO KEY UPDATE', tbl)
        INTO deleted_at USING tenant, row_id;
    GET DIAGNOSTICS found_rows = ROW_COUNT;  -- EXECUTE does not set FOUND
    IF found_rows = 0 THEN
        -- The same error for an unknown id and another tenant's row.
        RAISE EXCEPTION '%: no row with id % in % for the current tenant', caller, row_id, tbl
            USING ERRCODE = 'no_data_found';
    END IF;
END
$fn$;

CREATE FUNCTION saas.soft_delete(tbl regclass, id uuid) RETURNS bigint
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, saas, pg_temp
    AS $fn$
DECLARE
    target record;
    stamp timestamptz := pg_catalog.clock_timestamp();
    actor uuid := saas.current_actor_id();
BEGIN
    target := saas._soft_delete_target(tbl, id, 'saas.soft_delete');
    IF target.deleted_at IS NOT NULL THEN
        RAISE EXCEPTION 'saas.soft_delete: % % is already deleted', tbl, id
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = pg_catalog.format('It was deleted at %s.', target.deleted_at),
                  HINT = 'Use saas.restore() to bring it back.';
    END IF;
    EXECUTE pg_catalog.format('UPDATE %s SET deleted_at = $3, deleted_by_id = $4 WHERE organization_id = $1 AND id = $2', tbl)
        USING target.tenant, id, stamp, actor;
    RETURN 1 + saas._soft_delete_cascade(tbl, target.tenant, ARRAY[id], stamp, actor, false);
END
$fn$;
COMMENT ON FUNCTION saas.soft_delete(regclass, uuid) IS
    'Soft-deletes one row of the current tenant (deleted_at, deleted_by_id = current actor) and, through ON DELETE CASCADE foreign keys, its active soft-deletable descendants. Returns the number of rows soft-deleted.';

CREATE FUNCTION saas.restore(tbl regclass, id uuid) RETURNS bigint
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, saas, pg_temp
    AS $fn$
DECLARE
    target record;
    parent record;
    parent_deleted boolean;
BEGIN
    target := saas._soft_delete_target(tbl, id, 'saas.restore');
    IF target.deleted_at IS NULL THEN
        RAISE EXCEPTION 'saas.restore: % % is not deleted', tbl, id
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    -- Restoring a row under a still-deleted parent would leave an active row
    -- that the active-row views cannot reach through its parent.
    FOR parent IN
        SELECT con.confrelid::pg_catalog.regclass AS parent_table, ca.attname AS child_column
        FROM pg_catalog.pg_constraint AS con
        CROSS JOIN LATERAL ROWS FROM (pg_catalog.unnest(con.conkey), pg_catalog.unnest(con.confkey)) AS k(child_att, parent_att)
        JOIN pg_catalog.pg_attribute AS pa ON pa.attrelid = con.confrelid AND pa.attnum = k.parent_att
        JOIN pg_catalog.pg_attribute AS ca ON ca.attrelid = con.conrelid AND ca.attnum = k.child_att
        WHERE con.contype = 'f' AND con.conrelid = tbl AND pa.attname = 'id' AND ca.attname <> 'deleted_by_id'
          AND EXISTS (SELECT 1 FROM pg_catalog.pg_attribute AS d
                      WHERE d.attrelid = con.confrelid AND d.attname = 'deleted_at' AND NOT d.attisdropped)
    LOOP
        EXECUTE pg_catalog.format(
            'SELECT EXISTS (SELECT 1 FROM %s AS p JOIN %s AS c ON c.organization_id = p.organization_id AND c.%I = p.id
                            WHERE c.organization_id = $1 AND c.id = $2 AND p.deleted_at IS NOT NULL)',
            parent.parent_table, tbl, parent.child_column)
            INTO parent_deleted USING target.tenant, id;
        IF parent_deleted THEN
            RAISE EXCEPTION 'saas.restore: cannot restore % %: its parent row in % (%) is deleted',
                            tbl, id, parent.parent_table, parent.child_column
                USING ERRCODE = 'object_not_in_prerequisite_state',
                      HINT = 'Restore the parent first; that restores what its deletion cascaded to.';
        END IF;
    END LOOP;
    EXECUTE pg_catalog.format('UPDATE %s SET deleted_at = NULL, deleted_by_id = NULL WHERE organization_id = $1 AND id = $2', tbl)
        USING target.tenant, id;
    RETURN 1 + saas._soft_delete_cascade(tbl, target.tenant, ARRAY[id], target.deleted_at, NULL, true);
END
$fn$;
COMMENT ON FUNCTION saas.restore(regclass, uuid) IS
    'Restores a soft-deleted row of the current tenant and exactly the rows its soft_delete cascaded to (same deleted_at). Returns the number of rows restored.';

CREATE FUNCTION saas.purge_soft_deleted(tbl regclass, older_than interval DEFAULT '90 days') RETURNS bigint
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, saas, pg_temp
    AS $fn$
DECLARE
    purged bigint;
BEGIN
    PERFORM saas._check_soft_deletable(tbl, 'saas.purge_soft_deleted');
    IF older_than IS NULL OR older_than < '0'::interval THEN
        RAISE EXCEPTION 'saas.purge_soft_deleted: older_than must be a non-negative interval, not %',
                        COALESCE(older_than::text, 'NULL')
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- Plain DELETE: the audit trigger records every purged row, and ON DELETE
    -- CASCADE removes their children (audited too).
    EXECUTE pg_catalog.format('DELETE FROM %s WHERE deleted_at < pg_catalog.now() - $1', tbl) USING older_than;
    GET DIAGNOSTICS purged = ROW_COUNT;
    RETURN purged;
END
$fn$;
COMMENT ON FUNCTION saas.purge_soft_deleted(regclass, interval) IS
    'Hard-deletes rows soft-deleted before now() - older_than (default 90 days); returns the count. Runs under the caller''s row-level security: as the application role it purges the current tenant only.';
REVOKE EXECUTE ON FUNCTION saas.purge_soft_deleted(regclass, interval) FROM PUBLIC;

-- Active rows: views that use the WHERE deleted_at IS NULL partial indexes.
-- security_invoker (PostgreSQL 15+) makes the caller's row-level security
-- apply through the view; without it the view owner's rights would.
CREATE VIEW saas.active_projects WITH (security_invoker = true) AS
    SELECT * FROM saas.projects WHERE deleted_at IS NULL;
CREATE VIEW saas.active_tasks WITH (security_invoker = true) AS
    SELECT * FROM saas.tasks WHERE deleted_at IS NULL;
CREATE VIEW saas.active_task_comments WITH (security_invoker = true) AS
    SELECT * FROM saas.task_comments WHERE deleted_at IS NULL;
CREATE VIEW saas.active_tickets WITH (security_invoker = true) AS
    SELECT * FROM saas.tickets WHERE deleted_at IS NULL;
CREATE VIEW saas.active_ticket_comments WITH (security_invoker = true) AS
    SELECT * FROM saas.ticket_comments WHERE deleted_at IS NULL;
COMMENT ON VIEW saas.active_projects IS 'Projects not soft-deleted.';
COMMENT ON VIEW saas.active_tasks IS 'Tasks not soft-deleted (a task of a deleted project is soft-deleted with it).';
COMMENT ON VIEW saas.active_task_comments IS 'Task comments not soft-deleted.';
COMMENT ON VIEW saas.active_tickets IS 'Tickets not soft-deleted.';
COMMENT ON VIEW saas.active_ticket_comments IS 'Ticket comments not soft-deleted.';
