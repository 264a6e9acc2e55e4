# sqlsmith fuzzing against a database with the extension and data, as the
# application role (random SQL through RLS, the helpers and the triggers) and
# as the owner.  The server must never crash or hit an assertion: no backend
# may die by a signal, and the postmaster must be the same process at the end.
# Queries: SAAS_FUZZ_QUERIES, else 3000 (short mode) / 100000 (long mode).

use strict;
use warnings FATAL => 'all';

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use SaasTest;

my $db  = 'saas_fuzz';
my $app = 'regress_fuzz_app';
my $n   = SaasTest::mode_value('SAAS_FUZZ_QUERIES', 3000, 100_000);

ok(!system('sh', '-c', 'command -v sqlsmith >/dev/null'),
	'sqlsmith is installed')
  or BAIL_OUT('sqlsmith is needed for this test (scripts/setup.sh installs it)');

my $node = SaasTest::new_node('fuzz');
SaasTest::create_saas_db($node, $db);
SaasTest::create_app_role($node, $db, $app);
my ($ret, undef, $err) = $node->psql(
	$db, qq{
SET client_min_messages = warning;
INSERT INTO saas.organizations (name, slug) SELECT 'Org ' || g, 'org-' || g FROM generate_series(1, 5) g;
INSERT INTO saas.users (organization_id, email, password_hash)
SELECT o.id, 'u' || g || '\@x.example', 'h' FROM saas.organizations o, generate_series(1, 3) g;
INSERT INTO saas.projects (organization_id, name) SELECT id, 'p' FROM saas.organizations;
INSERT INTO saas.tasks (organization_id, project_id, title, custom_fields)
SELECT organization_id, id, 't' || g, jsonb_build_object('k', g) FROM saas.projects, generate_series(1, 20) g;
INSERT INTO saas.tickets (organization_id, title, created_by_id)
SELECT organization_id, 'k', id FROM saas.users;
-- The app role fuzzes inside a tenant: set it as a role default (the
-- fuzzer cannot BEGIN; a fixed tenant is what an app session would have).
SELECT format('ALTER ROLE $app IN DATABASE $db SET app.current_tenant_id = %L',
              (SELECT id FROM saas.organizations ORDER BY slug LIMIT 1)) \\gexec
});
is($ret, 0, 'fuzz database prepared') or diag $err;

my $pidfile = $node->data_dir . '/postmaster.pid';
my ($postmaster_before) = split /\n/, slurp_file($pidfile);
my $log_pos = SaasTest::log_position($node);

# sqlsmith exits non-zero when the server goes away under it.
my $half = int($n / 2);
my ($out, $errout);
my $rc1 = run_log(
	[
		'timeout', 1500, 'sqlsmith',
		'--target=' . SaasTest::connstr_as($node, $db, $app),
		"--max-queries=$half", '--seed=42'
	],
	'>', \$out, '2>', \$errout);
ok($rc1, "sqlsmith ran $half queries as the application role")
  or diag "sqlsmith exit status " . ($? >> 8) . ": " . substr($errout, -2000);
my $rc2 = run_log(
	[
		'timeout', 1500, 'sqlsmith',
		'--target=' . $node->connstr($db),
		'--exclude-catalog', '--max-queries=' . ($n - $half), '--seed=7'
	],
	'>', \$out, '2>', \$errout);
ok($rc2, 'sqlsmith ran ' . ($n - $half) . ' queries as the owner (superuser)')
  or diag "sqlsmith exit status " . ($? >> 8) . ": " . substr($errout, -2000);

is($node->safe_psql('postgres', 'SELECT 1'),
	'1', 'server still accepts connections');
my ($postmaster_after) = split /\n/, slurp_file($pidfile);
is($postmaster_after, $postmaster_before,
	'same postmaster (no crash-restart)');
my $log = SaasTest::log_since($node, $log_pos);
is(SaasTest::count_matches($log, qr/terminated by signal|was terminated|TRAP:|PANIC/),
	0, 'no backend crash, assertion or PANIC in the server log')
  or diag join "\n", grep { /terminated by signal|TRAP:|PANIC/ } split /\n/, $log;

note "fuzz queries run: $n";

done_testing();
