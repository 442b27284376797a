#!/usr/bin/env bash
# Restart time after `kill -9` with N keys of 100-byte values (default 1,000,000): Redraft as a
# cluster of one, beside redis-server loading an RDB file and an AOF, in the same run on this
# machine, one system at a time:
#   a) Redraft, log only: no snapshot was taken (--snapshot-entries 1000000000), so the restart
#      replays the whole Raft log;
#   b) Redraft, snapshot: REDRAFT SNAPSHOT after the load, so the restart restores the snapshot
#      (and replays nothing behind it);
#   c) redis-server, RDB: SAVE after the load (--appendonly no);
#   d) redis-server, AOF: --appendonly yes --appendfsync always, automatic rewrites off, so the
#      restart replays every command (with a rewrite the AOF would start with an RDB preamble
#      and load like (c)).
# Each system gets the same load: SET key:%07d <100 bytes> for every key, through
# redis-cli --pipe. Then the server is killed with SIGKILL and started again on the same
# directory; the time reported runs from the exec to the first DBSIZE that answers N (a server
# still loading answers -LOADING, or accepts the connection and answers when ready), and the
# script checks one key's value afterwards. Also reported: bytes on disk and the restarted
# server's resident memory.
# Progress goes to stderr, a markdown report (paste into docs/benchmarks.md) to stdout.
#
# Usage: bench/recovery.sh [--keys N]
# Environment: REDRAFT_BIN (default target/release/redraft), REDIS_SERVER, REDIS_CLI.
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
REDRAFT_BIN="${REDRAFT_BIN:-$REPO_ROOT/target/release/redraft}"
REDIS_SERVER="${REDIS_SERVER:-redis-server}"
REDIS_CLI="${REDIS_CLI:-redis-cli}"
STARTUP_TIMEOUT=600
# shellcheck source=bench/lib.sh
source "$REPO_ROOT/bench/lib.sh"

KEYS=1000000
while (($#)); do
    case "$1" in
        --keys) KEYS="$2"; shift ;;
        -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown argument: $1" ;;
    esac
    shift
done
[[ "$KEYS" =~ ^[1-9][0-9]*$ ]] || die "--keys must be a positive integer"
[[ -x "$REDRAFT_BIN" ]] || die "no executable at $REDRAFT_BIN (cargo build --release)"
command -v "$REDIS_SERVER" >/dev/null || die "$REDIS_SERVER not found"

WORKDIR="$(mktemp -d /tmp/redraft-recovery.XXXXXX)"
PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do stop_pid "$pid"; done
    rm -rf "$WORKDIR"
}
trap cleanup EXIT

log "generating $KEYS SET commands"
write_set_load "$KEYS" "$WORKDIR/load.resp"

# launch NAME PORT DIR cmd... : starts cmd in the background, sets LAUNCHED_PID
launch() {
    local name="$1" port="$2" dir="$3"; shift 3
    "$@" >>"$dir/server.log" 2>&1 </dev/null &
    LAUNCHED_PID=$!
    PIDS+=("$LAUNCHED_PID")
    log "$name: started pid $LAUNCHED_PID on port $port"
}

# wait_reply PORT PID EXPECTED cmd... : polls cmd until it answers EXPECTED (the server PID alive)
wait_reply() {
    local port="$1" pid="$2" expected="$3"; shift 3
    local deadline=$((SECONDS + STARTUP_TIMEOUT))
    until [[ "$("$REDIS_CLI" -h 127.0.0.1 -p "$port" "$@" 2>/dev/null || true)" == "$expected" ]]; do
        kill -0 "$pid" 2>/dev/null || die "server $pid exited before answering $* with $expected"
        ((SECONDS < deadline)) || die "no '$expected' to '$*' on port $port within ${STARTUP_TIMEOUT}s"
        sleep 0.01
    done
}

rss_mb() { awk '/VmRSS/ { printf "%.0f", $2 / 1024 }' "/proc/$1/status"; }

ROWS=()
# run_system NAME PREPARE cmd... : load, PREPARE (a function), kill -9, restart, measure
run_system() {
    local name="$1" prepare="$2"; shift 2
    local port dir
    port="$(free_port)"
    dir="$WORKDIR/$name"
    mkdir -p "$dir"
    local cmd=("$@" --port "$port" --dir "$dir")
    launch "$name" "$port" "$dir" "${cmd[@]}"
    local pid=$LAUNCHED_PID
    wait_reply "$port" "$pid" PONG ping
    log "$name: loading $KEYS keys"
    local load_start=$SECONDS
    pipe_load "$name" "$port" "$WORKDIR/load.resp"
    log "$name: loaded in $((SECONDS - load_start)) s"
    "$prepare" "$port"
    local before
    before="$(cli "$port" dbsize)"
    [[ "$before" == "$KEYS" ]] || die "$name: DBSIZE $before after the load, expected $KEYS"
    kill -9 "$pid"
    wait "$pid" 2>/dev/null || true
    local bytes
    bytes="$(du -sb "$dir" | awk '{print $1}')"
    log "$name: killed; restarting on $bytes bytes"
    local t0 t1
    t0="$(date +%s.%N)"
    launch "$name" "$port" "$dir" "${cmd[@]}"
    pid=$LAUNCHED_PID
    wait_reply "$port" "$pid" "$KEYS" dbsize
    t1="$(date +%s.%N)"
    local sample
    sample="$(cli "$port" get "key:$(printf %07d $((KEYS - 1)))")"
    [[ "$sample" == "$(printf 'v%.0s' $(seq 100))" ]] || die "$name: the last key came back as '$sample'"
    local seconds rss
    seconds="$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')"
    rss="$(rss_mb "$pid")"
    log "$name: $KEYS keys back in $seconds s (RSS $rss MB)"
    ROWS+=("| $name | $seconds | $(awk -v b="$bytes" 'BEGIN { printf "%.1f", b / 1048576 }') | $rss |")
    stop_pid "$pid"
}

nothing() { :; }
redis_save() { cli "$1" save >/dev/null; }

run_system "Redraft, log only" nothing \
    "$REDRAFT_BIN" --bind 127.0.0.1 --loglevel warning --appendfsync always \
    --snapshot-entries 1000000000
run_system "Redraft, snapshot" redraft_snapshot \
    "$REDRAFT_BIN" --bind 127.0.0.1 --loglevel warning --appendfsync always \
    --snapshot-entries 1000000000
run_system "Redis, RDB" redis_save \
    "$REDIS_SERVER" --bind 127.0.0.1 --save "" --appendonly no --loglevel warning
run_system "Redis, AOF (no rewrite)" nothing \
    "$REDIS_SERVER" --bind 127.0.0.1 --save "" --appendonly yes --appendfsync always \
    --auto-aof-rewrite-percentage 0 --loglevel warning

commit="$(git -C "$REPO_ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)"
cat <<EOF
## Recovery after kill -9 ($(date -u '+%Y-%m-%d %H:%M UTC'))

- Command: \`bench/recovery.sh --keys $KEYS\`
- Commit: $commit
- Machine: $(nproc) CPUs, $(awk -F: '/model name/ { sub(/^ /, "", $2); print $2; exit }' /proc/cpuinfo), $(awk '/MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)
- Redis: $("$REDIS_SERVER" --version)
- Load: SET key:%07d with a 100-byte value for each of $KEYS keys (redis-cli --pipe), then SIGKILL and a restart on the same directory; time from exec to the first DBSIZE answering $KEYS

| system | restart to all keys, s | on disk, MiB | RSS after, MiB |
|---|---:|---:|---:|
$(printf '%s\n' "${ROWS[@]}")
EOF
