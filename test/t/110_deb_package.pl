# The Debian package: dpkg-buildpackage builds postgresql-15-saas-schema with
# pg_buildext; the .deb depends on nothing but PostgreSQL 15 and the C/C++
# runtime (no build tools, no libfmt); its files, put into a copy of the
# PostgreSQL installation from which every saas_schema file was removed,
# give a working CREATE EXTENSION and pass the regression suite.

use strict;
use warnings FATAL => 'all';

use File::Basename qw(basename);
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use SaasTest;

my $srcdir  = SaasTest::srcdir();
my $tmp     = PostgreSQL::Test::Utils::tempdir('deb');
my $version = SaasTest::default_version();

for my $tool ('dpkg-buildpackage', 'pg_buildext', 'dh')
{
	ok(!system('sh', '-c', "command -v $tool >/dev/null"), "$tool is installed");
}

# Build from a copy of the tracked (and new, unignored) files, so the
# package never sees build products of the working tree.
my ($files) =
  run_command([ 'git', '-C', $srcdir, 'ls-files', '-co', '--exclude-standard' ]);
my @files = grep { -e "$srcdir/$_" } split /\n/, $files;
mkdir "$tmp/src" or die "mkdir: $!";
run_log([ 'tar', '-C', $srcdir, '-cf', '-', @files ],
	'|', [ 'tar', '-C', "$tmp/src", '-xf', '-' ])
  or die 'copying the source tree failed';
my $build_log;
ok( run_log(
		[ 'sh', '-c', "cd '$tmp/src' && dpkg-buildpackage -us -uc -b -j2" ],
		'>', \$build_log, '2>&1'),
	'dpkg-buildpackage -us -uc -b -j2') or diag substr($build_log, -3000);
my ($deb) = grep { !/dbgsym/ } glob "$tmp/postgresql-15-saas-schema_${version}*_*.deb";
ok(defined $deb && -f $deb,
	'built ' . (defined $deb ? basename($deb) : "no postgresql-15-saas-schema_$version .deb"))
  or BAIL_OUT('no package to test');

my ($depends) = run_command([ 'dpkg-deb', '-f', $deb, 'Depends' ]);
note "Depends: $depends";
like($depends, qr/\bpostgresql-15\b/, 'the package depends on postgresql-15');
unlike($depends, qr/fmt|-dev|g\+\+|gcc \(|make|cmake/,
	'it depends on no build tool and no libfmt (fmt is header-only)');
# Installable here, on a machine with PostgreSQL 15: apt resolves the
# dependencies against the installed system without changing it (a
# simulation needs no root).
my ($sim, $sim_err) = run_command([ 'apt-get', '-s', 'install', $deb ]);
note $sim;
like($sim, qr/^Inst postgresql-15-saas-schema /m,
	'apt-get -s install: the package installs on this system')
  or diag "$sim\n$sim_err";
is(join(' ', map { (split ' ')[1] } grep { /^Inst / } split /\n/, $sim),
	'postgresql-15-saas-schema',
	'and needs no other package: its dependencies are satisfied by the installed PostgreSQL 15'
);

run_log([ 'dpkg-deb', '-x', $deb, "$tmp/root" ]);
my $pkg_ext = "$tmp/root/usr/share/postgresql/15/extension";
my $so      = "$tmp/root/usr/lib/postgresql/15/lib/saas_schema.so";
ok(-f $so, 'the package ships the library (saas_schema.so)');
ok(-f "$pkg_ext/saas_schema.control", 'the package ships the control file');
ok(-f "$pkg_ext/saas_schema--$version.sql",
	"the package ships the install script of $version");
unlike(scalar `ldd '$so'`, qr/fmt/, 'the library links no libfmt');

# A copy of the installation under test with every saas_schema file
# removed, then the package's files added.
my $inst    = SaasTest::copy_installation("$tmp/pg");
my $pkglib  = `'$inst/bin/pg_config' --pkglibdir`;
my $sharedir = `'$inst/bin/pg_config' --sharedir`;
chomp($pkglib, $sharedir);
unlink glob("$pkglib/saas_schema*"), glob("$sharedir/extension/saas_schema*");
is(scalar(() = glob("$pkglib/saas_schema* $sharedir/extension/saas_schema*")),
	0, 'the copied installation holds no saas_schema file of its own');
run_log([ 'cp', $so, "$pkglib/" ]) or die;
run_log([ 'cp', glob("$pkg_ext/saas_schema*"), "$sharedir/extension/" ]) or die;

my $node = SaasTest::new_node('deb', install_path => $inst);
is( $node->safe_psql(
		'postgres', "SELECT setting FROM pg_config WHERE name = 'PKGLIBDIR'"),
	$pkglib,
	'a cluster runs from that installation');
my ($ret, undef, $err) = $node->psql('postgres',
	'SET client_min_messages = warning; CREATE EXTENSION saas_schema CASCADE');
is($ret, 0, 'CREATE EXTENSION saas_schema from the package') or diag $err;
$node->safe_psql('postgres', 'DROP EXTENSION saas_schema CASCADE');

# The regression suite against the packaged files.
my @tests = map { s{.*/}{}r =~ s/\.sql$//r } sort glob "$srcdir/test/sql/*.sql";
my $regress_out;
ok( run_log(
		[
			$ENV{PG_REGRESS},          "--bindir=$inst/bin",
			"--inputdir=$srcdir/test", "--outputdir=$tmp/regress",
			'--host=' . $node->host,   '--port=' . $node->port,
			'--load-extension=citext', '--dbname=contrib_regression',
			@tests
		],
		'>', \$regress_out, '2>&1'),
	'the regression suite passes against the packaged extension')
  or diag $regress_out
  . ((-f "$tmp/regress/regression.diffs")
	? substr(slurp_file("$tmp/regress/regression.diffs"), 0, 4000)
	: '');

done_testing();
