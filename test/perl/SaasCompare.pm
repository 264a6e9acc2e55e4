# Comparing two databases row by row and object by object, and the
# customisations a DBA makes to the shipped schema, for the ownership tests.
package SaasCompare;

use strict;
use warnings;
use Test::More;
use PostgreSQL::Test::Utils;

# Every table of schemas saas and app (partitions included; not the
# extension's internal _* tables), each with a digest of its rows in a
# canonical order; "table=count:md5" lines.
#
# Options: user => role to connect as; skip => regexp of tables left out;
# without => { table => [columns left out of the digest] } (columns an
# update adds).
sub row_digests {
    my ($node, $db, %params) = @_;
    my @psql = $params{user} ? (extra_params => ['-U', $params{user}]) : ();
    my $tables = $node->safe_psql($db, q{
        SELECT string_agg(format('%I.%I', n.nspname, c.relname), ' ' ORDER BY n.nspname, c.relname)
          FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname IN ('saas', 'app') AND c.relkind = 'r'
           AND c.relname !~ '^_'}, @psql);
    my @lines;
    for my $table (split / /, $tables) {
        next if $params{skip} && $table =~ $params{skip};
        my $row = 'to_jsonb(t)';
        $row .= " - '$_'" for @{ $params{without}{$table} // [] };
        push @lines, $table . '=' . $node->safe_psql($db,
            "SELECT count(*) || ':' || coalesce(md5(string_agg(($row)::text, E'\\n' ORDER BY ($row)::text)), '-') FROM $table AS t",
            @psql);
    }
    return join("\n", @lines);
}

# The schema-only dump of the database: every object's definition (the
# extension as CREATE EXTENSION, everything else in full), owners, grants.
sub schema_dump {
    my ($node, $db, %params) = @_;
    my ($stdout, $stderr);
    my @user = $params{user} ? ('-U', $params{user}) : ();
    my $ok = IPC::Run::run(['pg_dump', '--schema-only', '-d', $node->connstr($db), @user],
        '>', \$stdout, '2>', \$stderr);
    die "pg_dump --schema-only failed: $stderr" unless $ok;
    # Lines that name the dump's version or its per-dump psql restrict key
    # say nothing about the schema.
    $stdout =~ s/^-- Dumped (from|by) .*\n//mg;
    $stdout =~ s/^\\(un)?restrict \S+\n//mg;
    # PostgreSQL deparses a CHECK (varchar_col IN ('a', 'b')) differently once
    # it has been restored from its own deparsed text ('a'::varchar cast to
    # text element by element instead of the whole array); the same
    # expression, so both forms are written the same way here.
    $stdout =~ s/\('((?:[^']|'')*)'::character varying\)::text/'$1'::character varying/g;
    $stdout =~ s/\(\(ARRAY\[([^\]]*)\]\)::text\[\]\)/(ARRAY[$1])/g;
    return $stdout;
}

# A unified diff of two texts (the first 60 lines), for diagnostics.
sub text_diff {
    my ($expected, $got) = @_;
    my $dir = PostgreSQL::Test::Utils::tempdir();
    PostgreSQL::Test::Utils::append_to_file("$dir/expected", $expected);
    PostgreSQL::Test::Utils::append_to_file("$dir/got", $got);
    my $diff = `diff -u $dir/expected $dir/got | head -60`;
    return $diff;
}

