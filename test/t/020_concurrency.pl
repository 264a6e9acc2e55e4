# Concurrency: 8 pgbench clients, as the application role, hammer a small hot
# set of tasks for SAAS_CONC_SECONDS (short mode 60 s, long mode 300 s):
# updates of one task or of two tasks in a fixed order, comment edits,
# comment inserts, and soft-delete/restore toggles (which cascade to the
# task's comments).  Every transaction records, in the same transaction, how
# many rows it changed into conc_log.  Checks:
#   * the workload is error-free: no failed or aborted pgbench transaction,
#     no ERROR and no "deadlock detected" in the server log;
#   * audit rows written during the run == sum of conc_log.changes (every
#     committed change audited exactly once, nothing else audited);
#   * updated_at never moves backwards: a test-only AFTER UPDATE trigger logs
#     every NEW.updated_at < OLD.updated_at (must stay empty; the trigger is
#     shown to fire on a forced backwards write), and the audit rows'
#     new_values->updated_at never decrease per record in audit id order.

use strict;
use warnings FATAL => 'all';

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time);
use SaasTest;

my $db      = 'saas_conc';
my $app     = 'regress_conc_app';
my $clients = 8;
my $seconds = SaasTest::mode_value('SAAS_CONC_SECONDS', 60, 300);
my $tmp     = PostgreSQL::Test::Utils::tempdir('conc');

my $node = SaasTest::new_node('conc');
SaasTest::create_saas_db($node, $db);
SaasTest::create_app_role($node, $db, $app);

my ($ret, $out, $err) = $node->psql(
	$db, qq{
SET client_min_messages = warning;
INSERT INTO saas.organizations (name, slug) SELECT 'Org ' || g, 'org-' || g FROM generate_series(1, 2) g;
INSERT INTO saas.users (organization_id, email, password_hash)
SELECT id, 'u\@' || slug || '.example', 'h' FROM saas.organizations;
INSERT INTO saas.projects (organization_id, name) SELECT id, 'hot project' FROM saas.organizations;
-- The hot set: 10 tasks (5 per tenant), 2 comments each.
CREATE TABLE conc_hot (n int PRIMARY KEY, org uuid NOT NULL, task_id uuid NOT NULL, author_id uuid NOT NULL);
WITH t AS (
    INSERT INTO saas.tasks (organization_id, project_id, title)
    SELECT p.organization_id, p.id, 'hot ' || g FROM saas.projects p, generate_series(1, 5) g
    RETURNING organization_id, id, title)
INSERT INTO conc_hot
SELECT row_number() OVER (ORDER BY organization_id, title), organization_id, id,
       (SELECT u.id FROM saas.users u WHERE u.organization_id = t.organization_id)
FROM t;
CREATE TABLE conc_hot_comment (n int PRIMARY KEY, task_n int NOT NULL, comment_id uuid NOT NULL);
WITH c AS (
    INSERT INTO saas.task_comments (organization_id, task_id, author_id, body)
    SELECT h.org, h.task_id, h.author_id, 'seed ' || h.n || '/' || g FROM conc_hot h, generate_series(1, 2) g
    RETURNING task_id, id)
INSERT INTO conc_hot_comment
SELECT row_number() OVER (ORDER BY h.n, c.id), h.n, c.id FROM c JOIN conc_hot h USING (task_id);
-- What each committed transaction changed (rows), written in the same transaction.
CREATE TABLE conc_log (id bigserial PRIMARY KEY, kind text NOT NULL, changes bigint NOT NULL);
-- Test-only: every backwards move of updated_at.
CREATE TABLE conc_violation (tbl text, id uuid, old_ts timestamptz, new_ts timestamptz);
CREATE FUNCTION conc_check_updated_at() RETURNS trigger LANGUAGE plpgsql AS \$\$
BEGIN
    INSERT INTO conc_violation VALUES (TG_TABLE_NAME, NEW.id, OLD.updated_at, NEW.updated_at);
    RETURN NULL;
END \$\$;
CREATE TRIGGER zz_conc_check AFTER UPDATE ON saas.tasks FOR EACH ROW
    WHEN (NEW.updated_at < OLD.updated_at) EXECUTE FUNCTION conc_check_updated_at();
CREATE TRIGGER zz_conc_check AFTER UPDATE ON saas.task_comments FOR EACH ROW
    WHEN (NEW.updated_at < OLD.updated_at) EXECUTE FUNCTION conc_check_updated_at();
-- Toggle one task: soft-delete it if active, restore it if deleted.  The
-- row lock first, so the decision and the change see the same row version
-- (two clients toggling the same task serialize instead of erroring).
CREATE FUNCTION conc_toggle(n_task int) RETURNS bigint LANGUAGE plpgsql AS \$\$
DECLARE
    h conc_hot;
    d timestamptz;
BEGIN
    SELECT * INTO STRICT h FROM conc_hot WHERE n = n_task;
    SELECT deleted_at INTO STRICT d FROM saas.tasks
     WHERE organization_id = h.org AND id = h.task_id FOR NO KEY UPDATE;
    IF d IS NULL THEN
        RETURN saas.soft_delete('saas.tasks', h.task_id);
    END IF;
    RETURN saas.restore('saas.tasks', h.task_id);
END \$\$;
GRANT SELECT ON conc_hot, conc_hot_comment TO $app;
GRANT INSERT ON conc_log, conc_violation TO $app;
GRANT USAGE ON SEQUENCE conc_log_id_seq TO $app;
});
is($ret, 0,
	'database, hot set (10 tasks, 20 comments) and side tables prepared')
  or diag $err;

