#!/usr/bin/env bash
# Concurrency: 8 pgbench clients, as the application role, hammer a small hot
# set of tasks for SAAS_CONC_SECONDS (short mode 60 s, long mode 300 s):
# updates of one task or of two tasks in a fixed order, comment edits,
# comment inserts, and soft-delete/restore toggles (which cascade to the
# task's comments).  Every transaction records, in the same transaction, how
# many rows it changed into conc_log.  Checks:
#   * the workload is error-free: no failed or aborted pgbench transaction,
#     no ERROR and no "deadlock detected" in the server log;
#   * audit rows written during the run == sum of conc_log.changes (every
#     committed change audited exactly once, nothing else audited);
#   * updated_at never moves backwards: a test-only AFTER UPDATE trigger logs
#     every NEW.updated_at < OLD.updated_at (must stay empty; the trigger is
#     shown to fire on a forced backwards write), and the audit rows'
#     new_values->updated_at never decrease per record in audit id order.
set -uo pipefail
source "$(dirname "$0")/../lib.sh"
DB=saas_conc
APP=regress_conc_app
CLIENTS=8
if [ -n "${SAAS_CONC_SECONDS:-}" ]; then SECONDS_RUN=$SAAS_CONC_SECONDS
elif [ "${SAAS_TEST_MODE:-short}" = long ]; then SECONDS_RUN=300
else SECONDS_RUN=60; fi
WORK="$(mktemp -d /tmp/saas-conc.XXXXXX)"
chmod 755 "$WORK"
trap 'rm -rf "$WORK"' EXIT
PGBENCH="${PGBIN:+$PGBIN/}pgbench"

[ -n "${SAAS_SERVER_LOG:-}" ] && [ -f "$SAAS_SERVER_LOG" ]
ok $? "server log is known" || { done_testing; exit 1; }

psql -X -q -d postgres -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB"
psql -X -q -v ON_ERROR_STOP=1 -d $DB >/dev/null <<SQL
SET client_min_messages = warning;
CREATE EXTENSION saas_schema CASCADE;
DO \$\$ BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '$APP') THEN
        EXECUTE 'DROP OWNED BY $APP'; EXECUTE 'DROP ROLE $APP';
    END IF;
END \$\$;
CREATE ROLE $APP LOGIN;
SELECT saas.grant_app_access('$APP');
INSERT INTO saas.organizations (name, slug) SELECT 'Org ' || g, 'org-' || g FROM generate_series(1, 2) g;
INSERT INTO saas.users (organization_id, email, password_hash)
SELECT id, 'u@' || slug || '.example', 'h' FROM saas.organizations;
INSERT INTO saas.projects (organization_id, name) SELECT id, 'hot project' FROM saas.organizations;
-- The hot set: 10 tasks (5 per tenant), 2 comments each.
CREATE TABLE conc_hot (n int PRIMARY KEY, org uuid NOT NULL, task_id uuid NOT NULL, author_id uuid NOT NULL);
WITH t AS (
    INSERT INTO saas.tasks (organization_id, project_id, title)
    SELECT p.organization_id, p.id, 'hot ' || g FROM saas.projects p, generate_series(1, 5) g
    RETURNING organization_id, id, title)
INSERT INTO conc_hot
SELECT row_number() OVER (ORDER BY organization_id, title), organization_id, id,
       (SELECT u.id FROM saas.users u WHERE u.organization_id = t.organization_id)
FROM t;
CREATE TABLE conc_hot_comment (n int PRIMARY KEY, task_n int NOT NULL, comment_id uuid NOT NULL);
WITH c AS (
    INSERT INTO saas.task_comments (organization_id, task_id, author_id, body)
    SELECT h.org, h.task_id, h.author_id, 'seed ' || h.n || '/' || g FROM conc_hot h, generate_series(1, 2) g
    RETURNING task_id, id)
