-- A record's audit rows, oldest first.
CREATE FUNCTION saas.record_history(tbl regclass, id uuid) RETURNS SETOF saas.audit_logs
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, saas, pg_temp
AS $$
    SELECT a.*
      FROM saas.audit_logs a
     WHERE a.record_id OPERATOR(pg_catalog.=) record_history.id
       AND a.table_name OPERATOR(pg_catalog.=) saas.audit_table_name(record_history.tbl)
     ORDER BY a.created_at, a.id
$$;
COMMENT ON FUNCTION saas.record_history(regclass, uuid) IS 'The audit rows of one record, oldest first.';
