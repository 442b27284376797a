#!/usr/bin/env bash
# Benchmark Redraft against Redis 7 on this machine, interleaved row by row.
#
# Starts Debian's redis-server (--save '' --appendonly no) and the server under
# test ($REDRAFT_BIN, default target/release/redraft; may be a command with
# arguments; if it is a wrapper script it must `exec` the server so that CPU
# time can be read from /proc/PID/stat) on free ports, then for every row
# (test x pipeline x value size) runs redis-benchmark against Redis and then
# against Redraft, and prints markdown (paste into docs/benchmarks.md):
#   * throughput and p50/p99 latency for both,
#   * server CPU efficiency: requests per server CPU-second (utime+stime from
#     /proc/PID/stat fields 14+15, before/after each run),
#   * memory: bytes per key after loading N keys with 100-byte values
#     (SET key:%012d <100 random bytes> through redis-cli --pipe).
# Progress goes to stderr, the report to stdout.
#
# Usage: bench/compare.sh [--quick] [--clients C] [--mem-keys N] [--no-memory]
#   --quick        n=100000 per run and no 1 KiB rows (default: n=1000000 for
#                  -P 16 rows, n=200000 for -P 1 rows)
#   --clients C    redis-benchmark -c (default 50)
#   --mem-keys N   keys for the memory row (default 1000000)
#   --no-memory    skip the memory row
set -euo pipefail

ORIG_ARGS=("$@")
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
REDRAFT_BIN="${REDRAFT_BIN:-$REPO_ROOT/target/release/redraft}"
REDIS_SERVER="${REDIS_SERVER:-redis-server}"
REDIS_CLI="${REDIS_CLI:-redis-cli}"
REDIS_BENCHMARK="${REDIS_BENCHMARK:-redis-benchmark}"
STARTUP_TIMEOUT=15

QUICK=0
CLIENTS=50
MEM_KEYS=1000000
DO_MEMORY=1
while (($#)); do
    case "$1" in
        --quick) QUICK=1 ;;
        --clients) CLIENTS="$2"; shift ;;
        --mem-keys) MEM_KEYS="$2"; shift ;;
        --no-memory) DO_MEMORY=0 ;;
        -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
    esac
    shift
done

eval "SUT=($REDRAFT_BIN)"   # split like a shell would (quotes honoured)

WORKDIR="$(mktemp -d -t redraft-bench-XXXXXX)"
REDIS_PID="" REDRAFT_PID=""

# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cleanup() {
    stop_pid "$REDIS_PID"
    stop_pid "$REDRAFT_PID"
    rm -rf "$WORKDIR"
}
trap cleanup EXIT
trap 'exit 130' INT TERM


CLK_TCK="$(getconf CLK_TCK)"

# ---------------------------------------------------------------------------
# header
# ---------------------------------------------------------------------------
cmdline="$(printf '%q ' "$0" "${ORIG_ARGS[@]}")"
cmdline="${cmdline% }"
model="$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)"
memtotal="$(awk '/^MemTotal:/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)"

echo "## Redraft vs Redis benchmark ($(date -u '+%Y-%m-%d %H:%M UTC'))"
echo
echo "- Command: \`${cmdline}\`"
echo "- Server under test (REDRAFT_BIN): \`$REDRAFT_BIN\`"
echo "- Commit: $(git_rev)"
echo "- Machine: $(nproc) CPUs, ${model:-unknown CPU}, ${memtotal}, Linux $(uname -r)"
echo "- Redis: $("$REDIS_SERVER" --version | head -n1) (--save '' --appendonly no)"
echo "- Load generator: redis-benchmark on the same machine, -c $CLIENTS, keys without -r (one key per test)"
if ((QUICK)); then
    echo "- Mode: --quick (n=100000 per run, no 1 KiB rows)"
else
    echo "- Mode: default (n=1000000 per -P 16 run, n=200000 per -P 1 run)"
fi
echo

# ---------------------------------------------------------------------------
# servers
# ---------------------------------------------------------------------------
log "starting redis-server"
start_server redis "$REDIS_SERVER" --save '' --appendonly no
REDIS_PID=$STARTED_PID REDIS_PORT=$STARTED_PORT
log "starting server under test: ${SUT[*]}"
start_server redraft "${SUT[@]}"
REDRAFT_PID=$STARTED_PID REDRAFT_PORT=$STARTED_PORT
log "redis pid $REDIS_PID port $REDIS_PORT; redraft pid $REDRAFT_PID port $REDRAFT_PORT"

