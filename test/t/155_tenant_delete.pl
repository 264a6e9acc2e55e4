# Deleting a tenant on a live cluster: saas.delete_tenant() removes a tenant
# of tens of thousands of rows in batches while other tenants' audited
# writes go on (pgbench, as the application role, without an error), each
# batch its own transaction; every deleted row gets exactly one DELETE audit
# row and the tenant's earlier audit rows stay.  Then the server crashes in
# the middle of a deletion (kill -9 of the deleting backend), and CALLing it
# again finishes the job: nothing left, still exactly one DELETE audit row
# per row.  (How long other tenants wait is measured by bench/tenant_delete.sh,
# not here.)
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);

my $node = PostgreSQL::Test::Cluster->new('delete');
$node->init;
$node->append_conf('postgresql.conf', "log_statement = none\nrestart_after_crash = on\n");
$node->start;
$node->safe_psql('postgres', 'CREATE ROLE regress_app LOGIN');
$node->safe_psql('postgres', 'CREATE DATABASE lc');
$node->safe_psql('lc', 'SET client_min_messages = warning; CREATE EXTENSION saas_schema CASCADE');
$node->safe_psql('lc', "SELECT saas.grant_app_access('regress_app')");

# Tenants tenant-1 .. tenant-4; tenant-1 and tenant-4 get NTASKS tasks, two
# comments (a comment and a reply) and a tag link per task.
my $ntasks = 6000;
$node->safe_psql('lc', qq{
INSERT INTO saas.organizations (name, slug) SELECT 'Tenant ' || g, 'tenant-' || g FROM generate_series(1, 4) g;
INSERT INTO saas.users (organization_id, email, password_hash)
SELECT o.id, 'u' || g || '\@' || o.slug || '.example', 'h' FROM saas.organizations o, generate_series(1, 5) g;
INSERT INTO saas.projects (organization_id, name) SELECT id, 'p' || g FROM saas.organizations, generate_series(1, 3) g;
INSERT INTO saas.tags (organization_id, name) SELECT id, 'tag' FROM saas.organizations;
INSERT INTO saas.tasks (organization_id, project_id, title)
SELECT p.organization_id, p.id, 't' || g FROM saas.projects p JOIN saas.organizations o ON o.id = p.organization_id,
       generate_series(1, CASE WHEN o.slug IN ('tenant-1', 'tenant-4') THEN $ntasks / 3 ELSE 10 END) g;
INSERT INTO saas.task_comments (organization_id, task_id, author_id, body)
SELECT t.organization_id, t.id, (SELECT u.id FROM saas.users u WHERE u.organization_id = t.organization_id LIMIT 1), 'c'
  FROM saas.tasks t;
INSERT INTO saas.task_comments (organization_id, task_id, parent_id, author_id, body)
SELECT organization_id, task_id, id, author_id, 'reply' FROM saas.task_comments;
INSERT INTO saas.task_tags (organization_id, task_id, tag_id)
SELECT t.organization_id, t.id, g.id FROM saas.tasks t JOIN saas.tags g USING (organization_id);
-- (SECURITY DEFINER: the application role sees no organization before it
-- has a tenant.)
CREATE FUNCTION public.tenant_id(n integer) RETURNS uuid LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS \$\$ SELECT id FROM saas.organizations WHERE slug = 'tenant-' || n \$\$;
-- One write of another tenant: a new task and an update, audited with the actor.
CREATE FUNCTION public.other_tenant_write(n integer) RETURNS void LANGUAGE plpgsql AS \$\$
BEGIN
    PERFORM saas.set_tenant(public.tenant_id(n));
    PERFORM saas.set_actor((SELECT id FROM saas.users ORDER BY id LIMIT 1));
    INSERT INTO saas.tasks (organization_id, project_id, title)
    SELECT organization_id, id, 'written during the deletion' FROM saas.projects ORDER BY id LIMIT 1;
    UPDATE saas.tasks SET priority = 1 + (priority % 5) WHERE id = (SELECT id FROM saas.tasks ORDER BY random() LIMIT 1);
END \$\$;
GRANT EXECUTE ON FUNCTION public.tenant_id(integer), public.other_tenant_write(integer) TO regress_app;
});

