# The DBA owns the data.  Right after CREATE EXTENSION a DBA customises the
# shipped schema (columns, an index, a CHECK, a foreign key, a trigger,
# comments, a policy, grants, a table of their own that is audited, tenant
# isolated and has updated_at) and fills it; then every way a DBA moves the
# data must bring back every row and every customisation without an error:
# pg_dump -Fc + pg_restore (also -j 4, and in replica mode), plain pg_dump + psql
# ON_ERROR_STOP, pg_dumpall + psql into another cluster, pg_upgrade (copy and
# link) into fresh clusters.  Each result is compared with the source row by
# row (a digest of every table) and object by object (the schema-only dump),
# each customisation is checked by name, and the restored database must
# work: audited tenant writes, updated_at, v7 ids, forced RLS, audit
# partitions and retention.  DROP EXTENSION never drops a row.
use strict;
use warnings;
use File::Basename qw(dirname);
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

use lib dirname(__FILE__) . '/../perl';
use SaasCompare;

my $tmp = PostgreSQL::Test::Utils::tempdir();

my $origin = PostgreSQL::Test::Cluster->new('origin');
$origin->init;
$origin->append_conf('postgresql.conf', "max_connections = 40\nlog_statement = none\n");
$origin->start;
$origin->safe_psql('postgres', 'CREATE ROLE regress_app; CREATE ROLE regress_reporting');
$origin->safe_psql('postgres', 'CREATE DATABASE src');

# Customised right after CREATE EXTENSION, with no other step.
$origin->safe_psql('src', 'SET client_min_messages = warning; CREATE EXTENSION saas_schema CASCADE');
$origin->safe_psql('src', "SELECT saas.grant_app_access('regress_app')");
my ($rc, $out, $err) = $origin->psql('src', SaasCompare::customise_sql(), on_error_stop => 1);
is($rc, 0, 'the DBA customises the shipped schema with plain DDL right after CREATE EXTENSION') or diag($err);
$origin->safe_psql('src', 'SELECT count(*) FROM saas.audit_create_partitions(2, 1)');

# Data, written through the extension's triggers (ids, updated_at, audit).
$origin->safe_psql('src', SaasCompare::fill_sql());
cmp_ok($origin->safe_psql('src', 'SELECT count(*) FROM saas.task_comments'), '>=', 200,
    'the source holds a non-trivial data set (threaded comments)');
cmp_ok($origin->safe_psql('src', 'SELECT count(*) FROM saas.audit_logs'), '>=', 400, 'and audit rows');
is($origin->safe_psql('src', q{SELECT count(DISTINCT tableoid) FROM saas.audit_logs}), '2',
    'in a monthly partition and in the default partition');
is($origin->safe_psql('src', q{SELECT count(*) FROM saas.audit_logs WHERE table_name = 'app.invoices' AND action = 'UPDATE'}),
    '3', 'the own table is audited');
is($origin->safe_psql('src', q{SELECT count(*) FROM saas.audit_logs WHERE table_name = 'app.invoices'
                               AND (old_values ? 'card_token' OR new_values ? 'card_token')}),
    '0', 'with its excluded column left out');
SaasCompare::check_customisations($origin, 'src', 'source');
my $source_rows = SaasCompare::row_digests($origin, 'src');
my $source_schema = SaasCompare::schema_dump($origin, 'src');
like($source_schema, qr/ADD CONSTRAINT fk_tasks_users_reviewer/, 'pg_dump dumps the customised shipped tables');
unlike($source_schema, qr/CREATE FUNCTION saas\./, 'and not the extension\'s own functions');

