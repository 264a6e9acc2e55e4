# Row-level security uses the indexes: on 1,000,000 tasks (SAAS_RLS_ROWS)
# across 1,000 tenants, a tenant's query (run as the application role) is an
# index scan whose condition is the policy, and saas.current_tenant_id() is
# evaluated once per scan, not once per row.

use strict;
use warnings FATAL => 'all';

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use SaasTest;

my $db      = 'saas_rls_plan';
my $app     = 'regress_rls_app';
my $rows    = SaasTest::mode_value('SAAS_RLS_ROWS', 1_000_000, 1_000_000);
my $tenants = 1000;

my $node = SaasTest::new_node('rls');
SaasTest::create_saas_db($node, $db);
SaasTest::create_app_role($node, $db, $app);
my ($ret, undef, $err) = $node->psql(
	$db, qq{
SET client_min_messages = warning;
ALTER ROLE $app SET track_functions = 'all';
-- Bulk load as superuser with triggers (FK checks, audit) off: this test is
-- about read plans, and the load would otherwise dominate its run time.
SET session_replication_role = replica;
INSERT INTO saas.organizations (id, name, slug)
SELECT ('00000000-0000-7000-8000-' || lpad(to_hex(g), 12, '0'))::uuid, 'Org ' || g, 'org-' || g
FROM generate_series(1, $tenants) g;
INSERT INTO saas.projects (id, organization_id, name)
SELECT id, id, 'P' FROM saas.organizations;
INSERT INTO saas.tasks (organization_id, project_id, title, status, priority)
SELECT o, o, 'task ' || g, (ARRAY['todo','in_progress','done'])[1 + g % 3], 1 + g % 5
FROM generate_series(1, $rows) g,
     LATERAL (SELECT ('00000000-0000-7000-8000-' || lpad(to_hex(1 + g % $tenants), 12, '0'))::uuid) AS t(o);
RESET session_replication_role;
VACUUM ANALYZE saas.tasks;
});
is($ret, 0, "loaded $rows tasks across $tenants tenants") or diag $err;
is($node->safe_psql($db, 'SELECT count(*) FROM saas.tasks'),
	$rows, 'the superuser sees every task');

my $tenant = '00000000-0000-7000-8000-000000000007';
my $plan   = SaasTest::safe_psql_as(
	$node, $db, $app, qq{
BEGIN;
SELECT saas.set_tenant('$tenant') IS NOT NULL;
EXPLAIN (COSTS OFF) SELECT id, title FROM saas.tasks WHERE status = 'todo';
EXPLAIN (COSTS OFF) SELECT count(*) FROM saas.tasks;
COMMIT;
});
note $plan;
like(
	$plan,
	qr/Index Cond: \(\(organization_id = saas\.current_tenant_id\(\)\)/,
	'the policy is an index condition');
unlike($plan, qr/Seq Scan/, 'no sequential scan of tasks');

my (undef, $visible, $calls) = split /\n/, SaasTest::safe_psql_as(
	$node, $db, $app, qq{
BEGIN;
SELECT saas.set_tenant('$tenant') IS NOT NULL;
SELECT count(*) FROM saas.tasks;
SELECT calls FROM pg_stat_xact_user_functions WHERE funcname = 'current_tenant_id';
COMMIT;
});
is($visible, $rows / $tenants, 'the tenant sees exactly its rows');
ok(defined $calls && $calls ne '' && $calls <= 3,
	'current_tenant_id() evaluated '
	  . ($calls // 'no')
	  . " time(s) for $visible rows (once per scan)");

note SaasTest::safe_psql_as(
	$node, $db, $app, qq{
BEGIN;
SELECT saas.set_tenant('$tenant') IS NOT NULL;
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY ON) SELECT id, title FROM saas.tasks WHERE status = 'todo';
COMMIT;
});

done_testing();
