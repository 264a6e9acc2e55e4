#!/usr/bin/env bash
# Memory-error checking of the extension while the pg_regress suite runs.
#
# Preferred: AddressSanitizer + UndefinedBehaviorSanitizer.  The library is
# rebuilt with -fsanitize=address,undefined in a copy of the source tree and
# installed into a separate private copy of PostgreSQL; the postmaster runs
# with libasan LD_PRELOADed (PostgreSQL itself is not instrumented;
# detect_leaks=0, since PostgreSQL frees by memory context) and the whole
# suite runs against it; the sanitizer logs must hold no report.
#
# Fallback: on Debian bookworm, an uninstrumented postgres with libasan
# preloaded hangs before main(): libgpg-error's constructor (libpq/krb5 ->
# libgcrypt -> libgpg-error) calls bindtextdomain, whose malloc is ASAN's
# first interceptor call; ASAN initializes there and calls dlerror ->
# dcgettext, which releases glibc's _nl_state_lock held by bindtextdomain,
# and bindtextdomain's next wrlock deadlocks.  The script detects that (a
# 10 s probe of `postgres -V` under LD_PRELOAD) and falls back to valgrind
# memcheck: the postmaster and every backend run under valgrind, a subset of
# the suite runs (5 tests in short mode, 9 in long mode), and no valgrind
# error may be in the extension's code.  PostgreSQL here is not built
# with USE_VALGRIND, so memcheck sees palloc chunks only as parts of large
# malloc'd blocks: it finds reads of uninitialized memory and accesses
# outside those blocks, not every overflow inside one.
#
# Either way a positive control (a tiny C function writing one byte past a
# malloc'd buffer) proves that an error in a backend does get reported.
set -uo pipefail
source "$(dirname "$0")/../lib.sh"
source "$REPO_ROOT/scripts/pgenv.sh"
TMP="$(mktemp -d /tmp/saas-san.XXXXXX)"
chmod 755 "$TMP"
C="$TMP/cluster"
VG_PID=""
cleanup() {
    if [ -f "$C/data/postmaster.pid" ]; then
        as_pg_owner "$PGBIN/pg_ctl" -D "$C/data" -m immediate -w -t 120 stop >/dev/null 2>&1
    fi
    [ -n "$VG_PID" ] && kill "$VG_PID" 2>/dev/null
    cluster_stop "$C"
    rm -rf "$TMP"
}
trap cleanup EXIT
LIBASAN="$(g++ -print-file-name=libasan.so)"
SYS_PGBIN="$PGBIN"

# Which tool?  ASAN if a preloaded postgres gets through start-up.
MODE=valgrind
if [ -f "$LIBASAN" ] && timeout 10 env LD_PRELOAD="$LIBASAN" ASAN_OPTIONS=detect_leaks=0 \
    "$SYS_PGBIN/postgres" -V >/dev/null 2>&1; then
    MODE=asan
fi
[ -n "${SAAS_SANITIZER:-}" ] && MODE=$SAAS_SANITIZER
echo "# tool: $MODE"
if [ "$MODE" = valgrind ]; then
    echo "# ASAN via LD_PRELOAD is impossible here (postgres -V hangs in bindtextdomain): valgrind fallback"
    command -v valgrind >/dev/null
    ok $? "valgrind is installed" || { done_testing; exit 1; }
fi

# 1. Build the library in a copy of the tree (the shared checkout's objects
#    must not change while the suite runs), install into a private PG copy.
mkdir -p "$TMP/src"
(cd "$REPO_ROOT" && git ls-files -co --exclude-standard | while read -r f; do [ -e "$f" ] && echo "$f"; done |
    tar -cf - -T - | tar -xf - -C "$TMP/src")
use_private_pg_tree "$TMP/pgtree"
if [ "$MODE" = asan ]; then
    SAN="-fsanitize=address,undefined -fno-omit-frame-pointer"
    (cd "$TMP/src" && make -s -j2 PG_CONFIG="$PG_CONFIG" COPT="$SAN" CXXFLAGS="-O1 -g -Wall $SAN" >"$TMP/build.log" 2>&1 &&
        make -s PG_CONFIG="$PG_CONFIG" COPT="$SAN" install >>"$TMP/build.log" 2>&1)
    ok $? "ASAN/UBSAN build of the library installed into a separate PostgreSQL tree" ||
        { tail -30 "$TMP/build.log" | sed 's/^/#   /'; done_testing; exit 1; }
    SO="$("$PG_CONFIG" --pkglibdir)/saas_schema.so"
    # (grep -c, not -q: with pipefail an early grep exit fails the pipeline)
    n_asan=$(nm -D "$SO" | grep -c __asan_report)
    n_ubsan=$(nm -D "$SO" | grep -c __ubsan_handle)
    [ "$n_asan" -gt 0 ] && [ "$n_ubsan" -gt 0 ] && [ "$(ldd "$SO" | grep -c libasan)" -gt 0 ]
    ok $? "the installed library is instrumented ($n_asan ASAN and $n_ubsan UBSAN entry points, linked to libasan)"
    PROBE_FLAGS="-fsanitize=address"
