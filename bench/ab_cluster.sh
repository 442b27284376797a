#!/usr/bin/env bash
# A/B of Redraft binaries as a 3-node group (or a cluster of one): for each round, for each binary given, starts a
# fresh 3-node cluster (appendfsync always, `redraft cluster create`), runs redis-benchmark
# SET and INCR against the leader, and prints one line per row: ops/s, p50, the server CPU
# per request summed over the three nodes (utime+stime from /proc/PID/stat), and the share of
# the machine's CPU time that was idle (from /proc/stat) while the row ran. Alternating
# the binaries round by round spreads the machine's drift over both. For Redraft it also
# prints the requests per log entry (how well writes were batched: the leader's
# raft_last_log_index before and after).
#
# Usage: bench/ab_cluster.sh BINARY...   (a BINARY named redis-server is run as Redis with
# appendonly yes, appendfsync always: the reference)
# Environment: ROUNDS (default 2), N (requests per -P 1 row, default 100000; -P 16 rows do
# 5 x N), PS (pipelines, default "1 16"), C (clients, default 50), NODES (3, or 1: a cluster
# of one started with no cluster flags, as `redraft` with no arguments), AFTER_FAILOVER=1 (3
# nodes: the leader is killed with SIGKILL first, and the load goes to the new leader),
# TARGET=follower (3 nodes: the load goes to a follower, which serves it through the leader),
# TESTS (redis-benchmark tests, default "set incr").
# Example: C=8 N=30000 PS=1 bench/ab_cluster.sh /tmp/redraft-before target/release/redraft
set -euo pipefail

(($# > 0)) || { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 2; }
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source bench/lib.sh
WORKDIR="$(mktemp -d /tmp/redraft-ab.XXXXXX)"
STARTUP_TIMEOUT=30
PIDS=()
trap 'for p in "${PIDS[@]:-}"; do kill -9 "$p" 2>/dev/null || true; done; rm -rf "$WORKDIR"' EXIT
ROUNDS="${ROUNDS:-2}" N="${N:-100000}" PS="${PS:-1 16}" C="${C:-50}" NODES="${NODES:-3}"
AFTER_FAILOVER="${AFTER_FAILOVER:-0}" TARGET="${TARGET:-leader}" TESTS="${TESTS:-set incr}"
REDIS_CLI="${REDIS_CLI:-redis-cli}"
CLK_TCK="$(getconf CLK_TCK)"

idle_ticks() {  # idle+iowait ticks of the whole machine, all CPUs
    local f
    read -r -a f </proc/stat
    echo $((f[4] + f[5]))
}

log_index() {  # the leader's last log index, or 0 (Redis)
    local v
    v="$("$REDIS_CLI" -p "$LEADER_PORT" info replication 2>/dev/null | tr -d '\r' \
        | sed -n 's/^raft_last_log_index://p')"
    echo "${v:-0}"
}

nodes_cpu_ticks() {  # utime+stime of the cluster's nodes, in clock ticks (lib.sh's cpu_ticks)
    local t=0 p
    for p in "${NODE_PIDS[@]}"; do
        t=$((t + $(cpu_ticks "$p")))
    done
    echo "$t"
}

for ((round = 1; round <= ROUNDS; round++)); do
    for bin in "$@"; do
        SUT=("$bin")
        single=()  # one server, started by start_server: Redis, or a cluster of one
        if [[ "$(basename "$bin")" == redis-server ]]; then
            single=(redis "$bin" --appendonly yes --appendfsync always --save '')
        elif ((NODES == 1)); then
            single=(one "$bin" --appendfsync always)
        fi
        if ((${#single[@]})); then
            start_server "${single[@]}"
            NODE_PIDS=("$STARTED_PID") LEADER_PORT=$STARTED_PORT
            PIDS+=("$STARTED_PID")
        else
            start_redraft_cluster ab "$NODES" --appendfsync always
            if ((AFTER_FAILOVER)); then
                ports=() pids=()
                for i in "${!NODE_PORTS[@]}"; do
                    if [[ ${NODE_PORTS[i]} == "$LEADER_PORT" ]]; then
                        kill -9 "${NODE_PIDS[i]}"
                    else
                        ports+=("${NODE_PORTS[i]}") pids+=("${NODE_PIDS[i]}")
                    fi
                done
                NODE_PIDS=("${pids[@]}")
                deadline=$((SECONDS + 30))
                until LEADER_PORT="$(redraft_leader_port "${ports[@]}")"; do
                    ((SECONDS < deadline)) || die "no new leader 30 s after the kill"
                    sleep 0.1
                done
            fi
        fi
        PORT=$LEADER_PORT
        if [[ $TARGET == follower && -z ${single[*]:-} ]]; then
            for port in "${NODE_PORTS[@]}"; do
                if [[ $port != "$LEADER_PORT" ]]; then PORT=$port; break; fi
            done
        fi
        for p in $PS; do
            n=$N
            [[ $p == 16 ]] && n=$((N * 5))
            for t in $TESTS; do
                e0="$(log_index)"
                c0="$(nodes_cpu_ticks)" i0="$(idle_ticks)" t0="$(date +%s%N)"
                out="$(redis-benchmark -p "$PORT" -c "$C" -r 100000 -n "$n" -P "$p" -t "$t" -q 2>&1 \
                    | tr '\r' '\n' | grep -a "requests per second" | tail -1)"
                c1="$(nodes_cpu_ticks)" i1="$(idle_ticks)" t1="$(date +%s%N)"
                e1="$(log_index)"
                idle=$(((i1 - i0) * 1000000000 * 100 / CLK_TCK / (t1 - t0) / $(nproc)))
                batching=""
                ((e1 > e0)) && batching="; $(awk -v n="$n" -v e=$((e1 - e0)) 'BEGIN { printf "%.1f", n / e }') requests/entry"
                echo "round $round $bin -c $C -P $p: $out; server CPU $(((c1 - c0) * 1000000 / CLK_TCK / n)) us/request; machine idle $idle%$batching"
            done
        done
        for p in "${NODE_PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done
        wait 2>/dev/null || true
        PIDS=()
    done
done
