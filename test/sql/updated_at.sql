-- saas.set_updated_at() trigger, saas.enable_updated_at(), saas.disable_updated_at()
SET client_min_messages = warning;
DROP SCHEMA IF EXISTS saas CASCADE;
DROP SCHEMA IF EXISTS ua CASCADE;
CREATE EXTENSION saas_schema CASCADE;
RESET client_min_messages;
SET TIME ZONE 'UTC';
-- After each expected error the SQLSTATE is echoed.
\set SHOW_CONTEXT never

-- Every table of schema saas with an updated_at column got the trigger at
-- install time: this lists the ones that did not (expected: none).
SELECT c.relname
  FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid
 WHERE c.relnamespace = 'saas'::regnamespace AND c.relkind IN ('r', 'p') AND NOT c.relispartition
   AND a.attname = 'updated_at' AND NOT a.attisdropped
   AND NOT EXISTS (SELECT FROM pg_trigger t
                    WHERE t.tgrelid = c.oid AND t.tgname = 'trg_' || c.relname || '_updated_at'
                      AND t.tgfoid = 'saas.set_updated_at()'::regprocedure);

CREATE SCHEMA ua;
CREATE TABLE ua.items (
    id int PRIMARY KEY,
    created_at timestamptz NOT NULL DEFAULT now(),
    name text,
    qty int,
    updated_at timestamptz DEFAULT now()
);

-- enable is idempotent: true when it installs, false when already there.
SELECT saas.enable_updated_at('ua.items');
SELECT saas.enable_updated_at('ua.items', 'updated_at');
SELECT tgname, pg_get_triggerdef(oid) FROM pg_trigger WHERE tgrelid = 'ua.items'::regclass;

-- INSERT: NULL is filled with now(), an explicit value is kept.
BEGIN;
INSERT INTO ua.items (id, name, qty, updated_at) VALUES (1, 'a', 1, NULL);
INSERT INTO ua.items (id, name, qty) VALUES (2, 'b', 2);
INSERT INTO ua.items (id, created_at, name, qty, updated_at)
     VALUES (3, '2000-01-01', 'c', 3, '2000-01-02');
SELECT id, updated_at = now() AS is_now FROM ua.items WHERE id <> 3 ORDER BY id;
COMMIT;
SELECT id, created_at, updated_at FROM ua.items WHERE id = 3;

-- UPDATE that changes a column sets now() (this transaction started after
-- the insert; the stored value is from 2000).
BEGIN;
UPDATE ua.items SET qty = qty + 1 WHERE id = 3;
SELECT updated_at = now() AS is_now, created_at FROM ua.items WHERE id = 3;
COMMIT;

-- An explicit updated_at in a real change is overridden too.
BEGIN;
UPDATE ua.items SET updated_at = '1999-01-01', name = 'c2' WHERE id = 3;
SELECT updated_at = now() AS is_now FROM ua.items WHERE id = 3;
COMMIT;

-- No-op UPDATE (default mode 'changed'): the stored value stays.
UPDATE ua.items SET updated_at = '2000-01-02' WHERE id = 3;  -- no other change: reverted to stored value
SELECT updated_at <> '2000-01-02' AS explicit_write_undone FROM ua.items WHERE id = 3;
ALTER TABLE ua.items DISABLE TRIGGER trg_items_updated_at;
UPDATE ua.items SET updated_at = '2000-01-02' WHERE id = 3;
ALTER TABLE ua.items ENABLE TRIGGER trg_items_updated_at;
UPDATE ua.items SET name = name, qty = qty, created_at = created_at WHERE id = 3;
SELECT updated_at FROM ua.items WHERE id = 3;
UPDATE ua.items SET name = 'c3' WHERE id = 3;
SELECT updated_at > '2000-01-02' AS bumped FROM ua.items WHERE id = 3;
-- NULL -> value and value -> NULL are changes.
UPDATE ua.items SET updated_at = '2000-01-02', name = NULL WHERE id = 3;
ALTER TABLE ua.items DISABLE TRIGGER trg_items_updated_at;
UPDATE ua.items SET updated_at = '2000-01-02' WHERE id = 3;
ALTER TABLE ua.items ENABLE TRIGGER trg_items_updated_at;
UPDATE ua.items SET name = NULL WHERE id = 3;
SELECT updated_at FROM ua.items WHERE id = 3;
UPDATE ua.items SET name = 'back' WHERE id = 3;
SELECT updated_at > '2000-01-02' AS bumped FROM ua.items WHERE id = 3;

