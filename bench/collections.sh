#!/usr/bin/env bash
# Benchmark Redraft against Redis 7 on collection commands (lists, hashes,
# sets, sorted sets), interleaved row by row. Companion of bench/compare.sh,
# with the same conventions and output format.
#
# Starts Debian's redis-server (--save '' --appendonly no) and the server under
# test ($REDRAFT_BIN, default target/release/redraft; may be a command with
# arguments; if it is a wrapper script it must `exec` the server so that CPU
# time can be read from /proc/PID/stat) on free ports, preloads zbench (sorted
# set, 1000 members `member:%09d` with scores 0..999), hbench (hash, same 1000
# fields, value = index) and sbench (set, same 1000 members) on both, then for
# every row (test x pipeline) runs redis-benchmark against Redis and then
# against Redraft, and prints markdown (paste into docs/benchmarks.md):
#   * throughput and p50/p99 latency for both,
#   * server CPU efficiency: requests per server CPU-second (utime+stime from
#     /proc/PID/stat fields 14+15, before/after each run),
#   * memory: used_memory delta per element after loading one big hash, one
#     big set, one big sorted set, one big list (N elements `member:%09d`,
#     1000 per HSET/SADD/ZADD/RPUSH via redis-cli --pipe), N keys holding a
#     10-field hash each, N keys holding a 10-element list each and N keys
#     holding a 10-member sorted set each; every memory row runs on freshly
#     started servers, one at a time.
# Rows: built-in redis-benchmark tests lpush, lpop, sadd, hset, spop, zadd,
# lrange_100 (-t <test>, keys mylist/myset/myhash/myzset) and the custom
# commands ZRANGE zbench 0 99, ZRANGEBYSCORE zbench 100 199, ZSCORE, HGET,
# SISMEMBER on the preloaded keys. After each run the script checks that the
# server did the work: INFO commandstats call counts grew by >= n with no
# failed calls, plus key state (LLEN/SCARD/HGET/ZSCORE...) for the built-ins;
# replies of the custom commands must be identical on both servers. Commands
# the server under test does not know at all ("ERR unknown command", probed
# with an argument-less call at startup) turn their rows into "unsupported"
# (Redis is still measured); any other failure aborts the run.
# Progress goes to stderr, the report to stdout.
#
# Usage: bench/collections.sh [--quick] [--clients C] [--rounds R] [--pipelines "1 16"]
#                             [--only LABEL,...] [--mem-elements N]
#                             [--no-memory] [--no-throughput]
#   --quick            n=100000 per run and 200000 elements per memory row
#                      (default: n=1000000 for -P 16 rows, n=200000 for -P 1
#                      rows, 1000000 elements per memory row)
#   --clients C        redis-benchmark -c (default 50)
#   --rounds R         run every row R times, Redis and Redraft alternately,
#                      and report each side's median run (by ops/s) and the
#                      range (default 1; use an odd R)
#   --pipelines P      the -P values to run (default "1 16")
#   --only LABELS      only these rows, by label, comma-separated (e.g.
#                      "lrange_100,ZRANGE 0 99,ZRANGEBYSCORE 100 199")
#   --mem-elements N   elements (and keys for the 10-field-hash row) per
#                      memory row; must be a multiple of 1000
#   --no-memory        skip the memory rows
#   --no-throughput    skip the redis-benchmark rows
set -euo pipefail

ORIG_ARGS=("$@")
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
REDRAFT_BIN="${REDRAFT_BIN:-$REPO_ROOT/target/release/redraft}"
REDIS_SERVER="${REDIS_SERVER:-redis-server}"
REDIS_CLI="${REDIS_CLI:-redis-cli}"
REDIS_BENCHMARK="${REDIS_BENCHMARK:-redis-benchmark}"
STARTUP_TIMEOUT=15
BATCH=1000          # elements per HSET/SADD/ZADD when loading
PRELOAD_N=1000      # elements of zbench / hbench / sbench

QUICK=0
ROUNDS=1
PIPELINES="1 16"
ONLY=""
CLIENTS=50
MEM_ELEMENTS=""
DO_MEMORY=1
DO_THROUGHPUT=1
while (($#)); do
    case "$1" in
        --quick) QUICK=1 ;;
        --clients) CLIENTS="$2"; shift ;;
        --rounds) ROUNDS="$2"; shift ;;
        --pipelines) PIPELINES="$2"; shift ;;
        --only) ONLY="$2"; shift ;;
        --mem-elements) MEM_ELEMENTS="$2"; shift ;;
        --no-memory) DO_MEMORY=0 ;;
        --no-throughput) DO_THROUGHPUT=0 ;;
        -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
    esac
    shift
