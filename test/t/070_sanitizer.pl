# Memory-error checking of the extension while the pg_regress suite runs.
#
# Preferred: AddressSanitizer + UndefinedBehaviorSanitizer.  The library is
# rebuilt with -fsanitize=address,undefined in a copy of the source tree and
# installed into a copy of the PostgreSQL installation under test; the
# postmaster runs with libasan LD_PRELOADed (PostgreSQL itself is not
# instrumented; detect_leaks=0, since PostgreSQL frees by memory context)
# and the whole suite runs against it; the sanitizer logs must hold no
# report.
#
# Fallback: on Debian bookworm, an uninstrumented postgres with libasan
# preloaded hangs before main(): libgpg-error's constructor (libpq/krb5 ->
# libgcrypt -> libgpg-error) calls bindtextdomain, whose malloc is ASAN's
# first interceptor call; ASAN initializes there and calls dlerror ->
# dcgettext, which releases glibc's _nl_state_lock held by bindtextdomain,
# and bindtextdomain's next wrlock deadlocks.  The test detects that (a 10 s
# probe of `postgres -V` under LD_PRELOAD) and falls back to valgrind
# memcheck: the postmaster and every backend run under valgrind (the copied
# installation's bin/postgres becomes a script that runs the real one under
# valgrind, so pg_ctl starts and stops it as usual), a subset of the suite
# runs (5 tests in short mode, 9 in long mode), and no valgrind error may be
# in the extension's code.  PostgreSQL here is not built with USE_VALGRIND,
# so memcheck sees palloc chunks only as parts of large malloc'd blocks: it
# finds reads of uninitialized memory and accesses outside those blocks,
# not every overflow inside one.
#
# Either way a positive control (a tiny C function writing one byte past a
# malloc'd buffer) proves that an error in a backend does get reported.
#
# SAAS_SANITIZER=asan|valgrind forces the tool; SAAS_SANITIZER_TESTS names
# the regression tests to run.

use strict;
use warnings FATAL => 'all';

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time usleep);
use SaasTest;

my $srcdir = SaasTest::srcdir();
my $tmp    = PostgreSQL::Test::Utils::tempdir('san');
my $logs   = "$tmp/logs";
mkdir $logs or die "mkdir $logs: $!";

# pg_ctl's wait for a server under valgrind.
$ENV{PGCTLTIMEOUT} = 600;

my $libasan = `g++ -print-file-name=libasan.so`;
chomp $libasan;

# Which tool?  ASAN if a preloaded postgres gets through start-up.
my $mode = 'valgrind';
{
	local $ENV{LD_PRELOAD}   = $libasan;
	local $ENV{ASAN_OPTIONS} = 'detect_leaks=0';
	my $postgres = SaasTest::pg_config('--bindir') . '/postgres';
	$mode = 'asan'
	  if -f $libasan
	  && system("timeout 10 '$postgres' -V >/dev/null 2>&1") == 0;
}
$mode = $ENV{SAAS_SANITIZER} if $ENV{SAAS_SANITIZER};
note "tool: $mode";
if ($mode eq 'valgrind')
{
	note 'ASAN via LD_PRELOAD is impossible here (postgres -V hangs in bindtextdomain): valgrind fallback';
	ok(!system('sh', '-c', 'command -v valgrind >/dev/null'),
		'valgrind is installed')
	  or BAIL_OUT('valgrind is needed (scripts/setup.sh installs it)');
}

# 1. Build the library in a copy of the source tree (the checkout's objects
#    must not change while the suite runs) and install it into a copy of the
#    installation under test.
my $files = `git -C '$srcdir' ls-files -co --exclude-standard`;
die "git ls-files in $srcdir failed (the test copies the tracked files)"
  if $? != 0;
my @files = grep { -e "$srcdir/$_" } split /\n/, $files;
mkdir "$tmp/src" or die;
run_log([ 'tar', '-C', $srcdir, '-cf', '-', @files ],
	'|', [ 'tar', '-C', "$tmp/src", '-xf', '-' ])
  or die 'copying the source tree failed';

