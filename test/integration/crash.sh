#!/usr/bin/env bash
# Crash safety of the audited write path.  Its own cluster with fsync,
# synchronous_commit and full_page_writes ON.  A pgbench write load (every
# transaction updates a task and inserts a comment, both carrying a unique
# marker, and logs the marker into crash_log in the SAME transaction, so
# committed == logged) is interrupted by kill -9 of a backend (the postmaster
# reinitializes) and by kill -9 of the postmaster and all its children
# (restarted with pg_ctl start: crash recovery).  Rounds: SAAS_CRASH_ROUNDS,
# else 2 (short mode) / 8 (long mode); each round is one backend kill and
# one postmaster kill.  After the last recovery:
#   * every logged transaction has exactly one audit row for its task update
#     and one for its comment insert, and no audit row, comment or title
#     carries a marker that is not logged (nothing uncommitted survived);
#   * every transaction pgbench saw committed is there (durability);
#   * each task's current title is the one its newest audit row recorded;
#   * contrib amcheck: bt_index_check(heapallindexed) on every btree index of
#     schema saas (audit partitions included) and of crash_log, and
#     verify_heapam on every table: no corruption.
set -uo pipefail
source "$(dirname "$0")/../lib.sh"
source "$REPO_ROOT/scripts/pgenv.sh"
if [ -n "${SAAS_CRASH_ROUNDS:-}" ]; then ROUNDS=$SAAS_CRASH_ROUNDS
elif [ "${SAAS_TEST_MODE:-short}" = long ]; then ROUNDS=8
else ROUNDS=2; fi
LOAD_SECONDS=4
CLIENTS=6
DB=saas_crash
WORK="$(mktemp -d /tmp/saas-crash.XXXXXX)"
chmod 755 "$WORK"
C="$WORK/cluster"
PGBENCH_PID=""
cleanup() {
    [ -n "$PGBENCH_PID" ] && kill "$PGBENCH_PID" 2>/dev/null
    cluster_stop "$C"
    rm -rf "$WORK"
}
trap cleanup EXIT

cluster_start "$C" "$(free_port 55800)" "fsync = on" "synchronous_commit = on" "full_page_writes = on" \
    "restart_after_crash = on"
ok $? "own cluster started" || { done_testing; exit 1; }
LOG="$C/server.log"
is "$(q postgres "SELECT current_setting('fsync') || current_setting('synchronous_commit') || current_setting('full_page_writes')")" \
    "ononon" "fsync, synchronous_commit and full_page_writes are on"

psql -X -q -d postgres -c "CREATE DATABASE $DB"
psql -X -q -v ON_ERROR_STOP=1 -d $DB >/dev/null <<'SQL'
SET client_min_messages = warning;
CREATE EXTENSION saas_schema CASCADE;
CREATE EXTENSION amcheck;
INSERT INTO saas.organizations (name, slug) VALUES ('Crash', 'crash');
INSERT INTO saas.users (organization_id, email, password_hash) SELECT id, 'u@crash.example', 'h' FROM saas.organizations;
INSERT INTO saas.projects (organization_id, name) SELECT id, 'p' FROM saas.organizations;
CREATE TABLE crash_hot (n int PRIMARY KEY, org uuid NOT NULL, task_id uuid NOT NULL, author_id uuid NOT NULL);
WITH t AS (INSERT INTO saas.tasks (organization_id, project_id, title)
           SELECT organization_id, id, 'task ' || g FROM saas.projects, generate_series(1, 20) g
           RETURNING organization_id, id, title)
INSERT INTO crash_hot SELECT row_number() OVER (ORDER BY title), organization_id, id,
       (SELECT id FROM saas.users) FROM t;
CREATE SEQUENCE crash_seq;
CREATE TABLE crash_log (marker bigint PRIMARY KEY, task_n int NOT NULL, logged_at timestamptz DEFAULT clock_timestamp());
SQL
ok $? "database prepared (audit on every tenant table: $(q $DB "SELECT count(*) FROM pg_trigger WHERE tgname = 'saas_audit'") audit triggers)"

cat >"$WORK/load.sql" <<'SQL'
\set n random(1, 20)
BEGIN;
SELECT saas.set_tenant(org) FROM crash_hot WHERE n = :n;
SELECT nextval('crash_seq') AS m \gset
UPDATE saas.tasks t SET title = 'crash ' || :m, priority = 1 + t.priority % 5
  FROM crash_hot h WHERE h.n = :n AND t.organization_id = h.org AND t.id = h.task_id;
