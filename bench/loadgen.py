#!/usr/bin/env python3
"""Load generators run by bench/replication.sh and bench/failover.sh (not meant to be run by hand).

  etcd-put   throughput: C concurrent clients, each doing sequential etcd Puts, the etcd
             counterpart of `redis-benchmark -c C -P 1 -r K -t set`.
  writer     failover: one sequential writer (SET k<i> i, or Put k<i> i on etcd) every
             interval, recording the time of every acknowledged write; after the run it
             reads every acknowledged key back and reports the longest gap around the kill
             and the acknowledged writes that were lost.

etcd is driven over gRPC, its native client API, with grpcio alone: PutRequest and
RangeRequest are encoded by hand (a few length-delimited fields) and RangeResponse is decoded
by hand, so neither generated stubs nor the etcd3 package (unmaintained, broken by protobuf
4+) is needed. The HTTP/JSON gateway was not used because it costs etcd more CPU per put
(JSON and a second gRPC hop inside etcd) on a machine whose cores the load generator shares.
"""
import argparse
import asyncio
import json
import os
import random
import sys
import time

PUT_METHOD = "/etcdserverpb.KV/Put"
RANGE_METHOD = "/etcdserverpb.KV/Range"
GRPC_OPTIONS = [
    # One TCP connection per channel, not shared behind our back.
    ("grpc.use_local_subchannel_pool", 1),
    ("grpc.max_receive_message_length", 64 << 20),
]


# ---------------------------------------------------------------------------
# Hand-rolled protobuf: only what PutRequest, RangeRequest and RangeResponse need.
# ---------------------------------------------------------------------------
def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def pb_bytes(field, value):
    """A length-delimited field (wire type 2)."""
    return varint(field << 3 | 2) + varint(len(value)) + value


def put_request(key, value):  # etcdserverpb.PutRequest { key = 1; value = 2; }
    return pb_bytes(1, key) + pb_bytes(2, value)


def range_request(key, range_end):  # etcdserverpb.RangeRequest { key = 1; range_end = 2; }
    return pb_bytes(1, key) + pb_bytes(2, range_end)


def pb_fields(buf):
    """Yields (field number, value) of a message: int for varints, bytes for length-delimited."""
    i = 0
    while i < len(buf):
        tag, i = read_varint(buf, i)
        field, wire = tag >> 3, tag & 7
        if wire == 0:
            value, i = read_varint(buf, i)
        elif wire == 2:
            n, i = read_varint(buf, i)
            value, i = buf[i : i + n], i + n
        elif wire == 1:
            value, i = buf[i : i + 8], i + 8
        elif wire == 5:
            value, i = buf[i : i + 4], i + 4
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")
        yield field, value


def read_varint(buf, i):
    shift = result = 0
    while True:
        b = buf[i]
        i += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, i
        shift += 7


def range_response_kvs(buf):
    """RangeResponse { header = 1; repeated KeyValue kvs = 2; ... } -> {key: value}."""
    kvs = {}
    for field, value in pb_fields(buf):
        if field == 2:
            kv = dict(pb_fields(value))  # KeyValue { key = 1; ...; value = 5; }
            kvs[bytes(kv.get(1, b""))] = bytes(kv.get(5, b""))
    return kvs


def percentile(sorted_values, q):
    if not sorted_values:
        return float("nan")
    return sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))]


