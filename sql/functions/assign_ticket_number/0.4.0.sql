-- Ticket numbers.  Tickets get a per-organization number (#1, #2, ...), the handle people use
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
