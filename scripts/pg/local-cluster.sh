#!/usr/bin/env bash
# A PostgreSQL cluster in a folder of its own, on loopback, for trying Quiver's PostgreSQL store
# and for the benchmarks (the tests start their own, see Tests/QuiverTestSupport/PostgresCluster.swift).
#
#   scripts/pg/local-cluster.sh start DIR PORT   initdb (first time) and start; prints the store URL
#   scripts/pg/local-cluster.sh stop DIR         stop (fast)
#
# Uses Debian's postgresql-15 binaries (scripts/setup.sh test installs them). PostgreSQL refuses to
# run as root, so as root the server runs as the `postgres` user, on a folder it owns.
set -euo pipefail
cmd=${1:-}; dir=${2:-}
[ -n "$cmd" ] && [ -n "$dir" ] || { echo "usage: $0 start DIR PORT | stop DIR" >&2; exit 2; }
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
[ -x "$bin/initdb" ] || { echo "no PostgreSQL server binaries (run scripts/setup.sh test)" >&2; exit 1; }
as_pg() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
case "$cmd" in
start)
    port=${3:?port}
    mkdir -p "$dir"; dir=$(cd "$dir" && pwd)
    [ "$(id -u)" -eq 0 ] && chown postgres:postgres "$dir"
    if [ ! -f "$dir/data/PG_VERSION" ]; then
        as_pg "$bin/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 --locale=C >/dev/null
        cat >>"$dir/data/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$dir'
max_connections = 200
wal_level = replica
max_wal_senders = 4
CONF
    fi
    as_pg "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w start >/dev/null
    psql -X -q -h 127.0.0.1 -p "$port" -U postgres -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = 'quiver'" | grep -q 1 \
        || psql -X -q -h 127.0.0.1 -p "$port" -U postgres -d postgres -c "CREATE DATABASE quiver"
    echo "postgres://postgres@127.0.0.1:$port/quiver"
    ;;
stop)
    as_pg "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null
    ;;
*) echo "usage: $0 start DIR PORT | stop DIR" >&2; exit 2 ;;
esac
