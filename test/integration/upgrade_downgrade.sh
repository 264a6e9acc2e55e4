#!/usr/bin/env bash
# Versioned migrations: install the oldest version into a database holding
# data, ALTER EXTENSION UPDATE version by version to the newest, and compare
# every object (columns and their order, constraints, indexes, triggers,
# policies, functions, views, types, comments, grants, extension membership)
# with a fresh install of the newest version: identical.  Then downgrade
# step by step to the oldest and compare with a fresh install of it.  No row
# may be lost in either direction.
set -uo pipefail
source "$(dirname "$0")/../lib.sh"
cd "$REPO_ROOT"

versions=$(ls sql/saas_schema--*.sql | sed -n 's/.*saas_schema--\([0-9.]*\)\.sql$/\1/p' | sort -V)
oldest=$(echo "$versions" | head -1)
newest=$(sed -n "s/^default_version *= *'\(.*\)'/\1/p" saas_schema.control)
chain=$(echo "$versions" | tr '\n' ' ')
ok 0 "versions with an install script: $chain(oldest $oldest, newest $newest)"
[ "$oldest" != "$newest" ]
ok $? "at least two released versions"
# Every consecutive step has an upgrade and a downgrade script.
prev=""
for v in $versions; do
    if [ -n "$prev" ]; then
        [ -f "sql/saas_schema--$prev--$v.sql" ]
        ok $? "upgrade script $prev -> $v exists"
        [ -f "sql/saas_schema--$v--$prev.sql" ]
        ok $? "downgrade script $v -> $prev exists"
    fi
    prev=$v
done

snapshot() { psql -X -q -d "$1" -f test/schema_snapshot.sql; }
counts() {
    q "$1" "SELECT string_agg(c.relname || '=' || (xpath('/row/n/text()',
              query_to_xml(format('SELECT count(*) AS n FROM saas.%I', c.relname), false, true, '')))[1]::text,
              ' ' ORDER BY c.relname)
            FROM pg_class c WHERE c.relnamespace = 'saas'::regnamespace AND c.relkind = 'r'"
}
fresh() { # fresh DB VERSION
    psql -X -q -d postgres -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS $1" -c "CREATE DATABASE $1"
    q "$1" "SET client_min_messages = warning; CREATE EXTENSION saas_schema VERSION '$2' CASCADE" >/dev/null
    q "$1" "SELECT saas.grant_app_access('regress_upgrade_app')" >/dev/null
    q "$1" "SELECT count(*) FROM saas.audit_create_partitions(1, 1)" >/dev/null
}

psql -X -q -d postgres -c "SET client_min_messages = warning" -c "DROP ROLE IF EXISTS regress_upgrade_app" \
    -c "CREATE ROLE regress_upgrade_app"
fresh saas_up "$oldest"
ok $? "installed $oldest"
psql -X -q -v ON_ERROR_STOP=1 -d saas_up >/dev/null <<'SQL'
INSERT INTO saas.organizations (name, slug) SELECT 'Org ' || g, 'org-' || g FROM generate_series(1, 4) g;
INSERT INTO saas.users (organization_id, email, password_hash)
SELECT o.id, 'u' || g || '@x.example', 'h' FROM saas.organizations o, generate_series(1, 3) g;
INSERT INTO saas.projects (organization_id, name) SELECT id, 'p' FROM saas.organizations;
INSERT INTO saas.tasks (organization_id, project_id, title)
SELECT organization_id, id, 't' || g FROM saas.projects, generate_series(1, 25) g;
INSERT INTO saas.ticket_categories (organization_id, name) SELECT id, 'c' FROM saas.organizations;
INSERT INTO saas.tickets (organization_id, title, created_by_id, category_id)
SELECT u.organization_id, 'ticket ' || g, u.id, c.id
FROM saas.users u JOIN saas.ticket_categories c USING (organization_id), generate_series(1, 10) g;
INSERT INTO saas.ticket_comments (organization_id, ticket_id, author_id, body)
SELECT organization_id, id, created_by_id, 'hi' FROM saas.tickets;
UPDATE saas.tasks SET priority = 1 WHERE title = 't1';
SQL
ok $? "filled $oldest with data"
before=$(counts saas_up)

