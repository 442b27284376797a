#!/usr/bin/env bash
# Lua scripts, Redraft beside Redis 7 in the same run: redis-benchmark runs EVALSHA of a write
# script (INCRBY and a SET, two commands per call), EVALSHA_RO of a read script (a GET), EVAL
# of the write script's text (the SHA1 of the text every call), and FCALL / FCALL_RO of the
# same two as functions of a library, each at -P 1 and -P 16,
# against each server in turn, round by round. It prints ops/s, p50 and the server's CPU per
# request (utime+stime from /proc/PID/stat), and the ratio Redraft / Redis.
#
# Both persist the same way: by default Redis with no AOF and Redraft with --appendfsync no
# (scripting's own cost); FSYNC=always runs Redis with appendfsync always and Redraft as it
# starts with no arguments (every write fsynced before its reply).
#
# Usage: bench/scripting.sh [ROUNDS]    (default 2)
# Environment: REDRAFT_BIN (default target/release/redraft), N (requests per -P 1 row, default
# 100000; -P 16 rows do 5 x N), C (clients, default 50), PS (default "1 16"), FSYNC (no|always).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
REPO_ROOT="$PWD"
source bench/lib.sh
ROUNDS="${1:-2}"
REDRAFT_BIN="${REDRAFT_BIN:-target/release/redraft}"
N="${N:-100000}" C="${C:-50}" PS="${PS:-1 16}" FSYNC="${FSYNC:-no}"
REDIS_CLI="${REDIS_CLI:-redis-cli}"
STARTUP_TIMEOUT=30
WORKDIR="$(mktemp -d /tmp/redraft-scripting.XXXXXX)"
PIDS=()
trap 'for p in "${PIDS[@]:-}"; do stop_pid "$p"; done; rm -rf "$WORKDIR"' EXIT
need_cmd redis-benchmark "apt-get install redis-tools"
need_cmd redis-server "apt-get install redis-server"

WRITE="redis.call('SET', KEYS[1], ARGV[1]) return redis.call('INCRBY', KEYS[2], 1)"
READ="return redis.call('GET', KEYS[1])"
LIBRARY="#!lua name=bench
redis.register_function('bench_write', function(keys, args)
  redis.call('SET', keys[1], args[1]) return redis.call('INCRBY', keys[2], 1) end)
redis.register_function{function_name = 'bench_read', flags = {'no-writes'},
  callback = function(keys) return redis.call('GET', keys[1]) end}"

if [[ "$FSYNC" == always ]]; then
    REDIS=(redis-server --save '' --appendonly yes --appendfsync always)
    REDRAFT=("$REDRAFT_BIN")
else
    REDIS=(redis-server --save '' --appendonly no)
    REDRAFT=("$REDRAFT_BIN" --appendfsync no)
fi
start_server redis "${REDIS[@]}"
REDIS_PID=$STARTED_PID REDIS_PORT=$STARTED_PORT
PIDS+=("$REDIS_PID")
start_server redraft "${REDRAFT[@]}"
REDRAFT_PID=$STARTED_PID REDRAFT_PORT=$STARTED_PORT
PIDS+=("$REDRAFT_PID")

declare -A SHA
for port in "$REDIS_PORT" "$REDRAFT_PORT"; do
    SHA[write]="$(cli "$port" script load "$WRITE")"
    SHA[read]="$(cli "$port" script load "$READ")"
    cli "$port" function load replace "$LIBRARY" >/dev/null
    cli "$port" set bench:key value >/dev/null
done

# run PORT PID ARGS... : one redis-benchmark row; prints "ops p50 cpu_us_per_request"
run() {
    local port="$1" pid="$2"; shift 2
    local before after out ops p50 n="$ROW_N"
    before="$(cpu_ticks "$pid")"
    out="$(redis-benchmark -h 127.0.0.1 -p "$port" -c "$C" -n "$n" -P "$ROW_P" -r 100000 -q "$@" \
        2>&1 | tr '\r' '\n' | grep -E 'requests per second' | tail -1)"
    after="$(cpu_ticks "$pid")"
    ops="$(sed -n 's/.*: \([0-9.]*\) requests per second.*/\1/p' <<<"$out")"
    p50="$(sed -n 's/.*p50=\([0-9.]*\) msec.*/\1/p' <<<"$out")"
    [[ -n "$ops" ]] || die "no result from redis-benchmark $*: $out"
    echo "$ops $p50 $(((after - before) * 1000000 / $(getconf CLK_TCK) / n))"
}

log "$(machine_desc)"
log "Redis: ${REDIS[*]}; Redraft: ${REDRAFT[*]} ($(git_rev))"
echo "| row | -P | round | Redis ops/s (p50 ms, CPU µs/req) | Redraft ops/s (p50 ms, CPU µs/req) | ratio |"
echo "|---|---:|---:|---|---|---:|"
for ((round = 1; round <= ROUNDS; round++)); do
    for ROW_P in $PS; do
        ROW_N=$((ROW_P == 1 ? N : 5 * N))
        for row in evalsha-write evalsha_ro-read eval-write fcall-write fcall_ro-read; do
            case "$row" in
                evalsha-write) args=(evalsha "${SHA[write]}" 2 'bench:s:__rand_int__' 'bench:n:__rand_int__' v) ;;
                evalsha_ro-read) args=(evalsha_ro "${SHA[read]}" 1 bench:key) ;;
                eval-write) args=(eval "$WRITE" 2 'bench:s:__rand_int__' 'bench:n:__rand_int__' v) ;;
                fcall-write) args=(fcall bench_write 2 'bench:s:__rand_int__' 'bench:n:__rand_int__' v) ;;
                fcall_ro-read) args=(fcall_ro bench_read 1 bench:key) ;;
            esac
            read -r r_ops r_p50 r_cpu < <(run "$REDIS_PORT" "$REDIS_PID" "${args[@]}")
            read -r d_ops d_p50 d_cpu < <(run "$REDRAFT_PORT" "$REDRAFT_PID" "${args[@]}")
            ratio="$(python3 -c "print(f'{$d_ops / $r_ops:.2f}')")"
            echo "| $row | $ROW_P | $round | $r_ops ($r_p50, $r_cpu) | $d_ops ($d_p50, $d_cpu) | ${ratio}× |"
        done
    done
done
# Both did the work: the counters the write rows incremented are there on both.
for port in "$REDIS_PORT" "$REDRAFT_PORT"; do
    [[ "$(cli "$port" dbsize)" -gt 1000 ]] || die "the server on port $port holds too few keys"
done
