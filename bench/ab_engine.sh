#!/usr/bin/env bash
# A/B of Redraft binaries' engine: each binary alone, as a cluster of one with
# --appendfsync no (so the disk is out of the way), on a fresh data directory, one round after
# another, alternating the binaries so the machine's drift spreads over all of them. Each run
# prints one line of redis-benchmark -c 50 ops/s:
#   set16    -P 16 -t set, random keys (1,000,000 of them)
#   incr16   -P 16 -t incr
#   del16    -P 16 DEL key:__rand_int__ over the keys set16 wrote (about 630,000 deletions,
#            then misses)
#   lpush16  -P 16 LPUSH l:__rand_int__ x (100,000 lists)
#   lpop16   -P 16 LPOP l:__rand_int__ (lists emptied and deleted as they go)
#   set1     -P 1 -t set
# Usage: bench/ab_engine.sh BINARY...     Environment: ROUNDS (default 3), PORT (default 7400)
set -euo pipefail

(($# > 0)) || { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 2; }
ROUNDS="${ROUNDS:-3}" PORT="${PORT:-7400}"
PID=""
DIR=""
trap '[[ -n $PID ]] && kill -9 "$PID" 2>/dev/null; [[ -n $DIR ]] && rm -rf "$DIR"' EXIT

row() {  # row N ARGS... : ops/s of one redis-benchmark run
    local n="$1"; shift
    redis-benchmark -p "$PORT" -c 50 -q -n "$n" "$@" 2>/dev/null | tr '\r' '\n' \
        | grep "requests per second" | tail -1 | sed -E 's/.*: ([0-9.]+) requests per second.*/\1/'
}

for ((round = 1; round <= ROUNDS; round++)); do
    for bin in "$@"; do
        DIR="$(mktemp -d /tmp/redraft-abe.XXXXXX)"
        "$bin" --port "$PORT" --dir "$DIR" --appendfsync no >"$DIR/server.log" 2>&1 &
        PID=$!
        deadline=$((SECONDS + 30))
        until redis-cli -p "$PORT" ping >/dev/null 2>&1; do
            ((SECONDS < deadline)) || { echo "$bin did not start" >&2; exit 1; }
            kill -0 "$PID" || { echo "$bin exited" >&2; exit 1; }
            sleep 0.05
        done
        echo "round $round $bin:" \
            "set16 $(row 1000000 -P 16 -r 1000000 -t set)" \
            "incr16 $(row 1000000 -P 16 -t incr)" \
            "del16 $(row 2000000 -P 16 -r 1000000 del key:__rand_int__)" \
            "lpush16 $(row 1000000 -P 16 -r 100000 lpush l:__rand_int__ x)" \
            "lpop16 $(row 1000000 -P 16 -r 100000 lpop l:__rand_int__)" \
            "set1 $(row 300000 -P 1 -r 1000000 -t set)"
        kill "$PID"
        while kill -0 "$PID" 2>/dev/null; do sleep 0.05; done
        PID=""
        rm -rf "$DIR"
        DIR=""
    done
done
