# Crash safety of the audited write path.  A cluster with fsync,
# synchronous_commit and full_page_writes on.  A pgbench write load (every
# transaction updates a task and inserts a comment, both carrying a unique
# marker, and logs the marker into crash_log in the SAME transaction, so
# committed == logged) is interrupted by kill -9 of a backend (the
# postmaster reinitializes) and by kill -9 of the postmaster and all its
# children (restarted: crash recovery from WAL).  Rounds: SAAS_CRASH_ROUNDS,
# else 2 (short mode) / 8 (long mode); each round is one backend kill and one
# postmaster kill.  After the last recovery:
#   * every logged transaction has exactly one audit row for its task update
#     and one for its comment insert, and no audit row, comment or title
#     carries a marker that is not logged (nothing uncommitted survived);
#   * every transaction pgbench saw committed is there (durability);
#   * each task's current title is the one its newest audit row recorded;
#   * contrib amcheck: bt_index_check(heapallindexed) on every btree index of
#     schema saas (audit partitions included) and of crash_log, and
#     verify_heapam on every table: no corruption.

use strict;
use warnings FATAL => 'all';

use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);
use SaasTest;

my $rounds       = SaasTest::mode_value('SAAS_CRASH_ROUNDS', 2, 8);
my $load_seconds = 4;
my $clients      = 6;
my $db           = 'saas_crash';
my $tmp          = PostgreSQL::Test::Utils::tempdir('crash');

my $node = SaasTest::new_node(
	'crash',
	durable => 1,
	conf    => ['restart_after_crash = on']);

is( $node->safe_psql(
		'postgres',
		"SELECT current_setting('fsync') || current_setting('synchronous_commit') || current_setting('full_page_writes')"
	),
	'ononon',
	'fsync, synchronous_commit and full_page_writes are on');

SaasTest::create_saas_db($node, $db);
my ($ret, $out, $err) = $node->psql(
	$db, q{
SET client_min_messages = warning;
CREATE EXTENSION amcheck;
INSERT INTO saas.organizations (name, slug) VALUES ('Crash', 'crash');
INSERT INTO saas.users (organization_id, email, password_hash) SELECT id, 'u@crash.example', 'h' FROM saas.organizations;
INSERT INTO saas.projects (organization_id, name) SELECT id, 'p' FROM saas.organizations;
CREATE TABLE crash_hot (n int PRIMARY KEY, org uuid NOT NULL, task_id uuid NOT NULL, author_id uuid NOT NULL);
WITH t AS (INSERT INTO saas.tasks (organization_id, project_id, title)
           SELECT organization_id, id, 'task ' || g FROM saas.projects, generate_series(1, 20) g
           RETURNING organization_id, id, title)
INSERT INTO crash_hot SELECT row_number() OVER (ORDER BY title), organization_id, id,
       (SELECT id FROM saas.users) FROM t;
CREATE SEQUENCE crash_seq;
CREATE TABLE crash_log (marker bigint PRIMARY KEY, task_n int NOT NULL, logged_at timestamptz DEFAULT clock_timestamp());
SELECT count(*) FROM pg_trigger WHERE tgname = 'saas_audit';
});
is($ret, 0, "database prepared (audit on every tenant table: $out audit triggers)")
  or diag $err;

my $script = "$tmp/load.sql";
append_to_file(
	$script, q{
\set n random(1, 20)
BEGIN;
SELECT saas.set_tenant(org) FROM crash_hot WHERE n = :n;
SELECT nextval('crash_seq') AS m \gset
UPDATE saas.tasks t SET title = 'crash ' || :m, priority = 1 + t.priority % 5
  FROM crash_hot h WHERE h.n = :n AND t.organization_id = h.org AND t.id = h.task_id;
INSERT INTO saas.task_comments (organization_id, task_id, author_id, body)
  SELECT org, task_id, author_id, 'crash ' || :m FROM crash_hot WHERE n = :n;
INSERT INTO crash_log (marker, task_n) VALUES (:m, :n);
COMMIT;
});

# The load runs in the background while this test kills the server under
# it, so it is started with IPC::Run rather than $node->pgbench (which
# waits for pgbench to finish).
my $acked   = 0;
my $crashes = 0;
my ($load, $load_out, $load_err);