# What a DBA does to the schema right after CREATE EXTENSION: added columns
# (with a default, NOT NULL), an index, a CHECK and a foreign key, a trigger,
# comments, a policy, grants, and a table of their own with a foreign key
# into saas, audited, tenant-isolated and with updated_at.  The roles
# regress_app (the application role) and regress_reporting must exist.
sub customise_sql {
    return q{
ALTER TABLE saas.tasks ADD COLUMN estimate_hours integer NOT NULL DEFAULT 1;
ALTER TABLE saas.tasks ADD COLUMN reviewer_id uuid;
ALTER TABLE saas.users ADD COLUMN locale text DEFAULT 'en';
CREATE INDEX idx_tasks_estimate_hours ON saas.tasks (organization_id, estimate_hours);
ALTER TABLE saas.tasks ADD CONSTRAINT chk_tasks_estimate_hours CHECK (estimate_hours BETWEEN 0 AND 1000);
ALTER TABLE saas.tasks ADD CONSTRAINT fk_tasks_users_reviewer
    FOREIGN KEY (organization_id, reviewer_id) REFERENCES saas.users (organization_id, id);
CREATE INDEX idx_tasks_reviewer_id ON saas.tasks (organization_id, reviewer_id);
CREATE FUNCTION public.projects_name_trim() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN NEW.name := btrim(NEW.name); RETURN NEW; END $$;
CREATE TRIGGER trg_projects_name_trim BEFORE INSERT OR UPDATE ON saas.projects
    FOR EACH ROW EXECUTE FUNCTION public.projects_name_trim();
COMMENT ON COLUMN saas.tasks.estimate_hours IS 'Estimated effort in hours.';
COMMENT ON TABLE saas.tags IS 'Labels (customised comment).';
CREATE POLICY hide_archived_projects ON saas.projects AS RESTRICTIVE FOR SELECT
    USING (status <> 'archived');
GRANT SELECT ON saas.tags, saas.projects TO regress_reporting;
CREATE SCHEMA app;
CREATE TABLE app.invoices (
    id uuid NOT NULL DEFAULT saas.uuid_generate_v7(),
    organization_id uuid NOT NULL,
    project_id uuid,
    amount_cents bigint NOT NULL,
    card_token text,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT pk_invoices PRIMARY KEY (organization_id, id),
    CONSTRAINT fk_invoices_organizations FOREIGN KEY (organization_id)
        REFERENCES saas.organizations (id) ON DELETE CASCADE,
    CONSTRAINT fk_invoices_projects FOREIGN KEY (organization_id, project_id)
        REFERENCES saas.projects (organization_id, id)
);
CREATE INDEX idx_invoices_project_id ON app.invoices (organization_id, project_id);
SELECT saas.enable_audit('app.invoices', excluded_columns => '{card_token}');
SELECT saas.enable_tenant_isolation('app.invoices');
SELECT saas.enable_updated_at('app.invoices');
GRANT USAGE ON SCHEMA app TO regress_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON app.invoices TO regress_app;
};
}

# Rows in every table, shipped and own, written through the extension's
# triggers (ids, updated_at, audit rows, ticket numbers where they exist).
sub fill_sql {
    return q{
INSERT INTO saas.organizations (name, slug) SELECT 'Org ' || g, 'org-' || g FROM generate_series(1, 3) g;
INSERT INTO saas.users (organization_id, email, password_hash, locale)
SELECT o.id, 'u' || g || '@' || o.slug || '.example', 'h', CASE WHEN g = 1 THEN 'de' END
FROM saas.organizations o, generate_series(1, 4) g;
INSERT INTO saas.projects (organization_id, name, status)
SELECT id, '  Project ' || slug || '  ', 'active' FROM saas.organizations;
INSERT INTO saas.tasks (organization_id, project_id, title, estimate_hours, reviewer_id)
SELECT p.organization_id, p.id, 't' || g, g % 7,
       (SELECT u.id FROM saas.users u WHERE u.organization_id = p.organization_id ORDER BY u.email LIMIT 1)
FROM saas.projects p, generate_series(1, 40) g;
INSERT INTO saas.tags (organization_id, name) SELECT id, 'urgent' FROM saas.organizations;
INSERT INTO saas.task_tags (organization_id, task_id, tag_id)
SELECT t.organization_id, t.id, g.id FROM saas.tasks t JOIN saas.tags g USING (organization_id) WHERE t.title = 't1';
INSERT INTO saas.task_comments (organization_id, task_id, author_id, body)
SELECT t.organization_id, t.id, t.reviewer_id, 'looks good' FROM saas.tasks t;
INSERT INTO saas.task_comments (organization_id, task_id, parent_id, author_id, body)
SELECT c.organization_id, c.task_id, c.id, c.author_id, 'agreed' FROM saas.task_comments c;
INSERT INTO saas.ticket_categories (organization_id, name) SELECT id, 'billing' FROM saas.organizations;
INSERT INTO saas.tickets (organization_id, title, created_by_id, category_id)
SELECT u.organization_id, 'ticket ' || g, u.id, c.id
FROM saas.users u JOIN saas.ticket_categories c USING (organization_id), generate_series(1, 3) g;
INSERT INTO saas.ticket_comments (organization_id, ticket_id, author_id, body)
SELECT organization_id, id, created_by_id, 'hello' FROM saas.tickets;
INSERT INTO app.invoices (organization_id, project_id, amount_cents, card_token)
SELECT organization_id, id, 1999, 'tok_secret' FROM saas.projects;
UPDATE saas.tasks SET estimate_hours = 12, status = 'in_progress' WHERE title = 't3';
UPDATE app.invoices SET amount_cents = 2999;
UPDATE saas.projects SET status = 'archived' WHERE name = 'Project org-3';
UPDATE saas.tasks SET deleted_at = now() WHERE title = 't7';
-- Audit rows far in the future stay in the default partition.
INSERT INTO saas.audit_logs (organization_id, table_name, action, new_values, transaction_id, created_at)
SELECT id, 'saas.organizations', 'INSERT', '{"note": "future"}', 1, '2099-01-01 00:00+00' FROM saas.organizations;
};
}

