-- Edge inputs of every C++ function, partly randomized (setseed: the output
-- is deterministic).  uuid_generate_v7, uuid_v7_to_timestamptz,
-- uuid_v7_lower_bound, current_tenant_id, current_actor_id,
-- _require_transaction_block, set_updated_at and audit_trigger: NULLs, casts,
-- range ends, random differential checks against PostgreSQL's own parsers
-- and to_jsonb, a 1,600-column table, multi-MB TOASTed values, arrays of
-- composites.
SET client_min_messages = warning;
DROP SCHEMA IF EXISTS saas CASCADE;
CREATE EXTENSION saas_schema CASCADE;
RESET client_min_messages;
SET TIME ZONE 'UTC';
SELECT setseed(0.4242);
CREATE SCHEMA edge;

-- ---------------------------------------------------------------------------
-- UUIDv7 helpers
-- ---------------------------------------------------------------------------
-- STRICT: NULL in, NULL out.
SELECT saas.uuid_v7_to_timestamptz(NULL) IS NULL AS to_ts_null,
       saas.uuid_v7_lower_bound(NULL) IS NULL AS lower_bound_null;
-- Casts: text literals, date, timestamp without time zone (session zone UTC).
SELECT saas.uuid_v7_lower_bound('2024-02-29'::date) AS from_date,
       saas.uuid_v7_lower_bound('2024-02-29 12:34:56.789999'::timestamp) AS from_timestamp,
       saas.uuid_v7_to_timestamptz('018dedf1-a8f5-7000-8000-000000000000') AS from_text;
-- Range ends: the Unix epoch, one microsecond before it, the last
-- millisecond of the 48-bit field and one after, infinities.
SELECT saas.uuid_v7_lower_bound('1970-01-01 00:00:00+00') AS epoch,
       saas.uuid_v7_to_timestamptz(saas.uuid_v7_lower_bound('1970-01-01 00:00:00+00')) AS epoch_back;
SELECT saas.uuid_v7_lower_bound('1969-12-31 23:59:59.999999+00');
SELECT saas.uuid_v7_lower_bound('10889-08-02 05:31:50.655+00') AS last_ms,
       saas.uuid_v7_to_timestamptz(saas.uuid_v7_lower_bound('10889-08-02 05:31:50.655999+00')) AS last_back;
SELECT saas.uuid_v7_lower_bound('10889-08-02 05:31:50.656+00');
SELECT saas.uuid_v7_lower_bound('infinity');
SELECT saas.uuid_v7_lower_bound('-infinity');
SELECT saas.uuid_v7_lower_bound('4713-01-01 BC');
SELECT saas.uuid_v7_to_timestamptz('ffffffff-ffff-7fff-bfff-ffffffffffff') AS max_v7;
-- Not version 7, or not the RFC variant.
SELECT saas.uuid_v7_to_timestamptz('00000000-0000-0000-0000-000000000000');
SELECT saas.uuid_v7_to_timestamptz('018dedf1-a8f5-4000-8000-000000000000');
SELECT saas.uuid_v7_to_timestamptz('018dedf1-a8f5-7000-c000-000000000000');

-- Random round trip: for 20,000 random timestamps (microsecond precision,
-- whole range), lower_bound -> to_timestamptz gives the millisecond floor,
-- and the bound sorts at or below every v7 UUID of that millisecond.
WITH r AS (
    SELECT timestamptz '1970-01-01 00:00:00+00'
           + make_interval(secs => floor(random() * 2^48)::float8 / 1000 + floor(random() * 1000) / 1e6) AS ts
      FROM generate_series(1, 20000))
SELECT count(*) AS n,
       count(*) FILTER (WHERE saas.uuid_v7_to_timestamptz(saas.uuid_v7_lower_bound(ts))
                              <> date_trunc('milliseconds', ts)) AS wrong_floor,
       count(*) FILTER (WHERE saas.uuid_v7_lower_bound(ts) > saas.uuid_v7_lower_bound(date_trunc('milliseconds', ts))
                           OR saas.uuid_v7_lower_bound(ts) <> saas.uuid_v7_lower_bound(date_trunc('milliseconds', ts))) AS not_floor_bound,
       count(*) FILTER (WHERE saas.uuid_v7_lower_bound(ts) > saas.uuid_v7_lower_bound(ts + interval '1 millisecond')) AS not_monotonic
  FROM r;