-- created_at cannot be changed by UPDATE; assigning its stored value is fine.
UPDATE ua.items SET created_at = created_at, qty = 10 WHERE id = 3;
UPDATE ua.items SET created_at = now() WHERE id = 3;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
UPDATE ua.items SET created_at = created_at + interval '1 microsecond', qty = 11;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT id, created_at, qty FROM ua.items WHERE id = 3;

-- Mode 'always': every UPDATE bumps, also a no-op one.  A second trigger on
-- the same table maintains another column (state is kept per trigger).
-- Triggers fire in name order: zz_touched runs after trg_items_updated_at, so
-- its write is not seen as a change by the first one.
ALTER TABLE ua.items ADD COLUMN touched_at timestamptz;
CREATE TRIGGER zz_touched BEFORE INSERT OR UPDATE ON ua.items
    FOR EACH ROW EXECUTE FUNCTION saas.set_updated_at('touched_at', 'always');
ALTER TABLE ua.items DISABLE TRIGGER USER;
UPDATE ua.items SET touched_at = '2000-01-01', updated_at = '2000-01-01';
ALTER TABLE ua.items ENABLE TRIGGER USER;
BEGIN;
UPDATE ua.items SET qty = qty WHERE id = 3;
SELECT touched_at = now() AS touched_is_now, updated_at AS updated_unchanged FROM ua.items WHERE id = 3;
COMMIT;
DROP TRIGGER zz_touched ON ua.items;
ALTER TABLE ua.items DROP COLUMN touched_at;

-- Explicit 'changed' mode is the default mode.
CREATE TABLE ua.modes (id int PRIMARY KEY, v int, updated_at timestamptz);
CREATE TRIGGER m BEFORE INSERT OR UPDATE ON ua.modes
    FOR EACH ROW EXECUTE FUNCTION saas.set_updated_at('updated_at', 'changed');
INSERT INTO ua.modes VALUES (1, 1, '2000-01-01');
UPDATE ua.modes SET v = 1;
SELECT updated_at FROM ua.modes;
UPDATE ua.modes SET v = 2;
SELECT updated_at > '2000-01-01' AS bumped FROM ua.modes;
-- CREATE OR REPLACE TRIGGER keeps the trigger's OID but changes its
-- arguments: the cached state must follow ('always' now bumps a no-op).
CREATE OR REPLACE TRIGGER m BEFORE INSERT OR UPDATE ON ua.modes
    FOR EACH ROW EXECUTE FUNCTION saas.set_updated_at('updated_at', 'always');
ALTER TABLE ua.modes DISABLE TRIGGER m;
UPDATE ua.modes SET updated_at = '2000-01-01';
ALTER TABLE ua.modes ENABLE TRIGGER m;
UPDATE ua.modes SET v = v;
SELECT updated_at > '2000-01-01' AS bumped FROM ua.modes;