INSERT INTO saas.task_comments (organization_id, task_id, author_id, body)
  SELECT org, task_id, author_id, 'crash ' || :m FROM crash_hot WHERE n = :n;
INSERT INTO crash_log (marker, task_n) VALUES (:m, :n);
COMMIT;
SQL

ACKED=0
CRASHES=0
start_load() {
    "$PGBIN/pgbench" -n -d $DB -c $CLIENTS -j 2 -T 60 -f "$WORK/load.sql" >"$WORK/pgbench.$1.out" 2>&1 &
    PGBENCH_PID=$!
    # Wait until the load is really running (bounded).
    for _ in $(seq 1 50); do
        [ "$(q $DB "SELECT count(*) FROM crash_log" 2>/dev/null || echo 0)" -gt 50 ] && break
        sleep 0.2
    done
    sleep "$LOAD_SECONDS"
}
finish_load() { # collects the transactions pgbench saw committed
    wait "$PGBENCH_PID"
    PGBENCH_PID=""
    local n
    n=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' "$WORK/pgbench.$1.out")
    ACKED=$((ACKED + ${n:-0}))
    echo "# round $1: pgbench saw ${n:-0} commits; $(grep -cE 'terminat|server closed|could not' "$WORK/pgbench.$1.out") client error lines"
}
wait_ready() {
    for _ in $(seq 1 120); do
        pg_isready -q && q $DB "SELECT 1" >/dev/null 2>&1 && return 0
        sleep 0.5
    done
    return 1
}

