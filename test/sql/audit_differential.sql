-- Differential test: a random (seeded) sequence of INSERT/UPDATE/DELETE on a
-- table with every kind of column type, applied to a row-mode and a
-- statement-mode table.  Every audit row must equal a reference computed in
-- SQL from to_jsonb(OLD)/to_jsonb(NEW), recorded by a PL/pgSQL trigger; and
-- saas.record_as_of() must rebuild each row's state at every step from the
-- audit log alone.  Only aggregate results are printed.
SET client_min_messages = warning;
DROP SCHEMA IF EXISTS saas CASCADE;
CREATE EXTENSION saas_schema;
RESET client_min_messages;
SET TimeZone = 'Europe/Paris';
\set SHOW_CONTEXT never

CREATE SCHEMA dt;
CREATE TYPE dt.color AS ENUM ('red', 'green', 'blue');
CREATE DOMAIN dt.percent AS numeric(5, 2) CHECK (VALUE BETWEEN 0 AND 100);
CREATE TYPE dt.point2 AS (x numeric, y numeric, label text);
CREATE TABLE dt.r (
    organization_id uuid NOT NULL, id uuid NOT NULL,
    c_num numeric, c_int int4, c_bigint int8, c_bool bool, c_text text, c_citext citext,
    c_tstz timestamptz, c_ts timestamp, c_date date, c_interval interval, c_uuid uuid,
    c_jsonb jsonb, c_json json, c_int_arr int[], c_text_arr text[], c_enum dt.color,
    c_domain dt.percent, c_comp dt.point2, c_bytea bytea, c_float float8,
    secret text, deleted_at timestamptz,
    PRIMARY KEY (organization_id, id));
CREATE TABLE dt.s (LIKE dt.r INCLUDING ALL);
SELECT saas.enable_audit('dt.r', ARRAY['secret']);
SELECT saas.enable_audit('dt.s', ARRAY['secret'], mode => 'statement');

-- The reference: every row change as to_jsonb (values) and row_to_json
-- (stored text, which tells 1.0 from 1.00 and keeps json as written).
CREATE TABLE dt.reference (seq bigserial, tbl text, op text, old_j jsonb, new_j jsonb, old_t json, new_t json);
CREATE FUNCTION dt.record_reference() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO dt.reference (tbl, op, old_j, new_j, old_t, new_t)
    VALUES (TG_TABLE_SCHEMA || '.' || TG_TABLE_NAME, TG_OP,
            CASE WHEN TG_OP <> 'INSERT' THEN to_jsonb(OLD) END, CASE WHEN TG_OP <> 'DELETE' THEN to_jsonb(NEW) END,
            CASE WHEN TG_OP <> 'INSERT' THEN row_to_json(OLD) END, CASE WHEN TG_OP <> 'DELETE' THEN row_to_json(NEW) END);
    RETURN NULL;
END $$;
CREATE TRIGGER reference AFTER INSERT OR UPDATE OR DELETE ON dt.r FOR EACH ROW EXECUTE FUNCTION dt.record_reference();
CREATE TRIGGER reference AFTER INSERT OR UPDATE OR DELETE ON dt.s FOR EACH ROW EXECUTE FUNCTION dt.record_reference();

-- A random SQL literal for a column; small value sets so that no-op and
-- numerically-equal-but-different updates (1.0 -> 1.00) happen.
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
$$ SELECT quote_literal('00000000-0000-0000-0000-0000000000' || lpad((1 + floor(random() * 12))::int::text, 2, '0')) $$;

-- 300 operations; each is run on both tables, then a snapshot of the row
-- table is taken: all in one transaction per operation.
SELECT setseed(0.4242);
CREATE TEMP TABLE columns AS
SELECT array_agg(attname::text ORDER BY attnum) AS names FROM pg_attribute
 WHERE attrelid = 'dt.r'::regclass AND attnum > 2 AND attname <> 'deleted_at';