else
    (cd "$TMP/src" && make -s -j2 PG_CONFIG="$PG_CONFIG" CXXFLAGS="-O1 -g -Wall -fno-omit-frame-pointer" >"$TMP/build.log" 2>&1 &&
        make -s PG_CONFIG="$PG_CONFIG" install >>"$TMP/build.log" 2>&1)
    ok $? "-O1 -g build of the library installed into a separate PostgreSQL tree" ||
        { tail -30 "$TMP/build.log" | sed 's/^/#   /'; done_testing; exit 1; }
    SO="$("$PG_CONFIG" --pkglibdir)/saas_schema.so"
    PROBE_FLAGS="-g"
fi

# Positive control: a C function that writes one byte past a heap buffer.
cat >"$TMP/probe.c" <<'C'
#include "postgres.h"
#include "fmgr.h"
#include <stdlib.h>
PG_MODULE_MAGIC;
PG_FUNCTION_INFO_V1(san_probe);
Datum san_probe(PG_FUNCTION_ARGS) {
    volatile char *p = malloc(8);
    volatile int i = 8;
    p[i] = 1; /* one byte past the end */
    free((void *) p);
    PG_RETURN_VOID();
}
C
# shellcheck disable=SC2086
gcc $PROBE_FLAGS -fPIC -shared -I"$("$PG_CONFIG" --includedir-server)" -o "$TMP/san_probe.so" \
    "$TMP/probe.c" 2>"$TMP/probe.log"
ok $? "positive-control probe built" || sed 's/^/#   /' "$TMP/probe.log"
chmod 755 "$TMP/san_probe.so"

# 2. A cluster whose postmaster (and so every backend) runs under the tool.
mkdir -p "$TMP/logs"
chown postgres: "$TMP/logs" 2>/dev/null
cluster_start "$C" "$(free_port 55850)"
ok $? "cluster initialized" || { done_testing; exit 1; }
as_pg_owner "$PGBIN/pg_ctl" -D "$C/data" -m fast -w stop >/dev/null
if [ "$MODE" = asan ]; then
    OPTS="detect_leaks=0:log_path=$TMP/logs/asan:halt_on_error=1"
    as_pg_owner env LD_PRELOAD="$LIBASAN" ASAN_OPTIONS="$OPTS" \
        UBSAN_OPTIONS="print_stacktrace=1:log_path=$TMP/logs/ubsan" \
        "$PGBIN/pg_ctl" -D "$C/data" -l "$C/server.log" -w -t 120 start >/dev/null
    ok $? "cluster restarted with LD_PRELOAD=$(basename "$LIBASAN")" ||
        { tail -20 "$C/server.log" | sed 's/^/#   /'; done_testing; exit 1; }
else
    as_pg_owner valgrind --quiet --trace-children=yes --leak-check=no --num-callers=40 \
        --error-limit=no --log-file="$TMP/logs/vg.%p.log" \
        "$PGBIN/postgres" -D "$C/data" >>"$C/server.log" 2>&1 &
    VG_PID=$!
    for _ in $(seq 1 240); do
        pg_isready -q -t 1 && break
        sleep 0.5
    done
    pg_isready -q
    ok $? "cluster restarted under valgrind memcheck" || { tail -20 "$C/server.log" | sed 's/^/#   /'; done_testing; exit 1; }
fi
maps=$(psql -X -q -At -d postgres -c "LOAD 'saas_schema'" -c "SELECT pg_read_file('/proc/self/maps')")
tool_lib=libasan
[ "$MODE" = valgrind ] && tool_lib=vgpreload_memcheck
[ "$(echo "$maps" | grep -c "$tool_lib")" -gt 0 ] && [ "$(echo "$maps" | grep -c "$SO")" -gt 0 ]
ok $? "a backend runs with $tool_lib and the freshly built saas_schema.so mapped"

