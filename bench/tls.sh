#!/usr/bin/env bash
# TLS clients: redis-benchmark --tls (client certificates, tls-auth-clients yes) against Debian's
# redis-server and Redraft in the same run, beside the same load on their plain ports, so both
# the ratio to Redis and each server's own cost of TLS show. Certificates (EC P-256) are made
# with the openssl command. Redis runs with --save '' --appendonly no and Redraft as a cluster
# of one with --appendfsync no: this measures the connection path, not the disk.
#
# Usage: bench/tls.sh [ROUNDS]   (default 3; medians of ops/s per row)
# Environment: REDRAFT_BIN (default target/release/redraft), N (requests per -P 1 row, default
# 200000; -P 16 rows do 5 x N), C (clients, default 50), TESTS (default "set get"), PS
# (pipelines, default "1 16").
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source bench/lib.sh
REPO_ROOT="$PWD"
ROUNDS="${1:-3}" N="${N:-200000}" C="${C:-50}"
REDRAFT_BIN="${REDRAFT_BIN:-target/release/redraft}"
REDIS_CLI="${REDIS_CLI:-redis-cli}"
STARTUP_TIMEOUT=30
WORKDIR="$(mktemp -d /tmp/redraft-tls.XXXXXX)"
PIDS=()
trap 'for p in "${PIDS[@]:-}"; do kill -9 "$p" 2>/dev/null || true; done; rm -rf "$WORKDIR"' EXIT
need_cmd openssl "apt-get install openssl"
need_cmd redis-benchmark "apt-get install redis-tools"

CERTS="$WORKDIR/certs"
mkdir -p "$CERTS"
ec=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes)
(
    cd "$CERTS"
    openssl req -x509 "${ec[@]}" -keyout ca.key -out ca.crt -days 2 -subj "/CN=bench CA" \
        -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign
    for name in server client; do
        usage=serverAuth; [[ $name == client ]] && usage=clientAuth
        printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=%s\n' "$usage" >"$name.ext"
        openssl req -new "${ec[@]}" -keyout "$name.key" -out "$name.csr" -subj "/CN=$name"
        openssl x509 -req -in "$name.csr" -CA ca.crt -CAkey ca.key -CAcreateserial \
            -out "$name.crt" -days 2 -extfile "$name.ext"
    done
) >/dev/null 2>&1
TLS_SERVER=(--tls-cert-file "$CERTS/server.crt" --tls-key-file "$CERTS/server.key"
    --tls-ca-cert-file "$CERTS/ca.crt")
TLS_CLIENT=(--tls --cacert "$CERTS/ca.crt" --cert "$CERTS/client.crt" --key "$CERTS/client.key")

REDIS_TLS_PORT="$(free_port)"
start_server redis redis-server --save '' --appendonly no --tls-port "$REDIS_TLS_PORT" "${TLS_SERVER[@]}"
REDIS_PID=$STARTED_PID REDIS_PORT=$STARTED_PORT
PIDS+=("$REDIS_PID")
REDRAFT_TLS_PORT="$(free_port)"
start_server redraft "$REDRAFT_BIN" --appendfsync no --tls-port "$REDRAFT_TLS_PORT" "${TLS_SERVER[@]}"
REDRAFT_PID=$STARTED_PID REDRAFT_PORT=$STARTED_PORT
PIDS+=("$REDRAFT_PID")

run() {  # run PORT TLS(0|1) TEST P : ops/s
    local port="$1" tls="$2" test="$3" p="$4" n="$N" extra=()
    ((p > 1)) && n=$((N * 5))
    ((tls)) && extra=("${TLS_CLIENT[@]}")
    redis-benchmark -h 127.0.0.1 -p "$port" "${extra[@]}" -c "$C" -n "$n" -P "$p" -r 100000 \
        -t "$test" --csv 2>/dev/null | tail -1 | cut -d, -f2 | tr -d '"'
}

median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }

machine_desc
echo "commit $(git_rev); $ROUNDS rounds, c $C, medians of ops/s"
echo
echo "| row | Redis plain | Redraft plain | Redis TLS | Redraft TLS | TLS: Redraft / Redis | TLS / plain, Redis | TLS / plain, Redraft |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|"
for test in ${TESTS:-set get}; do
    for p in ${PS:-1 16}; do
        declare -A got=()
        for ((round = 1; round <= ROUNDS; round++)); do
            got[rp]+="$(run "$REDIS_PORT" 0 "$test" "$p") "
            got[dp]+="$(run "$REDRAFT_PORT" 0 "$test" "$p") "
            got[rt]+="$(run "$REDIS_TLS_PORT" 1 "$test" "$p") "
            got[dt]+="$(run "$REDRAFT_TLS_PORT" 1 "$test" "$p") "
        done
        m=()
        for k in rp dp rt dt; do m+=("$(tr ' ' '\n' <<<"${got[$k]}" | grep . | median)"); done
        awk -v row="${test^^} -P $p" -v rp="${m[0]}" -v dp="${m[1]}" -v rt="${m[2]}" -v dt="${m[3]}" \
            'BEGIN { printf "| %s | %.0f | %.0f | %.0f | %.0f | %.2fx | %.2f | %.2f |\n", row, rp, dp, rt, dt, dt / rt, rt / rp, dt / dp }'
        unset got
    done
done