CREATE TEMP TABLE ops AS
SELECT n, kind, CASE kind
    WHEN 'insert' THEN format('INSERT INTO %%1$s VALUES (%L, %s, %s, NULL) ON CONFLICT DO NOTHING',
        '00000000-0000-0000-0000-00000000000a', pg_temp.rid(),
        (SELECT string_agg(pg_temp.rv(c), ', ' ORDER BY o) FROM unnest((SELECT names FROM columns)) WITH ORDINALITY u(c, o)
          WHERE k.n > 0))  -- correlated, so it is evaluated for every operation
    WHEN 'update' THEN format('UPDATE %%1$s SET %s WHERE id = %s',
        (SELECT string_agg(format('%I = %s', c, pg_temp.rv(c)), ', ')
           FROM (SELECT DISTINCT names[1 + floor(random() * array_length(names, 1))::int] AS c
                   FROM generate_series(1, 1 + floor(random() * 3)::int), columns WHERE k.n > 0) cols), pg_temp.rid())
    WHEN 'bulk_update' THEN 'UPDATE %1$s SET c_int = -c_int, c_text = c_text || ''+'' WHERE c_bool'
    WHEN 'soft_delete' THEN format('UPDATE %%1$s SET deleted_at = %L WHERE id = %s',
        '2026-06-01 12:00+00', pg_temp.rid())
    WHEN 'restore' THEN format('UPDATE %%1$s SET deleted_at = NULL WHERE id = %s', pg_temp.rid())
    WHEN 'delete' THEN format('DELETE FROM %%1$s WHERE id = %s', pg_temp.rid())
    END AS template
  FROM (SELECT n, CASE WHEN x < 0.30 THEN 'insert' WHEN x < 0.75 THEN 'update' WHEN x < 0.80 THEN 'bulk_update'
                       WHEN x < 0.86 THEN 'soft_delete' WHEN x < 0.90 THEN 'restore' ELSE 'delete' END AS kind
          FROM (SELECT n, random() AS x FROM generate_series(1, 300) n) r) k
 ORDER BY n;
SELECT kind, count(*) FROM ops GROUP BY kind ORDER BY kind;

CREATE TABLE dt.snapshots (n int, at timestamptz, id uuid, row_json jsonb);
\set ECHO none
SELECT format(template, 'dt.r') || '; ' || format(template, 'dt.s') || '; '
       || format('WITH now AS (SELECT clock_timestamp() AS at) '
                 'INSERT INTO dt.snapshots SELECT %s, now.at, id, to_jsonb(t) - ''secret'' FROM dt.r t, now', n)
  FROM ops ORDER BY n \gexec
\set ECHO all

-- The data of both tables is the same, and has seen every kind of change.
SELECT (SELECT count(*) FROM dt.r) AS rows_left,
       (SELECT array_agg(to_jsonb(r) ORDER BY id) FROM dt.r r) = (SELECT array_agg(to_jsonb(s) ORDER BY id) FROM dt.s s) AS same_data;
SELECT tbl, op, count(*) FROM dt.reference GROUP BY 1, 2 ORDER BY 1, 2;

-- Expected audit rows, from the reference: changed columns are those whose
-- stored text changed (secret too: excluded from the values, not from
-- changed_columns), values are to_jsonb's.
CREATE TEMP TABLE expected AS
SELECT tbl, seq, record_id, action, old_values, new_values, changed_columns
  FROM (SELECT r.tbl, r.seq, coalesce(r.new_j, r.old_j)->>'id' AS record_id,
               CASE WHEN r.op <> 'UPDATE' THEN r.op
                    WHEN r.old_j->'deleted_at' = 'null' AND r.new_j->'deleted_at' <> 'null' THEN 'SOFT_DELETE'
                    WHEN r.old_j->'deleted_at' <> 'null' AND r.new_j->'deleted_at' = 'null' THEN 'RESTORE'
                    ELSE 'UPDATE' END AS action,
               CASE WHEN r.op = 'DELETE' THEN r.old_j - 'secret'
                    WHEN r.op = 'UPDATE' THEN (SELECT coalesce(jsonb_object_agg(k, r.old_j->k), '{}') FROM unnest(ch.cols) k WHERE k <> 'secret') END AS old_values,
               CASE WHEN r.op = 'INSERT' THEN r.new_j - 'secret'
                    WHEN r.op = 'UPDATE' THEN (SELECT coalesce(jsonb_object_agg(k, r.new_j->k), '{}') FROM unnest(ch.cols) k WHERE k <> 'secret') END AS new_values,
               CASE WHEN r.op = 'UPDATE' THEN ch.cols END AS changed_columns
          FROM dt.reference r
          LEFT JOIN LATERAL (
              SELECT array_agg(k ORDER BY o) AS cols
                FROM json_object_keys(r.old_t) WITH ORDINALITY j(k, o)
               WHERE (r.old_t->k)::text IS DISTINCT FROM (r.new_t->k)::text) ch ON r.op = 'UPDATE') e
 WHERE action <> 'UPDATE' OR changed_columns IS NOT NULL
    OR action IN ('SOFT_DELETE', 'RESTORE');