done
if [[ -z "$MEM_ELEMENTS" ]]; then
    if ((QUICK)); then MEM_ELEMENTS=200000; else MEM_ELEMENTS=1000000; fi
fi
[[ "$MEM_ELEMENTS" =~ ^[1-9][0-9]*$ ]] && ((MEM_ELEMENTS % BATCH == 0)) \
    || { echo "--mem-elements must be a positive multiple of $BATCH" >&2; exit 2; }

[[ "$ROUNDS" =~ ^[1-9][0-9]*$ ]] || { echo "--rounds must be a positive integer" >&2; exit 2; }

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

start_redis() {
    log "starting redis-server"
    start_server redis "$REDIS_SERVER" --save '' --appendonly no
    REDIS_PID=$STARTED_PID REDIS_PORT=$STARTED_PORT
}
start_redraft() {
    log "starting server under test: ${SUT[*]}"
    start_server redraft "${SUT[@]}"
    REDRAFT_PID=$STARTED_PID REDRAFT_PORT=$STARTED_PORT
    probe_sut "$REDRAFT_PORT"
}

CLK_TCK="$(getconf CLK_TCK)"

# cmdstat PORT CMD -> "calls failed" from INFO commandstats ("0 0" if absent)
cmdstat() {
    cli "$1" info commandstats | tr -d '\r' | awk -F'[:,=]' -v k="cmdstat_$2" '
        $1 == k { for (i = 2; i < NF; i += 2) v[$i] = $(i + 1); found = 1 }
        END { if (found) print v["calls"] + 0, v["failed_calls"] + 0; else print "0 0" }'
}

