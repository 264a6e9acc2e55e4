-- Test mode: SET saas.test_seed makes saas.uuid_generate_v7() deterministic
-- for the session; ids stay valid, increasing version-7 UUIDs; the setting is
-- superuser-only and cannot be made a default anywhere.
SET client_min_messages = warning;
DROP SCHEMA IF EXISTS saas CASCADE;
CREATE EXTENSION saas_schema CASCADE;
DROP ROLE IF EXISTS regress_saas_seed;
RESET client_min_messages;
\set VERBOSITY terse

-- Off by default.
SHOW saas.test_seed;
SELECT saas.uuid_v7_to_timestamptz(saas.uuid_generate_v7()) > '2026-01-01' AS real_clock;

CREATE TABLE public.regress_seed_runs (run int, n int, id uuid);
SET saas.test_seed = 42;
INSERT INTO public.regress_seed_runs SELECT 1, n, saas.uuid_generate_v7() FROM generate_series(1, 1000) n;
-- Same seed in a new session: the same ids, in the same order.
\c
SET saas.test_seed = 42;
INSERT INTO public.regress_seed_runs SELECT 2, n, saas.uuid_generate_v7() FROM generate_series(1, 1000) n;
SELECT count(*) AS compared, count(*) FILTER (WHERE a.id = b.id) AS identical
FROM public.regress_seed_runs a JOIN public.regress_seed_runs b ON b.n = a.n AND b.run = 2
WHERE a.run = 1;
CREATE TEMP TABLE run2 AS SELECT n, id FROM public.regress_seed_runs WHERE run = 2;
DROP TABLE public.regress_seed_runs;
SELECT count(*) AS ids FROM run2;
-- The first ids of seed 42 (stable across runs and machines):
SELECT n, id FROM run2 WHERE n <= 3 ORDER BY n;
-- Valid version 7 / variant 10, strictly increasing, unique.
SELECT bool_and(substr(id::text, 15, 1) = '7') AS version_7,
       bool_and(substr(id::text, 20, 1) IN ('8', '9', 'a', 'b')) AS variant_10,
       count(DISTINCT id) = count(*) AS unique_ids
FROM run2;
SELECT count(*) FILTER (WHERE id <= prev) AS not_increasing
FROM (SELECT id, lag(id) OVER (ORDER BY n) AS prev FROM run2) t;
-- Another seed gives other ids; switching off gives real-clock ids.
SET saas.test_seed = 7;
SELECT saas.uuid_generate_v7() <> (SELECT id FROM run2 WHERE n = 1) AS seed_7_differs;
RESET saas.test_seed;
SELECT saas.uuid_v7_to_timestamptz(saas.uuid_generate_v7()) > '2026-01-01' AS real_clock_again;

-- Column defaults use it: rows get the same ids on every run.
SET saas.test_seed = 1;
INSERT INTO saas.organizations (name, slug) VALUES ('Acme', 'acme'), ('Beta', 'beta');
SELECT slug, id FROM saas.organizations ORDER BY id;

-- Guards: never a default for a server, database, role or connection, and
-- superusers only.
ALTER SYSTEM SET saas.test_seed = 1;
ALTER DATABASE contrib_regression SET saas.test_seed = 1;
ALTER ROLE CURRENT_USER SET saas.test_seed = 1;
SET saas.test_seed = -1;
CREATE ROLE regress_saas_seed;
SET ROLE regress_saas_seed;
SET saas.test_seed = 5;
RESET ROLE;
DROP ROLE regress_saas_seed;
-- A typo in the name is refused too (the saas. prefix is reserved).
SET saas.test_sed = 5;
