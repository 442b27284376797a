#!/usr/bin/env bash
# Benchmark the cost of durability and replication: Redraft as a 3-node Raft group and as a
# cluster of one, against redis-server with an fsynced AOF and against a 3-member etcd
# cluster, all measured in the same run on this machine, one system at a time (the others
# are stopped, so that no idle cluster's heartbeats share the 2 cores):
#   a) Redraft, 3 nodes (--cluster-enabled yes, `redraft cluster create`, appendfsync
#      always: a write is acknowledged once a majority has it fsynced), load on the leader;
#   b) Redraft, cluster of one (--appendfsync always);
#   c) redis-server --appendonly yes --appendfsync always --save '';
#   d) redis-server --appendonly yes --appendfsync everysec --save '';
#   e) etcd, 3 members (every put is fsynced to a majority's WAL), under the equivalent put
#      load: 50 concurrent clients, each doing sequential gRPC Puts of random keys
#      key:%012d (100000 of them) with 3-byte values, driven by bench/loadgen.py etcd-put
#      (python3 + grpcio: etcd ships no load generator here, and `etcdctl check perf` only
#      checks that a fixed, rate-limited load gets through in 60 s; it measures no maximum).
#      etcd has no pipelining, so it has -P 1 numbers only.
# Redis and Redraft get redis-benchmark -c C -r 100000 -t set and -t incr, at -P 1 and -P 16
# (random keys, unlike compare.sh, so that writes spread over 100000 keys as etcd's do).
# After each run the script checks the server did the work (INFO commandstats calls grew by
# >= n with no failed calls; etcd's revision grew by >= n), that every Redraft node applied
# all the leader committed and that the Redraft leader's term did not change during the runs.
# Prints markdown (paste into docs/benchmarks.md): ops/s and p50/p99 per system, and the
# ratios Redraft-3 / etcd, Redraft-3 / Redis always, Redraft-3 / Redis everysec and
# Redraft-1 / Redis always beside their targets (>= 5x etcd, >= 1.0x Redis always).
# Progress goes to stderr, the report to stdout.
#
# Usage: bench/replication.sh [--quick] [--requests N] [--clients C]
#   --quick        n=10000 per -P 1 run (and etcd run), n=50000 per -P 16 run
#                  (default: 100000 and 500000)
#   --requests N   n per -P 1 run and etcd run; -P 16 runs do 5 x N
#   --clients C    redis-benchmark -c and etcd clients (default 50)
# Environment: REDRAFT_BIN (default target/release/redraft; the binary, or a wrapper that
# execs it and passes `cluster ...` through), REDIS_SERVER, REDIS_CLI, REDIS_BENCHMARK,
# ETCD, ETCDCTL.
set -euo pipefail

ORIG_ARGS=("$@")
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
REDRAFT_BIN="${REDRAFT_BIN:-$REPO_ROOT/target/release/redraft}"
REDIS_SERVER="${REDIS_SERVER:-redis-server}"
REDIS_CLI="${REDIS_CLI:-redis-cli}"
REDIS_BENCHMARK="${REDIS_BENCHMARK:-redis-benchmark}"
ETCD="${ETCD:-etcd}"
ETCDCTL="${ETCDCTL:-etcdctl}"
LOADGEN="$REPO_ROOT/bench/loadgen.py"
STARTUP_TIMEOUT=30
KEYSPACE=100000

QUICK=0
CLIENTS=50
REQUESTS=""
while (($#)); do
    case "$1" in
        --quick) QUICK=1 ;;
        --requests) REQUESTS="$2"; shift ;;
        --clients) CLIENTS="$2"; shift ;;
        -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
    esac
    shift
done
if [[ -z "$REQUESTS" ]]; then
    if ((QUICK)); then REQUESTS=10000; else REQUESTS=100000; fi
fi
[[ "$REQUESTS" =~ ^[1-9][0-9]*$ ]] || { echo "--requests must be a positive integer" >&2; exit 2; }
N_P1=$REQUESTS
N_P16=$((5 * REQUESTS))