-- Table layout changes between updates, in one session (cached state).
CREATE TABLE ua.shape (
    id int PRIMARY KEY,
    a text,
    b text,
    updated_at timestamptz,
    c text
);
SELECT saas.enable_updated_at('ua.shape');
INSERT INTO ua.shape VALUES (1, 'a', 'b', '2000-01-01', 'c');
UPDATE ua.shape SET a = 'a2';
SELECT a, updated_at > '2000-01-01' AS bumped FROM ua.shape;
-- Drop a column before updated_at (attnums do not shift; a dropped column stays).
ALTER TABLE ua.shape DROP COLUMN b;
UPDATE ua.shape SET updated_at = '2000-01-01';  -- no change besides updated_at
ALTER TABLE ua.shape DISABLE TRIGGER trg_shape_updated_at;
UPDATE ua.shape SET updated_at = '2000-01-01';
ALTER TABLE ua.shape ENABLE TRIGGER trg_shape_updated_at;
UPDATE ua.shape SET a = a;
SELECT * FROM ua.shape;
UPDATE ua.shape SET c = 'c2';
SELECT a, c, updated_at > '2000-01-01' AS bumped FROM ua.shape;
-- Add a column; changing only it counts as a change.
ALTER TABLE ua.shape ADD COLUMN d int;
ALTER TABLE ua.shape DISABLE TRIGGER trg_shape_updated_at;
UPDATE ua.shape SET updated_at = '2000-01-01';
ALTER TABLE ua.shape ENABLE TRIGGER trg_shape_updated_at;
UPDATE ua.shape SET d = NULL;
SELECT updated_at FROM ua.shape;
UPDATE ua.shape SET d = 4;
SELECT d, updated_at > '2000-01-01' AS bumped FROM ua.shape;
-- Drop updated_at itself and add it back: it is now a new attribute at the end.
ALTER TABLE ua.shape DROP COLUMN updated_at;
ALTER TABLE ua.shape ADD COLUMN updated_at timestamptz;
SELECT attname, attnum FROM pg_attribute WHERE attrelid = 'ua.shape'::regclass AND attnum > 0 ORDER BY attnum;
INSERT INTO ua.shape (id, a) VALUES (2, 'x');
UPDATE ua.shape SET a = 'a3' WHERE id = 1;
SELECT id, a, updated_at IS NOT NULL AS set FROM ua.shape ORDER BY id;
-- created_at added later is protected from then on; dropped again, not.
ALTER TABLE ua.shape ADD COLUMN created_at timestamptz DEFAULT '2000-01-01';
UPDATE ua.shape SET created_at = now() WHERE id = 1;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
ALTER TABLE ua.shape DROP COLUMN created_at;
UPDATE ua.shape SET a = 'a4' WHERE id = 1;
SELECT a FROM ua.shape WHERE id = 1;
-- Renamed column: the trigger argument no longer names a column.
ALTER TABLE ua.shape RENAME COLUMN updated_at TO modified_at;
UPDATE ua.shape SET a = 'a5' WHERE id = 1;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
ALTER TABLE ua.shape RENAME COLUMN modified_at TO updated_at;
UPDATE ua.shape SET a = 'a5', updated_at = NULL WHERE id = 1;
SELECT a, updated_at IS NOT NULL AS set FROM ua.shape WHERE id = 1;
-- Type changed to text: clear error, no silent write.
ALTER TABLE ua.shape ALTER COLUMN updated_at TYPE text;
UPDATE ua.shape SET a = 'a6' WHERE id = 1;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
INSERT INTO ua.shape (id) VALUES (3);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- ... and back to timestamptz.
ALTER TABLE ua.shape ALTER COLUMN updated_at TYPE timestamptz USING updated_at::timestamptz;
BEGIN;
UPDATE ua.shape SET a = 'a6' WHERE id = 1;
SELECT a, updated_at = now() AS is_now FROM ua.shape WHERE id = 1;
COMMIT;

-- DROP TABLE and CREATE TABLE with the same name but another layout.
DROP TABLE ua.shape;
CREATE TABLE ua.shape (updated_at timestamptz, id int PRIMARY KEY, z int);
SELECT saas.enable_updated_at('ua.shape');
INSERT INTO ua.shape VALUES ('2000-01-01', 1, 1);
UPDATE ua.shape SET z = 2;
SELECT id, z, updated_at > '2000-01-01' AS bumped FROM ua.shape;

-- timestamp without time zone: now()::timestamp in the session time zone.
CREATE TABLE ua.local (id int PRIMARY KEY, v int, updated_at timestamp);
SELECT saas.enable_updated_at('ua.local');
SET TIME ZONE 'America/New_York';
BEGIN;
INSERT INTO ua.local VALUES (1, 1, NULL);
SELECT updated_at = now()::timestamp AS local_now,
       updated_at <> (now() AT TIME ZONE 'UTC') AS not_utc FROM ua.local;
COMMIT;
SET TIME ZONE 'Asia/Tokyo';
BEGIN;
UPDATE ua.local SET v = 2;
SELECT updated_at = now()::timestamp AS local_now FROM ua.local;
COMMIT;
SET TIME ZONE 'UTC';

-- Another column name through enable_updated_at; re-enabling with another
-- column replaces the trigger.
CREATE TABLE ua.custom (id int PRIMARY KEY, v int, changed_on timestamptz, updated_at timestamptz);
SELECT saas.enable_updated_at('ua.custom', 'changed_on');
SELECT saas.enable_updated_at('ua.custom', 'changed_on');
INSERT INTO ua.custom VALUES (1, 1, NULL, NULL);
SELECT changed_on IS NOT NULL AS changed_on_set, updated_at IS NULL AS updated_at_untouched FROM ua.custom;
SELECT saas.enable_updated_at('ua.custom');
SELECT pg_get_triggerdef(oid) FROM pg_trigger WHERE tgrelid = 'ua.custom'::regclass;
SELECT saas.disable_updated_at('ua.custom');
SELECT saas.disable_updated_at('ua.custom');
SELECT count(*) AS triggers_left FROM pg_trigger WHERE tgrelid = 'ua.custom'::regclass;

