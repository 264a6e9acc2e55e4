#!/usr/bin/env bash
# saas_schema on Citus: a coordinator and two workers on 127.0.0.1, the
# extension created on the coordinator (the workers get its functions, not
# tables of their own), saas.distribute(), then tenant isolation, audit,
# updated_at and ticket numbers checked through the coordinator, the workers'
# tables (Citus' shell tables) compared with the coordinator's, and a dump of
# the coordinator checked for stale rows; a third worker is added and the
# shards rebalanced onto it, and the checks run again for a tenant whose
# shards moved there; the extension is downgraded and upgraded on the
# distributed install.  Then two clusters that ran 0.4.0 (its released
# install script), one distributed under 0.4.0 and one not, are updated to
# the newest version, and a worker is added to the first.
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
RELEASED_SCRIPT=""  # a released install script this test put into $extdir
cleanup() {
    local n
    for n in "${NODES[@]}"; do cluster_stop "$WORK/$n"; done
    rm -rf "$WORK"
    if [ -n "$RELEASED_SCRIPT" ]; then rm -f "$RELEASED_SCRIPT" 2>/dev/null || maybe_sudo rm -f "$RELEASED_SCRIPT"; fi
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
    create_db "$name" $DB
}
create_db() { # create_db NODE DB: a database with the citus extension
    psql -X -q -h "$WORK/$1" -p "${PORT[$1]}" -d postgres -c "CREATE DATABASE $2" >/dev/null &&
        psql -X -q -h "$WORK/$1" -p "${PORT[$1]}" -d "$2" -c "SET client_min_messages = warning" \
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
# on_workers SQL: SQL's result on each worker, comma-separated in port order.
on_workers() {
    c "SELECT string_agg(result, ',' ORDER BY nodeport) FROM run_command_on_workers(\$\$$*\$\$)"
}
# stray NODE: the relations and types of schema saas on NODE that Citus does
# not manage (not a Citus table, shard or distributed object): copies made by
# CREATE EXTENSION would be these.
stray() {
    on "$1" "SELECT (SELECT count(*) FROM pg_class AS c
                      WHERE c.relnamespace = to_regnamespace('saas') AND c.relkind IN ('r', 'p', 'v')
                        AND NOT EXISTS (SELECT FROM pg_dist_partition AS p WHERE p.logicalrelid = c.oid)
                        AND NOT EXISTS (SELECT FROM pg_dist_object AS o WHERE o.classid = 'pg_class'::regclass AND o.objid = c.oid)
                        AND NOT relation_is_a_known_shard(c.oid))
                  + (SELECT count(*) FROM pg_type AS t
                      WHERE t.typnamespace = to_regnamespace('saas') AND t.typtype IN ('e', 'c', 'd') AND t.typrelid = 0
                        AND NOT EXISTS (SELECT FROM pg_dist_object AS o WHERE o.classid = 'pg_type'::regclass AND o.objid = t.oid))"
}
# members NODE: the relations and types of schema saas that belong to extension saas_schema on NODE.
members() {
    on "$1" "SELECT count(*) FROM pg_depend AS d
              WHERE d.deptype = 'e' AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'saas_schema')
                AND ((d.classid = 'pg_class'::regclass AND (SELECT relnamespace FROM pg_class WHERE oid = d.objid) = 'saas'::regnamespace
                      AND (SELECT relname FROM pg_class WHERE oid = d.objid) !~ '^_')
                     OR (d.classid = 'pg_type'::regclass AND (SELECT typnamespace FROM pg_type WHERE oid = d.objid) = 'saas'::regnamespace))"
}
# table_shape NODE: every table of schema saas (not the shards) with its
# triggers, constraints, policies, row security and grants.
table_shape() {
    on "$1" "SELECT c.relname || ' ' || concat_ws(' / ',
                 (SELECT string_agg(t.tgname || CASE t.tgenabled WHEN 'D' THEN '(disabled)' ELSE '' END, ',' ORDER BY t.tgname)
                    FROM pg_trigger AS t WHERE t.tgrelid = c.oid AND NOT t.tgisinternal),
                 (SELECT string_agg(k.conname, ',' ORDER BY k.conname) FROM pg_constraint AS k WHERE k.conrelid = c.oid),
                 (SELECT string_agg(p.polname, ',' ORDER BY p.polname) FROM pg_policy AS p WHERE p.polrelid = c.oid),
                 'rls ' || c.relrowsecurity || ' forced ' || c.relforcerowsecurity, c.relacl::text)
               FROM pg_class AS c
              WHERE c.relnamespace = 'saas'::regnamespace AND c.relkind IN ('r', 'p') AND NOT relation_is_a_known_shard(c.oid)
              ORDER BY c.relname"
}
# view_grants NODE: the views of schema saas with their grants.
view_grants() {
    on "$1" "SELECT string_agg(c.relname || '=' || coalesce(c.relacl::text, '-'), ' ' ORDER BY c.relname)
               FROM pg_class AS c WHERE c.relnamespace = 'saas'::regnamespace AND c.relkind = 'v'"
}
# load_tenants: 8 tenants, each with 2 users, a project, 5 tasks and 2 tickets.
load_tenants() {
    c "
INSERT INTO saas.organizations (name, slug) SELECT 'Org ' || g, 'org-' || g FROM generate_series(1, 8) g;
INSERT INTO saas.users (organization_id, email, password_hash)
SELECT o.id, 'u' || g || '@x.example', 'h' FROM saas.organizations o, generate_series(1, 2) g;
INSERT INTO saas.projects (organization_id, name) SELECT id, 'p' FROM saas.organizations;
INSERT INTO saas.tasks (organization_id, project_id, title)
SELECT organization_id, id, 't' || g FROM saas.projects, generate_series(1, 5) g;
INSERT INTO saas.tickets (organization_id, title, created_by_id)
SELECT organization_id, 'ticket', id FROM saas.users;" >/dev/null
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
    "$NEWEST,$NEWEST" "CREATE EXTENSION was propagated: both workers have saas_schema $NEWEST"
is "$(on_workers "SELECT count(*) FROM pg_proc WHERE pronamespace = 'saas'::regnamespace")" \
    "$(c "SELECT count(*) FROM pg_proc WHERE pronamespace = 'saas'::regnamespace"),$(c "SELECT count(*) FROM pg_proc WHERE pronamespace = 'saas'::regnamespace")" \
    "the workers have the extension's functions, as many as the coordinator"
is "$(on_workers "SELECT count(*) || ' relations, type ' || coalesce(to_regtype('saas.ticket_status')::text, 'none') FROM pg_class WHERE relnamespace = 'saas'::regnamespace")" \
    "0 relations, type none,0 relations, type none" \
    "the workers have no tables, views or type of their own: CREATE EXTENSION leaves them to Citus there"
is "$(c "SELECT count(*) FROM pg_class WHERE relnamespace = 'saas'::regnamespace AND relkind IN ('r', 'p')")" "13" \
    "the coordinator has the 13 tables (12 and the default audit partition)"
# A downgrade to 0.4.0 needs copies of the tables on the workers, which
# 0.5.0 leaves to Citus: before distributing, it is refused with a reason.
out=$(c "ALTER EXTENSION saas_schema UPDATE TO '0.4.0'" 2>&1)
[[ "$out" == *"saas_schema 0.4.0 needs its tables on every Citus worker"*"HINT:  Downgrade a Citus cluster only after saas.distribute()"* ]]
ok $? "before distributing, a downgrade to 0.4.0 is refused with a reason (the workers have no tables to take back)" || echo "$out" | sed 's/^/#   /'
is "$(c "SELECT extversion FROM pg_extension WHERE extname = 'saas_schema'")/$(on_workers "SELECT extversion FROM pg_extension WHERE extname = 'saas_schema'")" \
    "$NEWEST/$NEWEST,$NEWEST" "and rolled back on every node"

# The application role (CREATE ROLE propagates to the workers).
c "SET client_min_messages = warning; CREATE ROLE saas_app LOGIN" >/dev/null
ok $? "application role created"

# Data before distributing: 8 tenants.
load_tenants
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
is "$(c "SELECT partmethod::text || repmodel::text FROM pg_dist_partition WHERE logicalrelid = 'saas.organizations'::regclass")" \
    "nt" "organizations is a reference table"
# Since 0.5.0 the tables are not the extension's, and Citus lists them.
is "$(c "SELECT count(*) FROM citus_tables WHERE table_name::text LIKE 'saas.%'")" "13" \
    "citus_tables lists the 13 tables (Citus hid them while they belonged to the extension)"
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
    "the coordinator's own storage of the tables is empty: the rows are in the shards only"
shard_triggers() { # shard_triggers NODE TABLE: triggers on the node's shards of TABLE (shards are hidden from pg_class unless asked)
    on "$1" "SET citus.override_table_visibility = off;
             SELECT count(*) || ' on ' || count(DISTINCT c.oid) || ' shards' FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
              WHERE c.relname ~ '^$2_[0-9]+\$' AND NOT t.tgisinternal"
}
is "$(shard_triggers w1 tasks),$(shard_triggers w2 tasks)" "4 on 2 shards,4 on 2 shards" \
    "each worker's 2 tasks shards have the audit, updated_at triggers (2 each)"
is "$(c "SELECT string_agg(result, ',' ORDER BY nodeport) FROM run_command_on_workers(\$\$SELECT count(*) FROM pg_trigger WHERE tgrelid = 'saas.tasks'::regclass AND NOT tgisinternal\$\$)")" \
    "2,2" "the workers' saas.tasks (their shell tables, made by Citus) have the 2 triggers, once"
coord_shape=$(table_shape coord)
is "$(table_shape w1)" "$coord_shape" "w1's tables are the coordinator's: triggers, constraints, policies, row security, grants"
is "$(table_shape w2)" "$coord_shape" "w2's tables are the coordinator's: triggers, constraints, policies, row security, grants"
is "$(stray w1),$(stray w2)" "0,0" "the workers hold no stray ordinary copies: every saas table, view and type there is Citus'"
is "$(members coord),$(members w1),$(members w2)" "0,0,0" "no table, view or type belongs to the extension on any node"
is "$(on_workers "SELECT count(*) FROM pg_class WHERE relnamespace = 'saas'::regnamespace AND relkind = 'v'")" "5,5" \
    "Citus created the 5 views on the workers (views on distributed tables)"
# pg_dump of the coordinator after distributing: Citus answers its COPY from
# the shards, so every row is dumped once, and none a second time from the
# coordinator's own (emptied) storage.
live_rows() {
    c "SELECT sum((xpath('/row/n/text()', query_to_xml(format('SELECT count(*) AS n FROM ONLY %s', c.oid::regclass), false, true, '')))[1]::text::bigint)
         FROM pg_class AS c WHERE c.relnamespace = 'saas'::regnamespace AND c.relkind = 'r'"
}
dump_rows() {
    "$PGBIN/pg_dump" -h "$WORK/coord" -p "${PORT[coord]}" -U postgres -d $DB --schema=saas 2>"$WORK/pg_dump.err" >"$WORK/dump.sql" &&
        [ ! -s "$WORK/pg_dump.err" ] &&
        awk '/^COPY /{inside=1; copies++; next} /^\\\.$/{inside=0; next} inside{rows++} END{print copies+0 " tables, " rows+0 " rows"}' "$WORK/dump.sql"
    sed 's/^/#   /' "$WORK/pg_dump.err"
}
is "$(dump_rows)" "12 tables, $(live_rows) rows" \
    "pg_dump of the coordinator's schema saas, without error: each of the $(live_rows) rows once (read from the shards), no stale copy"
grep -q '^CREATE TABLE saas.tasks' "$WORK/dump.sql" && ! grep -qi 'citus\|create_distributed_table' "$WORK/dump.sql"
ok $? "the dump has the tables' definitions and nothing of Citus"
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
is "$(on w3 "SELECT extversion FROM pg_extension WHERE extname = 'saas_schema'")" "$NEWEST" \
    "citus_add_node created saas_schema on the new worker"
# Its tables come from Citus, made from the coordinator's: the same
# triggers, constraints, policies, row security and grants.
is "$(table_shape w3)" "$(table_shape coord)" "w3's tables are the coordinator's (grants included), before any grant_app_access() again"
is "$(stray w3)/$(members w3)" "0/0" "w3 holds no stray copies of the tables (its CREATE EXTENSION left them to Citus)"
echo "# w3's views before grant_app_access() again: $(view_grants w3)"
# Citus creates the views on the new worker without their grants: give the
# application's grants again.
c "BEGIN; SET LOCAL citus.multi_shard_modify_mode = 'sequential'; SELECT saas.grant_app_access('saas_app'); COMMIT" >/dev/null
ok $? "saas.grant_app_access() again after adding the worker"
is "$(view_grants w3)" "$(view_grants w1)" "w3's views have the application's grants, as on w1"
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

# Extension updates on the distributed install.  Citus runs ALTER EXTENSION
# UPDATE on every worker too.  0.5.0 -> 0.4.0 makes the tables extension
# members again on every node (the workers' shell tables included), and
# 0.4.0 -> 0.5.0 hands them over again: membership only, plus functions.
dist_before=$(c "SELECT partmethod::text || ' ' || count(*) FROM pg_dist_partition GROUP BY partmethod ORDER BY 1" | tr '\n' ' ')
out=$(c "ALTER EXTENSION saas_schema UPDATE TO '0.4.0'" 2>&1)
ok $? "ALTER EXTENSION saas_schema UPDATE TO '0.4.0' (downgrade) on the distributed install" || echo "$out" | sed 's/^/#   /'
is "$(on_workers "SELECT extversion FROM pg_extension WHERE extname = 'saas_schema'")" "0.4.0,0.4.0,0.4.0" "the downgrade ran on every worker"
is "$(members coord),$(members w1),$(members w2),$(members w3)" "19,19,19,19" \
    "0.4.0: the 13 tables, 5 views and the type are extension members again on every node"
# The monthly audit partitions' row-level security (0.5.0 gives them the
# parent's, 0.4.0 had none): on the coordinator, the workers' shell tables
# and the shards alike.  Distinct "rls forced:policies" states of
# audit_logs_pYYYYMM and its shards on NODE.
partition_rls() {
    on "$1" "SET citus.override_table_visibility = off;
             SELECT count(*) || ' ' || string_agg(DISTINCT c.relrowsecurity::int::text || c.relforcerowsecurity::int::text || ':'
                                                  || (SELECT count(*) FROM pg_policy AS p WHERE p.polrelid = c.oid), ',')
               FROM pg_class AS c WHERE c.relnamespace = 'saas'::regnamespace AND c.relname ~ '^audit_logs_p[0-9]{6}'"
}
is "$(partition_rls coord | cut -d' ' -f2)/$(partition_rls w1 | cut -d' ' -f2)/$(partition_rls w3 | cut -d' ' -f2)" "00:0/00:0/00:0" \
    "0.4.0: the monthly audit partitions have no row-level security, on the coordinator, the shell tables and the shards"
priority_audits() { # priority_audits ORG TITLE: audit rows of priority changes of the tenant's task TITLE
    c "SELECT count(*) FROM saas.audit_logs WHERE organization_id = '$1' AND changed_columns @> '{priority}'
          AND record_id = (SELECT id FROM saas.tasks WHERE organization_id = '$1' AND title = '$2')"
}
is "$(app "$B" "UPDATE saas.tasks SET priority = 2 WHERE title = 't3' RETURNING organization_id")/$(priority_audits "$B" t3)" \
    "$B/1" "0.4.0: DML works and is audited"
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
is "$(members coord),$(members w1),$(members w2),$(members w3)" "0,0,0,0" \
    "after the round trip no table, view or type belongs to the extension on any node"
is "$(partition_rls coord | cut -d' ' -f2)/$(partition_rls w1 | cut -d' ' -f2)/$(partition_rls w3 | cut -d' ' -f2)" "11:1/11:1/11:1" \
    "$NEWEST: the monthly audit partitions have the parent's row-level security again, on the coordinator, the shell tables and the shards ($(partition_rls w1 | cut -d' ' -f1) relations on w1)"
is "$(c "SELECT evtenabled FROM pg_event_trigger WHERE evtname = 'saas_schema_ddl_command_start'")/$(on_workers "SELECT evtenabled FROM pg_event_trigger WHERE evtname = 'saas_schema_ddl_command_start'")" \
    "A/A,A,A" "the event trigger is back, enabled always, on every node"
coord_shape=$(table_shape coord)
is "$(table_shape w1)|$(table_shape w3)" "$coord_shape|$coord_shape" "the workers' tables are still the coordinator's"
is "$(stray w1),$(stray w2),$(stray w3)" "0,0,0" "and no worker holds stray copies"
is "$(app "$B" "UPDATE saas.tasks SET priority = 4 WHERE title = 't2' RETURNING organization_id")" "$B" "DML works after the round trip"
is "$(priority_audits "$B" t2)" "1" "and is audited"

# Clusters that ran 0.4.0, installed from its released script: the update to
# the newest version, on a distributed install and on one not distributed.
RELEASED_SCRIPT="$extdir/saas_schema--0.4.0.sql"
if [ -e "$RELEASED_SCRIPT" ]; then
    RELEASED_SCRIPT=""  # not ours: leave it, and use it
else
    perl -I"$REPO_ROOT/test/perl" -MSaasReleased -e 'my %t = SaasReleased::scripts(); print $t{"0.4.0"}' >"$WORK/released.sql" &&
        { cp "$WORK/released.sql" "$RELEASED_SCRIPT" 2>/dev/null || maybe_sudo cp "$WORK/released.sql" "$RELEASED_SCRIPT"; }
fi
ok $? "the released 0.4.0 install script installed next to the newest scripts"
# cluster_db DB: a database with citus on every node, w1 and w2 added.
cluster_db() {
    local n
    for n in coord w1 w2; do create_db $n "$1" || return 1; done
    DB="$1" c "SELECT citus_set_coordinator_host('127.0.0.1', ${PORT[coord]})" >/dev/null &&
        DB="$1" c "SELECT citus_add_node('127.0.0.1', ${PORT[w1]})" >/dev/null &&
        DB="$1" c "SELECT citus_add_node('127.0.0.1', ${PORT[w2]})" >/dev/null
}

# 1. Distributed with 0.4.0's saas.distribute(), then updated; then a worker
#    is added.
DB=saas_citus_from04
cluster_db $DB && c "SET client_min_messages = warning; CREATE EXTENSION saas_schema VERSION '0.4.0' CASCADE" >/dev/null
ok $? "0.4.0 created on a coordinator with workers w1 and w2 (database $DB)"
is "$(members w1),$(members w2)" "19,19" "0.4.0: each worker has its own member copies of the tables"
load_tenants && out=$(c "SELECT * FROM saas.distribute(4)" 2>&1) &&
    c "BEGIN; SET LOCAL citus.multi_shard_modify_mode = 'sequential'; SELECT saas.grant_app_access('saas_app'); COMMIT" >/dev/null
ok $? "8 tenants loaded and distributed by 0.4.0's saas.distribute()" || echo "$out" | sed 's/^/#   /'
before=$(counts)
out=$(c "ALTER EXTENSION saas_schema UPDATE" 2>&1)
ok $? "ALTER EXTENSION saas_schema UPDATE from 0.4.0 on the distributed install" || echo "$out" | sed 's/^/#   /'
is "$(c "SELECT extversion FROM pg_extension WHERE extname = 'saas_schema'")/$(on_workers "SELECT extversion FROM pg_extension WHERE extname = 'saas_schema'")" \
    "$NEWEST/$NEWEST,$NEWEST" "every node is on $NEWEST"
is "$(members coord),$(members w1),$(members w2)" "0,0,0" "no table, view or type belongs to the extension on any node"
is "$(on_workers "SELECT count(*) FROM pg_class AS c WHERE c.relnamespace = 'saas'::regnamespace AND c.relkind IN ('r', 'p', 'v') AND NOT relation_is_a_known_shard(c.oid)")" "18,18" \
    "the workers kept their copies: they are Citus' shell tables of the distributed tables (13 tables, 5 views)"
is "$(c "SELECT count(*) FROM pg_dist_object WHERE pg_describe_object(classid, objid, objsubid) ~ ' saas\.'")" "19" \
    "the tables, views and type are Citus distributed objects now (Citus left them out while the extension owned them)"
is "$(counts)" "$before" "no row lost or added by the update"
create_db w3 $DB && out=$(c "SELECT citus_add_node('127.0.0.1', ${PORT[w3]})" 2>&1)
ok $? "w3 added after the update" || echo "$out" | sed 's/^/#   /'
is "$(table_shape w3)" "$(table_shape coord)" "w3's tables (made by Citus) are the coordinator's"
is "$(stray w3)/$(members w3)" "0/0" "w3 holds no stray copies"
c "BEGIN; SET LOCAL citus.multi_shard_modify_mode = 'sequential'; SELECT saas.grant_app_access('saas_app'); COMMIT" >/dev/null &&
    out=$(c "SELECT rebalance_table_shards(shard_transfer_mode => 'block_writes')" 2>&1)
ok $? "grant_app_access() again and rebalance_table_shards() onto w3" || echo "$out" | sed 's/^/#   /'
E=$(c "SELECT o.id FROM saas.organizations AS o
        WHERE (SELECT nodeport FROM pg_dist_shard_placement
                WHERE shardid = get_shard_id_for_distribution_column('saas.tasks', o.id)) = ${PORT[w3]} ORDER BY o.slug LIMIT 1")
[ -n "$E" ]
ok $? "a tenant loaded under 0.4.0 now has its shards on w3"
[ -n "$E" ] && tenant_checks "$E" "from 0.4.0, tenant moved to w3"

# 2. Not distributed under 0.4.0: the workers' copies are in the way of the
#    shell tables Citus makes; the update drops them (empty ones only).
DB=saas_citus_from04_local
cluster_db $DB && c "SET client_min_messages = warning; CREATE EXTENSION saas_schema VERSION '0.4.0' CASCADE" >/dev/null &&
    load_tenants && c "BEGIN; SET LOCAL citus.multi_shard_modify_mode = 'sequential'; SELECT saas.grant_app_access('saas_app'); COMMIT" >/dev/null
ok $? "0.4.0 created on a coordinator with workers w1 and w2 and loaded, not distributed (database $DB)"
on w1 "SET session_replication_role = replica; INSERT INTO saas.organizations (name, slug) VALUES ('On a worker', 'on-w1')" >/dev/null
out=$(c "ALTER EXTENSION saas_schema UPDATE" 2>&1)
[[ "$out" == *"saas.organizations on this Citus worker (group "*") is an ordinary table with rows"* ]]
ok $? "a worker's copy with rows written to it directly stops the update, with a reason" || echo "$out" | sed 's/^/#   /'
is "$(c "SELECT extversion FROM pg_extension WHERE extname = 'saas_schema'")/$(on_workers "SELECT extversion FROM pg_extension WHERE extname = 'saas_schema'")" \
    "0.4.0/0.4.0,0.4.0" "and it rolled back on every node"
on w1 "SET session_replication_role = replica; DELETE FROM saas.organizations WHERE slug = 'on-w1'" >/dev/null
before=$(counts)
out=$(c "ALTER EXTENSION saas_schema UPDATE" 2>&1)
ok $? "ALTER EXTENSION saas_schema UPDATE from 0.4.0 once the copies are empty" || echo "$out" | sed 's/^/#   /'
is "$(on_workers "SELECT extversion || ', ' || count(c.oid) || ' relations, type ' || coalesce(to_regtype('saas.ticket_status')::text, 'none')
                    FROM pg_extension AS e LEFT JOIN pg_class AS c ON c.relnamespace = 'saas'::regnamespace
                   WHERE e.extname = 'saas_schema' GROUP BY extversion")" \
    "$NEWEST, 0 relations, type none,$NEWEST, 0 relations, type none" \
    "the workers are on $NEWEST without the copies, as after a fresh CREATE EXTENSION"
out=$(c "SELECT * FROM saas.distribute(4)" 2>&1)
ok $? "saas.distribute() after the update" || echo "$out" | sed 's/^/#   /'
is "$(counts)" "$before" "no row lost or added by the update and the distribution"
is "$(table_shape w1)|$(table_shape w2)" "$(table_shape coord)|$(table_shape coord)" "the workers' tables are the coordinator's"
is "$(stray w1),$(stray w2)" "0,0" "and they hold no stray copies"
c "BEGIN; SET LOCAL citus.multi_shard_modify_mode = 'sequential'; SELECT saas.grant_app_access('saas_app'); COMMIT" >/dev/null
F=$(c "SELECT id FROM saas.organizations WHERE slug = 'org-3'")
tenant_checks "$F" "from 0.4.0 not distributed"

done_testing
