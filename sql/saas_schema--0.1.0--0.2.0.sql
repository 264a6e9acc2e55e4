-- saas_schema 0.1.0 -> 0.2.0: per-organization ticket numbers, and a helper
-- for the safe NOT NULL pattern in users' own migrations.

\echo Use "ALTER EXTENSION saas_schema UPDATE TO '0.2.0'" to load this file. \quit

-- The safe NOT NULL pattern on a table holding data: add the column
-- nullable, backfill it, then reach NOT NULL through a CHECK ... NOT VALID
-- plus VALIDATE, so SET NOT NULL needs no scan of its own.
--
-- Note: ALTER EXTENSION UPDATE runs as one transaction, so the ACCESS
-- EXCLUSIVE lock ADD COLUMN takes is held until the update commits, backfill
-- included (measured in README "Upgrading").  What the pattern still buys
-- here is one scan instead of two.  For users' own tables,
-- saas.set_not_null_safely() (below) runs each step in its own transaction.
ALTER TABLE saas.tickets ADD COLUMN number integer;

-- Backfill: number tickets per organization in creation order.  The
-- updated_at trigger is off for it (numbering is not an edit of the ticket);
-- the audit trigger stays on and records each ticket's number.
ALTER TABLE saas.tickets DISABLE TRIGGER trg_tickets_updated_at;
UPDATE saas.tickets AS t
SET number = n.rn
FROM (SELECT organization_id, id,
             pg_catalog.row_number() OVER (PARTITION BY organization_id ORDER BY created_at, id) AS rn
      FROM saas.tickets) AS n
WHERE t.organization_id = n.organization_id AND t.id = n.id;
ALTER TABLE saas.tickets ENABLE TRIGGER trg_tickets_updated_at;

ALTER TABLE saas.tickets ADD CONSTRAINT chk_tickets_number_not_null CHECK (number IS NOT NULL) NOT VALID;
ALTER TABLE saas.tickets VALIDATE CONSTRAINT chk_tickets_number_not_null;
ALTER TABLE saas.tickets ALTER COLUMN number SET NOT NULL;
ALTER TABLE saas.tickets DROP CONSTRAINT chk_tickets_number_not_null;
ALTER TABLE saas.tickets ADD CONSTRAINT chk_tickets_number_positive CHECK (number > 0);
ALTER TABLE saas.tickets ADD CONSTRAINT uq_tickets_organization_id_number UNIQUE (organization_id, number);
COMMENT ON COLUMN saas.tickets.number IS 'Per-organization ticket number (#1, #2, ...), assigned on INSERT when not given.';

-- A view's SELECT * is expanded when the view is created: add the new column
-- to the active-row view (appending a column keeps its grants).
CREATE OR REPLACE VIEW saas.active_tickets WITH (security_invoker = true) AS
    SELECT * FROM saas.tickets WHERE deleted_at IS NULL;

-- Tickets get a per-organization number (#1, #2, ...), the handle people use
-- in conversation and e-mail subjects.  Assigned on INSERT when not given:
-- one past the organization's highest, under a per-organization advisory
-- lock so concurrent inserts of one tenant never collide (other tenants are
-- not blocked).  Soft-deleted tickets keep their numbers.
CREATE FUNCTION saas.assign_ticket_number() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = pg_catalog, saas, pg_temp
    AS $fn$
BEGIN
    IF NEW.number IS NULL THEN
        PERFORM pg_catalog.pg_advisory_xact_lock(
            pg_catalog.hashtextextended('saas.tickets.number:' || NEW.organization_id::text, 0));
        SELECT COALESCE(pg_catalog.max(t.number), 0) + 1 INTO NEW.number
        FROM saas.tickets AS t WHERE t.organization_id = NEW.organization_id;
    END IF;
    RETURN NEW;
END
$fn$;
COMMENT ON FUNCTION saas.assign_ticket_number() IS
    'BEFORE INSERT trigger on saas.tickets: assigns the next per-organization ticket number when none is given.';

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

CREATE TRIGGER trg_tickets_number BEFORE INSERT ON saas.tickets
    FOR EACH ROW EXECUTE FUNCTION saas.assign_ticket_number();
