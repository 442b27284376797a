#!/usr/bin/env bash
# Helpers shared by the bench/*.sh scripts (sourced, not run). They use the caller's WORKDIR,
# REDIS_CLI and STARTUP_TIMEOUT; the cluster helpers also use SUT (the redraft command as an
# array), ETCD and ETCDCTL, and append every process they start to the caller's PIDS array as
# soon as it exists, so that the caller's EXIT trap can stop it (stop_pids).

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

# start_server NAME cmd... ; sets STARTED_PID and STARTED_PORT (START_PORT=P start_server ...
# uses port P instead of a free one)
start_server() {
    local name="$1"; shift
    local exe="$1"
    if [[ "$exe" == */* ]]; then
        [[ -x "$exe" ]] || die "$name: '$exe' is not an executable file (build it or set REDRAFT_BIN)"
    else
        command -v "$exe" >/dev/null || die "$name: '$exe' not found in PATH"
    fi
    local port dir
    port="${START_PORT:-$(free_port)}"
    dir="$WORKDIR/$name"
    rm -rf "$dir"
    mkdir -p "$dir"
    "$@" --port "$port" --bind 127.0.0.1 --dir "$dir" --loglevel warning \
        >"$dir/server.log" 2>&1 </dev/null &
    STARTED_PID=$!
    # shellcheck disable=SC2034  # an output, read by the caller
    STARTED_PORT=$port
    local deadline=$((SECONDS + STARTUP_TIMEOUT))
    until [[ "$("$REDIS_CLI" -h 127.0.0.1 -p "$port" ping 2>/dev/null || true)" == "PONG" ]]; do
        kill -0 "$STARTED_PID" 2>/dev/null || { cat "$dir/server.log" >&2; die "$name exited during startup: $*"; }
        ((SECONDS < deadline)) || die "$name did not answer PING within ${STARTUP_TIMEOUT}s"
        sleep 0.05
    done
}

# write_set_load N FILE: SET key:%07d <100 bytes of "v"> for N keys, as RESP for redis-cli --pipe
write_set_load() {
    python3 - "$1" >"$2" <<'PY'
import sys
n = int(sys.argv[1])
value = b"v" * 100
out = sys.stdout.buffer
for i in range(n):
    key = b"key:%07d" % i
    out.write(b"*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$100\r\n%s\r\n" % (len(key), key, value))
PY
}

# pipe_load NAME PORT FILE: sends FILE's commands with redis-cli --pipe, or dies with its last words
pipe_load() {
    local out="$WORKDIR/pipe-$2.out"
    "$REDIS_CLI" -h 127.0.0.1 -p "$2" --pipe <"$3" >"$out" 2>&1 \
        || die "$1: redis-cli --pipe failed: $(tail -n 3 "$out")"
}

cli() { local port="$1"; shift; timeout 120 "$REDIS_CLI" -h 127.0.0.1 -p "$port" "$@"; }

info_field() {  # info_field PORT SECTION FIELD
    cli "$1" info "$2" | tr -d '\r' | awk -F: -v f="$3" '$1 == f { print $2; exit }'
}

# redraft_snapshot PORT: REDRAFT SNAPSHOT, then waits until the snapshot is taken and the log
# before it purged (at most 1000 entries left), so what remains in memory is the keyspace.
redraft_snapshot() {
    local port="$1"
    cli "$port" redraft snapshot >/dev/null
    local deadline=$((SECONDS + 600))
    until (($(info_field "$port" persistence raft_snapshot_index) > 0)) \
        && (($(info_field "$port" persistence raft_log_entries) <= 1000)); do
        ((SECONDS < deadline)) || die "no snapshot within 600 s"
        sleep 0.1
    done
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

# ---------------------------------------------------------------------------
# Used by bench/replication.sh and bench/failover.sh
# ---------------------------------------------------------------------------

need_cmd() {  # need_cmd CMD HOW_TO_INSTALL
    command -v "$1" >/dev/null || die "'$1' not found in PATH; install it with: $2"
}

need_python_module() {  # need_python_module MODULE HOW_TO_INSTALL
    python3 -c "import $1" 2>/dev/null || die "python3 cannot import '$1'; install it with: $2"
}

machine_desc() {  # one line: CPUs, model, RAM, kernel
    local model memtotal
    model="$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)"
    memtotal="$(awk '/^MemTotal:/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)"
    echo "$(nproc) CPUs, ${model:-unknown CPU}, ${memtotal}, Linux $(uname -r)"
}

cpu_idle_pct() {  # share of all CPUs idle over the next second (/proc/stat), as an integer
    local a b
    a="$(awk '/^cpu / { print $5 + $6, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9 }' /proc/stat)"
    sleep 1
    b="$(awk '/^cpu / { print $5 + $6, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9 }' /proc/stat)"
    awk -v a="$a" -v b="$b" 'BEGIN { split(a, x, " "); split(b, y, " ")
        t = y[2] - x[2]; printf "%d", (t > 0 ? 100 * (y[1] - x[1]) / t : 100) }'
}

idle_note() {  # a header line about what else keeps the CPUs busy
    local idle
    idle="$(cpu_idle_pct)"
    if ((idle < 90)); then
        echo "- **CPU idle before the run: ${idle}% — other processes were using the CPUs; the numbers below are disturbed.** Busiest (ps %CPU over each process's life): $(ps -eo pcpu=,comm= --sort=-pcpu | head -n 3 | awk '{ printf "%s%s (%s%%)", (NR > 1 ? ", " : ""), $2, $1 }')"
    else
        echo "- CPU idle before the run: ${idle}%"
    fi
}

stop_pids() {  # stops every PID in the caller's PIDS array, newest first
    local i
    for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do stop_pid "${PIDS[i]}"; done
    PIDS=()
}

# pick_bus_port: sets PICKED_PORT to a free port P whose cluster-bus port P+10000 is free too
# (Redis Cluster and Redraft both put their bus there), distinct from every port picked before
# in this run. It sets a variable rather than printing, since a $(...) subshell would lose
# USED_PORTS; nothing holds the ports until the servers bind them.
USED_PORTS=" "
pick_bus_port() {
    local port
    for _ in $(seq 100); do
        port="$(python3 -c '
import random, socket
p = random.randrange(16000, 28000)
for q in (p, p + 10000):
    s = socket.socket(); s.bind(("127.0.0.1", q)); s.close()
print(p)' 2>/dev/null)" || continue
        [[ "$USED_PORTS" == *" $port "* || "$USED_PORTS" == *" $((port + 10000)) "* ]] && continue
        USED_PORTS+="$port $((port + 10000)) "
        PICKED_PORT=$port
        return 0
    done
    die "no free port pair (P, P+10000) found"
}

wait_for_log() {  # wait_for_log FILE PATTERN PID WHAT: until grep -q PATTERN FILE, or die
    local file="$1" pattern="$2" pid="$3" what="$4"
    local deadline=$((SECONDS + STARTUP_TIMEOUT))
    until grep -q "$pattern" "$file" 2>/dev/null; do
        kill -0 "$pid" 2>/dev/null || { cat "$file" >&2; die "$what exited during startup"; }
        ((SECONDS < deadline)) || { cat "$file" >&2; die "$what did not log '$pattern' within ${STARTUP_TIMEOUT}s"; }
        sleep 0.05
    done
}

# start_redraft_cluster NAME N ARGS... : starts N Redraft nodes (--cluster-enabled yes plus ARGS),
# forms one group with `redraft cluster create`; sets NODE_PORTS and NODE_PIDS (same order) and
# LEADER_PORT.
start_redraft_cluster() {
    local name="$1" n="$2"; shift 2
    local i port dir out addrs=()
    NODE_PORTS=() NODE_PIDS=()
    for ((i = 1; i <= n; i++)); do
        pick_bus_port
        port=$PICKED_PORT
        dir="$WORKDIR/$name-$i"
        rm -rf "$dir"; mkdir -p "$dir"
        "${SUT[@]}" --port "$port" --bind 127.0.0.1 --dir "$dir" --cluster-enabled yes \
            --loglevel warning "$@" >"$dir/server.log" 2>&1 </dev/null &
        PIDS+=("$!") NODE_PIDS+=("$!") NODE_PORTS+=("$port") addrs+=("127.0.0.1:$port")
    done
    for ((i = 0; i < n; i++)); do
        wait_for_log "$WORKDIR/$name-$((i + 1))/server.log" "ready to accept connections" \
            "${NODE_PIDS[i]}" "redraft node on port ${NODE_PORTS[i]}"
    done
    out="$(timeout 60 "${SUT[@]}" cluster create "${addrs[@]}" 2>&1)" \
        || die "redraft cluster create ${addrs[*]} failed: $out"
    LEADER_PORT="$(sed -n 's/.*the leader is at 127\.0\.0\.1:\([0-9]*\).*/\1/p' <<<"$out")"
    [[ -n "$LEADER_PORT" ]] || die "redraft cluster create printed no leader: $out"
}

redraft_status_field() {  # redraft_status_field PORT FIELD (empty if the node does not answer)
    timeout 10 "${SUT[@]}" cluster status "127.0.0.1:$1" 2>/dev/null | tr -d '\r' \
        | awk -F: -v f="$2" '$1 == f { print $2; exit }' || true
}

redraft_leader_port() {  # redraft_leader_port PORT... : the port whose node says raft_role:leader
    local port
    for port in "$@"; do
        [[ "$(redraft_status_field "$port" raft_role)" == leader ]] && { echo "$port"; return 0; }
    done
    return 1
}

# start_etcd_cluster NAME N : starts an N-member etcd cluster (one --data-dir each, default
# heartbeat 100 ms / election timeout 1000 ms / snapshot count) and waits until every member
# reports the same leader; sets ETCD_PORTS (client ports), ETCD_PIDS (same order) and
# ETCD_ENDPOINTS (comma-separated host:port).
start_etcd_cluster() {
    local name="$1" n="$2"
    local i dir initial="" peers=()
    ETCD_PORTS=() ETCD_PIDS=()
    for ((i = 0; i < n; i++)); do
        pick_bus_port
        ETCD_PORTS+=("$PICKED_PORT")
        pick_bus_port
        peers+=("$PICKED_PORT")
        initial+="${initial:+,}$name-$i=http://127.0.0.1:${peers[i]}"
    done
    ETCD_ENDPOINTS="$(printf '127.0.0.1:%s,' "${ETCD_PORTS[@]}")"
    ETCD_ENDPOINTS="${ETCD_ENDPOINTS%,}"
    for ((i = 0; i < n; i++)); do
        dir="$WORKDIR/$name-$i"
        rm -rf "$dir"; mkdir -p "$dir"
        "$ETCD" --name "$name-$i" --data-dir "$dir/data" \
            --listen-client-urls "http://127.0.0.1:${ETCD_PORTS[i]}" \
            --advertise-client-urls "http://127.0.0.1:${ETCD_PORTS[i]}" \
            --listen-peer-urls "http://127.0.0.1:${peers[i]}" \
            --initial-advertise-peer-urls "http://127.0.0.1:${peers[i]}" \
            --initial-cluster "$initial" --initial-cluster-state new \
            --initial-cluster-token "$name-$$" --logger zap --log-level warn \
            >"$dir/etcd.log" 2>&1 </dev/null &
        PIDS+=("$!") ETCD_PIDS+=("$!")
    done
    local deadline=$((SECONDS + STARTUP_TIMEOUT))
    until etcd_leader_port >/dev/null; do
        for ((i = 0; i < n; i++)); do
            kill -0 "${ETCD_PIDS[i]}" 2>/dev/null \
                || { cat "$WORKDIR/$name-$i/etcd.log" >&2; die "etcd member $name-$i exited during startup"; }
        done
        ((SECONDS < deadline)) || die "etcd cluster $name elected no leader within ${STARTUP_TIMEOUT}s"
        sleep 0.1
    done
}

# etcd_leader_port : the client port of the member that every member of ETCD_ENDPOINTS names as
# leader (fails if they disagree, or one does not answer)
etcd_leader_port() {
    local json
    json="$(timeout 10 "$ETCDCTL" --endpoints="$ETCD_ENDPOINTS" --dial-timeout=1s \
        --command-timeout=2s endpoint status -w json 2>/dev/null)" || true
    python3 -c '
import json, sys
try:
    rows = json.loads(sys.argv[1])
except ValueError:
    sys.exit(1)
leaders = {r["Status"]["leader"] for r in rows}
if len(rows) == 0 or len(leaders) != 1 or 0 in leaders:
    sys.exit(1)
(leader,) = leaders
for r in rows:
    if r["Status"]["header"]["member_id"] == leader:
        print(r["Endpoint"].rsplit(":", 1)[1])
        sys.exit(0)
sys.exit(1)' "${json:-[]}"
}

etcd_revision() {  # etcd_revision ENDPOINT : the store revision (grows by one per put)
    timeout 10 "$ETCDCTL" --endpoints="$1" endpoint status -w json \
        | python3 -c 'import json, sys; print(json.load(sys.stdin)[0]["Status"]["header"]["revision"])'
}