-- A 63-character table name: the trigger name is truncated like any
-- identifier, and enable/disable still find it.
CREATE TABLE ua.a_table_name_that_is_exactly_sixty_three_characters_long_xxxxxx (id int, updated_at timestamptz);
SELECT saas.enable_updated_at('ua.a_table_name_that_is_exactly_sixty_three_characters_long_xxxxxx');
SELECT saas.enable_updated_at('ua.a_table_name_that_is_exactly_sixty_three_characters_long_xxxxxx');
SELECT tgname FROM pg_trigger
 WHERE tgrelid = 'ua.a_table_name_that_is_exactly_sixty_three_characters_long_xxxxxx'::regclass;
SELECT saas.disable_updated_at('ua.a_table_name_that_is_exactly_sixty_three_characters_long_xxxxxx');
SELECT saas.disable_updated_at('ua.a_table_name_that_is_exactly_sixty_three_characters_long_xxxxxx');

-- enable/disable validation.
SELECT saas.enable_updated_at(NULL);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT saas.enable_updated_at('ua.custom', NULL);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT saas.disable_updated_at(NULL);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT saas.enable_updated_at(0);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT saas.enable_updated_at('ua.no_such_table');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
CREATE VIEW ua.v AS SELECT * FROM ua.custom;
SELECT saas.enable_updated_at('ua.v');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
CREATE SEQUENCE ua.s;
SELECT saas.enable_updated_at('ua.s');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT saas.enable_updated_at('ua.custom', 'nope');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT saas.enable_updated_at('ua.custom', 'v');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT saas.enable_updated_at('ua.custom', 'xmin');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
DROP VIEW ua.v;
ALTER TABLE ua.custom DROP COLUMN changed_on;
SELECT saas.enable_updated_at('ua.custom', (SELECT attname FROM pg_attribute
                                              WHERE attrelid = 'ua.custom'::regclass AND attisdropped));
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- The trigger name is taken by a trigger that is not ours: neither helper touches it.
CREATE FUNCTION ua.other() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN RETURN NEW; END$$;
CREATE TRIGGER trg_custom_updated_at BEFORE UPDATE ON ua.custom FOR EACH ROW EXECUTE FUNCTION ua.other();
SELECT saas.enable_updated_at('ua.custom');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT saas.disable_updated_at('ua.custom');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT tgfoid::regproc FROM pg_trigger WHERE tgrelid = 'ua.custom'::regclass;

-- Wrong trigger usage.
CREATE TABLE ua.bad (id int PRIMARY KEY, v int, updated_at timestamptz, t text);
INSERT INTO ua.bad VALUES (1, 1, NULL, 'x');
CREATE TRIGGER bad AFTER UPDATE ON ua.bad FOR EACH ROW EXECUTE FUNCTION saas.set_updated_at();
UPDATE ua.bad SET v = 2;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
DROP TRIGGER bad ON ua.bad;
CREATE TRIGGER bad BEFORE UPDATE ON ua.bad FOR EACH STATEMENT EXECUTE FUNCTION saas.set_updated_at();
UPDATE ua.bad SET v = 2;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
DROP TRIGGER bad ON ua.bad;
CREATE TRIGGER bad BEFORE DELETE ON ua.bad FOR EACH ROW EXECUTE FUNCTION saas.set_updated_at();
DELETE FROM ua.bad;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
DROP TRIGGER bad ON ua.bad;
CREATE TRIGGER bad BEFORE TRUNCATE ON ua.bad FOR EACH STATEMENT EXECUTE FUNCTION saas.set_updated_at();
TRUNCATE ua.bad;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
DROP TRIGGER bad ON ua.bad;
CREATE TRIGGER bad BEFORE UPDATE ON ua.bad FOR EACH ROW EXECUTE FUNCTION saas.set_updated_at('updated_at', 'always', 'extra');
UPDATE ua.bad SET v = 2;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
DROP TRIGGER bad ON ua.bad;
CREATE TRIGGER bad BEFORE UPDATE ON ua.bad FOR EACH ROW EXECUTE FUNCTION saas.set_updated_at('updated_at', 'sometimes');
UPDATE ua.bad SET v = 2;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
DROP TRIGGER bad ON ua.bad;
CREATE TRIGGER bad BEFORE UPDATE ON ua.bad FOR EACH ROW EXECUTE FUNCTION saas.set_updated_at('missing_col');
UPDATE ua.bad SET v = 2;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
DROP TRIGGER bad ON ua.bad;
CREATE TRIGGER bad BEFORE UPDATE ON ua.bad FOR EACH ROW EXECUTE FUNCTION saas.set_updated_at('t');
UPDATE ua.bad SET v = 2;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
DROP TRIGGER bad ON ua.bad;
CREATE TRIGGER bad BEFORE UPDATE ON ua.bad FOR EACH ROW EXECUTE FUNCTION saas.set_updated_at('ctid');
UPDATE ua.bad SET v = 2;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
DROP TRIGGER bad ON ua.bad;
CREATE VIEW ua.bad_v AS SELECT * FROM ua.bad;
CREATE TRIGGER bad INSTEAD OF UPDATE ON ua.bad_v FOR EACH ROW EXECUTE FUNCTION saas.set_updated_at();
UPDATE ua.bad_v SET v = 2;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT saas.set_updated_at();
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- Nothing was changed by the failed statements.
SELECT * FROM ua.bad;