# The database works after a move: audited tenant writes as the application
# role, updated_at, v7 ids, forced RLS, partitions and retention.
sub check_works {
    my ($node, $db, $label, @psql) = @_;
    my $org = $node->safe_psql($db, q{SELECT id FROM saas.organizations WHERE slug = 'org-1'}, @psql);
    my $user = $node->safe_psql($db, "SELECT id FROM saas.users WHERE organization_id = '$org' ORDER BY email LIMIT 1", @psql);
    my $result = $node->safe_psql($db, qq{
        SET ROLE regress_app;
        BEGIN;
        SELECT saas.set_tenant('$org');
        SELECT saas.set_actor('$user');
        UPDATE saas.tasks SET priority = 1 WHERE title = 't5';
        INSERT INTO app.invoices (organization_id, amount_cents) VALUES ('$org', 5);
        SELECT count(*) FROM saas.tasks;
        SELECT string_agg(a.action || ':' || a.table_name || ':' || (a.user_id = '$user')::text, ',' ORDER BY a.table_name)
          FROM saas.audit_logs a WHERE a.transaction_id = txid_current();
        SELECT (SELECT updated_at = now() FROM saas.tasks WHERE title = 't5')
           AND (SELECT substr(id::text, 15, 1) = '7' FROM app.invoices WHERE amount_cents = 5);
        COMMIT;
        SELECT count(*) FROM saas.tasks;
    }, @psql);
    my @lines = split /\n/, $result;
    is($lines[-4], '40', "$label: the application role sees its tenant's rows only");
    is($lines[-3], 'INSERT:app.invoices:true,UPDATE:saas.tasks:true', "$label: its writes are audited with the actor");
    is($lines[-2], 't', "$label: updated_at is stamped and new ids are version 7");
    is($lines[-1], '0', "$label: without a tenant it sees nothing (RLS forced)");
    is($node->safe_psql($db, q{SELECT bool_and(relrowsecurity AND relforcerowsecurity) FROM pg_class
                               WHERE relnamespace = 'saas'::regnamespace AND relkind IN ('r', 'p')
                               AND NOT relispartition AND relname !~ '^_'
                               -- one log for all tenants, which the application role cannot read
                               AND relname <> 'schema_changes'}, @psql),
        't', "$label: row-level security enabled and forced on every tenant table");
    like($node->safe_psql($db, 'SELECT count(*) FROM saas.audit_create_partitions(4, 0)', @psql), qr/^[12]$/,
        "$label: audit partitions can be created");
    is($node->safe_psql($db, q{SELECT count(*) FROM saas.audit_drop_partitions('1 second')}, @psql), '1',
        "$label: retention drops the month before last");
}

my $compared = 0;
sub compare_with_source {
    my ($node, $db, $label, %params) = @_;
    my @psql = $params{user} ? (extra_params => ['-U', $params{user}]) : ();
    is(SaasCompare::row_digests($node, $db, %params), $source_rows, "$label: every row of every table");
    my $schema = SaasCompare::schema_dump($node, $db, %params);
    if ($params{user}) {
        # The extension's own functions are never dumped: they belong to
        # whoever runs the restore's CREATE EXTENSION, here the target
        # cluster's superuser.  Their grants are dumped and compared.
        my $functions = () = $schema =~ /^(-- Name: FUNCTION .*; Type: ACL; Schema: saas; Owner: )$params{user}$/mg;
        ok($functions > 0, "$label: the extension's functions belong to the restoring superuser $params{user}");
        $schema =~ s/^(-- Name: FUNCTION .*; Type: ACL; Schema: saas; Owner: )$params{user}$/${1}postgres/mg;
    }
    is($schema, $source_schema, "$label: every object (schema-only dumps identical)")
      or diag(SaasCompare::text_diff($source_schema, $schema));
    SaasCompare::check_customisations($node, $db, $label, %params);
    is($node->safe_psql($db, q{SELECT count(*) FROM pg_class WHERE relnamespace = 'saas'::regnamespace
                               AND relname = 'tasks'}, @psql), '1', "$label: exactly one saas.tasks");
    check_works($node, $db, $label, @psql);
    $compared++;
}

sub restore_ok {
    my ($label, @command) = @_;
    my ($stdout, $stderr);
    my $ok = IPC::Run::run(\@command, '>', \$stdout, '2>', \$stderr);
    ok($ok, "$label: exits 0") or diag($stderr);
    is($stderr, '', "$label: reports no error or warning");
}

# pg_dump -Fc, then pg_restore (serial and -j 4).
my $custom = "$tmp/src.dump";
$origin->command_ok(['pg_dump', '-Fc', '-d', $origin->connstr('src'), '-f', $custom], 'pg_dump -Fc');
for my $case (['pg_restore', 'restored_fc', []], ['pg_restore -j 4', 'restored_parallel', ['-j', '4']],
              ['pg_restore, session_replication_role = replica', 'restored_replica', [],
               '-c session_replication_role=replica']) {
    my ($label, $db, $extra, $options) = @$case;
    $origin->safe_psql('postgres', "CREATE DATABASE $db");
    {
        local $ENV{PGOPTIONS} = $options if $options;
        restore_ok($label, 'pg_restore', @$extra, '-d', $origin->connstr($db), $custom);
    }
    compare_with_source($origin, $db, $label);
}

# Plain pg_dump, then psql with ON_ERROR_STOP.
my $plain = "$tmp/src.sql";
$origin->command_ok(['pg_dump', '-d', $origin->connstr('src'), '-f', $plain], 'plain pg_dump');
$origin->safe_psql('postgres', 'CREATE DATABASE restored_plain');
restore_ok('plain dump into psql -v ON_ERROR_STOP=1', 'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1',
    '-d', $origin->connstr('restored_plain'), '-f', $plain);
