# TAP helpers for the shell tests under test/integration.  Each test prints
# "ok N - name" / "not ok N - name" lines and a plan; the runner counts them.
# shellcheck shell=bash

REPO_ROOT="${REPO_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}"
export REPO_ROOT
TAP_N=0
TAP_FAILED=0

ok() { # ok CONDITION_EXIT_CODE NAME
    local rc="$1"
    shift
    TAP_N=$((TAP_N + 1))
    if [ "$rc" -eq 0 ]; then
        echo "ok $TAP_N - $*"
    else
        echo "not ok $TAP_N - $*"
        TAP_FAILED=$((TAP_FAILED + 1))
    fi
    return "$rc"
}

is() { # is GOT EXPECTED NAME
    local got="$1" want="$2"
    shift 2
    if [ "$got" == "$want" ]; then
        ok 0 "$@"
    else
        ok 1 "$@"
        echo "#   got:      '$got'"
        echo "#   expected: '$want'"
    fi
}

done_testing() {
    echo "1..$TAP_N"
    [ "$TAP_FAILED" -eq 0 ]
}

# q DB SQL: run SQL, print unaligned tuples-only output; errors go to stderr.
q() {
    local db="$1"
    shift
    psql -X -q -v ON_ERROR_STOP=1 -At -d "$db" -c "$*"
}
