#!/usr/bin/env bash
# saas_schema on Citus: a coordinator and two workers on 127.0.0.1, the
# extension created on the coordinator, saas.distribute(), then tenant
# isolation, audit, updated_at and ticket numbers checked through the
# coordinator; a third worker is added and the shards rebalanced onto it, and
# the checks run again for a tenant whose shards moved there; the extension
# is downgraded and upgraded on the distributed install.
#
# Runs only when Citus is installed in the PostgreSQL that $PG_CONFIG names
# (citus.so in its pkglibdir, citus.control in its extension dir); otherwise
# the Citus checks are reported as skipped.  Without Citus, and with a server
# at PGHOST/PGPORT (as in scripts/test.sh), it still checks that
# saas.distribute() refuses to run without Citus.
#
#   PG_CONFIG=/path/with/citus/bin/pg_config bash test/citus/run.sh
set -uo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# The version CREATE EXTENSION installs (the newest).
NEWEST="$(sed -n "s/^default_version *= *'\(.*\)'/\1/p" "$HERE/../../saas_schema.control")"
source "$HERE/../lib.sh"
source "$REPO_ROOT/scripts/pgenv.sh"

# The "no Citus" check, on any server the caller gives us (PGHOST/PGPORT).
no_citus_check() { # no_citus_check DB
    local db="$1" out
    psql -X -q -d postgres -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS $db" \
        -c "CREATE DATABASE $db" >/dev/null 2>&1 || return 1
    q "$db" "SET client_min_messages = warning; CREATE EXTENSION saas_schema CASCADE" >/dev/null 2>&1 || return 1
    out=$(psql -X -q -d "$db" -At -v VERBOSITY=verbose -c "SELECT saas.distribute()" 2>&1)
    psql -X -q -d postgres -c "DROP DATABASE $db" >/dev/null 2>&1
    if [[ "$out" == *"ERROR:  0A000: saas.distribute: the citus extension is not installed"* && "$out" == *"HINT:"* ]]; then
        return 0
    fi
    echo "$out" | sed 's/^/#   /'
    return 1
}

pkglib="$("$PG_CONFIG" --pkglibdir 2>/dev/null)"
extdir="$("$PG_CONFIG" --sharedir 2>/dev/null)/extension"
why=""
if [ ! -f "$pkglib/citus.so" ]; then
    why="no citus.so in $pkglib"
elif [ ! -f "$extdir/citus.control" ]; then
    why="no citus.control in $extdir"
fi
if [ -n "$why" ]; then
    echo "# SKIP citus not installed: $why"
    if [ -n "${PGHOST:-}" ] && psql -X -q -d postgres -c "SELECT 1" >/dev/null 2>&1 &&
        q postgres "SELECT 1 FROM pg_available_extensions WHERE name = 'saas_schema'" | grep -q 1; then
        no_citus_check saas_no_citus
        ok $? "saas.distribute() without Citus raises feature_not_supported (0A000) with a hint"
    fi
    echo "ok $((TAP_N + 1)) # SKIP citus not installed: $why"
    echo "1..$((TAP_N + 1))"
    exit 0
fi

# Citus is there: build and install saas_schema into the same installation.
if ! build_and_install >/tmp/saas-citus-build.$$.log 2>&1; then
    cat /tmp/saas-citus-build.$$.log
    ok 1 "saas_schema builds and installs into $("$PG_CONFIG" --bindir)"
    done_testing
    exit 1
fi
rm -f /tmp/saas-citus-build.$$.log
ok 0 "saas_schema built and installed next to Citus ($("$PG_CONFIG" --pkglibdir))"

