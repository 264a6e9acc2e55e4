#!/usr/bin/env bash
# test/consumer is an example of a user's own pg_regress suite that loads
# saas_schema (--load-extension) and asserts ids and audit output.  Run it
# twice: both runs must pass against the same expected file, which proves
# the ids (saas.test_seed) and saas.audit_trail() output are deterministic.
set -uo pipefail
source "$(dirname "$0")/../lib.sh"
cd "$REPO_ROOT/test/consumer"
for run in 1 2; do
    rm -rf results regression.diffs regression.out
    make -s installcheck PG_CONFIG="${PG_CONFIG:-pg_config}" >"/tmp/saas-consumer-$run.log" 2>&1
    ok $? "consumer suite, run $run, matches expected/saas_consumer.out" || {
        sed 's/^/#   /' regression.diffs 2>/dev/null | head -30
    }
done
rm -rf results regression.diffs regression.out "/tmp/saas-consumer-1.log" "/tmp/saas-consumer-2.log"
# The expected file really contains ids and audit rows (not an empty shell).
n=$(grep -c '016f5e66-' expected/saas_consumer.out)
[ "$n" -ge 10 ]
ok $? "expected output asserts concrete ids ($n lines with seeded ids)"
grep -q 'SOFT_DELETE' expected/saas_consumer.out
ok $? "expected output asserts audit rows"
done_testing