INSERT INTO conc_hot_comment
SELECT row_number() OVER (ORDER BY h.n, c.id), h.n, c.id FROM c JOIN conc_hot h USING (task_id);
-- What each committed transaction changed (rows), written in the same transaction.
CREATE TABLE conc_log (id bigserial PRIMARY KEY, kind text NOT NULL, changes bigint NOT NULL);
-- Test-only: every backwards move of updated_at.
CREATE TABLE conc_violation (tbl text, id uuid, old_ts timestamptz, new_ts timestamptz);
CREATE FUNCTION conc_check_updated_at() RETURNS trigger LANGUAGE plpgsql AS \$\$
BEGIN
    INSERT INTO conc_violation VALUES (TG_TABLE_NAME, NEW.id, OLD.updated_at, NEW.updated_at);
    RETURN NULL;
END \$\$;
CREATE TRIGGER zz_conc_check AFTER UPDATE ON saas.tasks FOR EACH ROW
    WHEN (NEW.updated_at < OLD.updated_at) EXECUTE FUNCTION conc_check_updated_at();
CREATE TRIGGER zz_conc_check AFTER UPDATE ON saas.task_comments FOR EACH ROW
    WHEN (NEW.updated_at < OLD.updated_at) EXECUTE FUNCTION conc_check_updated_at();
-- Toggle one task: soft-delete it if active, restore it if deleted.  The
-- row lock first, so the decision and the change see the same row version
-- (two clients toggling the same task serialize instead of erroring).
CREATE FUNCTION conc_toggle(n_task int) RETURNS bigint LANGUAGE plpgsql AS \$\$
DECLARE
    h conc_hot;
    d timestamptz;
BEGIN
    SELECT * INTO STRICT h FROM conc_hot WHERE n = n_task;
    SELECT deleted_at INTO STRICT d FROM saas.tasks
     WHERE organization_id = h.org AND id = h.task_id FOR UPDATE;
    IF d IS NULL THEN
        RETURN saas.soft_delete('saas.tasks', h.task_id);
    END IF;
    RETURN saas.restore('saas.tasks', h.task_id);
END \$\$;
GRANT SELECT ON conc_hot, conc_hot_comment TO $APP;
GRANT INSERT ON conc_log, conc_violation TO $APP;
GRANT USAGE ON SEQUENCE conc_log_id_seq TO $APP;
SQL
ok $? "database, hot set (10 tasks, 20 comments) and side tables prepared"

# The violation trigger really catches a backwards write (the check can fail).
n=$(psql -X -q -At -v ON_ERROR_STOP=1 -d $DB <<'SQL'
BEGIN;
ALTER TABLE saas.tasks DISABLE TRIGGER trg_tasks_updated_at;
UPDATE saas.tasks SET updated_at = updated_at - interval '1 hour' WHERE id = (SELECT task_id FROM conc_hot WHERE n = 1);
SELECT count(*) FROM conc_violation;
ROLLBACK;
SQL
)
is "$n" "1" "the updated_at violation trigger fires on a backwards write (then rolled back)"
q $DB "SELECT tgname FROM pg_trigger WHERE tgrelid = 'saas.tasks'::regclass AND tgname = 'trg_tasks_updated_at'" | grep -q trg_tasks_updated_at
ok $? "tasks has the updated_at trigger (trg_tasks_updated_at)"

# The workload.  Each script is one transaction; each picks its tenant from
# the hot row it touches.
cat >"$WORK/update_task.sql" <<'SQL'
\set n random(1, 10)
BEGIN;
SELECT saas.set_tenant(org) FROM conc_hot WHERE n = :n;
WITH u AS (UPDATE saas.tasks t SET priority = 1 + t.priority % 5, description = 'upd ' || txid_current()
           FROM conc_hot h WHERE h.n = :n AND t.organization_id = h.org AND t.id = h.task_id RETURNING 1)