WORK="$(mktemp -d /tmp/saas-citus.XXXXXX)"
chmod 755 "$WORK"
NODES=()
cleanup() {
    local n
    for n in "${NODES[@]}"; do cluster_stop "$WORK/$n"; done
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

DB=saas_citus
declare -A PORT
start_node() { # start_node NAME
    local name="$1" port
    port="$(free_port $((56000 + ${#NODES[@]} * 10)))"
    NODES+=("$name")
    cluster_start "$WORK/$name" "$port" \
        "shared_preload_libraries = 'citus'" \
        "citus.node_conninfo = 'sslmode=disable'" \
        "max_connections = 100" \
        "wal_level = logical" || return 1
    PORT[$name]=$port
    psql -X -q -h "$WORK/$name" -p "$port" -d postgres -c "CREATE DATABASE $DB" >/dev/null &&
        psql -X -q -h "$WORK/$name" -p "$port" -d $DB -c "SET client_min_messages = warning" \
            -c "CREATE EXTENSION citus" >/dev/null
}
# on NODE SQL...: run on one node (the coordinator unless named).
on() {
    local name="$1"
    shift
    PGHOST="$WORK/$name" PGPORT="${PORT[$name]}" q $DB "$@"
}
c() { on coord "$@"; }
# app TENANT SQL: one transaction as the application role, tenant set, with
# the Citus setting that carries SET LOCAL to the workers.
app() {
    local tenant="$1"
    shift
    PGHOST="$WORK/coord" PGPORT="${PORT[coord]}" PGUSER=saas_app psql -X -q -v ON_ERROR_STOP=1 -At -d $DB \
        -c "SET citus.propagate_set_commands = 'local'" \
        -c "BEGIN" -c "SELECT FROM saas.set_tenant('$tenant')" -c "$*" -c "COMMIT"
}

for n in coord w1 w2; do
    start_node $n
    ok $? "node $n started with citus preloaded (port ${PORT[$n]:-?})" || {
        done_testing
        exit 1
    }
done
citus_version=$(c "SELECT extversion FROM pg_extension WHERE extname = 'citus'")
ok 0 "Citus $citus_version on PostgreSQL $(c "SHOW server_version")"

# saas.distribute() refuses to run without Citus in the database.
PGHOST="$WORK/coord" PGPORT="${PORT[coord]}" no_citus_check saas_no_citus
ok $? "saas.distribute() in a database without the citus extension raises 0A000 with a hint"

c "SELECT citus_set_coordinator_host('127.0.0.1', ${PORT[coord]})" >/dev/null &&
    c "SELECT citus_add_node('127.0.0.1', ${PORT[w1]})" >/dev/null &&
    c "SELECT citus_add_node('127.0.0.1', ${PORT[w2]})" >/dev/null
ok $? "workers w1 and w2 added to the coordinator"

c "SET client_min_messages = warning; CREATE EXTENSION saas_schema CASCADE" >/dev/null
ok $? "CREATE EXTENSION saas_schema on the coordinator"
is "$(c "SELECT string_agg(result, ',' ORDER BY nodeport) FROM run_command_on_workers(\$\$SELECT extversion FROM pg_extension WHERE extname = 'saas_schema'\$\$)")" \
    "$NEWEST,$NEWEST" "CREATE EXTENSION was propagated: both workers have saas_schema $NEWEST (with its own copies of the tables)"

# The application role (CREATE ROLE propagates to the workers).
c "SET client_min_messages = warning; CREATE ROLE saas_app LOGIN" >/dev/null
ok $? "application role created"

# Data before distributing: 8 tenants.
c "
INSERT INTO saas.organizations (name, slug) SELECT 'Org ' || g, 'org-' || g FROM generate_series(1, 8) g;
INSERT INTO saas.users (organization_id, email, password_hash)
SELECT o.id, 'u' || g || '@x.example', 'h' FROM saas.organizations o, generate_series(1, 2) g;
INSERT INTO saas.projects (organization_id, name) SELECT id, 'p' FROM saas.organizations;
INSERT INTO saas.tasks (organization_id, project_id, title)
SELECT organization_id, id, 't' || g FROM saas.projects, generate_series(1, 5) g;
INSERT INTO saas.tickets (organization_id, title, created_by_id)
SELECT organization_id, 'ticket', id FROM saas.users;" >/dev/null
ok $? "8 tenants with users, projects, tasks and tickets loaded before distributing"
counts() {
    c "SELECT (SELECT count(*) FROM saas.organizations) || ' ' || (SELECT count(*) FROM saas.users) || ' ' ||
              (SELECT count(*) FROM saas.tasks) || ' ' || (SELECT count(*) FROM saas.tickets) || ' ' ||
              (SELECT count(*) FROM saas.audit_logs)"
}
before=$(counts)

out=$(c "SELECT * FROM saas.distribute(4)" 2>&1)
rc=$?
ok $rc "SELECT saas.distribute(4) on the coordinator" || echo "$out" | sed 's/^/#   /'
echo "$out" | sed 's/^/#   /'
is "$(counts)" "$before" "no row lost or added by the distribution (organizations users tasks tickets audit_logs)"
# The extension's tables do not show in citus_tables / citus_shards (Citus
# hides tables owned by extensions there): read pg_dist_* instead.
is "$(c "SELECT partmethod::text || repmodel::text FROM pg_dist_partition WHERE logicalrelid = 'saas.organizations'::regclass")" \
    "nt" "organizations is a reference table"
is "$(c "SELECT count(*) || ' tables, ' || count(DISTINCT colocationid) || ' colocation group, ' || min(column_to_column_name(logicalrelid, partkey)) || ', '
                 || min((SELECT count(*) FROM pg_dist_shard s WHERE s.logicalrelid = d.logicalrelid))
          FROM pg_dist_partition d JOIN pg_class c ON c.oid = d.logicalrelid
         WHERE d.partmethod = 'h' AND c.relnamespace = 'saas'::regnamespace AND NOT c.relispartition")" \
    "11 tables, 1 colocation group, organization_id, 4" \
    "the 10 tenant tables and audit_logs are distributed by organization_id, colocated, 4 shards"
is "$(c "SELECT count(*) FROM pg_partition_tree('saas.audit_logs') p JOIN pg_dist_partition d ON d.logicalrelid = p.relid")" \
    "$(c "SELECT count(*) FROM pg_partition_tree('saas.audit_logs')")" "audit_logs' partitions are distributed too"
is "$(c "SELECT count(*) FROM saas.tasks WHERE true" )" "40" "tasks readable through the coordinator (40)"
is "$(c "SELECT count(*) FROM pg_class WHERE relnamespace = 'saas'::regnamespace AND relkind = 'r' AND pg_relation_size(oid) > 0")" "0" \
    "the coordinator's local copies of the rows were removed (pg_dump would dump them)"
shard_triggers() { # shard_triggers NODE TABLE: triggers on the node's shards of TABLE (shards are hidden from pg_class unless asked)
    on "$1" "SET citus.override_table_visibility = off;
             SELECT count(*) || ' on ' || count(DISTINCT c.oid) || ' shards' FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
              WHERE c.relname ~ '^$2_[0-9]+\$' AND NOT t.tgisinternal"
}
is "$(shard_triggers w1 tasks),$(shard_triggers w2 tasks)" "4 on 2 shards,4 on 2 shards" \
    "each worker's 2 tasks shards have the audit, updated_at triggers (2 each)"
is "$(c "SELECT string_agg(result, ',' ORDER BY nodeport) FROM run_command_on_workers(\$\$SELECT count(*) FROM pg_trigger WHERE tgrelid = 'saas.tasks'::regclass AND NOT tgisinternal\$\$)")" \
    "2,2" "the workers' own copies of saas.tasks (their shell tables) kept their 2 triggers, not duplicated"
is "$(c "SELECT count(*) FROM saas.organizations o WHERE o.slug = 'org-1'")" "1" "organizations readable"
err=$(c "INSERT INTO saas.organizations (name, slug) VALUES ('Dup', 'org-1')" 2>&1)
[[ "$err" == *"uq_organizations_slug"* ]]
ok $? "the global slug uniqueness is still enforced (reference table)" || echo "#   $err"
# organizations has no updated_at trigger on a distributed install (README):
# an UPDATE setting updated_at = now() gives every copy the same value.
c "UPDATE saas.organizations SET name = 'Org 1 renamed', updated_at = now() WHERE slug = 'org-1'" >/dev/null
is "$(c "SELECT count(DISTINCT result) || ' value on ' || count(*) || ' copies' FROM run_command_on_placements('saas.organizations', \$\$SELECT updated_at FROM %s WHERE slug = 'org-1'\$\$)")" \
    "1 value on 3 copies" "organizations: updated_at = now() in the UPDATE is the same on every copy of the reference table"
is "$(c "SELECT count(*) FROM pg_trigger WHERE tgrelid = 'saas.organizations'::regclass AND NOT tgisinternal")" "0" \
    "organizations has no audit or updated_at trigger on the coordinator"
again=$(c "SELECT * FROM saas.distribute()" 2>&1)
[ "$again" = "already distributed: nothing to do" ]
ok $? "a second saas.distribute() is a no-op"
err=$(PGHOST="$WORK/w1" PGPORT="${PORT[w1]}" psql -X -q -At -d $DB -v VERBOSITY=verbose -c "SELECT saas.distribute()" 2>&1)
[[ "$err" == *"55000"*"is a Citus worker"* ]]
ok $? "saas.distribute() on a worker is refused (55000)" || echo "#   $err"

# Partition maintenance on the distributed audit_logs: the rows loaded
# before distributing are in the default partition; creating this month's
# partition moves them there (the guard on the shards lets the move through).
total=$(c "SELECT count(*) FROM saas.audit_logs")
out=$(c "SELECT saas.audit_create_partitions(1, 0)" 2>&1)
[[ "$out" == *"saas.audit_create_partitions must be called inside a transaction block"* ]]
ok $? "outside a transaction block, moving rows of the distributed audit_logs is refused with a hint" || echo "#   $out"
parts=$(c "SET client_min_messages = warning; BEGIN; SELECT string_agg(p, ',') FROM saas.audit_create_partitions(1, 0) AS p; COMMIT" 2>&1)
[[ "$parts" == audit_logs_p* ]]
ok $? "saas.audit_create_partitions() on the distributed audit_logs ($parts)" || echo "#   $parts"
is "$(c "SELECT count(*) FROM saas.audit_logs")/$(c "SELECT count(*) FROM saas.audit_logs_default")" "$total/0" \
    "the audit rows moved out of the default partition, none lost"
is "$(c "SELECT count(*) FROM pg_partition_tree('saas.audit_logs') p LEFT JOIN pg_dist_partition d ON d.logicalrelid = p.relid WHERE d.logicalrelid IS NULL")" \
    "0" "the new partitions are distributed"
out=$(c "UPDATE saas.audit_logs SET action = 'DELETE'" 2>&1)
[[ "$out" == *"append-only"* ]]
ok $? "the append-only guard still refuses UPDATE on the shards" || echo "#   $out"

# The application's grants, after distributing (GRANT on Citus tables
# propagates to the shards and to the workers' copies).
c "BEGIN; SET LOCAL citus.multi_shard_modify_mode = 'sequential'; SELECT saas.grant_app_access('saas_app'); COMMIT" >/dev/null
ok $? "saas.grant_app_access() after distributing"

A=$(c "SELECT id FROM saas.organizations WHERE slug = 'org-1'")
B=$(c "SELECT id FROM saas.organizations WHERE slug = 'org-2'")

tenant_checks() { # tenant_checks ORG LABEL
    local org="$1" label="$2" other n out
    other=$(c "SELECT id FROM saas.organizations WHERE id <> '$org' ORDER BY slug LIMIT 1")
    is "$(app "$org" "SELECT count(*) || '/' || count(*) FILTER (WHERE organization_id = '$org') FROM saas.tasks")" \
        "5/5" "$label: RLS on the shards: the tenant sees its 5 tasks and nothing else"
    is "$(app "$org" "SELECT count(*) FROM saas.organizations")" "1" "$label: RLS on the reference table: one organization"
    out=$(app "$org" "INSERT INTO saas.projects (organization_id, name) VALUES ('$other', 'x')" 2>&1)
    [[ "$out" == *"row-level security"* ]]
    ok $? "$label: writing another tenant's row is refused by the policy on the shard" || echo "#   $out"
    # Citus refuses now() in RETURNING; updated_at is the start of the
    # transaction on the node holding the shard.
    out=$(app "$org" "UPDATE saas.tasks SET priority = 5 WHERE title = 't1';
                      SELECT (updated_at >= now() AND updated_at <= clock_timestamp())::text || ' ' || (updated_at > created_at)::text
                        FROM saas.tasks WHERE title = 't1'")
    is "$out" "true true" "$label: updated_at trigger on the shard: updated_at moved to this transaction's time"
    n=$(c "SELECT count(*) FROM saas.audit_logs WHERE organization_id = '$org' AND table_name = 'saas.tasks' AND action = 'UPDATE' AND changed_columns @> '{priority}'")
    is "$n" "1" "$label: the update is audited once, under the logical name saas.tasks and the tenant's organization_id"
    is "$(c "SELECT count(*) FROM saas.audit_logs WHERE table_name ~ '_[0-9]+\$'")" "0" "$label: no audit row names a shard"
    is "$(c "SELECT (SELECT nodeport FROM pg_dist_shard_placement WHERE shardid = get_shard_id_for_distribution_column('saas.audit_logs', '$org'))
                 = (SELECT nodeport FROM pg_dist_shard_placement WHERE shardid = get_shard_id_for_distribution_column('saas.tasks', '$org'))")" \
        "t" "$label: the audit row's shard is on the node of the changed row's shard"
    node=$(c "SELECT nodename || ':' || nodeport FROM pg_dist_shard_placement WHERE shardid = get_shard_id_for_distribution_column('saas.audit_logs', '$org')")
    local wname="" w
    for w in "${NODES[@]}"; do [ "127.0.0.1:${PORT[$w]}" = "$node" ] && wname=$w; done
    is "$(on "$wname" "SET citus.enable_manual_changes_to_shards = on;
            SELECT count(*) FROM (SELECT * FROM saas.audit_logs_$(c "SELECT get_shard_id_for_distribution_column('saas.audit_logs', '$org')")) a
             WHERE organization_id = '$org' AND table_name = 'saas.tasks' AND action = 'UPDATE'")" "1" \
        "$label: the audit row is physically in the local audit_logs shard on $wname"
    # The actor, on the worker that runs the trigger on the shard: set_actor
    # certifies its check on the coordinator's backend only, so the trigger
    # there looks the actor up in the colocated users shard.  Another
    # tenant's user set by hand (SET LOCAL, which Citus propagates) is not
    # recorded, nor is its metadata.
    local actor spoof
    actor=$(c "SELECT id FROM saas.users WHERE organization_id = '$org' AND is_active ORDER BY email LIMIT 1")
    spoof=$(c "SELECT id FROM saas.users WHERE organization_id = '$other' ORDER BY email LIMIT 1")
    app "$org" "SELECT FROM saas.set_actor('$actor', '{\"ip\": \"192.0.2.7\"}');
                UPDATE saas.tasks SET description = 'by set_actor' WHERE title = 't2'" >/dev/null
    is "$(c "SELECT user_id::text || ' ' || metadata::text FROM saas.audit_logs WHERE organization_id = '$org'
              AND table_name = 'saas.tasks' AND new_values->>'description' = 'by set_actor'")" \
        "$actor {\"ip\": \"192.0.2.7\"}" "$label: the trigger on the worker records set_actor's actor and metadata"
    # (Separate statements: Citus propagates a SET LOCAL by its query text.)
    out=$(PGHOST="$WORK/coord" PGPORT="${PORT[coord]}" PGUSER=saas_app psql -X -q -v ON_ERROR_STOP=1 -At -d $DB \
        -c "SET citus.propagate_set_commands = 'local'" -c "BEGIN" -c "SELECT FROM saas.set_tenant('$org')" \
        -c "SET LOCAL app.current_user_id = '$spoof'" -c "SET LOCAL app.request_metadata = '{\"ip\": \"forged\"}'" \
        -c "UPDATE saas.tasks SET description = 'spoofed' WHERE title = 't2'" -c "COMMIT" 2>&1)
    [ -z "$out" ] || echo "$out" | sed 's/^/#   /'
    is "$(c "SELECT coalesce(user_id::text, 'NULL') || ' ' || metadata::text FROM saas.audit_logs WHERE organization_id = '$org'
              AND table_name = 'saas.tasks' AND new_values->>'description' = 'spoofed'")" \
        "NULL {}" "$label: another tenant's user set by hand is recorded as no actor on the worker"
    n=$(app "$org" "INSERT INTO saas.tickets (organization_id, title, created_by_id)
                    SELECT organization_id, 'new', id FROM saas.users ORDER BY email LIMIT 1 RETURNING number")
    is "$n" "3" "$label: ticket-number trigger on the shard: the next number of the tenant"
    out=$(PGHOST="$WORK/coord" PGPORT="${PORT[coord]}" PGUSER=saas_app psql -X -q -At -d $DB \
        -c "SET citus.propagate_set_commands = 'none'" -c "BEGIN" -c "SELECT FROM saas.set_tenant('$org')" \
        -c "SELECT count(*) FROM saas.tasks" -c "COMMIT" 2>&1)
    is "$out" "0" "$label: without citus.propagate_set_commands = 'local' the workers see no tenant: nothing visible (fails closed)"
}
tenant_checks "$A" "2 workers"

# Changing an audit trigger after distributing: saas.enable_audit() drops
# and re-creates it, on the shards and on the workers' copies alike.
out=$(c "BEGIN; SET LOCAL citus.enable_unsafe_triggers = on; SELECT saas.enable_audit('saas.projects', ARRAY['name']); COMMIT" 2>&1)
ok $? "saas.enable_audit() with excluded columns on a distributed table (citus.enable_unsafe_triggers = on)" || echo "$out" | sed 's/^/#   /'
c "UPDATE saas.projects SET name = 'renamed', status = 'on_hold' WHERE organization_id = '$A'" >/dev/null
is "$(c "SELECT changed_columns::text FROM saas.audit_logs WHERE organization_id = '$A' AND table_name = 'saas.projects' AND action = 'UPDATE'")" \
    "{name,status,updated_at}" "the shards use the new trigger: name is recorded by name only"
is "$(c "SELECT count(*) FROM saas.audit_logs WHERE organization_id = '$A' AND table_name = 'saas.projects' AND action = 'UPDATE'
          AND (old_values ? 'name' OR new_values ? 'name')")" "0" "and never by value"
is "$(shard_triggers w1 projects),$(shard_triggers w2 projects)" "4 on 2 shards,4 on 2 shards" \
    "each projects shard still has exactly its 2 triggers"
is "$(c "SELECT string_agg(result, ',' ORDER BY nodeport) FROM run_command_on_workers(\$\$SELECT count(*) FROM pg_trigger WHERE tgrelid = 'saas.projects'::regclass AND NOT tgisinternal\$\$)")" \
    "2,2" "and so do the workers' copies of saas.projects"

# Deleting a tenant (an administrator's job) cascades from the reference
# table to the colocated shards; the cascaded deletes are audited.
D=$(c "SELECT id FROM saas.organizations WHERE slug = 'org-8'")
c "DELETE FROM saas.organizations WHERE id = '$D'" >/dev/null
ok $? "DELETE of an organization on the coordinator"
is "$(c "SELECT (SELECT count(*) FROM saas.users WHERE organization_id = '$D') + (SELECT count(*) FROM saas.tasks WHERE organization_id = '$D') + (SELECT count(*) FROM saas.tickets WHERE organization_id = '$D')")" \
    "0" "its users, tasks and tickets are gone (ON DELETE CASCADE from the reference table)"
is "$(c "SELECT count(*) FROM saas.audit_logs WHERE organization_id = '$D' AND table_name = 'saas.tasks' AND action = 'DELETE'")" \
    "5" "the 5 cascaded task deletes are in its audit log"

# A third worker and a rebalance onto it.
start_node w3
ok $? "node w3 started (port ${PORT[w3]:-?})"
c "SELECT citus_add_node('127.0.0.1', ${PORT[w3]})" >/dev/null
ok $? "w3 added"
# The new worker's copies of the tables come from its own CREATE EXTENSION:
# the application's grants must be given again.
c "BEGIN; SET LOCAL citus.multi_shard_modify_mode = 'sequential'; SELECT saas.grant_app_access('saas_app'); COMMIT" >/dev/null
ok $? "saas.grant_app_access() again after adding the worker"
is "$(on w3 "SELECT extversion FROM pg_extension WHERE extname = 'saas_schema'")" "$NEWEST" \
    "citus_add_node created saas_schema on the new worker"
before_move=$(counts | cut -d' ' -f1-4)
out=$(c "SELECT rebalance_table_shards(shard_transfer_mode => 'block_writes')" 2>&1)
ok $? "rebalance_table_shards() onto the new worker" || echo "$out" | sed 's/^/#   /'
moved=$(c "SELECT count(*) FROM pg_dist_shard_placement p JOIN pg_dist_shard s USING (shardid) JOIN pg_dist_partition d USING (logicalrelid)
            WHERE p.nodeport = ${PORT[w3]} AND d.partmethod = 'h'")
[ "$moved" -gt 0 ]
ok $? "shards moved to w3 ($moved shard placements)"
is "$(counts | cut -d' ' -f1-4)" "$before_move" "no organization, user, task or ticket lost by the rebalance"
# A new tenant whose shards are on w3 (an id that hashes to a shard there).
C=$(c "SELECT u FROM (SELECT gen_random_uuid() AS u FROM generate_series(1, 1000)) AS x
        WHERE (SELECT nodeport FROM pg_dist_shard_placement
                WHERE shardid = get_shard_id_for_distribution_column('saas.tasks', u)) = ${PORT[w3]} LIMIT 1")
[ -n "$C" ] && c "
INSERT INTO saas.organizations (id, name, slug) VALUES ('$C', 'Org C', 'org-c');
INSERT INTO saas.users (organization_id, email, password_hash) SELECT '$C', 'u' || g || '@x.example', 'h' FROM generate_series(1, 2) g;
INSERT INTO saas.projects (organization_id, name) VALUES ('$C', 'p');
INSERT INTO saas.tasks (organization_id, project_id, title) SELECT organization_id, id, 't' || g FROM saas.projects, generate_series(1, 5) g WHERE organization_id = '$C';
INSERT INTO saas.tickets (organization_id, title, created_by_id) SELECT organization_id, 'ticket', id FROM saas.users WHERE organization_id = '$C';" >/dev/null
ok $? "a tenant whose shards are on w3 loaded through the coordinator"
[ -n "$C" ] && tenant_checks "$C" "after rebalance, tenant on w3"

# Extension updates on the distributed install.
dist_before=$(c "SELECT partmethod::text || ' ' || count(*) FROM pg_dist_partition GROUP BY partmethod ORDER BY 1" | tr '\n' ' ')
out=$(c "ALTER EXTENSION saas_schema UPDATE TO '0.2.0'" 2>&1)
ok $? "ALTER EXTENSION saas_schema UPDATE TO '0.2.0' (downgrade) on the distributed install" || echo "$out" | sed 's/^/#   /'
is "$(c "SELECT string_agg(result, ',' ORDER BY nodeport) FROM run_command_on_workers(\$\$SELECT extversion || '/' || (to_regprocedure('saas.distribute(integer)') IS NULL) FROM pg_extension WHERE extname = 'saas_schema'\$\$)")" \
    "0.2.0/true,0.2.0/true,0.2.0/true" "the downgrade ran on every worker: 0.2.0, no saas.distribute"
# A script that changes tables (0.2.0 -> 0.1.0 drops tickets.number) on
# distributed tables: what happens.
out=$(c "ALTER EXTENSION saas_schema UPDATE TO '0.1.0'" 2>&1)
rc=$?
echo "# ALTER EXTENSION UPDATE TO '0.1.0' (exit $rc):"
echo "$out" | sed 's/^/#     /'
out=$(c "SET citus.enable_unsafe_triggers = on; SET citus.multi_shard_modify_mode = 'sequential'; ALTER EXTENSION saas_schema UPDATE TO '0.1.0'" 2>&1)
rc=$?
echo "# the same with citus.enable_unsafe_triggers = on (exit $rc):"
echo "$out" | sed 's/^/#     /'
is "$(c "SELECT extversion FROM pg_extension WHERE extname = 'saas_schema'")/$(c "SELECT string_agg(result, ',' ORDER BY nodeport) FROM run_command_on_workers(\$\$SELECT extversion FROM pg_extension WHERE extname = 'saas_schema'\$\$)")" \
    "0.2.0/0.2.0,0.2.0,0.2.0" "a table-changing update script (0.2.0 -> 0.1.0) on the distributed install fails and rolls back on every node"
out=$(c "ALTER EXTENSION saas_schema UPDATE TO '$NEWEST'" 2>&1)
ok $? "ALTER EXTENSION saas_schema UPDATE TO '$NEWEST' (upgrade) on the distributed install" || echo "$out" | sed 's/^/#   /'
is "$(c "SELECT string_agg(result, ',' ORDER BY nodeport) FROM run_command_on_workers(\$\$SELECT extversion FROM pg_extension WHERE extname = 'saas_schema'\$\$)")" \
    "$NEWEST,$NEWEST,$NEWEST" "the upgrade ran on every worker"
is "$(c "SELECT partmethod::text || ' ' || count(*) FROM pg_dist_partition GROUP BY partmethod ORDER BY 1" | tr '\n' ' ')" \
    "$dist_before" \
    "the tables stay distributed across the downgrade and upgrade"
is "$(app "$B" "UPDATE saas.tasks SET priority = 4 WHERE title = 't2' RETURNING organization_id")" "$B" "DML works after the round trip"
is "$(c "SELECT count(*) FROM saas.audit_logs WHERE organization_id = '$B' AND changed_columns @> '{priority}'")" "1" "and is audited"

done_testing
