-- saas_schema 0.4.0 -> 0.3.0 (downgrade): puts back the 0.3.0 indexes of
-- saas.audit_logs' partitions and the 0.3.0 saas.audit_create_partitions().

-- Rebuilds the two secondary indexes of every partition of saas.audit_logs
-- with the definitions of version 0.3.0.  Each CREATE INDEX locks its partition
-- against writes (SHARE) while it builds: on a large audit log, run the
-- update in a quiet period.
DO $$
DECLARE
    part name;
BEGIN
    FOR part IN SELECT c.relname FROM pg_catalog.pg_inherits AS i
                  JOIN pg_catalog.pg_class AS c ON c.oid = i.inhrelid
                 WHERE i.inhparent = 'saas.audit_logs'::pg_catalog.regclass
                 ORDER BY c.relname
    LOOP
        EXECUTE pg_catalog.format('DROP INDEX IF EXISTS saas.%I',
                                  'idx_' OPERATOR(pg_catalog.||) part OPERATOR(pg_catalog.||) '_record');
        EXECUTE pg_catalog.format('DROP INDEX IF EXISTS saas.%I',
                                  'idx_' OPERATOR(pg_catalog.||) part OPERATOR(pg_catalog.||) '_user');
        EXECUTE pg_catalog.format('CREATE INDEX %I ON saas.%I (record_id, table_name, id)',
                                  'idx_' OPERATOR(pg_catalog.||) part OPERATOR(pg_catalog.||) '_record', part);
        EXECUTE pg_catalog.format('CREATE INDEX %I ON saas.%I (organization_id, user_id, created_at DESC)',
                                  'idx_' OPERATOR(pg_catalog.||) part OPERATOR(pg_catalog.||) '_user', part);
    END LOOP;
END
$$;
