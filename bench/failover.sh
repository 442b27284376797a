#!/usr/bin/env bash
# Measure what a client sees when the leader (or primary) is killed: Redraft as a 3-node Raft
# group against Redis Cluster (3 masters + 3 replicas) and a 3-member etcd cluster, in the
# same run on this machine, one system at a time.
#
# Each run starts the system afresh in a temp dir, starts one writer (bench/loadgen.py
# writer: python3, redis-py or grpcio) that attempts a write every 5 ms, sequentially:
# SET k<i> i (a Put on etcd), moving on to i+1 only once k<i> is acknowledged. It records
# the time of every acknowledged write. Any error, or no reply within 200 ms, counts as a
# failed attempt; the writer then moves to another node and retries the same key at its
# next tick. 3 s after the writer started, the leader/primary is killed with SIGKILL; the
# writer goes on until the kill is >= 3 s old and writes have flowed for 2 s without a
# 0.5 s pause (at most 90 s after the kill). It then reads every acknowledged key back from
# the surviving nodes and reports
#   * unavailability: the longest time between two consecutive acknowledged writes, the
#     later one after the kill (so it spans the kill), in seconds;
#   * lost writes: acknowledged keys that are missing or hold another value afterwards.
# Systems:
#   * Redraft, 3 nodes (default election timeout, 200 ms; appendfsync always). The writer
#     starts on the leader; followers forward to the leader, so after the kill it can use any
#     survivor. The leader is found with `redraft cluster status`.
#   * Redis Cluster, 3 masters + 3 replicas (redis-cli --cluster create --cluster-replicas 1),
#     --appendonly yes --appendfsync everysec (the default fsync policy; it does not matter
#     here since the killed master never comes back: what a replica has not received when
#     its master dies is lost), two rows: cluster-node-timeout 15000 (the default) and 1000.
#     The writer is redis-py's RedisCluster; every key carries the hash tag {fo}, and the
#     master owning that slot is killed.
#   * etcd, 3 members (default heartbeat 100 ms, election timeout 1000 ms), writer over gRPC
#     (as in bench/replication.sh), starting on the leader, which `etcdctl endpoint status`
#     finds and which is killed.
# Prints markdown (paste into docs/benchmarks.md): median unavailability and lost writes per
# system over the runs, with Redraft's target (<= 1 s, 0 lost). Progress goes to stderr, the
# report to stdout.
#
# Usage: bench/failover.sh [--runs N] [--quick] [--only LIST] [--traces DIR]
#   --runs N       runs per system (default 3)
#   --quick        one run per system
#   --only LIST    comma-separated subset of: redraft, rediscluster-15000, rediscluster-1000,
#                  etcd (default: all)
#   --traces DIR   keep, per run, DIR/<system>-<run>.trace: every failed attempt (start time,
#                  duration, node, error), then the kill time and every acknowledgement time
# Environment: REDRAFT_BIN (default target/release/redraft; the binary, or a wrapper that
# execs it and passes `cluster ...` through), REDIS_SERVER, REDIS_CLI, ETCD, ETCDCTL.
set -euo pipefail

ORIG_ARGS=("$@")
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
REDRAFT_BIN="${REDRAFT_BIN:-$REPO_ROOT/target/release/redraft}"
REDIS_SERVER="${REDIS_SERVER:-redis-server}"
REDIS_CLI="${REDIS_CLI:-redis-cli}"
ETCD="${ETCD:-etcd}"
ETCDCTL="${ETCDCTL:-etcdctl}"
LOADGEN="$REPO_ROOT/bench/loadgen.py"
STARTUP_TIMEOUT=30
BEFORE_KILL_S=3        # writing before the kill
INTERVAL_MS=5          # one write attempt per tick
TIMEOUT_MS=200         # per request and per connect
MAX_AFTER_KILL_S=90    # Redis Cluster with cluster-node-timeout 15000 needs ~20 s

RUNS=3
TRACES=""
ONLY=""
while (($#)); do
    case "$1" in
        --quick) RUNS=1 ;;
        --runs) RUNS="$2"; shift ;;
        --traces) TRACES="$2"; shift ;;
        --only) ONLY="$2"; shift ;;
        -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
    esac
    shift
done
[[ "$RUNS" =~ ^[1-9][0-9]*$ ]] || { echo "--runs must be a positive integer" >&2; exit 2; }
if [[ -n "$TRACES" ]]; then
    mkdir -p "$TRACES"
    TRACES="$(cd "$TRACES" && pwd)"
fi

eval "SUT=($REDRAFT_BIN)"   # split like a shell would (quotes honoured)

WORKDIR="$(mktemp -d -t redraft-failover-XXXXXX)"
PIDS=()
STARTED_PID=""

# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cleanup() {
    stop_pids
    stop_pid "$STARTED_PID"
    rm -rf "$WORKDIR"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

need_cmd "$REDIS_SERVER" "apt-get install redis-server"
need_cmd "$REDIS_CLI" "apt-get install redis-tools"
need_cmd "$ETCD" "apt-get install etcd-server"
need_cmd "$ETCDCTL" "apt-get install etcd-client"
need_cmd python3 "apt-get install python3"
need_python_module redis "pip install redis (or apt-get install python3-redis for Debian's python3)"
need_python_module redis.cluster "pip install 'redis>=4.1' (redis-py with RedisCluster)"
need_python_module grpc "pip install grpcio (or apt-get install python3-grpcio for Debian's python3)"
[[ -x "${SUT[0]}" ]] || command -v "${SUT[0]}" >/dev/null \
    || die "'${SUT[0]}' is not executable: build it with cargo build --release -p server (or set REDRAFT_BIN)"

# ---------------------------------------------------------------------------
# header
# ---------------------------------------------------------------------------
cmdline="$(printf '%q ' "$0" "${ORIG_ARGS[@]}")"
cmdline="${cmdline% }"

echo "## Failover: Redraft vs Redis Cluster vs etcd ($(date -u '+%Y-%m-%d %H:%M UTC'))"
echo
echo "- Command: \`${cmdline}\`"
echo "- Server under test (REDRAFT_BIN): \`$REDRAFT_BIN\`"
echo "- Commit: $(git_rev)"
echo "- Machine: $(machine_desc)"
idle_note
echo "- Redis: $("$REDIS_SERVER" --version | head -n1); redis-py $(python3 -c 'import redis; print(redis.__version__)')"
echo "- etcd: $("$ETCD" --version | head -n1 | sed 's/^etcd Version: //'); grpcio $(python3 -c 'import grpc; print(grpc.__version__)')"
echo "- Writer: one sequential client, a write attempt every ${INTERVAL_MS} ms, ${TIMEOUT_MS} ms timeout per request and connect, no retries inside the client library; SIGKILL of the leader/primary ${BEFORE_KILL_S} s after the writer started; $RUNS run(s) per system, each on a fresh cluster"
echo

# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------
forget_pid() {  # drop a reaped PID from PIDS, so that cleanup never signals a reused PID
    local keep=() p
    for p in "${PIDS[@]}"; do [[ "$p" == "$1" ]] || keep+=("$p"); done
    PIDS=("${keep[@]}")
}

# run_writer SYSTEM NODES VICTIM_PID : starts the writer against NODES (host:port,...), kills
# VICTIM_PID with SIGKILL BEFORE_KILL_S later, waits for the writer's verdict; sets RESULT.
# RUN_ID counts the clusters started (it names their directories), RUN_NAME names the trace.
RUN_ID=0
run_writer() {
    local system="$1" nodes="$2" victim="$3"
    local kill_file out err writer_pid kill_t trace=()
    kill_file="$WORKDIR/kill-$RUN_ID" out="$WORKDIR/writer-$RUN_ID.out" err="$WORKDIR/writer-$RUN_ID.err"
    [[ -n "$TRACES" ]] && trace=(--trace "$TRACES/$RUN_NAME.trace")
    python3 "$LOADGEN" writer --system "$system" --nodes "$nodes" --kill-file "$kill_file" \
        --interval-ms "$INTERVAL_MS" --timeout-ms "$TIMEOUT_MS" \
        --max-after-kill-s "$MAX_AFTER_KILL_S" "${trace[@]}" >"$out" 2>"$err" </dev/null &
    writer_pid=$!
    PIDS+=("$writer_pid")
    wait_for_log "$err" '^writing' "$writer_pid" "the writer"
    sleep "$BEFORE_KILL_S"
    kill -0 "$writer_pid" 2>/dev/null || { cat "$err" >&2; die "the writer exited before the kill"; }
    kill_t="$(date +%s.%N)"
    kill -9 "$victim"
    wait "$victim" 2>/dev/null || true
    forget_pid "$victim"
    echo "$kill_t" >"$kill_file.tmp"
    mv "$kill_file.tmp" "$kill_file"   # the writer must never read half a time
    wait "$writer_pid" || { cat "$err" >&2; die "the writer failed"; }
    forget_pid "$writer_pid"
    RESULT="$(tail -n1 "$out")"
    [[ "$RESULT" == acked=* ]] || { cat "$out" "$err" >&2; die "unexpected writer output"; }
    (($(field acked_before_kill "$RESULT") > 0)) || die "no write was acknowledged before the kill: $RESULT"
    log "  $RESULT"
}

field() { tr ' ' '\n' <<<"$2" | awk -F= -v k="$1" '$1 == k { print $2 }'; }