-- Random UUIDs: to_timestamptz accepts exactly version 7 with variant 10,
-- and then returns the first 48 bits as Unix milliseconds.
CREATE FUNCTION edge.try_to_ms(u uuid) RETURNS bigint LANGUAGE plpgsql AS $$
BEGIN
    RETURN (extract(epoch FROM saas.uuid_v7_to_timestamptz(u)) * 1000)::bigint;
EXCEPTION WHEN invalid_parameter_value THEN
    RETURN -1;
END $$;
WITH r AS (
    SELECT (lpad(to_hex(floor(random() * 2^32)::bigint), 8, '0') || lpad(to_hex(floor(random() * 2^16)::int), 4, '0')
            || (ARRAY['4', '7', '7', '7', 'f'])[1 + floor(random() * 5)::int]
            || lpad(to_hex(floor(random() * 2^12)::int), 3, '0')
            || (ARRAY['0', '8', '9', 'a', 'b', 'c', 'f'])[1 + floor(random() * 7)::int]
            || lpad(to_hex(floor(random() * 2^32)::bigint), 8, '0') || lpad(to_hex(floor(random() * 2^28)::int), 7, '0'))::uuid AS u
      FROM generate_series(1, 5000)),
e AS (
    SELECT u, edge.try_to_ms(u) AS got,
           CASE WHEN substr(u::text, 15, 1) = '7' AND substr(u::text, 20, 1) IN ('8', '9', 'a', 'b')
                THEN ('x' || substr(replace(u::text, '-', ''), 1, 12))::bit(48)::bigint
                ELSE -1 END AS want
      FROM r)
SELECT count(*) AS n, count(*) FILTER (WHERE want <> -1) AS v7, count(*) FILTER (WHERE got <> want) AS mismatches
  FROM e;
-- Generated values: version 7, variant 10, timestamp within the call's clock.
WITH g AS (SELECT clock_timestamp() AS t0, saas.uuid_generate_v7() AS u, clock_timestamp() AS t1
             FROM generate_series(1, 1000))
SELECT count(*) FILTER (WHERE saas.uuid_v7_to_timestamptz(u) < date_trunc('milliseconds', t0)
                           OR saas.uuid_v7_to_timestamptz(u) > t1 + interval '1 millisecond') AS outside_clock
  FROM g;

