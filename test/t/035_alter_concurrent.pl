# Triggers firing while another session ALTERs the table.  Session A loops
# (one transaction per iteration) updating every row of two audited tables
# (row mode and statement mode, both with the updated_at trigger) and now
# and then inserting a row; session B concurrently ALTERs both tables: ADD
# COLUMN c_k DEFAULT k / DROP COLUMN c_(k-1), and every 10th time drops and
# re-adds updated_at itself, which moves it to a new attribute number.  The
# C++ triggers cache attribute numbers and column descriptions per trigger:
# a stale cache would raise, write the wrong column or label a value with
# the wrong name.  Checks: both sessions finish without error (lock waits
# only), audit rows == rows changed, every UPDATE audit row is n -> n + 1
# and continues the previous one of its record, every c_k value recorded
# under the name c_k is k, updated_at is always set, and after B's last
# ALTER (which may have moved updated_at) A's updates still stamp it.
# Iterations of A: at least SAAS_ALTER_ITERATIONS, else 1500 (short) / 5000
# (long), and at least 10 more once B is done (B reports it in alt_done), so
# that last check never depends on which session happens to finish first.

use strict;
use warnings FATAL => 'all';

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time);
use SaasTest;

my $db     = 'saas_alter';
my $iter   = SaasTest::mode_value('SAAS_ALTER_ITERATIONS', 1500, 5000);
my $alters = int($iter / 5);

my $node = SaasTest::new_node('alter');
SaasTest::create_saas_db($node, $db);
my ($ret, $out, $err) = $node->psql(
	$db, q{
SET client_min_messages = warning;
CREATE TABLE alt_row (organization_id uuid NOT NULL, id uuid NOT NULL DEFAULT saas.uuid_generate_v7(),
                      n int NOT NULL, note text, updated_at timestamptz NOT NULL DEFAULT now(),
                      PRIMARY KEY (organization_id, id));
CREATE TABLE alt_stmt (LIKE alt_row INCLUDING ALL);
SELECT saas.enable_audit('alt_row');
SELECT saas.enable_audit('alt_stmt', mode => 'statement');
SELECT saas.enable_updated_at('alt_row');
SELECT saas.enable_updated_at('alt_stmt');
INSERT INTO alt_row (organization_id, n, note) SELECT '00000000-0000-7000-8000-000000000001', 0, 'r' || g FROM generate_series(1, 20) g;
INSERT INTO alt_stmt (organization_id, n, note) SELECT '00000000-0000-7000-8000-000000000001', 0, 's' || g FROM generate_series(1, 20) g;
CREATE TABLE alt_log (tbl text, action text, changed bigint);
CREATE TABLE alt_done (done bool);                        -- B is over
CREATE TABLE alt_a_report (iterations int, after_b int);  -- A's loop
});
is($ret, 0,
	'two audited tables (row and statement mode) with updated_at prepared')
  or diag $err;
my $base    = $node->safe_psql($db, 'SELECT count(*) FROM saas.audit_logs');
my $log_pos = SaasTest::log_position($node);

my $a_sql = qq{
DO \$\$
DECLARE
    k bigint;
    i int := 0;
    after_b int := 0;
BEGIN
    LOOP
        i := i + 1;
        IF EXISTS (SELECT FROM alt_done) THEN
            after_b := after_b + 1;
        END IF;
        UPDATE alt_row SET n = n + 1;
        GET DIAGNOSTICS k = ROW_COUNT;
        INSERT INTO alt_log VALUES ('alt_row', 'UPDATE', k);
        UPDATE alt_stmt SET n = n + 1;
        GET DIAGNOSTICS k = ROW_COUNT;
        INSERT INTO alt_log VALUES ('alt_stmt', 'UPDATE', k);
        IF i % 10 = 0 THEN
            INSERT INTO alt_row (organization_id, n, note) VALUES ('00000000-0000-7000-8000-000000000001', 0, 'new ' || i);
            INSERT INTO alt_stmt (organization_id, n, note) VALUES ('00000000-0000-7000-8000-000000000001', 0, 'new ' || i);
            INSERT INTO alt_log VALUES ('alt_row', 'INSERT', 1), ('alt_stmt', 'INSERT', 1);
        END IF;
        COMMIT;
        -- (the bound only matters if B never reports)
        EXIT WHEN (i >= $iter AND after_b >= 10) OR i >= 20 * $iter;
    END LOOP;
    INSERT INTO alt_a_report VALUES (i, after_b);
END \$\$;
};
my $b_sql = qq{
DO \$\$
BEGIN
    FOR k IN 1 .. $alters LOOP
        EXECUTE format('ALTER TABLE alt_row ADD COLUMN c_%s int DEFAULT %s', k, k);
        COMMIT;
        EXECUTE format('ALTER TABLE alt_stmt ADD COLUMN c_%s int DEFAULT %s', k, k);
        COMMIT;
        IF k > 1 THEN
            EXECUTE format('ALTER TABLE alt_row DROP COLUMN c_%s', k - 1);
            COMMIT;
            EXECUTE format('ALTER TABLE alt_stmt DROP COLUMN c_%s', k - 1);
            COMMIT;
        END IF;
        IF k % 10 = 0 THEN
            ALTER TABLE alt_row DROP COLUMN updated_at, ADD COLUMN updated_at timestamptz NOT NULL DEFAULT now();
            COMMIT;
            ALTER TABLE alt_stmt DROP COLUMN updated_at, ADD COLUMN updated_at timestamptz NOT NULL DEFAULT now();
            COMMIT;
        END IF;
        PERFORM pg_sleep(0.01);
    END LOOP;
END \$\$;
};

