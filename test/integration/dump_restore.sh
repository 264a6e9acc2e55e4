#!/usr/bin/env bash
# pg_dump of a populated database restores into a fresh database with the
# extension and gives identical rows in every table of the schema.
# Needs PGHOST/PGPORT/PGUSER of a running server with the extension installed.
set -uo pipefail
source "$(dirname "$0")/../lib.sh"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
SRC=saas_dump_src
DST=saas_dump_dst

psql -X -q -d postgres -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS $SRC" -c "DROP DATABASE IF EXISTS $DST" -c "CREATE DATABASE $SRC"
q $SRC "CREATE EXTENSION saas_schema CASCADE" 2>/dev/null
ok $? "extension created in source database"

# Populate every table: 3 tenants, with threads, tags, soft-deleted rows.
psql -X -q -v ON_ERROR_STOP=1 -d $SRC >/dev/null <<'SQL'
INSERT INTO saas.organizations (name, slug, plan)
SELECT 'Org ' || g, 'org-' || g, (ARRAY['free','starter','pro'])[g] FROM generate_series(1, 3) g;
INSERT INTO saas.users (organization_id, email, password_hash, full_name, age)
SELECT o.id, 'user' || g || '@' || o.slug || '.example', 'hash' || g, 'User ' || g, 20 + g
FROM saas.organizations o, generate_series(1, 5) g;
INSERT INTO saas.projects (organization_id, name, created_by_id)
SELECT o.id, 'Project ' || g, (SELECT id FROM saas.users u WHERE u.organization_id = o.id ORDER BY email LIMIT 1)
FROM saas.organizations o, generate_series(1, 3) g;
INSERT INTO saas.tasks (organization_id, project_id, title, priority, due_date, custom_fields, assignee_id)
SELECT p.organization_id, p.id, 'Task ' || g, 1 + g % 5, date '2026-01-01' + g,
       jsonb_build_object('points', g, 'labels', jsonb_build_array('a', g)),
       (SELECT id FROM saas.users u WHERE u.organization_id = p.organization_id ORDER BY email OFFSET g % 5 LIMIT 1)
FROM saas.projects p, generate_series(1, 10) g;
UPDATE saas.tasks SET deleted_at = now() WHERE title = 'Task 7';
INSERT INTO saas.task_comments (organization_id, task_id, author_id, body)
SELECT t.organization_id, t.id, t.assignee_id, 'Comment on ' || t.title FROM saas.tasks t;
INSERT INTO saas.task_comments (organization_id, task_id, parent_id, author_id, body)
SELECT c.organization_id, c.task_id, c.id, c.author_id, 'Reply' FROM saas.task_comments c;
INSERT INTO saas.tags (organization_id, name, color)
SELECT o.id, n, '#a0b0c0' FROM saas.organizations o, unnest(ARRAY['bug', 'feature']) n;
INSERT INTO saas.task_tags (organization_id, task_id, tag_id)
SELECT t.organization_id, t.id, g.id FROM saas.tasks t JOIN saas.tags g USING (organization_id) WHERE g.name = 'bug';
INSERT INTO saas.ticket_categories (organization_id, name, display_order)
SELECT o.id, 'Billing', 1 FROM saas.organizations o;
INSERT INTO saas.tickets (organization_id, title, status, priority, category_id, created_by_id, custom_fields)
SELECT c.organization_id, 'Ticket ' || g, (ARRAY['open','in_progress','closed']::saas.ticket_status[])[1 + g % 3],
       'normal', c.id, (SELECT id FROM saas.users u WHERE u.organization_id = c.organization_id ORDER BY email LIMIT 1),
       jsonb_build_object('department', 'Support')
FROM saas.ticket_categories c, generate_series(1, 4) g;
INSERT INTO saas.ticket_comments (organization_id, ticket_id, author_id, body, is_internal)
SELECT t.organization_id, t.id, t.created_by_id, 'On it', true FROM saas.tickets t;
INSERT INTO saas.ticket_tags (organization_id, ticket_id, tag_id)
SELECT t.organization_id, t.id, g.id FROM saas.tickets t JOIN saas.tags g USING (organization_id) WHERE g.name = 'feature';
SQL
ok $? "source database populated"

pg_dump -Fc -d $SRC -f "$WORK/dump" 2>"$WORK/dump.err"
ok $? "pg_dump succeeded" || cat "$WORK/dump.err"
psql -X -q -d postgres -c "CREATE DATABASE $DST"
pg_restore -d $DST --exit-on-error "$WORK/dump" 2>"$WORK/restore.err"
ok $? "pg_restore into a fresh database succeeded" || sed 's/^/#   /' "$WORK/restore.err"

# Compare every table of the schema (partitions included): same row count,
# same content (order-independent digest of each row's text form).
digest_sql="SELECT c.oid::regclass::text FROM pg_class c
            WHERE c.relnamespace = 'saas'::regnamespace AND c.relkind = 'r' ORDER BY 1"
tables=$(q $SRC "$digest_sql")
[ -n "$tables" ]
ok $? "schema has tables to compare"
for t in $tables; do
    sql="SELECT count(*) || ':' || coalesce(md5(string_agg(r::text, '|' ORDER BY r::text)), '-') FROM $t r"
    src=$(q $SRC "$sql")
    dst=$(q $DST "$sql" 2>&1)
    is "$dst" "$src" "rows of $t identical after restore (${src%%:*} rows)"
done
# Row counts are non-trivial (the test would be hollow on empty tables).
n=$(q $SRC "SELECT count(*) FROM saas.task_comments")
[ "$n" -ge 100 ]
ok $? "non-trivial data set ($n task comments)"

psql -X -q -d postgres -c "DROP DATABASE $SRC" -c "DROP DATABASE $DST"
done_testing