-- ---------------------------------------------------------------------------
-- current_tenant_id / current_actor_id / _require_transaction_block
-- ---------------------------------------------------------------------------
-- Unset and empty are NULL.
SELECT saas.current_tenant_id() IS NULL AS tenant_unset, saas.current_actor_id() IS NULL AS actor_unset;
BEGIN;
SET LOCAL app.current_tenant_id = '';
SET LOCAL app.current_user_id = '';
SELECT saas.current_tenant_id() IS NULL AS tenant_empty, saas.current_actor_id() IS NULL AS actor_empty;
ROLLBACK;
-- Differential: for random near-UUID strings, both functions (and the audit
-- trigger's user id parser) accept exactly what uuid_in accepts, with the
-- same value (each valid one is made an active user of itself as tenant:
-- only such an actor is recorded).  Strings: canonical, upper case, braces, hyphens anywhere or
-- nowhere, one digit short or long, a stray character, whitespace.
CREATE TABLE edge.who (organization_id uuid NOT NULL, id uuid NOT NULL DEFAULT saas.uuid_generate_v7(),
                       note text, PRIMARY KEY (organization_id, id));
SELECT saas.enable_audit('edge.who');
CREATE FUNCTION edge.mutate(s text) RETURNS text LANGUAGE sql VOLATILE AS $$
    SELECT CASE floor(random() * 10)::int
        WHEN 0 THEN s
        WHEN 1 THEN upper(s)
        WHEN 2 THEN '{' || s || '}'
        WHEN 3 THEN replace(s, '-', '')
        WHEN 4 THEN overlay(replace(s, '-', '') placing '-' from (1 + floor(random() * 32))::int for 0)
        WHEN 5 THEN left(s, length(s) - 1)
        WHEN 6 THEN s || (ARRAY['0', 'g', ' ', '}', '-'])[1 + floor(random() * 5)::int]
        WHEN 7 THEN overlay(s placing (ARRAY['g', ' ', '-', 'Z', '{'])[1 + floor(random() * 5)::int]
                            from (1 + floor(random() * 36))::int for 1)
        WHEN 8 THEN '{' || replace(s, '-', '') || '}'
        ELSE ' ' || s
    END
$$;
CREATE FUNCTION edge.parse_differential(iterations int) RETURNS TABLE (tried int, valid int, mismatches int)
LANGUAGE plpgsql AS $$
DECLARE
    s text;
    want uuid;
    want_ok boolean;
    want_text text;
    got_tenant text;
    got_actor text;
    got_audit text;
    org constant uuid := '00000000-0000-7000-8000-0000000000aa';
BEGIN
    tried := 0; valid := 0; mismatches := 0;
    FOR i IN 1 .. iterations LOOP
        s := edge.mutate(md5(random()::text)::uuid::text);
        BEGIN want := s::uuid; want_ok := true;
        EXCEPTION WHEN invalid_text_representation THEN want_ok := false; END;
        IF want_ok THEN  -- an actor is recorded only as an active user of the tenant
            PERFORM set_config('saas.audit_enabled', 'off', true);
            INSERT INTO saas.organizations (id, name, slug)
                VALUES (want, 'o', 'o-' || replace(want::text, '-', '')) ON CONFLICT DO NOTHING;
            INSERT INTO saas.users (id, organization_id, email, password_hash)
                VALUES (want, want, replace(want::text, '-', '') || '@x.example', 'h') ON CONFLICT DO NOTHING;
            PERFORM set_config('saas.audit_enabled', 'on', true);
        END IF;
        PERFORM set_config('app.current_tenant_id', s, true);
        PERFORM set_config('app.current_user_id', s, true);
        BEGIN got_tenant := saas.current_tenant_id()::text;
        EXCEPTION WHEN invalid_text_representation THEN got_tenant := 'error'; END;
        BEGIN got_actor := saas.current_actor_id()::text;
        EXCEPTION WHEN invalid_text_representation THEN got_actor := 'error'; END;
        BEGIN
            INSERT INTO edge.who (organization_id, note) VALUES (org, s);
            SELECT user_id::text INTO got_audit FROM saas.audit_logs
             WHERE table_name = 'edge.who' AND new_values->>'note' = s ORDER BY id DESC LIMIT 1;
        EXCEPTION WHEN invalid_text_representation THEN got_audit := 'error'; END;
        tried := tried + 1;
        IF want_ok THEN valid := valid + 1; want_text := want::text; ELSE want_text := 'error'; END IF;
        IF got_tenant IS DISTINCT FROM want_text
           OR got_actor IS DISTINCT FROM got_tenant OR got_audit IS DISTINCT FROM got_tenant THEN
            mismatches := mismatches + 1;
            RAISE NOTICE 'mismatch for "%": uuid_in %, tenant %, actor %, audit %',
                s, want_text, got_tenant, got_actor, got_audit;
        END IF;
    END LOOP;
    PERFORM set_config('app.current_tenant_id', '', true);
    PERFORM set_config('app.current_user_id', '', true);
    RETURN NEXT;
END $$;
BEGIN;
SELECT * FROM edge.parse_differential(3000);
ROLLBACK;
-- The SQLSTATE and the start of the message of an error (long inputs make
-- long messages).
CREATE FUNCTION edge.error_of(sql text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE sql;
    RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || left(SQLERRM, 60) || ' (' || length(SQLERRM) || ' chars)';
END $$;
-- Very long values (longer than any cache buffer) are refused, not
-- truncated; a valid uuid followed by a long tail too; then the same valid
-- uuid alone is accepted (no stale cache entry).
BEGIN;
SELECT set_config('app.current_tenant_id', repeat('0', 5000), true) IS NOT NULL AS set;
SELECT edge.error_of('SELECT saas.current_tenant_id()');
SELECT set_config('app.current_tenant_id', '00000000-0000-7000-8000-00000000000a' || repeat(' ', 100), true) IS NOT NULL AS set;
SELECT edge.error_of('SELECT saas.current_tenant_id()');
SELECT set_config('app.current_tenant_id', '00000000-0000-7000-8000-00000000000a' || repeat('0', 30), true) IS NOT NULL AS set;
SELECT edge.error_of('SELECT saas.current_tenant_id()');
SELECT set_config('app.current_tenant_id', '00000000-0000-7000-8000-00000000000a', true) IS NOT NULL AS set;
SELECT saas.current_tenant_id();
SET LOCAL saas.audit_enabled = off;
INSERT INTO saas.organizations (id, name, slug) VALUES ('00000000-0000-7000-8000-00000000000a', 'A', 'edge-a');
INSERT INTO saas.users (id, organization_id, email, password_hash)
    VALUES ('00000000-0000-7000-8000-000000000000', '00000000-0000-7000-8000-00000000000a', 'u0@a.example', 'h');
SELECT set_config('app.current_user_id', '{00000000000070008000000000000000}', true) IS NOT NULL AS set;
SELECT saas.current_actor_id(), saas.current_tenant_id();
ROLLBACK;
-- _require_transaction_block: NULL caller, a long caller (3,000 characters inside),
-- outside and inside a block.
SELECT saas._require_transaction_block(NULL);
SELECT saas._require_transaction_block(repeat('x', 200));
-- Note: inside a PL/pgSQL EXCEPTION block (a subtransaction) the check
-- cannot tell an implicit transaction from BEGIN and accepts the call; the
-- setting then lasts until the enclosing statement's transaction ends.
SELECT edge.error_of($$SELECT saas._require_transaction_block('f')$$);
BEGIN;
SELECT saas._require_transaction_block(NULL);
SELECT saas._require_transaction_block(repeat('x', 3000));
COMMIT;

-- ---------------------------------------------------------------------------
-- 1,600 columns (the maximum) with audit and updated_at
-- ---------------------------------------------------------------------------
DO $$
BEGIN
    EXECUTE 'CREATE TABLE edge.wide (organization_id uuid NOT NULL, id uuid NOT NULL, updated_at timestamptz, '
            || (SELECT string_agg(format('c%s int', g), ', ' ORDER BY g) FROM generate_series(4, 1600) g)
            || ', PRIMARY KEY (organization_id, id))';
END $$;
SELECT count(*) AS columns FROM pg_attribute WHERE attrelid = 'edge.wide'::regclass AND attnum > 0;
SELECT saas.enable_audit('edge.wide');
SELECT saas.enable_updated_at('edge.wide');
DO $$
BEGIN
    EXECUTE 'INSERT INTO edge.wide (organization_id, id, '
            || (SELECT string_agg(format('c%s', g), ', ' ORDER BY g) FROM generate_series(4, 1600) g)
            || ') VALUES (''00000000-0000-7000-8000-0000000000bb'', ''00000000-0000-7000-8000-000000000001'', '
            || (SELECT string_agg(CASE WHEN g % 7 = 0 THEN 'NULL' ELSE g::text END, ', ' ORDER BY g)
                  FROM generate_series(4, 1600) g) || ')';
END $$;
-- The INSERT audit row is the whole row: 1,600 keys, equal to to_jsonb.
SELECT (SELECT count(*) FROM jsonb_object_keys(a.new_values)) AS keys,
       a.new_values = to_jsonb(w) AS equals_to_jsonb, w.updated_at IS NOT NULL AS stamped
  FROM saas.audit_logs a, edge.wide w WHERE a.table_name = 'edge.wide' AND a.action = 'INSERT';
UPDATE edge.wide SET c800 = -800, c1600 = NULL, c7 = 7;
SELECT changed_columns, old_values - 'updated_at' AS old, new_values - 'updated_at' AS new
  FROM saas.audit_logs WHERE table_name = 'edge.wide' AND action = 'UPDATE';
-- Every column changes at once.
DO $$
BEGIN
    EXECUTE 'UPDATE edge.wide SET '
            || (SELECT string_agg(format('c%s = coalesce(c%s, 0) + 1', g, g), ', ') FROM generate_series(4, 1600) g);
END $$;
SELECT cardinality(changed_columns) AS changed, (SELECT count(*) FROM jsonb_object_keys(new_values)) AS new_keys,
       (new_values->>'c1600')::int AS c1600, (old_values->>'c1600') IS NULL AS old_c1600_null
  FROM saas.audit_logs WHERE table_name = 'edge.wide' AND action = 'UPDATE' ORDER BY id DESC LIMIT 1;
-- A dropped column in the middle: gone from the audit, the rest unchanged.
ALTER TABLE edge.wide DROP COLUMN c900;
UPDATE edge.wide SET c901 = 0;
SELECT changed_columns FROM saas.audit_logs WHERE table_name = 'edge.wide' AND action = 'UPDATE' ORDER BY id DESC LIMIT 1;
-- A no-op UPDATE is not audited and keeps updated_at.
CREATE TEMP TABLE wide_before AS SELECT updated_at FROM edge.wide;
UPDATE edge.wide SET c4 = c4;
SELECT (SELECT count(*) FROM saas.audit_logs WHERE table_name = 'edge.wide') AS audit_rows,
       (SELECT w.updated_at = b.updated_at FROM edge.wide w, wide_before b) AS updated_at_kept;
DELETE FROM edge.wide;
SELECT (SELECT count(*) FROM jsonb_object_keys(old_values)) AS deleted_keys
  FROM saas.audit_logs WHERE table_name = 'edge.wide' AND action = 'DELETE';

-- ---------------------------------------------------------------------------
-- TOAST: multi-MB values, row and statement mode
-- ---------------------------------------------------------------------------
-- Barely compressible values (md5 chains), so they are stored out of line.
CREATE TABLE edge.big (organization_id uuid NOT NULL, id uuid NOT NULL, note text, doc text, data bytea,
                       payload jsonb, updated_at timestamptz, PRIMARY KEY (organization_id, id));
SELECT saas.enable_audit('edge.big');
SELECT saas.enable_updated_at('edge.big');
CREATE TEMP TABLE big_src AS
SELECT (SELECT string_agg(md5(g::text || random()::text), '') FROM generate_series(1, 131072) g) AS doc,
       (SELECT string_agg(md5(g::text || random()::text), '') FROM generate_series(1, 32768) g) AS hex;
INSERT INTO edge.big
SELECT '00000000-0000-7000-8000-0000000000cc', '00000000-0000-7000-8000-000000000001', 'n', doc,
       decode(hex, 'hex'), jsonb_build_object('text', left(doc, 2000000), 'n', 1), NULL
  FROM big_src;
SELECT length(doc) AS doc_len, length(data) AS data_len, pg_column_size(doc) > 2000000 AS doc_toasted_uncompressed
  FROM edge.big;
SELECT length(new_values->>'doc') AS doc_len, md5(new_values->>'doc') = (SELECT md5(doc) FROM edge.big) AS doc_same,
       new_values->'data' = to_jsonb((SELECT data FROM edge.big)) AS data_same,
       new_values->'payload' = (SELECT payload FROM edge.big) AS payload_same
  FROM saas.audit_logs WHERE table_name = 'edge.big' AND action = 'INSERT';
-- Touching another column: the TOASTed columns are unchanged, not recorded.
UPDATE edge.big SET note = 'changed';
SELECT changed_columns, pg_column_size(old_values) < 1000 AS small_diff
  FROM saas.audit_logs WHERE table_name = 'edge.big' ORDER BY id DESC LIMIT 1;
-- One character at the end of 4 MB changes: recorded, exactly.
UPDATE edge.big SET doc = left(doc, -1) || 'X';
SELECT changed_columns, right(old_values->>'doc', 1) <> 'X' AS old_end, right(new_values->>'doc', 1) AS new_end,
       md5(new_values->>'doc') = (SELECT md5(doc) FROM edge.big) AS new_same
  FROM saas.audit_logs WHERE table_name = 'edge.big' ORDER BY id DESC LIMIT 1;
-- Statement mode (transition tables) gives the same diffs.
SELECT saas.enable_audit('edge.big', mode => 'statement');
UPDATE edge.big SET note = 'statement';
SELECT changed_columns FROM saas.audit_logs WHERE table_name = 'edge.big' ORDER BY id DESC LIMIT 1;
UPDATE edge.big SET payload = payload || '{"n": 2}';
SELECT changed_columns, (new_values->'payload'->>'n')::int AS n,
       length(new_values->'payload'->>'text') AS text_len
  FROM saas.audit_logs WHERE table_name = 'edge.big' ORDER BY id DESC LIMIT 1;
-- A huge row: three more multi-MB columns at once (about 12 MB of values).
ALTER TABLE edge.big ADD COLUMN doc2 text, ADD COLUMN doc3 text;
UPDATE edge.big SET doc2 = doc || doc, doc3 = reverse(doc);
SELECT changed_columns, length(new_values->>'doc2') AS doc2_len, pg_column_size(new_values) > 8000000 AS big_audit_row
  FROM saas.audit_logs WHERE table_name = 'edge.big' ORDER BY id DESC LIMIT 1;
DELETE FROM edge.big;
SELECT length(old_values->>'doc3') AS doc3_len, old_values->>'note' AS note
  FROM saas.audit_logs WHERE table_name = 'edge.big' AND action = 'DELETE';

-- ---------------------------------------------------------------------------
-- Arrays of composites (nested, NULL elements and fields, multi-dimensional)
-- ---------------------------------------------------------------------------
CREATE TYPE edge.line AS (sku text, qty int, price numeric, at timestamptz, tags text[]);
CREATE TYPE edge.box AS (label text, lines edge.line[]);
CREATE DOMAIN edge.lines AS edge.line[];
CREATE TABLE edge.orders (organization_id uuid NOT NULL, id uuid NOT NULL DEFAULT saas.uuid_generate_v7(),
                          lines edge.line[], boxes edge.box[], grid edge.line[][], dl edge.lines,
                          updated_at timestamptz, PRIMARY KEY (organization_id, id));
SELECT saas.enable_audit('edge.orders');
SELECT saas.enable_updated_at('edge.orders');
INSERT INTO edge.orders (organization_id, lines, boxes, grid, dl) VALUES
 ('00000000-0000-7000-8000-0000000000dd',
  ARRAY[('a', 1, 1.50, '2024-01-01 00:00:00+00', '{x,y}')::edge.line, NULL, ('b"\', NULL, 'NaN', NULL, '{NULL,""}')::edge.line],
  ARRAY[('box 1', ARRAY[('c', 2, 0.1, NULL, NULL)::edge.line])::edge.box, ('empty', '{}')::edge.box, NULL],
  ARRAY[[('g1', 1, 1, NULL, '{}')::edge.line, NULL], [NULL, ('g4', 4, 4e10, 'infinity', '{a}')::edge.line]],
  ARRAY[('d', 9, -0.5, '2024-06-30 23:59:59.999999+00', '{"with space"}')::edge.line]),
 ('00000000-0000-7000-8000-0000000000dd', '{}', NULL, '{}', NULL),
 ('00000000-0000-7000-8000-0000000000dd', ARRAY[NULL::edge.line], ARRAY[NULL::edge.box], NULL, '{}');
-- Each audited value equals to_jsonb's, compared as text.
SELECT count(*) AS rows,
       count(*) FILTER (WHERE (a.new_values - 'updated_at')::text = (to_jsonb(o) - 'updated_at')::text) AS same
  FROM edge.orders o JOIN saas.audit_logs a ON a.record_id = o.id AND a.action = 'INSERT';
-- Changing one element deep inside is one changed column, with the old and
-- new arrays exactly as to_jsonb gives them.
CREATE TEMP TABLE orders_before AS SELECT id, to_jsonb(o) AS j FROM edge.orders o;
UPDATE edge.orders SET boxes[1].lines = ARRAY[('c', 3, 0.1, NULL, NULL)::edge.line] WHERE boxes IS NOT NULL AND boxes[1] IS NOT NULL;
SELECT a.changed_columns, a.old_values->'boxes' = b.j->'boxes' AS old_same,
       (a.new_values->'boxes')::text = (to_jsonb(o)->'boxes')::text AS new_same,
       a.new_values->'boxes'->0->'lines'->0->>'qty' AS qty
  FROM saas.audit_logs a JOIN edge.orders o ON o.id = a.record_id JOIN orders_before b ON b.id = o.id
 WHERE a.table_name = 'edge.orders' AND a.action = 'UPDATE';

-- ---------------------------------------------------------------------------
-- Randomized differential: random INSERT/UPDATE/DELETE rounds on a table of
-- mixed types; after every statement the audit rows must be exactly the
-- to_jsonb difference of the rows before and after (as text).
-- ---------------------------------------------------------------------------
CREATE TABLE edge.rnd (organization_id uuid NOT NULL, id uuid NOT NULL DEFAULT saas.uuid_generate_v7(),
                       i int, b bigint, n numeric, f float8, t text, flag boolean, d date, ts timestamptz,
                       j jsonb, arr int[], ln edge.line, secret text, updated_at timestamptz,
                       PRIMARY KEY (organization_id, id));
SELECT saas.enable_audit('edge.rnd', excluded_columns => '{secret}');
SELECT saas.enable_updated_at('edge.rnd');
CREATE FUNCTION edge.rval(kind text) RETURNS text LANGUAGE sql VOLATILE AS $$
    SELECT CASE WHEN random() < 0.2 THEN NULL ELSE CASE kind
        WHEN 'i' THEN (floor(random() * 5) - 2)::text
        WHEN 'b' THEN (ARRAY['0', '9223372036854775807', '-9223372036854775808', '42'])[1 + floor(random() * 4)::int]
        WHEN 'n' THEN (ARRAY['1.0', '1.00', '-0', 'NaN', 'Infinity', '123456789012345678901234567890.5'])[1 + floor(random() * 6)::int]
        WHEN 'f' THEN (ARRAY['0.5', '-1e300', 'Infinity', '1'])[1 + floor(random() * 4)::int]
        WHEN 't' THEN (ARRAY['', 'a', E'tab\there', 'quote"\\', 'ünïcødé ✓', repeat('z', 3000)])[1 + floor(random() * 6)::int]
        WHEN 'flag' THEN (random() < 0.5)::text
        WHEN 'd' THEN (ARRAY['2024-02-29', 'infinity', '0001-01-01 BC', '2000-01-01'])[1 + floor(random() * 4)::int]
        WHEN 'ts' THEN (ARRAY['2024-02-29 12:00:00+00', '-infinity', '1999-12-31 23:59:59.999999+00'])[1 + floor(random() * 3)::int]
        WHEN 'j' THEN (ARRAY['{}', '[]', '"s"', 'null', '{"a": [1, {"b": null}]}', '1.50'])[1 + floor(random() * 6)::int]
        WHEN 'arr' THEN (ARRAY['{}', '{1,NULL,3}', '{{1,2},{3,4}}', '{1}'])[1 + floor(random() * 4)::int]
        WHEN 'ln' THEN (ARRAY['(a,1,1.5,,{x})', '(,,,,)', '("b c",2,NaN,infinity,"{NULL}")'])[1 + floor(random() * 3)::int]
        ELSE md5(random()::text) END END
$$;
CREATE FUNCTION edge.random_rounds(rounds int) RETURNS TABLE (statements int, audited int, mismatches int)
LANGUAGE plpgsql AS $$
DECLARE
    cols constant text[] := '{i,b,n,f,t,flag,d,ts,j,arr,ln,secret}';
    types constant text[] := '{int,bigint,numeric,float8,text,boolean,date,timestamptz,jsonb,int[],edge.line,text}';
    org constant uuid := '00000000-0000-7000-8000-0000000000ee';
    op int;
    sets text;
    bad int;
    got int;
    last_audit uuid := saas.uuid_v7_lower_bound('1970-01-01 00:00:00+00');
BEGIN
    statements := 0; audited := 0; mismatches := 0;
    FOR r IN 1 .. rounds LOOP
        CREATE TEMP TABLE rnd_before AS SELECT id, to_jsonb(x) - 'secret' AS j, x.j IS NULL AS jn, x.secret AS s FROM edge.rnd x;
        op := CASE WHEN r <= 5 THEN 0 ELSE floor(random() * 10)::int END;
        IF op <= 2 THEN
            EXECUTE format('INSERT INTO edge.rnd (organization_id, %s) SELECT $1, %s FROM generate_series(1, 1 + floor(random() * 5)::int)',
                           array_to_string(cols, ', '),
                           (SELECT string_agg(format('edge.rval(%L)::%s', c, t), ', ')
                              FROM unnest(cols, types) AS u(c, t)))
                USING org;
        ELSIF op <= 8 THEN
            SELECT string_agg(format('%I = edge.rval(%L)::%s', c, c, t), ', ') INTO sets
              FROM unnest(cols, types) AS u(c, t) WHERE random() < 0.3;
            IF sets IS NULL THEN sets := 'i = i'; END IF;
            EXECUTE format('UPDATE edge.rnd SET %s WHERE random() < 0.5', sets);
        ELSE
            DELETE FROM edge.rnd WHERE random() < 0.2;
        END IF;
        statements := statements + 1;
        -- Expected: per row, the keys whose text differs (updated_at
        -- alone is no change; the excluded secret is named, its values
        -- never recorded); compared with this statement's audit rows.
        -- SQL NULL and JSON null of the jsonb column j look alike in
        -- to_jsonb (and in the audit row) but are a change: jn tells them apart.
        CREATE TEMP TABLE rnd_after AS SELECT id, to_jsonb(x) - 'secret' AS j, x.j IS NULL AS jn, x.secret AS s FROM edge.rnd x;
        CREATE TEMP TABLE rnd_audit AS
            SELECT * FROM saas.audit_logs WHERE table_name = 'edge.rnd' AND id > last_audit;
        CREATE TEMP TABLE rnd_cmp AS
        WITH expected AS (
            SELECT coalesce(a.id, b.id) AS id,
                   CASE WHEN b.id IS NULL THEN 'INSERT' WHEN a.id IS NULL THEN 'DELETE' ELSE 'UPDATE' END AS action,
                   CASE WHEN b.id IS NULL OR a.id IS NULL THEN NULL
                        ELSE (SELECT array_agg(k ORDER BY k)
                                FROM (SELECT k FROM jsonb_object_keys(a.j) AS o(k)
                                       WHERE (a.j->k)::text IS DISTINCT FROM (b.j->k)::text
                                          OR k = 'j' AND a.jn <> b.jn
                                      UNION ALL SELECT 'secret' WHERE a.s IS DISTINCT FROM b.s) q) END AS changed,
                   b.j AS old_j, a.j AS new_j
              FROM rnd_after a FULL JOIN rnd_before b ON a.id = b.id),
        wanted AS (
            SELECT * FROM expected
             WHERE action <> 'UPDATE' OR changed IS NOT NULL AND changed <> '{updated_at}'),
        cmp AS (
            SELECT w.id AS wid, x.id AS xid, w.action AS waction, x.action AS xaction,
                   w.changed, (SELECT array_agg(c ORDER BY c) FROM unnest(x.changed_columns) c) AS xchanged,
                   CASE w.action WHEN 'INSERT' THEN w.new_j::text = x.new_values::text
                                 WHEN 'DELETE' THEN w.old_j::text = x.old_values::text
                                 ELSE (SELECT coalesce(jsonb_object_agg(k, w.old_j->k), '{}') FROM unnest(w.changed) k
                                        WHERE k <> 'secret')::text = x.old_values::text
                                  AND (SELECT coalesce(jsonb_object_agg(k, w.new_j->k), '{}') FROM unnest(w.changed) k
                                        WHERE k <> 'secret')::text = x.new_values::text
                   END AS same_values
              FROM wanted w FULL JOIN rnd_audit x ON x.record_id = w.id)
        SELECT * FROM cmp WHERE wid IS NULL OR xid IS NULL OR waction <> xaction
                             OR changed IS DISTINCT FROM xchanged OR NOT same_values;
        SELECT count(*) INTO bad FROM rnd_cmp;
        SELECT count(*) INTO got FROM rnd_audit;
        audited := audited + got;
        IF bad > 0 THEN
            mismatches := mismatches + bad;
            RAISE NOTICE 'round %: % mismatching audit rows: %', r, bad,
                (SELECT string_agg(format('[%s/%s expected changed %s, audit changed %s, same values %s]',
                                          waction, xaction, changed, xchanged, same_values), ' ')
                   FROM rnd_cmp);
        END IF;
        SELECT coalesce((SELECT id FROM rnd_audit ORDER BY id DESC LIMIT 1), last_audit) INTO last_audit;
        DROP TABLE rnd_before, rnd_after, rnd_audit, rnd_cmp;
    END LOOP;
    RETURN NEXT;
END $$;
SELECT * FROM edge.random_rounds(150);
SELECT count(*) AS secret_leaks FROM saas.audit_logs
 WHERE table_name = 'edge.rnd' AND (old_values ? 'secret' OR new_values ? 'secret');

SET client_min_messages = warning;
DROP SCHEMA edge CASCADE;
