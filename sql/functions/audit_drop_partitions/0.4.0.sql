-- Retention: drops the monthly partitions that lie entirely before
-- now() - older_than, and returns their names.  The only way audit rows are
-- removed.  Rows in the default partition are never dropped.
CREATE FUNCTION saas.audit_drop_partitions(older_than interval)
    RETURNS SETOF text
    LANGUAGE plpgsql
    SET search_path = pg_catalog, saas, pg_temp
AS $$
DECLARE
    cutoff timestamptz;
    part record;
    upper_text text;
BEGIN
    IF older_than IS NULL OR older_than < interval '0' THEN
        RAISE EXCEPTION 'older_than must be a non-negative interval, not %', COALESCE(older_than::text, 'NULL')
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    cutoff := pg_catalog.now() OPERATOR(pg_catalog.-) older_than;
    FOR part IN
        SELECT c.relname, pg_catalog.pg_get_expr(c.relpartbound, c.oid) AS bound
          FROM pg_catalog.pg_inherits i JOIN pg_catalog.pg_class c ON c.oid = i.inhrelid
         WHERE i.inhparent = 'saas.audit_logs'::pg_catalog.regclass
         ORDER BY c.relname
    LOOP
        upper_text := (pg_catalog.regexp_match(part.bound, $re$ TO \('([^']+)'\)$re$))[1];
        CONTINUE WHEN upper_text IS NULL;  -- the default partition, or an unbounded one
        IF upper_text::timestamptz <= cutoff THEN
            EXECUTE pg_catalog.format('DROP TABLE saas.%I', part.relname);
            RETURN NEXT part.relname;
        END IF;
    END LOOP;
END;
$$;
COMMENT ON FUNCTION saas.audit_drop_partitions(interval) IS 'Retention: drops partitions of saas.audit_logs entirely older than now() - older_than; returns their names.';
