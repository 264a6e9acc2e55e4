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
    (cd "$REPO_ROOT" && make -s PG_CONFIG="$PG_CONFIG" SAAS_WERROR=1 >/dev/null) || return 1
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

# TRANSITIONAL: cluster_start, cluster_stop and free_port serve only the
# bash tests not yet rewritten on PostgreSQL::Test::Cluster
# (test/integration/dump_restore.sh, dump_audit_partitions.sh ->
# test/dump_audit_partitions.sh) and the block of scripts/test.sh that runs
# them.  Remove them with those scripts.

# cluster_start DIR PORT: initdb + start a throwaway cluster in DIR, listening
# on 127.0.0.1:PORT and a unix socket in DIR.  Exports PGHOST/PGPORT/PGUSER.
cluster_start() {
    local dir="$1" port="$2"
    shift 2
    mkdir -p "$dir"
    chmod 755 "$dir"
    [ "$(id -u)" -eq 0 ] && chown postgres: "$dir"
    as_pg_owner "$PGBIN/initdb" -D "$dir/data" -U postgres --auth=trust --encoding=UTF8 \
        --locale=C.UTF-8 --no-sync >"$dir/initdb.log" 2>&1 || {
        cat "$dir/initdb.log" >&2
        return 1
    }
    cat >>"$dir/data/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$dir'
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 60
shared_buffers = 256MB
log_min_messages = warning
log_line_prefix = '%m [%p] '
CONF
    for opt in "$@"; do echo "$opt" >>"$dir/data/postgresql.conf"; done
    as_pg_owner "$PGBIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start >/dev/null || {
        cat "$dir/server.log" >&2
        return 1
    }
    export PGHOST="$dir" PGPORT="$port" PGUSER=postgres PGDATABASE=postgres
    export SAAS_SERVER_LOG="$dir/server.log" SAAS_PGDATA="$dir/data"
}

# cluster_stop DIR: stop the cluster (fast shutdown) and remove DIR.
cluster_stop() {
    local dir="$1"
    if [ -f "$dir/data/postmaster.pid" ]; then
        as_pg_owner "$PGBIN/pg_ctl" -D "$dir/data" -m fast -w -t 60 stop >/dev/null 2>&1 ||
            as_pg_owner "$PGBIN/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true
    fi
    rm -rf "$dir"
}

# free_port: a TCP port on 127.0.0.1 nobody listens on.
free_port() {
    local p
    for p in $(seq "${1:-54320}" 65000); do
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
            echo "$p"
            return
        fi
    done
    return 1
}
