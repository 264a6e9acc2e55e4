# Versioned migrations on a database holding data.
#
# The oldest released version is installed from its released text, then
# ALTER EXTENSION UPDATE goes version by version to the newest; at every
# step the database is compared, object by object (test/schema_snapshot.sql:
# columns and their order, constraints, indexes, triggers, policies,
# functions, views, types, comments, grants, extension membership), with a
# fresh install of that version from its released text, and the newest with
# a fresh install of the generated script.  Then the same downwards.  No row
# may be lost either way.  The generated install script of a version that
# was released must still equal the released one.
use strict;
use warnings;
use File::Basename qw(dirname);
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

use lib dirname(__FILE__) . '/../perl';
use SaasInstallTree;
use SaasReleased;
use SaasCompare;

my $repo = dirname(__FILE__) . '/../..';
my @versions = split /\n/, `perl $repo/scripts/generate_sql.pl versions`;
is($?, 0, 'the generator lists the versions');
my $newest = $versions[-1];
my $oldest = $versions[0];
my %released = SaasReleased::scripts();
ok(scalar(keys %released) >= 2, 'released install scripts are available and match their checksums: '
      . join(' ', SaasReleased::versions()));
for my $version (@versions) {
    next if $version eq $newest;
    ok(exists $released{$version}, "version $version has its released install script under test/released");
}

# A copy of the installation holding the generated scripts plus every
# released install script except the newest version's (the generated one
# stays in place; it is compared with the released one below).
my $tree = SaasInstallTree->new(PostgreSQL::Test::Utils::tempdir() . '/install');
my $generated_newest = $tree->read_extension_file("saas_schema--$newest.sql");
for my $version (keys %released) {
    $tree->write_extension_file("saas_schema--$version.sql", $released{$version}) unless $version eq $newest;
}
for my $k (1 .. $#versions) {
    my ($from, $to) = @versions[$k - 1, $k];
    ok(-e $tree->extension_dir . "/saas_schema--$from--$to.sql", "update script $from -> $to is installed");
    ok(-e $tree->extension_dir . "/saas_schema--$to--$from.sql", "downgrade script $to -> $from is installed");
}

my $node = PostgreSQL::Test::Cluster->new('upgrade', install_path => $tree->install_path);
$node->init;
$node->start;
$node->safe_psql('postgres', 'CREATE ROLE regress_upgrade_app');

sub same_snapshot {
    my ($got, $expected, $name) = @_;
    ok($got eq $expected, $name) or diag(SaasCompare::text_diff($expected, $got));
}

my $snapshot_sql = do { local $/; open(my $fh, '<', "$repo/test/schema_snapshot.sql") or die $!; <$fh> };
sub snapshot { return $node->safe_psql($_[0], $snapshot_sql); }

# Rows per table of the schema, audit_logs apart (updates may audit their
# backfills), and not the extension's internal _* tables.
sub row_counts {
    my ($db) = @_;
    return $node->safe_psql($db, q{
        SELECT string_agg(c.relname || '=' || (xpath('/row/n/text()',
               query_to_xml(format('SELECT count(*) AS n FROM saas.%I', c.relname), false, true, '')))[1]::text,
               ' ' ORDER BY c.relname)
        FROM pg_class c WHERE c.relnamespace = 'saas'::regnamespace AND c.relkind = 'r'
          AND c.relname NOT LIKE 'audit\_logs%' AND c.relname !~ '^_'
          -- the log of schema changes exists from 0.5.0 on; the downgrade
          -- refuses to drop it unless it is empty
          AND c.relname <> 'schema_changes'});
}

my $fresh_count = 0;
sub fresh {
    my ($version) = @_;
    my $db = 'fresh_' . ++$fresh_count;
    $node->safe_psql('postgres', "CREATE DATABASE $db");
    $node->safe_psql($db, "SET client_min_messages = warning; CREATE EXTENSION saas_schema VERSION '$version' CASCADE");
    $node->safe_psql($db, "SELECT saas.grant_app_access('regress_upgrade_app')");
    $node->safe_psql($db, 'SELECT count(*) FROM saas.audit_create_partitions(1, 1)');
    return $db;
}

# The generated install script of a released version is still the released
# one, up to order and comments: the same catalog.
if (exists $released{$newest}) {
    my $from_generated = snapshot(fresh($newest));
    $tree->write_extension_file("saas_schema--$newest.sql", $released{$newest});
    my $from_released = snapshot(fresh($newest));
    $tree->write_extension_file("saas_schema--$newest.sql", $generated_newest);
    same_snapshot($from_generated, $from_released,
        "the generated $newest install script creates exactly what the released $newest one did");
}
my %fresh_snapshot = map { $_ => snapshot(fresh($_)) } @versions;
isnt($fresh_snapshot{$newest}, $fresh_snapshot{$oldest},
    "fresh $newest and fresh $oldest differ (the comparison is not vacuous)");

