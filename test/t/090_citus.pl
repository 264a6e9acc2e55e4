# saas_schema on Citus: a coordinator and two workers on 127.0.0.1, the
# extension created on the coordinator (the workers get its functions, not
# tables of their own), saas.distribute(), then tenant isolation, audit,
# updated_at and ticket numbers checked through the coordinator, the workers'
# tables (Citus' shell tables) compared with the coordinator's, and a dump of
# the coordinator checked for stale rows; a third worker is added and the
# shards rebalanced onto it, and the checks run again for a tenant whose
# shards moved there; tenants are exported, a person erased and a tenant
# deleted, and a distributed table truncated; the extension is downgraded
# and upgraded on the distributed install, every audit row compared.  Then two clusters that ran 0.4.0 (its released
# install script), one distributed under 0.4.0 and one not, are updated to
# the newest version, and a worker is added to the first.
#
# The nodes run from a private copy of the installation under test
# (SaasInstallTree, Citus included) that also holds the released 0.4.0
# install script; the installation itself is not written to.
#
# Runs when Citus is installed in the PostgreSQL under test (citus.so in its
# pkglibdir, citus.control in its extension directory); otherwise the Citus
# checks are skipped, with the reason.  Citus is not packaged by Debian, so
# CI skips them.  Either way it checks on a plain cluster that
# saas.distribute() refuses to run without Citus.  With Citus built into
# another installation:
#
#   make install installcheck PG_CONFIG=/path/with/citus/bin/pg_config \
#       REGRESS= PROVE_TESTS=t/090_citus.pl

use strict;
use warnings FATAL => 'all';

use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use SaasInstallTree;
use SaasReleased;
use SaasTest;

my $newest = SaasTest::default_version();
my $db     = 'saas_citus';

# saas.distribute() in a database without the citus extension: an error
# with SQLSTATE 0A000 and a hint.  Returns psql's stderr (verbose).
sub no_citus_error
{
	my ($node) = @_;
	SaasTest::create_saas_db($node, 'saas_no_citus');
	my (undef, undef, $err) = $node->psql(
		'saas_no_citus',
		'SELECT saas.distribute()',
		extra_params => [ '-v', 'VERBOSITY=verbose' ]);
	$node->safe_psql('postgres', 'DROP DATABASE saas_no_citus');
	return $err;
}

my $pkglib = SaasTest::pg_config('--pkglibdir');
my $extdir = SaasTest::pg_config('--sharedir') . '/extension';
my $why =
    !-f "$pkglib/citus.so"         ? "no citus.so in $pkglib"
  : !-f "$extdir/citus.control" ? "no citus.control in $extdir"
  :                               '';

if ($why)
{
	my $plain = SaasTest::new_node('plain');
	my $err   = no_citus_error($plain);
	like(
		$err,
		qr/ERROR:  0A000: saas\.distribute: the citus extension is not installed/,
		'saas.distribute() without Citus raises feature_not_supported (0A000)');
	like($err, qr/HINT:/, 'and gives a hint');
  SKIP:
	{
		skip "Citus is not installed in the PostgreSQL under test: $why", 1;
	}
	done_testing();
	exit 0;
}

# The nodes' installation: a copy of the one under test, with the released
# 0.4.0 install script (for the clusters that ran 0.4.0, at the end).
my %released = SaasReleased::scripts();
my $tree = SaasInstallTree->new(PostgreSQL::Test::Utils::tempdir() . '/install');
$tree->write_extension_file('saas_schema--0.4.0.sql', $released{'0.4.0'})
  if exists $released{'0.4.0'};

my %node;
sub on { my ($name, $sql) = @_; return $node{$name}->safe_psql($db, $sql); }
sub c { return on('coord', @_); }

# SQL on the coordinator that may fail: (psql exit status, stdout, stderr).
sub c_try
{
	my ($sql) = @_;
	return $node{coord}->psql($db, $sql);
}

# One transaction as the application role, tenant set, with the Citus
# setting that carries SET LOCAL to the workers: (stdout, stderr).
sub app
{
	my ($tenant, $sql, $propagate) = @_;
	$propagate //= 'local';
	my (undef, $out, $err) = SaasTest::psql_as(
		$node{coord}, $db, 'saas_app', qq{
SET citus.propagate_set_commands = '$propagate';
BEGIN;
SELECT FROM saas.set_tenant('$tenant');
$sql;
COMMIT;
});
	return ($out, $err);
}

# A database with the citus extension on a node.
sub create_db
{
	my ($name, $dbname) = @_;
	$node{$name}->safe_psql('postgres', "CREATE DATABASE $dbname");
	$node{$name}->safe_psql($dbname,
		'SET client_min_messages = warning; CREATE EXTENSION citus');
	return;
}

sub start_node
{
	my ($name) = @_;
	my $n = SaasTest::new_node(
		"citus_$name",
		install_path => $tree->install_path,
		conf => [
			"shared_preload_libraries = 'citus'",
			"citus.node_conninfo = 'sslmode=disable'",
			'max_connections = 100',
			'wal_level = logical',
			'max_wal_senders = 10',
			# The nodes reach each other over TCP.
			"listen_addresses = '127.0.0.1'",
		]);
	$node{$name} = $n;
	create_db($name, $db);
	return $n;
}

# SQL's result on each worker, comma-separated in port order.
sub on_workers
{
	my ($sql) = @_;
	return c(
		"SELECT string_agg(result, ',' ORDER BY nodeport) FROM run_command_on_workers(\$\$$sql\$\$)"
	);
}

# The relations and types of schema saas on a node that Citus does not
# manage (not a Citus table, shard or distributed object): copies made by
# CREATE EXTENSION would be these.
sub stray
{
	my ($name) = @_;
	return on(
		$name, q{
SELECT (SELECT count(*) FROM pg_class AS c
         WHERE c.relnamespace = to_regnamespace('saas') AND c.relkind IN ('r', 'p', 'v')
           AND NOT EXISTS (SELECT FROM pg_dist_partition AS p WHERE p.logicalrelid = c.oid)
           AND NOT EXISTS (SELECT FROM pg_dist_object AS o WHERE o.classid = 'pg_class'::regclass AND o.objid = c.oid)
           AND NOT relation_is_a_known_shard(c.oid))
     + (SELECT count(*) FROM pg_type AS t
         WHERE t.typnamespace = to_regnamespace('saas') AND t.typtype IN ('e', 'c', 'd') AND t.typrelid = 0
           AND NOT EXISTS (SELECT FROM pg_dist_object AS o WHERE o.classid = 'pg_type'::regclass AND o.objid = t.oid))});
}

# The relations and types of schema saas that belong to extension
# saas_schema on a node.
sub members
{
	my ($name) = @_;
	return on(
		$name, q{
SELECT count(*) FROM pg_depend AS d
 WHERE d.deptype = 'e' AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'saas_schema')
   AND ((d.classid = 'pg_class'::regclass AND (SELECT relnamespace FROM pg_class WHERE oid = d.objid) = 'saas'::regnamespace
         AND (SELECT relname FROM pg_class WHERE oid = d.objid) !~ '^_')
        OR (d.classid = 'pg_type'::regclass AND (SELECT typnamespace FROM pg_type WHERE oid = d.objid) = 'saas'::regnamespace))});
}

