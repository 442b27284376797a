"""The real image in the 3-node compose cluster of docker/compose.yml, driven from the host
with redis-py:

- one `docker-compose up` forms the group, and running it again reports the group it made;
- the leader's container killed with SIGKILL under load: a new leader takes over, the killed
  node catches up when it is started again;
- the leader cut off from its peers (its container disconnected from the compose network, still
  reachable by clients on a second network): the majority elects a new leader and goes on; the
  cut-off node acknowledges no write and serves no stale read; after the network heals it
  catches up.

After each, every acknowledged write is there exactly once and the three nodes are identical
(DEBUG DIGEST). Needs Docker and docker-compose; tests/containers/run.sh builds the image and runs
this file (REDRAFT_IMAGE names the image)."""

import ipaddress
import json
import os
import random
import socket
import subprocess
import threading
import time

import pytest
import redis

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
COMPOSE_FILE = os.path.join(ROOT, "docker", "compose.yml")
IMAGE = os.environ.get("REDRAFT_IMAGE", "redraft:latest")
PROJECT = f"redrafttest{os.getpid()}"
ELECTION_TIMEOUT_MS = 500


def run(*args, check=True, env=None):
    """Runs a command; returns its stdout (stderr goes into the assertion message)."""
    done = subprocess.run(args, capture_output=True, text=True, env=env, timeout=180)
    if check:
        assert done.returncode == 0, f"{' '.join(args)}: {done.stdout}{done.stderr}"
    return done.stdout


def wait_until(what, condition, timeout=30.0):
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def free_subnet():
    """The first three octets of a /24 no Docker network on this machine uses."""
    used = []
    for net in run("docker", "network", "ls", "-q").split():
        info = json.loads(run("docker", "network", "inspect", net))[0]
        for config in (info.get("IPAM") or {}).get("Config") or []:
            if config.get("Subnet"):
                used.append(ipaddress.ip_network(config["Subnet"], strict=False))
    candidates = [f"10.89.{i}" for i in range(10, 250)]
    random.shuffle(candidates)
    for prefix in candidates:
        net = ipaddress.ip_network(f"{prefix}.0/24")
        if not any(net.overlaps(u) for u in used if u.version == 4):
            return prefix
    raise AssertionError("no free /24 for the compose network")


class Node:
    def __init__(self, cluster, index):
        self.cluster = cluster
        self.index = index
        self.container = f"{PROJECT}_node{index}_1"
        self.raft_ip = f"{cluster.subnet}.1{index}"

    def client_ip(self):
        """The node's address on the clients' network (read each time: a restart may move it)."""
        info = json.loads(run("docker", "inspect", self.container))[0]
        return info["NetworkSettings"]["Networks"][self.cluster.clients_net]["IPAddress"]

    def client(self, timeout=3.0):
        return redis.Redis(host=self.client_ip(), port=6379, socket_timeout=timeout,
                           socket_connect_timeout=timeout, decode_responses=True)

    def replication(self):
        try:
            return self.client().info("replication")
        except (redis.RedisError, OSError, KeyError):
            return None

    def running(self):
        return run("docker", "inspect", "-f", "{{.State.Running}}", self.container).strip() == "true"


class Cluster:
    def __init__(self):
        self.subnet = free_subnet()
        self.ports = [free_port() for _ in range(3)]
        self.clients_net = f"{PROJECT}-clients"
        self.env = dict(os.environ, REDRAFT_IMAGE=IMAGE, REDRAFT_SUBNET=self.subnet,
                        REDRAFT_RESTART="no", REDRAFT_ELECTION_TIMEOUT=str(ELECTION_TIMEOUT_MS),
                        **{f"REDRAFT_PORT_{i + 1}": str(p) for i, p in enumerate(self.ports)})
        self.nodes = [Node(self, i) for i in (1, 2, 3)]
        self.raft_net = f"{PROJECT}_redraft"

    def compose(self, *args):
        return run("docker-compose", "-p", PROJECT, "-f", COMPOSE_FILE, *args, env=self.env)

    def create_log(self):
        return self.compose("logs", "--no-color", "create")

    def create_exit_code(self):
        out = run("docker", "inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}",
                  f"{PROJECT}_create_1").split()
        return int(out[1]) if out[0] == "exited" else None

    def leader(self, among=None, timeout=30.0):
        """The node that says it leads, once the others agree (the newest term wins)."""
        among = among or self.nodes

        def found():
            infos = [(n, n.replication()) for n in among]
            leaders = [(int(i["raft_term"]), n) for n, i in infos
                       if i and i.get("raft_role") == "leader"]
            return max(leaders, key=lambda t: t[0])[1] if leaders else None
        return wait_until("a leader", found, timeout)

    def assert_identical(self):
        """Waits until every node applied the leader's last index, then compares digests."""
        leader = self.leader()

        def caught_up():
            target = int(leader.replication()["raft_last_log_index"])
            applied = [int((n.replication() or {}).get("raft_applied_index", -1))
                       for n in self.nodes]
            return all(a >= target for a in applied)
        wait_until("every node to apply the leader's log", caught_up, 60)
        digests = {n.container: n.client().execute_command("DEBUG", "DIGEST") for n in self.nodes}
        assert len(set(digests.values())) == 1, digests