# Rows of a tenant (by organization id) in every tenant table, summed.
sub tenant_rows {
    my ($org) = @_;
    return $node->safe_psql('lc', qq{
        SELECT sum((xpath('/row/c/text()', query_to_xml(format('SELECT count(*) AS c FROM %s WHERE %I = %L',
                   t.tbl, t.tenant_column, '$org'), false, true, '')))[1]::text::bigint)
          FROM saas.tenant_tables() t});
}
my $org1 = $node->safe_psql('lc', 'SELECT public.tenant_id(1)');
my $org4 = $node->safe_psql('lc', 'SELECT public.tenant_id(4)');
my $rows1 = tenant_rows($org1);
cmp_ok($rows1, '>=', 4 * $ntasks, "tenant-1 holds $rows1 rows");
my $audit1_before = $node->safe_psql('lc', q{SELECT count(*) FROM saas.audit_logs WHERE organization_id = public.tenant_id(1)});
my $other_before = $node->safe_psql('lc', q{SELECT count(*) FROM saas.tasks WHERE organization_id = public.tenant_id(2)});

# Other tenants write while tenant-1 is deleted in batches of 500.
my $script = PostgreSQL::Test::Utils::tempdir() . '/write.sql';
PostgreSQL::Test::Utils::append_to_file($script, "BEGIN;\nSELECT public.other_tenant_write(2);\nCOMMIT;\n");
my ($bench_out, $bench_err) = ('', '');
my $bench = IPC::Run::start(['pgbench', '-n', '-c', '2', '-T', '600', '-f', $script, '-U', 'regress_app',
                             '-h', $node->host, '-p', $node->port, 'lc'],
                            '>', \$bench_out, '2>', \$bench_err);
$node->poll_query_until('lc', q{SELECT count(*) > 10 FROM saas.tasks WHERE title = 'written during the deletion'})
  or die 'pgbench did not start writing';
my ($rc, $out, $err) = $node->psql('lc', 'CALL saas.delete_tenant(public.tenant_id(1), 500)');
is($rc, 0, 'CALL saas.delete_tenant(tenant-1, 500) while another tenant writes') or diag($err);
like($err, qr/NOTICE:  saas\.delete_tenant: organization \S+ deleted, \d+ rows/, 'it reports what it deleted');
my $written_during = $node->safe_psql('lc', q{SELECT count(*) FROM saas.tasks WHERE title = 'written during the deletion'});
$bench->signal('INT');
$bench->finish;
unlike($bench_err, qr/ERROR|FATAL|aborted/, 'the other tenant\'s writes ran without an error') or diag($bench_err);
cmp_ok($written_during, '>', 10, "the other tenant kept writing during the deletion ($written_during new tasks)");

is(tenant_rows($org1), '0', 'nothing of tenant-1 is left');
is($node->safe_psql('lc', q{SELECT count(*) FROM saas.organizations WHERE slug = 'tenant-1'}), '0', 'its organization is gone');
is($node->safe_psql('lc', q{SELECT count(*) FROM saas.tasks WHERE organization_id = public.tenant_id(2)
                            AND title <> 'written during the deletion'}),
    $other_before, 'tenant-2 keeps all its rows');
is($node->safe_psql('lc', q{SELECT count(*) FROM saas.tasks WHERE organization_id = public.tenant_id(3)}), '30',
    'tenant-3 is untouched');
# The audit trail: one DELETE per deleted row (no actor, no request
# metadata: the deletion has no actor); the earlier rows kept.
is($node->safe_psql('lc', qq{SELECT count(*) FROM saas.audit_logs WHERE organization_id = '$org1' AND action = 'DELETE'
                             AND user_id IS NULL AND metadata = '{}'}),
    $rows1, 'every deleted row has its DELETE audit row, without actor or metadata');
is($node->safe_psql('lc', qq{SELECT count(*) FROM saas.audit_logs WHERE organization_id = '$org1' AND action = 'DELETE'}),
    $rows1, 'and there is no other DELETE audit row of tenant-1');