# members() of each named node, comma-separated.
sub members_on { return join ',', map { members($_) } @_; }

# Every table of schema saas on a node (not the shards) with its triggers,
# constraints, policies, row security and grants.
sub table_shape
{
	my ($name) = @_;
	return on(
		$name, q{
SELECT c.relname || ' ' || concat_ws(' / ',
    (SELECT string_agg(t.tgname || CASE t.tgenabled WHEN 'D' THEN '(disabled)' ELSE '' END, ',' ORDER BY t.tgname)
       FROM pg_trigger AS t WHERE t.tgrelid = c.oid AND NOT t.tgisinternal),
    (SELECT string_agg(k.conname, ',' ORDER BY k.conname) FROM pg_constraint AS k WHERE k.conrelid = c.oid),
    (SELECT string_agg(p.polname, ',' ORDER BY p.polname) FROM pg_policy AS p WHERE p.polrelid = c.oid),
    'rls ' || c.relrowsecurity || ' forced ' || c.relforcerowsecurity, c.relacl::text)
  FROM pg_class AS c
 WHERE c.relnamespace = 'saas'::regnamespace AND c.relkind IN ('r', 'p') AND NOT relation_is_a_known_shard(c.oid)
   -- the log of schema changes is the coordinator's own (DDL is typed there)
   AND c.relname <> 'schema_changes'
 ORDER BY c.relname});
}

# The views of schema saas on a node with their grants.
sub view_grants
{
	my ($name) = @_;
	return on(
		$name, q{
SELECT string_agg(c.relname || '=' || coalesce(c.relacl::text, '-'), ' ' ORDER BY c.relname)
  FROM pg_class AS c WHERE c.relnamespace = 'saas'::regnamespace AND c.relkind = 'v'});
}

# 8 tenants, each with 2 users, a project, 5 tasks and 2 tickets.
sub load_tenants
{
	c(q{
INSERT INTO saas.organizations (name, slug) SELECT 'Org ' || g, 'org-' || g FROM generate_series(1, 8) g;
INSERT INTO saas.users (organization_id, email, password_hash)
SELECT o.id, 'u' || g || '@x.example', 'h' FROM saas.organizations o, generate_series(1, 2) g;
INSERT INTO saas.projects (organization_id, name) SELECT id, 'p' FROM saas.organizations;
INSERT INTO saas.tasks (organization_id, project_id, title)
SELECT organization_id, id, 't' || g FROM saas.projects, generate_series(1, 5) g;
INSERT INTO saas.tickets (organization_id, title, created_by_id)
SELECT organization_id, 'ticket', id FROM saas.users;
});
	return;
}

for my $n ('coord', 'w1', 'w2')
{
	start_node($n);
	is(on($n, "SELECT extname FROM pg_extension WHERE extname = 'citus'"),
		'citus',
		"node $n started with citus preloaded (port " . $node{$n}->port . ')');
}
my $port = sub { return $node{ $_[0] }->port; };
my $citus_version =
  c("SELECT extversion FROM pg_extension WHERE extname = 'citus'");
note "Citus $citus_version on PostgreSQL " . c('SHOW server_version');

# saas.distribute() refuses to run without Citus in the database.
my $err = no_citus_error($node{coord});
like(
	$err,
	qr/ERROR:  0A000: saas\.distribute: the citus extension is not installed/,
	'saas.distribute() in a database without the citus extension raises 0A000'
);
like($err, qr/HINT:/, 'and gives a hint');

c("SELECT citus_set_coordinator_host('127.0.0.1', " . $port->('coord') . ')');
c("SELECT citus_add_node('127.0.0.1', " . $port->($_) . ')') for ('w1', 'w2');
is( c(
		'SELECT string_agg(node_port::text, \',\' ORDER BY node_port) FROM citus_get_active_worker_nodes()'
	),
	join(',', sort { $a <=> $b } map { $port->($_) } 'w1', 'w2'),
	'workers w1 and w2 added to the coordinator');

c('SET client_min_messages = warning; CREATE EXTENSION saas_schema CASCADE');
is(c("SELECT extversion FROM pg_extension WHERE extname = 'saas_schema'"),
	$newest, "CREATE EXTENSION saas_schema on the coordinator ($newest)");
is( c(
		q{SELECT string_agg(result, ',' ORDER BY nodeport) FROM run_command_on_workers($$SELECT extversion FROM pg_extension WHERE extname = 'saas_schema'$$)}
	),
	"$newest,$newest",
	"CREATE EXTENSION was propagated: both workers have saas_schema $newest"
);
my $functions =
  c(q{SELECT count(*) FROM pg_proc WHERE pronamespace = 'saas'::regnamespace});
is( on_workers(
		q{SELECT count(*) FROM pg_proc WHERE pronamespace = 'saas'::regnamespace}),
	"$functions,$functions",
	"the workers have the extension's functions, as many as the coordinator ($functions)"
);
is( on_workers(
		q{SELECT count(*) || ' relations, type ' || coalesce(to_regtype('saas.ticket_status')::text, 'none') FROM pg_class WHERE relnamespace = 'saas'::regnamespace}
	),
	'0 relations, type none,0 relations, type none',
	'the workers have no tables, views or type of their own: CREATE EXTENSION leaves them to Citus there'
);
is( c(
		q{SELECT count(*) FROM pg_class WHERE relnamespace = 'saas'::regnamespace AND relkind IN ('r', 'p')}
	),
	'14',
	'the coordinator has the 14 tables (12, the default audit partition and its own log of schema changes)');
# A downgrade to 0.4.0 needs copies of the tables on the workers, which
# 0.5.0 leaves to Citus: before distributing, it is refused with a reason.
my (undef, undef, $down_err) =
  $node{coord}->psql($db, q{ALTER EXTENSION saas_schema UPDATE TO '0.4.0'});
like(
	$down_err,
	qr/saas_schema 0\.4\.0 needs its tables on every Citus worker.*HINT:  Downgrade a Citus cluster only after saas\.distribute\(\)/s,
	'before distributing, a downgrade to 0.4.0 is refused with a reason (the workers have no tables to take back)'
);
is( c(q{SELECT extversion FROM pg_extension WHERE extname = 'saas_schema'}) . '/'
	  . on_workers(
		q{SELECT extversion FROM pg_extension WHERE extname = 'saas_schema'}),
	"$newest/$newest,$newest",
	'and rolled back on every node');

# The application role (CREATE ROLE propagates to the workers).
c('SET client_min_messages = warning; CREATE ROLE saas_app LOGIN');
is( c(
		q{SELECT string_agg(result, ',' ORDER BY nodeport) FROM run_command_on_workers($$SELECT count(*) FROM pg_roles WHERE rolname = 'saas_app'$$)}
	),
	'1,1',
	'application role created, on the workers too');

# Data before distributing: 8 tenants.
load_tenants();
is(c('SELECT count(*) FROM saas.tickets'),
	'16',
	'8 tenants with users, projects, tasks and tickets loaded before distributing'
);

