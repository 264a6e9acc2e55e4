-- saas_schema 0.3.0 -> 0.2.0 (downgrade): removes saas.distribute() and puts
-- back the 0.2.0 saas.audit_create_partitions() (not Citus-aware).  On an
-- install that is already distributed the tables stay distributed (that is
-- Citus metadata, not part of the extension); see docs/citus.md.

DROP FUNCTION saas.distribute(integer);