# ---------------------------------------------------------------------------
# throughput / latency / CPU rows
# ---------------------------------------------------------------------------
# bench_one PORT PID TEST PIPELINE SIZE N  -> sets B_RPS B_P50 B_P99 B_CPU B_OPS_PER_CPU
bench_one() {
    local port="$1" pid="$2" test="$3" pipeline="$4" size="$5" n="$6"
    local before after csv line incr_before=0 incr_after
    [[ "$test" == incr ]] && incr_before="$(cli "$port" get counter:__rand_int__)"
    before="$(cpu_ticks "$pid")"
    csv="$(timeout 900 "$REDIS_BENCHMARK" -h 127.0.0.1 -p "$port" -c "$CLIENTS" -n "$n" \
        -P "$pipeline" -d "$size" -t "$test" --csv 2>"$WORKDIR/bench.err")" \
        || die "redis-benchmark failed on port $port ($test -P $pipeline -d $size): $(cat "$WORKDIR/bench.err")"
    after="$(cpu_ticks "$pid")"
    line="$(grep -v '^"test"' <<<"$csv" | head -n1)"
    [[ -n "$line" ]] || die "no CSV result from redis-benchmark on port $port: $csv $(cat "$WORKDIR/bench.err")"
    # "TEST","rps","avg","min","p50","p95","p99","max"
    IFS=, read -r _ B_RPS _ _ B_P50 _ B_P99 _ <<<"${line//\"/}"
    B_CPU=$(awk -v t=$((after - before)) -v hz="$CLK_TCK" 'BEGIN { printf "%.2f", t / hz }')
    B_OPS_PER_CPU=$(awk -v n="$n" -v t=$((after - before)) -v hz="$CLK_TCK" \
        'BEGIN { if (t > 0) printf "%d", n / (t / hz); else print "n/a" }')
    # sanity: the server must really have executed the commands
    case "$test" in
        set|mset)
            local len
            len="$(cli "$port" strlen key:__rand_int__)"
            [[ "$len" == "$size" ]] || die "after $test -d $size on port $port: STRLEN key:__rand_int__ = $len"
            ;;
        incr)
            incr_after="$(cli "$port" get counter:__rand_int__)"
            (( ${incr_after:-0} - ${incr_before:-0} >= n )) \
                || die "after incr on port $port: counter grew by $(( ${incr_after:-0} - ${incr_before:-0} )), expected >= $n"
            ;;
        get)
            [[ "$(cli "$port" exists key:__rand_int__)" == 1 ]] || die "get row on port $port: key:__rand_int__ missing"
            ;;
    esac
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a + 0 > 0 && b != "n/a") printf "%.2fx", b / a; else print "n/a" }'; }
fmt_int() { awk -v x="$1" 'BEGIN { if (x == "n/a") print x; else printf "%d", x }'; }

ROWS=()
CPU_ROWS=()
sizes=(3 1024)
((QUICK)) && sizes=(3)
for pipeline in 1 16; do
    if ((QUICK)); then n=100000; elif ((pipeline == 1)); then n=200000; else n=1000000; fi
    for size in "${sizes[@]}"; do
        for test in set get incr mset; do
            # INCR ignores the value size: only one INCR row per pipeline depth
            [[ "$test" == incr && "$size" != 3 ]] && continue
            label="$test"; [[ "$test" == mset ]] && label="mset (10 keys)"
            log "$label -P $pipeline -d $size -n $n: redis"
            bench_one "$REDIS_PORT" "$REDIS_PID" "$test" "$pipeline" "$size" "$n"
            r_rps=$B_RPS r_p50=$B_P50 r_p99=$B_P99 r_cpu=$B_CPU r_opc=$B_OPS_PER_CPU
            log "$label -P $pipeline -d $size -n $n: redraft"
            bench_one "$REDRAFT_PORT" "$REDRAFT_PID" "$test" "$pipeline" "$size" "$n"
            d_rps=$B_RPS d_p50=$B_P50 d_p99=$B_P99 d_cpu=$B_CPU d_opc=$B_OPS_PER_CPU
            sz="$size B"; [[ "$test" == incr ]] && sz="-"
            ROWS+=("| $label | $pipeline | $sz | $(fmt_int "$r_rps") | $(fmt_int "$d_rps") | $(ratio "$r_rps" "$d_rps") | $r_p50 | $d_p50 | $r_p99 | $d_p99 |")
            CPU_ROWS+=("| $label | $pipeline | $sz | $n | $r_cpu | $d_cpu | $(fmt_int "$r_opc") | $(fmt_int "$d_opc") | $(ratio "$r_opc" "$d_opc") |")
        done
    done