# One query per customisation, true when it is in place (after a restore,
# an upgrade, an extension update...).
sub customisation_checks {
    return (
        ['added column with default and NOT NULL (tasks.estimate_hours)',
         q{SELECT attnotnull AND pg_get_expr(adbin, adrelid) = '1' FROM pg_attribute
           JOIN pg_attrdef ON adrelid = attrelid AND adnum = attnum
           WHERE attrelid = 'saas.tasks'::regclass AND attname = 'estimate_hours'}],
        ['added column with default (users.locale)',
         q{SELECT count(*) = 1 FROM pg_attribute WHERE attrelid = 'saas.users'::regclass AND attname = 'locale'}],
        ['added index (idx_tasks_estimate_hours)', q{SELECT to_regclass('saas.idx_tasks_estimate_hours') IS NOT NULL}],
        ['added CHECK (chk_tasks_estimate_hours)',
         q{SELECT count(*) = 1 FROM pg_constraint WHERE conname = 'chk_tasks_estimate_hours' AND contype = 'c'}],
        ['added foreign key (fk_tasks_users_reviewer)',
         q{SELECT count(*) = 1 FROM pg_constraint WHERE conname = 'fk_tasks_users_reviewer' AND contype = 'f'}],
        ['added trigger (trg_projects_name_trim)',
         q{SELECT count(*) = 1 FROM pg_trigger WHERE tgname = 'trg_projects_name_trim'}],
        ['added column comment', q{SELECT col_description('saas.tasks'::regclass,
           (SELECT attnum FROM pg_attribute WHERE attrelid = 'saas.tasks'::regclass AND attname = 'estimate_hours'))
           = 'Estimated effort in hours.'}],
        ['changed table comment', q{SELECT obj_description('saas.tags'::regclass, 'pg_class') = 'Labels (customised comment).'}],
        ['added policy (hide_archived_projects)',
         q{SELECT count(*) = 1 FROM pg_policy WHERE polname = 'hide_archived_projects' AND NOT polpermissive}],
        ['added grant (SELECT on saas.tags to regress_reporting)',
         q{SELECT has_table_privilege('regress_reporting', 'saas.tags', 'SELECT')}],
        ['own table with a foreign key into saas (app.invoices)',
         q{SELECT count(*) = 1 FROM pg_constraint WHERE conname = 'fk_invoices_organizations'
           AND confrelid = 'saas.organizations'::regclass}],
        ['own table audited with the exclusion (enable_audit)',
         q{SELECT count(*) = 1 FROM pg_trigger WHERE tgrelid = 'app.invoices'::regclass AND tgname = 'saas_audit'
           AND tgfoid = 'saas.audit_trigger'::regproc AND encode(tgargs, 'escape') LIKE '%card_token%'}],
        ['own table tenant-isolated (enable_tenant_isolation)',
         q{SELECT relrowsecurity AND relforcerowsecurity AND EXISTS (SELECT FROM pg_policy
           WHERE polrelid = 'app.invoices'::regclass AND polname = 'tenant_isolation')
           FROM pg_class WHERE oid = 'app.invoices'::regclass}],
        ['own table with updated_at (enable_updated_at)',
         q{SELECT count(*) = 1 FROM pg_trigger WHERE tgrelid = 'app.invoices'::regclass
           AND tgfoid = 'saas.set_updated_at'::regproc}],
        ['grant to the application role on the own table',
         q{SELECT has_table_privilege('regress_app', 'app.invoices', 'INSERT')}],
    );
}

sub check_customisations {
    my ($node, $db, $label, %params) = @_;
    my @psql = $params{user} ? (extra_params => ['-U', $params{user}]) : ();
    for my $check (customisation_checks()) {
        my ($name, $sql) = @$check;
        is($node->safe_psql($db, $sql, @psql), 't', "$label: $name");
    }
}

1;
