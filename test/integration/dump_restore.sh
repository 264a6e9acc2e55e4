#!/usr/bin/env bash
# pg_dump of a populated database (audit rows in monthly partitions, RLS
# policies, triggers) restores into a fresh cluster with identical rows in
# every table of the schema, and identical behaviour: audit still fires, RLS
# still isolates, updated_at still moves.
# Needs PGHOST/PGPORT/PGUSER of a running server with the extension installed.
set -uo pipefail
source "$(dirname "$0")/../lib.sh"
source "$REPO_ROOT/scripts/pgenv.sh"
WORK="$(mktemp -d /tmp/saas-dump.XXXXXX)"
chmod 755 "$WORK"
SRC_HOST=$PGHOST SRC_PORT=$PGPORT
cleanup() {
    cluster_stop "$WORK/fresh" 2>/dev/null
    rm -rf "$WORK"
}
trap cleanup EXIT
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
-- Audit rows in monthly partitions (created after install: not extension
-- members) as well as in the default partition.
SELECT count(*) FROM saas.audit_create_partitions(1, 1);
SQL
ok $? "source database populated"
n=$(q $SRC "SELECT count(*) FROM pg_inherits WHERE inhparent = 'saas.audit_logs'::regclass")
[ "$n" -ge 3 ]
ok $? "audit_logs has $n partitions"

pg_dump -Fc -d $SRC -f "$WORK/dump" 2>"$WORK/dump.err"
ok $? "pg_dump succeeded" || cat "$WORK/dump.err"
# Restore into a fresh cluster.
cluster_start "$WORK/fresh" "$(free_port 55700)"
ok $? "fresh cluster started"
DST_HOST=$PGHOST DST_PORT=$PGPORT
psql -X -q -d postgres -c "CREATE DATABASE $DST"
pg_restore -d $DST --exit-on-error "$WORK/dump" 2>"$WORK/restore.err"
ok $? "pg_restore into a fresh cluster succeeded" || sed 's/^/#   /' "$WORK/restore.err"
qs() { PGHOST=$SRC_HOST PGPORT=$SRC_PORT q "$@"; }
qd() { PGHOST=$DST_HOST PGPORT=$DST_PORT q "$@"; }

# Compare every table of the schema (partitions included): same row count,
# same content (order-independent digest of each row's text form).
# Compare every table of the schema (partitions included): same row count,
# same content (order-independent digest of each row's text form).
tables_sql="SELECT c.oid::regclass::text FROM pg_class c
            WHERE c.relnamespace = 'saas'::regnamespace AND c.relkind = 'r' ORDER BY 1"
tables=$(qs $SRC "$tables_sql")
is "$(qd $DST "$tables_sql" | tr '\n' ' ')" "$(qs $SRC "$tables_sql" | tr '\n' ' ')" "same tables and partitions after restore"
for t in $tables; do
    sql="SELECT count(*) || ':' || coalesce(md5(string_agg(r::text, '|' ORDER BY r::text)), '-') FROM $t r"
    src=$(qs $SRC "$sql")
    dst=$(qd $DST "$sql" 2>&1)
    is "$dst" "$src" "rows of $t identical after restore (${src%%:*} rows)"
done
# Row counts are non-trivial (the test would be hollow on empty tables).
n=$(qs $SRC "SELECT count(*) FROM saas.task_comments")
[ "$n" -ge 100 ]
ok $? "non-trivial data set ($n task comments)"
n=$(qs $SRC "SELECT count(*) FROM saas.audit_logs")
[ "$n" -ge 300 ]
ok $? "audit rows dumped and restored ($n)"

# Identical behaviour in the restored database.
before=$(qd $DST "SELECT count(*) FROM saas.audit_logs")
out=$(PGHOST=$DST_HOST PGPORT=$DST_PORT psql -X -q -At -d $DST -v ON_ERROR_STOP=1 <<'SQL'
CREATE ROLE regress_dump_app;
SELECT saas.grant_app_access('regress_dump_app');
SELECT id AS org1 FROM saas.organizations WHERE slug = 'org-1' \gset
SET ROLE regress_dump_app;
BEGIN;
SELECT saas.set_tenant(:'org1') IS NOT NULL;
SELECT count(DISTINCT organization_id) FROM saas.tasks;
SELECT count(*) FROM saas.organizations;
WITH u AS (UPDATE saas.tasks SET priority = 1 + priority % 5 WHERE title = 'Task 1' RETURNING updated_at = now() AS moved)
SELECT bool_and(moved) || ':' || count(*) FROM u;
COMMIT;
RESET ROLE;
SELECT count(*) FROM saas.audit_logs WHERE action = 'UPDATE' AND table_name = 'saas.tasks'
   AND changed_columns @> '{priority}';
DROP OWNED BY regress_dump_app;
DROP ROLE regress_dump_app;
SQL
)
set -- $out
is "${1:-}:${2:-}" "t:1" "RLS still isolates after restore (one tenant visible through tasks)"
is "${3:-}" "1" "RLS still isolates organizations"
is "${4:-}" "true:3" "updated_at still moves (3 tasks updated, all stamped now())"
after=$(qd $DST "SELECT count(*) FROM saas.audit_logs")
is "${5:-x}" "3" "audit still fires: one UPDATE audit row per updated task"
is "$((after - before))" "3" "and nothing else was audited"

PGHOST=$SRC_HOST PGPORT=$SRC_PORT psql -X -q -d postgres -c "DROP DATABASE $SRC"
done_testing