done

echo "### Throughput and latency"
echo
echo "Each row: redis-benchmark -c $CLIENTS -P <pipeline> -d <size> -t <test>, Redis run first, then Redraft. Latencies in ms; ratio = Redraft / Redis."
echo
echo "| test | pipeline | value size | Redis ops/s | Redraft ops/s | ratio | Redis p50 | Redraft p50 | Redis p99 | Redraft p99 |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
printf '%s\n' "${ROWS[@]}"
echo
echo "### Server CPU efficiency"
echo
echo "Server CPU time (utime+stime, /proc/PID/stat) consumed during each run; ops per CPU-second = requests / CPU seconds (higher is better)."
echo
echo "| test | pipeline | value size | requests | Redis CPU s | Redraft CPU s | Redis ops/CPU-s | Redraft ops/CPU-s | ratio |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
printf '%s\n' "${CPU_ROWS[@]}"
echo

# ---------------------------------------------------------------------------
# memory
# ---------------------------------------------------------------------------
gen_keys() {  # RESP for SET key:%012d <100 random bytes>, deterministic
    python3 - "$MEM_KEYS" <<'EOF'
import random, sys
n = int(sys.argv[1])
rng = random.Random(42)
out = sys.stdout.buffer
chunk = []
for i in range(n):
    chunk.append(b"*3\r\n$3\r\nSET\r\n$16\r\nkey:%012d\r\n$100\r\n%s\r\n" % (i, rng.randbytes(100)))
    if len(chunk) == 10000:
        out.write(b"".join(chunk))
        chunk = []
out.write(b"".join(chunk))
EOF
}

# mem_one PORT PID -> sets M_BPK M_RSS_BPK M_KEYS M_USED
mem_one() {
    local port="$1" pid="$2" before after rss_before rss_after out
    [[ "$(cli "$port" flushall)" == OK ]] || die "FLUSHALL failed on port $port"
    before="$(info_field "$port" memory used_memory)"
    [[ -n "$before" ]] || die "INFO memory on port $port has no used_memory"
    rss_before="$(rss_bytes "$pid")"
    out="$(gen_keys | cli "$port" --pipe 2>&1)" || die "redis-cli --pipe failed on port $port: $out"
    grep -q "errors: 0, replies: $MEM_KEYS" <<<"$out" || die "unexpected --pipe result on port $port: $out"
    M_KEYS="$(cli "$port" dbsize)"
    [[ "$M_KEYS" == "$MEM_KEYS" ]] || die "DBSIZE on port $port is $M_KEYS, expected $MEM_KEYS"
    after="$(info_field "$port" memory used_memory)"
    rss_after="$(rss_bytes "$pid")"
    M_USED="$after"
    M_BPK=$(awk -v a="$after" -v b="$before" -v n="$M_KEYS" 'BEGIN { printf "%.1f", (a - b) / n }')
    M_RSS_BPK=$(awk -v a="$rss_after" -v b="$rss_before" -v n="$M_KEYS" 'BEGIN { printf "%.1f", (a - b) / n }')
}

if ((DO_MEMORY)); then
    log "memory: loading $MEM_KEYS keys into redis"
    mem_one "$REDIS_PORT" "$REDIS_PID"
    r_bpk=$M_BPK r_rss=$M_RSS_BPK r_used=$M_USED
    log "memory: loading $MEM_KEYS keys into redraft"
    mem_one "$REDRAFT_PORT" "$REDRAFT_PID"
    d_bpk=$M_BPK d_rss=$M_RSS_BPK d_used=$M_USED
    echo "### Memory"
    echo
    echo "FLUSHALL, then $MEM_KEYS × \`SET key:%012d <100 random bytes>\` via redis-cli --pipe. bytes/key = (used_memory after − before) / DBSIZE; RSS bytes/key from VmRSS likewise. ratio = Redraft / Redis (lower is better)."
    echo
    echo "| keys | Redis used_memory | Redraft used_memory | Redis bytes/key | Redraft bytes/key | ratio | Redis RSS bytes/key | Redraft RSS bytes/key |"
    echo "|---:|---:|---:|---:|---:|---:|---:|---:|"
    echo "| $MEM_KEYS | $r_used | $d_used | $r_bpk | $d_bpk | $(ratio "$r_bpk" "$d_bpk") | $r_rss | $d_rss |"
    echo
fi
log "done"
