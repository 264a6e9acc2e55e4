#!/usr/bin/perl
# Generates the extension's SQL scripts from sql/ (see sql/README.md):
#
#   generate_sql.pl install VERSION       the install script: sql/schema/*.sql in name order
#   generate_sql.pl update FROM TO        an update script: the delta sql/updates/FROM--TO.sql
#                                         with its directives expanded, plus every
#                                         function whose definition differs between
#                                         FROM and TO
#   generate_sql.pl function NAME VERSION one function's definition as of VERSION
#   generate_sql.pl versions              every version, oldest first
#   generate_sql.pl extract FILE NAME     NAME's definition in any SQL file (to keep
#                                         a released definition under sql/functions/)
#
# A function's definition (its CREATE statement with the comment lines above
# it, and the COMMENT ON / GRANT / REVOKE statements right after it) is
# written once per version: the current one in its capability file under
# sql/schema/, and each one a release replaced in
# sql/functions/NAME/LAST.sql, LAST being the newest release that shipped it.
#
# Directives in a delta, each alone on a line:
#   --#create NAME       the definition of NAME as of the target version
#   --#replace NAME      the same, with CREATE OR REPLACE (NAME exists already)
#   --#changed-functions where the functions that differ between the two
#                        versions go (default: the end of the script); the
#                        ones a --#create/--#replace names are not repeated
#   --#record-functions  a call recording the definitions of every function
#                        the script creates or replaces (from 0.5.0 on, the
#                        extension keeps them to detect later changes)
#
# Only perl-base is used, so the Debian build needs nothing extra.
use strict;
use warnings;

my $root = $0;
$root =~ s{/?scripts/[^/]+$}{};
$root = '.' if $root eq '';
my $extension = 'saas_schema';

sub slurp {
    my ($path) = @_;
    open(my $fh, '<', $path) or die "generate_sql: cannot read $path: $!\n";
    local $/;
    my $text = <$fh>;
    close $fh;
    return $text;
}

sub version_key {
    my ($v) = @_;
    die "generate_sql: bad version '$v'\n" unless $v =~ /^(\d+)\.(\d+)\.(\d+)$/;
    return sprintf('%05d%05d%05d', $1, $2, $3);
}

sub by_version { version_key($a) cmp version_key($b) }

sub default_version {
    my $control = slurp("$root/$extension.control");
    $control =~ /^default_version\s*=\s*'([^']+)'/m
      or die "generate_sql: no default_version in $extension.control\n";
    return $1;
}

sub schema_files { return sort glob("$root/sql/schema/*.sql"); }

sub all_versions {
    my %seen = (default_version() => 1);
    for my $delta (glob("$root/sql/updates/*--*.sql")) {
        $delta =~ m{/([0-9.]+)--([0-9.]+)\.sql$} or die "generate_sql: odd delta name $delta\n";
        $seen{$1} = $seen{$2} = 1;
    }
    return sort by_version keys %seen;
}

# Splits SQL text into statements, each with the comment lines above it.
# Knows about -- and /* */ comments, '...' and "..." quoting and $tag$
# dollar quoting, so a ';' inside a function body does not end a statement.
sub split_statements {
    my ($text) = @_;
    my @statements;
    my $start = 0;
    my $len = length $text;
    my $i = 0;
    while ($i < $len) {
        my $rest = substr($text, $i, 2);
        my $c = substr($text, $i, 1);
        if ($rest eq '--') {
            my $nl = index($text, "\n", $i);
            $i = $nl < 0 ? $len : $nl + 1;
        } elsif ($rest eq '/*') {
            my $end = index($text, '*/', $i + 2);
            die "generate_sql: unterminated /* comment\n" if $end < 0;
            $i = $end + 2;
        } elsif ($c eq "'" || $c eq '"') {
            my $j = $i + 1;
            while (1) {
                my $end = index($text, $c, $j);
                die "generate_sql: unterminated $c quote\n" if $end < 0;
                if (substr($text, $end + 1, 1) eq $c) { $j = $end + 2; next; }
                $i = $end + 1;
                last;
            }
        } elsif ($c eq '$' && substr($text, $i) =~ /^(\$[A-Za-z_]*\$)/) {
            my $tag = $1;
            my $end = index($text, $tag, $i + length $tag);
            die "generate_sql: unterminated $tag quote\n" if $end < 0;
            $i = $end + length $tag;
        } elsif ($c eq ';') {
            my $nl = index($text, "\n", $i);
            my $stop = $nl < 0 ? $len : $nl + 1;
            push @statements, substr($text, $start, $stop - $start);
            $start = $i = $stop;
        } else {
            $i++;
        }
    }
    my $tail = substr($text, $start);
    push @statements, $tail if $tail =~ /\S/;
    return @statements;
}