# Commands the server under test answers with "unknown command" (probed once,
# with no arguments, so nothing is executed).
PROBE_CMDS=(LPUSH LPOP LLEN LRANGE SADD SPOP SISMEMBER SCARD HSET HGET HLEN ZADD ZRANGE ZRANGEBYSCORE ZSCORE ZCARD DBSIZE)
declare -A UNSUP=()
PROBED=0
probe_sut() {  # probe_sut PORT
    ((PROBED)) && return 0
    PROBED=1
    local c r
    for c in "${PROBE_CMDS[@]}"; do
        [[ "$c" == DBSIZE ]] && continue   # takes no arguments; needed by compare.sh already
        r="$(cli "$1" "$c" 2>&1 || true)"
        [[ "$r" == *"unknown command"* ]] && UNSUP[$c]=1
    done
    if ((${#UNSUP[@]})); then
        log "WARNING: the server under test does not know $(unsupported_list); rows needing them are reported as unsupported"
    fi
    return 0
}
supported() {  # supported CMD... -> true if the server under test knows all of them
    local c
    for c in "$@"; do [[ -z "${UNSUP[$c]:-}" ]] || return 1; done
}
unsupported_list() { printf '%s\n' "${!UNSUP[@]}" | sort | paste -sd, - | sed 's/,/, /g'; }
unsupported_note() {
    if ((${#UNSUP[@]})); then
        echo "**Not implemented by the server under test (\"unknown command\"): $(unsupported_list).** Rows that need them show \"unsupported\"; Redis was still measured."
        echo
    fi
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a + 0 > 0 && b ~ /^[0-9.]+$/) printf "%.2fx", b / a; else print "n/a" }'; }
# median_run RUN... -> the run ("rps p50 p99 cpu ops_per_cpu gen_us") with the median ops/s
# (the lower middle one for an even count)
median_run() { printf '%s\n' "$@" | sort -g -k1,1 | sed -n "$((($# + 1) / 2))p"; }
# rps_range RUN... -> "min–max" ops/s over the runs
rps_range() { printf '%s\n' "$@" | awk 'NR == 1 || $1 < lo { lo = $1 } NR == 1 || $1 > hi { hi = $1 } END { printf "%d–%d", lo, hi }'; }
fmt_int() { awk -v x="$1" 'BEGIN { if (x !~ /^[0-9.]+$/) print x; else printf "%d", x }'; }

# ---------------------------------------------------------------------------
# RESP generator: gen KIND KEY N
#   hash    HSET KEY member:%09d <index> ...   (BATCH fields per command)
#   set     SADD KEY member:%09d ...           (BATCH members per command)
#   zset    ZADD KEY <index> member:%09d ...   (BATCH members per command)
#   objects HSET KEY%09d field0 value-0 ... field9 value-9   (one per key)
#   zobjects ZADD KEY%09d 0 member-0 ... 9 member-9          (one per key)
# ---------------------------------------------------------------------------
gen() {
    python3 - "$1" "$2" "$3" "$BATCH" <<'EOF'
import sys
kind, key, n, batch = sys.argv[1], sys.argv[2].encode(), int(sys.argv[3]), int(sys.argv[4])
out = sys.stdout.buffer

def bulk(b):
    return b"$%d\r\n%s\r\n" % (len(b), b)

if kind in ("objects", "zobjects", "lobjects"):
    if kind == "lobjects":
        tail = b"".join(bulk(b"element-%d" % j) for j in range(10))
        head = b"*12\r\n$5\r\nRPUSH\r\n"
    elif kind == "objects":
        tail = b"".join(bulk(b"field%d" % j) + bulk(b"value-%d" % j) for j in range(10))
        head = b"*22\r\n$4\r\nHSET\r\n"
    else:
        tail = b"".join(bulk(b"%d" % j) + bulk(b"member-%d" % j) for j in range(10))
        head = b"*22\r\n$4\r\nZADD\r\n"
    klen = len(key) + 9
    buf = []
    for i in range(n):
        buf.append(head + b"$%d\r\n%s%09d\r\n" % (klen, key, i) + tail)
        if len(buf) == 10000:
            out.write(b"".join(buf))
            buf = []
    out.write(b"".join(buf))
else:
    name = {"hash": b"HSET", "set": b"SADD", "zset": b"ZADD", "list": b"RPUSH"}[kind]
    per = 1 if kind in ("set", "list") else 2
    for start in range(0, n, batch):
        end = min(n, start + batch)
        parts = [b"*%d\r\n" % (2 + per * (end - start)), bulk(name), bulk(key)]
        for i in range(start, end):
            m = bulk(b"member:%09d" % i)
            if kind == "hash":
                parts += [m, bulk(b"%d" % i)]
            elif kind in ("set", "list"):
                parts.append(m)
            else:
                parts += [bulk(b"%d" % i), m]
        out.write(b"".join(parts))
EOF
}

# load PORT KIND KEY N: pipe gen output into the server, check the reply count
load() {
    local port="$1" kind="$2" key="$3" n="$4" expect out
    if [[ "$kind" == *objects ]]; then expect="$n"; else expect=$(((n + BATCH - 1) / BATCH)); fi
    out="$(gen "$kind" "$key" "$n" | timeout 900 "$REDIS_CLI" -h 127.0.0.1 -p "$port" --pipe 2>&1)" \
        || die "redis-cli --pipe failed on port $port ($kind $key $n): $out"
    grep -q "errors: 0, replies: $expect" <<<"$out" \
        || die "unexpected --pipe result on port $port ($kind $key $n): $out"
}

expect_eq() {  # expect_eq WHAT GOT WANTED
    [[ "$2" == "$3" ]] || die "$1: got '$2', expected '$3'"
}

# ---------------------------------------------------------------------------
# header
# ---------------------------------------------------------------------------
cmdline="$(printf '%q ' "$0" "${ORIG_ARGS[@]}")"
cmdline="${cmdline% }"
model="$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)"
memtotal="$(awk '/^MemTotal:/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)"

echo "## Redraft vs Redis collections benchmark ($(date -u '+%Y-%m-%d %H:%M UTC'))"
echo
echo "- Command: \`${cmdline}\`"
echo "- Server under test (REDRAFT_BIN): \`$REDRAFT_BIN\`"
echo "- Commit: $(git_rev)"
echo "- Machine: $(nproc) CPUs, ${model:-unknown CPU}, ${memtotal}, Linux $(uname -r)"
echo "- Redis: $("$REDIS_SERVER" --version | head -n1) (--save '' --appendonly no)"
echo "- Load generator: redis-benchmark on the same machine, -c $CLIENTS, -d 3, keys without -r (one key per test)"
if ((QUICK)); then
    echo "- Mode: --quick (n=100000 per run, $MEM_ELEMENTS elements per memory row)"
else
    echo "- Mode: default (n=1000000 per -P 16 run, n=200000 per -P 1 run, $MEM_ELEMENTS elements per memory row)"
fi
echo

# ---------------------------------------------------------------------------
# throughput / latency / CPU rows
# ---------------------------------------------------------------------------
# Row specs: "label|kind|arg|commands needed (run + checks + preload)";
# kind builtin -> arg is the -t test name, kind custom -> arg is the command
# line run by redis-benchmark.
M500="member:000000500"
ROW_SPECS=(
    "lpush|builtin|lpush|LPUSH LLEN"
    "lpop|builtin|lpop|LPOP LLEN"
    "sadd|builtin|sadd|SADD SISMEMBER"
    "hset|builtin|hset|HSET HGET"
    "spop|builtin|spop|SPOP SCARD"
    "zadd|builtin|zadd|ZADD ZSCORE"
    "lrange_100|builtin|lrange_100|LPUSH LRANGE"
    "ZRANGE 0 99|custom|ZRANGE zbench 0 99|ZADD ZCARD ZRANGE"
    "ZRANGEBYSCORE 100 199|custom|ZRANGEBYSCORE zbench 100 199|ZADD ZCARD ZRANGEBYSCORE"
    "ZSCORE|custom|ZSCORE zbench $M500|ZADD ZCARD ZSCORE"
    "HGET|custom|HGET hbench $M500|HSET HLEN HGET"
    "SISMEMBER|custom|SISMEMBER sbench $M500|SADD SCARD SISMEMBER"
)

# preload PORT ALL: zbench, hbench, sbench (ALL=0: only what the server under
# test supports)
preload() {
    local port="$1" all="$2"
    [[ "$(cli "$port" flushall)" == OK ]] || die "FLUSHALL failed on port $port"
    if ((all)) || supported ZADD ZCARD; then
        load "$port" zset zbench "$PRELOAD_N"
        expect_eq "ZCARD zbench on port $port" "$(cli "$port" zcard zbench)" "$PRELOAD_N"
    fi
    if ((all)) || supported HSET HLEN; then
        load "$port" hash hbench "$PRELOAD_N"
        expect_eq "HLEN hbench on port $port" "$(cli "$port" hlen hbench)" "$PRELOAD_N"
    fi
    if ((all)) || supported SADD SCARD; then
        load "$port" set sbench "$PRELOAD_N"
        expect_eq "SCARD sbench on port $port" "$(cli "$port" scard sbench)" "$PRELOAD_N"
    fi
}

# custom_reply_check: the custom commands must give the expected answer on
# Redis and the identical answer on Redraft
custom_reply_check() {
    local spec label kind arg needs r d nlines
    for spec in "${ROW_SPECS[@]}"; do
        IFS='|' read -r label kind arg needs <<<"$spec"
        [[ "$kind" == custom ]] || continue
        read -r -a words <<<"$arg"
        r="$(cli "$REDIS_PORT" "${words[@]}")"
        case "${words[0]}" in
            ZRANGE|ZRANGEBYSCORE)
                nlines="$(wc -l <<<"$r")"
                expect_eq "Redis: $arg (number of members)" "$nlines" 100 ;;
            ZSCORE|HGET) expect_eq "Redis: $arg" "$r" 500 ;;
            SISMEMBER) expect_eq "Redis: $arg" "$r" 1 ;;
        esac
        # shellcheck disable=SC2086
        supported $needs || continue
        d="$(cli "$REDRAFT_PORT" "${words[@]}")"
        [[ "$r" == "$d" ]] || die "Redraft's reply to '$arg' differs from Redis's: $(head -c 300 <<<"$d")"
    done
    expect_eq "Redis: ZRANGE zbench 0 99 (first, last)" "$(cli "$REDIS_PORT" zrange zbench 0 99 | sed -n '1p;$p' | tr '\n' ' ')" "member:000000000 member:000000099 "
    expect_eq "Redis: ZRANGEBYSCORE zbench 100 199 (first, last)" "$(cli "$REDIS_PORT" zrangebyscore zbench 100 199 | sed -n '1p;$p' | tr '\n' ' ')" "member:000000100 member:000000199 "
}

# children_ticks: CPU time (utime+stime) of this shell's waited-for descendants, in clock ticks
# (fields 16 and 17 of /proc/$$/stat); the difference around a redis-benchmark run is what
# the load generator spent.
children_ticks() { awk '{ print $16 + $17 }' "/proc/$$/stat"; }

# bench_one PORT PID LABEL KIND ARG PIPELINE N -> sets B_RPS B_P50 B_P99 B_CPU B_OPS_PER_CPU
# B_GEN_US (the load generator's CPU microseconds per request)
bench_one() {
    local port="$1" pid="$2" label="$3" kind="$4" arg="$5" pipeline="$6" n="$7"
    local before after csv line title want cmd st_before st_after calls failed state_before=""
    local -a args words
    if [[ "$kind" == builtin ]]; then
        args=(-t "$arg")
        case "$arg" in
            lrange_100) cmd=lrange; want="LRANGE_100 (first 100 elements)" ;;
            *) cmd="$arg"; want="${arg^^}" ;;
        esac
    else
        read -r -a words <<<"$arg"
        args=("${words[@]}")
        cmd="${words[0],,}"; want="$arg"
    fi
    case "$arg" in
        lpush|lpop) state_before="$(cli "$port" llen mylist)" ;;
    esac
    st_before="$(cmdstat "$port" "$cmd")"
    before="$(cpu_ticks "$pid")"
    local gen_before gen_after
    gen_before="$(children_ticks)"
    csv="$(timeout 900 "$REDIS_BENCHMARK" -h 127.0.0.1 -p "$port" -c "$CLIENTS" -n "$n" \
        -P "$pipeline" --csv "${args[@]}" 2>"$WORKDIR/bench.err")" \
        || die "redis-benchmark failed on port $port ($label -P $pipeline): $(cat "$WORKDIR/bench.err")"
    gen_after="$(children_ticks)"
    after="$(cpu_ticks "$pid")"
    st_after="$(cmdstat "$port" "$cmd")"
    # lrange_100 prints an "LPUSH (needed to benchmark LRANGE)" row first: take the last row
    line="$(grep -v '^"test"' <<<"$csv" | tail -n1)"
    [[ -n "$line" ]] || die "no CSV result from redis-benchmark on port $port: $csv $(cat "$WORKDIR/bench.err")"
    # "TEST","rps","avg","min","p50","p95","p99","max"
    IFS=, read -r title B_RPS _ _ B_P50 _ B_P99 _ <<<"${line//\"/}"
    [[ "$title" == "$want" ]] || die "redis-benchmark on port $port: result row '$title', expected '$want'"
    B_CPU=$(awk -v t=$((after - before)) -v hz="$CLK_TCK" 'BEGIN { printf "%.2f", t / hz }')
    B_GEN_US=$(awk -v n="$n" -v t=$((gen_after - gen_before)) -v hz="$CLK_TCK" \
        'BEGIN { printf "%.1f", t / hz / n * 1e6 }')
    B_OPS_PER_CPU=$(awk -v n="$n" -v t=$((after - before)) -v hz="$CLK_TCK" \
        'BEGIN { if (t > 0) printf "%d", n / (t / hz); else print "n/a" }')

    # sanity: the server must really have executed the commands
    read -r calls failed <<<"$(awk -v a="$st_after" -v b="$st_before" \
        'BEGIN { split(a, x, " "); split(b, y, " "); print x[1] - y[1], x[2] - y[2] }')"
    ((calls >= n)) || die "$label -P $pipeline on port $port: INFO commandstats cmdstat_$cmd calls grew by $calls, expected >= $n"
    ((failed == 0)) || die "$label -P $pipeline on port $port: $failed failed $cmd calls"
    local got
    case "$arg" in
        lpush)
            got="$(cli "$port" llen mylist)"
            ((got - state_before >= n)) || die "after lpush on port $port: LLEN mylist grew from $state_before to $got, expected +$n" ;;
        lpop)
            got="$(cli "$port" llen mylist)"
            ((state_before - got >= (n < state_before ? n : state_before))) \
                || die "after lpop on port $port: LLEN mylist went from $state_before to $got, expected -$n" ;;
        sadd) expect_eq "after sadd on port $port: SISMEMBER myset element:__rand_int__" \
                  "$(cli "$port" sismember myset element:__rand_int__)" 1 ;;
        hset) got="$(cli "$port" hget myhash element:__rand_int__)"
              expect_eq "after hset on port $port: length of HGET myhash element:__rand_int__" "${#got}" 3 ;;
        spop) expect_eq "after spop on port $port: SCARD myset" "$(cli "$port" scard myset)" 0 ;;
        zadd) expect_eq "after zadd on port $port: ZSCORE myzset element:__rand_int__" \
                  "$(cli "$port" zscore myzset element:__rand_int__)" 0 ;;
        lrange_100) expect_eq "after lrange_100 on port $port: LRANGE mylist 0 99 | wc -l" \
                  "$(cli "$port" lrange mylist 0 99 | wc -l)" 100 ;;
    esac
}

