-- Monthly partitions of saas.audit_logs: creation (moving rows out of the
-- default partition), retention, and the guard during maintenance.
SET client_min_messages = warning;
DROP SCHEMA IF EXISTS saas CASCADE;
CREATE EXTENSION saas_schema;
RESET client_min_messages;
\set SHOW_CONTEXT never
SET TimeZone = 'UTC';

-- Runs a statement and shows its error; partition names (which depend on
-- today's date) are masked.
CREATE FUNCTION pg_temp.err(stmt text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    state text; msg text; det text;
BEGIN
    EXECUTE stmt;
    RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, msg = MESSAGE_TEXT, det = PG_EXCEPTION_DETAIL;
    RETURN regexp_replace(state || ': ' || msg || CASE WHEN det <> '' THEN ' (' || det || ')' ELSE '' END,
                          'audit_logs_p\d{6}', 'audit_logs_pYYYYMM', 'g');
END
$$;

CREATE SCHEMA app;
CREATE TABLE app.notes (organization_id uuid NOT NULL, id uuid PRIMARY KEY, body text);
SELECT saas.enable_audit('app.notes');

-- Audit rows of this month, and (written by hand, as a superuser may) one of
-- 13 months ago: all in the default partition for now.
INSERT INTO app.notes VALUES ('00000000-0000-0000-0000-00000000000a', '00000000-0000-0000-0000-000000000001', 'one'),
                             ('00000000-0000-0000-0000-00000000000a', '00000000-0000-0000-0000-000000000002', 'two');
INSERT INTO saas.audit_logs (organization_id, table_name, record_id, action, new_values, transaction_id, created_at)
VALUES ('00000000-0000-0000-0000-00000000000a', 'app.notes', '00000000-0000-0000-0000-000000000003', 'INSERT',
        '{"body": "old"}', 1, now() - interval '13 months');
SELECT tableoid::regclass AS partition, count(*) FROM saas.audit_logs GROUP BY 1 ORDER BY 1;

-- Invalid arguments.
SELECT pg_temp.err($$SELECT saas.audit_create_partitions(-1)$$);
SELECT pg_temp.err($$SELECT saas.audit_create_partitions(NULL)$$);
SELECT pg_temp.err($$SELECT saas.audit_create_partitions(1, 2000)$$);
SELECT pg_temp.err($$SELECT saas.audit_drop_partitions(NULL)$$);
SELECT pg_temp.err($$SELECT saas.audit_drop_partitions(interval '-1 day')$$);

-- Create partitions from 13 months back to 2 ahead: 16 partitions named after
-- their UTC month, and the rows move out of the default partition.
SELECT count(*) AS created,
       array_agg(p ORDER BY p) = (SELECT array_agg('audit_logs_p' || to_char(date_trunc('month', now() AT TIME ZONE 'UTC')
                                                   + make_interval(months => i), 'YYYYMM') ORDER BY i)
                                    FROM generate_series(-13, 2) i) AS names_as_expected
  FROM saas.audit_create_partitions(2, months_back => 13) p;
SELECT tableoid::regclass = 'saas.audit_logs_default'::regclass AS in_default,
       tableoid::regclass::text = 'saas.audit_logs_p' || to_char(created_at AT TIME ZONE 'UTC', 'YYYYMM') AS in_its_month,
       count(*)
  FROM saas.audit_logs GROUP BY 1, 2 ORDER BY 1, 2;
-- The maintenance flag is off again, so the guard is back.
SELECT current_setting('saas_audit.partition_maintenance') = 'on' AS maintenance_flag_on;
SELECT pg_temp.err($$DELETE FROM saas.audit_logs$$);
-- Monthly partitions inherit the indexes, the guard, and get a TRUNCATE guard.
SELECT count(*) FILTER (WHERE i.indexrelid IS NOT NULL) / 16 AS indexes_per_partition
  FROM pg_inherits h JOIN pg_class c ON c.oid = h.inhrelid LEFT JOIN pg_index i ON i.indrelid = c.oid
 WHERE h.inhparent = 'saas.audit_logs'::regclass AND c.relname <> 'audit_logs_default';
SELECT pg_temp.err(format('TRUNCATE saas.audit_logs_p%s', to_char(now() AT TIME ZONE 'UTC', 'YYYYMM')));
SELECT c.relname ~ '^audit_logs_p\d{6}$' AS monthly, t.tgname, count(*)
  FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
 WHERE c.relname LIKE 'audit\_logs\_%' GROUP BY 1, 2 ORDER BY 1, 2;
-- Calling it again creates nothing; new audit rows land in their month.
SELECT count(*) AS created FROM saas.audit_create_partitions(2);
UPDATE app.notes SET body = 'changed' WHERE id = '00000000-0000-0000-0000-000000000001';
SELECT tableoid::regclass::text = 'saas.audit_logs_p' || to_char(now() AT TIME ZONE 'UTC', 'YYYYMM') AS in_this_month
  FROM saas.audit_logs WHERE action = 'UPDATE';

-- A row for a month without partition still goes to the default partition:
-- no audit row is ever refused.
INSERT INTO saas.audit_logs (organization_id, table_name, action, new_values, transaction_id, created_at)
VALUES ('00000000-0000-0000-0000-00000000000a', 'app.notes', 'INSERT', '{}', 1, '2099-01-01 00:00+00');
SELECT tableoid::regclass FROM saas.audit_logs WHERE created_at = '2099-01-01 00:00+00';

-- Retention: partitions entirely older than 12 months go (only the one of 13
-- months ago), with their rows; the others stay.
SELECT p = 'audit_logs_p' || to_char(date_trunc('month', now() AT TIME ZONE 'UTC') - interval '13 months', 'YYYYMM') AS dropped_13_months_ago
  FROM saas.audit_drop_partitions(interval '12 months') p;
SELECT count(*) AS rows_older_than_a_year FROM saas.audit_logs WHERE created_at < now() - interval '12 months';
SELECT count(*) AS partitions_left FROM pg_inherits WHERE inhparent = 'saas.audit_logs'::regclass;
SELECT count(*) AS dropped FROM saas.audit_drop_partitions(interval '100 years');

SET client_min_messages = warning;
DROP SCHEMA app CASCADE;
RESET client_min_messages;
