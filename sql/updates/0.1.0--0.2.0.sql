-- saas_schema 0.1.0 -> 0.2.0: per-organization ticket numbers, and a helper
-- for the safe NOT NULL pattern in users' own migrations.

-- The safe NOT NULL pattern on a table holding data: add the column
-- nullable, backfill it, then reach NOT NULL through a CHECK ... NOT VALID
-- plus VALIDATE, so SET NOT NULL needs no scan of its own.
--
-- Note: ALTER EXTENSION UPDATE runs as one transaction, so the ACCESS
-- EXCLUSIVE lock ADD COLUMN takes is held until the update commits, backfill
-- included (see docs/upgrades.md).  What the pattern still buys
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

--#create assign_ticket_number

--#create set_not_null_safely

CREATE TRIGGER trg_tickets_number BEFORE INSERT ON saas.tickets
    FOR EACH ROW EXECUTE FUNCTION saas.assign_ticket_number();