if ((DO_THROUGHPUT)); then
    start_redis
    start_redraft
    log "redis pid $REDIS_PID port $REDIS_PORT; redraft pid $REDRAFT_PID port $REDRAFT_PORT"
    log "preloading zbench / hbench / sbench ($PRELOAD_N elements each)"
    preload "$REDIS_PORT" 1
    preload "$REDRAFT_PORT" 0
    custom_reply_check

    ROWS=()
    CPU_ROWS=()
    for pipeline in $PIPELINES; do
        if ((QUICK)); then n=100000; elif ((pipeline == 1)); then n=200000; else n=1000000; fi
        for spec in "${ROW_SPECS[@]}"; do
            IFS='|' read -r label kind arg needs <<<"$spec"
            [[ -z "$ONLY" || ",$ONLY," == *",$label,"* ]] || continue
            r_runs=() d_runs=()
            for ((round = 1; round <= ROUNDS; round++)); do
                log "$label -P $pipeline -n $n: redis (round $round of $ROUNDS)"
                bench_one "$REDIS_PORT" "$REDIS_PID" "$label" "$kind" "$arg" "$pipeline" "$n"
                r_runs+=("$B_RPS $B_P50 $B_P99 $B_CPU $B_OPS_PER_CPU $B_GEN_US")
                # shellcheck disable=SC2086
                if supported $needs; then
                    log "$label -P $pipeline -n $n: redraft (round $round of $ROUNDS)"
                    bench_one "$REDRAFT_PORT" "$REDRAFT_PID" "$label" "$kind" "$arg" "$pipeline" "$n"
                    d_runs+=("$B_RPS $B_P50 $B_P99 $B_CPU $B_OPS_PER_CPU $B_GEN_US")
                fi
            done
            read -r r_rps r_p50 r_p99 r_cpu r_opc r_gen <<<"$(median_run "${r_runs[@]}")"
            r_range="$(rps_range "${r_runs[@]}")"
            if ((${#d_runs[@]})); then
                read -r d_rps d_p50 d_p99 d_cpu d_opc d_gen <<<"$(median_run "${d_runs[@]}")"
                d_range="$(rps_range "${d_runs[@]}")"
            else
                log "$label: unsupported by the server under test, skipped"
                d_rps=unsupported d_p50=- d_p99=- d_cpu=- d_opc=unsupported d_gen=- d_range=-
            fi
            cpu_label="$label"; [[ "$arg" == lrange_100 ]] && cpu_label="lrange_100 (incl. LPUSH prelude)"
            range_cols=""
            ((ROUNDS > 1)) && range_cols=" $r_range | $d_range |"
            ROWS+=("| $label | $pipeline | $(fmt_int "$r_rps") | $(fmt_int "$d_rps") | $(ratio "$r_rps" "$d_rps") |$range_cols $r_p50 | $d_p50 | $r_p99 | $d_p99 |")
            CPU_ROWS+=("| $cpu_label | $pipeline | $n | $r_cpu | $d_cpu | $(fmt_int "$r_opc") | $(fmt_int "$d_opc") | $(ratio "$r_opc" "$d_opc") | $r_gen | $d_gen |")
        done
    done
    stop_pid "$REDIS_PID"; REDIS_PID=""
    stop_pid "$REDRAFT_PID"; REDRAFT_PID=""

    echo "### Rows"
    echo
    echo "Built-in redis-benchmark tests (\`-t <test>\`, -d 3, no -r, so every request hits one key and one member):"
    echo
    echo "- lpush: \`LPUSH mylist <3 bytes>\`; lpop: \`LPOP mylist\` (pops what lpush pushed)"
    echo "- sadd: \`SADD myset element:__rand_int__\` (same member every time); spop: \`SPOP myset\` (the set has one member, so all but the first SPOP answer nil)"
    echo "- hset: \`HSET myhash element:__rand_int__ <3 bytes>\` (same field every time)"
    echo "- zadd: \`ZADD myzset 0 element:__rand_int__\` (same member every time)"
    echo "- lrange_100: \`LRANGE mylist 0 99\` on a list of >= n elements; redis-benchmark first runs n × \`LPUSH mylist\` (not reported in the throughput table, but included in the CPU time)"
    echo
    echo "Custom commands (\`redis-benchmark ... <command line>\`) on keys preloaded before the runs: zbench = sorted set of $PRELOAD_N members \`member:%09d\` with scores 0..$((PRELOAD_N - 1)); hbench = hash with the same $PRELOAD_N fields, value = index; sbench = set of the same $PRELOAD_N members:"
    echo
    echo "- ZRANGE 0 99: \`ZRANGE zbench 0 99\` (100 members); ZRANGEBYSCORE 100 199: \`ZRANGEBYSCORE zbench 100 199\` (100 members)"
    echo "- ZSCORE: \`ZSCORE zbench $M500\`; HGET: \`HGET hbench $M500\`; SISMEMBER: \`SISMEMBER sbench $M500\`"
    echo
    unsupported_note
    echo "Checks: after each run INFO commandstats must show >= n calls and no failed calls for the command, plus LLEN/SISMEMBER/HGET/SCARD/ZSCORE/LRANGE of the built-in keys; the custom commands' replies were compared between the servers before the runs."
    echo
    echo "### Throughput and latency"
    echo
    if ((ROUNDS > 1)); then
        echo "Each row: redis-benchmark -c $CLIENTS -P <pipeline>, $ROUNDS rounds, Redis and Redraft alternately; each side's median run by ops/s (its latencies and CPU below) and the range over the rounds. Latencies in ms; ratio = Redraft / Redis."
        echo
        echo "| test | pipeline | Redis ops/s | Redraft ops/s | ratio | Redis range | Redraft range | Redis p50 | Redraft p50 | Redis p99 | Redraft p99 |"
        echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    else
        echo "Each row: redis-benchmark -c $CLIENTS -P <pipeline>, Redis run first, then Redraft. Latencies in ms; ratio = Redraft / Redis."
        echo
        echo "| test | pipeline | Redis ops/s | Redraft ops/s | ratio | Redis p50 | Redraft p50 | Redis p99 | Redraft p99 |"
        echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
    fi
    printf '%s\n' "${ROWS[@]}"
    echo
    echo "### Server CPU efficiency"
    echo
    echo "Server CPU time (utime+stime, /proc/PID/stat) consumed during each run; ops per CPU-second = requests / CPU seconds (higher is better). For lrange_100 the CPU time includes the n LPUSHes redis-benchmark runs first, requests counts only the LRANGEs. Load generator µs/request: redis-benchmark's own CPU time per request in the same run; near 1e6 / ops/s, the load generator (not the server) set the pace of the row."
    echo
    echo "| test | pipeline | requests | Redis CPU s | Redraft CPU s | Redis ops/CPU-s | Redraft ops/CPU-s | ratio | load generator µs/request (Redis) | (Redraft) |"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    printf '%s\n' "${CPU_ROWS[@]}"
    echo
fi

# ---------------------------------------------------------------------------
# memory
# ---------------------------------------------------------------------------
# mem_one NAME KIND N -> sets M_DELTA M_BPE M_RSS_BPE; starts and stops the server
mem_one() {
    local name="$1" kind="$2" n="$3" port pid before after rss_before rss_after
    if [[ "$name" == redis ]]; then start_redis; port=$REDIS_PORT pid=$REDIS_PID
    else start_redraft; port=$REDRAFT_PORT pid=$REDRAFT_PID; fi
    if [[ "$name" == redraft ]] && ! supported "${MEM_NEEDS[@]}"; then
        log "memory: $kind: unsupported by the server under test, skipped"
        M_DELTA=unsupported M_BPE=unsupported M_RSS_BPE=-
        stop_pid "$pid"; REDRAFT_PID=""
        return 0
    fi
    # One write first, so that whatever a server sets up on its first write (or lazily after it
    # starts) is in the baseline rather than in the row.
    cli "$port" set __warmup 1 >/dev/null && cli "$port" del __warmup >/dev/null
    before="$(info_field "$port" memory used_memory)"
    [[ -n "$before" ]] || die "INFO memory on port $port has no used_memory"
    rss_before="$(rss_bytes "$pid")"
    case "$kind" in
        hash)
            load "$port" hash bighash "$n"
            expect_eq "$name: HLEN bighash" "$(cli "$port" hlen bighash)" "$n"
            expect_eq "$name: HGET bighash member:$(printf %09d $((n - 1)))" \
                "$(cli "$port" hget bighash "member:$(printf %09d $((n - 1)))")" $((n - 1)) ;;
        set)
            load "$port" set bigset "$n"
            expect_eq "$name: SCARD bigset" "$(cli "$port" scard bigset)" "$n" ;;
        zset)
            load "$port" zset bigzset "$n"
            expect_eq "$name: ZCARD bigzset" "$(cli "$port" zcard bigzset)" "$n"
            expect_eq "$name: ZSCORE bigzset member:$(printf %09d $((n - 1)))" \
                "$(cli "$port" zscore bigzset "member:$(printf %09d $((n - 1)))")" $((n - 1)) ;;
        list)
            load "$port" list biglist "$n"
            expect_eq "$name: LLEN biglist" "$(cli "$port" llen biglist)" "$n"
            expect_eq "$name: LINDEX biglist -1" "$(cli "$port" lindex biglist -1)" "member:$(printf %09d $((n - 1)))" ;;
        lobjects)
            load "$port" lobjects lobj: "$n"
            expect_eq "$name: DBSIZE" "$(cli "$port" dbsize)" "$n"
            expect_eq "$name: LLEN lobj:$(printf %09d $((n - 1)))" "$(cli "$port" llen "lobj:$(printf %09d $((n - 1)))")" 10
            expect_eq "$name: LINDEX lobj:000000000 9" "$(cli "$port" lindex lobj:000000000 9)" element-9 ;;
        objects)
            load "$port" objects obj: "$n"
            expect_eq "$name: DBSIZE" "$(cli "$port" dbsize)" "$n"
            expect_eq "$name: HLEN obj:$(printf %09d $((n - 1)))" "$(cli "$port" hlen "obj:$(printf %09d $((n - 1)))")" 10
            expect_eq "$name: HGET obj:000000000 field9" "$(cli "$port" hget obj:000000000 field9)" value-9 ;;
        zobjects)
            load "$port" zobjects zobj: "$n"
            expect_eq "$name: DBSIZE" "$(cli "$port" dbsize)" "$n"
            expect_eq "$name: ZCARD zobj:$(printf %09d $((n - 1)))" "$(cli "$port" zcard "zobj:$(printf %09d $((n - 1)))")" 10
            expect_eq "$name: ZSCORE zobj:000000000 member-9" "$(cli "$port" zscore zobj:000000000 member-9)" 9 ;;
    esac
    # The Raft log holds every write until a snapshot covers it: take one and purge the log, so
    # the row measures the data, as Redis's does.
    [[ "$name" == redraft ]] && redraft_snapshot "$port"
    after="$(info_field "$port" memory used_memory)"
    rss_after="$(rss_bytes "$pid")"
    M_DELTA=$((after - before))
    M_BPE=$(awk -v d="$M_DELTA" -v n="$n" 'BEGIN { printf "%.1f", d / n }')
    M_RSS_BPE=$(awk -v a="$rss_after" -v b="$rss_before" -v n="$n" 'BEGIN { printf "%.1f", (a - b) / n }')
    stop_pid "$pid"
    if [[ "$name" == redis ]]; then REDIS_PID=""; else REDRAFT_PID=""; fi
}