INSERT INTO conc_log (kind, changes) SELECT 'update_task', count(*) FROM u;
COMMIT;
SQL
# Two tasks of one tenant, lower n first: a fixed lock order.
cat >"$WORK/update_pair.sql" <<'SQL'
\set a random(1, 4)
\set b random(:a + 1, 5)
\set base 5 * random(0, 1)
BEGIN;
SELECT saas.set_tenant(org) FROM conc_hot WHERE n = :base + :a;
WITH u AS (UPDATE saas.tasks t SET status = CASE t.status WHEN 'todo' THEN 'in_progress' WHEN 'in_progress' THEN 'done' ELSE 'todo' END
           FROM conc_hot h WHERE h.n = :base + :a AND t.organization_id = h.org AND t.id = h.task_id RETURNING 1)
INSERT INTO conc_log (kind, changes) SELECT 'update_pair', count(*) FROM u;
WITH u AS (UPDATE saas.tasks t SET status = CASE t.status WHEN 'todo' THEN 'in_progress' WHEN 'in_progress' THEN 'done' ELSE 'todo' END
           FROM conc_hot h WHERE h.n = :base + :b AND t.organization_id = h.org AND t.id = h.task_id RETURNING 1)
INSERT INTO conc_log (kind, changes) SELECT 'update_pair', count(*) FROM u;
COMMIT;
SQL
cat >"$WORK/edit_comment.sql" <<'SQL'
\set c random(1, 20)
BEGIN;
SELECT saas.set_tenant(h.org) FROM conc_hot h JOIN conc_hot_comment c ON c.task_n = h.n WHERE c.n = :c;
WITH u AS (UPDATE saas.task_comments tc SET body = 'edit ' || txid_current()
           FROM conc_hot_comment c JOIN conc_hot h ON h.n = c.task_n
           WHERE c.n = :c AND tc.organization_id = h.org AND tc.id = c.comment_id RETURNING 1)
INSERT INTO conc_log (kind, changes) SELECT 'edit_comment', count(*) FROM u;
COMMIT;
SQL
cat >"$WORK/add_comment.sql" <<'SQL'
\set n random(1, 10)
BEGIN;
SELECT saas.set_tenant(org) FROM conc_hot WHERE n = :n;
WITH i AS (INSERT INTO saas.task_comments (organization_id, task_id, author_id, body)
           SELECT org, task_id, author_id, 'new ' || txid_current() FROM conc_hot WHERE n = :n RETURNING 1)
INSERT INTO conc_log (kind, changes) SELECT 'add_comment', count(*) FROM i;
COMMIT;
SQL
cat >"$WORK/toggle.sql" <<'SQL'
\set n random(1, 10)
BEGIN;
SELECT saas.set_tenant(org) FROM conc_hot WHERE n = :n;
INSERT INTO conc_log (kind, changes) SELECT 'toggle', conc_toggle(:n);
COMMIT;
SQL

audit_sql="SELECT count(*) FROM saas.audit_logs WHERE table_name IN ('saas.tasks', 'saas.task_comments')"
audit_before=$(q $DB "$audit_sql")
log_offset=$(stat -c %s "$SAAS_SERVER_LOG")
start=$(date +%s)
"$PGBENCH" -n -U $APP -d $DB -c $CLIENTS -j 2 -T "$SECONDS_RUN" \
    -f "$WORK/update_task.sql@4" -f "$WORK/update_pair.sql@2" -f "$WORK/edit_comment.sql@3" \
    -f "$WORK/add_comment.sql@2" -f "$WORK/toggle.sql@2" >"$WORK/pgbench.out" 2>&1