# --- Redis Cluster ---------------------------------------------------------
# start_redis_cluster NAME NODE_TIMEOUT_MS : 6 nodes, 3 masters + 3 replicas; sets NODE_PORTS,
# NODE_PIDS (same order)
start_redis_cluster() {
    local name="$1" node_timeout="$2"
    local i port addrs=() out
    NODE_PORTS=() NODE_PIDS=()
    for ((i = 1; i <= 6; i++)); do
        pick_bus_port
        port=$PICKED_PORT
        START_PORT=$port start_server "$name-$i" "$REDIS_SERVER" --save '' --appendonly yes \
            --appendfsync everysec --cluster-enabled yes --cluster-config-file nodes.conf \
            --cluster-node-timeout "$node_timeout"
        PIDS+=("$STARTED_PID") NODE_PIDS+=("$STARTED_PID") NODE_PORTS+=("$port") addrs+=("127.0.0.1:$port")
        STARTED_PID=""
    done
    out="$(timeout 120 "$REDIS_CLI" --cluster create "${addrs[@]}" --cluster-replicas 1 --cluster-yes 2>&1)" \
        || die "redis-cli --cluster create failed: $out"
    # Ready: every node sees the cluster ok with 3 masters owning slots and 3 replicas, and
    # every replica's link to its master is up (else it could not take over).
    local deadline=$((SECONDS + STARTUP_TIMEOUT)) ready
    while :; do
        ready=1
        for port in "${NODE_PORTS[@]}"; do
            [[ "$(cli "$port" cluster info | tr -d '\r' | awk -F: '$1 == "cluster_state" { print $2 }')" == ok ]] || ready=0
            [[ "$(cli "$port" cluster nodes | awk '$3 ~ /slave/ { n++ } END { print n + 0 }')" == 3 ]] || ready=0
            if [[ "$(info_field "$port" replication role)" == slave ]]; then
                [[ "$(info_field "$port" replication master_link_status)" == up ]] || ready=0
            fi
            ((ready)) || break
        done
        ((ready)) && break
        ((SECONDS < deadline)) || die "Redis Cluster $name not ready within ${STARTUP_TIMEOUT}s"
        sleep 0.2
    done
}

# slot_master_port PORT KEY : the port of the master owning KEY's slot (as PORT sees it)
slot_master_port() {
    local slot
    slot="$(cli "$1" cluster keyslot "$2")"
    cli "$1" cluster nodes | awk -v s="$slot" '
        $3 ~ /master/ { for (i = 9; i <= NF; i++) { n = split($i, r, "-"); lo = r[1]; hi = (n == 2 ? r[2] : r[1])
            if (s >= lo && s <= hi) { split($2, a, "[:@]"); print a[2]; exit } } }'
}

# --- one run per system ----------------------------------------------------
pid_of_port() {  # pid_of_port PORT : from the parallel arrays NODE_PORTS / NODE_PIDS
    local i
    for i in "${!NODE_PORTS[@]}"; do [[ "${NODE_PORTS[i]}" == "$1" ]] && { echo "${NODE_PIDS[i]}"; return 0; }; done
    die "no node on port $1"
}
node_list() {  # node_list FIRST_PORT PORT... : "127.0.0.1:FIRST,127.0.0.1:P,..." with FIRST once
    local first="$1" list="127.0.0.1:$1" p; shift
    for p in "$@"; do [[ "$p" == "$first" ]] || list+=",127.0.0.1:$p"; done
    echo "$list"
}

run_redraft() {
    start_redraft_cluster "redraft-$RUN_ID" 3
    local leader
    leader="$(redraft_leader_port "${NODE_PORTS[@]}")" || die "no Redraft node says it is the leader"
    log "  redraft nodes ${NODE_PORTS[*]}, killing the leader on $leader"
    run_writer redis "$(node_list "$leader" "${NODE_PORTS[@]}")" "$(pid_of_port "$leader")"
    stop_pids
}

run_rediscluster() {  # run_rediscluster NODE_TIMEOUT_MS
    start_redis_cluster "rediscluster-$RUN_ID" "$1"
    local master
    master="$(slot_master_port "${NODE_PORTS[0]}" '{fo}')"
    [[ -n "$master" ]] || die "no master owns the slot of {fo}"
    log "  redis cluster nodes ${NODE_PORTS[*]}, killing the master of {fo}'s slot on $master"
    run_writer rediscluster "$(node_list "$master" "${NODE_PORTS[@]}")" "$(pid_of_port "$master")"
    stop_pids
}