if ((DO_MEMORY)); then
    MEM_ROWS=()
    for spec in "hash|one hash, $MEM_ELEMENTS fields|field|HSET HLEN HGET" \
                "set|one set, $MEM_ELEMENTS members|member|SADD SCARD" \
                "zset|one sorted set, $MEM_ELEMENTS members|member|ZADD ZCARD ZSCORE" \
                "list|one list, $MEM_ELEMENTS elements|element|RPUSH LLEN LINDEX" \
                "objects|$MEM_ELEMENTS keys × 10-field hash|key|HSET HLEN HGET DBSIZE" \
                "lobjects|$MEM_ELEMENTS keys × 10-element list|key|RPUSH LLEN LINDEX DBSIZE" \
                "zobjects|$MEM_ELEMENTS keys × 10-member sorted set|key|ZADD ZCARD ZSCORE DBSIZE"; do
        IFS='|' read -r kind label unit needs <<<"$spec"
        read -r -a MEM_NEEDS <<<"$needs"
        log "memory: $label: redis"
        mem_one redis "$kind" "$MEM_ELEMENTS"
        r_delta=$M_DELTA r_bpe=$M_BPE r_rss=$M_RSS_BPE
        log "memory: $label: redraft"
        mem_one redraft "$kind" "$MEM_ELEMENTS"
        d_delta=$M_DELTA d_bpe=$M_BPE d_rss=$M_RSS_BPE
        MEM_ROWS+=("| $label | $unit | $r_delta | $d_delta | $r_bpe | $d_bpe | $(ratio "$r_bpe" "$d_bpe") | $r_rss | $d_rss |")
    done
    echo "### Memory"
    echo
    echo "Each row on freshly started servers (one at a time), loaded via redis-cli --pipe:"
    echo
    echo "- one hash: \`HSET bighash member:%09d <index> ...\`, one set: \`SADD bigset member:%09d ...\`, one sorted set: \`ZADD bigzset <index> member:%09d ...\` ($BATCH elements per command)"
    echo "- one list: \`RPUSH biglist member:%09d ...\` ($BATCH elements per command)"
    echo "- 10-field hash per key: \`HSET obj:%09d field0 value-0 ... field9 value-9\`"
    echo "- 10-element list per key: \`RPUSH lobj:%09d element-0 ... element-9\`"
    echo "- 10-member sorted set per key: \`ZADD zobj:%09d 0 member-0 ... 9 member-9\`"
    echo
    unsupported_note
    echo "bytes/elem = (used_memory after − before) / elements (per key for the rows of many keys); RSS likewise from VmRSS. ratio = Redraft / Redis (lower is better)."
    echo
    echo "| data | element | Redis used_memory Δ | Redraft used_memory Δ | Redis bytes/elem | Redraft bytes/elem | ratio | Redis RSS bytes/elem | Redraft RSS bytes/elem |"
    echo "|---|---|---:|---:|---:|---:|---:|---:|---:|"
    printf '%s\n' "${MEM_ROWS[@]}"
    echo
fi
log "done"
