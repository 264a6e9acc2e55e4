# The C++ sources follow .clang-format (the repository's style).

use strict;
use warnings FATAL => 'all';

use PostgreSQL::Test::Utils;
use Test::More;
use SaasTest;

my $srcdir = SaasTest::srcdir();

plan skip_all => 'clang-format is not installed'
  if system('sh', '-c', 'command -v clang-format >/dev/null') != 0;

my @sources = sort glob "$srcdir/src/*.cpp $srcdir/src/*.hpp";
cmp_ok(scalar(@sources), '>', 0, 'there are C++ sources to check');
for my $f (@sources)
{
	my $name = $f =~ s{^\Q$srcdir\E/}{}r;
	my $report;
	ok(run_log([ 'clang-format', '--dry-run', '--Werror', $f ], '2>', \$report),
		"$name is formatted per .clang-format")
	  or diag substr($report, 0, 2000);
}

done_testing();
