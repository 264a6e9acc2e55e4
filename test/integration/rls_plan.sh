#!/usr/bin/env bash
# Row-level security uses the indexes: on 1,000,000 tasks across 1,000
# tenants, a tenant's query (run as the application role) is an index scan
# whose condition is the policy, and saas.current_tenant_id() is evaluated
# once per scan, not once per row.
set -uo pipefail
source "$(dirname "$0")/../lib.sh"
DB=saas_rls_plan
ROWS="${SAAS_RLS_ROWS:-1000000}"
TENANTS=1000

psql -X -q -d postgres -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB"
psql -X -q -v ON_ERROR_STOP=1 -d $DB >/dev/null <<SQL
SET client_min_messages = warning;
CREATE EXTENSION saas_schema CASCADE;
DO \$\$ BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'regress_rls_app') THEN
        EXECUTE 'DROP OWNED BY regress_rls_app';
        EXECUTE 'DROP ROLE regress_rls_app';
    END IF;
END \$\$;
CREATE ROLE regress_rls_app LOGIN;
SELECT saas.grant_app_access('regress_rls_app');
ALTER ROLE regress_rls_app SET track_functions = 'all';
-- Bulk load as superuser with triggers (FK checks, audit) off: this test is
-- about read plans, and the load would otherwise dominate its run time.
SET session_replication_role = replica;
INSERT INTO saas.organizations (id, name, slug)
SELECT ('00000000-0000-7000-8000-' || lpad(to_hex(g), 12, '0'))::uuid, 'Org ' || g, 'org-' || g
FROM generate_series(1, $TENANTS) g;
INSERT INTO saas.projects (id, organization_id, name)
SELECT id, id, 'P' FROM saas.organizations;
INSERT INTO saas.tasks (organization_id, project_id, title, status, priority)
SELECT o, o, 'task ' || g, (ARRAY['todo','in_progress','done'])[1 + g % 3], 1 + g % 5
FROM generate_series(1, $ROWS) g,
     LATERAL (SELECT ('00000000-0000-7000-8000-' || lpad(to_hex(1 + g % $TENANTS), 12, '0'))::uuid) AS t(o);
RESET session_replication_role;
VACUUM ANALYZE saas.tasks;
SQL
ok $? "loaded $ROWS tasks across $TENANTS tenants"
n=$(q $DB "SELECT count(*) FROM saas.tasks")
is "$n" "$ROWS" "row count"

T='00000000-0000-7000-8000-000000000007'
plan=$(psql -X -q -At -U regress_rls_app -d $DB <<SQL
BEGIN;
SELECT saas.set_tenant('$T') IS NOT NULL;
EXPLAIN (COSTS OFF) SELECT id, title FROM saas.tasks WHERE status = 'todo';
EXPLAIN (COSTS OFF) SELECT count(*) FROM saas.tasks;
COMMIT;
SQL
)
echo "$plan" | sed 's/^/#   /'
grep -q "Index Cond: ((organization_id = saas.current_tenant_id())" <<<"$plan"
ok $? "the policy is an index condition"
! grep -q "Seq Scan" <<<"$plan"
ok $? "no sequential scan of tasks"

out=$(psql -X -q -At -U regress_rls_app -d $DB <<SQL
BEGIN;
SELECT saas.set_tenant('$T') IS NOT NULL;
SELECT count(*) FROM saas.tasks;
SELECT calls FROM pg_stat_xact_user_functions WHERE funcname = 'current_tenant_id';
COMMIT;
SQL
)
rows=$(echo "$out" | sed -n 2p)
calls=$(echo "$out" | sed -n 3p)
is "$rows" "$((ROWS / TENANTS))" "the tenant sees exactly its rows"
[ -n "$calls" ] && [ "$calls" -le 3 ]
ok $? "current_tenant_id() evaluated $calls time(s) for $rows rows (once per scan)"

timing=$(psql -X -q -At -U regress_rls_app -d $DB <<SQL
BEGIN;
SELECT saas.set_tenant('$T') IS NOT NULL;
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY ON) SELECT id, title FROM saas.tasks WHERE status = 'todo';
COMMIT;
SQL
)
echo "$timing" | sed 's/^/#   /'

psql -X -q -d postgres -c "DROP DATABASE $DB" -c "DROP ROLE regress_rls_app"
done_testing
