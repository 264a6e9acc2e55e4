-- Value fidelity: every audited value equals to_jsonb(row)->'column', for
-- every kind of column type, compared as JSON text (so 1.0 and 1.00, or
-- timestamp formats, must match exactly, not just compare equal).
SET client_min_messages = warning;
DROP SCHEMA IF EXISTS saas CASCADE;
CREATE EXTENSION saas_schema;
RESET client_min_messages;
-- A zone with DST and an odd offset: timestamptz text depends on it, and the
-- trigger must format like to_jsonb in the same session.
SET TimeZone = 'America/St_Johns';

CREATE SCHEMA typ;
CREATE TYPE typ.mood AS ENUM ('sad', 'ok', 'happy');
CREATE DOMAIN typ.short_text AS text CHECK (length(VALUE) < 50);
CREATE DOMAIN typ.money_amount AS numeric(12, 2);
CREATE TYPE typ.pair AS (at timestamptz, amount numeric, label text, tags text[]);

CREATE TABLE typ.everything (
    organization_id uuid NOT NULL,
    id uuid NOT NULL,
    c_numeric numeric, c_int2 int2, c_int4 int4, c_int8 int8, c_float4 float4, c_float8 float8,
    c_bool bool, c_text text, c_varchar varchar(20), c_char char(5), c_citext citext,
    c_tstz timestamptz, c_ts timestamp, c_date date, c_time time, c_timetz timetz,
    c_interval interval, c_uuid uuid, c_jsonb jsonb, c_json json, c_bytea bytea,
    c_int_arr int[], c_text_arr text[], c_tstz_arr timestamptz[], c_num_arr numeric[],
    c_enum typ.mood, c_enum_arr typ.mood[], c_domain typ.short_text, c_money typ.money_amount,
    c_pair typ.pair, c_pair_arr typ.pair[], c_inet inet, c_point point, c_range tstzrange,
    c_big text,
    updated_at timestamptz,
    PRIMARY KEY (organization_id, id));
SELECT saas.enable_audit('typ.everything');

-- Rows covering NULLs, extremes and special values.
INSERT INTO typ.everything (organization_id, id, c_numeric, c_int2, c_int4, c_int8, c_float4, c_float8,
    c_bool, c_text, c_varchar, c_char, c_citext, c_tstz, c_ts, c_date, c_time, c_timetz, c_interval,
    c_uuid, c_jsonb, c_json, c_bytea, c_int_arr, c_text_arr, c_tstz_arr, c_num_arr, c_enum, c_enum_arr,
    c_domain, c_money, c_pair, c_pair_arr, c_inet, c_point, c_range)