my $inst      = SaasTest::copy_installation("$tmp/pg");
my $pg_config = "$inst/bin/pg_config";
my ($build_ok, $build_log);
my @make = ('make', '-C', "$tmp/src", "PG_CONFIG=$pg_config");
my $so;
my $probe_flags;
if ($mode eq 'asan')
{
	my $san = '-fsanitize=address,undefined -fno-omit-frame-pointer';
	$build_ok =
	  run_log([ @make, '-s', '-j2', "COPT=$san", "CXXFLAGS=-O1 -g -Wall $san" ],
		'>', \$build_log, '2>&1')
	  && run_log([ @make, '-s', "COPT=$san", 'install' ], '>>', \$build_log,
		'2>&1');
	ok($build_ok,
		'ASAN/UBSAN build of the library installed into a separate PostgreSQL tree'
	) or BAIL_OUT("build failed:\n$build_log");
	$so = `'$pg_config' --pkglibdir`;
	chomp $so;
	$so .= '/saas_schema.so';
	my $syms    = `nm -D '$so'`;
	my $n_asan  = () = $syms =~ /__asan_report/g;
	my $n_ubsan = () = $syms =~ /__ubsan_handle/g;
	cmp_ok($n_asan, '>', 0,
		"the installed library is ASAN-instrumented ($n_asan entry points)");
	cmp_ok($n_ubsan, '>', 0,
		"the installed library is UBSAN-instrumented ($n_ubsan entry points)");
	like(`ldd '$so'`, qr/libasan/, 'the installed library links libasan');
	$probe_flags = '-fsanitize=address';
}
else
{
	$build_ok = run_log(
		[ @make, '-s', '-j2', 'CXXFLAGS=-O1 -g -Wall -fno-omit-frame-pointer' ],
		'>', \$build_log, '2>&1')
	  && run_log([ @make, '-s', 'install' ], '>>', \$build_log, '2>&1');
	ok($build_ok,
		'-O1 -g build of the library installed into a separate PostgreSQL tree'
	) or BAIL_OUT("build failed:\n$build_log");
	$so = `'$pg_config' --pkglibdir`;
	chomp $so;
	$so .= '/saas_schema.so';
	$probe_flags = '-g';
}

# Positive control: a C function that writes one byte past a heap buffer.
append_to_file(
	"$tmp/probe.c", q{
#include "postgres.h"
#include "fmgr.h"
#include <stdlib.h>
PG_MODULE_MAGIC;
PG_FUNCTION_INFO_V1(san_probe);
Datum san_probe(PG_FUNCTION_ARGS) {
    volatile char *p = malloc(8);
    volatile int i = 8;
    p[i] = 1; /* one byte past the end */
    free((void *) p);
    PG_RETURN_VOID();
}
});
my $server_inc = `'$pg_config' --includedir-server`;
chomp $server_inc;
my $probe_log;
ok( run_log(
		[
			'gcc', split(' ', $probe_flags), '-fPIC', '-shared', "-I$server_inc",
			'-o', "$tmp/san_probe.so", "$tmp/probe.c"
		],
		'>', \$probe_log, '2>&1'),
	'positive-control probe built') or diag $probe_log;

# 2. A cluster whose postmaster (and so every backend) runs under the tool.
my $node =
  SaasTest::new_node('san', install_path => $inst, start => 0);
my $tool_lib;
if ($mode eq 'asan')
{
	local $ENV{LD_PRELOAD} = $libasan;
	local $ENV{ASAN_OPTIONS} =
	  "detect_leaks=0:log_path=$logs/asan:halt_on_error=1";
	local $ENV{UBSAN_OPTIONS} = "print_stacktrace=1:log_path=$logs/ubsan";
	ok($node->start(fail_ok => 1),
		'cluster started with LD_PRELOAD=' . ($libasan =~ s{.*/}{}r))
	  or BAIL_OUT('the server did not start under ASAN');
	$tool_lib = 'libasan';
}
else
{
	my $real = "$inst/bin/postgres.real";
	rename "$inst/bin/postgres", $real or die "rename: $!";
	append_to_file(
		"$inst/bin/postgres", qq{#!/bin/sh
# The server under valgrind memcheck (written by $0).  Version checks
# (pg_ctl runs postgres -V) go straight to the real binary.
case "\$1" in
-V|--version) exec '$real' "\$@" ;;
esac
exec valgrind --quiet --trace-children=yes --leak-check=no --num-callers=40 \\
    --error-limit=no --log-file='$logs/vg.%p.log' '$real' "\$@"
});
	chmod 0755, "$inst/bin/postgres" or die "chmod: $!";
	ok($node->start(fail_ok => 1), 'cluster started under valgrind memcheck')
	  or BAIL_OUT('the server did not start under valgrind');
	$tool_lib = 'vgpreload_memcheck';
}
my $maps = $node->safe_psql('postgres',
	"LOAD 'saas_schema'; SELECT pg_read_file('/proc/self/maps')");
like($maps, qr/\Q$tool_lib\E/, "a backend runs with $tool_lib mapped");
like($maps, qr/\Q$so\E/,
	'and with the freshly built saas_schema.so of this test loaded');

