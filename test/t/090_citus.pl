# saas_schema on Citus: a coordinator and two workers on 127.0.0.1, the
# extension created on the coordinator, saas.distribute(), then tenant
# isolation, audit, updated_at and ticket numbers checked through the
# coordinator; a third worker is added and the shards rebalanced onto it, and
# the checks run again for a tenant whose shards moved there; the extension
# is downgraded and upgraded on the distributed install.
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

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
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

sub start_node
{
	my ($name) = @_;
	my $n = SaasTest::new_node(
		"citus_$name",
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
	$n->safe_psql('postgres', "CREATE DATABASE $db");
	$n->safe_psql($db, 'SET client_min_messages = warning; CREATE EXTENSION citus');
	return $n;
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
	"CREATE EXTENSION was propagated: both workers have saas_schema $newest (with its own copies of the tables)"
);

# The application role (CREATE ROLE propagates to the workers).
c('SET client_min_messages = warning; CREATE ROLE saas_app LOGIN');
is( c(
		q{SELECT string_agg(result, ',' ORDER BY nodeport) FROM run_command_on_workers($$SELECT count(*) FROM pg_roles WHERE rolname = 'saas_app'$$)}
	),
	'1,1',
	'application role created, on the workers too');

# Data before distributing: 8 tenants.
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

# The extension's tables do not show in citus_tables / citus_shards (Citus
# hides tables owned by extensions there): read pg_dist_* instead.
is( c(
		q{SELECT partmethod::text || repmodel::text FROM pg_dist_partition WHERE logicalrelid = 'saas.organizations'::regclass}
	),
	'nt',
	'organizations is a reference table');
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
	"the coordinator's local copies of the rows were removed (pg_dump would dump them)"
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
	'2,2',
	"the workers' own copies of saas.tasks (their shell tables) kept their 2 triggers, not duplicated"
);
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
	'2,2',
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
# The new worker's copies of the tables come from its own CREATE EXTENSION:
# the application's grants must be given again.
is(grant_app(), 0, 'saas.grant_app_access() again after adding the worker');
is(on('w3', "SELECT extversion FROM pg_extension WHERE extname = 'saas_schema'"),
	$newest, 'citus_add_node created saas_schema on the new worker');
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

# Extension updates on the distributed install.
my $dist_sql =
  q{SELECT string_agg(partmethod::text || ' ' || n, ' ' ORDER BY partmethod) FROM (SELECT partmethod, count(*) AS n FROM pg_dist_partition GROUP BY partmethod) s};
my $dist_before = c($dist_sql);
my $on_workers =
  q{SELECT string_agg(result, ',' ORDER BY nodeport) FROM run_command_on_workers($$SELECT extversion FROM pg_extension WHERE extname = 'saas_schema'$$)};
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
my ($o) = app($B,
	q{UPDATE saas.tasks SET priority = 4 WHERE title = 't2' RETURNING organization_id}
);
is($o, $B, 'DML works after the round trip');
is( c(
		qq{SELECT count(*) FROM saas.audit_logs WHERE organization_id = '$B' AND changed_columns @> '{priority}'}
	),
	'1',
	'and is audited');

done_testing();
