-- The direct insert path of audit rows (executor calls instead of an SPI
-- INSERT): partition routing, constraints, indexes and unique checks, DDL in
-- the middle of a session or transaction, and the fallback to SPI when
-- saas.audit_logs has INSERT triggers.
--
-- Which path wrote a row shows in its cmin: the direct path inserts with the
-- command id of the audited change; SPI increments the command counter first.
SET client_min_messages = warning;
DROP SCHEMA IF EXISTS saas CASCADE;
CREATE EXTENSION saas_schema;
RESET client_min_messages;
\set SHOW_CONTEXT never
SET TimeZone = 'UTC';

-- Runs a statement and shows its error (partition names masked).
CREATE FUNCTION pg_temp.err(stmt text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    state text; msg text;
BEGIN
    EXECUTE stmt;
    RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, msg = MESSAGE_TEXT;
    RETURN regexp_replace(state || ': ' || msg, 'audit_logs_p\d{6}', 'audit_logs_pYYYYMM', 'g');
END
$$;

-- Where each audit row is, and whether it sits in the partition of its month.
CREATE FUNCTION pg_temp.placement() RETURNS TABLE (in_default boolean, in_its_month boolean, n bigint)
LANGUAGE sql AS $$
    SELECT tableoid::regclass = 'saas.audit_logs_default'::regclass,
           tableoid::regclass::text = 'saas.audit_logs_p' || to_char(created_at AT TIME ZONE 'UTC', 'YYYYMM'),
           count(*)
      FROM saas.audit_logs GROUP BY 1, 2 ORDER BY 1, 2
$$;

CREATE SCHEMA app;
CREATE TABLE app.notes (organization_id uuid NOT NULL, id uuid PRIMARY KEY, body text);
CREATE TABLE app.bulk (organization_id uuid NOT NULL, id uuid PRIMARY KEY, n int);
SELECT saas.enable_audit('app.notes');
SELECT saas.enable_audit('app.bulk', mode => 'statement');

-- Row mode and statement mode write through the direct path; the rows are
-- complete (defaults for id and created_at) and land in the default partition.
BEGIN;
INSERT INTO app.notes VALUES ('00000000-0000-0000-0000-00000000000a', '00000000-0000-0000-0000-000000000001', 'one');
INSERT INTO app.bulk SELECT '00000000-0000-0000-0000-00000000000a', gen_random_uuid(), i FROM generate_series(1, 3000) i;
SELECT a.table_name, count(*), bool_and(a.cmin = t.cmin) AS direct,
       bool_and(a.id IS NOT NULL AND a.created_at <= clock_timestamp() AND a.metadata = '{}'
                AND a.transaction_id = txid_current() AND a.new_values IS NOT NULL) AS complete
  FROM saas.audit_logs a
  JOIN (SELECT id, cmin FROM app.notes UNION ALL SELECT id, cmin FROM app.bulk) t ON t.id = a.record_id
 GROUP BY 1 ORDER BY 1;
COMMIT;
SELECT * FROM pg_temp.placement();
-- Audit ids are in change order.
SELECT count(*) = count(DISTINCT id) AS ids_unique,
       (SELECT bool_and(ok) FROM (SELECT lag(created_at) OVER (ORDER BY id) <= created_at AS ok
                                    FROM saas.audit_logs) s) AS ids_in_time_order
  FROM saas.audit_logs;

-- Unique checks run: a unique index added to the partition in this session
-- is used by the next audit row.
BEGIN;
CREATE UNIQUE INDEX audit_test_unique ON saas.audit_logs_default (record_id, action);
SELECT pg_temp.err($$UPDATE app.notes SET body = 'two' WHERE body = 'one'$$);
SELECT pg_temp.err($$UPDATE app.notes SET body = 'three' WHERE body = 'two'$$);
ROLLBACK;

-- CHECK constraints run, including one added in this session.
BEGIN;
ALTER TABLE saas.audit_logs ADD CONSTRAINT chk_test_no_secret
    CHECK (new_values->>'body' IS DISTINCT FROM 'secret');
SELECT pg_temp.err($$UPDATE app.notes SET body = 'secret'$$);
SELECT pg_temp.err($$UPDATE app.notes SET body = 'public'$$);
ROLLBACK;

-- A column added to audit_logs takes its default.
BEGIN;
ALTER TABLE saas.audit_logs ADD COLUMN test_extra text DEFAULT 'dflt';
UPDATE app.notes SET body = 'extra';
SELECT action, test_extra FROM saas.audit_logs WHERE action = 'UPDATE';
ROLLBACK;

-- Partitions created in the middle of a transaction (after audit rows were
-- written in it) and then audited into, also after a dropped column gave
-- audit_logs a different physical layout from its new partitions.
BEGIN;
ALTER TABLE saas.audit_logs ADD COLUMN test_dropped int;
ALTER TABLE saas.audit_logs DROP COLUMN test_dropped;
UPDATE app.notes SET body = 'before partitions';
UPDATE app.bulk SET n = n + 1 WHERE n <= 500;
SELECT count(*) AS created FROM saas.audit_create_partitions(1, months_back => 1);
UPDATE app.notes SET body = 'after partitions';
UPDATE app.bulk SET n = n + 1 WHERE n <= 500;
SELECT * FROM pg_temp.placement();
SELECT action, count(*) FILTER (WHERE tableoid::regclass = 'saas.audit_logs_default'::regclass) AS in_default,
       count(*) AS total
  FROM saas.audit_logs GROUP BY 1 ORDER BY 1;
COMMIT;
-- A rolled-back change leaves no audit row in the monthly partition.
BEGIN;
UPDATE app.bulk SET n = -n;
ROLLBACK;
BEGIN;
SAVEPOINT s;
UPDATE app.notes SET body = 'rolled back';
ROLLBACK TO SAVEPOINT s;
UPDATE app.notes SET body = 'kept';
COMMIT;
SELECT new_values->>'body' AS body, count(*) FROM saas.audit_logs
 WHERE table_name = 'app.notes' AND action = 'UPDATE' GROUP BY 1 ORDER BY 1;
SELECT * FROM pg_temp.placement();

-- Retention in the same transaction as audited changes: the partition can be
-- dropped (the direct path keeps no relation open between changes).
BEGIN;
UPDATE app.notes SET body = 'before drop';
SELECT count(*) AS dropped FROM saas.audit_drop_partitions(interval '0 days');
UPDATE app.notes SET body = 'after drop';
SELECT * FROM pg_temp.placement();
ROLLBACK;

-- INSERT triggers on audit_logs: the audit rows go through SPI, so the
-- triggers fire, and each row is written once.
CREATE FUNCTION pg_temp.notice_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE NOTICE 'audit row inserted: % %', NEW.table_name, NEW.action;
    RETURN NEW;
END
$$;
BEGIN;
CREATE TRIGGER test_notice AFTER INSERT ON saas.audit_logs
    FOR EACH ROW EXECUTE FUNCTION pg_temp.notice_insert();
UPDATE app.notes SET body = 'parent trigger';
SELECT a.cmin = n.cmin AS direct FROM saas.audit_logs a JOIN app.notes n ON n.id = a.record_id
 WHERE a.new_values->>'body' = 'parent trigger';
ROLLBACK;
-- A trigger on one partition only (the one this month's rows go to).
BEGIN;
DO $$
BEGIN
    EXECUTE format('CREATE TRIGGER test_notice BEFORE INSERT ON saas.audit_logs_p%s '
                   'FOR EACH ROW EXECUTE FUNCTION pg_temp.notice_insert()',
                   to_char(now() AT TIME ZONE 'UTC', 'YYYYMM'));
END
$$;
UPDATE app.notes SET body = 'partition trigger';
UPDATE app.bulk SET n = n + 10000 WHERE n > 2997;
SELECT table_name, count(*) FROM saas.audit_logs
 WHERE new_values->>'body' = 'partition trigger' OR (new_values->>'n')::int > 10000
 GROUP BY 1 ORDER BY 1;
ROLLBACK;

-- Without them, the direct path again.
BEGIN;
UPDATE app.notes SET body = 'direct again';
SELECT a.cmin = n.cmin AS direct FROM saas.audit_logs a JOIN app.notes n ON n.id = a.record_id
 WHERE a.new_values->>'body' = 'direct again';
ROLLBACK;

-- The direct path caches what it derives from the catalogs for the session.
-- Changes committed in earlier transactions reach it through invalidation:
-- a CHECK constraint added, then dropped; a unique index added, then dropped.
ALTER TABLE saas.audit_logs ADD CONSTRAINT chk_test_committed CHECK (new_values->>'body' <> 'forbidden');
SELECT pg_temp.err($$UPDATE app.notes SET body = 'forbidden'$$);
ALTER TABLE saas.audit_logs DROP CONSTRAINT chk_test_committed;
SELECT pg_temp.err($$UPDATE app.notes SET body = 'forbidden'$$);
DO $$
BEGIN
    EXECUTE format('CREATE UNIQUE INDEX audit_test_committed ON saas.audit_logs_p%s (record_id, action) '
                   'WHERE action = ''DELETE''', to_char(now() AT TIME ZONE 'UTC', 'YYYYMM'));
END
$$;
INSERT INTO app.notes VALUES ('00000000-0000-0000-0000-00000000000a', '00000000-0000-0000-0000-000000000002', 'twice');
SELECT pg_temp.err($$DELETE FROM app.notes WHERE body = 'twice'$$);
SELECT pg_temp.err($$INSERT INTO app.notes VALUES ('00000000-0000-0000-0000-00000000000a', '00000000-0000-0000-0000-000000000002', 'twice')$$);
SELECT pg_temp.err($$DELETE FROM app.notes WHERE body = 'twice'$$);
DROP INDEX saas.audit_test_committed;
SELECT pg_temp.err($$DELETE FROM app.notes WHERE body = 'twice'$$);

-- The partial indexes: a change without an actor is not in the actor index,
-- one with an actor is; junction-style rows (no record id) are not in the
-- record index.  amcheck verifies every index of every partition against its
-- heap (heapallindexed: each row the index should hold is in it, predicate
-- included), and an expression index added to a partition is kept too.
CREATE EXTENSION IF NOT EXISTS amcheck;
DO $$
BEGIN
    EXECUTE format('CREATE INDEX audit_test_expression ON saas.audit_logs_p%s ((lower(action)))',
                   to_char(now() AT TIME ZONE 'UTC', 'YYYYMM'));
END
$$;
CREATE TABLE app.links (organization_id uuid NOT NULL, a int, b int);
SELECT saas.enable_audit('app.links');
-- (The actor is recorded as an active user of the current tenant.)
SET saas.audit_enabled = off;
INSERT INTO saas.organizations (id, name, slug) VALUES ('00000000-0000-0000-0000-00000000000a', 'A', 'a');
INSERT INTO saas.users (id, organization_id, email, password_hash)
    VALUES ('00000000-0000-0000-0000-0000000000ee', '00000000-0000-0000-0000-00000000000a', 'ee@a.example', 'h');
RESET saas.audit_enabled;
BEGIN;
SET LOCAL app.current_tenant_id = '00000000-0000-0000-0000-00000000000a';
SET LOCAL app.current_user_id = '00000000-0000-0000-0000-0000000000ee';
UPDATE app.notes SET body = 'with actor';
INSERT INTO app.links VALUES ('00000000-0000-0000-0000-00000000000a', 1, 2);
COMMIT;
UPDATE app.notes SET body = 'without actor';
SELECT a.new_values->>'body' AS body, a.user_id IS NOT NULL AS has_actor, a.cmin = n.cmin AS direct
  FROM saas.audit_logs a JOIN app.notes n ON n.id = a.record_id
 WHERE a.new_values->>'body' IN ('with actor', 'without actor') ORDER BY a.id;
SELECT i.indexrelid::regclass AS index, pg_get_expr(i.indpred, i.indrelid) AS predicate
  FROM pg_index i
 WHERE i.indrelid = 'saas.audit_logs_default'::regclass AND i.indpred IS NOT NULL ORDER BY 1;
SELECT count(*) AS indexes_checked
  FROM (SELECT bt_index_check(i.indexrelid, true)
          FROM pg_index i JOIN pg_inherits h ON h.inhrelid = i.indrelid
         WHERE h.inhparent = 'saas.audit_logs'::regclass) checked;
SELECT count(*) FILTER (WHERE record_id IS NULL) AS without_record_id,
       count(*) FILTER (WHERE user_id IS NOT NULL) AS with_actor
  FROM saas.audit_logs;
DROP INDEX saas.audit_test_expression;
DROP EXTENSION amcheck;

-- A default on audit_logs that calls a PL/pgSQL function cannot be kept
-- across transactions: every audit row then goes through SPI (and still
-- gets the default).
CREATE FUNCTION pg_temp.audit_note() RETURNS text LANGUAGE plpgsql AS $$ BEGIN RETURN 'plpgsql default'; END $$;
BEGIN;
ALTER TABLE saas.audit_logs ADD COLUMN test_note text DEFAULT pg_temp.audit_note();
UPDATE app.notes SET body = 'plpgsql default';
SELECT a.test_note, a.cmin = n.cmin AS direct FROM saas.audit_logs a JOIN app.notes n ON n.id = a.record_id
 WHERE a.new_values->>'body' = 'plpgsql default';
ROLLBACK;

-- An application role can audit changes without any privilege on audit_logs.
CREATE ROLE saas_direct_app;
GRANT USAGE ON SCHEMA app TO saas_direct_app;
GRANT SELECT, UPDATE ON app.notes TO saas_direct_app;
BEGIN;
SET LOCAL ROLE saas_direct_app;
UPDATE app.notes SET body = 'as app';
RESET ROLE;
SELECT count(*) FROM saas.audit_logs WHERE new_values->>'body' = 'as app';
ROLLBACK;
DROP OWNED BY saas_direct_app;
DROP ROLE saas_direct_app;

SET client_min_messages = warning;
DROP SCHEMA app CASCADE;
DROP SCHEMA saas CASCADE;