class Writers:
    """Threads that RPUSH unique ids to `key` through whichever node answers (any node serves a
    write: a follower forwards it), recording the ids acknowledged. A write that fails or times
    out is not retried (its outcome is unknown), the next id goes to the next node."""

    def __init__(self, cluster, key, threads=2):
        self.cluster, self.key = cluster, key
        self.targets = list(cluster.nodes)
        self.acked, self.errors = [], 0
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.threads = [threading.Thread(target=self.run, args=(t,), daemon=True)
                        for t in range(threads)]
        for t in self.threads:
            t.start()

    def run(self, t):
        n, i, conn = 0, t, None
        while not self.stopping.is_set():
            n += 1
            value = f"{t}:{n}"
            try:
                if conn is None:
                    conn = self.targets[i % len(self.targets)].client(timeout=2.0)
                conn.rpush(self.key, value)
                with self.lock:
                    self.acked.append(value)
            except (redis.RedisError, OSError):
                with self.lock:
                    self.errors += 1
                conn, i = None, i + 1
                time.sleep(0.01)

    def count(self):
        with self.lock:
            return len(self.acked)

    def stop(self):
        self.stopping.set()
        for t in self.threads:
            t.join(10)

    def check(self, leader):
        """Every acknowledged id is in the list once; no id is there twice."""
        items = leader.client(timeout=10).lrange(self.key, 0, -1)
        assert len(items) == len(set(items)), "an id was applied twice"
        missing = set(self.acked) - set(items)
        assert not missing, f"{len(missing)} acknowledged writes lost, e.g. {sorted(missing)[:5]}"


@pytest.fixture(scope="module")
def cluster():
    c = Cluster()
    try:
        run("docker", "network", "create", c.clients_net)
        c.compose("up", "-d")
        for node in c.nodes:
            run("docker", "network", "connect", c.clients_net, node.container)
        yield c
    finally:
        for node in c.nodes:
            run("docker", "logs", "--tail", "30", node.container, check=False)
        c.compose("down", "-v", "--remove-orphans")
        run("docker", "network", "rm", c.clients_net, check=False)


def test_one_command_forms_the_group_and_running_it_again_reports_it(cluster):
    wait_until("`create` to finish", lambda: cluster.create_exit_code() is not None, 90)
    assert cluster.create_exit_code() == 0, cluster.create_log()
    assert "created a group of 3 voters" in cluster.create_log()
    leader = cluster.leader()
    for node in cluster.nodes:
        slots = node.client().execute_command("CLUSTER", "SLOTS")
        assert slots[0][:2] == [0, 16383] and slots[0][2][:2] == [leader.raft_ip, 6379], slots
    # The published ports, on the host's loopback, reach the nodes.
    published = redis.Redis(port=cluster.ports[1], socket_timeout=5, decode_responses=True)
    assert published.set("formed", "yes")
    assert cluster.nodes[2].client().get("formed") == "yes"

    cluster.compose("up", "-d")
    wait_until("`create` to run again", lambda: "already a group" in cluster.create_log(), 60)
    wait_until("`create` to finish", lambda: cluster.create_exit_code() is not None, 60)
    assert cluster.create_exit_code() == 0, cluster.create_log()
    cluster.assert_identical()


def test_a_killed_leader_s_writes_move_on_and_it_catches_up_on_restart(cluster):
    writers = Writers(cluster, "killed")
    try:
        wait_until("writes before the kill", lambda: writers.count() >= 300)
        old = cluster.leader()
        run("docker", "kill", "-s", "KILL", old.container)
        assert not old.running()
        at_kill = writers.count()
        others = [n for n in cluster.nodes if n is not old]
        new = cluster.leader(among=others)
        assert new is not old
        wait_until("writes through the new leader", lambda: writers.count() >= at_kill + 300)
        run("docker", "start", old.container)
        wait_until("the killed node to rejoin as a follower",
                   lambda: (old.replication() or {}).get("raft_role") == "follower")
        wait_until("writes with all three up", lambda: writers.count() >= at_kill + 600)
    finally:
        writers.stop()
    cluster.assert_identical()
    writers.check(cluster.leader())


def test_a_leader_cut_off_from_its_peers_acknowledges_nothing_and_rejoins(cluster):
    old = cluster.leader()
    others = [n for n in cluster.nodes if n is not old]
    old.client().set("before", "old")
    writers = Writers(cluster, "partitioned")
    writers.targets = others
    try:
        wait_until("writes before the partition", lambda: writers.count() >= 300)
        run("docker", "network", "disconnect", cluster.raft_net, old.container)
        new = cluster.leader(among=others)
        at_cut = writers.count()
        assert new.client().set("before", "new")
        # The cut-off node can confirm nothing with a majority: a read there does not return
        # the value the majority replaced, and a write there is not acknowledged.
        cut = old.client(timeout=3.0)
        try:
            stale = cut.get("before")
        except (redis.RedisError, OSError) as e:
            stale = e
        assert stale != "old", "the cut-off node served a stale read"
        with pytest.raises((redis.RedisError, OSError)):
            old.client(timeout=3.0).set("cut-off", "write")
        wait_until("writes on the majority side", lambda: writers.count() >= at_cut + 300)
        run("docker", "network", "connect", "--ip", old.raft_ip, cluster.raft_net,
            old.container)
        wait_until("the cut-off node to follow again",
                   lambda: (old.replication() or {}).get("raft_role") == "follower")
        wait_until("writes with all three connected", lambda: writers.count() >= at_cut + 600)
    finally:
        writers.stop()
    cluster.assert_identical()
    writers.check(cluster.leader())
    assert old.client().get("before") == "new"
    # The write the cut-off node did not acknowledge may still be applied: the node holds a
    # write while it has no leader and forwards it once it finds one, as after an election
    # (its client had given up by then; a write whose client timed out has an unknown outcome,
    # as with Redis).
