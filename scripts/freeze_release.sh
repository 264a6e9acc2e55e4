#!/usr/bin/env bash
# Freezes the install script of the control file's version as released text
# for the tests (test/released/, see sql/README.md): a diff against the
# previous released text, and its checksum.  Run once, when the version is
# released; from then on test/t/030_upgrade_downgrade.pl fails if the
# generated install script of that version stops creating what it did.
set -euo pipefail
cd "$(dirname "$0")/.."
version="$(sed -n "s/^default_version *= *'\(.*\)'/\1/p" saas_schema.control)"
previous="$(perl -Itest/perl -MSaasReleased -e 'my @v = SaasReleased::versions(); print $v[-1]')"
if grep -q " saas_schema--$version.sql$" test/released/SHA256SUMS; then
    echo "freeze_release: $version is already frozen" >&2
    exit 1
fi
make -s "sql/saas_schema--$version.sql"
old="$(mktemp)"
trap 'rm -f "$old"' EXIT
perl -Itest/perl -MSaasReleased -e 'my %t = SaasReleased::scripts(); print $t{$ARGV[0]}' "$previous" >"$old"
diff -u --label "saas_schema--$previous.sql" --label "saas_schema--$version.sql" \
    "$old" "sql/saas_schema--$version.sql" >"test/released/saas_schema--$version.sql.patch" || [ $? -eq 1 ]
(cd sql && sha256sum "saas_schema--$version.sql") >>test/released/SHA256SUMS
perl -Itest/perl -MSaasReleased -e 'SaasReleased::scripts()' # the new patch applies and matches
echo "froze saas_schema--$version.sql (diff against $previous) into test/released/"
