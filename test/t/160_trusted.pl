# The trusted extension, as the roles that use it and the one that attacks it.
#
# A database owner that is neither superuser nor CREATEROLE installs
# saas_schema (CREATE EXTENSION ... CASCADE).  Before that, a role that may
# create objects in public (as in a cluster upgraded from PostgreSQL 14)
# plants functions, operators, types and casts named like the ones the
# scripts use, each of which reports (a WARNING in the server log and a row
# in a table) when it runs, and the installing session holds pg_temp copies.
# None of them may run, and the result must be what a superuser's install
# in a clean database makes, apart from owners and the owner's grants.  Then
# the owner administers its tenants: the application role (created by a
# superuser), audit, row-level security, retention, lint, soft delete, what
# stays superuser-only, and pg_dump/pg_restore of its database as itself.
# Versions before 0.5.0 are refused to it (their released scripts are not
# safe: the same planted objects run when a superuser installs 0.4.0).
use strict;
use warnings;
use File::Basename qw(dirname);
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

use lib dirname(__FILE__) . '/../perl';
use SaasInstallTree;
use SaasReleased;
use SaasCompare;

my $repo = dirname(__FILE__) . '/../..';
my %released = SaasReleased::scripts();
my $tree = SaasInstallTree->new(PostgreSQL::Test::Utils::tempdir() . '/install');
$tree->write_extension_file("saas_schema--0.4.0.sql", $released{'0.4.0'});

