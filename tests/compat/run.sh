#!/usr/bin/env bash
# Run the whole compatibility suite against the server under test:
#   1. tests/compat/test_redis_py*.py  (pytest + redis-py, RESP2 and RESP3; a 3-node group's
#      leader killed under a client of a follower; transactions,
#      pub/sub and blocking commands too; TLS clients, with certificates made by openssl)
#   2. tests/compat/test_redis_cli.sh  (redis-cli)
#   3. tests/compat/differential.py    (vs. Debian's redis-server, seeds 0..200, 200 ops,
#      replies and keyspace notifications; then seeds 200..400 in RESP3)
#
# Server under test: $REDRAFT_BIN (default target/release/redraft); may be a
# command with arguments, e.g.
#   REDRAFT_BIN="redis-server --save '' --appendonly no" tests/compat/run.sh
# Every part always runs; exit status is non-zero if any of them failed.
set -uo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$HERE/../.." && pwd)"
export REDRAFT_BIN="${REDRAFT_BIN:-$REPO_ROOT/target/release/redraft}"
cd "$REPO_ROOT"

python3 -c 'import redis, pytest' 2>/dev/null || {
    echo "ERROR: python3 needs redis-py and pytest (pip install redis pytest)" >&2
    exit 2
}
command -v redis-server >/dev/null && command -v redis-cli >/dev/null || {
    echo "ERROR: redis-server and redis-cli must be installed (reference and client)" >&2
    exit 2
}

echo "== server under test: $REDRAFT_BIN"
results=()
status=0

run_part() {
    local name="$1"; shift
    echo
    echo "== $name: $*"
    local start=$SECONDS
    if "$@"; then
        results+=("PASS  $name ($((SECONDS - start))s)")
    else
        results+=("FAIL  $name ($((SECONDS - start))s, exit $?)")
        status=1
    fi
}

run_part "redis-py suite" python3 -m pytest -q -p no:cacheprovider "$HERE/test_redis_py.py" "$HERE/test_redis_py_tx_pubsub.py" \
    "$HERE/test_redis_py_failover.py" "$HERE/test_redis_py_tls.py" "$HERE/test_redis_py_scripting.py"
run_part "redis-cli checks" "$HERE/test_redis_cli.sh"
run_part "differential vs redis-server" python3 "$HERE/differential.py" --seeds 0..200 --ops 200
run_part "differential vs redis-server, RESP3" python3 "$HERE/differential.py" --seeds 200..400 \
    --ops 200 --resp3

echo
echo "== summary"
printf '%s\n' "${results[@]}"
exit $status