eval "SUT=($REDRAFT_BIN)"   # split like a shell would (quotes honoured)

WORKDIR="$(mktemp -d -t redraft-replication-XXXXXX)"
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
need_cmd "$REDIS_BENCHMARK" "apt-get install redis-tools"
need_cmd "$ETCD" "apt-get install etcd-server"
need_cmd "$ETCDCTL" "apt-get install etcd-client"
need_cmd python3 "apt-get install python3"
need_python_module grpc "pip install grpcio (or apt-get install python3-grpcio for Debian's python3)"
[[ -x "${SUT[0]}" ]] || command -v "${SUT[0]}" >/dev/null \
    || die "'${SUT[0]}' is not executable: build it with cargo build --release -p server (or set REDRAFT_BIN)"

# ---------------------------------------------------------------------------
# header
# ---------------------------------------------------------------------------
cmdline="$(printf '%q ' "$0" "${ORIG_ARGS[@]}")"
cmdline="${cmdline% }"
fstype="$(stat -f -c %T "$WORKDIR")"

echo "## Replication benchmark: Redraft vs Redis AOF vs etcd ($(date -u '+%Y-%m-%d %H:%M UTC'))"
echo
echo "- Command: \`${cmdline}\`"
echo "- Server under test (REDRAFT_BIN): \`$REDRAFT_BIN\`"
echo "- Commit: $(git_rev)"
echo "- Machine: $(machine_desc)"
idle_note
echo "- Data directories: under \`$(dirname "$WORKDIR")\` ($fstype$([[ "$fstype" == tmpfs ]] && echo ": fsync costs nothing here, the fsynced rows are not meaningful"))"
echo "- Redis: $("$REDIS_SERVER" --version | head -n1)"
echo "- etcd: $("$ETCD" --version | head -n1 | sed 's/^etcd Version: //'), 3 members, default heartbeat (100 ms), election timeout (1000 ms) and snapshot count"
echo "- Load: redis-benchmark -c $CLIENTS -r $KEYSPACE, -t set and -t incr (3-byte values), n=$N_P1 at -P 1 and n=$N_P16 at -P 16; etcd: bench/loadgen.py etcd-put, $CLIENTS concurrent clients each doing sequential gRPC Puts of random keys (keyspace $KEYSPACE, 3-byte values), n=$N_P1, over one gRPC connection (HTTP/2, multiplexed)"
echo "- Systems run one after another, each alone on the machine; the load generator runs on the same 2 cores as the servers"
echo

CLK_TCK="$(getconf CLK_TCK)"

cpu_ticks_sum() {  # cpu_ticks_sum PID... : utime+stime of all of them
    local pid total=0
    for pid in "$@"; do total=$((total + $(cpu_ticks "$pid"))); done
    echo "$total"
}

# cmdstat PORT CMD -> "calls failed" from INFO commandstats ("0 0" if absent)
cmdstat() {
    cli "$1" info commandstats | tr -d '\r' | awk -F'[:,=]' -v k="cmdstat_$2" '
        $1 == k { for (i = 2; i < NF; i += 2) v[$i] = $(i + 1); found = 1 }
        END { if (found) print v["calls"] + 0, v["failed_calls"] + 0; else print "0 0" }'
}

# Results, keyed "system|test|pipeline": ops/s, "p50 / p99", server CPU-s (read through cell's
# nameref, which shellcheck cannot follow)
# shellcheck disable=SC2034
declare -A RPS=() LAT=() CPU=()

