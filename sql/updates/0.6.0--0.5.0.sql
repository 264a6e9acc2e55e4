-- saas_schema 0.6.0 -> 0.5.0 (downgrade): set_tenant, set_actor and
-- _audit_export as 0.5.0 shipped them (their reads and writes run as the
-- functions' owner again: see the update), then the lookups they no longer
-- call go.  Functions only.
--#changed-functions
DROP FUNCTION saas._user_is_active(uuid, uuid);
DROP FUNCTION saas._organization_exists(uuid);
--#record-functions
