#!/usr/bin/env bash
# TAP wrapper for test/dump_audit_partitions.sh (its own cluster): monthly
# audit partitions and their rows round-trip through pg_dump/pg_restore, and
# neither a plain restore nor a replica-mode restore adds audit rows.
set -uo pipefail
source "$(dirname "$0")/../lib.sh"
out=$(bash "$REPO_ROOT/test/dump_audit_partitions.sh" 2>&1)
rc=$?
echo "$out" | tail -15 | sed 's/^/#   /'
ok $rc "audit partitions and rows round-trip exactly; restores add no audit row"
grep -q "^PASS" <<<"$out"
ok $? "the round-trip script reports PASS"
done_testing