sub counts
{
	return c(
		q{SELECT (SELECT count(*) FROM saas.organizations) || ' ' || (SELECT count(*) FROM saas.users) || ' ' ||
                 (SELECT count(*) FROM saas.tasks) || ' ' || (SELECT count(*) FROM saas.tickets) || ' ' ||
                 (SELECT count(*) FROM saas.audit_logs)});
}
my $before = counts();

my ($ret, $out, $perr) = c_try('SELECT * FROM saas.distribute(4)');
is($ret, 0, 'SELECT saas.distribute(4) on the coordinator') or diag $perr;
note $out;
is(counts(), $before,
	'no row lost or added by the distribution (organizations users tasks tickets audit_logs)'
);

is( c(
		q{SELECT partmethod::text || repmodel::text FROM pg_dist_partition WHERE logicalrelid = 'saas.organizations'::regclass}
	),
	'nt',
	'organizations is a reference table');
# Since 0.5.0 the tables are not the extension's, and Citus lists them.
is(c(q{SELECT count(*) FROM citus_tables WHERE table_name::text LIKE 'saas.%'}),
	'13',
	'citus_tables lists the 13 tables (Citus hid them while they belonged to the extension)'
);
is( c(
		q{SELECT count(*) || ' tables, ' || count(DISTINCT colocationid) || ' colocation group, ' || min(column_to_column_name(logicalrelid, partkey)) || ', '
                 || min((SELECT count(*) FROM pg_dist_shard s WHERE s.logicalrelid = d.logicalrelid))
            FROM pg_dist_partition d JOIN pg_class c ON c.oid = d.logicalrelid
           WHERE d.partmethod = 'h' AND c.relnamespace = 'saas'::regnamespace AND NOT c.relispartition}
	),
	'11 tables, 1 colocation group, organization_id, 4',
	'the 10 tenant tables and audit_logs are distributed by organization_id, colocated, 4 shards'
);
is( c(
		q{SELECT count(*) FROM pg_partition_tree('saas.audit_logs') p JOIN pg_dist_partition d ON d.logicalrelid = p.relid}
	),
	c(q{SELECT count(*) FROM pg_partition_tree('saas.audit_logs')}),
	"audit_logs' partitions are distributed too");
is(c('SELECT count(*) FROM saas.tasks WHERE true'),
	'40', 'tasks readable through the coordinator (40)');
is( c(
		q{SELECT count(*) FROM pg_class WHERE relnamespace = 'saas'::regnamespace AND relkind = 'r' AND pg_relation_size(oid) > 0}
	),
	'0',
	"the coordinator's own storage of the tables is empty: the rows are in the shards only"
);

# Triggers on the node's shards of a table (shards are hidden from pg_class
# unless asked).
sub shard_triggers
{
	my ($name, $table) = @_;
	return on(
		$name, qq{
SET citus.override_table_visibility = off;
SELECT count(*) || ' on ' || count(DISTINCT c.oid) || ' shards' FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
 WHERE c.relname ~ '^${table}_[0-9]+\$' AND NOT t.tgisinternal});
}
is(shard_triggers('w1', 'tasks') . ',' . shard_triggers('w2', 'tasks'),
	'4 on 2 shards,4 on 2 shards',
	"each worker's 2 tasks shards have the audit, updated_at triggers (2 each)");
is( c(
		q{SELECT string_agg(result, ',' ORDER BY nodeport) FROM run_command_on_workers($$SELECT count(*) FROM pg_trigger WHERE tgrelid = 'saas.tasks'::regclass AND NOT tgisinternal$$)}
	),
	'3,3',
	"the workers' saas.tasks (their shell tables, made by Citus) have the 3 triggers (audit, TRUNCATE audit, updated_at), once"
);
my $coord_shape = table_shape('coord');
is(table_shape('w1'), $coord_shape,
	"w1's tables are the coordinator's: triggers, constraints, policies, row security, grants"
);
is(table_shape('w2'), $coord_shape,
	"w2's tables are the coordinator's: triggers, constraints, policies, row security, grants"
);
is(stray('w1') . ',' . stray('w2'),
	'0,0',
	"the workers hold no stray ordinary copies: every saas table, view and type there is Citus'"
);
is(members_on('coord', 'w1', 'w2'),
	'0,0,0', 'no table, view or type belongs to the extension on any node');
is( on_workers(
		q{SELECT count(*) FROM pg_class WHERE relnamespace = 'saas'::regnamespace AND relkind = 'v'}
	),
	'5,5',
	'Citus created the 5 views on the workers (views on distributed tables)');

# pg_dump of the coordinator after distributing: Citus answers its COPY from
# the shards, so every row is dumped once, and none a second time from the
# coordinator's own (emptied) storage.
my $live_rows = c(
	q{SELECT sum((xpath('/row/n/text()', query_to_xml(format('SELECT count(*) AS n FROM ONLY %s', c.oid::regclass), false, true, '')))[1]::text::bigint)
        FROM pg_class AS c WHERE c.relnamespace = 'saas'::regnamespace AND c.relkind = 'r'}
);
my ($dump, $dump_err) = ('', '');
IPC::Run::run([ 'pg_dump', '-d', $node{coord}->connstr($db), '--schema=saas' ],
	'>', \$dump, '2>', \$dump_err);
is($dump_err, '', "pg_dump of the coordinator's schema saas reports no error or warning");
my ($copies, $dumped_rows, $inside) = (0, 0, 0);
for my $line (split /\n/, $dump)
{
	if    ($line =~ /^COPY /) { $inside = 1; $copies++; }
	elsif ($line eq '\\.')   { $inside = 0; }
	elsif ($inside)          { $dumped_rows++; }
}
is("$copies tables, $dumped_rows rows",
	"13 tables, $live_rows rows",
	"the dump holds each of the $live_rows rows once (read from the shards), no stale copy"
);
like($dump, qr/^CREATE TABLE saas\.tasks/m, "the dump has the tables' definitions");
unlike($dump, qr/citus|create_distributed_table/i, 'and nothing of Citus');
is(c(q{SELECT count(*) FROM saas.organizations o WHERE o.slug = 'org-1'}),
	'1', 'organizations readable');
(undef, undef, $perr) =
  c_try(q{INSERT INTO saas.organizations (name, slug) VALUES ('Dup', 'org-1')});
like($perr, qr/uq_organizations_slug/,
	'the global slug uniqueness is still enforced (reference table)');

# organizations has no updated_at trigger on a distributed install (README):
# an UPDATE setting updated_at = now() gives every copy the same value.
c(q{UPDATE saas.organizations SET name = 'Org 1 renamed', updated_at = now() WHERE slug = 'org-1'}
);
is( c(
		q{SELECT count(DISTINCT result) || ' value on ' || count(*) || ' copies' FROM run_command_on_placements('saas.organizations', $$SELECT updated_at FROM %s WHERE slug = 'org-1'$$)}
	),
	'1 value on 3 copies',
	'organizations: updated_at = now() in the UPDATE is the same on every copy of the reference table'
);
is( c(
		q{SELECT count(*) FROM pg_trigger WHERE tgrelid = 'saas.organizations'::regclass AND NOT tgisinternal}
	),
	'0',
	'organizations has no audit or updated_at trigger on the coordinator');
