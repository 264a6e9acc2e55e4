#!/usr/bin/env bash
# sqlsmith fuzzing against a database with the extension and data, as the
# application role (random SQL through RLS, the helpers and the triggers) and
# as the owner.  The server must never crash or hit an assertion: no backend
# may die by a signal, and the postmaster must be the same process at the end.
# Queries: SAAS_FUZZ_QUERIES, else 3000 (short mode) / 100000 (long mode).
set -uo pipefail
source "$(dirname "$0")/../lib.sh"
DB=saas_fuzz
if [ -n "${SAAS_FUZZ_QUERIES:-}" ]; then N=$SAAS_FUZZ_QUERIES
elif [ "${SAAS_TEST_MODE:-short}" = long ]; then N=100000
else N=3000; fi

command -v sqlsmith >/dev/null
ok $? "sqlsmith is installed" || { done_testing; exit 1; }
[ -n "${SAAS_SERVER_LOG:-}" ] && [ -f "$SAAS_SERVER_LOG" ]
ok $? "server log is known" || { done_testing; exit 1; }
postmaster_before=$(head -1 "$SAAS_PGDATA/postmaster.pid")
log_offset=$(stat -c %s "$SAAS_SERVER_LOG")

psql -X -q -d postgres -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB"
psql -X -q -v ON_ERROR_STOP=1 -d $DB >/dev/null <<'SQL'
SET client_min_messages = warning;
CREATE EXTENSION saas_schema CASCADE;
DO $$ BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'regress_fuzz_app') THEN
        EXECUTE 'DROP OWNED BY regress_fuzz_app'; EXECUTE 'DROP ROLE regress_fuzz_app';
    END IF;
END $$;
CREATE ROLE regress_fuzz_app LOGIN;
SELECT saas.grant_app_access('regress_fuzz_app');
INSERT INTO saas.organizations (name, slug) SELECT 'Org ' || g, 'org-' || g FROM generate_series(1, 5) g;
INSERT INTO saas.users (organization_id, email, password_hash)
SELECT o.id, 'u' || g || '@x.example', 'h' FROM saas.organizations o, generate_series(1, 3) g;
INSERT INTO saas.projects (organization_id, name) SELECT id, 'p' FROM saas.organizations;
INSERT INTO saas.tasks (organization_id, project_id, title, custom_fields)
SELECT organization_id, id, 't' || g, jsonb_build_object('k', g) FROM saas.projects, generate_series(1, 20) g;
INSERT INTO saas.tickets (organization_id, title, created_by_id)
SELECT organization_id, 'k', id FROM saas.users;
-- The app role fuzzes inside a tenant: set it as a role default (the
-- fuzzer cannot BEGIN; a fixed tenant is what an app session would have).
SELECT format('ALTER ROLE regress_fuzz_app IN DATABASE saas_fuzz SET app.current_tenant_id = %L',
              (SELECT id FROM saas.organizations ORDER BY slug LIMIT 1)) \gexec
SQL
ok $? "fuzz database prepared"

half=$((N / 2))
conn="host=$PGHOST port=$PGPORT dbname=$DB"
timeout 1500 sqlsmith --target="$conn user=regress_fuzz_app" --max-queries=$half --seed=42 >/dev/null 2>&1
rc1=$?
timeout 1500 sqlsmith --target="$conn user=postgres" --exclude-catalog --max-queries=$((N - half)) --seed=7 >/dev/null 2>&1
rc2=$?
# sqlsmith exits non-zero when the server goes away under it.
is "$rc1" 0 "sqlsmith ran $half queries as the application role"
is "$rc2" 0 "sqlsmith ran $((N - half)) queries as the owner"

pg_isready -q
ok $? "server still accepts connections"
is "$(head -1 "$SAAS_PGDATA/postmaster.pid")" "$postmaster_before" "same postmaster (no crash-restart)"
crashes=$(tail -c +"$((log_offset + 1))" "$SAAS_SERVER_LOG" | grep -cE "terminated by signal|was terminated|TRAP:|PANIC")
is "$crashes" 0 "no backend crash, assertion or PANIC in the server log"
tail -c +"$((log_offset + 1))" "$SAAS_SERVER_LOG" | grep -E "terminated by signal|TRAP:|PANIC" | head -5 | sed 's/^/#   /'

psql -X -q -d postgres -c "DROP DATABASE $DB" -c "DROP ROLE regress_fuzz_app"
echo "# fuzz queries run: $N"
done_testing