rc=$?
elapsed=$(($(date +%s) - start))
is "$rc" 0 "pgbench exited 0 after ${elapsed}s" || sed 's/^/#   /' "$WORK/pgbench.out" | tail -20
processed=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' "$WORK/pgbench.out")
failed=$(sed -n 's/^number of failed transactions: \([0-9]*\).*/\1/p' "$WORK/pgbench.out")
tps=$(sed -n 's/^tps = \([0-9.]*\).*/\1/p' "$WORK/pgbench.out" | head -1)
[ -n "$processed" ] && [ "$processed" -gt 0 ]
ok $? "pgbench committed transactions (${processed:-none})"
is "${failed:-missing}" "0" "no failed transactions"
! grep -qiE "aborted|client [0-9]+ .*error" "$WORK/pgbench.out"
ok $? "no client aborted" || grep -iE "aborted|error" "$WORK/pgbench.out" | head -5 | sed 's/^/#   /'
newlog="$WORK/server.log"
tail -c +"$((log_offset + 1))" "$SAAS_SERVER_LOG" >"$newlog"
is "$(grep -c 'deadlock detected' "$newlog")" 0 "no deadlock detected in the server log"
is "$(grep -c 'ERROR:' "$newlog")" 0 "no ERROR in the server log during the run"
grep -E 'ERROR:|DETAIL:' "$newlog" | head -6 | sed 's/^/#   /'

logged=$(q $DB "SELECT count(*) FROM conc_log WHERE kind <> 'update_pair'") # a pair logs twice
pairs=$(q $DB "SELECT count(*) / 2 FROM conc_log WHERE kind = 'update_pair'")
is "$((logged + pairs))" "${processed:-x}" "every pgbench transaction is in conc_log (committed == logged)"
changes=$(q $DB "SELECT sum(changes) FROM conc_log")
audit_after=$(q $DB "$audit_sql")
is "$((audit_after - audit_before))" "$changes" "audit rows written during the run == rows changed by committed transactions ($changes)"
q $DB "SELECT '# figure: ' || kind || ': ' || count(*) || ' transactions, ' || sum(changes) || ' rows' FROM conc_log GROUP BY kind ORDER BY kind"
toggles=$(q $DB "SELECT count(*) FROM conc_log WHERE kind = 'toggle'")
cascaded=$(q $DB "SELECT count(*) FROM conc_log WHERE kind = 'toggle' AND changes > 1")
[ "$toggles" -gt 0 ] && [ "$cascaded" -gt 0 ]
ok $? "soft-delete/restore toggles ran ($toggles), $cascaded of them cascading to comments"
actions=$(q $DB "SELECT string_agg(DISTINCT action, ',' ORDER BY action) FROM saas.audit_logs")
is "$actions" "INSERT,RESTORE,SOFT_DELETE,UPDATE" "audit actions seen: $actions"

is "$(q $DB "SELECT count(*) FROM conc_violation")" 0 "updated_at never moved backwards (violation trigger)"
out=$(q $DB "WITH a AS (
    SELECT record_id, id, (new_values->>'updated_at')::timestamptz AS nu,
           (old_values->>'updated_at')::timestamptz AS ou
      FROM saas.audit_logs
     WHERE table_name IN ('saas.tasks', 'saas.task_comments') AND new_values ? 'updated_at'),
  l AS (SELECT *, lag(nu) OVER (PARTITION BY record_id ORDER BY id) AS prev FROM a)
SELECT count(*) FILTER (WHERE nu < prev) || ' ' || count(*) FILTER (WHERE nu < ou) || ' ' || count(*)
  FROM l")
set -- $out
is "${1:-x} ${2:-x}" "0 0" "audit rows: new updated_at never below the previous one per record, nor below old_values (${3:-0} rows checked)"
[ "${3:-0}" -gt 1000 ]
ok $? "the audit check covered a non-trivial number of rows (${3:-0})"
same_ts=$(q $DB "SELECT count(*) FROM saas.audit_logs WHERE action = 'UPDATE' AND NOT changed_columns @> '{updated_at}'")
echo "# figure: updates that kept the stored (later) updated_at: $same_ts"

echo "# figure: clients=$CLIENTS seconds=$SECONDS_RUN transactions=$processed tps=$tps audit_rows=$((audit_after - audit_before))"
grep -E '^(latency average|tps)' "$WORK/pgbench.out" | sed 's/^/# pgbench: /'
psql -X -q -d postgres -c "DROP DATABASE $DB" -c "DROP ROLE $APP"
done_testing
