#!/usr/bin/env bash
# redis-cli compatibility checks for Redraft.
#
# Starts the server under test ($REDRAFT_BIN, default target/release/redraft;
# may be a command with arguments, e.g. "redis-server --save '' --appendonly no")
# with --port <free> --bind 127.0.0.1 --dir <tmpdir>, then drives it with
# redis-cli.  Stops at the first failure (exit 1); prints "N passed, 0 failed".
#
# Usage: tests/compat/test_redis_cli.sh
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
REDRAFT_BIN="${REDRAFT_BIN:-$REPO_ROOT/target/release/redraft}"
REDIS_CLI="${REDIS_CLI:-redis-cli}"
STARTUP_TIMEOUT="${STARTUP_TIMEOUT:-15}"   # seconds

eval "SUT=($REDRAFT_BIN)"   # split like a shell would (quotes honoured)

PASSED=0
SERVER_PID=""
TMPDIR_SUT="$(mktemp -d -t redraft-cli-XXXXXX)"

cleanup() {
    if [[ -n "$SERVER_PID" ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill "$SERVER_PID" 2>/dev/null || true
        # wait up to 5 s, then SIGKILL
        for _ in $(seq 50); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    rm -rf "$TMPDIR_SUT"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

fail() {
    echo "FAIL: $*" >&2
    if [[ -f "$TMPDIR_SUT/server.log" ]]; then
        echo "--- server log (tail) ---" >&2
        tail -n 20 "$TMPDIR_SUT/server.log" >&2 || true
    fi
    echo "$PASSED passed, 1 failed" >&2
    exit 1
}

pass() {
    PASSED=$((PASSED + 1))
    echo "ok $PASSED - $*"
}

# expect_eq DESCRIPTION EXPECTED ACTUAL
expect_eq() {
    if [[ "$2" == "$3" ]]; then
        pass "$1"
    else
        fail "$1: expected $(printf '%q' "$2"), got $(printf '%q' "$3")"
    fi
}

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

cli() { timeout 60 "$REDIS_CLI" -h 127.0.0.1 -p "$PORT" "$@"; }

# ---------------------------------------------------------------------------
# start the server under test
# ---------------------------------------------------------------------------
if [[ "${SUT[0]}" == */* ]]; then
    [[ -x "${SUT[0]}" ]] || fail "server under test '${SUT[0]}' is not an executable file (set REDRAFT_BIN)"
else
    command -v "${SUT[0]}" >/dev/null || fail "server under test '${SUT[0]}' not found in PATH"
fi

PORT="$(free_port)"
"${SUT[@]}" --port "$PORT" --bind 127.0.0.1 --dir "$TMPDIR_SUT" \
    >"$TMPDIR_SUT/server.log" 2>&1 </dev/null &
SERVER_PID=$!

deadline=$((SECONDS + STARTUP_TIMEOUT))
until [[ "$("$REDIS_CLI" -h 127.0.0.1 -p "$PORT" ping 2>/dev/null || true)" == "PONG" ]]; do
    kill -0 "$SERVER_PID" 2>/dev/null || fail "server under test exited during startup: ${SUT[*]}"
    ((SECONDS < deadline)) || fail "server under test did not answer PING within ${STARTUP_TIMEOUT}s"
    sleep 0.05
done
echo "# server under test: ${SUT[*]} (pid $SERVER_PID, port $PORT)"

# ---------------------------------------------------------------------------
# checks
# ---------------------------------------------------------------------------
expect_eq "ping" "PONG" "$(cli ping)"
expect_eq "ping with message" "hello" "$(cli ping hello)"
expect_eq "set" "OK" "$(cli set greeting 'hello world')"
expect_eq "get" "hello world" "$(cli get greeting)"
expect_eq "get missing key prints empty" "" "$(cli get no-such-key)"
expect_eq "incr" "1" "$(cli incr counter)"
expect_eq "repeat (-r 5) incr" "$(printf '2\n3\n4\n5\n6')" "$(cli -r 5 incr counter)"
expect_eq "error reply text" "ERR value is not an integer or out of range" "$(cli incr greeting 2>&1)"
expect_eq "unknown command" "ERR unknown command 'nosuchcmd', with args beginning with: 'x' " "$(cli nosuchcmd x 2>&1)"
expect_eq "mget (nil prints as an empty line)" "$(printf 'hello world\n\n6')" "$(cli mget greeting nokey counter)"
expect_eq "select db with -n" "OK" "$(cli -n 3 set in-db-3 yes)"
expect_eq "dbsize of db 3" "1" "$(cli -n 3 dbsize)"
expect_eq "key not visible in db 0" "0" "$(cli exists in-db-3)"
expect_eq "binary value via -x (stdin)" "OK" "$(printf 'line1\nline2' | cli -x set fromstdin)"
expect_eq "strlen of stdin value" "11" "$(cli strlen fromstdin)"
expect_eq "flushall" "OK" "$(cli flushall)"

# --- mass insertion with --pipe (100000 SETs in RESP) ---------------------
N=100000
python3 - "$N" >"$TMPDIR_SUT/mass.resp" <<'EOF'
import sys
n = int(sys.argv[1])
out = sys.stdout.buffer
buf = []
for i in range(n):
    k = b"mass:%d" % i
    v = b"value-%d" % i
    buf.append(b"*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n" % (len(k), k, len(v), v))
out.write(b"".join(buf))
EOF
pipe_out="$(cli --pipe <"$TMPDIR_SUT/mass.resp" 2>&1)" || fail "redis-cli --pipe exited non-zero: $pipe_out"
grep -q "errors: 0, replies: $N" <<<"$pipe_out" || fail "redis-cli --pipe summary unexpected: $pipe_out"
pass "redis-cli --pipe mass insertion of $N SETs (errors: 0, replies: $N)"
expect_eq "dbsize after mass insertion" "$N" "$(cli dbsize)"
expect_eq "spot-check a mass-inserted key" "value-99999" "$(cli get mass:99999)"

# --- inline commands over a raw socket -------------------------------------
inline_out="$(python3 - "$PORT" <<'EOF'
import socket, sys, time
port = int(sys.argv[1])
expected = b"+PONG\r\n+OK\r\n$1\r\nb\r\n:1\r\n"
s = socket.create_connection(("127.0.0.1", port), timeout=5)
s.sendall(b"PING\r\nSET a b\r\nGET a\r\nEXISTS a\r\n")
buf = b""
deadline = time.monotonic() + 5
while len(buf) < len(expected) and time.monotonic() < deadline:
    chunk = s.recv(4096)
    if not chunk:
        break
    buf += chunk
s.close()
print("match" if buf == expected else "mismatch: %r" % buf)
EOF
)"
expect_eq "inline commands (PING / SET a b / GET a / EXISTS a)" "match" "$inline_out"

# --- --scan --pattern ------------------------------------------------------
for i in $(seq 1 50); do printf 'SET k%d v\n' "$i"; done | cli >/dev/null
cli set other-key v >/dev/null
scan_out="$(cli --scan --pattern 'k*')"
expect_eq "--scan --pattern 'k*' distinct count" "50" "$(sort -u <<<"$scan_out" | grep -c .)"
expect_eq "--scan --pattern 'k*' only matching keys" "0" "$(grep -vc '^k' <<<"$scan_out" || true)"
expect_eq "--scan (all keys) count" "$((N + 52))" "$(cli --scan | sort -u | grep -c .)"

# --- RESP3 -----------------------------------------------------------------
hello_out="$(cli -3 hello 3)"
# redis-cli prints a RESP3 map one "field value" pair per line
hello_field() { awk -v f="$1" '$1 == f { print $2 }' <<<"$hello_out"; }
grep -q '^proto ' <<<"$hello_out" || fail "redis-cli -3 hello 3: no 'proto' field in: $hello_out"
expect_eq "redis-cli -3 hello 3: proto is 3" "3" "$(hello_field proto)"
expect_eq "redis-cli -3 hello 3: mode" "standalone" "$(hello_field mode)"
expect_eq "redis-cli -3 hello 3: role" "master" "$(hello_field role)"
[[ -n "$(hello_field server)" && -n "$(hello_field version)" && -n "$(hello_field id)" ]] \
    || fail "redis-cli -3 hello 3: server/version/id missing in: $hello_out"
pass "redis-cli -3 hello 3: server, version and id present"
expect_eq "redis-cli -3 get" "v" "$(cli -3 get k1)"
expect_eq "redis-cli -3 incr" "1" "$(cli -3 incr c3)"

# --- INFO ------------------------------------------------------------------
info_out="$(cli info server)"
grep -q '^redis_version:' <<<"$info_out" || fail "'info server' lacks redis_version: $info_out"
pass "info server has redis_version:"
grep -q "^tcp_port:$PORT" <<<"$info_out" || fail "'info server' lacks tcp_port:$PORT"
pass "info server has tcp_port:$PORT"
grep -q "^db0:keys=$((N + 53)),expires=0" <<<"$(cli info keyspace)" \
    || fail "'info keyspace' lacks db0:keys=$((N + 53)),expires=0: $(cli info keyspace)"
pass "info keyspace has db0:keys=$((N + 53)),expires=0"

# --- Lua scripts (redis-cli --eval FILE keys , args) ------------------------------
cat >"$TMPDIR_SUT/bump.lua" <<'LUA'
local n = redis.call('INCRBY', KEYS[1], ARGV[1])
redis.call('RPUSH', KEYS[2], n)
return {n, redis.call('LLEN', KEYS[2])}
LUA
expect_eq "redis-cli --eval" $'5\n1' "$(cli --eval "$TMPDIR_SUT/bump.lua" lua:n lua:log , 5)"
expect_eq "redis-cli --eval again" $'12\n2' "$(cli --eval "$TMPDIR_SUT/bump.lua" lua:n lua:log , 7)"
sha="$(cli script load "return redis.call('GET', KEYS[1])")"
expect_eq "script load + evalsha" "12" "$(cli evalsha "$sha" 1 lua:n)"
expect_eq "an error names the script and its line" \
    "WRONGTYPE Operation against a key holding the wrong kind of value script: $(printf '%s' "return redis.call('INCR', KEYS[1])" | sha1sum | cut -c1-40), on @user_script:1." \
    "$(cli eval "return redis.call('INCR', KEYS[1])" 1 lua:log 2>&1)"

# --- server still healthy ----------------------------------------------------
expect_eq "final ping" "PONG" "$(cli ping)"
kill -0 "$SERVER_PID" 2>/dev/null || fail "server under test died"

echo "$PASSED passed, 0 failed"
