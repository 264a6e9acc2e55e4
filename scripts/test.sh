#!/usr/bin/env bash
# The whole test suite: installs what it needs, builds with -Werror (PGXS and
# CMake), installs into a private copy of PostgreSQL, then runs the
# Makefile's `make installcheck` twice: its pg_regress half (test/sql, on a
# temporary instance pg_regress starts itself) and its TAP half (test/t/*.pl,
# each file on its own PostgreSQL::Test::Cluster clusters).  Ends with
# "N passed, N failed": one per build step, per pg_regress test and per TAP
# file.  Exit status is non-zero on any failure.
#
#   bash scripts/test.sh            # CI / short mode
#   bash scripts/test.sh --long     # long mode (SAAS_TEST_MODE=long: longer load, 100,000 sqlsmith queries)
#   SAAS_TESTS="boundary crash" bash scripts/test.sh   # a subset: pg_regress tests and TAP files by name
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
finish() {
    echo
    if [ ${#FAILED_NAMES[@]} -gt 0 ]; then
        printf 'failed: %s\n' "${FAILED_NAMES[@]}"
        echo "logs kept in $WORK (TAP: out/tmp_check/log, pg_regress: out/regress)"
    fi
    echo "$PASSED passed, $FAILED failed"
    [ "$FAILED" -eq 0 ]
    exit
}

WORK="$(mktemp -d /tmp/saas-test.XXXXXX)"
chmod 755 "$WORK"
cleanup() {
    [ "$FAILED" -eq 0 ] && rm -rf "$WORK" # on failure finish() says where the logs are
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
    finish
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
    cmake --build "$WORK/cmake" -j2 >>"$WORK/cmake.log" 2>&1 && same_as_make; then
    record 0 "build: CMake builds the same library (same exported symbols) and the same SQL scripts"
else
    tail -20 "$WORK/cmake.log"
    record 1 "build: CMake builds the same library (same exported symbols) and the same SQL scripts"
fi

# Who runs the tests.  PostgreSQL::Test::Cluster runs initdb and the servers
# as the user running the tests, and initdb refuses root.  So as root (CI),
# `make installcheck` runs as the unprivileged "postgres" OS user -- the
# account Debian runs PostgreSQL as -- through runuser; the build and the
# install into the private tree above stay root's.  It runs in a copy of the
# checkout, this build's products included, owned by that user ($SRC): a
# checkout under /root is unreadable to it.  Everything the tests write goes
# to $OUT either way (pg_regress's --outputdir and temporary instance,
# TAP_TESTDIR for tmp_check/).  Some tests run git (ls-files, clone); in a
# copy of a git worktree, .git still points into root's repository, which
# git lets another user use only when its global configuration (in the HOME
# given here) says the directory is safe.
OUT="$WORK/out"
mkdir -p "$OUT/home"
SRC="$REPO_ROOT"
if [ "$(id -u)" -eq 0 ]; then
    SRC="$WORK/src"
    mkdir "$SRC"
    tar -C "$REPO_ROOT" --exclude=./tmp_check --exclude=./test/tmp_check --exclude=./results -cf - . |
        tar -C "$SRC" -xf -
    git config --file "$OUT/home/.gitconfig" safe.directory '*'
    chown -R postgres: "$OUT" "$SRC"
    as_tester() { runuser -u postgres -- env HOME="$OUT/home" PATH="$PATH" "$@"; }
else
    as_tester() { "$@"; }
fi

echo "== pg_regress"
regress_tests=()
for f in test/sql/*.sql; do
    n="$(basename "$f" .sql)"
    selected "$n" && regress_tests+=("$n")
done
if [ ${#regress_tests[@]} -gt 0 ]; then
    # pg_regress starts (and stops) a temporary instance itself; the locale
    # makes its initdb create a UTF-8 cluster.
    as_tester env LC_ALL=C.UTF-8 make -s -C "$SRC" installcheck PG_CONFIG="$PG_CONFIG" TAP_TESTS= \
        REGRESS="${regress_tests[*]}" \
        EXTRA_REGRESS_OPTS="--temp-instance=$OUT/instance --temp-config=$SRC/test/temp_instance.conf --outputdir=$OUT/regress" \
        >"$WORK/regress.log" 2>&1
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
    if [ $regress_rc -ne 0 ] && [ -f "$OUT/regress/regression.diffs" ]; then
        head -200 "$OUT/regress/regression.diffs"
    fi
fi

echo "== TAP (prove)"
tap_files=()
for f in test/t/*.pl; do
    n="$(basename "$f" .pl)"
    if selected "$n" || selected "${n#*_}"; then tap_files+=("t/$n.pl"); fi
done
if [ ${#tap_files[@]} -gt 0 ]; then
    prove_tests=()
    [ -n "${SAAS_TESTS:-}" ] && prove_tests=(PROVE_TESTS="${tap_files[*]}")
    # Two TAP files at a time (prove -j2): each file has its own clusters,
    # ports (PostgreSQL::Test::Cluster locks them) and temporary copies, and
    # many of them spend their time waiting (fixed-length loads, crash
    # recovery, pg_upgrade), so the 2-core CI machine stays busy.
    as_tester make -s -C "$SRC" installcheck PG_CONFIG="$PG_CONFIG" REGRESS= TAP_TESTDIR="$OUT" \
        PROVE_FLAGS="--timer -j2" "${prove_tests[@]}" 2>&1 | tee "$WORK/tap.log"
    tap_rc=${PIPESTATUS[0]}
    echo
    # The verdict per file is prove's (its "Test Summary Report" names the
    # files that failed); the number of checks is read from the file's log.
    blamed="$(sed -n '/^Test Summary Report/,$p' "$WORK/tap.log" | grep -oE '^t/[a-z0-9_]+\.pl' | sort -u)"
    for f in "${tap_files[@]}"; do
        n="$(basename "$f" .pl)"
        log="$OUT/tmp_check/log/regress_log_$n"
        # The test's TAP lines, without the "[time](elapsed) " the log adds.
        tap="$(sed -nE 's/^(\[[0-9:.]+\]\([0-9.]+s\) )?((not )?ok [0-9]+|1\.\.[0-9]+|# )/\2/p' "$log" 2>/dev/null)"
        checks=$(grep -cE '^(not )?ok [0-9]+' <<<"$tap")
        skips=$(grep -cE '^ok [0-9]+ # skip' <<<"$tap")
        skip_all=$(sed -n 's/^1\.\.0 # SKIP //p' <<<"$tap")
        desc="$checks checks"
        [ "$skips" -gt 0 ] && desc="$desc, $skips skipped: $(sed -n 's/^ok [0-9]* # skip //p' <<<"$tap" | head -1)"
        [ -n "$skip_all" ] && desc="skipped: $skip_all"
        if [ -f "$log" ] && ! grep -qx "$f" <<<"$blamed"; then
            record 0 "tap: $n ($desc)"
            grep '^# figure' <<<"$tap" | sed 's/^/    /'
        else
            grep -E '^(not ok|#)' <<<"$tap" | grep -vE '^# (figure|Running)' | tail -40 | sed 's/^/    /'
            record 1 "tap: $n ($desc; log: $OUT/tmp_check/log/regress_log_$n)"
        fi
    done
    if [ "$tap_rc" -ne 0 ] && [ -z "$blamed" ]; then
        record 1 "tap: make installcheck (prove) exited $tap_rc"
    fi
fi

finish
