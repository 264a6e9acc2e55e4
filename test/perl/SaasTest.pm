=pod

=head1 NAME

SaasTest - what saas_schema's TAP tests (test/t/*.pl) have in common

=head1 SYNOPSIS

  use PostgreSQL::Test::Cluster;
  use PostgreSQL::Test::Utils;
  use Test::More;
  use SaasTest;

  # A started cluster with the project's standard settings (UTF-8, no
  # statement logging, fsync off unless durable => 1).
  my $node = SaasTest::new_node('main', conf => ['restart_after_crash = on']);

  # A database with CREATE EXTENSION saas_schema CASCADE (optionally of a
  # given version), and an application role given access through
  # saas.grant_app_access().
  SaasTest::create_saas_db($node, 'app');
  SaasTest::create_saas_db($node, 'old', version => '0.1.0');
  SaasTest::create_app_role($node, 'app', 'regress_app');

  # SQL as that role (RLS applies): like $node->psql / safe_psql.
  my ($ret, $out, $err) = SaasTest::psql_as($node, 'app', 'regress_app', $sql);
  my $rows = SaasTest::safe_psql_as($node, 'app', 'regress_app', $sql);

  # Short or long mode (SAAS_TEST_MODE=long), with a per-test override.
  my $n = SaasTest::mode_value('SAAS_FUZZ_QUERIES', 3000, 100000);

=head1 DESCRIPTION

The tests run under C<make installcheck> (see the Makefile): prove runs from
F<test/>, with F<test/perl> on the include path, PATH starting with the
bindir of the C<pg_config> given to make (where C<make install> put the
extension), and PG_REGRESS set.  Nothing here starts a cluster by hand:
clusters are L<PostgreSQL::Test::Cluster> nodes.

=cut

package SaasTest;

use strict;
use warnings FATAL => 'all';

use Cwd qw(abs_path);
use File::Basename qw(dirname);
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use SaasInstallTree;
use Test::More;

# The source tree: this file is test/perl/SaasTest.pm.
our $srcdir = abs_path(dirname(__FILE__) . '/../..');

# Some tests run make themselves (the consumer suite, the sanitizer's build,
# the packaging checks).  What the outer `make installcheck` was given on its
# command line (REGRESS=, PROVE_TESTS=, ...) reaches sub-makes through
# MAKEFLAGS; it must not change theirs.
delete @ENV{qw(MAKEFLAGS MFLAGS MAKELEVEL MAKEOVERRIDES)};

=pod

=head1 FUNCTIONS

=over

=item SaasTest::srcdir()

The top of the source tree (where the Makefile and saas_schema.control are).

=cut

sub srcdir { return $srcdir; }

=pod

=item SaasTest::test_mode()

C<'long'> when SAAS_TEST_MODE=long (C<bash scripts/test.sh --long>), else
C<'short'> (CI).

=cut

sub test_mode
{
	return (($ENV{SAAS_TEST_MODE} // '') eq 'long') ? 'long' : 'short';
}

=pod

=item SaasTest::mode_value(ENV_NAME, SHORT, LONG)

A size or duration: the environment variable ENV_NAME when set (a per-test
override, e.g. SAAS_CRASH_ROUNDS=1), else SHORT or LONG by test_mode().

=cut

sub mode_value
{
	my ($env, $short, $long) = @_;
	return $ENV{$env} if defined $ENV{$env} && $ENV{$env} ne '';
	return test_mode() eq 'long' ? $long : $short;
}

=pod

=item SaasTest::default_version()

The version CREATE EXTENSION installs: default_version of the control file.

=cut

sub default_version
{
	my $control = slurp_file("$srcdir/saas_schema.control");
	$control =~ /^default_version\s*=\s*'([^']+)'/m
	  or die "no default_version in saas_schema.control";
	return $1;
}

=pod

=item SaasTest::pg_config(OPTION)

Runs the C<pg_config> of the installation under test (first in PATH, set by
the Makefile) and returns its one-line answer, e.g. pg_config('--pkglibdir').

=cut

sub pg_config
{
	my ($option) = @_;
	my $out = `pg_config $option`;
	die "pg_config $option failed" if $? != 0;
	chomp $out;
	return $out;
}

=pod

=item SaasTest::new_node(NAME, %params)

A PostgreSQL::Test::Cluster node, initialized (UTF-8, C.UTF-8 locale) with
the settings every test uses, and started.  Parameters:

=over

=item conf => [ 'setting = value', ... ]

More postgresql.conf lines (they come last, so they win).

=item durable => 1

fsync, synchronous_commit and full_page_writes on (the default is off: the
tests that do not crash the server need no durability).

=item start => 0

Initialize only.

=item install_path => DIR

Another installation (see PostgreSQL::Test::Cluster).

=back

=cut

