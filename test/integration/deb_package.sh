#!/usr/bin/env bash
# The Debian package: dpkg-buildpackage builds postgresql-15-saas-schema with
# pg_buildext; the .deb depends on nothing but PostgreSQL 15 and the C/C++
# runtime (no build tools, no libfmt); its files, unpacked into a clean
# PostgreSQL 15 tree, give a working CREATE EXTENSION and pass the
# regression suite.
set -uo pipefail
source "$(dirname "$0")/../lib.sh"
source "$REPO_ROOT/scripts/pgenv.sh"
cd "$REPO_ROOT"

for tool in dpkg-buildpackage pg_buildext dh; do
    command -v $tool >/dev/null
    ok $? "$tool is installed"
done

work=$(mktemp -d /tmp/saas-deb.XXXXXX)
chmod 755 "$work"
cleanup() {
    [ -n "${cluster:-}" ] && cluster_stop "$cluster"
    rm -rf "$work"
}
trap cleanup EXIT

# Build from a copy of the tracked (and new, unignored) files, so the
# package never sees build products of the working tree.
mkdir "$work/src"
git ls-files -co --exclude-standard | tar -cf - -T - | tar -xf - -C "$work/src"
(cd "$work/src" && dpkg-buildpackage -us -uc -b) >"$work/build.log" 2>&1
ok $? "dpkg-buildpackage -us -uc -b" || tail -20 "$work/build.log" | sed 's/^/#   /'
version=$(sed -n "s/^default_version *= *'\(.*\)'/\1/p" saas_schema.control)
debfile=$(ls "$work"/postgresql-15-saas-schema_"$version"*_*.deb 2>/dev/null | grep -v dbgsym | head -1)
[ -n "$debfile" ] && [ -f "$debfile" ]
ok $? "built $(basename "${debfile:-none}")"

depends=$(dpkg-deb -f "$debfile" Depends)
echo "#   Depends: $depends"
grep -q "postgresql-15" <<<"$depends"
ok $? "depends on postgresql-15"
! echo "$depends" | grep -Eq "fmt|-dev|g\+\+|gcc \(|make|cmake"
ok $? "depends on no build tool and no libfmt (fmt is header-only)"
# Installable here, on a machine with PostgreSQL 15: dpkg resolves the
# dependencies against the installed system without changing it.
if [ "$(id -u)" -eq 0 ]; then
    dpkg --dry-run -i "$debfile" >"$work/dryrun.log" 2>&1
    ok $? "dpkg --dry-run -i: the package's dependencies are satisfied by an installed PostgreSQL 15" ||
        sed 's/^/#   /' "$work/dryrun.log"
fi
dpkg-deb -x "$debfile" "$work/root"
so="$work/root/usr/lib/postgresql/15/lib/saas_schema.so"
[ -f "$so" ] && [ -f "$work/root/usr/share/postgresql/15/extension/saas_schema.control" ] &&
    [ -f "$work/root/usr/share/postgresql/15/extension/saas_schema--$version.sql" ]
ok $? "package ships the library, control file and install script"
! ldd "$so" | grep -q fmt
ok $? "the library links no libfmt"

# A clean PostgreSQL 15 tree with nothing but the package's files added.
use_private_pg_tree "$work/pg"
cp "$so" "$("$PG_CONFIG" --pkglibdir)/"
cp "$work"/root/usr/share/postgresql/15/extension/saas_schema* "$("$PG_CONFIG" --sharedir)/extension/"
cluster="$work/cluster"
cluster_start "$cluster" "$(free_port 55600)"
ok $? "clean cluster started"
q postgres "CREATE EXTENSION saas_schema CASCADE" >/dev/null 2>&1
ok $? "CREATE EXTENSION saas_schema from the package"
q postgres "DROP EXTENSION saas_schema CASCADE" >/dev/null 2>&1
# The regression suite against the packaged files.
mkdir "$work/regress"
tests=$(ls test/sql/*.sql | xargs -n1 basename | sed 's/\.sql$//' | tr '\n' ' ')
"$(dirname "$("$PG_CONFIG" --pgxs)")/../../src/test/regress/pg_regress" \
    --inputdir=test --outputdir="$work/regress" --bindir="$PGBIN" --load-extension=citext \
    --dbname=contrib_regression $tests >"$work/regress.log" 2>&1
ok $? "regression suite passes against the packaged extension" || {
    tail -15 "$work/regress.log" | sed 's/^/#   /'
    head -40 "$work/regress/regression.diffs" 2>/dev/null | sed 's/^/#   /'
}
done_testing