# bench_redis SYSTEM PORT TEST PIPELINE N PID... : one redis-benchmark run, checked
bench_redis() {
    local system="$1" port="$2" test="$3" pipeline="$4" n="$5"; shift 5
    local csv line rps p50 p99 before after st_before st_after calls failed
    log "$system: $test -P $pipeline -n $n"
    st_before="$(cmdstat "$port" "$test")"
    before="$(cpu_ticks_sum "$@")"
    csv="$(timeout 900 "$REDIS_BENCHMARK" -h 127.0.0.1 -p "$port" -c "$CLIENTS" -n "$n" \
        -r "$KEYSPACE" -P "$pipeline" -t "$test" --csv 2>"$WORKDIR/bench.err")" \
        || die "redis-benchmark failed on $system ($test -P $pipeline): $(cat "$WORKDIR/bench.err")"
    after="$(cpu_ticks_sum "$@")"
    st_after="$(cmdstat "$port" "$test")"
    line="$(grep -v '^"test"' <<<"$csv" | head -n1)"
    [[ -n "$line" ]] || die "no CSV result from redis-benchmark on $system: $csv $(cat "$WORKDIR/bench.err")"
    # "TEST","rps","avg","min","p50","p95","p99","max"
    IFS=, read -r _ rps _ _ p50 _ p99 _ <<<"${line//\"/}"
    read -r calls failed <<<"$(awk -v a="$st_after" -v b="$st_before" \
        'BEGIN { split(a, x, " "); split(b, y, " "); print x[1] - y[1], x[2] - y[2] }')"
    ((calls >= n)) || die "$system $test -P $pipeline: INFO commandstats cmdstat_$test calls grew by $calls, expected >= $n"
    ((failed == 0)) || die "$system $test -P $pipeline: $failed failed $test calls"
    RPS["$system|$test|$pipeline"]="$rps"
    LAT["$system|$test|$pipeline"]="$p50 / $p99"
    CPU["$system|$test|$pipeline"]=$(awk -v t=$((after - before)) -v hz="$CLK_TCK" 'BEGIN { printf "%.2f", t / hz }')
}

bench_redis_all() {  # bench_redis_all SYSTEM PORT PID...
    local system="$1" port="$2"; shift 2
    local pipeline test n
    for pipeline in 1 16; do
        if ((pipeline == 1)); then n=$N_P1; else n=$N_P16; fi
        for test in set incr; do
            bench_redis "$system" "$port" "$test" "$pipeline" "$n" "$@"
        done
    done
}

# ---------------------------------------------------------------------------
# a) Redraft, 3 nodes
# ---------------------------------------------------------------------------
log "a) starting a 3-node Redraft group"
start_redraft_cluster redraft3 3 --appendfsync always
log "redraft nodes on ports ${NODE_PORTS[*]} (pids ${NODE_PIDS[*]}), leader on $LEADER_PORT"
term_before="$(redraft_status_field "$LEADER_PORT" raft_term)"
bench_redis_all redraft3 "$LEADER_PORT" "${NODE_PIDS[@]}"
[[ "$(redraft_status_field "$LEADER_PORT" raft_role)" == leader ]] \
    || die "the Redraft leader on port $LEADER_PORT lost leadership during the runs"
term_after="$(redraft_status_field "$LEADER_PORT" raft_term)"
[[ "$term_before" == "$term_after" ]] \
    || die "the Redraft term changed from $term_before to $term_after during the runs (an election under load)"
# Every node must apply everything the leader committed: replication really happened.
leader_commit="$(redraft_status_field "$LEADER_PORT" raft_commit_index)"
((leader_commit > 1)) || die "Redraft leader's commit index is $leader_commit after the runs"
deadline=$((SECONDS + 30))
for port in "${NODE_PORTS[@]}"; do
    until (($(redraft_status_field "$port" raft_applied_index) >= leader_commit)); do
        ((SECONDS < deadline)) || die "Redraft node on port $port did not apply up to index $leader_commit within 30 s"
        sleep 0.2
    done
done
log "all 3 Redraft nodes applied up to index $leader_commit; term $term_after throughout"
stop_pids

# ---------------------------------------------------------------------------
# b) Redraft, cluster of one
# ---------------------------------------------------------------------------
log "b) starting Redraft as a cluster of one"
start_server redraft1 "${SUT[@]}" --appendfsync always
PIDS+=("$STARTED_PID")
bench_redis_all redraft1 "$STARTED_PORT" "$STARTED_PID"
stop_pids

