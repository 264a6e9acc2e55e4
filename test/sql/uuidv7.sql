-- saas.uuid_generate_v7(), saas.uuid_v7_to_timestamptz(), saas.uuid_v7_lower_bound()
SET client_min_messages = warning;
DROP SCHEMA IF EXISTS saas CASCADE;
CREATE EXTENSION saas_schema CASCADE;
RESET client_min_messages;
SET TIME ZONE 'UTC';

-- Version nibble 7 and variant bits 10 on every value.
SELECT count(*) AS n,
       bool_and(substr(u::text, 15, 1) = '7') AS version_7,
       bool_and(substr(u::text, 20, 1) IN ('8', '9', 'a', 'b')) AS variant_10
  FROM (SELECT saas.uuid_generate_v7() AS u FROM generate_series(1, 10000)) g;

-- One backend, 1,000,000 calls: unique and strictly increasing in call order.
WITH g AS MATERIALIZED (
    SELECT n, saas.uuid_generate_v7() AS u FROM generate_series(1, 1000000) n
), l AS (
    SELECT n, u, lag(u) OVER (ORDER BY n) AS prev FROM g
)
SELECT count(*) AS n,
       count(DISTINCT u) = count(*) AS unique_values,
       count(*) FILTER (WHERE prev IS NOT NULL AND u <= prev) AS not_increasing
  FROM l;

-- Increasing across statements too (backend state, not per-query state).
CREATE TEMP TABLE seq (n serial, u uuid);
INSERT INTO seq (u) SELECT saas.uuid_generate_v7();
INSERT INTO seq (u) SELECT saas.uuid_generate_v7();
INSERT INTO seq (u) SELECT saas.uuid_generate_v7();
SELECT bool_and(u > prev) AS increasing
  FROM (SELECT u, lag(u) OVER (ORDER BY n) AS prev FROM seq) s WHERE prev IS NOT NULL;

-- The random tail really varies: 1000 values give 1000 distinct last-8-byte tails.
SELECT count(DISTINCT substr(u::text, 20)) AS distinct_tails
  FROM (SELECT saas.uuid_generate_v7() AS u FROM generate_series(1, 1000)) g;

-- The embedded time is the wall clock (ms precision, small tolerance).
SELECT before <= ts + interval '1 ms' AND ts <= after AS within_clock
  FROM (SELECT clock_timestamp() AS before,
               saas.uuid_v7_to_timestamptz(saas.uuid_generate_v7()) AS ts,
               clock_timestamp() AS after) x;

-- Lower bound: known bytes, and the round trip is exact at ms precision.
SELECT saas.uuid_v7_lower_bound('1970-01-01 00:00:00+00');
SELECT saas.uuid_v7_lower_bound('1970-01-01 00:00:00.001+00');
SELECT saas.uuid_v7_lower_bound('2026-01-01 00:00:00+00');
-- 0x019b76da a87b = 1767225600123 ms = 2026-01-01 00:00:00.123 UTC; sub-ms truncated.
SELECT saas.uuid_v7_lower_bound('2026-01-01 00:00:00.123999+00');
SELECT saas.uuid_v7_to_timestamptz('019b76da-a87b-7000-8000-000000000000');
SELECT saas.uuid_v7_to_timestamptz('019b76da-a87b-7fff-bfff-ffffffffffff');
SELECT t, saas.uuid_v7_to_timestamptz(saas.uuid_v7_lower_bound(t)) = date_trunc('milliseconds', t) AS round_trip
  FROM (VALUES ('1970-01-01 00:00:00+00'::timestamptz), ('2001-09-09 01:46:40.5+00'),
               ('2026-03-29 02:30:00.999999+00'), ('10889-08-02 05:31:50.655+00')) v(t);
-- The largest instant a v7 UUID holds: 2^48 - 1 ms after the Unix epoch.
SELECT to_timestamp(281474976710655 / 1000) + interval '655 ms' AS max_v7_instant;
SELECT saas.uuid_v7_lower_bound('10889-08-02 05:31:50.655999+00');

-- Range scans: a value generated now is above the bound of one second ago and
-- below the bound of one second ahead.
SELECT saas.uuid_v7_lower_bound(clock_timestamp() - interval '1 s') <= u
       AND u < saas.uuid_v7_lower_bound(clock_timestamp() + interval '1 s') AS in_range
  FROM (SELECT saas.uuid_generate_v7() AS u) x;

-- Bad inputs.
SELECT saas.uuid_v7_to_timestamptz('4eee1169-46d5-4ec3-b37c-b8201983259c');  -- version 4
SELECT saas.uuid_v7_to_timestamptz('00000000-0000-0000-0000-000000000000');  -- nil
SELECT saas.uuid_v7_to_timestamptz('019b76da-a87b-7000-c000-000000000000');  -- v7 nibble, wrong variant
SELECT saas.uuid_v7_lower_bound('1969-12-31 23:59:59.999+00');
SELECT saas.uuid_v7_lower_bound('10889-08-02 05:31:50.656+00');
SELECT saas.uuid_v7_lower_bound('infinity');
SELECT saas.uuid_v7_lower_bound('-infinity');
-- STRICT: NULL in, NULL out.
SELECT saas.uuid_v7_to_timestamptz(NULL) IS NULL AS null_ts, saas.uuid_v7_lower_bound(NULL) IS NULL AS null_uuid;

-- Declared volatility and parallel safety.
SELECT proname, provolatile, proparallel, proisstrict
  FROM pg_proc WHERE pronamespace = 'saas'::regnamespace AND proname LIKE 'uuid%' ORDER BY proname;

-- As a column default.
CREATE TEMP TABLE k (id uuid PRIMARY KEY DEFAULT saas.uuid_generate_v7(), n int);
INSERT INTO k (n) SELECT generate_series(1, 1000);
SELECT count(*) AS compared, bool_and(id > prev) AS increasing
  FROM (SELECT id, lag(id) OVER (ORDER BY n) AS prev FROM k) s WHERE prev IS NOT NULL;

DROP TABLE k, seq;
DROP SCHEMA saas CASCADE;
