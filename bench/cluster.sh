# Sourced by the benchmarks in bench/ (after scripts/pgenv.sh): a throwaway
# cluster for a measurement, tuned by the benchmark's extra settings.  The
# tests do not use these: their clusters are PostgreSQL::Test::Cluster nodes
# (test/t/*.pl, test/perl/SaasTest.pm).
# shellcheck shell=bash

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