for r in $(seq 1 "$ROUNDS"); do
    # 1. kill -9 a backend in the middle of the load: the postmaster kills
    #    the other backends and reinitializes (crash recovery).
    pm=$(head -1 "$C/data/postmaster.pid")
    start_load "$r-backend"
    victim=$(q $DB "SELECT pid FROM pg_stat_activity WHERE datname = '$DB' AND application_name = 'pgbench'
                     AND pid <> pg_backend_pid() ORDER BY random() LIMIT 1")
    [ -n "$victim" ] && kill -9 "$victim"
    ok $? "round $r: kill -9 backend $victim during the load"
    finish_load "$r-backend"
    wait_ready
    ok $? "round $r: server back after the backend crash"
    is "$(head -1 "$C/data/postmaster.pid")" "$pm" "round $r: same postmaster (it reinitialized, did not die)"
    CRASHES=$((CRASHES + 1))

    # 2. kill -9 the postmaster and its children (as a power cut would),
    #    then pg_ctl start: crash recovery from WAL.
    start_load "$r-postmaster"
    pm=$(head -1 "$C/data/postmaster.pid")
    children=$(pgrep -P "$pm" | tr '\n' ' ')
    kill -9 "$pm"
    ok $? "round $r: kill -9 postmaster $pm during the load"
    # shellcheck disable=SC2086
    [ -n "$children" ] && kill -9 $children 2>/dev/null
    for _ in $(seq 1 100); do
        alive=0
        for p in $pm $children; do kill -0 "$p" 2>/dev/null && alive=1; done
        [ $alive -eq 0 ] && break
        sleep 0.1
    done
    finish_load "$r-postmaster"
    as_pg_owner "$PGBIN/pg_ctl" -D "$C/data" -l "$LOG" -w -t 120 start >"$WORK/pg_ctl.out" 2>&1
    ok $? "round $r: pg_ctl start after the postmaster was killed" || tail -20 "$WORK/pg_ctl.out" "$LOG" | sed 's/^/#   /'
    wait_ready
    ok $? "round $r: recovered and accepting connections"
    CRASHES=$((CRASHES + 1))
done

recoveries=$(grep -c "database system was not properly shut down; automatic recovery in progress" "$LOG")
[ "$recoveries" -ge $((2 * ROUNDS)) ]
ok $? "the server log shows $recoveries crash recoveries (>= $((2 * ROUNDS)))"
is "$(grep -cE 'PANIC|TRAP:' "$LOG")" 0 "no PANIC or assertion in the server log"

committed=$(q $DB "SELECT count(*) FROM crash_log")
[ "$committed" -ge "$ACKED" ] && [ "$ACKED" -gt 0 ]
ok $? "durability: all $ACKED transactions pgbench saw committed are logged ($committed logged)"
[ "$committed" -le $((ACKED + CLIENTS * CRASHES)) ]
ok $? "at most one in-flight commit per client per crash is logged but unacknowledged ($((committed - ACKED)))"

# Markers in audit rows: the task update's new title, the comment's body.
out=$(psql -X -q -At -d $DB <<'SQL'
CREATE TEMP TABLE a AS
SELECT (regexp_match(coalesce(new_values->>'title', new_values->>'body'), '^crash ([0-9]+)$'))[1]::bigint AS m,
       table_name, action
  FROM saas.audit_logs WHERE table_name IN ('saas.tasks', 'saas.task_comments');
CREATE TEMP TABLE per AS
SELECT m, count(*) FILTER (WHERE table_name = 'saas.tasks' AND action = 'UPDATE') AS task_updates,
       count(*) FILTER (WHERE table_name = 'saas.task_comments' AND action = 'INSERT') AS comment_inserts,
       count(*) AS total
  FROM a WHERE m IS NOT NULL GROUP BY m;
CREATE TEMP TABLE cm AS
SELECT (regexp_match(body, '^crash ([0-9]+)$'))[1]::bigint AS m FROM saas.task_comments;
ANALYZE a, per, cm;
-- logged markers with exactly one task UPDATE and one comment INSERT audit row
SELECT count(*) FROM crash_log l JOIN per p ON p.m = l.marker
 WHERE p.task_updates = 1 AND p.comment_inserts = 1 AND p.total = 2;
-- audit rows with a marker that was never logged (an uncommitted change)
SELECT count(*) FROM per WHERE NOT EXISTS (SELECT 1 FROM crash_log l WHERE l.marker = per.m);
-- comments with an unlogged marker, logged markers without exactly one comment
SELECT count(*) FROM cm WHERE m IS NULL OR NOT EXISTS (SELECT 1 FROM crash_log l WHERE l.marker = cm.m);
SELECT count(*) FROM crash_log l LEFT JOIN (SELECT m, count(*) AS n FROM cm GROUP BY m) g ON g.m = l.marker
 WHERE g.n IS DISTINCT FROM 1;
-- tasks whose current title differs from the newest audited one
SELECT count(*) FROM saas.tasks t
 WHERE t.title IS DISTINCT FROM (SELECT new_values->>'title' FROM saas.audit_logs al
                                  WHERE al.record_id = t.id AND al.new_values ? 'title'
                                  ORDER BY al.id DESC LIMIT 1);
SQL
)
set -- $out
is "${1:-x}" "$committed" "every committed transaction has exactly one task and one comment audit row"
is "${2:-x}" "0" "no audit row of an uncommitted change"
is "${3:-x}" "0" "no comment of an uncommitted transaction"
is "${4:-x}" "0" "every committed transaction's comment is there, once"
is "${5:-x}" "0" "each task's title is the one its newest audit row recorded"

out=$(psql -X -q -At -v ON_ERROR_STOP=1 -d $DB <<'SQL' 2>&1
SELECT count(*) FROM (
    SELECT bt_index_check(index => c.oid, heapallindexed => true)
      FROM pg_class c JOIN pg_am am ON am.oid = c.relam
     WHERE c.relkind = 'i' AND am.amname = 'btree'
       AND c.relnamespace IN ('saas'::regnamespace, 'public'::regnamespace)) s;
SELECT count(*) FROM pg_class c
 WHERE c.relkind = 'i' AND c.relnamespace = 'saas'::regnamespace AND c.relname LIKE '%audit_logs%';
SELECT count(*) || ' ' || count(DISTINCT c.oid) FROM pg_class c, LATERAL verify_heapam(c.oid) v
 WHERE c.relkind IN ('r', 'm', 't') AND c.relnamespace IN ('saas'::regnamespace, 'public'::regnamespace);
SELECT count(*) FROM pg_class c
 WHERE c.relkind = 'r' AND c.relnamespace IN ('saas'::regnamespace, 'public'::regnamespace);
SQL
)
rc=$?
set -- $out
ok $rc "amcheck ran" || echo "$out" | sed 's/^/#   /'
[ "${1:-0}" -ge 20 ] && [ "${2:-0}" -ge 3 ]
ok $? "bt_index_check(heapallindexed) passed on ${1:-0} btree indexes (${2:-0} of the audit partitions)"
is "${3:-x}" "0" "verify_heapam: no corruption in ${5:-?} tables"

echo "# figure: crashes survived: $CRASHES ($ROUNDS backend kills, $ROUNDS postmaster kills); committed transactions: $committed (pgbench acknowledged $ACKED)"
echo "# figure: audit rows: $(q $DB "SELECT count(*) FROM saas.audit_logs")"
done_testing