# Install the oldest released version and fill it.
$node->safe_psql('postgres', 'CREATE DATABASE migrated');
$node->safe_psql('migrated', "SET client_min_messages = warning; CREATE EXTENSION saas_schema VERSION '$oldest' CASCADE");
$node->safe_psql('migrated', "SELECT saas.grant_app_access('regress_upgrade_app')");
$node->safe_psql('migrated', 'SELECT count(*) FROM saas.audit_create_partitions(1, 1)');
$node->safe_psql('migrated', q{
INSERT INTO saas.organizations (name, slug) SELECT 'Org ' || g, 'org-' || g FROM generate_series(1, 4) g;
INSERT INTO saas.users (organization_id, email, password_hash)
SELECT o.id, 'u' || g || '@x.example', 'h' FROM saas.organizations o, generate_series(1, 3) g;
INSERT INTO saas.projects (organization_id, name) SELECT id, 'p' FROM saas.organizations;
INSERT INTO saas.tasks (organization_id, project_id, title)
SELECT organization_id, id, 't' || g FROM saas.projects, generate_series(1, 25) g;
INSERT INTO saas.ticket_categories (organization_id, name) SELECT id, 'c' FROM saas.organizations;
INSERT INTO saas.tickets (organization_id, title, created_by_id, category_id)
SELECT u.organization_id, 'ticket ' || g, u.id, c.id
FROM saas.users u JOIN saas.ticket_categories c USING (organization_id), generate_series(1, 10) g;
INSERT INTO saas.ticket_comments (organization_id, ticket_id, author_id, body)
SELECT organization_id, id, created_by_id, 'hi' FROM saas.tickets;
UPDATE saas.tasks SET priority = 1 WHERE title = 't1';
});
my $rows_before = row_counts('migrated');
like($rows_before, qr/tasks=100 .*tickets=120/, "$oldest holds data: $rows_before");

for my $k (1 .. $#versions) {
    my $to = $versions[$k];
    my ($ok, $out, $err) = $node->psql('migrated', "ALTER EXTENSION saas_schema UPDATE TO '$to'");
    is($ok, 0, "ALTER EXTENSION saas_schema UPDATE TO '$to'") or diag($err);
    same_snapshot(snapshot('migrated'), $fresh_snapshot{$to}, "updated to $to: identical to a fresh $to");
    is(row_counts('migrated'), $rows_before, "no row lost or added by the update to $to");
}

# Ticket numbers (0.2.0 on): existing tickets numbered 1..n per organization
# in creation order by the backfill, which is audited.
is($node->safe_psql('migrated', q{
    SELECT count(*) FROM (SELECT number, row_number() OVER (PARTITION BY organization_id ORDER BY created_at, id) AS rn
                          FROM saas.tickets) t WHERE number <> rn}),
    '0', 'the update numbered existing tickets 1..n per organization');
is($node->safe_psql('migrated', q{
    INSERT INTO saas.tickets (organization_id, title, created_by_id)
    SELECT organization_id, 'new', id FROM saas.users ORDER BY email, organization_id LIMIT 1 RETURNING number}),
    '31', 'a new ticket gets the next number of its organization');
$node->safe_psql('migrated', "DELETE FROM saas.tickets WHERE title = 'new'");
is($node->safe_psql('migrated', q{
    SELECT count(*) FROM saas.audit_logs
    WHERE table_name = 'saas.tickets' AND action = 'UPDATE' AND changed_columns = '{number}'}),
    '120', 'the numbering backfill is in the audit log, one UPDATE of number per ticket');

for my $k (reverse 0 .. $#versions - 1) {
    my $to = $versions[$k];
    my ($ok, $out, $err) = $node->psql('migrated', "ALTER EXTENSION saas_schema UPDATE TO '$to'");
    is($ok, 0, "ALTER EXTENSION saas_schema UPDATE TO '$to' (downgrade)") or diag($err);
    same_snapshot(snapshot('migrated'), $fresh_snapshot{$to}, "downgraded to $to: identical to a fresh $to");
    is(row_counts('migrated'), $rows_before, "no row lost by the downgrade to $to");
}

my ($ok, $out, $err) = $node->psql('migrated', "UPDATE saas.tasks SET priority = 2 WHERE title = 't2'");
is($ok, 0, 'DML works after the round trip');
is($node->safe_psql('migrated', q{SELECT count(*) FROM saas.audit_logs WHERE action = 'UPDATE'
                                   AND table_name = 'saas.tasks' AND new_values->>'priority' = '2'}),
    '4', 'and is audited');

$node->stop;
done_testing();