VALUES
 ('00000000-0000-0000-0000-00000000000a', '00000000-0000-0000-0000-000000000001',
  1.50, 32767, -2147483648, 9223372036854775807, 1.5, 3.141592653589793,
  true, 'plain', 'varchar', 'ab', 'MiXeD',
  '2026-03-08 06:30:00.123456+00', '2026-01-01 00:00:00', '2026-02-28', '13:45:01.5', '13:45:01+05:30', '1 year 2 mons 3 days 04:05:06.7',
  'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{"b": [1, 2.50, null], "a": {"x": true}}', '{"b": 1, "a": 2, "b": 3}', '\x00ff10',
  '{1,2,3}', '{"a b","c\"d",NULL}', '{"2026-01-01 00:00+00","2026-07-01 12:00+00"}', '{1.0,NaN,2e-3}', 'happy', '{sad,ok}',
  'domain text', 12.5, ROW('2026-05-05 05:05+00', 7.000, 'lbl', '{x,y}'), ARRAY[ROW('2026-05-05 05:05+00', 1, 'p', NULL)::typ.pair],
  '192.168.0.1/24', '(1.5,-2)', '[2026-01-01 00:00+00,2026-02-01 00:00+00)'),
 ('00000000-0000-0000-0000-00000000000a', '00000000-0000-0000-0000-000000000002',
  'NaN', -32768, 0, -9223372036854775808, 'NaN', 'Infinity',
  false, E'unicode \u00e9\u4e2d \U0001F600 quote" backslash\\ tab\t newline\n', '', '', '',
  'infinity', '-infinity', 'infinity', '00:00', '00:00+00', '-1 days +00:00:01',
  '00000000-0000-0000-0000-000000000000', '"just a string"', '  [1,  "two" , {"three": 3}]  ', '\x',
  '{}', '{}', '{}', '{{1,2},{3,4}}', 'sad', '{}',
  '', 0, ROW(NULL, NULL, NULL, NULL), '{}', '::1', '(0,0)', 'empty'),
 ('00000000-0000-0000-0000-00000000000a', '00000000-0000-0000-0000-000000000003',
  '-Infinity', 1, 1, 1, '-Infinity', '-0',
  NULL, NULL, NULL, NULL, NULL, '0044-03-15 12:00:00 BC', '1999-12-31 23:59:59.999999', '4713-01-01 BC', NULL, NULL, NULL,
  NULL, 'null', 'null', NULL, '{NULL}', NULL, '{NULL,"2026-01-01 00:00+00"}', NULL, NULL, '{NULL,happy}',
  NULL, NULL, NULL, NULL, NULL, NULL, NULL),
 ('00000000-0000-0000-0000-00000000000a', '00000000-0000-0000-0000-000000000004',
  0.000000000000000000001, NULL, NULL, NULL, 1e30, 1e-300,
  NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
  NULL, '123.4500', '123.4500', NULL, NULL, NULL, NULL, '{1e100}', NULL, NULL,
  NULL, NULL, NULL, NULL, NULL, NULL, NULL);

-- A TOASTed text of several MB (random-looking, so it stays large when compressed).
INSERT INTO typ.everything (organization_id, id, c_big)
SELECT '00000000-0000-0000-0000-00000000000a', '00000000-0000-0000-0000-000000000005',
       string_agg(md5(i::text), '') FROM generate_series(1, 150000) i;

-- INSERT: new_values is to_jsonb(row) exactly.
SELECT t.id, a.new_values::text = to_jsonb(t)::text AS insert_matches_to_jsonb
  FROM typ.everything t
  JOIN saas.audit_logs a ON a.record_id = t.id AND a.action = 'INSERT'
 ORDER BY t.id;
-- Per column, for a reviewer: the values recorded for row 1 and row 2.
SELECT key, value FROM saas.audit_logs a, jsonb_each(a.new_values)
 WHERE a.record_id = '00000000-0000-0000-0000-000000000001' AND key <> 'c_big' ORDER BY key;
SELECT key, value FROM saas.audit_logs a, jsonb_each(a.new_values)
 WHERE a.record_id = '00000000-0000-0000-0000-000000000002' AND key <> 'c_big' ORDER BY key;
SELECT length(new_values->>'c_big') AS big_length,
       md5(new_values->>'c_big') = (SELECT md5(c_big) FROM typ.everything WHERE c_big IS NOT NULL) AS big_matches
  FROM saas.audit_logs WHERE record_id = '00000000-0000-0000-0000-000000000005';

