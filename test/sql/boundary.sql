-- The C/C++ boundary: every kind of C++ exception becomes a PostgreSQL ERROR
-- with a SQLSTATE, and the backend lives on.
SET client_min_messages = warning;
DROP SCHEMA IF EXISTS saas CASCADE;
CREATE EXTENSION saas_schema CASCADE;
RESET client_min_messages;

-- Not part of the extension's API: bound here by hand for the test.
CREATE FUNCTION pg_temp.debug_throw(kind text) RETURNS text
    LANGUAGE c AS '$libdir/saas_schema', 'saas_debug_throw';

-- Reports SQLSTATE, message, detail and hint of the error a call raises.
CREATE FUNCTION pg_temp.caught(kind text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE st text; msg text; det text; hnt text;
BEGIN
    PERFORM pg_temp.debug_throw(kind);
    RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT,
                            det = PG_EXCEPTION_DETAIL, hnt = PG_EXCEPTION_HINT;
    RETURN concat_ws(' | ', st, msg, nullif(det, ''), nullif(hnt, ''));
END $$;

SELECT pg_backend_pid() AS pid_before \gset
SELECT pg_temp.debug_throw('none');
SELECT kind, pg_temp.caught(kind)
FROM unnest(ARRAY['saas', 'std', 'bad_alloc', 'int', 'pg', 'bogus']) AS kind;
SELECT pg_temp.caught(NULL);

-- Uncaught, straight to the client: the error text and the session survive.
\set VERBOSITY default
SELECT pg_temp.debug_throw('saas');
SELECT pg_temp.debug_throw('std');
-- The same backend (no crash, no reconnect) is still alive and usable.
SELECT pg_backend_pid() = :pid_before AS same_backend_alive;
BEGIN;
SAVEPOINT s;
SELECT pg_temp.debug_throw('int');
ROLLBACK TO SAVEPOINT s;
SELECT pg_temp.debug_throw('none') AS after_rollback_to_savepoint;
COMMIT;
-- Many throws in a row do not leak or corrupt state.
SELECT count(*) FILTER (WHERE r LIKE 'XX000%') AS internal_errors,
       count(*) FILTER (WHERE r LIKE '22023%') AS user_errors
FROM (SELECT pg_temp.caught(CASE WHEN i % 2 = 0 THEN 'std' ELSE 'saas' END) AS r
      FROM generate_series(1, 10000) AS i) AS t;
SELECT pg_backend_pid() = :pid_before AS same_backend_after_10000_errors;