(undef, $out, $perr) = c_try('SELECT * FROM saas.distribute()');
is("$out$perr", 'already distributed: nothing to do',
	'a second saas.distribute() is a no-op');
(undef, undef, $perr) = $node{w1}->psql(
	$db, 'SELECT saas.distribute()',
	extra_params => [ '-v', 'VERBOSITY=verbose' ]);
like($perr, qr/55000.*is a Citus worker/s,
	'saas.distribute() on a worker is refused (55000)');

# Partition maintenance on the distributed audit_logs: the rows loaded
# before distributing are in the default partition; creating this month's
# partition moves them there (the guard on the shards lets the move through).
my $total = c('SELECT count(*) FROM saas.audit_logs');
(undef, undef, $perr) = c_try('SELECT saas.audit_create_partitions(1, 0)');
like(
	$perr,
	qr/saas\.audit_create_partitions must be called inside a transaction block/,
	'outside a transaction block, moving rows of the distributed audit_logs is refused with a hint'
);
(undef, $out, $perr) = c_try(
	q{SET client_min_messages = warning; BEGIN; SELECT string_agg(p, ',') FROM saas.audit_create_partitions(1, 0) AS p; COMMIT}
);
like($out, qr/^audit_logs_p/,
	"saas.audit_create_partitions() on the distributed audit_logs ($out)")
  or diag $perr;
is( c('SELECT count(*) FROM saas.audit_logs') . '/'
	  . c('SELECT count(*) FROM saas.audit_logs_default'),
	"$total/0",
	'the audit rows moved out of the default partition, none lost');
is( c(
		q{SELECT count(*) FROM pg_partition_tree('saas.audit_logs') p LEFT JOIN pg_dist_partition d ON d.logicalrelid = p.relid WHERE d.logicalrelid IS NULL}
	),
	'0',
	'the new partitions are distributed');
(undef, undef, $perr) = c_try(q{UPDATE saas.audit_logs SET action = 'DELETE'});
like($perr, qr/append-only/,
	'the append-only guard still refuses UPDATE on the shards');

# The application's grants, after distributing (GRANT on Citus tables
# propagates to the shards and to the workers' copies).
sub grant_app
{
	my ($ret, undef, $err) = c_try(
		q{BEGIN; SET LOCAL citus.multi_shard_modify_mode = 'sequential'; SELECT saas.grant_app_access('saas_app'); COMMIT}
	);
	diag $err if $ret;
	return $ret;
}
is(grant_app(), 0, 'saas.grant_app_access() after distributing');

my $A = c(q{SELECT id FROM saas.organizations WHERE slug = 'org-1'});
my $B = c(q{SELECT id FROM saas.organizations WHERE slug = 'org-2'});