sub new_node
{
	my ($name, %params) = @_;

	my $node = PostgreSQL::Test::Cluster->new($name,
		$params{install_path} ? (install_path => $params{install_path}) : ());
	$node->init(extra => [ '--locale=C.UTF-8', '--encoding=UTF8' ]);

	my $durable = $params{durable} ? 'on' : 'off';
	# Cluster.pm logs every statement (log_statement = all); the load and
	# fuzz tests run hundreds of thousands, so only errors and server events
	# are logged here.
	$node->append_conf(
		'postgresql.conf', qq(
# saas_schema test settings
fsync = $durable
synchronous_commit = $durable
full_page_writes = $durable
max_connections = 60
shared_buffers = 256MB
log_min_messages = warning
log_statement = none
log_connections = off
log_disconnections = off
));
	$node->append_conf('postgresql.conf', join("\n", @{ $params{conf} }))
	  if $params{conf};
	$node->start unless defined $params{start} && !$params{start};
	return $node;
}

=pod

=item SaasTest::create_saas_db(NODE, DBNAME, %params)

CREATE DATABASE DBNAME (unless it is C<postgres>) and CREATE EXTENSION
saas_schema CASCADE in it (which brings citext).  With version => 'X.Y.Z',
that version instead of the control file's default.

=cut

sub create_saas_db
{
	my ($node, $db, %params) = @_;
	my $version = $params{version} ? " VERSION '$params{version}'" : '';
	$node->safe_psql('postgres', qq(CREATE DATABASE "$db"))
	  unless $db eq 'postgres';
	$node->safe_psql($db,
		"SET client_min_messages = warning; CREATE EXTENSION saas_schema$version CASCADE"
	);
	return;
}

=pod

=item SaasTest::create_app_role(NODE, DBNAME, ROLE)

CREATE ROLE ROLE LOGIN and SELECT saas.grant_app_access(ROLE) in DBNAME:
the application's role, which row-level security confines to its tenant.

=cut

sub create_app_role
{
	my ($node, $db, $role) = @_;
	$node->safe_psql($db,
		qq(CREATE ROLE "$role" LOGIN; SELECT saas.grant_app_access('$role')));
	return;
}

=pod

=item SaasTest::connstr_as(NODE, DBNAME, ROLE)

The node's connection string for DBNAME, connecting as ROLE.

=cut

sub connstr_as
{
	my ($node, $db, $role) = @_;
	return $node->connstr($db) . " user=$role";
}

=pod

=item SaasTest::psql_as(NODE, DBNAME, ROLE, SQL, %params)

$node->psql as ROLE (same parameters and return values).

=item SaasTest::safe_psql_as(NODE, DBNAME, ROLE, SQL, %params)

$node->safe_psql as ROLE.

=cut

sub psql_as
{
	my ($node, $db, $role, $sql, %params) = @_;
	return $node->psql($db, $sql, %params,
		connstr => connstr_as($node, $db, $role));
}

sub safe_psql_as
{
	my ($node, $db, $role, $sql, %params) = @_;
	return $node->safe_psql($db, $sql, %params,
		connstr => connstr_as($node, $db, $role));
}

=pod

=item SaasTest::log_position(NODE)

The current size of the node's server log: pass it to log_since() or
$node->log_contains() to look only at what a step logged.

=item SaasTest::log_since(NODE, POSITION)

The server log from POSITION on.

=cut

sub log_position
{
	my ($node) = @_;
	return -s $node->logfile // 0;
}

sub log_since
{
	my ($node, $pos) = @_;
	return slurp_file($node->logfile, $pos);
}

=pod

=item SaasTest::count_matches(TEXT, REGEX)

How many lines of TEXT match REGEX.

=cut

sub count_matches
{
	my ($text, $re) = @_;
	return scalar grep { /$re/ } split /\n/, $text;
}

=pod

=item SaasTest::copy_installation(DIR)

A copy of the PostgreSQL installation under test in DIR (SaasInstallTree),
with a link to its headers at the same relative place, so that the copy's
pg_config also serves to build against it.  Returns the copy's install
path (for PostgreSQL::Test::Cluster's install_path; its bin/pg_config).
For tests that install something else than the tree under test.

=cut

sub copy_installation
{
	my ($dir) = @_;
	my $tree = SaasInstallTree->new($dir);
	my $inst = $tree->install_path;
	# The original installation's prefix: what $inst is below $dir.
	my $orig_inst = dirname(pg_config('--bindir'));
	my $prefix =
	  substr($orig_inst, 0, length($orig_inst) - (length($inst) - length($dir)));
	my $incdir = pg_config('--includedir');
	my $link = index("$incdir/", "$prefix/") == 0
	  ? $dir . substr($incdir, length($prefix))
	  : "$dir/include/postgresql";
	unless (-e $link)
	{
		system('mkdir', '-p', dirname($link)) == 0 or die "mkdir failed";
		symlink(abs_path($incdir), $link) or die "symlink to $incdir: $!";
	}
	return $inst;
}

=pod

=back

=cut

1;