# The scripts a non-superuser can run (the install script and the update
# scripts from or to 0.5.0), read as text: the first statement pins the
# search_path for the whole script and nothing changes it again; nothing is
# created IF NOT EXISTS; the install script replaces nothing; the only name
# in public is citext's type.
my @versions = split /\n/, `perl $repo/scripts/generate_sql.pl versions`;
my $newest = $versions[-1];
my @trusted_scripts = ("saas_schema--$versions[-1].sql",
                       grep { /--(?:0\.(?:[5-9]|\d\d)|[1-9]\d*\.\d+)\.\d+/ } map {; "saas_schema--$versions[$_-1]--$versions[$_].sql",
                                                  "saas_schema--$versions[$_]--$versions[$_-1].sql" } 1 .. $#versions);
for my $name (@trusted_scripts) {
    my $text = $tree->read_extension_file($name);
    (my $code = $text) =~ s/^\s*--.*\n//mg;
    like($code, qr/\A\s*\\echo [^\n]*\n\s*SELECT pg_catalog\.set_config\('search_path', 'pg_catalog, pg_temp', true\);\n/,
         "$name: its first statement pins search_path to pg_catalog, pg_temp for the script");
    # (Statements start in the first column; functions' SET clauses are indented.)
    my @path_changes = $code =~ /^(?:SET|RESET)\b[^;]*search_path|set_config\('search_path'/mgi;
    is(scalar(@path_changes), 1, "$name: and nothing else changes the search_path");
    unlike($code, qr/IF NOT EXISTS(?!\s*\()/i, "$name: nothing is created IF NOT EXISTS");
    unlike($code, qr/^CREATE OR REPLACE/m, "$name: nothing is replaced") if $name !~ /--.*--/;
    my %public = map { $_ => 1 } $code =~ /\bpublic\.(\w+)/g;
    is(join(' ', sort keys %public), 'citext', "$name: the only object named in public is citext's type")
      if $name !~ /--.*--/;
}

my $node = PostgreSQL::Test::Cluster->new('trusted', install_path => $tree->install_path);
$node->init;
# (Thousands of planted objects: DROP OWNED BY locks each of them.)
$node->append_conf('postgresql.conf', "log_min_messages = warning\nmax_locks_per_transaction = 4096\n");
$node->start;

# Roles, all made by the superuser: the database owner, the attacker, the
# application role.
$node->safe_psql('postgres', q{
CREATE ROLE tenant_admin LOGIN NOSUPERUSER NOCREATEROLE NOBYPASSRLS;
CREATE ROLE mallory LOGIN NOSUPERUSER NOCREATEROLE NOBYPASSRLS;
CREATE ROLE app LOGIN NOSUPERUSER NOBYPASSRLS;
});
for my $db (qw(owned owned_old legacy clean)) {
    $node->safe_psql('postgres', "CREATE DATABASE $db OWNER tenant_admin");
}

# What the attacker plants, in the databases the owner will install into.
my $plant = q{
GRANT CREATE ON SCHEMA public TO mallory;
SET ROLE mallory;
CREATE TABLE public.planted_calls (what text, ran_as name DEFAULT current_user);
GRANT INSERT ON public.planted_calls TO PUBLIC;
CREATE FUNCTION public.planted(what text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    RAISE WARNING 'PLANTED % ran as %', what, current_user;
    INSERT INTO public.planted_calls (what) VALUES (what);
END $$;
GRANT EXECUTE ON FUNCTION public.planted(text) TO PUBLIC;
DO $plant$
DECLARE
    types text[] := ARRAY['text', 'name', 'varchar', '"char"', 'oid', 'regclass', 'regnamespace',
                          'regprocedure', 'regtype', 'regrole', 'uuid', 'integer', 'bigint', 'smallint',
                          'boolean', 'jsonb', 'timestamptz', 'interval', 'text[]', 'name[]'];
    ops text[] := ARRAY['=', '<>', '<', '>', '<=', '>=', '~', '!~', '~~', '!~~', '||', '+', '-',
                        '@>', '<@', '&&', '->>', '->', '?'];
    fns text[] := ARRAY['lower', 'upper', 'now', 'format', 'gen_random_uuid', 'jsonb_build_object',
                        'left', 'length', 'concat', 'to_regclass', 'to_regprocedure', 'current_setting',
                        'set_config', 'quote_ident', 'quote_literal', 'jsonb_typeof', 'date_trunc',
                        'clock_timestamp', 'obj_description', 'pg_get_functiondef', 'regexp_replace',
                        'replace', 'substr', 'array_length', 'array_position', 'cardinality', 'unnest',
                        'pg_partition_tree', 'string_to_array', 'array_to_string', 'row_to_json',
                        'to_jsonb', 'jsonb_set', 'md5', 'nextval', 'txid_current', 'abs', 'greatest',
                        'uuid_generate_v7', 'current_tenant_id', 'set_updated_at', 'audit_trigger',
                        'enable_audit', 'enable_tenant_isolation', 'pg_has_role', 'has_table_privilege'];
    a text; b text; op text; fn text; sig text; ret text; ident text;
BEGIN
    FOREACH a IN ARRAY types LOOP
        FOREACH b IN ARRAY types LOOP
            ident := pg_catalog.md5(a || '/' || b);
            EXECUTE pg_catalog.format(
                'CREATE FUNCTION public.op_bool_%s(%s, %s) RETURNS boolean LANGUAGE plpgsql IMMUTABLE AS '
                '$f$ BEGIN PERFORM public.planted(%L); RETURN true; END $f$',
                ident, a, b, 'operator on (' || a || ', ' || b || ')');
            EXECUTE pg_catalog.format(
                'CREATE FUNCTION public.op_same_%s(x %s, y %s) RETURNS %s LANGUAGE plpgsql IMMUTABLE AS '
                '$f$ BEGIN PERFORM public.planted(%L); RETURN x; END $f$',
                ident, a, b, a, 'operator on (' || a || ', ' || b || ')');
            FOREACH op IN ARRAY ops LOOP
                ret := CASE WHEN op IN ('||', '+', '-', '->', '->>') THEN 'same' ELSE 'bool' END;
                EXECUTE pg_catalog.format('CREATE OPERATOR public.%s (LEFTARG = %s, RIGHTARG = %s, FUNCTION = public.op_%s_%s)',
                                          op, a, b, ret, ident);
            END LOOP;
        END LOOP;
    END LOOP;
    FOREACH fn IN ARRAY fns LOOP
        EXECUTE pg_catalog.format(
            'CREATE FUNCTION public.%I() RETURNS text LANGUAGE plpgsql IMMUTABLE AS '
            '$f$ BEGIN PERFORM public.planted(%L); RETURN NULL; END $f$', fn, fn || '()');
        FOREACH a IN ARRAY types LOOP
            EXECUTE pg_catalog.format(
                'CREATE FUNCTION public.%I(%s) RETURNS text LANGUAGE plpgsql IMMUTABLE AS '
                '$f$ BEGIN PERFORM public.planted(%L); RETURN NULL; END $f$', fn, a, fn || '(' || a || ')');
            FOREACH b IN ARRAY ARRAY['text', 'name', 'varchar', 'oid', 'regclass', 'uuid', 'integer', 'jsonb',
                                     'timestamptz', 'interval', 'boolean', 'text[]'] LOOP
                sig := a || ', ' || b;
                EXECUTE pg_catalog.format(
                    'CREATE FUNCTION public.%I(%s) RETURNS text LANGUAGE plpgsql IMMUTABLE AS '
                    '$f$ BEGIN PERFORM public.planted(%L); RETURN NULL; END $f$', fn, sig, fn || '(' || sig || ')');
            END LOOP;
        END LOOP;
    END LOOP;
END
$plant$;
-- Types named like the extension's, with casts that report, and a
-- variadic format that matches any call.
CREATE TYPE public.ticket_status AS ENUM ('open', 'in_progress', 'closed');
CREATE FUNCTION public.ticket_status_to_text(public.ticket_status) RETURNS text LANGUAGE plpgsql IMMUTABLE AS
    $f$ BEGIN PERFORM public.planted('cast ticket_status to text'); RETURN 'open'; END $f$;
CREATE CAST (public.ticket_status AS text) WITH FUNCTION public.ticket_status_to_text(public.ticket_status) AS IMPLICIT;
CREATE FUNCTION public.text_to_ticket_status(text) RETURNS public.ticket_status LANGUAGE plpgsql IMMUTABLE AS
    $f$ BEGIN PERFORM public.planted('cast text to ticket_status'); RETURN 'open'; END $f$;
CREATE CAST (text AS public.ticket_status) WITH FUNCTION public.text_to_ticket_status(text) AS IMPLICIT;
CREATE DOMAIN public.organizations AS text;
CREATE FUNCTION public.format(text, VARIADIC name[]) RETURNS text LANGUAGE plpgsql IMMUTABLE AS
    $f$ BEGIN PERFORM public.planted('format(text, VARIADIC name[])'); RETURN NULL; END $f$;
RESET ROLE;
};
# The installing session's own pg_temp copies (temporary objects are found
# before public unless pg_temp is named last).
my $temp_copies = q{
CREATE FUNCTION pg_temp.lower(varchar) RETURNS text LANGUAGE plpgsql IMMUTABLE AS
    $f$ BEGIN PERFORM public.planted('pg_temp.lower(varchar)'); RETURN NULL; END $f$;
CREATE FUNCTION pg_temp.format(text, name) RETURNS text LANGUAGE plpgsql IMMUTABLE AS
    $f$ BEGIN PERFORM public.planted('pg_temp.format(text, name)'); RETURN NULL; END $f$;
CREATE FUNCTION pg_temp.eq(oid, regclass) RETURNS boolean LANGUAGE plpgsql IMMUTABLE AS
    $f$ BEGIN PERFORM public.planted('pg_temp.=(oid, regclass)'); RETURN true; END $f$;
CREATE OPERATOR pg_temp.= (LEFTARG = oid, RIGHTARG = regclass, FUNCTION = pg_temp.eq);
CREATE TEMPORARY TABLE pg_depend (classid oid, objid oid, objsubid int, refclassid oid, refobjid oid,
                                  refobjsubid int, deptype "char");
CREATE FUNCTION pg_temp.planted_true(what text) RETURNS boolean LANGUAGE plpgsql AS
    $f$ BEGIN PERFORM public.planted(what); RETURN true; END $f$;
CREATE TEMPORARY VIEW organizations AS SELECT 1 AS id WHERE pg_temp.planted_true('temporary view organizations');
};
# owned_old holds 0.4.0, installed by a superuser before anything was
# planted; the attacker plants afterwards.
$node->safe_psql('owned_old', "SET client_min_messages = error; CREATE EXTENSION saas_schema VERSION '0.4.0' CASCADE");
for my $db (qw(owned owned_old legacy)) {
    $node->safe_psql($db, $plant);
}

sub planted_ran {
    my ($db) = @_;
    return $node->safe_psql($db, 'SELECT count(*) FROM public.planted_calls');
}

my $log_offset = -s $node->logfile;
sub planted_in_log {
    my $log = slurp_file($node->logfile, $log_offset);
    $log_offset = -s $node->logfile;
    my @ran = $log =~ /WARNING:\s+PLANTED (.*)/g;
    return scalar(@ran) ? join('; ', @ran[0 .. ($#ran < 9 ? $#ran : 9)]) . (@ran > 10 ? ' ...' : '') : '';
}

# The sanity check: the planted objects do run when a script is not safe.
# Version 0.4.0's released script is one: installed by a superuser into the
# planted database, planted code runs as the superuser.  (The planted
# functions are IMMUTABLE, as an attacker would make them, so that they are
# also taken for index predicates and expressions; the report itself is a
# volatile function they call.)
my ($rc, $out, $err) = $node->psql('legacy', 'SET client_min_messages = error; CREATE EXTENSION saas_schema VERSION \'0.4.0\' CASCADE');
like(planted_in_log(), qr/ran as postgres/,
    'the planted objects work: the released 0.4.0 script, run by a superuser, runs planted code as the superuser');

# The owner installs: not 0.4.0 (nor any version before 0.5.0) ...
($rc, $out, $err) = $node->psql('owned', "CREATE EXTENSION saas_schema VERSION '0.4.0' CASCADE",
                                extra_params => ['-U', 'tenant_admin']);
isnt($rc, 0, 'the database owner may not install 0.4.0');
like($err, qr/permission denied to create extension "saas_schema"/, '... permission denied') or diag($err);
$node->safe_psql('owned', 'DROP EXTENSION IF EXISTS citext');

# ... but 0.5.0, with its own pg_temp copies in place.
($rc, $out, $err) = $node->psql('owned', $temp_copies . 'SHOW search_path; CREATE EXTENSION saas_schema CASCADE; SHOW search_path;',
                                extra_params => ['-U', 'tenant_admin']);
is($rc, 0, 'the database owner (NOSUPERUSER NOCREATEROLE) installs saas_schema CASCADE') or diag($err);
is($out, "\"\$user\", public\n\"\$user\", public", "the installing session's search_path is its own again afterwards");
is(planted_in_log(), '', 'no planted function, operator, cast or pg_temp copy ran during the install');
# From here on every session of the test resolves names in pg_catalog only:
# the planted operators would otherwise take over the test's own queries
# (and any role's that keeps public on its path: security.md).  The
# extension's functions pin their search_path themselves.
$node->safe_psql('postgres', 'ALTER DATABASE owned SET search_path = pg_catalog, pg_temp');
is(planted_ran('owned'), '0', 'and none recorded a call');
is($node->safe_psql('owned', q{SELECT e.extversion || ' ' || e.extowner::regrole || ' ' ||
                                      (SELECT c.extowner::regrole::text FROM pg_extension c WHERE c.extname = 'citext')
                                 FROM pg_extension e WHERE e.extname = 'saas_schema'}),
    "$newest tenant_admin tenant_admin", 'both extensions belong to the database owner');

# ALTER EXTENSION ... UPDATE: to the version it has (nothing to do) and
# downwards to 0.4.0, which is refused to it.
($rc, $out, $err) = $node->psql('owned', "ALTER EXTENSION saas_schema UPDATE", extra_params => ['-U', 'tenant_admin']);
is($rc, 0, 'ALTER EXTENSION saas_schema UPDATE by the owner (already at the newest version)') or diag($err);
($rc, $out, $err) = $node->psql('owned', "ALTER EXTENSION saas_schema UPDATE TO '0.4.0'",
                                extra_params => ['-U', 'tenant_admin']);
like($err, qr/permission denied to update extension "saas_schema"/, 'the downgrade to 0.4.0 is refused to it');
# Down to 0.5.0, the first trusted version, and back up, by the owner: the
# scripts run as the bootstrap superuser, and nothing planted runs.
($rc, $out, $err) = $node->psql('owned', "ALTER EXTENSION saas_schema UPDATE TO '0.5.0'; ALTER EXTENSION saas_schema UPDATE",
                                extra_params => ['-U', 'tenant_admin']);
is($rc, 0, "the owner downgrades to 0.5.0 and updates to $newest again") or diag($err);
is(planted_in_log() . planted_ran('owned'), '0', 'nothing planted ran during the downgrade and the update');

# A superuser takes the 0.4.0 database to the newest version and back: the
# update scripts from 0.5.0 on and the downgrades run nothing planted either.
($rc, $out, $err) = $node->psql('owned_old', "ALTER EXTENSION saas_schema UPDATE");
is($rc, 0, "a superuser updates 0.4.0 to $newest in the planted database") or diag($err);
is(planted_in_log() . planted_ran('owned_old'), '0', "nothing planted ran during the update to $newest");
($rc, $out, $err) = $node->psql('owned_old', "ALTER EXTENSION saas_schema UPDATE TO '0.4.0'");
is($rc, 0, 'and downgrades it to 0.4.0') or diag($err);
is(planted_in_log() . planted_ran('owned_old'), '0', 'nothing planted ran during the downgrade');

# The same catalog as a superuser's install in a clean database, apart from
# owners and the grants the owner gets.  (The snapshot resolves names in
# pg_catalog only: the planted operators must not run in the test's queries.)
$node->safe_psql('clean', 'CREATE EXTENSION saas_schema CASCADE');
my $snapshot_sql = "SET search_path = pg_catalog, pg_temp;\n"
  . do { local $/; open(my $fh, '<', "$repo/test/schema_snapshot.sql") or die $!; <$fh> };
sub normalised_snapshot {
    my ($db) = @_;
    my $s = $node->safe_psql($db, $snapshot_sql);
    $s =~ s/,tenant_admin=X\*?\/postgres//g;
    $s =~ s/acl=\{=X\/postgres,postgres=X\/postgres\}/acl=/g;
    $s =~ s/tenant_admin/postgres/g;
    return $s;
}
my ($owned_snapshot, $clean_snapshot) = (normalised_snapshot('owned'), normalised_snapshot('clean'));
ok($owned_snapshot eq $clean_snapshot, "the owner's install equals a superuser's clean install apart from owners and grants ("
      . scalar(split /\n/, $clean_snapshot) . ' catalog facts)')
  or diag(SaasCompare::text_diff($clean_snapshot, $owned_snapshot));
is($node->safe_psql('owned', q{
    SELECT string_agg(DISTINCT x, ' ' ORDER BY x) FROM (
        SELECT c.relowner::regrole::text AS x FROM pg_class c WHERE c.relnamespace = 'saas'::regnamespace AND c.relname !~ '^_'
        UNION ALL SELECT t.typowner::regrole::text FROM pg_type t WHERE t.typnamespace = 'saas'::regnamespace AND t.typname !~ '^_'
        UNION ALL SELECT n.nspowner::regrole::text FROM pg_namespace n WHERE n.nspname = 'saas') o}),
    'tenant_admin', 'the schema, tables, views, indexes and types belong to the database owner');
is($node->safe_psql('owned', q{SELECT string_agg(p.proowner::regrole || ':' || p.proname, ' ' ORDER BY p.proname COLLATE "C")
                               FROM pg_proc p WHERE p.pronamespace = 'saas'::regnamespace
                                AND p.proowner <> 'postgres'::regrole}),
    'tenant_admin:_audit_export tenant_admin:_certify_actor tenant_admin:set_actor tenant_admin:set_tenant',
    "the extension's functions stay the bootstrap superuser's, but for the SECURITY DEFINER ones and _certify_actor");
is(planted_in_log() . planted_ran('owned'), '0', 'nothing planted ran so far');

# The owner at work, connected as itself.
sub as_owner {
    my ($sql, $db) = @_;
    return $node->psql($db // 'owned', $sql, extra_params => ['-U', 'tenant_admin']);
}
sub as_app {
    my ($sql) = @_;
    return $node->psql('owned', $sql, extra_params => ['-U', 'app']);
}
my $org_a = '0191b2c4-0000-7000-8000-00000000000a';
my $org_b = '0191b2c4-0000-7000-8000-00000000000b';
my $user_a = '0191b2c4-0000-7000-8000-0000000000a1';
($rc, $out, $err) = as_owner(qq{
    -- organizations has row-level security forced: a new tenant is created
    -- as that tenant.
    BEGIN;
    SET LOCAL app.current_tenant_id = '$org_a';
    INSERT INTO saas.organizations (id, name, slug) VALUES ('$org_a', 'Acme', 'acme');
    INSERT INTO saas.users (id, organization_id, email, password_hash, role)
    VALUES ('$user_a', '$org_a', 'wile\@acme.example', 'h', 'owner');
    COMMIT;
    BEGIN;
    SET LOCAL app.current_tenant_id = '$org_b';
    INSERT INTO saas.organizations (id, name, slug) VALUES ('$org_b', 'Globex', 'globex');
    COMMIT;
    SELECT saas.grant_app_access('app');
    SELECT count(*) FROM saas.audit_create_partitions(1, 1);
});
is($rc, 0, 'the owner creates tenants, grants the application role access, creates audit partitions') or diag($err);
unlike($err, qr/WARNING/, 'grant_app_access granted everything it grants (no "no privileges were granted")') or diag($err);

($rc, $out, $err) = as_app(qq{
    BEGIN;
    SELECT saas.set_tenant('$org_a');
    SELECT saas.set_actor('$user_a', '{"request_id": "r-1"}');
    INSERT INTO saas.projects (organization_id, name, created_by_id) VALUES ('$org_a', 'Launch', '$user_a');
    INSERT INTO saas.tasks (organization_id, project_id, title)
    SELECT organization_id, id, 'task ' || g FROM saas.projects, generate_series(1, 3) g;
    UPDATE saas.projects SET status = 'on_hold';
    SELECT saas.soft_delete('saas.tasks', (SELECT id FROM saas.tasks WHERE title = 'task 1'));
    COMMIT;
    BEGIN;
    SELECT saas.set_tenant('$org_a');
    SELECT count(*) FROM saas.tasks WHERE deleted_at IS NULL;
    SELECT action || ':' || coalesce(user_id::text, '-') FROM saas.record_history('saas.projects',
        (SELECT id FROM saas.projects)) ORDER BY 1;
    COMMIT;
    SELECT count(*) FROM saas.projects;
});
is($rc, 0, "the application role works in its tenant (set_tenant, set_actor, DML, soft delete, history)") or diag($err);
is($out, "$org_a\n$user_a\n1\n$org_a\n2\nINSERT:$user_a\nUPDATE:$user_a\n0",
    'its changes are audited with their actor, soft delete hides the task, nothing is visible without a tenant');
is($node->safe_psql('owned', q{SELECT count(*) FROM saas.audit_logs WHERE table_name IN ('saas.projects', 'saas.tasks')}),
    '6', 'audit rows were written as the table owner (the application role has no INSERT on audit_logs)');
($rc, $out, $err) = as_app(qq{BEGIN; SELECT saas.set_tenant('$org_b'); SELECT count(*) FROM saas.projects; COMMIT;});
is($out, "$org_b\n0", "another tenant sees none of it");
($rc, $out, $err) = as_app('SELECT saas.grant_app_access(\'app\')');
like($err, qr/permission denied for function grant_app_access/, 'the application role cannot run the administrative functions');
($rc, $out, $err) = as_app('SELECT saas._certify_actor()');
like($err, qr/permission denied for function _certify_actor/, 'nor certify an actor without set_actor');

# The audit log stays append-only for its owner too (row-level security is
# forced on it as well: the owner names the tenant whose rows it targets).
my $audit_digest = q{SELECT count(*) || ':' || md5(string_agg(to_jsonb(a)::text, ',' ORDER BY a.id)) FROM saas.audit_logs a};
my $audit_before = $node->safe_psql('owned', $audit_digest);
for my $stmt ('UPDATE saas.audit_logs SET action = \'DELETE\'', 'DELETE FROM saas.audit_logs', 'TRUNCATE saas.audit_logs') {
    ($rc, $out, $err) = as_owner("BEGIN; SET LOCAL app.current_tenant_id = '$org_a'; $stmt; COMMIT;");
    ok($rc != 0 && $err =~ /saas.audit_logs|audit/, "the owner's $stmt is refused by the guard") or diag("rc=$rc $err");
}
is($node->safe_psql('owned', $audit_digest), $audit_before, 'and no audit row changed');

# The owner's own table: tenant isolation, audit and updated_at.
($rc, $out, $err) = as_owner(qq{
    CREATE TABLE saas.notes (id uuid PRIMARY KEY DEFAULT saas.uuid_generate_v7(),
                             organization_id uuid NOT NULL REFERENCES saas.organizations (id),
                             body text, created_at timestamptz NOT NULL DEFAULT now(),
                             updated_at timestamptz NOT NULL DEFAULT now());
    SELECT saas.enable_tenant_isolation('saas.notes');
    SELECT saas.enable_audit('saas.notes');
    SELECT saas.enable_updated_at('saas.notes');
    GRANT SELECT, INSERT, UPDATE, DELETE ON saas.notes TO app;
    BEGIN;
    SET LOCAL app.current_tenant_id = '$org_a';
    INSERT INTO saas.notes (organization_id, body) VALUES ('$org_a', 'hello');
    UPDATE saas.notes SET body = 'hello again';
    COMMIT;
    BEGIN;
    SET LOCAL app.current_tenant_id = '$org_a';
    SELECT count(*) FROM saas.audit_logs WHERE table_name = 'saas.notes';
    COMMIT;
});
is($rc, 0, 'the owner isolates, audits and stamps a table of its own') or diag($err);
is((split /\n/, $out)[-1], '2', 'and its changes are audited');

# Retention, purge (under the owner's forced row-level security: one tenant
# at a time) and lint.
($rc, $out, $err) = as_owner(qq{
    SELECT count(*) FROM saas.audit_logs_default;
    SELECT count(*) FROM saas.audit_drop_partitions('12 months');
    BEGIN;
    SET LOCAL app.current_tenant_id = '$org_a';
    SELECT saas.purge_soft_deleted('saas.tasks', '0 seconds');
    COMMIT;
    SELECT count(*) FROM saas.lint() WHERE severity = 'error';
});
is($rc, 0, 'the owner runs retention, purge and lint') or diag($err);
is($out, "0\n0\n1\n0", 'the partitions took the rows out of the default partition, nothing was old enough to drop, '
   . 'the soft-deleted task was purged, lint finds no error');
is($node->safe_psql('owned', q{SELECT count(*) FROM saas.audit_logs_default}), '0',
   'no row was left in the default partition');
is($node->safe_psql('owned', q{SELECT string_agg(c.relname || ':' || c.relforcerowsecurity, ' ' ORDER BY c.relname)
                               FROM pg_class c WHERE c.relname ~ '^audit_logs_(default|p)'}) =~ /:false/ ? 'no' : 'yes',
   'yes', 'every audit partition still has row-level security forced');

# The tenant lifecycle, run by the owner: export, erase a person, delete the
# tenant in batches.
my $org_c = '0191b2c4-0000-7000-8000-00000000000c';
my $user_c = '0191b2c4-0000-7000-8000-0000000000c1';
($rc, $out, $err) = as_owner(qq{
    BEGIN;
    SET LOCAL app.current_tenant_id = '$org_c';
    INSERT INTO saas.organizations (id, name, slug) VALUES ('$org_c', 'Initech', 'initech');
    INSERT INTO saas.users (id, organization_id, email, password_hash) VALUES ('$user_c', '$org_c', 'peter\@initech.example', 'h');
    INSERT INTO saas.projects (organization_id, name, created_by_id) VALUES ('$org_c', 'TPS', '$user_c');
    COMMIT;
    BEGIN;
    SELECT saas.set_tenant('$org_c');
    SELECT count(*) FROM saas.export_tenant('$org_c');
    SELECT saas.erase_user('$user_c') IS NOT NULL;
    COMMIT;
    CALL saas.delete_tenant('$org_c');
});
is($rc, 0, 'the owner exports a tenant, erases a user and deletes the tenant') or diag($err);
is($node->safe_psql('owned', qq{SELECT (SELECT count(*) FROM saas.organizations WHERE id = '$org_c') || ' '
                                       || (SELECT count(*) FROM saas.projects WHERE organization_id = '$org_c') || ' '
                                       || (SELECT string_agg(DISTINCT action, ',' ORDER BY action) FROM saas.audit_logs
                                            WHERE organization_id = '$org_c')}),
   '0 0 DELETE,EXPORT,INSERT,REDACT,UPDATE', 'the tenant is gone, its export, erasure and deletion are in the audit log');

# What stays superuser-only.
for my $case (
    ['SELECT saas.current_tenant_id(); SET saas.audit_enabled = off', qr/permission denied to set parameter "saas.audit_enabled"/],
    ['ALTER DATABASE owned SET saas.audit_enabled = off', qr/permission denied to set parameter "saas.audit_enabled"/],
    ['ALTER ROLE tenant_admin SET saas.audit_enabled = off', qr/permission denied to set parameter "saas.audit_enabled"/],
    ['SELECT saas.current_tenant_id(); SET saas.test_seed = 1', qr/permission denied to set parameter "saas.test_seed"/],
    ['SET session_replication_role = replica', qr/permission denied to set parameter "session_replication_role"/],
    ["SELECT saas.repair_extension_member('saas.lint()')", qr/permission denied for function repair_extension_member/],
    ['SELECT saas._release_data_objects()', qr/permission denied for function _release_data_objects/],
    ['SELECT saas._allow_member_repair()', qr/permission denied for function _allow_member_repair/],
    ['SELECT saas.distribute(32)', qr/permission denied for function distribute/],
    ['ALTER EVENT TRIGGER saas_schema_ddl_command_start DISABLE', qr/must be owner of event trigger/],
    ['ALTER FUNCTION saas.set_tenant(uuid) RESET ALL', qr/must be owner of function|saas_schema/],
    ['DROP FUNCTION saas.audit_trigger() CASCADE', qr/must be owner of function|cannot drop/],
    ['ALTER EXTENSION saas_schema DROP FUNCTION saas.lint(name)', qr/must be owner of function|cannot drop objects of its own from extension/],
    ['UPDATE pg_catalog.pg_init_privs SET initprivs = NULL', qr/permission denied for table pg_init_privs/],
) {
    my ($sql, $expect) = @$case;
    ($rc, $out, $err) = as_owner($sql);
    ok($rc != 0 && $err =~ $expect, "refused to the owner: $sql") or diag("rc=$rc $err");
}
# Set before the library is loaded, the setting is a placeholder; when the
# library defines it, PostgreSQL drops a non-superuser's value.
($rc, $out, $err) = as_owner(qq{
    SET saas.audit_enabled = off;
    BEGIN;
    SET LOCAL app.current_tenant_id = '$org_a';
    UPDATE saas.notes SET body = 'unaudited?';
    SELECT count(*) FROM saas.audit_logs WHERE table_name = 'saas.notes';
    COMMIT;
    SHOW saas.audit_enabled;
});
is($out, "3\non", 'a placeholder value set before the library loaded does not silence the audit') or diag($err);

is(planted_in_log(), '', 'no planted code ran while the owner and the application worked');
is(planted_ran('owned'), '0', 'none recorded a call');
# The attacker's objects go (as a superuser would clean up): a non-superuser
# cannot restore objects owned by another role.
$node->safe_psql('owned', 'DROP OWNED BY mallory CASCADE');

# The owner itself cannot plant: a schema saas it made beforehand, holding
# an overload that the script's call saas._record_extension_functions(NULL)
# would prefer (text is the preferred string type), stops the install.
$node->safe_psql('postgres', 'CREATE DATABASE preschema OWNER tenant_admin');
($rc, $out, $err) = as_owner(q{
    CREATE SCHEMA saas;
    CREATE TABLE public.who_ran (role name);
    CREATE FUNCTION saas._record_extension_functions(names text) RETURNS void LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO public.who_ran VALUES (current_user);
        RAISE WARNING 'PLANTED by the owner ran as %', current_user;
    END $$;
    CREATE EXTENSION saas_schema CASCADE;
}, 'preschema');
like($err, qr/schema saas is not empty: saas._record_extension_functions\(text\)/,
     'the owner cannot install into a schema saas it filled beforehand') or diag($err);
is(planted_in_log(), '', "and the owner's planted function did not run");
($rc, $out, $err) = as_owner('DROP SCHEMA saas CASCADE; CREATE EXTENSION saas_schema CASCADE', 'preschema');
is($rc, 0, 'once the schema is gone, the install works') or diag($err);
$node->safe_psql('postgres', 'DROP DATABASE preschema');

# The owner may replace the tables it owns; the SECURITY DEFINER functions
# that read them run as the owner, not as a superuser.  (In a scratch
# database: the owner's install there too.)
$node->safe_psql('postgres', 'CREATE DATABASE escalate OWNER tenant_admin');
($rc, $out, $err) = as_owner(qq{
    SET client_min_messages = error;
    CREATE EXTENSION saas_schema CASCADE;
    CREATE TABLE public.who_ran (role name, super text);
    CREATE FUNCTION public.whoami(id uuid) RETURNS uuid LANGUAGE plpgsql AS \$\$
    BEGIN
        INSERT INTO public.who_ran VALUES (current_user, current_setting('is_superuser'));
        RETURN id;
    END \$\$;
    DROP TABLE saas.organizations, saas.users CASCADE;
    CREATE VIEW saas.organizations WITH (security_invoker = true) AS SELECT public.whoami('$org_a') AS id;
    CREATE VIEW saas.users WITH (security_invoker = true)
        AS SELECT public.whoami('$org_a') AS organization_id, public.whoami('$user_a') AS id, true AS is_active;
    BEGIN;
    SELECT saas.set_tenant('$org_a');
    SELECT saas.set_actor('$user_a');
    COMMIT;
    SELECT string_agg(DISTINCT role || ':' || (SELECT rolsuper FROM pg_roles WHERE rolname = role), ' ') FROM public.who_ran;
}, 'escalate');
is($rc, 0, 'the owner replaced organizations and users by views of its own and called set_tenant and set_actor') or diag($err);
is((split /\n/, $out)[-1], 'tenant_admin:false', 'their code ran as the owner, never as a superuser');
$node->safe_psql('postgres', 'DROP DATABASE escalate');

# pg_dump of its database by the owner.  The owner is subject to the
# row-level security it forces on its tables: pg_dump refuses (it never
# dumps past a policy silently) until a superuser gives the owner BYPASSRLS.
my $dump = PostgreSQL::Test::Utils::tempdir() . '/owned.dump';
my ($stdout, $stderr);
my $dumped = IPC::Run::run(['pg_dump', '-Fc', '-f', $dump, '-U', 'tenant_admin', '-d', $node->connstr('owned')],
                           '>', \$stdout, '2>', \$stderr);
ok(!$dumped && $stderr =~ /row-level security/, 'pg_dump as the owner without BYPASSRLS stops with an error, not a partial dump')
  or diag($stderr);
$node->safe_psql('postgres', 'ALTER ROLE tenant_admin BYPASSRLS');
my $rows_before = SaasCompare::row_digests($node, 'owned');
$dumped = IPC::Run::run(['pg_dump', '-Fc', '-f', $dump, '-U', 'tenant_admin', '-d', $node->connstr('owned')],
                        '>', \$stdout, '2>', \$stderr);
ok($dumped, 'pg_dump -Fc as the owner with BYPASSRLS') or diag($stderr);
$node->safe_psql('postgres', 'CREATE DATABASE restored OWNER tenant_admin');
my $restored = IPC::Run::run(['pg_restore', '-U', 'tenant_admin', '-d', $node->connstr('restored'), $dump],
                             '>', \$stdout, '2>', \$stderr);
ok($restored, 'pg_restore as the owner into a database it owns, without error') or diag($stderr);
is($stderr, '', 'no warning either');
is(SaasCompare::row_digests($node, 'restored'), $rows_before, 'every row of every table is back');
is($node->safe_psql('restored', q{SELECT string_agg(DISTINCT c.relowner::regrole::text, ' ') FROM pg_class c
                                  WHERE c.relnamespace = 'saas'::regnamespace AND c.relname !~ '^_'}),
    'tenant_admin', 'the restored tables belong to the owner');
($rc, $out, $err) = $node->psql('restored', qq{
    BEGIN;
    SELECT saas.set_tenant('$org_a');
    SELECT saas.set_actor('$user_a');
    UPDATE saas.projects SET status = 'active';
    SELECT count(*) FROM saas.record_history('saas.projects', (SELECT id FROM saas.projects));
    COMMIT;
}, extra_params => ['-U', 'app']);
is($rc, 0, 'the application role works in the restored database (its grants came back)') or diag($err);
is((split /\n/, $out)[-1], '3', 'and is audited there');
$node->safe_psql('postgres', 'ALTER ROLE tenant_admin NOBYPASSRLS');

# A superuser restores the owner's dump into a database of the owner's: the
# dump's CREATE EXTENSION then runs as the superuser, who owns the
# extension's functions, while the schema and the tables stay the owner's.
# The owner replaces organizations and users with views calling code of its
# own and puts a trigger of its own on audit_logs; the application role then
# sets the tenant and the actor and records an export.  The SECURITY DEFINER
# functions behind those calls, owned by the superuser, must run none of the
# owner's code as the superuser: each records who ran it.
my $superuser = $node->safe_psql('postgres', 'SELECT current_user');
$node->safe_psql('postgres', 'CREATE DATABASE superrestored OWNER tenant_admin');
$restored = IPC::Run::run(['pg_restore', '-d', $node->connstr('superrestored'), $dump],
                          '>', \$stdout, '2>', \$stderr);
ok($restored, "a superuser's pg_restore of the owner's dump, without error") or diag($stderr);
is($node->safe_psql('superrestored', q{SELECT (SELECT p.proowner::regrole::text FROM pg_proc p WHERE p.oid = 'saas.set_tenant(uuid)'::regprocedure)
                                          || ' ' || (SELECT c.relowner::regrole::text FROM pg_class c WHERE c.oid = 'saas.organizations'::regclass)}),
   "$superuser tenant_admin", "there the superuser owns set_tenant and the owner the tables");
($rc, $out, $err) = as_owner(qq{
    SET client_min_messages = error;
    CREATE TABLE public.who_ran (code text, role name, super text);
    GRANT INSERT ON public.who_ran TO PUBLIC;
    CREATE FUNCTION public.whoami(code text, id uuid) RETURNS uuid LANGUAGE plpgsql AS \$\$
    BEGIN
        INSERT INTO public.who_ran
        SELECT code, current_user, r.rolsuper::text FROM pg_catalog.pg_roles AS r WHERE r.rolname = current_user;
        RETURN id;
    END \$\$;
    CREATE FUNCTION public.whoami_trigger() RETURNS trigger LANGUAGE plpgsql AS \$\$
    BEGIN
        PERFORM public.whoami('audit_logs', NULL);
        RETURN NEW;
    END \$\$;
    DROP TABLE saas.organizations, saas.users CASCADE;
    CREATE VIEW saas.organizations WITH (security_invoker = true) AS SELECT public.whoami('organizations', '$org_a') AS id;
    CREATE VIEW saas.users WITH (security_invoker = true)
        AS SELECT '$org_a'::uuid AS organization_id, public.whoami('users', '$user_a') AS id, true AS is_active;
    CREATE TRIGGER owner_code BEFORE INSERT ON saas.audit_logs FOR EACH ROW EXECUTE FUNCTION public.whoami_trigger();
}, 'superrestored');
is($rc, 0, 'the owner replaced organizations and users by views of its own and put a trigger on audit_logs') or diag($err);
($rc, $out, $err) = $node->psql('superrestored', qq{
    BEGIN;
    SELECT saas.set_tenant('$org_a');
    SELECT saas.set_actor('$user_a');
    SELECT saas._audit_export('$org_a', '{"rows": 0}', '{}');
    COMMIT;
}, extra_params => ['-U', 'app']);
is($rc, 0, 'the application role set the tenant and the actor and recorded an export') or diag($err);
is($node->safe_psql('superrestored', q{SELECT string_agg(DISTINCT code || ':' || role || ':' || super, ' ' ORDER BY code || ':' || role || ':' || super) FROM public.who_ran}),
   'audit_logs:tenant_admin:false organizations:tenant_admin:false users:tenant_admin:false',
   "the owner's code ran as the owner, never as the superuser (set_tenant, set_actor, the export's audit row)");

is(planted_in_log(), '', 'no planted code ran at any point (server log)');

# README.md, "Installing without superuser": its commands, run as written
# (psql, pg_dump and pg_restore reach this node through PGHOST/PGPORT; the
# superuser is the OS user running the test).
my $readme = do { local $/; open(my $fh, '<', "$repo/README.md") or die $!; <$fh> };
my %block = $readme =~ /<!-- trusted-install: (\w+) -->\n```sh\n(.*?)```/sg;
is(join(' ', sort keys %block), 'backup owner superuser', 'README.md has the three command blocks');
my $workdir = PostgreSQL::Test::Utils::tempdir();
local $ENV{PGHOST} = $node->host;
local $ENV{PGPORT} = $node->port;
for my $step (qw(superuser owner backup)) {
    my $ran = IPC::Run::run(['bash', '-e', '-o', 'pipefail', '-c', $block{$step}], '>', \$stdout, '2>', \$stderr,
                            init => sub { chdir $workdir });
    ok($ran, "README.md's $step commands run as written") or diag($stderr);
}
is($node->safe_psql('saas_app_copy', q{SELECT e.extowner::regrole || ' ' || (SELECT count(*) FROM saas.organizations)
                                       FROM pg_extension e WHERE e.extname = 'saas_schema'}),
   'saas_owner 1', "the README's restored copy belongs to the owner and holds the organization");
my $readme_org = $node->safe_psql('saas_app_copy', 'SELECT id FROM saas.organizations');
is($node->safe_psql('saas_app_copy', qq{BEGIN; SELECT saas.set_tenant('$readme_org') IS NOT NULL;
                                         SELECT name FROM saas.organizations; COMMIT;},
                    extra_params => ['-U', 'saas_web']),
   "t\nAcme Rockets", 'and the application role works there');

$node->stop;
done_testing();