-- Pair the n-th expected change of a record with its n-th audit row.
CREATE TEMP TABLE paired AS
SELECT e.tbl AS e_tbl, a.table_name AS a_tbl, e.action AS e_action, a.action AS a_action,
       e.old_values::text = a.old_values::text OR (e.old_values IS NULL AND a.old_values IS NULL) AS old_ok,
       e.new_values::text = a.new_values::text OR (e.new_values IS NULL AND a.new_values IS NULL) AS new_ok,
       e.changed_columns IS NOT DISTINCT FROM a.changed_columns AS changed_ok
  FROM (SELECT *, row_number() OVER (PARTITION BY tbl, record_id ORDER BY seq) AS k FROM expected) e
  FULL JOIN (SELECT *, row_number() OVER (PARTITION BY table_name, record_id ORDER BY created_at, id) AS k
               FROM saas.audit_logs) a
    ON a.table_name = e.tbl AND a.record_id::text = e.record_id AND a.k = e.k;
SELECT coalesce(e_tbl, a_tbl) AS tbl,
       count(*) FILTER (WHERE e_tbl IS NOT NULL) AS expected_rows,
       count(*) FILTER (WHERE a_tbl IS NOT NULL) AS audit_rows,
       count(*) FILTER (WHERE e_action IS DISTINCT FROM a_action OR NOT old_ok OR NOT new_ok OR NOT changed_ok
                              OR e_tbl IS NULL OR a_tbl IS NULL) AS mismatches,
       count(*) FILTER (WHERE e_action = 'UPDATE' AND e_tbl IS NOT NULL) AS updates
  FROM paired GROUP BY 1 ORDER BY 1;
-- Reference changes that wrote no audit row (no change after exclusions).
SELECT tbl, count(*) AS silent_updates FROM dt.reference r
 WHERE op = 'UPDATE' AND NOT EXISTS (SELECT FROM expected e WHERE e.tbl = r.tbl AND e.seq = r.seq)
 GROUP BY 1 ORDER BY 1;
-- Some of them changed only a numeric's scale or a json's text: recorded, as
-- the stored value changed.
SELECT count(*) FILTER (WHERE old_values->'c_num' = new_values->'c_num') > 0 AS scale_only_changes_seen,
       count(*) FILTER (WHERE old_values->'c_json' = new_values->'c_json') > 0 AS json_text_only_changes_seen
  FROM saas.audit_logs WHERE action = 'UPDATE';

-- Replaying the audit log rebuilds every row's state after every operation
-- (NULL for rows that did not exist), for both tables.
CREATE TEMP TABLE pool AS
SELECT ('00000000-0000-0000-0000-0000000000' || lpad(i::text, 2, '0'))::uuid AS id FROM generate_series(1, 12) i;
SELECT t.tbl, count(*) AS states_checked,
       count(*) FILTER (WHERE saas.record_as_of(t.tbl::regclass, p.id, s.at)::text IS DISTINCT FROM
                              (SELECT row_json::text FROM dt.snapshots x WHERE x.n = s.n AND x.id = p.id)) AS mismatches
  FROM (SELECT DISTINCT n, at FROM dt.snapshots) s CROSS JOIN pool p CROSS JOIN (VALUES ('dt.r'), ('dt.s')) t(tbl)
 GROUP BY 1 ORDER BY 1;
-- The final state, once more, against the live rows.
SELECT count(*) AS final_mismatches FROM pool p
 WHERE saas.record_as_of('dt.r', p.id, clock_timestamp())::text IS DISTINCT FROM
       (SELECT (to_jsonb(r) - 'secret')::text FROM dt.r r WHERE r.id = p.id);

-- record_history: a record's rows, oldest first, under the logical name.
SELECT count(*) = (SELECT count(*) FROM saas.audit_logs WHERE table_name = 'dt.r' AND record_id = '00000000-0000-0000-0000-000000000001') AS all_rows,
       bool_and(table_name = 'dt.r') AS logical_name,
       array_agg(created_at ORDER BY created_at) = array_agg(created_at) AS oldest_first
  FROM saas.record_history('dt.r', '00000000-0000-0000-0000-000000000001');
SELECT count(*) AS history_of_unknown_record FROM saas.record_history('dt.r', '00000000-0000-0000-0000-0000000000ff');
SELECT saas.record_as_of('dt.r', '00000000-0000-0000-0000-000000000001', '2000-01-01') AS before_any_change;
SELECT saas.record_as_of('dt.r', '00000000-0000-0000-0000-000000000001', NULL);

SET client_min_messages = warning;
DROP SCHEMA dt CASCADE;
RESET client_min_messages;
