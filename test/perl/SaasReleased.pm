# The released install scripts, exactly as they were released.
#
# test/released/ keeps the oldest released install script whole (gzipped:
# a frozen artifact, not a source to edit) and every later one as a unified
# diff against the one before (a release repeats most of its predecessor);
# SHA256SUMS holds the checksum of each released text.
# Tests that compare "upgraded from version X" or "downgraded to version X"
# with a fresh install of X need X's released text, not the newest sources
# plus the downgrade chain (that would compare a thing with itself).
package SaasReleased;

use strict;
use warnings;
use Digest::SHA qw(sha256_hex);
use IO::Uncompress::Gunzip qw(gunzip $GunzipError);
use File::Basename qw(dirname);

my $released_dir = dirname(__FILE__) . '/../released';

sub _slurp {
    my ($path) = @_;
    open(my $fh, '<', $path) or die "cannot read $path: $!";
    local $/;
    my $text = <$fh>;
    close $fh;
    return $text;
}

sub _version_key { return sprintf('%05d%05d%05d', split /\./, $_[0]); }

# Applies a unified diff to a text; dies unless every hunk's context matches.
sub _apply_patch {
    my ($text, $patch, $name) = @_;
    my @old = split /^/, $text;
    my @new;
    my $next_old = 0;    # index into @old of the next line not yet copied
    my @lines = split /^/, $patch;
    my $i = 0;
    $i++ while $i < @lines && $lines[$i] !~ /^@@/;
    while ($i < @lines) {
        $lines[$i] =~ /^@@ -(\d+)(?:,(\d+))? \+\d+(?:,\d+)? @@/ or die "$name: bad hunk header $lines[$i]";
        my $start = $1 - 1;
        $start++ if defined $2 && $2 == 0;    # an empty old range names the line before
        push @new, @old[$next_old .. $start - 1];
        $next_old = $start;
        $i++;
        while ($i < @lines && $lines[$i] !~ /^@@/) {
            my ($op, $line) = (substr($lines[$i], 0, 1), substr($lines[$i], 1));
            if ($op eq '\\') {    # "\ No newline at end of file"
                chomp $new[-1] if @new;
            } elsif ($op eq '+') {
                push @new, $line;
            } else {
                die "$name: hunk does not apply at line " . ($next_old + 1)
                  unless defined $old[$next_old] && $old[$next_old] eq $line;
                push @new, $line if $op eq ' ';
                $next_old++;
            }
            $i++;
        }
    }
    push @new, @old[$next_old .. $#old];
    return join('', @new);
}

# The released versions, oldest first.
sub versions {
    my @versions = map { /saas_schema--([0-9.]+)\.sql$/ ? $1 : () } split /\n/, _slurp("$released_dir/SHA256SUMS");
    return sort { _version_key($a) cmp _version_key($b) } @versions;
}

# version => released install script text, each checked against SHA256SUMS.
sub scripts {
    my %checksum = map { /^([0-9a-f]{64})\s+saas_schema--([0-9.]+)\.sql$/ ? ($2 => $1) : () }
      split /\n/, _slurp("$released_dir/SHA256SUMS");
    my %text;
    my $previous;
    for my $version (versions()) {
        my $whole = "$released_dir/saas_schema--$version.sql.gz";
        my $patch = "$released_dir/saas_schema--$version.sql.patch";
        if (-e $whole) {
            my $text;
            gunzip($whole => \$text) or die "cannot gunzip $whole: $GunzipError";
            $text{$version} = $text;
        } else {
            die "no released text for $version: neither $whole nor $patch" unless -e $patch && defined $previous;
            $text{$version} = _apply_patch($text{$previous}, _slurp($patch), $patch);
        }
        die "released saas_schema--$version.sql does not match its checksum in SHA256SUMS"
          unless sha256_hex($text{$version}) eq $checksum{$version};
        $previous = $version;
    }
    return %text;
}

1;