# The violation trigger really catches a backwards write (the check can fail).
is( $node->safe_psql(
		$db, q{
BEGIN;
ALTER TABLE saas.tasks DISABLE TRIGGER trg_tasks_updated_at;
UPDATE saas.tasks SET updated_at = updated_at - interval '1 hour' WHERE id = (SELECT task_id FROM conc_hot WHERE n = 1);
SELECT count(*) FROM conc_violation;
ROLLBACK;
}),
	'1',
	'the updated_at violation trigger fires on a backwards write (then rolled back)'
);
is( $node->safe_psql(
		$db,
		"SELECT count(*) FROM pg_trigger WHERE tgrelid = 'saas.tasks'::regclass AND tgname = 'trg_tasks_updated_at'"
	),
	'1',
	'tasks has the updated_at trigger (trg_tasks_updated_at)');

# The workload.  Each script is one transaction; each picks its tenant from
# the hot row it touches.
my %scripts = (
	'update_task@4' => q{
\set n random(1, 10)
BEGIN;
SELECT saas.set_tenant(org) FROM conc_hot WHERE n = :n;
WITH u AS (UPDATE saas.tasks t SET priority = 1 + t.priority % 5, description = 'upd ' || txid_current()
           FROM conc_hot h WHERE h.n = :n AND t.organization_id = h.org AND t.id = h.task_id RETURNING 1)
INSERT INTO conc_log (kind, changes) SELECT 'update_task', count(*) FROM u;
COMMIT;
},
	# Two tasks of one tenant, lower n first: a fixed lock order.
	'update_pair@2' => q{
\set a random(1, 4)
\set b random(:a + 1, 5)
\set base 5 * random(0, 1)
BEGIN;
SELECT saas.set_tenant(org) FROM conc_hot WHERE n = :base + :a;
WITH u AS (UPDATE saas.tasks t SET status = CASE t.status WHEN 'todo' THEN 'in_progress' WHEN 'in_progress' THEN 'done' ELSE 'todo' END
           FROM conc_hot h WHERE h.n = :base + :a AND t.organization_id = h.org AND t.id = h.task_id RETURNING 1)
INSERT INTO conc_log (kind, changes) SELECT 'update_pair', count(*) FROM u;
WITH u AS (UPDATE saas.tasks t SET status = CASE t.status WHEN 'todo' THEN 'in_progress' WHEN 'in_progress' THEN 'done' ELSE 'todo' END
           FROM conc_hot h WHERE h.n = :base + :b AND t.organization_id = h.org AND t.id = h.task_id RETURNING 1)
INSERT INTO conc_log (kind, changes) SELECT 'update_pair', count(*) FROM u;
COMMIT;
},
	'edit_comment@3' => q{
\set c random(1, 20)
BEGIN;
SELECT saas.set_tenant(h.org) FROM conc_hot h JOIN conc_hot_comment c ON c.task_n = h.n WHERE c.n = :c;
WITH u AS (UPDATE saas.task_comments tc SET body = 'edit ' || txid_current()
           FROM conc_hot_comment c JOIN conc_hot h ON h.n = c.task_n
           WHERE c.n = :c AND tc.organization_id = h.org AND tc.id = c.comment_id RETURNING 1)
INSERT INTO conc_log (kind, changes) SELECT 'edit_comment', count(*) FROM u;
COMMIT;
},
	'add_comment@2' => q{
\set n random(1, 10)
BEGIN;
SELECT saas.set_tenant(org) FROM conc_hot WHERE n = :n;
WITH i AS (INSERT INTO saas.task_comments (organization_id, task_id, author_id, body)
           SELECT org, task_id, author_id, 'new ' || txid_current() FROM conc_hot WHERE n = :n RETURNING 1)
INSERT INTO conc_log (kind, changes) SELECT 'add_comment', count(*) FROM i;
COMMIT;
},
	'toggle@2' => q{
\set n random(1, 10)
BEGIN;
SELECT saas.set_tenant(org) FROM conc_hot WHERE n = :n;
INSERT INTO conc_log (kind, changes) SELECT 'toggle', conc_toggle(:n);
COMMIT;
});