# ---------------------------------------------------------------------------
# c), d) redis-server with an fsynced AOF
# ---------------------------------------------------------------------------
for fsync in always everysec; do
    log "starting redis-server --appendonly yes --appendfsync $fsync"
    start_server "redis-$fsync" "$REDIS_SERVER" --save '' --appendonly yes --appendfsync "$fsync"
    PIDS+=("$STARTED_PID")
    [[ "$(cli "$STARTED_PORT" config get appendfsync | tail -n1)" == "$fsync" ]] \
        || die "redis-server did not take --appendfsync $fsync"
    bench_redis_all "redis-$fsync" "$STARTED_PORT" "$STARTED_PID"
    stop_pids
done

# ---------------------------------------------------------------------------
# e) etcd, 3 members
# ---------------------------------------------------------------------------
log "e) starting a 3-member etcd cluster"
start_etcd_cluster etcd 3
etcd_leader="$(etcd_leader_port)"
log "etcd members on ports ${ETCD_PORTS[*]} (pids ${ETCD_PIDS[*]}), leader on $etcd_leader"
rev_before="$(etcd_revision "127.0.0.1:$etcd_leader")"
log "etcd: put x $N_P1 ($CLIENTS clients)"
before="$(cpu_ticks_sum "${ETCD_PIDS[@]}")"
json="$(timeout 1800 python3 "$LOADGEN" etcd-put --endpoint "127.0.0.1:$etcd_leader" \
    --clients "$CLIENTS" --requests "$N_P1" --keyspace "$KEYSPACE" --value-size 3 2>"$WORKDIR/loadgen.err")" \
    || die "etcd load generator failed: $(tail -n 20 "$WORKDIR/loadgen.err")"
after="$(cpu_ticks_sum "${ETCD_PIDS[@]}")"
rev_after="$(etcd_revision "127.0.0.1:$etcd_leader")"
# The load generator's warm-up put is one more revision.
((rev_after - rev_before >= N_P1 + 1)) \
    || die "etcd revision grew by $((rev_after - rev_before)), expected >= $((N_P1 + 1)) puts"
[[ "$(etcd_leader_port)" == "$etcd_leader" ]] || die "the etcd leader changed during the run"
read -r e_rps e_p50 e_p99 e_client_cpu e_seconds <<<"$(python3 -c '
import json, sys
r = json.loads(sys.argv[1])
print(r["rps"], r["p50_ms"], r["p99_ms"], r["client_cpu_s"], r["seconds"])' "$json")"
RPS["etcd|set|1"]="$e_rps"
# shellcheck disable=SC2034
LAT["etcd|set|1"]="$e_p50 / $e_p99"
CPU["etcd|set|1"]=$(awk -v t=$((after - before)) -v hz="$CLK_TCK" 'BEGIN { printf "%.2f", t / hz }')
stop_pids

# ---------------------------------------------------------------------------
# report
# ---------------------------------------------------------------------------
fmt_int() { awk -v x="$1" 'BEGIN { if (x !~ /^[0-9.]+$/) print x; else printf "%d", x }'; }
# ratio A B TARGET -> "A/B" as 1.23x, with a check mark against TARGET (a minimum; "-": none)
ratio() {
    awk -v a="${1:-}" -v b="${2:-}" -v t="$3" 'BEGIN {
        if (a !~ /^[0-9.]+$/ || b !~ /^[0-9.]+$/ || b + 0 == 0) { print "n/a"; exit }
        r = a / b; s = sprintf("%.2fx", r)
        if (t != "-") s = s (r >= t ? " ✓" : " ✗")
        print s }'
}

