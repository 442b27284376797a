"""redis-py against a 3-node Redraft group while its leader is killed with SIGKILL: a client of
a surviving node, configured as applications configure redis-py for failover (retry a
ConnectionError with backoff), sees no error at all, and every write it saw acknowledged is
there afterwards. Redraft only (skipped when the server under test is Redis).

The client's connection is relayed through its follower to the leader, so the leader's death
closes it; redis-py reconnects to the same follower and sends the command again, and the
follower holds it until the election is over, then relays it to the new leader."""

import os
import shlex
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import pytest
import redis
from redis.backoff import ExponentialBackoff
from redis.retry import Retry

from servers import ping, server_under_test_cmd

CMD = shlex.split(server_under_test_cmd())
pytestmark = pytest.mark.skipif(
    "redis-server" in os.path.basename(CMD[0]), reason="a Redraft cluster test")


def port_pair():
    """A free client port whose cluster-bus port (+10000) is free too."""
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port >= 55000:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port + 10000))
            except OSError:
                continue
        return port


def wait_until(what, condition, timeout=20.0):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def role(port):
    try:
        info = redis.Redis(port=port, socket_timeout=2).info("replication")
    except redis.RedisError:
        return None
    return info.get("raft_role")


@pytest.fixture
def cluster():
    root = tempfile.mkdtemp(prefix="redraft-failover-")
    procs, ports = [], []
    try:
        for i in range(3):
            port = port_pair()
            d = os.path.join(root, f"n{i}")
            os.makedirs(d)
            log = open(os.path.join(d, "server.log"), "ab")
            procs.append(subprocess.Popen(
                CMD + ["--port", str(port), "--bind", "127.0.0.1", "--dir", d,
                       "--cluster-enabled", "yes", "--loglevel", "warning"],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL))
            ports.append(port)
        for port in ports:
            wait_until(f"node {port} to answer PING", lambda: ping(port))
        subprocess.run(CMD + ["cluster", "create"] + [f"127.0.0.1:{p}" for p in ports],
                       check=True, capture_output=True, timeout=60)
        yield procs, ports
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGKILL)
                p.wait()
        shutil.rmtree(root, ignore_errors=True)


def test_a_client_of_a_follower_sees_no_error_when_the_leader_is_killed(cluster):
    procs, ports = cluster
    leader = None

    def find_leader():
        nonlocal leader
        leader = next((i for i, p in enumerate(ports) if role(p) == "leader"), None)
        return leader is not None

    wait_until("a leader", find_leader)
    follower = (leader + 1) % 3
    c = redis.Redis(port=ports[follower], socket_timeout=10, decode_responses=True,
                    retry=Retry(ExponentialBackoff(cap=0.5, base=0.01), 5),
                    retry_on_error=[redis.ConnectionError, redis.TimeoutError])
    acked = []
    for i in range(600):
        if i == 200:
            procs[leader].send_signal(signal.SIGKILL)
            procs[leader].wait()
        assert c.set(f"k{i}", i) is True
        acked.append(i)
    old = leader
    wait_until("a new leader", lambda: find_leader() and leader != old)
    r = redis.Redis(port=ports[leader], socket_timeout=10, decode_responses=True)
    values = r.mget([f"k{i}" for i in acked])
    assert values == [str(i) for i in acked]
    c.close()
    r.close()