my $audit_sql =
  "SELECT count(*) FROM saas.audit_logs WHERE table_name IN ('saas.tasks', 'saas.task_comments')";
my $audit_before = $node->safe_psql($db, $audit_sql);
my $log_pos      = SaasTest::log_position($node);
my $start        = time;

# -l: one line per transaction in $tmp/txn.*, the count of committed
# transactions compared with conc_log below.
$node->pgbench(
	"--no-vacuum --client=$clients --jobs=2 --time=$seconds --log --log-prefix=$tmp/txn --username=$app",
	0,
	[
		qr/^number of transactions actually processed: [1-9]/m,
		qr/^number of failed transactions: 0 /m
	],
	[qr/\A(?![\s\S]*(?:aborted|error))/i],
	"pgbench ($clients clients as $app, $seconds s):",
	\%scripts,
	$db);
my $elapsed = time - $start;

my $processed = 0;
for my $f (glob "$tmp/txn.*")
{
	$processed += () = slurp_file($f) =~ /\n/g;
}

my $newlog = SaasTest::log_since($node, $log_pos);
is(SaasTest::count_matches($newlog, qr/deadlock detected/),
	0, 'no deadlock detected in the server log');
is(SaasTest::count_matches($newlog, qr/ERROR:/),
	0, 'no ERROR in the server log during the run')
  or diag join "\n", grep { /ERROR:|DETAIL:/ } split /\n/, $newlog;

my ($logged, $pairs, $changes) = split /\|/, $node->safe_psql(
	$db, q{
SELECT count(*) FILTER (WHERE kind <> 'update_pair'),  -- a pair logs twice
       count(*) FILTER (WHERE kind = 'update_pair') / 2,
       sum(changes)
  FROM conc_log});
is($logged + $pairs, $processed,
	"every pgbench transaction is in conc_log (committed == logged: $processed)");
my $audit_after = $node->safe_psql($db, $audit_sql);
is($audit_after - $audit_before, $changes,
	"audit rows written during the run == rows changed by committed transactions ($changes)"
);
note 'figure: ' . $_
  for split /\n/, $node->safe_psql($db,
	"SELECT kind || ': ' || count(*) || ' transactions, ' || sum(changes) || ' rows' FROM conc_log GROUP BY kind ORDER BY kind"
  );

my ($toggles, $cascaded) = split /\|/, $node->safe_psql($db,
	"SELECT count(*), count(*) FILTER (WHERE changes > 1) FROM conc_log WHERE kind = 'toggle'"
);
cmp_ok($toggles, '>', 0, "soft-delete/restore toggles ran ($toggles)");
cmp_ok($cascaded, '>', 0,
	"$cascaded of the toggles cascaded to the task's comments");
is( $node->safe_psql(
		$db,
		"SELECT string_agg(DISTINCT action, ',' ORDER BY action) FROM saas.audit_logs"
	),
	'INSERT,RESTORE,SOFT_DELETE,UPDATE',
	'the audit log holds inserts, updates, soft deletes and restores');

is($node->safe_psql($db, 'SELECT count(*) FROM conc_violation'),
	'0', 'updated_at never moved backwards (violation trigger)');
my ($below_prev, $below_old, $rows) = split /\|/, $node->safe_psql(
	$db, q{
WITH a AS (
    SELECT record_id, id, (new_values->>'updated_at')::timestamptz AS nu,
           (old_values->>'updated_at')::timestamptz AS ou
      FROM saas.audit_logs
     WHERE table_name IN ('saas.tasks', 'saas.task_comments') AND new_values ? 'updated_at'),
  l AS (SELECT *, lag(nu) OVER (PARTITION BY record_id ORDER BY id) AS prev FROM a)
SELECT count(*) FILTER (WHERE nu < prev), count(*) FILTER (WHERE nu < ou), count(*) FROM l});
is($below_prev, 0,
	"audit rows: new updated_at never below the previous one of its record ($rows rows)"
);
is($below_old, 0, 'audit rows: new updated_at never below old_values');
cmp_ok($rows, '>', 1000,
	"the audit check covered a non-trivial number of rows ($rows)");
note 'figure: updates that kept the stored (later) updated_at: '
  . $node->safe_psql($db,
	"SELECT count(*) FROM saas.audit_logs WHERE action = 'UPDATE' AND NOT changed_columns @> '{updated_at}'"
  );
note sprintf(
	'figure: clients=%d seconds=%d transactions=%d tps=%.0f audit_rows=%d',
	$clients, $seconds, $processed, $processed / $elapsed,
	$audit_after - $audit_before);

done_testing();
