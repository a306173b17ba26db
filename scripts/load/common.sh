# Shared by the load scripts (sourced, not run): the server's lifetime and wrk's result line.

# /proc/loadavg's 1, 5 and 15 minute figures, recorded next to every row.
load() { cut -d' ' -f1-3 /proc/loadavg; }

# The server under test; stop_server sends SIGTERM and waits for it.
server_pid=""
stop_server() {
    if [ -n "$server_pid" ]; then kill -TERM "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; server_pid=""; fi
}

# Waits up to 2 minutes for $1 to answer 200; exits the script if it never does.
wait_ready() {
    for _ in $(seq 1 600); do
        curl -sf "$1" >/dev/null 2>&1 && return 0
        sleep 0.2
    done
    echo "server did not become ready: $1" >&2
    exit 1
}

# Reads the `RESULT k=v …` line printed by scripts/load/embeddings.lua into the array `result`.
declare -gA result=()
parse_result() {
    result=()
    local kv
    for kv in ${1#RESULT }; do result[${kv%%=*}]=${kv#*=}; done
}
