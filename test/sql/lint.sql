-- saas.lint: the extension's own schema lints clean; a badly designed schema
-- makes every rule fire, and every suggested fix works when executed.
SET client_min_messages = warning;
DROP SCHEMA IF EXISTS saas CASCADE;
DROP SCHEMA IF EXISTS regress_lint CASCADE;
CREATE EXTENSION saas_schema CASCADE;
RESET client_min_messages;
\set VERBOSITY terse

SELECT * FROM saas.lint('saas');
SELECT * FROM saas.lint('regress_no_such_schema');

CREATE SCHEMA regress_lint;
-- A tenant table with every mistake: no RLS, keys without organization_id,
-- an unindexed FK, a timestamp without time zone, no triggers.
CREATE TABLE regress_lint.widgets (
    id uuid PRIMARY KEY,
    organization_id uuid NOT NULL REFERENCES saas.organizations (id),
    name text UNIQUE,
    color text,
    made_at timestamp,
    updated_at timestamptz NOT NULL DEFAULT now()
);
-- A table that references tenant data but has no organization_id.
CREATE TABLE regress_lint.widget_notes (
    id bigint PRIMARY KEY,
    org uuid REFERENCES saas.organizations (id),
    note text
);
-- Duplicate and redundant indexes, and one nobody uses.
CREATE INDEX widgets_color_a ON regress_lint.widgets (color);
CREATE INDEX widgets_color_b ON regress_lint.widgets (color);
CREATE INDEX widgets_made_at ON regress_lint.widgets (made_at);
CREATE INDEX widgets_made_at_color ON regress_lint.widgets (made_at, color);
CREATE INDEX widget_notes_note ON regress_lint.widget_notes (note);
CREATE INDEX widget_notes_org ON regress_lint.widget_notes (org);
-- A SECURITY DEFINER function without a pinned search_path, and one with.
CREATE FUNCTION regress_lint.unsafe() RETURNS int LANGUAGE sql SECURITY DEFINER AS 'SELECT 1';
CREATE FUNCTION regress_lint.safe() RETURNS int LANGUAGE sql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp AS 'SELECT 1';
-- Both tables are written to (an index of a table that never held a row is
-- no finding) and emptied again, for the fixes below; then a read of each
-- (sequential scans, no index scan), so that their unused indexes become
-- findings; then the statistics are flushed.
INSERT INTO saas.organizations (id, name, slug) VALUES ('0190a000-0000-7000-8000-0000000000f1', 'Lint', 'lint');
INSERT INTO regress_lint.widgets (id, organization_id, name) VALUES (gen_random_uuid(), '0190a000-0000-7000-8000-0000000000f1', 'w');
INSERT INTO regress_lint.widget_notes (id, note) VALUES (1, 'n');
DELETE FROM regress_lint.widgets;
DELETE FROM regress_lint.widget_notes;
DELETE FROM saas.organizations WHERE slug = 'lint';
SELECT count(*) FROM regress_lint.widgets;
SELECT count(*) FROM regress_lint.widget_notes;
SELECT pg_stat_force_next_flush();

SELECT severity, rule, object, fix FROM saas.lint('regress_lint');
-- Every rule fired.
SELECT r AS rule_that_did_not_fire
FROM unnest(ARRAY['fk_without_index', 'tenant_table_without_organization_id', 'tenant_table_without_rls',
                  'unique_without_organization_id', 'missing_updated_at_trigger', 'missing_audit',
                  'timestamp_without_time_zone', 'unused_index', 'duplicate_index',
                  'security_definer_without_search_path']) AS r
WHERE r NOT IN (SELECT rule FROM saas.lint('regress_lint'));

-- Execute every fix; each must succeed.
CREATE TEMP TABLE applied (rule text, object text, outcome text);
DO $$
DECLARE f record;
BEGIN
    FOR f IN SELECT * FROM saas.lint('regress_lint') ORDER BY rule, object LOOP
        BEGIN
            EXECUTE f.fix;
            INSERT INTO applied VALUES (f.rule, f.object, 'ok');
        EXCEPTION WHEN OTHERS THEN
            INSERT INTO applied VALUES (f.rule, f.object, SQLSTATE || ' ' || SQLERRM);
        END;
    END LOOP;
END $$;
SELECT * FROM applied ORDER BY rule, object;
-- What is left is what the fixes themselves imply: widget_notes became a
-- tenant table (RLS, keys, an index for its new FK), and the FK index made
-- for widgets is now redundant with its new primary key (organization_id, id).
SELECT severity, rule, object FROM saas.lint('regress_lint');
-- Applying the fixes again converges: a clean schema within a few rounds.
DO $$
DECLARE f record; rounds int := 1;
BEGIN
    WHILE EXISTS (SELECT 1 FROM saas.lint('regress_lint')) AND rounds < 5 LOOP
        rounds := rounds + 1;
        FOR f IN SELECT * FROM saas.lint('regress_lint') ORDER BY rule, object LOOP
            EXECUTE f.fix;
        END LOOP;
    END LOOP;
    RAISE NOTICE 'rounds of fixes: %', rounds;
END $$;
SELECT * FROM saas.lint('regress_lint');
-- The whole database, saas included (its tables are the DBA's, so lint
-- checks them like any other), now lints clean.
SELECT severity, rule, object FROM saas.lint() ORDER BY rule, object;

DROP SCHEMA regress_lint CASCADE;
