#!/usr/bin/env bash
# Helpers shared by bench/compare.sh and bench/collections.sh (sourced, not run). They use the
# caller's WORKDIR, REDIS_CLI and STARTUP_TIMEOUT.

stop_pid() {
    local pid="$1"
    [[ -n "$pid" ]] || return 0
    if kill -0 "$pid" 2>/dev/null; then
        kill "$pid" 2>/dev/null || true
        for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
}

die() { echo "ERROR: $*" >&2; exit 1; }

log() { echo "# $*" >&2; }

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# start_server NAME cmd... ; sets STARTED_PID and STARTED_PORT
start_server() {
    local name="$1"; shift
    local exe="$1"
    if [[ "$exe" == */* ]]; then
        [[ -x "$exe" ]] || die "$name: '$exe' is not an executable file (build it or set REDRAFT_BIN)"
    else
        command -v "$exe" >/dev/null || die "$name: '$exe' not found in PATH"
    fi
    local port dir
    port="$(free_port)"
    dir="$WORKDIR/$name"
    rm -rf "$dir"
    mkdir -p "$dir"
    "$@" --port "$port" --bind 127.0.0.1 --dir "$dir" --loglevel warning \
        >"$dir/server.log" 2>&1 </dev/null &
    STARTED_PID=$!
    STARTED_PORT=$port
    local deadline=$((SECONDS + STARTUP_TIMEOUT))
    until [[ "$("$REDIS_CLI" -h 127.0.0.1 -p "$port" ping 2>/dev/null || true)" == "PONG" ]]; do
        kill -0 "$STARTED_PID" 2>/dev/null || { cat "$dir/server.log" >&2; die "$name exited during startup: $*"; }
        ((SECONDS < deadline)) || die "$name did not answer PING within ${STARTUP_TIMEOUT}s"
        sleep 0.05
    done
}

cli() { local port="$1"; shift; timeout 120 "$REDIS_CLI" -h 127.0.0.1 -p "$port" "$@"; }

info_field() {  # info_field PORT SECTION FIELD
    cli "$1" info "$2" | tr -d '\r' | awk -F: -v f="$3" '$1 == f { print $2; exit }'
}

cpu_ticks() {  # utime + stime (fields 14 and 15 of /proc/PID/stat)
    local stat rest
    stat="$(<"/proc/$1/stat")" || die "cannot read /proc/$1/stat (server died?)"
    rest="${stat##*) }"          # drop "pid (comm) " -- comm may contain spaces
    read -r -a f <<<"$rest"      # f[0] is field 3 (state)
    echo $((f[11] + f[12]))
}

rss_bytes() { awk '/^VmRSS:/ { print $2 * 1024 }' "/proc/$1/status"; }

git_rev() {
    local rev
    rev="$(git -C "$REPO_ROOT" rev-parse --short HEAD 2>/dev/null)" || { echo "(no commit yet)"; return; }
    if ! git -C "$REPO_ROOT" diff --quiet HEAD -- 2>/dev/null; then rev="$rev-dirty"; fi
    echo "$rev"
}
