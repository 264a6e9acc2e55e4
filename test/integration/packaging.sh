#!/usr/bin/env bash
# Release metadata agrees with itself: the control file's default version,
# META.json (PGXN), debian/changelog and the install script all name the
# same version; make dist produces the archive PGXN takes.
set -uo pipefail
source "$(dirname "$0")/../lib.sh"
cd "$REPO_ROOT"

control=$(sed -n "s/^default_version *= *'\(.*\)'/\1/p" saas_schema.control)
[ -n "$control" ]
ok $? "control file has a default_version ($control)"
meta=$(python3 -c 'import json; print(json.load(open("META.json"))["version"])')
is "$meta" "$control" "META.json version matches the control file"
provided=$(python3 -c 'import json; print(json.load(open("META.json"))["provides"]["saas_schema"]["version"])')
is "$provided" "$control" "META.json provides saas_schema at the control file's version"
file=$(python3 -c 'import json; print(json.load(open("META.json"))["provides"]["saas_schema"]["file"])')
[ -f "$file" ]
ok $? "META.json's provided file exists ($file)"
is "$file" "sql/saas_schema--$control.sql" "the provided file is the install script of that version"
deb=$(dpkg-parsechangelog -l debian/changelog -S Version 2>/dev/null || head -1 debian/changelog | sed 's/.*(\(.*\)).*/\1/')
is "${deb%%-*}" "$control" "debian/changelog's upstream version matches the control file"
pgmin=$(python3 -c 'import json; print(json.load(open("META.json"))["prereqs"]["runtime"]["requires"]["PostgreSQL"])')
is "$pgmin" "15.0.0" "META.json requires PostgreSQL 15 (security_invoker views)"

# make dist works on a committed tree: build the archive from a scratch clone.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
if git rev-parse HEAD >/dev/null 2>&1; then
    git clone -q . "$tmp/clone" && make -s -C "$tmp/clone" dist >/dev/null 2>&1
    ok $? "make dist succeeded"
    zip="$tmp/clone/saas_schema-$control.zip"
    listing=$(python3 -c 'import sys, zipfile; print("\n".join(zipfile.ZipFile(sys.argv[1]).namelist()))' "$zip" 2>/dev/null)
    for f in saas_schema.control Makefile META.json README.md "sql/saas_schema--$control.sql" src/boundary.hpp; do
        # A here-string, not a pipe: grep -q exits at the first match, and
        # under pipefail the SIGPIPE that echo then gets (the listing is more
        # than one stdio buffer) would fail the check.
        grep -qx "saas_schema-$control/$f" <<<"$listing"
        ok $? "archive contains saas_schema-$control/$f"
    done
else
    ok 1 "make dist needs a git commit"
fi
done_testing
