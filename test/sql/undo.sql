-- Undo from the audit log: saas.revert_record() and saas.revert_transaction()
-- on a random (seeded) history of INSERT/UPDATE/DELETE/soft delete/restore,
-- over every kind of column type, on a row-mode and a statement-mode table;
-- conflicts, forcing, reverting a revert, and row-level security as the
-- application role.  Only aggregate results are printed.
SET client_min_messages = warning;
DROP SCHEMA IF EXISTS saas CASCADE;
DROP SCHEMA IF EXISTS ut CASCADE;
DROP ROLE IF EXISTS regress_undo_app;
CREATE EXTENSION saas_schema CASCADE;
RESET client_min_messages;
SET TimeZone = 'Europe/Paris';
\set SHOW_CONTEXT never

-- Runs a statement and shows its error as SQLSTATE: message [hint].
CREATE FUNCTION pg_temp.err(stmt text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    state text; msg text; hnt text;
BEGIN
    EXECUTE stmt;
    RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, msg = MESSAGE_TEXT, hnt = PG_EXCEPTION_HINT;
    RETURN state || ': ' || msg || CASE WHEN hnt <> '' THEN ' [' || hnt || ']' ELSE '' END;
END
$$;

CREATE SCHEMA ut;
CREATE TYPE ut.color AS ENUM ('red', 'green', 'blue');
CREATE DOMAIN ut.percent AS numeric(5, 2) CHECK (VALUE BETWEEN 0 AND 100);
CREATE TYPE ut.point2 AS (x numeric, y numeric, label text);
CREATE TABLE ut.r (
    organization_id uuid NOT NULL, id uuid NOT NULL,
    c_num numeric, c_int int4, c_bigint int8, c_bool bool, c_text text, c_citext citext,
    c_tstz timestamptz, c_ts timestamp, c_date date, c_interval interval, c_uuid uuid,
    c_jsonb jsonb, c_json json, c_int_arr int[], c_text_arr text[], c_enum ut.color,
    c_domain ut.percent, c_comp ut.point2, c_bytea bytea, c_float float8,
    secret text, deleted_at timestamptz,
    c_generated text GENERATED ALWAYS AS (upper(c_text)) STORED,
    PRIMARY KEY (organization_id, id));
CREATE TABLE ut.s (LIKE ut.r INCLUDING ALL);
SELECT saas.enable_audit('ut.r', ARRAY['secret']);
SELECT saas.enable_audit('ut.s', ARRAY['secret'], mode => 'statement');

-- A random SQL literal for a column (small value sets, so that changes hit
-- the same rows and columns again and again).
CREATE FUNCTION pg_temp.rv(col text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    pick int := floor(random() * 6)::int;
BEGIN
    IF random() < 0.15 THEN RETURN 'NULL'; END IF;
    RETURN CASE col
        WHEN 'c_num' THEN (ARRAY['1.0', '1.00', '1', '1.000', '''NaN''', '-0.5'])[pick + 1]
        WHEN 'c_int' THEN (ARRAY['0', '1', '-1', '2147483647', '42', '7'])[pick + 1]
        WHEN 'c_bigint' THEN (ARRAY['0', '1', '-9223372036854775808', '9007199254740993', '5', '6'])[pick + 1]
        WHEN 'c_bool' THEN (ARRAY['true', 'false', 'true', 'false', 'true', 'false'])[pick + 1]
        WHEN 'c_text' THEN quote_literal((ARRAY['', 'a', 'A', 'quote"q', E'line\nbreak', 'é中😀'])[pick + 1])
        WHEN 'c_citext' THEN quote_literal((ARRAY['abc', 'ABC', 'Abc', '', 'x', 'X'])[pick + 1])
        WHEN 'c_tstz' THEN quote_literal((ARRAY['2026-03-29 01:30+00', '2026-03-29 03:30+02', 'infinity', '1999-12-31 23:59:59.999999+00', '2026-10-25 00:30+00', '0001-01-01 00:00+00'])[pick + 1])
        WHEN 'c_ts' THEN quote_literal((ARRAY['2026-01-01 00:00', '2026-01-01 00:00:00.5', '-infinity', '1970-01-01', '2038-01-19 03:14:07', '2026-01-01 00:00'])[pick + 1])
        WHEN 'c_date' THEN quote_literal((ARRAY['2026-02-28', '2024-02-29', 'infinity', '0044-03-15 BC', '2026-02-28', '2000-01-01'])[pick + 1])
        WHEN 'c_interval' THEN quote_literal((ARRAY['1 day', '24 hours', '1 mon', '30 days', '-1 sec', '0'])[pick + 1])
        WHEN 'c_uuid' THEN quote_literal((ARRAY['00000000-0000-0000-0000-000000000000', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', 'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11', 'ffffffff-ffff-ffff-ffff-ffffffffffff', '12345678-1234-1234-1234-123456789abc', '00000000-0000-0000-0000-000000000001'])[pick + 1])
        WHEN 'c_jsonb' THEN quote_literal((ARRAY['{}', '{"a": 1}', '{"a": 1.0}', '[1, [2, {"b": null}]]', '"str"', 'null'])[pick + 1])
        WHEN 'c_json' THEN quote_literal((ARRAY['{"a": 1}', '{"a":1}', '{ "a" : 1 }', '{"a": 1, "a": 2}', '  3.50 ', '3.5'])[pick + 1])
        WHEN 'c_int_arr' THEN quote_literal((ARRAY['{}', '{1,2}', '{1,NULL}', '{{1,2},{3,4}}', '[0:1]={5,6}', '{1,2}'])[pick + 1])
        WHEN 'c_text_arr' THEN quote_literal((ARRAY['{}', '{a,b}', '{"a b","c\"d"}', '{NULL}', '{A,b}', '{a,b}'])[pick + 1])
        WHEN 'c_enum' THEN quote_literal((ARRAY['red', 'green', 'blue', 'red', 'green', 'blue'])[pick + 1])
        WHEN 'c_domain' THEN (ARRAY['0', '99.5', '100', '12.25', '0.01', '50'])[pick + 1]
        WHEN 'c_comp' THEN quote_literal((ARRAY['(1,2,a)', '(1.0,2,a)', '(,,)', '(3,4,"x y")', '(1,2,A)', '(0,0,"")'])[pick + 1])
        WHEN 'c_bytea' THEN quote_literal((ARRAY['\x', '\x00', '\xdeadbeef', '\x00ff', 'abc', '\x00'])[pick + 1])
        WHEN 'c_float' THEN quote_literal((ARRAY['0', '-0', '1.5', 'NaN', '-Infinity', '1e300'])[pick + 1])
        WHEN 'secret' THEN quote_literal((ARRAY['s1', 's2', 's3', 's4', 's5', 's6'])[pick + 1])
    END;
END $$;
CREATE FUNCTION pg_temp.rid() RETURNS text LANGUAGE sql AS
$$ SELECT quote_literal('00000000-0000-0000-0000-0000000000' || lpad((1 + floor(random() * 8))::int::text, 2, '0')) $$;

SELECT setseed(0.2718);
CREATE TEMP TABLE columns AS
SELECT array_agg(attname::text ORDER BY attnum) AS names FROM pg_attribute
 WHERE attrelid = 'ut.r'::regclass AND attnum > 2 AND attname NOT IN ('deleted_at', 'c_generated');
CREATE TEMP TABLE ops AS
SELECT n, kind, CASE kind
    WHEN 'insert' THEN format('INSERT INTO %%1$s (organization_id, id, %s) VALUES (%L, %s, %s) ON CONFLICT DO NOTHING',
        (SELECT string_agg(quote_ident(c), ', ' ORDER BY o) FROM unnest((SELECT names FROM columns)) WITH ORDINALITY u(c, o)),
        '00000000-0000-0000-0000-00000000000a', pg_temp.rid(),
        (SELECT string_agg(pg_temp.rv(c), ', ' ORDER BY o) FROM unnest((SELECT names FROM columns)) WITH ORDINALITY u(c, o)
          WHERE k.n > 0))
    WHEN 'update' THEN format('UPDATE %%1$s SET %s WHERE id = %s',
        (SELECT string_agg(format('%I = %s', c, pg_temp.rv(c)), ', ')
           FROM (SELECT DISTINCT names[1 + floor(random() * array_length(names, 1))::int] AS c
                   FROM generate_series(1, 1 + floor(random() * 3)::int), columns WHERE k.n > 0) cols), pg_temp.rid())
    WHEN 'bulk_update' THEN 'UPDATE %1$s SET c_int = -c_int, c_text = c_text || ''+'' WHERE c_bool'
    WHEN 'soft_delete' THEN format('UPDATE %%1$s SET deleted_at = %L WHERE id = %s', '2026-06-01 12:00+00', pg_temp.rid())
    WHEN 'restore' THEN format('UPDATE %%1$s SET deleted_at = NULL WHERE id = %s', pg_temp.rid())
    WHEN 'delete' THEN format('DELETE FROM %%1$s WHERE id = %s', pg_temp.rid())
    END AS template
  FROM (SELECT n, CASE WHEN x < 0.30 THEN 'insert' WHEN x < 0.70 THEN 'update' WHEN x < 0.76 THEN 'bulk_update'
                       WHEN x < 0.84 THEN 'soft_delete' WHEN x < 0.88 THEN 'restore' ELSE 'delete' END AS kind
          FROM (SELECT n, random() AS x FROM generate_series(1, 120) n) r) k
 ORDER BY n;
SELECT kind, count(*) FROM ops GROUP BY kind ORDER BY kind;

-- Each operation is one transaction on both tables; after it, the state of
-- both tables (secret included: the revert must leave it as it is now, so it
-- is compared apart) and the transaction id.
CREATE TABLE ut.snapshots (n int, at timestamptz, tbl text, id uuid, row_json jsonb);
CREATE TABLE ut.transactions (n int, xid bigint);
\set ECHO none
SELECT format(template, 'ut.r') || '; ' || format(template, 'ut.s') || '; '
       || format('INSERT INTO ut.transactions VALUES (%s, txid_current()); '
                 'WITH now AS (SELECT clock_timestamp() AS at) '
                 'INSERT INTO ut.snapshots SELECT %s, now.at, ''ut.r'', id, to_jsonb(t) - ''secret'' FROM ut.r t, now '
                 'UNION ALL SELECT %s, now.at, ''ut.s'', id, to_jsonb(t) - ''secret'' FROM ut.s t, now', n, n, n)
  FROM ops ORDER BY n \gexec
\set ECHO all
SELECT (SELECT count(*) FROM ut.r) AS rows_left, count(*) FILTER (WHERE action = 'INSERT') AS inserts,
       count(*) FILTER (WHERE action = 'UPDATE') AS updates, count(*) FILTER (WHERE action = 'DELETE') AS deletes,
       count(*) FILTER (WHERE action = 'SOFT_DELETE') AS soft_deletes, count(*) FILTER (WHERE action = 'RESTORE') AS restores
  FROM saas.audit_logs WHERE table_name = 'ut.r';

-- revert_record(t, id, at) then the row equals its state at that time (as
-- the snapshots and record_as_of have it), or is gone when it did not exist
-- yet; the excluded column (secret) is left as it is.  Every record of both
-- tables, at every tenth step; each revert rolled back before the next.
CREATE TEMP TABLE pool AS
SELECT ('00000000-0000-0000-0000-0000000000' || lpad(i::text, 2, '0'))::uuid AS id FROM generate_series(1, 8) i;
CREATE TEMP TABLE round_trips (tbl text, n int, id uuid, reverted jsonb, expected jsonb, as_of jsonb,
                               secret_before text, secret_after text);
CREATE FUNCTION pg_temp.round_trip(tbl text, step int, rid uuid) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    at timestamptz := (SELECT s.at FROM ut.snapshots s WHERE s.n = step LIMIT 1);
    row_now text := format('SELECT to_jsonb(x) FROM %s AS x WHERE x.id = $1', tbl);
    before jsonb;
    after jsonb;
    as_of jsonb;
BEGIN
    EXECUTE row_now INTO before USING rid;
    BEGIN
        PERFORM saas.revert_record(tbl::regclass, rid, at);
        EXECUTE row_now INTO after USING rid;
        as_of := saas.record_as_of(tbl::regclass, rid, at);
        RAISE EXCEPTION 'roll back';  -- each revert is undone before the next
    EXCEPTION WHEN raise_exception THEN
        NULL;
    END;
    INSERT INTO round_trips
    SELECT tbl, step, rid, after - 'secret',
           (SELECT s.row_json FROM ut.snapshots s WHERE s.n = step AND s.tbl = round_trip.tbl AND s.id = rid),
           as_of, before ->> 'secret', after ->> 'secret';
END $$;
SELECT count(*) AS reverts FROM (SELECT pg_temp.round_trip(t.tbl, s.n, p.id)
  FROM (SELECT DISTINCT n FROM ut.snapshots WHERE n % 10 = 0) s, pool p, (VALUES ('ut.r'), ('ut.s')) t(tbl)) x;
SELECT tbl, count(*) AS reverts,
       count(*) FILTER (WHERE expected IS NULL) AS to_absent,
       count(*) FILTER (WHERE reverted IS DISTINCT FROM expected) AS mismatches_with_snapshot,
       count(*) FILTER (WHERE reverted IS DISTINCT FROM as_of) AS mismatches_with_record_as_of,
       count(*) FILTER (WHERE expected IS NOT NULL AND reverted IS NOT NULL AND secret_after IS DISTINCT FROM secret_before
                              AND secret_before IS NOT NULL) AS secret_changed
  FROM round_trips GROUP BY 1 ORDER BY 1;
-- What revert_record says it did, and left alone; its audit rows say what
-- they revert.
BEGIN;
SELECT r - 'at' - 'id' AS result
  FROM saas.revert_record('ut.r', '00000000-0000-0000-0000-000000000001', (SELECT min(at) FROM ut.snapshots)) r;
SELECT action, metadata->'revert_of_record'->>'table' AS reverts_table, metadata->'revert_of_record'->>'id' AS reverts_record
  FROM saas.audit_logs WHERE transaction_id = txid_current();
ROLLBACK;

-- revert_transaction of every transaction (that changed something), newest
-- first, takes both tables back to where they started: empty.
DO $$
DECLARE
    t record;
BEGIN
    FOR t IN SELECT xid FROM ut.transactions
              WHERE EXISTS (SELECT FROM saas.audit_logs a WHERE a.transaction_id = xid) ORDER BY n DESC LOOP
        PERFORM saas.revert_transaction(t.xid);
    END LOOP;
END
$$;
SELECT (SELECT count(*) FROM ut.r) AS r_rows, (SELECT count(*) FROM ut.s) AS s_rows;

-- Conflicts: the shipped schema, two tenants, the application role.
CREATE ROLE regress_undo_app;
SELECT saas.grant_app_access('regress_undo_app');
INSERT INTO saas.organizations (id, name, slug) VALUES
    ('0190a000-0000-7000-8000-00000000000a', 'Acme', 'acme'),
    ('0190a000-0000-7000-8000-00000000000b', 'Beta', 'beta');
INSERT INTO saas.users (organization_id, id, email, password_hash) VALUES
    ('0190a000-0000-7000-8000-00000000000a', '0190a000-0000-7000-8000-0000000000a1', 'ann@acme.example', 'x'),
    ('0190a000-0000-7000-8000-00000000000b', '0190a000-0000-7000-8000-0000000000b1', 'bob@beta.example', 'x');
INSERT INTO saas.projects (organization_id, id, name) VALUES
    ('0190a000-0000-7000-8000-00000000000a', '0190a000-0000-7000-8000-0000000000a2', 'Launch'),
    ('0190a000-0000-7000-8000-00000000000b', '0190a000-0000-7000-8000-0000000000b2', 'Build');
INSERT INTO saas.tasks (organization_id, project_id, id, title)
SELECT organization_id, id, ('0190a000-0000-7000-8000-00000000' || substr(id::text, 34, 3) || g)::uuid, 'task ' || g
  FROM saas.projects, generate_series(1, 3) g;
SET ROLE regress_undo_app;
BEGIN;
SELECT saas.set_tenant('0190a000-0000-7000-8000-00000000000a') IS NOT NULL AS tenant_set;
UPDATE saas.tasks SET status = 'done', priority = 1 WHERE title IN ('task 1', 'task 2');
SELECT txid_current() AS first_tx \gset
COMMIT;
BEGIN;
SELECT saas.set_tenant('0190a000-0000-7000-8000-00000000000a') IS NOT NULL AS tenant_set;
UPDATE saas.tasks SET priority = 2 WHERE title = 'task 1';
SELECT txid_current() AS second_tx \gset
COMMIT;
BEGIN;
SELECT saas.set_tenant('0190a000-0000-7000-8000-00000000000a') IS NOT NULL AS tenant_set;
-- A later transaction changed priority of task 1: refused, nothing changed.
SELECT regexp_replace(pg_temp.err(format('SELECT saas.revert_transaction(%s)', :first_tx)), '[0-9a-f-]{36}|transaction [0-9]+', '<id>', 'g') AS conflict;
SELECT title, status, priority FROM saas.tasks ORDER BY title;
-- Forced: the later change of priority is overwritten.
SELECT r->'steps' AS steps, r->'forced_over_later_changes' AS forced
  FROM saas.revert_transaction(:first_tx, force => true) r;
SELECT title, status, priority FROM saas.tasks ORDER BY title;
SELECT txid_current() AS revert_tx \gset
COMMIT;
-- The revert is audited like any change, and can itself be reverted.
BEGIN;
SELECT saas.set_tenant('0190a000-0000-7000-8000-00000000000a') IS NOT NULL AS tenant_set;
SELECT count(*) AS revert_audit_rows,
       bool_and((metadata->>'revert_of')::bigint = :first_tx) AS metadata_names_what_it_reverts
  FROM saas.audit_logs WHERE transaction_id = :revert_tx;
SELECT saas.revert_transaction(:revert_tx)->'steps' AS steps;
SELECT title, status, priority FROM saas.tasks ORDER BY title;
COMMIT;
-- Another tenant's transaction and an unknown one give the same error.
BEGIN;
SELECT saas.set_tenant('0190a000-0000-7000-8000-00000000000b') IS NOT NULL AS tenant_set;
SELECT regexp_replace(pg_temp.err(format('SELECT saas.revert_transaction(%s)', :first_tx)), 'transaction [0-9]+', 'transaction N') AS other_tenants;
SELECT regexp_replace(pg_temp.err('SELECT saas.revert_transaction(1)'), 'transaction [0-9]+', 'transaction N') AS unknown;
SELECT regexp_replace(pg_temp.err(format('SELECT saas.revert_record(''saas.tasks'', %L, now() - interval ''1 day'')',
                                         '0190a000-0000-7000-8000-000000000a21')), '[0-9a-f-]{36}', '<id>', 'g') AS other_tenants_record;
SELECT title, status FROM saas.tasks ORDER BY title;
COMMIT;
RESET ROLE;

-- Bad input gets a clear error.
SELECT pg_temp.err($$SELECT saas.revert_record(NULL, '0190a000-0000-7000-8000-000000000a21', now())$$);
SELECT pg_temp.err($$SELECT saas.revert_record('ut.snapshots', '0190a000-0000-7000-8000-000000000a21', now())$$);
SELECT pg_temp.err($$SELECT saas.revert_record('saas.task_tags', '0190a000-0000-7000-8000-000000000a21', now())$$);
SELECT pg_temp.err($$SELECT saas.revert_transaction(NULL)$$);

SET client_min_messages = warning;
DROP SCHEMA ut CASCADE;
DROP SCHEMA saas CASCADE;
RESET client_min_messages;
DROP OWNED BY regress_undo_app;
DROP ROLE regress_undo_app;