# 3. The regression suite (test/sql vs expected/) against that cluster.
my @tests = map { s{.*/}{}r =~ s/\.sql$//r } sort glob "$srcdir/test/sql/*.sql";
if ($mode eq 'valgrind')
{
	# Under valgrind a test takes 10-90 s (uuidv7's 1,000,000 calls far
	# more): short mode runs the C++-heaviest few (the guard, updated_at, row
	# and statement audit, test mode), long mode adds four more (measured
	# 361 s for these nine).
	@tests = qw(boundary updated_at audit audit_statement test_mode);
	push @tests, qw(audit_types audit_suppression soft_delete tenant_isolation)
	  if SaasTest::test_mode() eq 'long';
}
@tests = split ' ', $ENV{SAAS_SANITIZER_TESTS} if $ENV{SAAS_SANITIZER_TESTS};
my $start = time;
my $regress_out;
my $regress_ok = run_log(
	[
		$ENV{PG_REGRESS},       "--bindir=$inst/bin",
		"--inputdir=$srcdir/test", "--outputdir=$tmp/regress",
		'--host=' . $node->host, '--port=' . $node->port,
		'--load-extension=citext', '--dbname=contrib_regression',
		@tests
	],
	'>', \$regress_out, '2>&1');
note $regress_out;
ok($regress_ok,
	sprintf("pg_regress under $mode passes: @tests (%.0fs)", time - $start))
  or diag((-f "$tmp/regress/regression.diffs")
	? substr(slurp_file("$tmp/regress/regression.diffs"), 0, 6000)
	: $regress_out);
is(SaasTest::count_matches($regress_out, qr/^test \S+ +\.\.\. /),
	scalar(@tests), 'all regression tests of the run ran');

# Reports that concern the extension.
sub tool_logs
{
	return join '', map { slurp_file($_) } glob "$logs/*";
}
if ($mode eq 'asan')
{
	my $reports = tool_logs();
	is(SaasTest::count_matches($reports, qr/ERROR: AddressSanitizer|runtime error:/),
		0, 'no ASAN/UBSAN report during the suite')
	  or diag substr($reports, 0, 4000);
	is( SaasTest::count_matches(
			slurp_file($node->logfile), qr/AddressSanitizer|runtime error:/),
		0,
		'no sanitizer output in the server log either');
}
else
{
	# One valgrind error = one block of lines up to an empty "==pid==" line.
	# An error is the extension's when its innermost frame outside libc and
	# valgrind's preload (memcpy, strlen, ...) is in saas_schema.so (our
	# frames carry a .cpp file name).  Errors deeper in PostgreSQL merely
	# called from the extension (e.g. SPI -> invalidation processing, whose
	# shared-memory messages memcheck cannot follow without USE_VALGRIND)
	# are counted separately.
	my ($total, $below, @ours) = (0, 0);
	my @vglogs = glob "$logs/vg.*.log";
	for my $f (@vglogs)
	{
		my @blocks = ('');
		for my $line (split /\n/, slurp_file($f))
		{
			if ($line =~ /^==\d+== $/) { push @blocks, ''; }
			elsif ($line =~ /^==\d+== /) { $blocks[-1] .= "$line\n"; }
		}
		for my $b (@blocks)
		{
			next
			  unless $b =~
			  /Invalid|Conditional|Use of uninit|Syscall param|Mismatched|Source and destination|free\(\)/;
			my ($first) = grep {
				/(?:at|by) 0x[0-9A-F]+:/
				  && !/vgpreload|libc\.so|ld-linux|libstdc\+\+|libgcc_s/
			} split /\n/, $b;
			my $ours     = ($first // '') =~ /saas_schema\.so|\.cpp:\d+/;
			my $anywhere = $b =~ /saas_schema\.so|\.cpp:\d+/;
			$total++;
			push @ours, $b if $ours;
			$below++ if $anywhere && !$ours;
		}
	}
	note "figure: valgrind errors in the whole server: $total; in the extension's code: "
	  . scalar(@ours)
	  . "; in PostgreSQL code called from the extension: $below";
	is(scalar(@ours), 0, "no valgrind error in the extension's code")
	  or diag substr(join("----\n", @ours), 0, 6000);
	cmp_ok(scalar(@vglogs), '>', 3,
		'valgrind followed the backends (' . scalar(@vglogs) . ' process logs)');
}

# 4. Positive control: the probe's overflow must be reported.
$node->psql(
	'postgres', qq{
CREATE FUNCTION san_probe() RETURNS void AS '$tmp/san_probe.so', 'san_probe' LANGUAGE C;
SELECT san_probe();
});
my $want =
  $mode eq 'valgrind'
  ? 'Invalid write of size 1'
  : 'ERROR: AddressSanitizer: heap-buffer-overflow';
my $found = 0;
for (1 .. 100)
{
	last if ($found = index(tool_logs(), $want) >= 0);
	usleep(100_000);
}
ok($found, "positive control: a backend's heap overflow is reported ($want)");

done_testing();
