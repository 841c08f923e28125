#!/usr/bin/env bash
# Start or stop a throwaway PostgreSQL and Redis for the tests.
#
#   eval "$(scripts/services.sh start DIR)"   # sets MOAT_TEST_POSTGRES_URL, MOAT_TEST_REDIS_URL
#   scripts/services.sh stop DIR
#
# `start` installs the Debian packages when the servers are missing, creates a
# new PostgreSQL cluster (trust authentication, no superuser password) and a
# Redis without persistence, both on 127.0.0.1 on free ports, and prints the
# two variables on stdout; everything else goes to stderr. State, logs and
# pid files live in DIR. `stop` stops both and tolerates them being gone.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

# Only the two variable lines go to stdout (fd 3); the rest goes to stderr.
exec 3>&1 1>&2

usage() {
    die "usage: $0 start|stop DIR"
}

log() {
    printf 'services: %s\n' "$*"
}

# fail MESSAGE [LOG]: die with the tail of a server log.
fail() {
    if [ -n "${2:-}" ] && [ -f "$2" ]; then
        printf -- '--- last lines of %s ---\n' "$2"
        tail -n 30 "$2"
        printf -- '---\n'
    fi
    die "$1"
}

# Directory with PostgreSQL's initdb, pg_ctl and pg_isready (symbolic links
# on PATH followed); empty when there is none.
pg_bin_dir() {
    local dir candidates=()
    if command -v initdb >/dev/null 2>&1; then
        candidates+=("$(dirname "$(readlink -f "$(command -v initdb)")")")
    fi
    candidates+=($(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r))
    for dir in "${candidates[@]}"; do
        if [ -x "$dir/initdb" ] && [ -x "$dir/pg_ctl" ] && [ -x "$dir/pg_isready" ]; then
            echo "$dir"
            return
        fi
    done
}

# Install what is missing, without letting the packages start their own
# servers: policy-rc.d is Debian's switch for that; one added here is removed
# again, also when the installation fails (see undo_failed_start).
ADDED_POLICY=""
ensure_packages() {
    local missing=()
    [ -n "$(pg_bin_dir)" ] || missing+=(postgresql)
    command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
    [ "${#missing[@]}" -eq 0 ] && return 0
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        ADDED_POLICY=1
        printf '#!/bin/sh\nexit 101\n' | as_root tee /usr/sbin/policy-rc.d >/dev/null
        as_root chmod 755 /usr/sbin/policy-rc.d
    fi
    apt_install "${missing[@]}"
    remove_added_policy
}

remove_added_policy() {
    [ -z "$ADDED_POLICY" ] || as_root rm -f /usr/sbin/policy-rc.d
    ADDED_POLICY=""
}

# A TCP port on 127.0.0.1 that nothing listens on.
free_port() {
    local port tries
    for tries in $(seq 1 200); do
        port=$((20000 + RANDOM % 40000))
        if ! timeout 1 bash -c "exec 9<>/dev/tcp/127.0.0.1/$port" 2>/dev/null; then
            echo "$port"
            return
        fi
    done
    die "no free TCP port found on 127.0.0.1"
}

# Run a command as the PostgreSQL user when root: the server refuses to run
# as root.
as_pg() {
    if [ "$(id -u)" -ne 0 ]; then
        "$@"
    elif command -v runuser >/dev/null 2>&1; then
        runuser -u postgres -- "$@"
    else
        su postgres -s /bin/bash -c "$(printf '%q ' "$@")"
    fi
}

# Where the cluster of DIR lives: DIR/pg, or the /tmp directory that DIR/pg
# links to when the postgres user cannot reach DIR or the socket path would be
# too long.
pg_home() {
    readlink -f "$DIR/pg"
}

# Make DIR/pg a fresh empty directory the server's user can write.
make_pg_home() {
    remove_pg_home
    mkdir -p "$DIR/pg"
    local home="$DIR/pg" reachable=1
    if [ "$(id -u)" -eq 0 ]; then
        id postgres >/dev/null 2>&1 \
            || die "the user 'postgres' does not exist; install the postgresql package"
        chown postgres: "$home"
        as_pg test -w "$home" 2>/dev/null || reachable=""
    fi
    # Unix socket paths are limited to about 107 bytes.
    if [ -z "$reachable" ] || [ "${#home}" -gt 80 ]; then
        rmdir "$home"
        local tmp
        tmp="$(mktemp -d /tmp/moat-pg.XXXXXX)"
        [ "$(id -u)" -ne 0 ] || chown postgres: "$tmp"
        ln -s "$tmp" "$DIR/pg"
    fi
}

remove_pg_home() {
    if [ -L "$DIR/pg" ]; then
        local target
        target="$(readlink "$DIR/pg")"
        case "$target" in /tmp/moat-pg.*) rm -rf "$target" ;; esac
        rm -f "$DIR/pg"
    else
        rm -rf "$DIR/pg"
    fi
}

