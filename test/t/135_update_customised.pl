# Extension updates keep what the DBA made.  For every released version:
# install it (its released text), customise the schema and fill it, update
# to the newest version, and check every customisation and every row; then
# dump the updated database (pg_dump -Fc, pg_restore -j 4) and check again,
# which is what moves an existing install to the newest design in place;
# then downgrade back to the released version and check again.
use strict;
use warnings;
use File::Basename qw(dirname);
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

use lib dirname(__FILE__) . '/../perl';
use SaasCompare;
use SaasInstallTree;
use SaasReleased;

my $repo = dirname(__FILE__) . '/../..';
my @versions = split /\n/, `perl $repo/scripts/generate_sql.pl versions`;
my $newest = $versions[-1];
my %released = SaasReleased::scripts();

my $tmp = PostgreSQL::Test::Utils::tempdir();
my $tree = SaasInstallTree->new("$tmp/install");
for my $version (keys %released) {
    $tree->write_extension_file("saas_schema--$version.sql", $released{$version}) unless $version eq $newest;
}

my $node = PostgreSQL::Test::Cluster->new('customised', install_path => $tree->install_path);
$node->init;
$node->append_conf('postgresql.conf', "log_statement = none\n");
$node->start;
$node->safe_psql('postgres', 'CREATE ROLE regress_app; CREATE ROLE regress_reporting');

# Rows compared across versions: the audit log grows with what updates do
# (the ticket-number backfill), and tickets gain their number in 0.2.0.
# The logs are left out: the audit log gains the update's own rows, and the
# log of schema changes is new in 0.5.0 (empty after the update: the
# downgrade below refuses otherwise).
my %compare = (skip => qr/^saas\.(audit_logs|schema_changes)/, without => { 'saas.tickets' => ['number'] });

for my $version (grep { $_ ne $newest } @versions) {
    my $db = 'from_' . ($version =~ tr/./_/r);
    $node->safe_psql('postgres', "CREATE DATABASE $db");
    $node->safe_psql($db, "SET client_min_messages = warning; CREATE EXTENSION saas_schema VERSION '$version' CASCADE");
    $node->safe_psql($db, "SELECT saas.grant_app_access('regress_app')");
    $node->safe_psql($db, 'SELECT count(*) FROM saas.audit_create_partitions(1, 1)');
    my ($rc, $out, $err) = $node->psql($db, SaasCompare::customise_sql(), on_error_stop => 1);
    is($rc, 0, "$version: customised") or diag($err);
    $node->safe_psql($db, SaasCompare::fill_sql());
    SaasCompare::check_customisations($node, $db, "$version before the update");
    my $rows = SaasCompare::row_digests($node, $db, %compare);

    ($rc, $out, $err) = $node->psql($db, "ALTER EXTENSION saas_schema UPDATE TO '$newest'");
    is($rc, 0, "$version -> $newest: ALTER EXTENSION UPDATE with the customisations in place") or diag($err);
    SaasCompare::check_customisations($node, $db, "$version -> $newest");
    is(SaasCompare::row_digests($node, $db, %compare), $rows, "$version -> $newest: every row kept");

    # The updated database is on the new design: a dump brings it all back.
    my $dump = "$tmp/$db.dump";
    $node->command_ok(['pg_dump', '-Fc', '-d', $node->connstr($db), '-f', $dump], "$version -> $newest: pg_dump -Fc");
    $node->safe_psql('postgres', "CREATE DATABASE ${db}_restored");
    my ($stdout, $stderr);
    my $ok = IPC::Run::run(['pg_restore', '-j', '4', '-d', $node->connstr("${db}_restored"), $dump],
                           '>', \$stdout, '2>', \$stderr);
    ok($ok && $stderr eq '', "$version -> $newest: pg_restore -j 4 without an error") or diag($stderr);
    SaasCompare::check_customisations($node, "${db}_restored", "$version -> $newest, dumped and restored");
    is(SaasCompare::row_digests($node, "${db}_restored", %compare), $rows,
        "$version -> $newest, dumped and restored: every row");

    ($rc, $out, $err) = $node->psql($db, "ALTER EXTENSION saas_schema UPDATE TO '$version'");
    is($rc, 0, "$newest -> $version: the downgrade runs with the customisations in place") or diag($err);
    SaasCompare::check_customisations($node, $db, "$newest -> $version");
    is(SaasCompare::row_digests($node, $db, %compare), $rows, "$newest -> $version: every row kept");
}

$node->stop;
done_testing();