-- Partitioned table: the parent's trigger is cloned to every partition, also
-- to one whose column order differs (attached with a dropped column).
CREATE TABLE ua.events (
    id int,
    created_at timestamptz NOT NULL DEFAULT now(),
    kind text,
    updated_at timestamptz,
    PRIMARY KEY (id, kind)
) PARTITION BY LIST (kind);
CREATE TABLE ua.events_a PARTITION OF ua.events FOR VALUES IN ('a');
CREATE TABLE ua.events_b (junk int, kind text NOT NULL, updated_at timestamptz, id int NOT NULL,
                          created_at timestamptz NOT NULL DEFAULT now());
ALTER TABLE ua.events_b DROP COLUMN junk;
ALTER TABLE ua.events ATTACH PARTITION ua.events_b FOR VALUES IN ('b');
SELECT saas.enable_updated_at('ua.events');
SELECT saas.enable_updated_at('ua.events');
SELECT tgrelid::regclass, tgname, tgparentid <> 0 AS cloned FROM pg_trigger
 WHERE tgfoid = 'saas.set_updated_at()'::regprocedure AND tgrelid::regclass::text LIKE 'ua.events%' ORDER BY 1;
INSERT INTO ua.events (id, kind, updated_at) VALUES (1, 'a', NULL), (2, 'b', NULL), (3, 'b', '2000-01-01');
SELECT id, kind, updated_at IS NOT NULL AS set FROM ua.events ORDER BY id;
UPDATE ua.events SET kind = 'b' WHERE id = 3;  -- no change
SELECT updated_at FROM ua.events WHERE id = 3;
BEGIN;
UPDATE ua.events SET id = 30 WHERE id = 3;
UPDATE ua.events_a SET id = 10 WHERE id = 1;
SELECT id, updated_at = now() AS is_now FROM ua.events WHERE id IN (10, 30) ORDER BY id;
COMMIT;
UPDATE ua.events_b SET created_at = now() WHERE id = 2;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- A partition's trigger belongs to the parent.
SELECT saas.disable_updated_at('ua.events_b');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT saas.enable_updated_at('ua.events_b');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT saas.disable_updated_at('ua.events');
SELECT count(*) AS triggers_left FROM pg_trigger WHERE tgrelid::regclass::text LIKE 'ua.events%';

-- updated_at never moves backwards: when the stored stamp is later than this
-- transaction's now() (a transaction that started later updated the row
-- first), it is kept.
CREATE TABLE ua.monotonic (id int PRIMARY KEY, v int, created_at timestamptz DEFAULT now(),
                           updated_at timestamptz);
SELECT saas.enable_updated_at('ua.monotonic');
INSERT INTO ua.monotonic (id, v) VALUES (1, 0), (2, 0);
ALTER TABLE ua.monotonic DISABLE TRIGGER USER;
UPDATE ua.monotonic SET updated_at = now() + interval '1 hour' WHERE id = 1;
UPDATE ua.monotonic SET updated_at = now() - interval '1 hour' WHERE id = 2;
ALTER TABLE ua.monotonic ENABLE TRIGGER USER;
BEGIN;
UPDATE ua.monotonic SET v = v + 1;
SELECT id, v, updated_at > now() AS kept_later_stamp, updated_at = now() AS stamped_now
FROM ua.monotonic ORDER BY id;
COMMIT;

-- Dropping the extension drops the triggers that use its function.
SET client_min_messages = warning;
DROP SCHEMA saas CASCADE;
RESET client_min_messages;
SELECT t.tgname, t.tgfoid::regproc FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
 WHERE c.relnamespace = 'ua'::regnamespace;
SET client_min_messages = warning;
DROP SCHEMA ua CASCADE;
RESET client_min_messages;
