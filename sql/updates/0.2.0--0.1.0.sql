-- saas_schema 0.2.0 -> 0.1.0 (downgrade): removes ticket numbers and the
-- safe NOT NULL helper.  Every row stays; only the number column's values
-- are lost (0.1.0 has no place for them).  Their history stays in the audit
-- log.

DROP TRIGGER trg_tickets_number ON saas.tickets;
DROP FUNCTION saas.assign_ticket_number();
DROP PROCEDURE saas.set_not_null_safely(regclass, name, interval);
ALTER TABLE saas.tickets DROP CONSTRAINT uq_tickets_organization_id_number;
ALTER TABLE saas.tickets DROP CONSTRAINT chk_tickets_number_positive;
-- The active-row view shows the column: re-create it without, keeping its
-- grants (a view cannot lose a column in place).
CREATE TEMP TABLE saas_downgrade_grants ON COMMIT DROP AS
    SELECT a.grantee, a.privilege_type, a.is_grantable
    FROM pg_catalog.pg_class AS c, pg_catalog.aclexplode(c.relacl) AS a
    WHERE c.oid = 'saas.active_tickets'::pg_catalog.regclass
      AND a.grantee <> c.relowner;
DROP VIEW saas.active_tickets;
ALTER TABLE saas.tickets DROP COLUMN number;
CREATE VIEW saas.active_tickets WITH (security_invoker = true) AS
    SELECT * FROM saas.tickets WHERE deleted_at IS NULL;
COMMENT ON VIEW saas.active_tickets IS 'Tickets not soft-deleted.';
DO $do$
DECLARE
    g record;
BEGIN
    FOR g IN SELECT * FROM saas_downgrade_grants LOOP
        EXECUTE pg_catalog.format('GRANT %s ON saas.active_tickets TO %s%s', g.privilege_type,
                                  CASE WHEN g.grantee = 0 THEN 'PUBLIC' ELSE g.grantee::pg_catalog.regrole::text END,  -- regrole output is already quoted
                                  CASE WHEN g.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END);
    END LOOP;
END
$do$;
DROP TABLE saas_downgrade_grants;
