#!/usr/bin/env bash
# The whole test suite: installs what it needs, builds with -Werror (PGXS and
# CMake), installs into a private copy of PostgreSQL, starts a throwaway
# cluster, runs pg_regress and the integration tests, and ends with
# "N passed, N failed".  Exit status is non-zero on any failure.
#
#   bash scripts/test.sh            # CI / short mode
#   bash scripts/test.sh --long     # long mode (bigger fuzz / load figures)
#   SAAS_TESTS="boundary dump_restore" bash scripts/test.sh   # a subset
set -uo pipefail

MODE=short
for arg in "$@"; do
    case "$arg" in
    --long) MODE=long ;;
    --short) MODE=short ;;
    *) echo "unknown argument: $arg" >&2; exit 2 ;;
    esac
done
export SAAS_TEST_MODE="$MODE"

HERE="$(cd "$(dirname "$0")" && pwd)"
bash "$HERE/setup.sh" || { echo "0 passed, 1 failed"; exit 1; }
source "$HERE/pgenv.sh"
cd "$REPO_ROOT"

PASSED=0
FAILED=0
FAILED_NAMES=()
record() { # record STATUS(0=pass) NAME
    if [ "$1" -eq 0 ]; then
        PASSED=$((PASSED + 1))
        echo "PASS  $2"
    else
        FAILED=$((FAILED + 1))
        FAILED_NAMES+=("$2")
        echo "FAIL  $2"
    fi
}
selected() { [ -z "${SAAS_TESTS:-}" ] || [[ " $SAAS_TESTS " == *" $1 "* ]]; }

WORK="$(mktemp -d /tmp/saas-test.XXXXXX)"
chmod 755 "$WORK"
cleanup() {
    [ -n "${CLUSTER:-}" ] && cluster_stop "$CLUSTER"
    rm -rf "$WORK"
}
trap cleanup EXIT

echo "== build"
use_private_pg_tree "$WORK/pgtree"
make -s clean >/dev/null 2>&1
if build_and_install >"$WORK/build.log" 2>&1; then
    record 0 "build: make with -Wall -Wextra -Werror, install"
else
    cat "$WORK/build.log"
    record 1 "build: make with -Wall -Wextra -Werror, install"
    echo "$PASSED passed, $FAILED failed"
    exit 1
fi
# CMake must build the same library (same exported symbols) and generate the
# same SQL scripts as the Makefile.
same_as_make() {
    cmp -s <(nm -D --defined-only "$WORK/cmake/saas_schema.so" | awk '$2=="T"{print $3}' | sort) \
        <(nm -D --defined-only saas_schema.so | awk '$2=="T"{print $3}' | sort) || return 1
    [ "$(cd "$WORK/cmake" && ls sql/saas_schema--*.sql)" = "$(ls sql/saas_schema--*.sql)" ] || return 1
    local f
    for f in sql/saas_schema--*.sql; do cmp -s "$f" "$WORK/cmake/$f" || return 1; done
}
if cmake -S . -B "$WORK/cmake" -DSAAS_WERROR=ON -DPG_CONFIG="$PG_CONFIG" >"$WORK/cmake.log" 2>&1 &&
    cmake --build "$WORK/cmake" >>"$WORK/cmake.log" 2>&1 && same_as_make; then
    record 0 "build: CMake builds the same library (same exported symbols) and the same SQL scripts"
else
    tail -20 "$WORK/cmake.log"
    record 1 "build: CMake builds the same library (same exported symbols) and the same SQL scripts"
fi

echo "== cluster"
CLUSTER="$WORK/cluster"
PORT="$(free_port 55432)"
if ! cluster_start "$CLUSTER" "$PORT"; then
    record 1 "throwaway cluster starts"
    echo "$PASSED passed, $FAILED failed"
    exit 1
fi
echo "cluster on port $PORT, socket $CLUSTER"

