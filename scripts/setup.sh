#!/usr/bin/env bash
# Installs what building and testing saas_schema needs, from Debian packages,
# when it is missing.  Safe to run repeatedly; does nothing when all is present.
set -euo pipefail

PGVER="${PGVER:-15}"
packages=(
    "postgresql-$PGVER" "postgresql-server-dev-$PGVER" "postgresql-$PGVER-cron" libfmt-dev g++ make cmake
    libipc-run-perl perl sqlsmith python3
    postgresql-server-dev-all debhelper fakeroot dpkg-dev valgrind clang-format
)

missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "setup: installing ${missing[*]}" >&2
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "setup: need root (or sudo) to install: ${missing[*]}" >&2; exit 1; }
    SUDO="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
# Debian's postgresql-common would create and start a "main" cluster on 5432;
# we never use it (tests run their own throwaway clusters), so skip it.
$SUDO mkdir -p /etc/postgresql-common/createcluster.d
echo "create_main_cluster = false" | $SUDO tee /etc/postgresql-common/createcluster.d/saas-schema-no-main.conf >/dev/null
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
