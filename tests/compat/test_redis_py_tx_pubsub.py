"""redis-py against the server under test: transactions, pub/sub and blocking commands, the
way applications use them (pipelines with MULTI, optimistic locking with WATCH, PubSub objects
with many subscribers, BLPOP in worker threads)."""

import threading
import time

import pytest
import redis

from servers import Server, server_under_test_cmd


@pytest.fixture(scope="module")
def port():
    srv = Server(server_under_test_cmd(), name="sut-tx")
    srv.start()
    yield srv.port
    srv.stop()


@pytest.fixture(params=[2, 3], ids=["resp2", "resp3"])
def r(request, port):
    c = redis.Redis(host="127.0.0.1", port=port, protocol=request.param, decode_responses=True,
                    socket_timeout=10)
    c.flushall()
    yield c
    c.close()


def wait_until(pred, timeout=5.0, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return
        time.sleep(0.01)
    raise AssertionError(f"timed out waiting for {what}")


def test_pipeline_transaction_is_atomic_and_ordered(r):
    pipe = r.pipeline(transaction=True)
    pipe.set("a", 1).incr("a").lpush("l", "x", "y").lrange("l", 0, -1).get("a")
    assert pipe.execute() == [True, 2, 2, ["y", "x"], "2"]


def test_watch_retries_until_the_transfer_commits(r, port):
    r.mset({"acct:a": 100, "acct:b": 0})
    other = redis.Redis(host="127.0.0.1", port=port, decode_responses=True)
    attempts = 0

    def transfer(pipe):
        nonlocal attempts
        attempts += 1
        a = int(pipe.get("acct:a"))
        if attempts == 1:
            other.incrby("acct:a", 5)  # a concurrent write: the first EXEC must fail
        pipe.multi()
        pipe.set("acct:a", a - 10)
        pipe.incrby("acct:b", 10)

    r.transaction(transfer, "acct:a")
    assert attempts == 2
    assert int(r.get("acct:a")) == 95 and int(r.get("acct:b")) == 10
    other.close()


def test_a_watch_breaks_on_its_own_keys_only(r, port):
    """Optimistic locking under other writes: thousands of writes and deletions of other keys
    leave a WATCH intact (Redraft once shared 4096 version buckets per database, and nearly
    every one of these would have broken it); a write to the key, or a key created and
    deleted again, breaks it."""
    r.set("w:held", "v")
    other = redis.Redis(host="127.0.0.1", port=port, decode_responses=True)
    with r.pipeline() as pipe:
        pipe.watch("w:held", "w:missing")
        churn = other.pipeline(transaction=False)
        for i in range(5000):
            churn.set(f"other:{i}", i)
            if i % 2:
                churn.delete(f"other:{i}")
        churn.execute()
        pipe.multi()
        pipe.set("w:held", "mine")
        assert pipe.execute() == [True]
    assert r.get("w:held") == "mine"
    for touch in ([("set", "w:held", "theirs")],
                  [("set", "w:missing", "x"), ("delete", "w:missing")]):
        with r.pipeline() as pipe:
            pipe.watch("w:held", "w:missing")
            for name, *args in touch:
                getattr(other, name)(*args)
            pipe.multi()
            pipe.set("w:held", "mine")
            with pytest.raises(redis.WatchError):
                pipe.execute()
    other.close()


def test_a_watched_key_that_had_expired_holds_when_it_is_deleted(r, port):
    """Redis 7: a key already expired at WATCH is not there for the client, so its deletion
    is no change; a live key that expires before EXEC is one."""
    r.set("w:old", "v", px=1)
    wait_until(lambda: r.exists("w:old") == 0, what="w:old to expire")
    other = redis.Redis(host="127.0.0.1", port=port, decode_responses=True)
    with r.pipeline() as pipe:
        pipe.watch("w:old")
        assert other.delete("w:old") == 0
        pipe.multi()
        pipe.set("w:old", "mine")
        assert pipe.execute() == [True]
    r.set("w:soon", "v", px=200)
    with r.pipeline() as pipe:
        pipe.watch("w:soon")
        wait_until(lambda: other.exists("w:soon") == 0, what="w:soon to expire")
        pipe.multi()
        pipe.set("w:soon", "mine")
        with pytest.raises(redis.WatchError):
            pipe.execute()
    other.close()


def test_many_subscribers_receive_every_message(port):
    subscribers = []
    for _ in range(100):
        c = redis.Redis(host="127.0.0.1", port=port, decode_responses=True)
        p = c.pubsub()
        p.subscribe("news")
        p.psubscribe("n*")
        assert p.get_message(timeout=5)["type"] == "subscribe"
        assert p.get_message(timeout=5)["type"] == "psubscribe"
        subscribers.append((c, p))
    publisher = redis.Redis(host="127.0.0.1", port=port, decode_responses=True)
    for i in range(10):
        assert publisher.publish("news", f"m{i}") == 200
    for _, p in subscribers:
        got = []
        while len(got) < 20:
            m = p.get_message(timeout=5)
            assert m is not None, "a message was lost"
            got.append((m["type"], m["data"]))
        assert sorted(got) == sorted([("message", f"m{i}") for i in range(10)]
                                     + [("pmessage", f"m{i}") for i in range(10)])
    assert publisher.pubsub_numsub("news") == [("news", 100)]
    for c, p in subscribers:
        p.close()
        c.close()
    wait_until(lambda: publisher.pubsub_numsub("news") == [("news", 0)], what="unsubscribed")
    publisher.close()


def test_blpop_workers_share_a_queue(r, port):
    results = []

    def worker():
        c = redis.Redis(host="127.0.0.1", port=port, decode_responses=True, socket_timeout=20)
        while True:
            item = c.blpop("jobs", timeout=5)
            if item is None or item[1] == "stop":
                break
            results.append(item[1])
        c.close()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    wait_until(lambda: int(r.info("clients")["blocked_clients"]) == 4, what="4 blocked workers")
    r.rpush("jobs", *[f"job{i}" for i in range(200)])
    r.rpush("jobs", *["stop"] * 4)
    for t in threads:
        t.join(timeout=30)
        assert not t.is_alive()
    assert sorted(results) == sorted(f"job{i}" for i in range(200))
    assert r.llen("jobs") == 0


def test_blocking_timeouts_and_blmove(r):
    start = time.monotonic()
    assert r.blpop("nothing", timeout=0.2) is None
    assert time.monotonic() - start >= 0.2
    assert r.blmove("src", "dst", 0.1, "LEFT", "RIGHT") is None
    r.rpush("src", "a")
    assert r.blmove("src", "dst", 1, "LEFT", "RIGHT") == "a"
    assert r.lrange("dst", 0, -1) == ["a"]