sub start_load
{
	($load_out, $load_err) = ('', '');
	local $ENV{PGAPPNAME} = 'crash_load';
	$load = IPC::Run::start(
		[
			'pgbench', '-n', '-h', $node->host, '-p', $node->port,
			'-d', $db, '-c', $clients, '-j', 2, '-T', 60, '-f', $script
		],
		'>', \$load_out, '2>', \$load_err);
	# Until the load really runs, then a few seconds of it.
	$node->poll_query_until($db, 'SELECT count(*) > 50 FROM crash_log')
	  or diag 'the load did not get going';
	sleep $load_seconds;
	return;
}

# Collects the transactions pgbench saw committed (it exits non-zero: its
# clients lost their connections).
sub finish_load
{
	my ($label) = @_;
	$load->finish;
	my ($n) = $load_out =~ /^number of transactions actually processed: (\d+)/m;
	$n //= 0;
	$acked += $n;
	note "$label: pgbench saw $n commits; "
	  . SaasTest::count_matches($load_err, qr/terminat|server closed|could not/)
	  . ' client error lines';
	return;
}

sub postmaster_pid
{
	my ($pid) = split /\n/, slurp_file($node->data_dir . '/postmaster.pid');
	return $pid;
}

sub children_of
{
	my ($parent) = @_;
	my @kids;
	for my $stat (glob '/proc/[0-9]*/stat')
	{
		open my $fh, '<', $stat or next;
		my $line = <$fh>;
		close $fh;
		next unless defined $line && $line =~ /^(\d+) \(.*\) \S (\d+) /s;
		push @kids, $1 if $2 == $parent;
	}
	return @kids;
}

sub all_gone
{
	my @pids = @_;
	for (1 .. 100)
	{
		return 1 unless grep { kill 0, $_ } @pids;
		usleep(100_000);
	}
	return 0;
}

# pg_ctl start after a crash replays WAL; give it time on a slow machine.
local $ENV{PGCTLTIMEOUT} = 120;

for my $r (1 .. $rounds)
{
	# 1. kill -9 a backend in the middle of the load: the postmaster kills
	#    the other backends and reinitializes (crash recovery).
	my $pm = postmaster_pid();
	start_load();
	my $victim = $node->safe_psql($db,
		"SELECT pid FROM pg_stat_activity WHERE application_name = 'crash_load' ORDER BY random() LIMIT 1"
	);
	ok($victim && kill('KILL', $victim) == 1,
		"round $r: kill -9 of backend $victim during the load");
	finish_load("round $r, backend kill");
	ok($node->poll_query_until($db, 'SELECT 1', '1'),
		"round $r: server back after the backend crash");
	is(postmaster_pid(), $pm,
		"round $r: same postmaster (it reinitialized, did not die)");
	$crashes++;

	# 2. kill -9 the postmaster and its children (as a power cut would),
	#    then start: crash recovery from WAL.
	start_load();
	$pm = postmaster_pid();
	my @children = children_of($pm);
	$node->kill9;
	kill 'KILL', @children;
	ok(all_gone($pm, @children),
		"round $r: postmaster $pm and its " . scalar(@children)
		  . " children gone after kill -9 during the load");
	finish_load("round $r, postmaster kill");
	ok($node->start(fail_ok => 1),
		"round $r: the server starts after the postmaster was killed");
	ok($node->poll_query_until($db, 'SELECT 1', '1'),
		"round $r: recovered and accepting connections");
	$crashes++;
}

my $log = slurp_file($node->logfile);
my $recoveries = SaasTest::count_matches($log,
	qr/database system was not properly shut down; automatic recovery in progress/
);
cmp_ok($recoveries, '>=', 2 * $rounds,
	"the server log shows $recoveries crash recoveries (at least one per kill)");
is(SaasTest::count_matches($log, qr/PANIC|TRAP:/),
	0, 'no PANIC or assertion failure in the server log');

my $committed = $node->safe_psql($db, 'SELECT count(*) FROM crash_log');
cmp_ok($acked, '>', 0, "pgbench saw transactions committed ($acked)");
cmp_ok($committed, '>=', $acked,
	"durability: all $acked transactions pgbench saw committed are logged ($committed logged)"
);
cmp_ok(
	$committed, '<=',
	$acked + $clients * $crashes,
	'at most one in-flight commit per client per crash is logged but unacknowledged ('
	  . ($committed - $acked) . ')');