# The statement from its first line of code on (blank lines, comments and
# psql meta-commands skipped).
sub code_of {
    my ($statement) = @_;
    my $code = $statement;
    $code =~ s/^(?:[ \t]*(?:--[^\n]*|\\[^\n]*)?\n)*//;
    return $code;
}

# The statement with the comment lines directly above its code.
sub with_its_comment {
    my ($statement) = @_;
    my $code = code_of($statement);
    my $before = substr($statement, 0, length($statement) - length($code));
    my ($comment) = $before =~ /((?:[ \t]*--[^\n]*\n)*)$/;
    return $comment . $code;
}

# NAME's definition in the given SQL text, or undef.
sub find_definition {
    my ($text, $name) = @_;
    my @statements = split_statements($text);
    my $object = qr/(?:FUNCTION|PROCEDURE)\s+saas\.\Q$name\E\s*\(/;
    for my $k (0 .. $#statements) {
        next unless code_of($statements[$k]) =~ /^CREATE\s+(?:OR\s+REPLACE\s+)?$object/;
        my $definition = with_its_comment($statements[$k]);
        for my $next (@statements[$k + 1 .. $#statements]) {
            last unless $next =~ /^(?:COMMENT\s+ON|GRANT|REVOKE)\s[^;]*$object/;
            $definition .= $next;
        }
        return $definition;
    }
    return undef;
}

# NAME's definition as of VERSION: the oldest sql/functions/NAME/LAST.sql
# with LAST >= VERSION, else the current one in sql/schema/.
sub definition_source {
    my ($name, $version) = @_;
    my @kept = sort by_version map { m{/([0-9.]+)\.sql$} ? $1 : () }
      glob("$root/sql/functions/$name/*.sql");
    for my $last (@kept) {
        return "$root/sql/functions/$name/$last.sql"
          if version_key($last) ge version_key($version);
    }
    for my $file (schema_files()) {
        return $file if defined find_definition(slurp($file), $name);
    }
    die "generate_sql: function saas.$name is not defined in sql/schema/\n";
}

sub definition {
    my ($name, $version, $replace) = @_;
    my $source = definition_source($name, $version);
    my $definition = find_definition(slurp($source), $name)
      or die "generate_sql: $source does not define saas.$name\n";
    $definition =~ s/^((?:[ \t]*--[^\n]*\n)*)CREATE\s+(?:OR\s+REPLACE\s+)?/$1CREATE OR REPLACE / if $replace;
    $definition =~ s/^((?:[ \t]*--[^\n]*\n)*)CREATE\s+OR\s+REPLACE\s+/$1CREATE / unless $replace;
    return $definition;
}

# Functions whose definition differs between two versions: those with a
# kept older definition.
sub changed_functions {
    my ($from, $to) = @_;
    my @changed;
    for my $dir (sort glob("$root/sql/functions/*")) {
        (my $name = $dir) =~ s{.*/}{};
        push @changed, $name if definition_source($name, $from) ne definition_source($name, $to);
    }
    return @changed;
}

# PostgreSQL runs an extension script with search_path = saas, the schemas
# of the required extensions (citext's: usually public), pg_temp; as the
# bootstrap superuser when a non-superuser installs the trusted extension.
# Anyone who may create objects in public (or the installer, in saas) could
# plant a function or operator there that matches an unqualified name better
# than pg_catalog's.  So the scripts name every object of theirs and of
# citext with its schema, and resolve the rest in pg_catalog only.
# SET LOCAL: PostgreSQL saves the search_path it sets for the script and
# restores the caller's at the end, which a SET LOCAL does not change (a
# plain SET would override the saved value and leak into the session).
sub search_path_preamble {
    return "\n-- Names the script does not qualify resolve in pg_catalog only (see\n"
      . "-- scripts/generate_sql.pl, search_path_preamble).\n"
      . "-- (set_config rather than SET LOCAL: Citus forwards a SET command in an\n"
      . "-- extension script to the workers as the text of the whole script.)\n"
      . "SELECT pg_catalog.set_config('search_path', 'pg_catalog, pg_temp', true);\n";
}

# The first version released as a trusted extension: the update scripts
# from or to it and later ones get the preamble (older update scripts stay
# as they were; sql/control/ keeps non-superusers away from their versions).
sub trusted_version {
    my @v = split /\./, $_[0];
    my @first = (0, 5, 0);
    for my $i (0 .. 2) {
        return $v[$i] > $first[$i] if $v[$i] != $first[$i];
    }
    return 1;
}

sub install_script {
    my ($version) = @_;
    my $out = "-- $extension $version install script, generated by make from sql/schema/.\n"
      . "-- Do not edit: see sql/README.md.\n\n"
      . "\\echo Use \"CREATE EXTENSION $extension\" to load this file. \\quit\n"
      . search_path_preamble();
    for my $file (schema_files()) {
        (my $relative = $file) =~ s{^\Q$root\E/}{};
        $out .= "\n-- " . ('=' x 74) . "\n-- $relative\n-- " . ('=' x 74) . "\n";
        $out .= slurp($file);
    }
    return $out;
}

sub update_script {
    my ($from, $to) = @_;
    my $delta_file = "$root/sql/updates/$from--$to.sql";
    my $delta = slurp($delta_file);
    my %named;
    $named{$2} = 1 while $delta =~ /^--#(create|replace)\s+(\w+)\s*$/mg;
    my $changed = '';
    for my $name (changed_functions($from, $to)) {
        next if $named{$name};
        $changed .= "\n" . definition($name, $to, 1);
    }
    my @written = (sort keys %named, grep { !$named{$_} } changed_functions($from, $to));
    my $record = "SELECT saas._record_extension_functions(ARRAY["
      . join(', ', map {"'$_'"} @written) . "]::pg_catalog.name[]);\n";
    my $placed = 0;
    my $body = '';
    for my $line (split /^/, $delta) {
        if ($line =~ /^--#(create|replace)\s+(\w+)\s*$/) {
            $body .= definition($2, $to, $1 eq 'replace');
        } elsif ($line =~ /^--#changed-functions\s*$/) {
            $body .= $changed;
            $placed = 1;
        } elsif ($line =~ /^--#record-functions\s*$/) {
            die "generate_sql: $delta_file: --#record-functions must follow --#changed-functions\n"
              if !$placed && $changed ne '';
            $body .= $record;
        } elsif ($line =~ /^--#/) {
            die "generate_sql: $delta_file: unknown directive $line";
        } else {
            $body .= $line;
        }
    }
    $body .= $changed unless $placed;
    return "-- $extension $from -> $to, generated by make from sql/updates/$from--$to.sql.\n"
      . "-- Do not edit: see sql/README.md.\n\n"
      . "\\echo Use \"ALTER EXTENSION $extension UPDATE TO '$to'\" to load this file. \\quit\n"
      . (trusted_version($from) || trusted_version($to) ? search_path_preamble() : '') . "\n"
      . $body;
}

my $command = shift @ARGV // '';
if ($command eq 'install' && @ARGV == 1) {
    print install_script($ARGV[0]);
} elsif ($command eq 'update' && @ARGV == 2) {
    print update_script(@ARGV);
} elsif ($command eq 'function' && @ARGV == 2) {
    print definition($ARGV[0], $ARGV[1], 0);
} elsif ($command eq 'extract' && @ARGV == 2) {
    my $definition = find_definition(slurp($ARGV[0]), $ARGV[1])
      or die "generate_sql: $ARGV[0] does not define saas.$ARGV[1]\n";
    print $definition;
} elsif ($command eq 'versions' && @ARGV == 0) {
    print join("\n", all_versions()), "\n";
} else {
    die "usage: generate_sql.pl install VERSION | update FROM TO | function NAME VERSION | versions | extract FILE NAME\n";
}
