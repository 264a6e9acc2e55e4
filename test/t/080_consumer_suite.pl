# test/consumer is an example of a user's own pg_regress suite that loads
# saas_schema (--load-extension) and asserts ids and audit output.  Its own
# Makefile runs it (make installcheck, as a user would) twice against one
# cluster: both runs must pass against the same expected file, which proves
# the ids (saas.test_seed) and saas.audit_trail() output are deterministic.

use strict;
use warnings FATAL => 'all';

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use SaasTest;

my $consumer = SaasTest::srcdir() . '/test/consumer';
my $tmp      = PostgreSQL::Test::Utils::tempdir('consumer');

my $node = SaasTest::new_node('consumer');

for my $run (1, 2)
{
	# Results go to a scratch directory, not into the source tree.
	$node->command_like(
		[
			'make', '-s', '-C', $consumer, 'installcheck',
			'PG_CONFIG=' . SaasTest::pg_config('--bindir') . '/pg_config',
			"EXTRA_REGRESS_OPTS=--outputdir=$tmp/run$run"
		],
		qr/^test saas_consumer +\.\.\. ok/m,
		"consumer suite, run $run, matches expected/saas_consumer.out");
	diag slurp_file("$tmp/run$run/regression.diffs")
	  if -f "$tmp/run$run/regression.diffs";
}

# The expected file really contains ids and audit rows (not an empty shell).
my $expected = slurp_file("$consumer/expected/saas_consumer.out");
my $ids = SaasTest::count_matches($expected, qr/016f5e66-/);
cmp_ok($ids, '>=', 10,
	"expected output asserts concrete ids ($ids lines with seeded ids)");
like($expected, qr/SOFT_DELETE/, 'expected output asserts audit rows');

done_testing();