# Markers in audit rows: the task update's new title, the comment's body.
my @audit = split /\n/, $node->safe_psql(
	$db, q{
CREATE TEMP TABLE a AS
SELECT (regexp_match(coalesce(new_values->>'title', new_values->>'body'), '^crash ([0-9]+)$'))[1]::bigint AS m,
       table_name, action
  FROM saas.audit_logs WHERE table_name IN ('saas.tasks', 'saas.task_comments');
CREATE TEMP TABLE per AS
SELECT m, count(*) FILTER (WHERE table_name = 'saas.tasks' AND action = 'UPDATE') AS task_updates,
       count(*) FILTER (WHERE table_name = 'saas.task_comments' AND action = 'INSERT') AS comment_inserts,
       count(*) AS total
  FROM a WHERE m IS NOT NULL GROUP BY m;
CREATE TEMP TABLE cm AS
SELECT (regexp_match(body, '^crash ([0-9]+)$'))[1]::bigint AS m FROM saas.task_comments;
ANALYZE a, per, cm;
-- logged markers with exactly one task UPDATE and one comment INSERT audit row
SELECT count(*) FROM crash_log l JOIN per p ON p.m = l.marker
 WHERE p.task_updates = 1 AND p.comment_inserts = 1 AND p.total = 2;
-- audit rows with a marker that was never logged (an uncommitted change)
SELECT count(*) FROM per WHERE NOT EXISTS (SELECT 1 FROM crash_log l WHERE l.marker = per.m);
-- comments with an unlogged marker, logged markers without exactly one comment
SELECT count(*) FROM cm WHERE m IS NULL OR NOT EXISTS (SELECT 1 FROM crash_log l WHERE l.marker = cm.m);
SELECT count(*) FROM crash_log l LEFT JOIN (SELECT m, count(*) AS n FROM cm GROUP BY m) g ON g.m = l.marker
 WHERE g.n IS DISTINCT FROM 1;
-- tasks whose current title differs from the newest audited one
SELECT count(*) FROM saas.tasks t
 WHERE t.title IS DISTINCT FROM (SELECT new_values->>'title' FROM saas.audit_logs al
                                  WHERE al.record_id = t.id AND al.new_values ? 'title'
                                  ORDER BY al.id DESC LIMIT 1);
});
is($audit[0], $committed,
	'every committed transaction has exactly one task and one comment audit row');
is($audit[1], 0, 'no audit row of an uncommitted change');
is($audit[2], 0, 'no comment of an uncommitted transaction');
is($audit[3], 0, "every committed transaction's comment is there, once");
is($audit[4], 0, "each task's title is the one its newest audit row recorded");

($ret, $out, $err) = $node->psql(
	$db, q{
SELECT count(*) FROM (
    SELECT bt_index_check(index => c.oid, heapallindexed => true)
      FROM pg_class c JOIN pg_am am ON am.oid = c.relam
     WHERE c.relkind = 'i' AND am.amname = 'btree'
       AND c.relnamespace IN ('saas'::regnamespace, 'public'::regnamespace)) s;
SELECT count(*) FROM pg_class c
 WHERE c.relkind = 'i' AND c.relnamespace = 'saas'::regnamespace AND c.relname LIKE '%audit_logs%';
SELECT count(*) FROM pg_class c, LATERAL verify_heapam(c.oid) v
 WHERE c.relkind IN ('r', 'm', 't') AND c.relnamespace IN ('saas'::regnamespace, 'public'::regnamespace);
SELECT count(*) FROM pg_class c
 WHERE c.relkind = 'r' AND c.relnamespace IN ('saas'::regnamespace, 'public'::regnamespace);
});
is($ret, 0, 'amcheck ran without error') or diag $err;
my ($checked, $audit_indexes, $corrupt, $tables) = split /\n/, $out;
$_ //= 0 for ($checked, $audit_indexes, $tables);
cmp_ok($checked, '>=', 20,
	"bt_index_check(heapallindexed) passed on $checked btree indexes");
cmp_ok($audit_indexes, '>=', 3,
	"the indexes checked include the audit_logs partitions' ($audit_indexes)");
is($corrupt, 0, "verify_heapam: no corruption in $tables tables");

note "figure: crashes survived: $crashes ($rounds backend kills, $rounds postmaster kills); "
  . "committed transactions: $committed (pgbench acknowledged $acked)";
note 'figure: audit rows: '
  . $node->safe_psql($db, 'SELECT count(*) FROM saas.audit_logs');

done_testing();