sub tenant_checks
{
	my ($org, $label) = @_;
	my $other = c(
		qq{SELECT id FROM saas.organizations WHERE id <> '$org' ORDER BY slug LIMIT 1}
	);
	my ($o, $e) = app($org,
		qq{SELECT count(*) || '/' || count(*) FILTER (WHERE organization_id = '$org') FROM saas.tasks}
	);
	is($o, '5/5',
		"$label: RLS on the shards: the tenant sees its 5 tasks and nothing else"
	);
	($o, $e) = app($org, 'SELECT count(*) FROM saas.organizations');
	is($o, '1', "$label: RLS on the reference table: one organization");
	($o, $e) = app($org,
		qq{INSERT INTO saas.projects (organization_id, name) VALUES ('$other', 'x')}
	);
	like($e, qr/row-level security/,
		"$label: writing another tenant's row is refused by the policy on the shard"
	);
	# Citus refuses now() in RETURNING; updated_at is the start of the
	# transaction on the node holding the shard.
	($o, $e) = app(
		$org, q{UPDATE saas.tasks SET priority = 5 WHERE title = 't1';
SELECT (updated_at >= now() AND updated_at <= clock_timestamp())::text || ' ' || (updated_at > created_at)::text
  FROM saas.tasks WHERE title = 't1'});
	is($o, 'true true',
		"$label: updated_at trigger on the shard: updated_at moved to this transaction's time"
	);
	is( c(
			qq{SELECT count(*) FROM saas.audit_logs WHERE organization_id = '$org' AND table_name = 'saas.tasks' AND action = 'UPDATE' AND changed_columns @> '{priority}'}
		),
		'1',
		"$label: the update is audited once, under the logical name saas.tasks and the tenant's organization_id"
	);
	is( c(
			q{SELECT count(*) FROM saas.audit_logs WHERE table_name ~ '_[0-9]+$'}),
		'0',
		"$label: no audit row names a shard");
	is( c(
			qq{SELECT (SELECT nodeport FROM pg_dist_shard_placement WHERE shardid = get_shard_id_for_distribution_column('saas.audit_logs', '$org'))
                    = (SELECT nodeport FROM pg_dist_shard_placement WHERE shardid = get_shard_id_for_distribution_column('saas.tasks', '$org'))}
		),
		't',
		"$label: the audit row's shard is on the node of the changed row's shard"
	);
	my $where = c(
		qq{SELECT nodename || ':' || nodeport FROM pg_dist_shard_placement WHERE shardid = get_shard_id_for_distribution_column('saas.audit_logs', '$org')}
	);
	my ($wname) = grep { "127.0.0.1:" . $node{$_}->port eq $where } keys %node;
	my $shard = c(
		qq{SELECT get_shard_id_for_distribution_column('saas.audit_logs', '$org')});
	is( on(
			$wname // 'coord', qq{
SET citus.enable_manual_changes_to_shards = on;
SELECT count(*) FROM (SELECT * FROM saas.audit_logs_$shard) a
 WHERE organization_id = '$org' AND table_name = 'saas.tasks' AND action = 'UPDATE'}
		),
		'1',
		"$label: the audit row is physically in the local audit_logs shard on "
		  . ($wname // "no known node ($where)"));
	# The actor, on the worker that runs the trigger on the shard: set_actor
	# certifies its check on the coordinator's backend only, so the trigger
	# there looks the actor up in the colocated users shard.  Another
	# tenant's user set by hand (SET LOCAL, which Citus propagates) is not
	# recorded, nor is its metadata.
	my $actor = c(
		qq{SELECT id FROM saas.users WHERE organization_id = '$org' AND is_active ORDER BY email LIMIT 1}
	);
	my $spoof = c(
		qq{SELECT id FROM saas.users WHERE organization_id = '$other' ORDER BY email LIMIT 1}
	);
	($o, $e) = app(
		$org, qq{SELECT FROM saas.set_actor('$actor', '{"ip": "192.0.2.7"}');
UPDATE saas.tasks SET description = 'by set_actor' WHERE title = 't2'});
	is( c(
			qq{SELECT user_id::text || ' ' || metadata::text FROM saas.audit_logs WHERE organization_id = '$org'
   AND table_name = 'saas.tasks' AND new_values->>'description' = 'by set_actor'}
		),
		qq{$actor {"ip": "192.0.2.7"}},
		"$label: the trigger on the worker records set_actor's actor and metadata"
	) or diag $e;
	# Separate statements (psql sends each statement of its input on its
	# own): Citus propagates a SET LOCAL by its query text.
	($o, $e) = app(
		$org, qq{SET LOCAL app.current_user_id = '$spoof';
SET LOCAL app.request_metadata = '{"ip": "forged"}';
UPDATE saas.tasks SET description = 'spoofed' WHERE title = 't2'});
	is( c(
			qq{SELECT coalesce(user_id::text, 'NULL') || ' ' || metadata::text FROM saas.audit_logs WHERE organization_id = '$org'
   AND table_name = 'saas.tasks' AND new_values->>'description' = 'spoofed'}
		),
		'NULL {}',
		"$label: another tenant's user set by hand is recorded as no actor on the worker"
	) or diag $e;
	($o, $e) = app(
		$org, q{INSERT INTO saas.tickets (organization_id, title, created_by_id)
SELECT organization_id, 'new', id FROM saas.users ORDER BY email LIMIT 1 RETURNING number});
	is($o, '3',
		"$label: ticket-number trigger on the shard: the next number of the tenant"
	);
	($o, $e) = app($org, 'SELECT count(*) FROM saas.tasks', 'none');
	is("$o$e", '0',
		"$label: without citus.propagate_set_commands = 'local' the workers see no tenant: nothing visible (fails closed)"
	);
	return;
}
tenant_checks($A, '2 workers');

# Changing an audit trigger after distributing: saas.enable_audit() drops
# and re-creates it, on the shards and on the workers' copies alike.
($ret, undef, $perr) = c_try(
	q{BEGIN; SET LOCAL citus.enable_unsafe_triggers = on; SELECT saas.enable_audit('saas.projects', ARRAY['name']); COMMIT}
);
is($ret, 0,
	'saas.enable_audit() with excluded columns on a distributed table (citus.enable_unsafe_triggers = on)'
) or diag $perr;
c(qq{UPDATE saas.projects SET name = 'renamed', status = 'on_hold' WHERE organization_id = '$A'}
);
is( c(
		qq{SELECT changed_columns::text FROM saas.audit_logs WHERE organization_id = '$A' AND table_name = 'saas.projects' AND action = 'UPDATE'}
	),
	'{name,status,updated_at}',
	'the shards use the new trigger: name is recorded by name only');
is( c(
		qq{SELECT count(*) FROM saas.audit_logs WHERE organization_id = '$A' AND table_name = 'saas.projects' AND action = 'UPDATE'
   AND (old_values ? 'name' OR new_values ? 'name')}
	),
	'0',
	'and never by value');
is(shard_triggers('w1', 'projects') . ',' . shard_triggers('w2', 'projects'),
	'4 on 2 shards,4 on 2 shards',
	'each projects shard still has exactly its 2 triggers');
is( c(
		q{SELECT string_agg(result, ',' ORDER BY nodeport) FROM run_command_on_workers($$SELECT count(*) FROM pg_trigger WHERE tgrelid = 'saas.projects'::regclass AND NOT tgisinternal$$)}
	),
	'3,3',
	"and so do the workers' copies of saas.projects");

# Deleting a tenant (an administrator's job) cascades from the reference
# table to the colocated shards; the cascaded deletes are audited.
my $D = c(q{SELECT id FROM saas.organizations WHERE slug = 'org-8'});
($ret, undef, $perr) = c_try(qq{DELETE FROM saas.organizations WHERE id = '$D'});
is($ret, 0, 'DELETE of an organization on the coordinator') or diag $perr;
is( c(
		qq{SELECT (SELECT count(*) FROM saas.users WHERE organization_id = '$D') + (SELECT count(*) FROM saas.tasks WHERE organization_id = '$D') + (SELECT count(*) FROM saas.tickets WHERE organization_id = '$D')}
	),
	'0',
	'its users, tasks and tickets are gone (ON DELETE CASCADE from the reference table)'
);
is( c(
		qq{SELECT count(*) FROM saas.audit_logs WHERE organization_id = '$D' AND table_name = 'saas.tasks' AND action = 'DELETE'}
	),
	'5',
	'the 5 cascaded task deletes are in its audit log');

# A third worker and a rebalance onto it.
start_node('w3');
is(on('w3', "SELECT extname FROM pg_extension WHERE extname = 'citus'"),
	'citus', 'node w3 started (port ' . $port->('w3') . ')');
($ret, undef, $perr) =
  c_try("SELECT citus_add_node('127.0.0.1', " . $port->('w3') . ')');
is($ret, 0, 'w3 added') or diag $perr;
is(on('w3', "SELECT extversion FROM pg_extension WHERE extname = 'saas_schema'"),
	$newest, 'citus_add_node created saas_schema on the new worker');
# Its tables come from Citus, made from the coordinator's: the same
# triggers, constraints, policies, row security and grants.
is(table_shape('w3'), table_shape('coord'),
	"w3's tables are the coordinator's (grants included), before any grant_app_access() again"
);
is(stray('w3') . '/' . members('w3'),
	'0/0',
	'w3 holds no stray copies of the tables (its CREATE EXTENSION left them to Citus)'
);
note "w3's views before grant_app_access() again: " . view_grants('w3');
# Citus creates the views on the new worker without their grants: give the
# application's grants again.
is(grant_app(), 0, 'saas.grant_app_access() again after adding the worker');
is(view_grants('w3'), view_grants('w1'),
	"w3's views have the application's grants, as on w1");
my $before_move = join ' ', (split / /, counts())[ 0 .. 3 ];
($ret, undef, $perr) =
  c_try(q{SELECT rebalance_table_shards(shard_transfer_mode => 'block_writes')});
is($ret, 0, 'rebalance_table_shards() onto the new worker') or diag $perr;
my $moved = c(
	q{SELECT count(*) FROM pg_dist_shard_placement p JOIN pg_dist_shard s USING (shardid) JOIN pg_dist_partition d USING (logicalrelid)
       WHERE p.nodeport = } . $port->('w3') . q{ AND d.partmethod = 'h'});
cmp_ok($moved, '>', 0, "shards moved to w3 ($moved shard placements)");
is(join(' ', (split / /, counts())[ 0 .. 3 ]),
	$before_move,
	'no organization, user, task or ticket lost by the rebalance');

# A new tenant whose shards are on w3 (an id that hashes to a shard there).
my $C = c(
	q{SELECT u FROM (SELECT gen_random_uuid() AS u FROM generate_series(1, 1000)) AS x
       WHERE (SELECT nodeport FROM pg_dist_shard_placement
               WHERE shardid = get_shard_id_for_distribution_column('saas.tasks', u)) = }
	  . $port->('w3') . ' LIMIT 1');
($ret, undef, $perr) = c_try(
	qq{
INSERT INTO saas.organizations (id, name, slug) VALUES ('$C', 'Org C', 'org-c');
INSERT INTO saas.users (organization_id, email, password_hash) SELECT '$C', 'u' || g || '\@x.example', 'h' FROM generate_series(1, 2) g;
INSERT INTO saas.projects (organization_id, name) VALUES ('$C', 'p');
INSERT INTO saas.tasks (organization_id, project_id, title) SELECT organization_id, id, 't' || g FROM saas.projects, generate_series(1, 5) g WHERE organization_id = '$C';
INSERT INTO saas.tickets (organization_id, title, created_by_id) SELECT organization_id, 'ticket', id FROM saas.users WHERE organization_id = '$C';
});
ok($C ne '' && $ret == 0,
	'a tenant whose shards are on w3 loaded through the coordinator')
  or diag $perr;
tenant_checks($C, 'after rebalance, tenant on w3') if $C ne '';

# The tenant lifecycle with the tenants' shards on the workers (docs/citus.md):
# the coordinator runs it, every query naming one tenant.
my $G = c(q{SELECT id FROM saas.organizations WHERE slug = 'org-6'});
my $per_table = c(
	qq{SELECT 'saas.organizations:1,saas.projects:' || (SELECT count(*) FROM saas.projects WHERE organization_id = '$G')
                 || ',saas.tasks:' || (SELECT count(*) FROM saas.tasks WHERE organization_id = '$G')
                 || ',saas.tickets:' || (SELECT count(*) FROM saas.tickets WHERE organization_id = '$G')
                 || ',saas.users:' || (SELECT count(*) FROM saas.users WHERE organization_id = '$G')});
my ($exported, $export_err) = app($G,
	qq{SELECT string_agg(table_name || ':' || n, ',' ORDER BY table_name) FROM (SELECT table_name, count(*) AS n FROM saas.export_tenant('$G')
        WHERE table_name <> 'saas.audit_logs' GROUP BY 1) AS s});
is((split /\n/, $exported)[-1] // '', $per_table,
	"export_tenant as the application role: every row of the tenant's, from the shards")
  or diag $export_err;
is(c(qq{SELECT count(*) FROM saas.audit_logs WHERE organization_id = '$G' AND action = 'EXPORT'}),
	'1', 'and its EXPORT audit row, written into the shards');
my $person = c(qq{SELECT id || ' ' || email FROM saas.users WHERE organization_id = '$G' ORDER BY id LIMIT 1});
my ($person_id, $person_email) = split / /, $person;
($ret, $out, $perr) = c_try(
	qq{SET citus.propagate_set_commands = 'local'; BEGIN; SELECT saas.erase_user('$person_id') ->> 'live_rows'; COMMIT});
is($ret . '/' . ((split /\n/, $out)[0] // ''), '0/1', 'erase_user() on the coordinator (a transaction, SET LOCAL sent to the workers)')
  or diag $perr;
is( c(
		qq{SELECT (SELECT email FROM saas.users WHERE id = '$person_id') || ' / '
                 || (SELECT count(*) FROM saas.audit_logs WHERE organization_id = '$G'
                      AND strpos(coalesce(old_values::text, '') || coalesce(new_values::text, '') || metadata::text, '$person_email') > 0)}
	),
	"erased-$person_id\@erased.invalid / 0",
	"the person's email is gone from the row and from every audit row on the shards");
my $H = c(q{SELECT id FROM saas.organizations WHERE slug = 'org-5'});
my $h_rows = c(
	qq{SELECT (SELECT count(*) FROM saas.users WHERE organization_id = '$H') + (SELECT count(*) FROM saas.projects WHERE organization_id = '$H')
            + (SELECT count(*) FROM saas.tasks WHERE organization_id = '$H') + (SELECT count(*) FROM saas.tickets WHERE organization_id = '$H')});
($ret, undef, $perr) = c_try(qq{CALL saas.delete_tenant('$H', 3)});
is($ret, 0, 'CALL saas.delete_tenant() in batches of 3 rows on the coordinator') or diag $perr;
is( c(
		qq{SELECT (SELECT count(*) FROM saas.organizations WHERE id = '$H') + (SELECT count(*) FROM saas.users WHERE organization_id = '$H')
                + (SELECT count(*) FROM saas.projects WHERE organization_id = '$H') + (SELECT count(*) FROM saas.tasks WHERE organization_id = '$H')
                + (SELECT count(*) FROM saas.tickets WHERE organization_id = '$H')
                || ' left, ' || (SELECT count(*) FROM saas.audit_logs WHERE organization_id = '$H' AND action = 'DELETE' AND record_id IS NOT NULL
                                   AND table_name <> 'saas.organizations') || ' DELETE audit rows'}
	),
	"0 left, $h_rows DELETE audit rows",
	'the tenant and every row of it are gone from the shards, each row with its DELETE audit row');

# TRUNCATE of a distributed audited table: one audit row per tenant whose
# rows it removed, with their number, written once (not again by a node).
c(q{INSERT INTO saas.task_comments (organization_id, task_id, author_id, body)
SELECT t.organization_id, t.id, (SELECT u.id FROM saas.users AS u WHERE u.organization_id = t.organization_id ORDER BY u.id LIMIT 1), 'c' || g
  FROM saas.tasks AS t, generate_series(1, 2) AS g WHERE t.title <> 't5'});
my $comments_per_tenant = c(
	q{SELECT string_agg(organization_id || ':' || n, ',' ORDER BY organization_id) FROM (SELECT organization_id, count(*) AS n FROM saas.task_comments GROUP BY 1) AS s}
);
($ret, undef, $perr) = c_try('TRUNCATE saas.task_comments');
is($ret, 0, 'TRUNCATE of a distributed audited table (saas.task_comments) through the coordinator')
  or diag $perr;
is( c(
		q{SELECT string_agg(organization_id || ':' || (old_values->>'rows'), ',' ORDER BY organization_id) FROM saas.audit_logs
           WHERE action = 'TRUNCATE' AND table_name = 'saas.task_comments' AND record_id IS NULL AND new_values IS NULL}
	),
	$comments_per_tenant,
	'the TRUNCATE is audited once per tenant with the number of rows it removed ('
	  . scalar(split /,/, $comments_per_tenant)
	  . ' tenants)');

# Every audit row, to compare after the downgrade and upgrade below.
my $audit_row_sql =
  q{SELECT id || ' ' || organization_id || ' ' || table_name || ' ' || coalesce(record_id::text, '-') || ' ' || action || ' '
           || coalesce(old_values::text, '-') || ' ' || coalesce(new_values::text, '-') || ' ' || coalesce(changed_columns::text, '-') || ' '
           || coalesce(user_id::text, '-') || ' ' || transaction_id || ' ' || created_at || ' ' || metadata::text
      FROM saas.audit_logs ORDER BY id};
my @audit_before = split /\n/, c($audit_row_sql);

# Extension updates on the distributed install.  Citus runs ALTER EXTENSION
# UPDATE on every worker too.  0.5.0 -> 0.4.0 makes the tables extension
# members again on every node (the workers' shell tables included), and
# 0.4.0 -> 0.5.0 hands them over again: membership only, plus functions.
my $dist_sql =
  q{SELECT string_agg(partmethod::text || ' ' || n, ' ' ORDER BY partmethod) FROM (SELECT partmethod, count(*) AS n FROM pg_dist_partition GROUP BY partmethod) s};
my $dist_before = c($dist_sql);
my $on_workers =
  q{SELECT string_agg(result, ',' ORDER BY nodeport) FROM run_command_on_workers($$SELECT extversion FROM pg_extension WHERE extname = 'saas_schema'$$)};
($ret, undef, $perr) = c_try(q{ALTER EXTENSION saas_schema UPDATE TO '0.4.0'});
is($ret, 0,
	"ALTER EXTENSION saas_schema UPDATE TO '0.4.0' (downgrade) on the distributed install"
) or diag $perr;
is(c($on_workers), '0.4.0,0.4.0,0.4.0', 'the downgrade ran on every worker');
is(members_on('coord', 'w1', 'w2', 'w3'),
	'19,19,19,19',
	'0.4.0: the 13 tables, 5 views and the type are extension members again on every node'
);

# The monthly audit partitions' row-level security (0.5.0 gives them the
# parent's, 0.4.0 had none): on the coordinator, the workers' shell tables
# and the shards alike.  (number of relations, distinct "rls forced:policies"
# states) of audit_logs_pYYYYMM and its shards on a node.  A shard that the
# rebalance moved away stays on its old node until Citus' cleanup drops it
# (no longer a placement there, and no longer changed by DDL): not counted.
sub partition_rls
{
	my ($name) = @_;
	return split / /, on(
		$name, q{
SET citus.override_table_visibility = off;
SELECT count(*) || ' ' || string_agg(DISTINCT c.relrowsecurity::int::text || c.relforcerowsecurity::int::text || ':'
                                     || (SELECT count(*) FROM pg_policy AS p WHERE p.polrelid = c.oid), ',')
  FROM pg_class AS c WHERE c.relnamespace = 'saas'::regnamespace AND c.relname ~ '^audit_logs_p[0-9]{6}'
   AND (c.relname ~ '^audit_logs_p[0-9]{6}$'
        OR EXISTS (SELECT FROM pg_dist_placement AS pl
                    WHERE pl.shardid = substring(c.relname FROM '_([0-9]+)$')::bigint
                      AND pl.groupid = (SELECT g.groupid FROM pg_dist_local_group AS g)))});
}
sub partition_rls_states
{
	return join '/', map { (partition_rls($_))[1] // '' } @_;
}
is( c(
		q{SELECT count(*) FILTER (WHERE action = 'TRUNCATE') || '/' || count(*) FILTER (WHERE action = 'UPDATE' AND metadata->>'saas_schema_action' = 'TRUNCATE')
            FROM saas.audit_logs WHERE table_name = 'saas.task_comments' AND record_id IS NULL}
	),
	'0/' . scalar(split /,/, $comments_per_tenant),
	'0.4.0: the TRUNCATE audit rows are kept on the shards as UPDATE rows naming their action in metadata.saas_schema_action'
);
is(partition_rls_states('coord', 'w1', 'w3'),
	'00:0/00:0/00:0',
	'0.4.0: the monthly audit partitions have no row-level security, on the coordinator, the shell tables and the shards'
);

# Audit rows of priority changes of a tenant's task.
sub priority_audits
{
	my ($org, $title) = @_;
	return c(
		qq{SELECT count(*) FROM saas.audit_logs WHERE organization_id = '$org' AND changed_columns @> '{priority}'
   AND record_id = (SELECT id FROM saas.tasks WHERE organization_id = '$org' AND title = '$title')}
	);
}
my ($o) = app($B,
	q{UPDATE saas.tasks SET priority = 2 WHERE title = 't3' RETURNING organization_id}
);
is($o . '/' . priority_audits($B, 't3'),
	"$B/1", '0.4.0: DML works and is audited');
($ret, undef, $perr) = c_try(q{ALTER EXTENSION saas_schema UPDATE TO '0.2.0'});
is($ret, 0,
	"ALTER EXTENSION saas_schema UPDATE TO '0.2.0' (downgrade) on the distributed install"
) or diag $perr;
is( c(
		q{SELECT string_agg(result, ',' ORDER BY nodeport) FROM run_command_on_workers($$SELECT extversion || '/' || (to_regprocedure('saas.distribute(integer)') IS NULL) FROM pg_extension WHERE extname = 'saas_schema'$$)}
	),
	'0.2.0/true,0.2.0/true,0.2.0/true',
	'the downgrade ran on every worker: 0.2.0, no saas.distribute');
# A script that changes tables (0.2.0 -> 0.1.0 drops tickets.number) on
# distributed tables: what happens.
($ret, undef, $perr) = c_try(q{ALTER EXTENSION saas_schema UPDATE TO '0.1.0'});
note "ALTER EXTENSION UPDATE TO '0.1.0' (exit $ret): $perr";
($ret, undef, $perr) = c_try(
	q{SET citus.enable_unsafe_triggers = on; SET citus.multi_shard_modify_mode = 'sequential'; ALTER EXTENSION saas_schema UPDATE TO '0.1.0'}
);
note "the same with citus.enable_unsafe_triggers = on (exit $ret): $perr";
is( c(q{SELECT extversion FROM pg_extension WHERE extname = 'saas_schema'})
	  . '/'
	  . c($on_workers),
	'0.2.0/0.2.0,0.2.0,0.2.0',
	'a table-changing update script (0.2.0 -> 0.1.0) on the distributed install fails and rolls back on every node'
);
($ret, undef, $perr) = c_try(qq{ALTER EXTENSION saas_schema UPDATE TO '$newest'});
is($ret, 0,
	"ALTER EXTENSION saas_schema UPDATE TO '$newest' (upgrade) on the distributed install"
) or diag $perr;
is(c($on_workers), "$newest,$newest,$newest",
	'the upgrade ran on every worker');
is(c($dist_sql), $dist_before,
	'the tables stay distributed across the downgrade and upgrade');
is(members_on('coord', 'w1', 'w2', 'w3'),
	'0,0,0,0',
	'after the round trip no table, view or type belongs to the extension on any node'
);
is(partition_rls_states('coord', 'w1', 'w3'),
	'11:1/11:1/11:1',
	"$newest: the monthly audit partitions have the parent's row-level security again, on the coordinator, the shell tables and the shards ("
	  . (partition_rls('w1'))[0]
	  . ' relations on w1)');
is( c(
		q{SELECT evtenabled FROM pg_event_trigger WHERE evtname = 'saas_schema_ddl_command_start'}
	  )
	  . '/'
	  . on_workers(
		q{SELECT evtenabled FROM pg_event_trigger WHERE evtname = 'saas_schema_ddl_command_start'}
	  ),
	'A/A,A,A',
	'the event trigger is back, enabled always, on every node');
my %audit_after = map { (split / /)[0] => $_ } split /\n/, c($audit_row_sql);
my @audit_changed = grep { ($audit_after{ (split / /)[0] } // '') ne $_ } @audit_before;
is(scalar(@audit_changed), 0,
	'after the round trip every one of the '
	  . scalar(@audit_before)
	  . ' audit rows written before it is as it was, TRUNCATE rows included')
  or diag explain [ @audit_changed[ 0 .. ($#audit_changed < 2 ? $#audit_changed : 2) ] ];
$coord_shape = table_shape('coord');
is(table_shape('w1') . '|' . table_shape('w3'),
	"$coord_shape|$coord_shape", "the workers' tables are still the coordinator's");
is(join(',', map { stray($_) } 'w1', 'w2', 'w3'),
	'0,0,0', 'and no worker holds stray copies');
($o) = app($B,
	q{UPDATE saas.tasks SET priority = 4 WHERE title = 't2' RETURNING organization_id}
);
is($o, $B, 'DML works after the round trip');
is(priority_audits($B, 't2'), '1', 'and is audited');

# Clusters that ran 0.4.0, installed from its released script: the update to
# the newest version, on a distributed install and on one not distributed.
ok(-f $tree->extension_dir . '/saas_schema--0.4.0.sql',
	"the released 0.4.0 install script is in the nodes' installation, next to the newest scripts"
);

# A database with citus on every node, w1 and w2 added; the subs above
# work on it from then on.
sub cluster_db
{
	my ($dbname) = @_;
	create_db($_, $dbname) for ('coord', 'w1', 'w2');
	$db = $dbname;
	c("SELECT citus_set_coordinator_host('127.0.0.1', " . $port->('coord') . ')');
	c("SELECT citus_add_node('127.0.0.1', " . $port->($_) . ')') for ('w1', 'w2');
	return;
}
my $version_everywhere = sub {
	return c(q{SELECT extversion FROM pg_extension WHERE extname = 'saas_schema'}) . '/'
	  . on_workers(
		q{SELECT extversion FROM pg_extension WHERE extname = 'saas_schema'});
};

# 1. Distributed with 0.4.0's saas.distribute(), then updated; then a worker
#    is added.
cluster_db('saas_citus_from04');
($ret, undef, $perr) = c_try(
	q{SET client_min_messages = warning; CREATE EXTENSION saas_schema VERSION '0.4.0' CASCADE}
);
is($ret, 0,
	'0.4.0 created on a coordinator with workers w1 and w2 (database saas_citus_from04)'
) or diag $perr;
is(members_on('w1', 'w2'),
	'19,19', '0.4.0: each worker has its own member copies of the tables');
load_tenants();
($ret, $out, $perr) = c_try('SELECT * FROM saas.distribute(4)');
ok($ret == 0 && grant_app() == 0,
	"8 tenants loaded and distributed by 0.4.0's saas.distribute()")
  or diag $perr;
$before = counts();
($ret, undef, $perr) = c_try('ALTER EXTENSION saas_schema UPDATE');
is($ret, 0,
	'ALTER EXTENSION saas_schema UPDATE from 0.4.0 on the distributed install')
  or diag $perr;
is($version_everywhere->(), "$newest/$newest,$newest",
	"every node is on $newest");
is(members_on('coord', 'w1', 'w2'),
	'0,0,0', 'no table, view or type belongs to the extension on any node');
is( on_workers(
		q{SELECT count(*) FROM pg_class AS c WHERE c.relnamespace = 'saas'::regnamespace AND c.relkind IN ('r', 'p', 'v') AND NOT relation_is_a_known_shard(c.oid)}
	),
	'18,18',
	"the workers kept their copies: they are Citus' shell tables of the distributed tables (13 tables, 5 views)"
);
is( c(
		q{SELECT count(*) FROM pg_dist_object WHERE pg_describe_object(classid, objid, objsubid) ~ ' saas\.'}
	),
	'19',
	'the tables, views and type are Citus distributed objects now (Citus left them out while the extension owned them)'
);
is(counts(), $before, 'no row lost or added by the update');
create_db('w3', $db);
($ret, undef, $perr) =
  c_try("SELECT citus_add_node('127.0.0.1', " . $port->('w3') . ')');
is($ret, 0, 'w3 added after the update') or diag $perr;
is(table_shape('w3'), table_shape('coord'),
	"w3's tables (made by Citus) are the coordinator's");
is(stray('w3') . '/' . members('w3'), '0/0', 'w3 holds no stray copies');
$ret = grant_app();
($ret, undef, $perr) =
  c_try(q{SELECT rebalance_table_shards(shard_transfer_mode => 'block_writes')})
  if $ret == 0;
is($ret, 0, 'grant_app_access() again and rebalance_table_shards() onto w3')
  or diag $perr;
my $E = c(
	q{SELECT o.id FROM saas.organizations AS o
       WHERE (SELECT nodeport FROM pg_dist_shard_placement
               WHERE shardid = get_shard_id_for_distribution_column('saas.tasks', o.id)) = }
	  . $port->('w3') . ' ORDER BY o.slug LIMIT 1');
isnt($E, '', 'a tenant loaded under 0.4.0 now has its shards on w3');
tenant_checks($E, 'from 0.4.0, tenant moved to w3') if $E ne '';

# 2. Not distributed under 0.4.0: the workers' copies are in the way of the
#    shell tables Citus makes; the update drops them (empty ones only).
cluster_db('saas_citus_from04_local');
($ret, undef, $perr) = c_try(
	q{SET client_min_messages = warning; CREATE EXTENSION saas_schema VERSION '0.4.0' CASCADE}
);
if ($ret == 0)
{
	load_tenants();
	$ret = grant_app();
}
is($ret, 0,
	'0.4.0 created on a coordinator with workers w1 and w2 and loaded, not distributed (database saas_citus_from04_local)'
) or diag $perr;
on('w1',
	q{SET session_replication_role = replica; INSERT INTO saas.organizations (name, slug) VALUES ('On a worker', 'on-w1')}
);
(undef, undef, $perr) = c_try('ALTER EXTENSION saas_schema UPDATE');
like(
	$perr,
	qr/saas\.organizations on this Citus worker \(group .*\) is an ordinary table with rows/,
	"a worker's copy with rows written to it directly stops the update, with a reason"
);
is($version_everywhere->(), '0.4.0/0.4.0,0.4.0', 'and it rolled back on every node');
on('w1',
	q{SET session_replication_role = replica; DELETE FROM saas.organizations WHERE slug = 'on-w1'}
);
$before = counts();
($ret, undef, $perr) = c_try('ALTER EXTENSION saas_schema UPDATE');
is($ret, 0, 'ALTER EXTENSION saas_schema UPDATE from 0.4.0 once the copies are empty')
  or diag $perr;
is( on_workers(
		q{SELECT extversion || ', ' || count(c.oid) || ' relations, type ' || coalesce(to_regtype('saas.ticket_status')::text, 'none')
            FROM pg_extension AS e LEFT JOIN pg_class AS c ON c.relnamespace = 'saas'::regnamespace
           WHERE e.extname = 'saas_schema' GROUP BY extversion}
	),
	"$newest, 0 relations, type none,$newest, 0 relations, type none",
	"the workers are on $newest without the copies, as after a fresh CREATE EXTENSION"
);
($ret, undef, $perr) = c_try('SELECT * FROM saas.distribute(4)');
is($ret, 0, 'saas.distribute() after the update') or diag $perr;
is(counts(), $before, 'no row lost or added by the update and the distribution');
$coord_shape = table_shape('coord');
is(table_shape('w1') . '|' . table_shape('w2'),
	"$coord_shape|$coord_shape", "the workers' tables are the coordinator's");
is(stray('w1') . ',' . stray('w2'), '0,0', 'and they hold no stray copies');
grant_app();
my $F = c(q{SELECT id FROM saas.organizations WHERE slug = 'org-3'});
tenant_checks($F, 'from 0.4.0 not distributed');

done_testing();