start_postgres() {
    local bin="$1" port="$2" home
    make_pg_home
    home="$(pg_home)"
    log "creating a PostgreSQL cluster in $home"
    as_pg "$bin/initdb" -D "$home/data" -U postgres --auth=trust --no-locale \
        --encoding=UTF8 --no-sync >"$DIR/initdb.log" 2>&1 \
        || fail "initdb failed" "$DIR/initdb.log"
    as_pg mkdir -p "$home/run"
    # Durability off: the cluster is thrown away after the tests. Parallel
    # tests each hold a few connections.
    as_pg tee -a "$home/data/postgresql.conf" >/dev/null <<EOF
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$home/run'
max_connections = 200
fsync = off
synchronous_commit = off
full_page_writes = off
EOF
    log "starting PostgreSQL on 127.0.0.1:$port"
    # 3>&-: the server must not hold the caller's stdout open (a caller's
    # "$(services.sh start DIR)" would wait for it forever).
    as_pg "$bin/pg_ctl" -D "$home/data" -l "$home/server.log" -w -t 60 start >/dev/null 3>&- \
        || fail "PostgreSQL did not start" "$home/server.log"
    local tries
    for tries in $(seq 1 60); do
        "$bin/pg_isready" -q -h 127.0.0.1 -p "$port" -U postgres && return 0
        sleep 0.5
    done
    fail "PostgreSQL does not answer on 127.0.0.1:$port" "$home/server.log"
}

start_redis() {
    local port="$1"
    log "starting Redis on 127.0.0.1:$port"
    rm -f "$DIR/redis.pid"
    echo "$port" >"$DIR/redis.port"
    redis-server --bind 127.0.0.1 --port "$port" --save '' --appendonly no \
        --daemonize yes --pidfile "$DIR/redis.pid" --logfile "$DIR/redis.log" \
        --dir "$DIR" 3>&- \
        || fail "Redis did not start" "$DIR/redis.log"
    local tries
    for tries in $(seq 1 60); do
        [ "$(redis-cli -h 127.0.0.1 -p "$port" ping 2>/dev/null)" = "PONG" ] && return 0
        sleep 0.5
    done
    fail "Redis does not answer on 127.0.0.1:$port" "$DIR/redis.log"
}

stop_postgres() {
    [ -e "$DIR/pg" ] || return 0
    local home bin
    home="$(pg_home)"
    if [ -f "$home/data/postmaster.pid" ]; then
        bin="$(pg_bin_dir)"
        [ -n "$bin" ] || die "PostgreSQL's pg_ctl not found; stop the server in $home/data by hand"
        if as_pg "$bin/pg_ctl" -D "$home/data" status >/dev/null 2>&1; then
            log "stopping PostgreSQL ($home/data)"
            as_pg "$bin/pg_ctl" -D "$home/data" stop -m fast -w -t 60 >/dev/null \
                || fail "PostgreSQL did not stop" "$home/server.log"
        fi
    fi
    remove_pg_home
}

stop_redis() {
    [ -f "$DIR/redis.pid" ] || return 0
    local pid
    pid="$(cat "$DIR/redis.pid")"
    # Only a process that is the Redis started here.
    if [ -n "$pid" ] && grep -q redis "/proc/$pid/comm" 2>/dev/null; then
        log "stopping Redis (pid $pid)"
        if [ -f "$DIR/redis.port" ]; then
            redis-cli -h 127.0.0.1 -p "$(cat "$DIR/redis.port")" shutdown nosave \
                >/dev/null 2>&1 || true
        fi
        local tries
        for tries in $(seq 1 40); do
            kill -0 "$pid" 2>/dev/null || break
            [ "$tries" -ne 10 ] || kill "$pid" 2>/dev/null || true
            sleep 0.25
        done
        ! kill -0 "$pid" 2>/dev/null || fail "Redis (pid $pid) did not stop" "$DIR/redis.log"
    fi
    rm -f "$DIR/redis.pid" "$DIR/redis.port"
}

# On a failed start, stop whatever did start.
undo_failed_start() {
    local status=$?
    remove_added_policy || true
    [ "$status" -eq 0 ] && return 0
    log "start failed: stopping what was started"
    (stop_redis) || true
    (stop_postgres) || true
    exit "$status"
}

[ "$#" -eq 2 ] || usage
command="$1"
case "$command" in
    start) mkdir -p "$2" ;;
    stop) [ -d "$2" ] || exit 0 ;;
esac
DIR="$(cd "$2" && pwd)"

case "$command" in
    start)
        trap undo_failed_start EXIT
        ensure_packages
        bin="$(pg_bin_dir)"
        [ -n "$bin" ] || die "PostgreSQL's initdb and pg_ctl not found after installing postgresql"
        # A start over an earlier one replaces it.
        stop_redis
        stop_postgres
        pg_port="$(free_port)"
        start_postgres "$bin" "$pg_port"
        redis_port="$(free_port)"
        while [ "$redis_port" = "$pg_port" ]; do redis_port="$(free_port)"; done
        start_redis "$redis_port"
        log "PostgreSQL and Redis are ready"
        printf 'MOAT_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:%s/postgres\n' "$pg_port" >&3
        printf 'MOAT_TEST_REDIS_URL=redis://127.0.0.1:%s/\n' "$redis_port" >&3
        ;;
    stop)
        stop_redis
        stop_postgres
        log "stopped"
        ;;
    *)
        usage
        ;;
esac
