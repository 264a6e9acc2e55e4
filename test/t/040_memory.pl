# Memory: one UPDATE of N audited rows (SAAS_MEM_ROWS, else 300,000 in short
# mode -- row mode takes ~100 us a row on 2 cores -- and 1,000,000 in long
# mode), as superuser, runs with bounded backend memory in row mode and in
# statement mode, compared with a no-audit baseline UPDATE of the same rows
# (the table keeps its updated_at trigger throughout).  For each statement
# the backend's peak RSS is measured two ways:
#   * VmHWM, read by the backend itself from /proc/self/status right after
#     the statement (a high-water mark; it includes the shared buffers the
#     backend touched, up to shared_buffers = 256MB);
#   * peak RssAnon (private memory only), sampled every 50 ms from this test
#     through /proc/<backend pid>/status while the statement runs.
# Checks: every statement audited every row (one audit row per row, one
# transaction each), VmHWM < 1 GB, and each audit mode's peak private memory
# stays within baseline + 32 MB + 64 bytes per row: the fixed part covers the
# statement mode's transition tables (work_mem each before they spill) and
# audit batches; the per-row part covers the row-mode AFTER trigger event
# queue, PostgreSQL's own per-row cost (measured: ~16 B/row).  A leak of a
# few dozen bytes per row in the trigger would exceed it.

use strict;
use warnings FATAL => 'all';

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time usleep);
use SaasTest;

my $db       = 'saas_mem';
my $rows     = SaasTest::mode_value('SAAS_MEM_ROWS', 300_000, 1_000_000);
my $limit_kb = 1024 * 1024;

my $node = SaasTest::new_node('mem');
SaasTest::create_saas_db($node, $db);
my ($ret, undef, $err) = $node->psql(
	$db, qq{
SET client_min_messages = warning;
CREATE TABLE mem_items (
    id              uuid        NOT NULL DEFAULT saas.uuid_generate_v7() PRIMARY KEY,
    organization_id uuid        NOT NULL,
    n               integer     NOT NULL,
    label           text        NOT NULL,
    custom_fields   jsonb       NOT NULL DEFAULT '{}',
    updated_at      timestamptz NOT NULL DEFAULT now()
);
INSERT INTO mem_items (organization_id, n, label, custom_fields)
SELECT '00000000-0000-7000-8000-000000000001', g, 'item ' || g, jsonb_build_object('g', g)
FROM generate_series(1, $rows) g;
SELECT saas.enable_updated_at('mem_items');
VACUUM ANALYZE mem_items;
});
is($ret, 0, "loaded $rows rows") or diag $err;

sub rss_anon
{
	my ($pid) = @_;
	open my $fh, '<', "/proc/$pid/status" or return undef;
	my ($kb) = join('', <$fh>) =~ /^RssAnon:\s+(\d+) kB/m;
	close $fh;
	return $kb;
}

# One UPDATE of every row in a fresh session, sampling its backend's
# private memory while it runs.  Returns (ok, seconds, VmHWM kB, peak
# RssAnon kB, RssAnon kB before the statement).
sub run_update
{
	my $s   = $node->background_psql($db, timeout => 3600);
	my $pid = $s->query_safe('SELECT pg_backend_pid()');
	my $start_anon = rss_anon($pid) // 0;
	my $peak       = $start_anon;
	my $t0         = time;
	# (What query_until returns may already hold "update done".)
	my $out = $s->query_until(qr/update started\n/,
		"\\echo update started\nUPDATE mem_items SET n = n + 1;\n\\echo update done\n"
	);
	while ($out !~ /update done/)
	{
		my $kb = rss_anon($pid);
		$peak = $kb if defined $kb && $kb > $peak;
		usleep(50_000);
		$s->{run}->pump_nb;
		$out .= $s->{stdout};
		$s->{stdout} = '';
	}
	my $seconds = time - $t0;
	my $ok      = $s->{stderr} eq '';
	diag "UPDATE failed: $s->{stderr}" unless $ok;
	my $hwm = $s->query_safe(
		q{SELECT (regexp_match(pg_read_file('/proc/self/status'), 'VmHWM:\s+([0-9]+) kB'))[1]}
	);
	$s->quit;
	return ($ok, $seconds, $hwm || 0, $peak, $start_anon);
}

my $audit_count = q{
SELECT count(*) || ' ' || count(DISTINCT transaction_id) FROM saas.audit_logs WHERE table_name = 'public.mem_items'};

my %m;
my @r = run_update();
ok($r[0], "baseline UPDATE (no audit) of $rows rows");
$m{baseline} = [ @r[ 1 .. 4 ] ];
is($node->safe_psql($db, $audit_count), '0 0', 'baseline: nothing audited');

$node->safe_psql($db, "SELECT saas.enable_audit('mem_items')");
@r = run_update();
ok($r[0], "row-mode audited UPDATE of $rows rows");
$m{row} = [ @r[ 1 .. 4 ] ];
is($node->safe_psql($db, $audit_count),
	"$rows 1", 'row mode: one audit row per row, in one transaction');

$node->safe_psql($db,
	"SELECT saas.enable_audit('mem_items', mode => 'statement')");
is( $node->safe_psql(
		$db,
		"SELECT string_agg(tgname, ',' ORDER BY tgname) FROM pg_trigger WHERE tgrelid = 'mem_items'::regclass AND tgname LIKE 'saas_audit%'"
	),
	'saas_audit_delete,saas_audit_insert,saas_audit_truncate,saas_audit_update',
	'statement-mode triggers installed (and the one for TRUNCATE)');
@r = run_update();
ok($r[0], "statement-mode audited UPDATE of $rows rows");
$m{statement} = [ @r[ 1 .. 4 ] ];
is($node->safe_psql($db, $audit_count),
	2 * $rows . ' 2',
	'statement mode: one more audit row per row, in one transaction');
is( $node->safe_psql(
		$db, q{
SELECT count(*) FROM saas.audit_logs WHERE table_name = 'public.mem_items' AND action = 'UPDATE'
   AND changed_columns = '{n,updated_at}' AND (new_values->>'n')::int = (old_values->>'n')::int + 1}
	),
	2 * $rows,
	'every audit row records the change of n (old + 1 = new) and updated_at');

note "figure: rows=$rows";
for my $mode ('baseline', 'row', 'statement')
{
	my ($sec, $hwm, $anon, $start) = @{ $m{$mode} };
	note sprintf(
		'figure: %-9s: %.1fs VmHWM %d kB, peak RssAnon %d kB (%d kB before the statement)',
		$mode, $sec, $hwm, $anon, $start);
}
for my $mode ('baseline', 'row', 'statement')
{
	my $hwm = $m{$mode}[1];
	ok($hwm > 0 && $hwm < $limit_kb, "$mode: VmHWM $hwm kB < 1 GB");
}
my $allow  = 32 * 1024 + int($rows * 64 / 1024);
my $b_anon = $m{baseline}[2];
cmp_ok($b_anon, '>', 0, "baseline peak private memory measured ($b_anon kB)");
for my $mode ('row', 'statement')
{
	my $anon = $m{$mode}[2];
	cmp_ok($anon, '<=', $b_anon + $allow,
		"$mode mode private memory within baseline + 32 MB + 64 B/row ($anon <= $b_anon + $allow kB)"
	);
}

done_testing();