echo "== pg_regress"
regress_tests=()
for f in test/sql/*.sql; do
    n="$(basename "$f" .sql)"
    selected "$n" && regress_tests+=("$n")
done
if [ ${#regress_tests[@]} -gt 0 ]; then
    make -s installcheck PG_CONFIG="$PG_CONFIG" REGRESS="${regress_tests[*]}" >"$WORK/regress.log" 2>&1
    regress_rc=$?
    # PG 15 prints "test NAME ... ok"; PG 16+ prints TAP-style "ok N - NAME".
    seen=0
    while read -r line; do
        if [[ "$line" =~ ^(test\ )?([a-z0-9_]+)\ +\.\.\.\ +(ok|FAILED|failed) ]]; then
            seen=$((seen + 1))
            [ "${BASH_REMATCH[3]}" = ok ] && record 0 "regress: ${BASH_REMATCH[2]}" || record 1 "regress: ${BASH_REMATCH[2]}"
        elif [[ "$line" =~ ^(not\ ok|ok)\ +[0-9]+\ +[-+]\ +([a-z0-9_]+) ]]; then
            seen=$((seen + 1))
            [ "${BASH_REMATCH[1]}" = ok ] && record 0 "regress: ${BASH_REMATCH[2]}" || record 1 "regress: ${BASH_REMATCH[2]}"
        fi
    done <"$WORK/regress.log"
    if [ "$seen" -ne ${#regress_tests[@]} ]; then
        cat "$WORK/regress.log"
        record 1 "regress: pg_regress ran all ${#regress_tests[@]} tests (saw $seen)"
    fi
    if [ $regress_rc -ne 0 ] && [ -f regression.diffs ]; then
        head -200 regression.diffs
    fi
fi

echo "== integration"
for t in test/integration/*.sh; do
    n="$(basename "$t" .sh)"
    selected "$n" || continue
    out="$WORK/$n.tap"
    timeout 1200 bash "$t" >"$out" 2>&1
    rc=$?
    oks=$(grep -c '^ok ' "$out")
    noks=$(grep -c '^not ok ' "$out")
    if [ $rc -eq 0 ] && [ "$noks" -eq 0 ] && [ "$oks" -gt 0 ]; then
        record 0 "$n ($oks checks)"
    else
        sed 's/^/    /' "$out" | tail -60
        record 1 "$n (exit $rc, $noks of $((oks + noks)) checks failed)"
    fi
done

echo "== TAP (test/t)"
# Cluster-level tests on PostgreSQL::Test::Cluster; they run as the server's
# OS user (initdb refuses root).
# They read the tests from a copy the postgres OS user can read (a clone
# under /root is not).
tapdir="$WORK/tap"
mkdir -p "$tapdir" "$WORK/repo"
cp -a test scripts sql saas_schema.control "$WORK/repo/"
chmod -R a+rX "$WORK/repo"
[ "$(id -u)" -eq 0 ] && chown postgres: "$tapdir"
for t in test/t/*.pl; do
    n="$(basename "$t" .pl)"
    selected "$n" || continue
    out="$WORK/$n.tap"
    as_pg_owner env PATH="$PGBIN:$PATH" TESTDIR="$tapdir" \
        PG_REGRESS="$(dirname "$("$PG_CONFIG" --pgxs)")/../test/regress/pg_regress" \
        timeout 1200 prove -I "$(dirname "$("$PG_CONFIG" --pgxs)")/../test/perl" "$WORK/repo/$t" >"$out" 2>&1
    rc=$?
    if [ $rc -eq 0 ]; then
        record 0 "$n ($(sed -n 's/^Files=1, Tests=\([0-9]*\),.*/\1/p' "$out") checks)"
    else
        tail -60 "$out" | sed 's/^/    /'
        record 1 "$n (prove exit $rc)"
    fi
done

echo
[ ${#FAILED_NAMES[@]} -gt 0 ] && printf 'failed: %s\n' "${FAILED_NAMES[@]}"
echo "$PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