# 3. The regression suite (test/sql vs expected/) against that cluster.
tests=$(cd "$REPO_ROOT/test/sql" && ls ./*.sql | sed 's|^\./||; s|\.sql$||' | sort | tr '\n' ' ')
if [ "$MODE" = valgrind ]; then
    # Under valgrind a test takes 10-90 s (uuidv7's 1,000,000 calls far
    # more): short mode runs the C++-heaviest few (the guard, updated_at, row
    # and statement audit, test mode), long mode adds four more (measured
    # 361 s for these nine), staying inside the runner's 1200 s per script.
    tests="boundary updated_at audit audit_statement test_mode"
    [ "${SAAS_TEST_MODE:-short}" = long ] &&
        tests="$tests audit_types audit_suppression soft_delete tenant_isolation"
fi
[ -n "${SAAS_SANITIZER_TESTS:-}" ] && tests=$SAAS_SANITIZER_TESTS
start=$(date +%s)
(cd "$TMP/src" && make -s installcheck PG_CONFIG="$PG_CONFIG" REGRESS="$tests" >"$TMP/regress.log" 2>&1)
rc=$?
grep -E "^(test |ok |not ok )" "$TMP/regress.log" | sed 's/^/#   /'
ok $rc "pg_regress under $MODE passes: $tests($(($(date +%s) - start))s)" ||
    { head -60 "$TMP/src/regression.diffs" 2>/dev/null | sed 's/^/#   /'; }
n=$(grep -cE "^(test |ok )" "$TMP/regress.log")
is "$n" "$(echo "$tests" | wc -w)" "all regression tests of the run ran"

# Reports that concern the extension.
if [ "$MODE" = asan ]; then
    reports=$(cat "$TMP"/logs/* 2>/dev/null | grep -cE "ERROR: AddressSanitizer|runtime error:")
    is "$reports" 0 "no ASAN/UBSAN report during the suite"
    cat "$TMP"/logs/* 2>/dev/null | grep -A12 -E "ERROR: AddressSanitizer|runtime error:" | head -40 | sed 's/^/#   /'
    is "$(grep -cE 'AddressSanitizer|runtime error:' "$C/server.log")" 0 "no sanitizer output in the server log either"
else
    # One valgrind error = one block of lines up to an empty "==pid==" line.
    # An error is the extension's when its innermost frame outside libc and
    # valgrind's preload (memcpy, strlen, ...) is in saas_schema.so (our
    # frames carry a .cpp file name).  Errors deeper in PostgreSQL merely
    # called from the extension (e.g. SPI -> invalidation processing, whose
    # shared-memory messages memcheck cannot follow without USE_VALGRIND)
    # are counted separately.
    cat "$TMP"/logs/vg.*.log 2>/dev/null | awk '
        /^==[0-9]+== $/ { if (blk != "") print blk "----"; blk = ""; next }
        /^==[0-9]+== / { blk = blk $0 "\n" }
        END { if (blk != "") print blk "----" }' >"$TMP/vg.blocks"
    classify='BEGIN { RS = "----\n" }
        /(Invalid|Conditional|Use of uninit|Syscall param|Mismatched|Source and destination|free\(\))/ {
            n = split($0, lines, "\n"); first = ""
            for (i = 1; i <= n; i++) {
                if (lines[i] !~ /(at|by) 0x[0-9A-F]+:/) continue
                if (lines[i] ~ /vgpreload|libc\.so|ld-linux|libstdc\+\+|libgcc_s/) continue
                first = lines[i]; break
            }
            ours = (first ~ /saas_schema\.so|\.cpp:[0-9]+/)
            anywhere = ($0 ~ /saas_schema\.so|\.cpp:[0-9]+/)
            if (want == "total" || (want == "ours" && ours) || (want == "below" && anywhere && !ours)) {
                c++; if (show) printf "%s----\n", $0
            }
        }
        END { if (!show) print c + 0 }'
    total=$(awk -v want=total "$classify" "$TMP/vg.blocks")
    ours=$(awk -v want=ours "$classify" "$TMP/vg.blocks")
    below=$(awk -v want=below "$classify" "$TMP/vg.blocks")
    echo "# figure: valgrind errors in the whole server: $total; in the extension's code: $ours; in PostgreSQL code called from the extension: $below"
    is "$ours" 0 "no valgrind error in the extension's code"
    awk -v want=ours -v show=1 "$classify" "$TMP/vg.blocks" | head -40 | sed 's/^/#   /'
    [ "$(ls "$TMP"/logs/vg.*.log 2>/dev/null | wc -l)" -gt 3 ]
    ok $? "valgrind followed the backends ($(ls "$TMP"/logs/vg.*.log | wc -l) process logs)"
fi

# 4. Positive control: the probe's overflow must be reported.
psql -X -q -d postgres -c "CREATE FUNCTION san_probe() RETURNS void AS '$TMP/san_probe.so', 'san_probe' LANGUAGE C" \
    -c "SELECT san_probe()" >/dev/null 2>&1
want="ERROR: AddressSanitizer: heap-buffer-overflow"
[ "$MODE" = valgrind ] && want="Invalid write of size 1"
for _ in $(seq 1 100); do
    cat "$TMP"/logs/* 2>/dev/null | grep -q "$want" && break
    sleep 0.1
done
[ "$(cat "$TMP"/logs/* 2>/dev/null | grep -c "$want")" -gt 0 ]
ok $? "positive control: a backend's heap overflow is reported ($want)"
done_testing