# ---------------------------------------------------------------------------
# etcd-put
# ---------------------------------------------------------------------------
async def etcd_put_main(args):
    import grpc

    channels = [grpc.aio.insecure_channel(args.endpoint, options=GRPC_OPTIONS) for _ in range(args.connections)]
    puts = [c.unary_unary(PUT_METHOD) for c in channels]
    value = b"x" * args.value_size
    per_client = [args.requests // args.clients + (1 if i < args.requests % args.clients else 0) for i in range(args.clients)]
    latencies_ms = []

    async def client(i):
        put = puts[i % len(puts)]
        rng = random.Random(i)
        for _ in range(per_client[i]):
            request = put_request(b"key:%012d" % rng.randrange(args.keyspace), value)
            t0 = time.perf_counter()
            reply = await put(request, timeout=30)
            latencies_ms.append((time.perf_counter() - t0) * 1000)
            # A PutResponse always carries its ResponseHeader (field 1).
            if reply[:1] != b"\x0a":
                raise RuntimeError(f"unexpected PutResponse: {reply[:40]!r}")

    # One warm-up put so that connection set-up is not timed.
    await puts[0](put_request(b"warmup", b"x"), timeout=30)
    cpu0, t0 = os.times(), time.perf_counter()
    await asyncio.gather(*(client(i) for i in range(args.clients)))
    elapsed = time.perf_counter() - t0
    cpu1 = os.times()
    for c in channels:
        await c.close()
    latencies_ms.sort()
    assert len(latencies_ms) == args.requests
    print(
        json.dumps(
            {
                "requests": args.requests,
                "seconds": round(elapsed, 3),
                "rps": round(args.requests / elapsed, 1),
                "p50_ms": round(percentile(latencies_ms, 0.50), 3),
                "p99_ms": round(percentile(latencies_ms, 0.99), 3),
                "client_cpu_s": round(cpu1.user - cpu0.user + cpu1.system - cpu0.system, 2),
            }
        )
    )


# ---------------------------------------------------------------------------
# writer: one node connection at a time, moving on after any error
# ---------------------------------------------------------------------------
class RedisNodes:
    """A plain Redis/Redraft client that moves to the next node after an error (or to the node
    a MOVED names). Redraft followers forward to the leader, so any live node will do."""

    def __init__(self, addrs, timeout_s):
        import redis

        self.redis = redis
        self.addrs = list(addrs)
        self.timeout_s = timeout_s
        self.current = 0
        self.conn = None

    def _connect(self):
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        host, port = self.addrs[self.current]
        # No retries inside redis-py: every failure must be seen (and timed) here.
        self.conn = self.redis.Redis(
            host=host, port=port, socket_timeout=self.timeout_s, socket_connect_timeout=self.timeout_s,
            retry=Retry(NoBackoff(), 0), decode_responses=True,
        )

    def _fail(self, err):
        if self.conn is not None:
            self.conn.close()
        self.conn = None
        text = str(err)
        if text.startswith("MOVED "):
            host, _, port = text.split()[2].rpartition(":")
            addr = (host, int(port))
            if addr not in self.addrs:
                self.addrs.append(addr)
            self.current = self.addrs.index(addr)
        else:
            self.current = (self.current + 1) % len(self.addrs)

    def put(self, key, value):
        try:
            if self.conn is None:
                self._connect()
            if self.conn.set(key, value) is not True:
                raise RuntimeError("SET did not answer OK")
            return True
        except (self.redis.RedisError, OSError, RuntimeError) as err:
            self.last_error = f"{self.addrs[self.current]}: {type(err).__name__}: {err}"
            self._fail(err)
            return False

    def read_back(self, keys):
        last = None
        for _ in range(3 * len(self.addrs)):
            try:
                if self.conn is None:
                    self._connect()
                got = {}
                for start in range(0, len(keys), 1000):
                    chunk = keys[start : start + 1000]
                    got.update(zip(chunk, self.conn.mget(chunk)))
                return got
            except (self.redis.RedisError, OSError) as err:
                last = err
                self._fail(err)
                time.sleep(0.2)
        raise SystemExit(f"read-back failed on every node: {last}")


class RedisClusterNodes:
    """redis-py's cluster-aware client: it follows MOVED and refreshes its slot map itself."""

    def __init__(self, addrs, timeout_s):
        import redis
        from redis.backoff import NoBackoff
        from redis.cluster import ClusterNode, RedisCluster
        from redis.retry import Retry

        self.redis = redis
        # No retries or backoff inside redis-py (MOVED is still followed): every failure comes
        # back here and the next attempt waits for the writer's next tick, as for the others.
        self.make = lambda: RedisCluster(
            startup_nodes=[ClusterNode(h, p) for h, p in addrs],
            socket_timeout=timeout_s, socket_connect_timeout=timeout_s, decode_responses=True,
            retry=Retry(NoBackoff(), 0),
        )
        self.conn = self.make()

    def put(self, key, value):
        try:
            if self.conn is None:
                self.conn = self.make()
            if self.conn.set(key, value) is not True:
                raise RuntimeError("SET did not answer OK")
            return True
        except (self.redis.RedisError, OSError, RuntimeError) as err:
            self.last_error = f"{type(err).__name__}: {err}"
            # Start over from the startup nodes rather than trust a half-refreshed slot map.
            try:
                self.conn.close()
            except Exception:
                pass
            self.conn = None
            return False

    def read_back(self, keys):
        conn = self.make()
        got = {}
        # Every key carries the same hash tag, so one MGET per chunk is legal in a cluster.
        for start in range(0, len(keys), 1000):
            chunk = keys[start : start + 1000]
            got.update(zip(chunk, conn.mget(chunk)))
        conn.close()
        return got


class EtcdNodes:
    """Sequential etcd Puts over gRPC; after an error, the next endpoint (followers forward
    proposals to the leader)."""

    def __init__(self, addrs, timeout_s):
        import grpc

        self.grpc = grpc
        self.addrs = [f"{h}:{p}" for h, p in addrs]
        self.timeout_s = timeout_s
        self.current = 0
        self.channel = None

    def _connect(self):
        self.channel = self.grpc.insecure_channel(self.addrs[self.current], options=GRPC_OPTIONS)
        self.put_rpc = self.channel.unary_unary(PUT_METHOD)
        self.range_rpc = self.channel.unary_unary(RANGE_METHOD)

    def _fail(self):
        if self.channel is not None:
            self.channel.close()
        self.channel = None
        self.current = (self.current + 1) % len(self.addrs)

    def put(self, key, value):
        try:
            if self.channel is None:
                self._connect()
            reply = self.put_rpc(put_request(key.encode(), value.encode()), timeout=self.timeout_s)
            if reply[:1] != b"\x0a":
                raise RuntimeError("unexpected PutResponse")
            return True
        except (self.grpc.RpcError, RuntimeError) as err:
            detail = f"{err.code().name}: {err.details()}" if isinstance(err, self.grpc.RpcError) else str(err)
            self.last_error = f"{self.addrs[self.current]}: {detail}"
            self._fail()
            return False

    def read_back(self, keys):
        last = None
        for _ in range(3 * len(self.addrs)):
            try:
                if self.channel is None:
                    self._connect()
                # Linearizable Range over every key of the run ("k" <= key < "l").
                kvs = range_response_kvs(self.range_rpc(range_request(b"k", b"l"), timeout=10))
                return {k: (kvs[k.encode()].decode() if k.encode() in kvs else None) for k in keys}
            except self.grpc.RpcError as err:
                last = err
                self._fail()
                time.sleep(0.2)
        raise SystemExit(f"read-back failed on every endpoint: {last}")


def parse_addrs(text):
    addrs = []
    for item in text.split(","):
        host, _, port = item.rpartition(":")
        addrs.append((host, int(port)))
    return addrs


def writer_main(args):
    addrs = parse_addrs(args.nodes)
    kinds = {"redis": RedisNodes, "rediscluster": RedisClusterNodes, "etcd": EtcdNodes}
    client = kinds[args.system](addrs, args.timeout_ms / 1000)
    interval_s = args.interval_ms / 1000
    # Redis Cluster: one hash tag, so every key lives in the slot of the master that is killed.
    key_of = (lambda i: f"{{fo}}k{i}") if args.system == "rediscluster" else (lambda i: f"k{i}")

    acks = []  # (wall-clock time of the reply, i); wall clock so that it compares with the kill time
    attempts = errors = 0
    kill_t = None
    trace = open(args.trace, "w") if args.trace else None
    i = 0
    started = time.monotonic()
    next_tick = started
    print("writing", file=sys.stderr, flush=True)
    while True:
        now_mono = time.monotonic()
        if next_tick > now_mono:
            time.sleep(next_tick - now_mono)
        next_tick = max(next_tick + interval_s, time.monotonic())
        now = time.time()
        if kill_t is None and os.path.exists(args.kill_file):
            with open(args.kill_file) as f:
                kill_t = float(f.read().strip())
        if kill_t is None:
            if time.monotonic() - started > args.max_s:
                raise SystemExit(f"no kill time in {args.kill_file} after {args.max_s} s")
        elif stop_now(acks, kill_t, now, args):
            break
        attempts += 1
        t_start = time.time()
        if client.put(key_of(i), str(i)):
            acks.append((time.time(), i))
            i += 1
        else:
            errors += 1
            if trace:
                print(f"{t_start:.3f} {time.time() - t_start:.3f}s {client.last_error}", file=trace)
    if trace:
        print(f"kill at {kill_t:.3f}; acks: " + " ".join(f"{t:.3f}" for t, _ in acks), file=trace)
        trace.close()

    # Longest stretch without an acknowledged write that ends after the kill.
    after = [t for t, _ in acks if t >= kill_t]
    before = [t for t, _ in acks if t < kill_t]
    if not after:
        gap_s, recovered = time.time() - (before[-1] if before else kill_t), False
    else:
        recovered = True
        times = [before[-1]] if before else [kill_t]
        times += after
        gap_s = max(b - a for a, b in zip(times, times[1:]))
    # Baseline: longest gap before the kill, to see the writer's own jitter.
    base_gap_s = max((b - a for a, b in zip(before, before[1:])), default=0.0)

    keys = [key_of(n) for _, n in acks]
    got = client.read_back(keys)
    lost = [k for k, (_, n) in zip(keys, acks) if got.get(k) != str(n)]
    print(
        f"acked={len(acks)} attempts={attempts} errors={errors} gap_s={gap_s:.3f} "
        f"recovered={int(recovered)} lost={len(lost)} baseline_gap_s={base_gap_s:.3f} "
        f"acked_before_kill={len(before)} acked_after_kill={len(after)} lost_keys={','.join(lost[:10]) or '-'}"
    )


def stop_now(acks, kill_t, now, args):
    """Stop once the kill is at least min-after-kill old and writes have flowed again without a
    pause of 0.5 s for settle seconds; or give up max-after-kill after the kill."""
    if now - kill_t >= args.max_after_kill_s:
        return True
    if now - kill_t < args.min_after_kill_s or not acks or acks[-1][0] < kill_t:
        return False
    settled_since = kill_t
    for (a, _), (b, _) in zip(acks, acks[1:]):
        if b >= kill_t and b - a > 0.5:
            settled_since = b
    return now - settled_since >= args.settle_s


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("etcd-put")
    p.add_argument("--endpoint", required=True, help="host:port of one etcd member")
    p.add_argument("--clients", type=int, default=50)
    p.add_argument("--connections", type=int, default=1, help="gRPC channels the clients share")
    p.add_argument("--requests", type=int, required=True)
    p.add_argument("--keyspace", type=int, default=100000)
    p.add_argument("--value-size", type=int, default=3)
    w = sub.add_parser("writer")
    w.add_argument("--system", choices=["redis", "rediscluster", "etcd"], required=True)
    w.add_argument("--nodes", required=True, help="host:port,... (the leader or primary first)")
    w.add_argument("--kill-file", required=True, help="holds the kill's epoch time once it happened")
    w.add_argument("--interval-ms", type=float, default=5)
    w.add_argument("--timeout-ms", type=float, default=200, help="per request and per connect")
    w.add_argument("--min-after-kill-s", type=float, default=3)
    w.add_argument("--settle-s", type=float, default=2)
    w.add_argument("--max-after-kill-s", type=float, default=90)
    w.add_argument("--max-s", type=float, default=120, help="give up if no kill happened by then")
    w.add_argument("--trace", help="write every failed attempt (start time, duration, error) here")
    args = parser.parse_args()
    if args.command == "etcd-put":
        asyncio.run(etcd_put_main(args))
    else:
        writer_main(args)


if __name__ == "__main__":
    main()