-- UPDATE: old and new values of each changed column equal to_jsonb of the
-- row before and after.  Rotate every column's values between the rows.
CREATE TEMP TABLE before_update AS SELECT id, to_jsonb(t) AS j FROM typ.everything t;
SELECT count(*) AS rows_before FROM saas.audit_logs \gset
UPDATE typ.everything t SET
    c_numeric = s.c_numeric, c_int2 = s.c_int2, c_int4 = s.c_int4, c_int8 = s.c_int8, c_float4 = s.c_float4,
    c_float8 = s.c_float8, c_bool = s.c_bool, c_text = s.c_text, c_varchar = s.c_varchar, c_char = s.c_char,
    c_citext = s.c_citext, c_tstz = s.c_tstz, c_ts = s.c_ts, c_date = s.c_date, c_time = s.c_time,
    c_timetz = s.c_timetz, c_interval = s.c_interval, c_uuid = s.c_uuid, c_jsonb = s.c_jsonb, c_json = s.c_json,
    c_bytea = s.c_bytea, c_int_arr = s.c_int_arr, c_text_arr = s.c_text_arr, c_tstz_arr = s.c_tstz_arr,
    c_num_arr = s.c_num_arr, c_enum = s.c_enum, c_enum_arr = s.c_enum_arr, c_domain = s.c_domain,
    c_money = s.c_money, c_pair = s.c_pair, c_pair_arr = s.c_pair_arr, c_inet = s.c_inet, c_point = s.c_point,
    c_range = s.c_range
  FROM typ.everything s
 WHERE s.id = CASE WHEN t.id = '00000000-0000-0000-0000-000000000004' THEN '00000000-0000-0000-0000-000000000001'::uuid
                   WHEN t.id = '00000000-0000-0000-0000-000000000005' THEN '00000000-0000-0000-0000-000000000002'::uuid
                   ELSE ('00000000-0000-0000-0000-00000000000' || (right(t.id::text, 1)::int + 1))::uuid END;
CREATE TEMP TABLE after_update AS SELECT id, to_jsonb(t) AS j FROM typ.everything t;
-- Expected diff, computed in SQL: the columns whose to_jsonb text differs.
CREATE TEMP TABLE expected_diff AS
SELECT b.id,
       (SELECT jsonb_object_agg(o.key, o.value) FROM jsonb_each(b.j) o
         WHERE o.value::text IS DISTINCT FROM (a.j->o.key)::text) AS old_values,
       (SELECT jsonb_object_agg(n.key, n.value) FROM jsonb_each(a.j) n
         WHERE n.value::text IS DISTINCT FROM (b.j->n.key)::text) AS new_values
  FROM before_update b JOIN after_update a USING (id);
SELECT e.id,
       l.old_values::text = e.old_values::text AS old_matches,
       l.new_values::text = e.new_values::text AS new_matches,
       array_length(l.changed_columns, 1) AS changed
  FROM expected_diff e
  LEFT JOIN saas.audit_logs l ON l.record_id = e.id AND l.action = 'UPDATE'
 ORDER BY e.id;
SELECT count(*) - :rows_before AS rows_written FROM saas.audit_logs;

-- An UPDATE that does not touch the TOASTed column does not record it; one
-- that changes it records the new multi-megabyte value exactly.
UPDATE typ.everything SET c_int4 = 42 WHERE id = '00000000-0000-0000-0000-000000000005';
SELECT new_values, changed_columns FROM saas.audit_logs ORDER BY created_at DESC, id DESC LIMIT 1;
UPDATE typ.everything SET c_big = c_big || '!' WHERE id = '00000000-0000-0000-0000-000000000005';
SELECT changed_columns, length(new_values->>'c_big') AS new_length, length(old_values->>'c_big') AS old_length,
       new_values->'c_big' = (SELECT to_jsonb(c_big) FROM typ.everything WHERE id = '00000000-0000-0000-0000-000000000005') AS big_matches
  FROM saas.audit_logs ORDER BY created_at DESC, id DESC LIMIT 1;

-- DELETE: old_values is to_jsonb(row) exactly.
CREATE TEMP TABLE before_delete AS SELECT id, to_jsonb(t) AS j FROM typ.everything t;
DELETE FROM typ.everything;
SELECT b.id, l.old_values::text = b.j::text AS delete_matches_to_jsonb
  FROM before_delete b LEFT JOIN saas.audit_logs l ON l.record_id = b.id AND l.action = 'DELETE'
 ORDER BY b.id;

SET client_min_messages = warning;
DROP SCHEMA typ CASCADE;
RESET client_min_messages;