# Two sessions.  Errors do not end them (on_error_stop => 0): they show on
# the session's stderr, which each check reads.  The timeout covers the
# whole run of a session.
my $t0 = time;
my $sa = $node->background_psql($db, on_error_stop => 0, timeout => 3600);
my $sb = $node->background_psql($db, on_error_stop => 0, timeout => 3600);
# A's loop starts; query_until returns once A has echoed that it begins.
$sa->query_until(qr/a started/, "\\echo a started\n$a_sql\n");
# B's ALTERs, then (even if they failed) the report that B is over.
$sb->query("$b_sql\nINSERT INTO alt_done VALUES (true);");
my $b_err = $sb->{stderr};
my $tb    = time;
$sa->query('SELECT 1');    # returns once A's loop is over
my $a_err = $sa->{stderr};
my $ta    = time;
$sa->quit;
$sb->quit;

my ($a_iterations, $after_b) = split /\|/,
  $node->safe_psql($db, 'SELECT iterations, after_b FROM alt_a_report');
is($a_err, '', "session A: " . ($a_iterations // '?') . " update iterations, no error");
is($b_err, '', "session B: $alters rounds of ADD/DROP COLUMN, no error");
cmp_ok($after_b // 0, '>=', 10,
	"A's last iterations ran after B's last ALTER (" . ($after_b // 0) . ')');
my $columns_seen = $node->safe_psql(
	$db, q{
SELECT count(DISTINCT e.key) FROM saas.audit_logs a, jsonb_each(a.new_values) e
 WHERE a.table_name = 'public.alt_row' AND a.action = 'INSERT' AND e.key ~ '^c_[0-9]+$'});
cmp_ok($columns_seen, '>=', 2,
	"the updates ran while the ALTERs did: A's inserts met $columns_seen different added columns"
);
note sprintf('figure: updates ran %.1fs, alters %.1fs', $ta - $t0, $tb - $t0);
is(SaasTest::count_matches(SaasTest::log_since($node, $log_pos), qr/ERROR:/),
	0, 'no ERROR in the server log');
is( $node->safe_psql(
		$db,
		"SELECT count(*) FROM pg_attribute WHERE attrelid = 'alt_row'::regclass AND attname = 'updated_at' AND attnum > 5"
	),
	'1',
	'updated_at really moved to a new attribute number');

for my $t ('alt_row', 'alt_stmt')
{
	my ($audited, $logged) = split /\|/, $node->safe_psql(
		$db, qq{
SELECT (SELECT count(*) FROM saas.audit_logs WHERE table_name = 'public.$t' AND action = 'UPDATE'),
       (SELECT sum(changed) FROM alt_log WHERE tbl = '$t' AND action = 'UPDATE')});
	is($audited, $logged, "$t: one UPDATE audit row per updated row ($logged)");

	($audited, $logged) = split /\|/, $node->safe_psql(
		$db, qq{
SELECT (SELECT count(*) FROM saas.audit_logs WHERE table_name = 'public.$t' AND action = 'INSERT'),
       (SELECT 20 + sum(changed) FROM alt_log WHERE tbl = '$t' AND action = 'INSERT')});
	is($audited, $logged,
		"$t: one INSERT audit row per inserted row ($logged)");

	my ($bad, $rows) = split /\|/, $node->safe_psql(
		$db, qq{
WITH u AS (
    SELECT record_id, id, (old_values->>'n')::int AS o, (new_values->>'n')::int AS nw, changed_columns,
           lag((new_values->>'n')::int) OVER (PARTITION BY record_id ORDER BY id) AS prev
      FROM saas.audit_logs WHERE table_name = 'public.$t' AND action = 'UPDATE')
SELECT count(*) FILTER (WHERE nw IS DISTINCT FROM o + 1 OR (prev IS NOT NULL AND o <> prev)
                            OR NOT changed_columns <@ '{n,updated_at}' OR NOT changed_columns @> '{n}'),
       count(*)
  FROM u});
	is($bad, 0,
		"$t: every UPDATE audit row is n -> n + 1, continues its record, changes only n/updated_at ($rows rows)"
	);

	my ($mislabelled, $values) = split /\|/, $node->safe_psql(
		$db, qq{
SELECT count(*) FILTER (WHERE (a.new_values->>e.key)::int IS DISTINCT FROM substr(e.key, 3)::int), count(*)
  FROM saas.audit_logs a, jsonb_each(a.new_values) e
 WHERE a.table_name = 'public.$t' AND a.action = 'INSERT' AND e.key ~ '^c_[0-9]+\$'});
	is($mislabelled, 0,
		"$t: every c_k value recorded under the name c_k is k ($values values)");
	cmp_ok($values, '>', 0, "$t: inserts ran while added columns existed");

	is($node->safe_psql($db, "SELECT count(*) FROM $t WHERE updated_at IS NULL"),
		'0', "$t: updated_at always set");

	# A's last iterations ran after B's last ALTER: each row's current
	# updated_at must be the one its newest audit row recorded (set by the
	# trigger at the column's new attribute number).
	is( $node->safe_psql(
			$db, qq{
SELECT count(*) FROM $t r
 WHERE r.updated_at IS DISTINCT FROM (
       SELECT (a.new_values->>'updated_at')::timestamptz FROM saas.audit_logs a
        WHERE a.record_id = r.id AND a.table_name = 'public.$t' ORDER BY a.id DESC LIMIT 1)}
		),
		'0',
		"$t: every row's updated_at is the one its newest audit row recorded");
}
note 'figure: audit rows written: '
  . ($node->safe_psql($db, 'SELECT count(*) FROM saas.audit_logs') - $base);

done_testing();