run_etcd() {
    start_etcd_cluster "etcd-$RUN_ID" 3
    local leader i victim=""
    leader="$(etcd_leader_port)" || die "etcd has no leader"
    for i in "${!ETCD_PORTS[@]}"; do [[ "${ETCD_PORTS[i]}" == "$leader" ]] && victim="${ETCD_PIDS[i]}"; done
    log "  etcd members ${ETCD_PORTS[*]}, killing the leader on $leader"
    run_writer etcd "$(node_list "$leader" "${ETCD_PORTS[@]}")" "$victim"
    stop_pids
}

# ---------------------------------------------------------------------------
# runs
# ---------------------------------------------------------------------------
SYSTEMS=(redraft rediscluster-15000 rediscluster-1000 etcd)
if [[ -n "$ONLY" ]]; then
    chosen=()
    for s in "${SYSTEMS[@]}"; do [[ ",$ONLY," == *",$s,"* ]] && chosen+=("$s"); done
    ((${#chosen[@]})) || die "--only $ONLY names none of: ${SYSTEMS[*]}"
    SYSTEMS=("${chosen[@]}")
fi
declare -A LABEL=(
    [redraft]="Redraft, 3 nodes"
    [rediscluster-15000]="Redis Cluster, 3 masters + 3 replicas"
    [rediscluster-1000]="Redis Cluster, 3 masters + 3 replicas"
    [etcd]="etcd, 3 members"
)
declare -A CONFIG=(
    [redraft]="election timeout 200 ms (default), appendfsync always"
    [rediscluster-15000]="cluster-node-timeout 15000 (default), appendfsync everysec"
    [rediscluster-1000]="cluster-node-timeout 1000, appendfsync everysec"
    [etcd]="election timeout 1000 ms, heartbeat 100 ms (defaults)"
)
declare -A GAPS=() LOSTS=() ACKED=() ERRORS=() RECOVERED=()
for ((run = 1; run <= RUNS; run++)); do
    for s in "${SYSTEMS[@]}"; do
        log "run $run/$RUNS: $s"
        RUN_ID=$((RUN_ID + 1)) RUN_NAME="$s-$run"
        case "$s" in
            redraft) run_redraft ;;
            rediscluster-*) run_rediscluster "${s#rediscluster-}" ;;
            etcd) run_etcd ;;
        esac
        GAPS[$s]+="$(printf '%.2f' "$(field gap_s "$RESULT")") "
        LOSTS[$s]+="$(field lost "$RESULT") "
        ACKED[$s]=$(( ${ACKED[$s]:-0} + $(field acked "$RESULT") ))
        ERRORS[$s]=$(( ${ERRORS[$s]:-0} + $(field errors "$RESULT") ))
        RECOVERED[$s]=$(( ${RECOVERED[$s]:-0} + $(field recovered "$RESULT") ))
    done
done

# ---------------------------------------------------------------------------
# report
# ---------------------------------------------------------------------------
median() {  # median "X Y Z" FORMAT
    local -a xs
    read -r -a xs <<<"$1"
    python3 -c 'import statistics, sys; print(format(statistics.median(float(x) for x in sys.argv[2:]), sys.argv[1]))' "$2" "${xs[@]}"
}
sum() { awk '{ for (i = 1; i <= NF; i++) s += $i } END { print s + 0 }' <<<"$1"; }

echo "### Unavailability and lost writes after SIGKILL of the leader/primary"
echo
echo "Unavailability: the longest time between two consecutive acknowledged writes, the later one after the kill (median over runs; every run in brackets). Lost: acknowledged writes missing or changed when read back from the survivors afterwards (median over runs; total over runs / writes acknowledged in all runs)."
echo
echo "| system | configuration | unavailability s, median | every run | lost writes, median | lost / acknowledged, all runs | failed attempts, all runs | target |"
echo "|---|---|---:|---|---:|---:|---:|---|"
for s in "${SYSTEMS[@]}"; do
    gap_median="$(median "${GAPS[$s]}" .2f)"
    lost_median="$(median "${LOSTS[$s]}" g)"
    lost_total="$(sum "${LOSTS[$s]}")"
    every="$(sed 's/ *$//; s/ /, /g' <<<"${GAPS[$s]}")"
    target="—"
    if [[ "$s" == redraft ]]; then
        target="≤ 1 s, 0 lost: $(awk -v g="$gap_median" -v l="$lost_total" -v r="${RECOVERED[$s]}" -v n="$RUNS" \
            'BEGIN { print (g <= 1 && l == 0 && r == n) ? "✓" : "✗" }')"
    fi
    if ((RECOVERED[$s] < RUNS)); then
        every+=" ($((RUNS - RECOVERED[$s])) run(s) never recovered within ${MAX_AFTER_KILL_S} s)"
    fi
    echo "| ${LABEL[$s]} | ${CONFIG[$s]} | $gap_median | [$every] | $lost_median | $lost_total / ${ACKED[$s]} | ${ERRORS[$s]} | $target |"
done
echo
log "done"
