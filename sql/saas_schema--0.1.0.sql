-- saas_schema 0.1.0: install script.  Frozen once released; changes ship as
-- saas_schema--A--B.sql upgrade scripts plus their downgrades.
--
-- Security rules for extension scripts (PostgreSQL docs, "Security
-- Considerations for Extensions"): every reference is schema-qualified, and no
-- CREATE OR REPLACE is used on an object that could already exist.

\echo Use "CREATE EXTENSION saas_schema" to load this file. \quit

-- ============================================================================
-- section: uuidv7 (issue 3)
-- ============================================================================
-- PLACEHOLDER until the C++ generator lands (issue 3 replaces this section).
CREATE FUNCTION saas.uuid_generate_v7() RETURNS uuid
    LANGUAGE sql VOLATILE PARALLEL SAFE
    AS 'SELECT pg_catalog.gen_random_uuid()';

-- ============================================================================
-- section: tables (core, issue 2)
-- ============================================================================

-- ============================================================================
-- section: updated_at trigger (issue 3)
-- ============================================================================

-- ============================================================================
-- section: audit trigger (issue 4)
-- ============================================================================