is($node->safe_psql('lc', qq{SELECT count(*) FROM (SELECT table_name, record_id FROM saas.audit_logs
                             WHERE organization_id = '$org1' AND action = 'DELETE' AND record_id IS NOT NULL
                             GROUP BY 1, 2 HAVING count(*) > 1) d}),
    '0', 'and only one per record');
is($node->safe_psql('lc', qq{SELECT count(*) FROM saas.audit_logs WHERE organization_id = '$org1' AND action <> 'DELETE'}),
    $audit1_before, "tenant-1's earlier audit rows stay (until retention)");
# Batches: many transactions, none larger than a batch (threads are deleted
# leaves first, so no batch cascades).
my ($transactions, $largest) = split /\|/, $node->safe_psql('lc', qq{
    SELECT count(*), max(n) FROM (SELECT transaction_id, count(*) AS n FROM saas.audit_logs
                                   WHERE organization_id = '$org1' AND action = 'DELETE' GROUP BY 1) x});
cmp_ok($transactions, '>=', int($rows1 / 1000), "the deletion ran in $transactions transactions");
cmp_ok($largest, '<=', 500, "none deleted more than a batch ($largest rows)");

# A crash in the middle: kill -9 the deleting backend, CALL again.  The
# deletion is held up at one of tenant-4's tasks, whose row another session
# keeps locked: the backend is killed inside a batch of tasks, after the
# comments and the task tags were deleted and committed, and not after it
# finished, however fast the machine.  (The crash ends that session too.)
my $rows4 = tenant_rows($org4);
my $locker = $node->background_psql('lc', on_error_stop => 0);
$locker->query_safe("BEGIN; SELECT 1 FROM saas.tasks WHERE organization_id = '$org4' ORDER BY id OFFSET $ntasks / 2 LIMIT 1 FOR UPDATE;");
my ($del_out, $del_err) = ('', '');
my $deleting = IPC::Run::start(['psql', '-X', '-d', $node->connstr('lc'), '-c',
                                "CALL saas.delete_tenant('$org4', 200)"],
                               '>', \$del_out, '2>', \$del_err);
$node->poll_query_until('lc', q{SELECT count(*) = 1 FROM pg_stat_activity
                                 WHERE query LIKE 'CALL saas.delete_tenant%' AND wait_event_type = 'Lock'})
  or die 'the deletion did not reach the locked task';
my $pid = $node->safe_psql('lc', q{SELECT pid FROM pg_stat_activity WHERE query LIKE 'CALL saas.delete_tenant%'});
ok($pid =~ /^\d+$/, "the deleting backend waits for the locked task (pid $pid)");
kill 'KILL', $pid;
$deleting->finish;
eval { $locker->quit; };
$node->poll_query_until('lc', 'SELECT true') or die 'the server did not come back';
like(PostgreSQL::Test::Utils::slurp_file($node->logfile), qr/terminated by signal 9/,
    'the server crashed and recovered');
my $left = tenant_rows($org4);
ok($left > 0 && $left < $rows4, "part of tenant-4 was deleted before the crash ($left of $rows4 rows left)");
($rc, $out, $err) = $node->psql('lc', "CALL saas.delete_tenant('$org4', 200)");
is($rc, 0, 'CALL saas.delete_tenant again after the crash') or diag($err);
is($node->safe_psql('lc', "SELECT count(*) FROM saas.organizations WHERE id = '$org4'"), '0', 'it finished: the organization is gone');
is(tenant_rows($org4), '0', 'and every row of it');
is($node->safe_psql('lc', qq{SELECT count(*) FROM saas.audit_logs WHERE organization_id = '$org4' AND action = 'DELETE'}),
    $rows4, 'still exactly one DELETE audit row per row: the batch the crash interrupted left none');
($rc, $out, $err) = $node->psql('lc', "CALL saas.delete_tenant('$org4')");
like($err, qr/nothing left of organization/, 'a third CALL has nothing left to do');

$node->stop;
done_testing();
