# A private copy of the PostgreSQL installation that `pg_config` (the first
# on PATH, which `make installcheck` points at the tree the extension was
# installed into) describes, for tests that must add files to the extension
# directory (e.g. released install scripts) without touching the real one.
# PostgreSQL finds its share directory relative to its binaries, so the copy
# keeps their relative layout.  Pass install_path() to
# PostgreSQL::Test::Cluster->new(..., install_path => ...).
package SaasInstallTree;

use strict;
use warnings;
use File::Path qw(make_path);

sub _pg_config {
    my ($option) = @_;
    my $value = `pg_config $option`;
    die "pg_config $option failed" if $? != 0;
    chomp $value;
    return $value;
}

sub new {
    my ($class, $target) = @_;
    my $bindir = _pg_config('--bindir');
    my $sharedir = _pg_config('--sharedir');
    # The longest common directory prefix of the binaries and share dir.
    my @bin = split m{/}, $bindir;
    my @share = split m{/}, $sharedir;
    my $n = 0;
    $n++ while $n < @bin && $n < @share && $bin[$n] eq $share[$n];
    my $prefix = join('/', @bin[0 .. $n - 1]);
    my $bin_parent = join('/', @bin[0 .. $#bin - 1]);    # .../lib/postgresql/15
    for my $dir ($bin_parent, $sharedir) {
        (my $relative = $dir) =~ s{^\Q$prefix\E/}{};
        my $copy = "$target/$relative";
        make_path($copy);
        system('cp', '-a', "$dir/.", $copy) == 0 or die "cp -a $dir $copy failed";
    }
    (my $bin_relative = $bin_parent) =~ s{^\Q$prefix\E/}{};
    (my $share_relative = $sharedir) =~ s{^\Q$prefix\E/}{};
    return bless { install_path => "$target/$bin_relative", sharedir => "$target/$share_relative" }, $class;
}

sub install_path { return $_[0]{install_path}; }

sub extension_dir { return "$_[0]{sharedir}/extension"; }

sub write_extension_file {
    my ($self, $name, $text) = @_;
    my $path = $self->extension_dir . "/$name";
    open(my $fh, '>', $path) or die "cannot write $path: $!";
    print $fh $text;
    close $fh;
    return $path;
}

sub read_extension_file {
    my ($self, $name) = @_;
    my $path = $self->extension_dir . "/$name";
    open(my $fh, '<', $path) or die "cannot read $path: $!";
    local $/;
    my $text = <$fh>;
    close $fh;
    return $text;
}

1;