# Upgrade step by step.
prev=""
for v in $versions; do
    if [ -n "$prev" ]; then
        q saas_up "ALTER EXTENSION saas_schema UPDATE TO '$v'" >/dev/null 2>"/tmp/saas-upgrade.err"
        ok $? "ALTER EXTENSION saas_schema UPDATE TO '$v'" || sed 's/^/#   /' /tmp/saas-upgrade.err
    fi
    prev=$v
done
fresh saas_fresh_new "$newest"
diff <(snapshot saas_up) <(snapshot saas_fresh_new) >/tmp/saas-upgrade.diff
ok $? "upgraded $oldest -> $newest is identical to a fresh $newest ($(snapshot saas_fresh_new | wc -l) facts compared)" ||
    sed 's/^/#   /' /tmp/saas-upgrade.diff | head -40
after=$(counts saas_up)
# The upgrade audits the ticket-number backfill: audit_logs grows, nothing else changes.
strip_audit() { echo "$1" | tr ' ' '\n' | grep -v '^audit_logs' | tr '\n' ' '; }
is "$(strip_audit "$after")" "$(strip_audit "$before")" "no row lost or added by the upgrade"

if [ "$newest" = "0.2.0" ] || q saas_up "SELECT 1 FROM pg_attribute WHERE attrelid = 'saas.tickets'::regclass AND attname = 'number'" | grep -q 1; then
    # 0.2.0: tickets are numbered 1..n per organization in creation order.
    bad=$(q saas_up "SELECT count(*) FROM (SELECT number, row_number() OVER (PARTITION BY organization_id ORDER BY created_at, id) AS rn FROM saas.tickets) t WHERE number <> rn")
    is "$bad" "0" "existing tickets were numbered 1..n per organization"
    n=$(q saas_up "INSERT INTO saas.tickets (organization_id, title, created_by_id)
                   SELECT organization_id, 'new', id FROM saas.users ORDER BY email, organization_id LIMIT 1 RETURNING number")
    is "$n" "31" "a new ticket gets the next number of its organization"
    q saas_up "DELETE FROM saas.tickets WHERE title = 'new'" >/dev/null
    nulls=$(q saas_up "SELECT count(*) FROM saas.audit_logs WHERE table_name = 'saas.tickets' AND action = 'UPDATE' AND changed_columns = '{number}'")
    is "$nulls" "120" "the backfill is in the audit log (one UPDATE of number per ticket), updated_at untouched"
fi

# Downgrade step by step.
rev=$(echo "$versions" | sort -rV)
prev=""
for v in $rev; do
    if [ -n "$prev" ]; then
        q saas_up "ALTER EXTENSION saas_schema UPDATE TO '$v'" >/dev/null 2>"/tmp/saas-upgrade.err"
        ok $? "ALTER EXTENSION saas_schema UPDATE TO '$v' (downgrade)" || sed 's/^/#   /' /tmp/saas-upgrade.err
    fi
    prev=$v
done
fresh saas_fresh_old "$oldest"
diff <(snapshot saas_up) <(snapshot saas_fresh_old) >/tmp/saas-upgrade.diff
ok $? "downgraded $newest -> $oldest is identical to a fresh $oldest" ||
    sed 's/^/#   /' /tmp/saas-upgrade.diff | head -40
is "$(strip_audit "$(counts saas_up)")" "$(strip_audit "$before")" "no row lost by the downgrade"
# Still works after the round trip: a change is audited and numbered-less tickets insert fine.
q saas_up "UPDATE saas.tasks SET priority = 2 WHERE title = 't2'" >/dev/null
ok $? "DML works after the round trip"

# The comparison can fail: a fresh newest differs from a fresh oldest.
! diff -q <(snapshot saas_fresh_new) <(snapshot saas_fresh_old) >/dev/null
ok $? "snapshots of different versions differ (the comparison is not vacuous)"

psql -X -q -d postgres -c "DROP DATABASE saas_up" -c "DROP DATABASE saas_fresh_new" -c "DROP DATABASE saas_fresh_old" \
    -c "DROP ROLE regress_upgrade_app"
rm -f /tmp/saas-upgrade.diff /tmp/saas-upgrade.err
done_testing
