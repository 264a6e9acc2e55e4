-- saas_schema 0.3.0 -> 0.2.0 (downgrade): removes saas.distribute().  On an
-- install that is already distributed the tables stay distributed (that is
-- Citus metadata, not part of the extension); see README "Scaling out with
-- Citus".

\echo Use "ALTER EXTENSION saas_schema UPDATE TO '0.2.0'" to load this file. \quit

DROP FUNCTION saas.distribute(integer);