SYSTEMS=(redraft3 redraft1 redis-always redis-everysec etcd)
declare -A LABEL=(
    [redraft3]="Redraft, 3 nodes (load on the leader)"
    [redraft1]="Redraft, cluster of one"
    [redis-always]="Redis, AOF appendfsync always"
    [redis-everysec]="Redis, AOF appendfsync everysec"
    [etcd]="etcd, 3 members (gRPC Put, no pipelining)"
)
declare -A DURABILITY=(
    [redraft3]="appendfsync always on every node; replied once committed (in a majority's log)"
    [redraft1]="fsynced before the reply"
    [redis-always]="fsynced before the reply"
    [redis-everysec]="fsynced within ~1 s (a crash loses up to ~1 s)"
    [etcd]="fsynced on a majority (2 of 3) before the reply"
)
COLS=("set|1" "incr|1" "set|16" "incr|16")
cell() {  # cell ARRAY SYSTEM COL
    local -n arr="$1"
    local v="${arr["$2|$3"]:-}"
    if [[ -n "$v" ]]; then echo "$v"
    elif [[ "$2" == etcd && "$3" == *"|16" ]]; then echo "n/a (no pipelining)"
    else echo "n/a"; fi
}

echo "### Throughput (ops/s)"
echo
echo "etcd's SET column is its put rate under the equivalent load (etcd has no INCR: a read-modify-write would be a transaction, not comparable; and no pipelining)."
echo
echo "| system | durability | SET -P 1 | INCR -P 1 | SET -P 16 | INCR -P 16 |"
echo "|---|---|---:|---:|---:|---:|"
for s in "${SYSTEMS[@]}"; do
    row="| ${LABEL[$s]} | ${DURABILITY[$s]} |"
    for c in "${COLS[@]}"; do row+=" $(fmt_int "$(cell RPS "$s" "$c")") |"; done
    echo "$row"
done
echo
echo "### Latency (p50 / p99 ms) and server CPU"
echo
echo "Latency as seen by the load generator. Server CPU: utime+stime of all the system's server processes during the run (/proc/PID/stat), in seconds."
echo
echo "| system | SET -P 1 | INCR -P 1 | SET -P 16 | INCR -P 16 | server CPU s (SET -P 1 / INCR -P 1 / SET -P 16 / INCR -P 16) |"
echo "|---|---:|---:|---:|---:|---:|"
for s in "${SYSTEMS[@]}"; do
    row="| ${LABEL[$s]} |"
    cpus=()
    for c in "${COLS[@]}"; do
        row+=" $(cell LAT "$s" "$c") |"
        cpus+=("${CPU["$s|$c"]:--}")
    done
    joined="$(printf '%s / ' "${cpus[@]}")"
    echo "$row ${joined% / } |"
done
echo
echo "etcd load generator (python3, grpcio, asyncio): ${e_client_cpu} CPU-s over ${e_seconds} s of run, on the same 2 cores as the servers; redis-benchmark is C and costs less per request, so this handicaps etcd somewhat."
echo
echo "### Ratios"
echo
echo "✓ / ✗: target met or not. Against etcd only -P 1 SET is comparable (a put is a SET; etcd cannot pipeline)."
echo
echo "| ratio | SET -P 1 | INCR -P 1 | SET -P 16 | INCR -P 16 | target |"
echo "|---|---:|---:|---:|---:|---|"
ratio_row() {  # ratio_row LABEL NUMERATOR DENOMINATOR TARGET TARGET_TEXT
    local row="| $1 |" c
    for c in "${COLS[@]}"; do
        if [[ "$3" == etcd && "$c" != "set|1" ]]; then row+=" n/a |"; continue; fi
        row+=" $(ratio "${RPS["$2|$c"]:-}" "${RPS["$3|$c"]:-}" "$4") |"
    done
    echo "$row $5 |"
}
ratio_row "Redraft 3 nodes / etcd" redraft3 etcd 5 "≥ 5×"
ratio_row "Redraft 3 nodes / Redis always" redraft3 redis-always 1 "≥ 1.0×"
ratio_row "Redraft 3 nodes / Redis everysec" redraft3 redis-everysec - "— (Redis everysec can lose ~1 s of acknowledged writes)"
ratio_row "Redraft 1 node / Redis always" redraft1 redis-always 1 "≥ 1.0×"
echo
log "done"
