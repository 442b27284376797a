#!/usr/bin/env bash
# How long writes stall while a snapshot of N keys (default 1,000,000, 100-byte values) is
# taken: Redraft (a cluster of one, REDRAFT SNAPSHOT) beside redis-server (BGSAVE), in the same
# run on this machine, one system at a time (Redis twice: without persistence, and with
# appendfsync always like Redraft, whose SETs then wait for the disk the snapshot is written
# to). For each: load N keys with redis-cli --pipe, start a
# client doing sequential SETs (redis-py, one connection) for --seconds, trigger the snapshot
# one second in, and wait for it to finish. Reported: how long the server held its state still
# (Redraft's raft_snapshot_held_usec, Redis's latest_fork_usec: both the fork when the snapshot
# is written by a child), the worst and 99.9th-percentile SET latency while the snapshot ran,
# the SETs done meanwhile, and the time until the snapshot was complete.
# Progress goes to stderr, a markdown report (paste into docs/benchmarks.md) to stdout.
#
# Usage: bench/snapshot_stall.sh [--keys N] [--seconds S]
# Environment: REDRAFT_BIN (default target/release/redraft), REDIS_SERVER, REDIS_CLI.
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
REDRAFT_BIN="${REDRAFT_BIN:-$REPO_ROOT/target/release/redraft}"
REDIS_SERVER="${REDIS_SERVER:-redis-server}"
REDIS_CLI="${REDIS_CLI:-redis-cli}"
STARTUP_TIMEOUT=120
# shellcheck source=bench/lib.sh
source "$REPO_ROOT/bench/lib.sh"

KEYS=1000000
SECONDS_RUN=8
while (($#)); do
    case "$1" in
        --keys) KEYS="$2"; shift ;;
        --seconds) SECONDS_RUN="$2"; shift ;;
        -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown argument: $1" ;;
    esac
    shift
done
[[ "$KEYS" =~ ^[1-9][0-9]*$ ]] || die "--keys must be a positive integer"
[[ "$SECONDS_RUN" =~ ^[1-9][0-9]*$ ]] || die "--seconds must be a positive integer"
need_cmd "$REDIS_SERVER" "apt-get install redis-server"
need_cmd "$REDIS_CLI" "apt-get install redis-tools"
need_python_module redis "pip install redis"

WORKDIR="$(mktemp -d /tmp/redraft-snapshot-stall.XXXXXX)"
PIDS=()
cleanup() {
    stop_pids
    rm -rf "$WORKDIR"
}
trap cleanup EXIT

log "generating $KEYS SET commands"
write_set_load "$KEYS" "$WORKDIR/load.resp"

# The writer: sequential SETs for the run; the snapshot is triggered by the caller one second in.
# Prints one line: SETs during the snapshot, worst and p99.9 latency (ms) during it.
cat >"$WORKDIR/writer.py" <<'PY'
import sys, threading, time
import redis
port, seconds, trigger, done_check = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3], sys.argv[4]
c = redis.Redis(port=port, socket_timeout=60)
admin = redis.Redis(port=port, socket_timeout=60)
samples = []  # (start, latency)
window = {}

def snapshot():
    time.sleep(1.0)
    window["start"] = time.monotonic()
    admin.execute_command(*trigger.split())
    # Wait until the snapshot is complete (a field of INFO persistence changes).
    field, before = done_check.split("=")
    while str(admin.info("persistence").get(field)) == before:
        time.sleep(0.005)
    window["end"] = time.monotonic()

t = threading.Thread(target=snapshot)
t.start()
end = time.monotonic() + seconds
i = 0
while time.monotonic() < end or "end" not in window:
    start = time.monotonic()
    c.set("stall:%d" % (i % 1000), "x" * 100)
    samples.append((start, time.monotonic() - start))
    i += 1
t.join()
during = sorted(l for s, l in samples if window["start"] <= s + l and s <= window["end"])
worst = during[-1] * 1000 if during else 0.0
p999 = during[min(len(during) - 1, int(len(during) * 0.999))] * 1000 if during else 0.0
print(f"{len(during)} {worst:.2f} {p999:.2f} {window['end'] - window['start']:.2f}")
PY

ROWS=()
# run_system NAME TRIGGER DONE_FIELD HELD_FIELD cmd... : load, snapshot under writes, report
run_system() {
    local name="$1" trigger="$2" done_field="$3" held_field="$4"; shift 4
    start_server "$name" "$@"
    local pid=$STARTED_PID port=$STARTED_PORT
    PIDS+=("$pid")
    log "$name: loading $KEYS keys"
    pipe_load "$name" "$port" "$WORKDIR/load.resp"
    local before
    before="$(info_field "$port" persistence "$done_field")"
    log "$name: writing for ${SECONDS_RUN}s with a snapshot one second in"
    local result
    result="$(python3 "$WORKDIR/writer.py" "$port" "$SECONDS_RUN" "$trigger" "$done_field=$before")"
    local held rss
    held="$(info_field "$port" persistence "$held_field")"
    [[ -z "$held" ]] && held="$(info_field "$port" stats "$held_field")"
    rss="$(awk '/VmRSS/ { printf "%.0f", $2 / 1024 }' "/proc/$pid/status")"
    read -r sets worst p999 took <<<"$result"
    log "$name: held ${held} us, worst SET ${worst} ms, p99.9 ${p999} ms, ${sets} SETs, snapshot ${took} s"
    ROWS+=("| $name | $(awk -v u="$held" 'BEGIN { printf "%.2f", u / 1000 }') | $worst | $p999 | $sets | $took | $rss |")
    stop_pid "$pid"
}

run_system "Redraft" "redraft snapshot" raft_snapshot_index raft_snapshot_held_usec \
    "$REDRAFT_BIN" --appendfsync always --snapshot-entries 1000000000
run_system "Redis, no persistence" "bgsave" rdb_last_save_time latest_fork_usec \
    "$REDIS_SERVER" --save "" --appendonly no
run_system "Redis, AOF always" "bgsave" rdb_last_save_time latest_fork_usec \
    "$REDIS_SERVER" --save "" --appendonly yes --appendfsync always \
    --auto-aof-rewrite-percentage 0

cat <<EOF
## Write stall while a snapshot is taken ($(date -u '+%Y-%m-%d %H:%M UTC'))

- Command: \`bench/snapshot_stall.sh --keys $KEYS --seconds $SECONDS_RUN\`
- Commit: $(git_rev)
- Machine: $(machine_desc)
- Redis: $("$REDIS_SERVER" --version) (BGSAVE; --save '', and --appendonly no or --appendonly yes --appendfsync always)
- Redraft: cluster of one, appendfsync always, REDRAFT SNAPSHOT
- Load: SET key:%07d with a 100-byte value for each of $KEYS keys (redis-cli --pipe); then one
  redis-py client doing sequential SETs, the snapshot triggered one second in

| system | state held still, ms | worst SET during the snapshot, ms | p99.9 SET, ms | SETs during it | snapshot took, s | RSS, MiB |
|---|---:|---:|---:|---:|---:|---:|
$(printf '%s\n' "${ROWS[@]}")
EOF
