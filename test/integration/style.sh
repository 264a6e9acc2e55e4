#!/usr/bin/env bash
# The C++ sources follow .clang-format (the repository's style).
set -uo pipefail
source "$(dirname "$0")/../lib.sh"
cd "$REPO_ROOT"
if ! command -v clang-format >/dev/null; then
    echo "ok 1 # SKIP clang-format not installed"
    echo "1..1"
    exit 0
fi
for f in src/*.cpp src/*.hpp; do
    clang-format --dry-run --Werror "$f" >/dev/null 2>&1
    ok $? "$f is formatted per .clang-format"
done
done_testing
