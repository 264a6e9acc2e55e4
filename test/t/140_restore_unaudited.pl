# Restores stay unaudited, and only restores.  The audit trigger skips a
# session with row_security = off whose session user (or the role it SET
# ROLE to) bypasses row-level security: pg_dump and pg_restore sessions.  A
# 0.4.0 dump is the case that needs it: 0.4.0's tables were extension
# members, so its dump holds their rows but not the tables, and the restore's
# CREATE EXTENSION (now 0.5.0) creates them with their triggers before
# pg_restore loads the rows.  Also a data-only restore into tables that have
# their triggers.  Each restore must add no audit row, and the restored
# database must audit the next change as usual.
use strict;
use warnings;
use File::Basename qw(dirname);
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

use lib dirname(__FILE__) . '/../perl';
use SaasInstallTree;
use SaasReleased;

my %released = SaasReleased::scripts();
ok(exists $released{'0.4.0'}, 'the released 0.4.0 install script is available');
my $tree = SaasInstallTree->new(PostgreSQL::Test::Utils::tempdir() . '/install');
$tree->write_extension_file('saas_schema--0.4.0.sql', $released{'0.4.0'});

my $node = PostgreSQL::Test::Cluster->new('restore', install_path => $tree->install_path);
$node->init;
$node->start;
my $tmp = PostgreSQL::Test::Utils::tempdir();

# A 0.4.0 database with audited rows.
$node->safe_psql('postgres', 'CREATE DATABASE old');
$node->safe_psql('old', "SET client_min_messages = warning; CREATE EXTENSION saas_schema VERSION '0.4.0' CASCADE");
$node->safe_psql('old', q{
INSERT INTO saas.organizations (name, slug) SELECT 'Org ' || g, 'org-' || g FROM generate_series(1, 3) g;
INSERT INTO saas.users (organization_id, email, password_hash)
SELECT o.id, 'u' || g || '@' || o.slug || '.example', 'h' FROM saas.organizations o, generate_series(1, 2) g;
INSERT INTO saas.projects (organization_id, name) SELECT id, 'P ' || slug FROM saas.organizations;
INSERT INTO saas.tasks (organization_id, project_id, title)
SELECT p.organization_id, p.id, 't' || g FROM saas.projects p, generate_series(1, 20) g;
UPDATE saas.tasks SET status = 'done' WHERE title = 't3';
});
my $old_audit = $node->safe_psql('old', 'SELECT count(*) FROM saas.audit_logs');
cmp_ok($old_audit, '>=', 70, "the 0.4.0 database has audit rows ($old_audit)");
my $digest = q{SELECT md5(string_agg(a.id::text || a.action || a.table_name, ',' ORDER BY a.id)) FROM saas.audit_logs a};
my $old_digest = $node->safe_psql('old', $digest);

# pg_dump -Fc of 0.4.0, pg_restore into a new database (CREATE EXTENSION
# there installs 0.5.0, the default version).
$node->command_ok([ 'pg_dump', '-Fc', '-d', $node->connstr('old'), '-f', "$tmp/old.dump" ], 'pg_dump of the 0.4.0 database');
$node->safe_psql('postgres', 'CREATE DATABASE restored');
$node->command_ok([ 'pg_restore', '--exit-on-error', '-d', $node->connstr('restored'), "$tmp/old.dump" ],
    'pg_restore of the 0.4.0 dump into 0.5.0');
is($node->safe_psql('restored', q{SELECT extversion FROM pg_extension WHERE extname = 'saas_schema'}),
    $node->safe_psql('restored', q{SELECT default_version FROM pg_available_extensions WHERE name = 'saas_schema'}),
    'the restore created the current version');
is($node->safe_psql('restored', 'SELECT count(*) FROM saas.tasks'), '60', 'the rows are restored');
is($node->safe_psql('restored', q{SELECT count(*) FROM pg_trigger WHERE tgrelid = 'saas.tasks'::regclass
                                   AND tgfoid = 'saas.audit_trigger'::regproc AND tgname = 'saas_audit'}),
    '1', 'into tables that had the audit trigger while the rows were loaded');
is($node->safe_psql('restored', 'SELECT count(*) FROM saas.audit_logs'), $old_audit,
    'the restore wrote no audit row');
is($node->safe_psql('restored', $digest), $old_digest, 'the audit log is the dumped one');

# A data-only restore (a 0.5.0 dump) into a database that has the tables and
# their triggers.
$node->command_ok([ 'pg_dump', '-Fc', '--data-only', '-d', $node->connstr('restored'), '-f', "$tmp/data.dump" ],
    'pg_dump --data-only of the restored database');
$node->safe_psql('postgres', 'CREATE DATABASE data_only');
$node->safe_psql('data_only', 'SET client_min_messages = warning; CREATE EXTENSION saas_schema CASCADE');
$node->command_ok([ 'pg_restore', '--exit-on-error', '--disable-triggers', '-d', $node->connstr('data_only'), "$tmp/data.dump" ],
    'pg_restore --data-only --disable-triggers');
is($node->safe_psql('data_only', 'SELECT count(*) FROM saas.audit_logs'), $old_audit,
    'the data-only restore wrote no audit row either');
# Without --disable-triggers the triggers fire while the rows load.
$node->safe_psql('postgres', 'CREATE DATABASE data_only_triggers');
$node->safe_psql('data_only_triggers', 'SET client_min_messages = warning; CREATE EXTENSION saas_schema CASCADE');
$node->command_ok([ 'pg_restore', '-d', $node->connstr('data_only_triggers'), "$tmp/data.dump" ],
    'pg_restore --data-only with the triggers enabled');
is($node->safe_psql('data_only_triggers', 'SELECT count(*) FROM saas.audit_logs'), $old_audit,
    'and the audit trigger, firing, wrote nothing');

# The restored database audits the next change, made by the application role.
$node->safe_psql('restored', q{CREATE ROLE regress_restore_app LOGIN; SELECT saas.grant_app_access('regress_restore_app')});
my ($org, $user) = split /\|/, $node->safe_psql('restored', q{
    SELECT o.id, min(u.id::text) FROM saas.organizations o JOIN saas.users u ON u.organization_id = o.id
     WHERE o.slug = 'org-1' GROUP BY o.id});
$node->safe_psql('restored', qq{
SET ROLE regress_restore_app;
BEGIN;
SELECT saas.set_tenant('$org');
SELECT saas.set_actor('$user');
UPDATE saas.tasks SET title = 'after the restore' WHERE title = 't1';
COMMIT;
});
is($node->safe_psql('restored', q{SELECT count(*) FROM saas.audit_logs WHERE new_values->>'title' = 'after the restore'
                                   AND user_id IS NOT NULL}),
    '1', 'after the restore, changes are audited with their actor');

$node->stop;
done_testing();