compare_with_source($origin, 'restored_plain', 'plain dump + psql');

# pg_dumpall into a fresh cluster, whose bootstrap superuser is another role
# than the dumped ones (so that CREATE ROLE postgres is not an error).
my $dumpall = "$tmp/all.sql";
$origin->command_ok(['pg_dumpall', '-d', $origin->connstr('postgres'), '-f', $dumpall], 'pg_dumpall');
my $other = PostgreSQL::Test::Cluster->new('dumpall_target');
$other->init(extra => ['-U', 'restorer']);
$other->append_conf('postgresql.conf', "log_statement = none\n");
$other->start;
restore_ok('pg_dumpall into psql -v ON_ERROR_STOP=1', 'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1',
    '-U', 'restorer', '-d', $other->connstr('postgres'), '-f', $dumpall);
compare_with_source($other, 'src', 'pg_dumpall + psql', user => 'restorer');
$other->stop;

# DROP EXTENSION never drops a row: without CASCADE it refuses; with
# CASCADE it removes only what depends on the extension's functions.
$origin->safe_psql('postgres', 'CREATE DATABASE dropped');
restore_ok('pg_restore (for the DROP EXTENSION test)', 'pg_restore', '-d', $origin->connstr('dropped'), $custom);
my ($drop_rc, $drop_out, $drop_err) = $origin->psql('dropped', 'DROP EXTENSION saas_schema');
isnt($drop_rc, 0, 'DROP EXTENSION saas_schema without CASCADE is refused');
like($drop_err, qr/cannot drop extension saas_schema because other objects depend on it/,
    'because the tables depend on it (defaults, triggers, policies)');
is(SaasCompare::row_digests($origin, 'dropped'), $source_rows, 'no row lost by the refused DROP EXTENSION');
# (The drop removes the personal-column labels first, and the log of schema
# changes records that: it gains rows and loses none.)
my $changes_before = $origin->safe_psql('dropped', 'SELECT count(*) FROM saas.schema_changes');
($drop_rc, $drop_out, $drop_err) = $origin->psql('dropped', 'SET client_min_messages = warning; DROP EXTENSION saas_schema CASCADE');
is($drop_rc, 0, 'DROP EXTENSION saas_schema CASCADE runs');
is(SaasCompare::row_digests($origin, 'dropped', skip => qr/^saas\.schema_changes$/),
   SaasCompare::row_digests($origin, 'src', skip => qr/^saas\.schema_changes$/),
   'DROP EXTENSION ... CASCADE keeps every table and every row');
cmp_ok($origin->safe_psql('dropped', 'SELECT count(*) FROM saas.schema_changes'), '>=', $changes_before,
       'and every record of schema changes');
is($origin->safe_psql('dropped', q{SELECT count(*) FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
                                   WHERE c.relnamespace = 'saas'::regnamespace AND t.tgname LIKE 'trg%audit%'}),
    '0', 'and drops the audit triggers that depended on it');
my ($again_rc, $again_out, $again_err) = $origin->psql('dropped', 'CREATE EXTENSION saas_schema CASCADE');
isnt($again_rc, 0, 'CREATE EXTENSION over the kept tables is refused');
like($again_err, qr/schema saas already holds tables of saas_schema.*SQLSTATE|already holds tables of saas_schema/,
    'with a message naming the kept tables');

# pg_upgrade (15 to 15), copy then link mode, each into a fresh cluster.
$origin->stop;
my $mode_n = 0;
for my $mode ('copy', 'link') {
    my $new = PostgreSQL::Test::Cluster->new('upgraded' . ++$mode_n);
    $new->init;
    $new->append_conf('postgresql.conf', "log_statement = none\n");
    my $bindir = $new->config_data('--bindir');
    my $workdir = "$tmp/upgrade$mode_n";
    mkdir $workdir;
    my ($stdout, $stderr);
    my $ok = IPC::Run::run(['pg_upgrade', '--no-sync', ($mode eq 'link' ? ('--link') : ()), '-d', $origin->data_dir, '-D', $new->data_dir,
                            '-b', $bindir, '-B', $bindir, '-s', $new->host, '-p', $origin->port, '-P', $new->port],
                           '>', \$stdout, '2>', \$stderr, init => sub { chdir $workdir });
    ok($ok, "pg_upgrade in $mode mode succeeds") or diag("$stdout\n$stderr");
    $new->start;
    # The source's statistics and the upgraded cluster's are not compared;
    # rows and objects are.
    compare_with_source($new, 'src', "pg_upgrade ($mode mode)");
    $new->stop;
    last if $mode eq 'link';    # the old cluster must not be started after a link upgrade
}

is($compared, 7, 'all seven ways of moving the data were compared');
done_testing();
