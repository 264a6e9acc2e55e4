# Sourced by the other scripts: locates PostgreSQL and defines helpers to
# build and install the extension (into a private copy of PostgreSQL for the
# tests).  Test clusters are PostgreSQL::Test::Cluster nodes (test/t/*.pl,
# test/perl/SaasTest.pm), started by `make installcheck`.
# shellcheck shell=bash

PGVER="${PGVER:-15}"
export PG_CONFIG="${PG_CONFIG:-/usr/lib/postgresql/$PGVER/bin/pg_config}"
[ -x "$PG_CONFIG" ] || PG_CONFIG="$(command -v pg_config || true)"
PGBIN="$("$PG_CONFIG" --bindir)"
export PGBIN
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export REPO_ROOT

# The server refuses to run as root: as root, server-side commands run as the
# unprivileged "postgres" OS user.
as_pg_owner() {
    if [ "$(id -u)" -eq 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

maybe_sudo() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

# build_and_install: compile with warnings as errors and install into
# $PG_CONFIG's tree (sudo only when that tree is not writable).
build_and_install() {
    local pkglib
    pkglib="$("$PG_CONFIG" --pkglibdir)"
    (cd "$REPO_ROOT" && make -s -j2 PG_CONFIG="$PG_CONFIG" SAAS_WERROR=1 >/dev/null) || return 1
    if [ -w "$pkglib" ]; then
        (cd "$REPO_ROOT" && make -s PG_CONFIG="$PG_CONFIG" install >/dev/null)
    else
        (cd "$REPO_ROOT" && maybe_sudo make -s PG_CONFIG="$PG_CONFIG" install >/dev/null)
    fi
}

# use_private_pg_tree DIR: copy the PostgreSQL installation into DIR (it is
# relocatable) and point PG_CONFIG at the copy.  Tests install the extension
# there: no root needed, and the system's PostgreSQL is left untouched.
use_private_pg_tree() {
    local dir="$1" sys_bin sys_share sys_inc
    sys_bin="$("$PG_CONFIG" --bindir)"
    sys_share="$("$PG_CONFIG" --sharedir)"
    sys_inc="$("$PG_CONFIG" --includedir)"
    if [ ! -x "$dir/lib/postgresql/$PGVER/bin/pg_config" ]; then
        mkdir -p "$dir/lib/postgresql" "$dir/share/postgresql" "$dir/include"
        cp -a "$(dirname "$sys_bin")" "$dir/lib/postgresql/"
        cp -a "$sys_share" "$dir/share/postgresql/"
        # Debian's include dir is /usr/include/postgresql: keep the same shape.
        ln -sfn "$sys_inc" "$dir/include/postgresql"
        chmod -R a+rX "$dir"
    fi
    export PG_CONFIG="$dir/lib/postgresql/$PGVER/bin/pg_config"
    PGBIN="$("$PG_CONFIG" --bindir)"
    export PGBIN
}
