"""redis-py compatibility suite for Redraft.

Starts the server under test ($REDRAFT_BIN, default target/release/redraft;
may be a command with arguments, e.g. "redis-server --save '' --appendonly no")
with ``--port <free> --bind 127.0.0.1 --dir <tmpdir>`` and drives it with
redis-py over RESP2 and RESP3.  Every test must also pass against real
Redis 7.0 (REDRAFT_BIN=redis-server), which is how the expectations were
checked.

Run:  python3 -m pytest -q -p no:cacheprovider tests/compat/test_redis_py.py
      (or tests/compat/run.sh for all compatibility checks)
Tests needing a collection type (WRONGTYPE) skip themselves while the server
under test implements none (RPUSH/HSET/SADD/ZADD/XADD all unknown).
"""

import contextlib
import os
import socket
import sys
import time

import pytest
import redis
from redis._parsers import _RESP2Parser, _RESP3Parser

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from servers import Server, server_under_test_cmd  # noqa: E402

PROTOCOLS = [2, 3]


# --------------------------------------------------------------------------
# fixtures
# --------------------------------------------------------------------------

@pytest.fixture(scope="session")
def server():
    srv = Server(server_under_test_cmd(), name="sut")
    try:
        srv.start()
    except RuntimeError as e:
        pytest.exit(f"cannot start server under test: {e}", returncode=2)
    yield srv
    srv.stop()


@pytest.fixture(scope="session")
def port(server):
    return server.port


class _FullErrorRESP2(_RESP2Parser):
    """Keep the complete error text (redis-py strips a leading "ERR ")."""
    EXCEPTION_CLASSES = {}


class _FullErrorRESP3(_RESP3Parser):
    EXCEPTION_CLASSES = {}


def make_client(port, protocol=2, db=0, single_connection_client=False, **kw):
    """A redis-py client whose ResponseError messages are the exact error text."""
    kw.setdefault("decode_responses", True)
    kw.setdefault("socket_timeout", 10)
    parser = _FullErrorRESP3 if protocol == 3 else _FullErrorRESP2
    pool = redis.ConnectionPool(host="127.0.0.1", port=port, db=db, protocol=protocol,
                                parser_class=parser, **kw)
    return redis.Redis(connection_pool=pool,
                       single_connection_client=single_connection_client)


@pytest.fixture(params=PROTOCOLS, ids=["resp2", "resp3"])
def r(request, port):
    """A decoded client, RESP2 and RESP3; every test starts on empty DBs."""
    c = make_client(port, request.param)
    c.flushall()
    yield c
    c.close()


@pytest.fixture(params=PROTOCOLS, ids=["resp2", "resp3"])
def rb(request, port):
    """A bytes client (no decoding), RESP2 and RESP3."""
    c = make_client(port, request.param, decode_responses=False)
    c.flushall()
    yield c
    c.close()


@pytest.fixture
def r3(port):
    c = make_client(port, 3)
    c.flushall()
    yield c
    c.close()


def wait_until(pred, timeout=5.0, interval=0.01, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


@contextlib.contextmanager
def raises_error(prefix):
    """Expect a ResponseError whose full error text starts with prefix."""
    with pytest.raises(redis.ResponseError) as excinfo:
        yield excinfo
    msg = str(excinfo.value)
    assert msg.startswith(prefix), f"error {msg!r} does not start with {prefix!r}"


# --------------------------------------------------------------------------
# raw RESP helper (to check wire-level encoding)
# --------------------------------------------------------------------------

class Raw:
    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.buf = b""

    def send(self, *args):
        out = [b"*%d\r\n" % len(args)]
        for a in args:
            a = a if isinstance(a, bytes) else str(a).encode()
            out.append(b"$%d\r\n%s\r\n" % (len(a), a))
        self.sock.sendall(b"".join(out))

    def read_exact(self, n):
        deadline = time.monotonic() + 10
        while len(self.buf) < n:
            if time.monotonic() > deadline:
                raise TimeoutError
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed")
            self.buf += chunk
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def read_until_closed(self, timeout=5.0):
        """Read whatever arrives until the server closes the connection."""
        self.sock.settimeout(timeout)
        data = self.buf
        self.buf = b""
        while True:
            chunk = self.sock.recv(65536)
            if not chunk:
                return data
            data += chunk

    def close(self):
        self.sock.close()


# ==========================================================================
# strings
# ==========================================================================

def test_set_get_basic(r):
    assert r.get("missing") is None
    assert r.set("k", "v") is True
    assert r.get("k") == "v"
    assert r.set("k", "") is True
    assert r.get("k") == ""
    assert r.strlen("k") == 0
    big = "x" * 100_000
    assert r.set("big", big)
    assert r.get("big") == big


def test_set_binary_safe(rb):
    v = bytes(range(256)) * 4 + b"\r\n\x00end"
    assert rb.set(b"bin\x00key\r\n", v)
    assert rb.get(b"bin\x00key\r\n") == v
    assert rb.strlen(b"bin\x00key\r\n") == len(v)


def test_set_nx_xx(r):
    assert r.set("k", "1", nx=True) is True
    assert r.set("k", "2", nx=True) is None
    assert r.get("k") == "1"
    assert r.set("k", "3", xx=True) is True
    assert r.get("k") == "3"
    assert r.set("missing", "x", xx=True) is None
    assert r.exists("missing") == 0


def test_set_ex_px_exat_pxat(r):
    assert r.set("ex", "v", ex=100)
    assert 95 <= r.ttl("ex") <= 100
    assert r.set("px", "v", px=100_000)
    assert 95_000 <= r.pttl("px") <= 100_000
    at = int(time.time()) + 1000
    assert r.set("exat", "v", exat=at)
    assert r.expiretime("exat") == at
    assert 990 <= r.ttl("exat") <= 1000
    pat = int(time.time() * 1000) + 1_000_000
    assert r.set("pxat", "v", pxat=pat)
    assert r.pexpiretime("pxat") == pat
    # plain SET clears the TTL
    assert r.set("ex", "w")
    assert r.ttl("ex") == -1


def test_set_keepttl(r):
    r.set("k", "v1", ex=100)
    assert r.set("k", "v2", keepttl=True)
    assert r.get("k") == "v2"
    assert 95 <= r.ttl("k") <= 100


def test_set_get_option(r):
    assert r.set("k", "v1", get=True) is None
    assert r.get("k") == "v1"
    assert r.set("k", "v2", get=True) == "v1"
    assert r.get("k") == "v2"
    # NX + GET (allowed since 7.0): returns old value, does not set
    assert r.execute_command("SET", "k", "v3", "NX", "GET", get=True) == "v2"
    assert r.get("k") == "v2"
    # XX + GET on missing key: nil, nothing set
    assert r.execute_command("SET", "nokey", "v", "XX", "GET", get=True) is None
    assert r.exists("nokey") == 0
    # GET with EX
    assert r.execute_command("SET", "k", "v4", "GET", "EX", "100", get=True) == "v2"
    assert r.ttl("k") > 0


def test_set_get_option_wrongtype(r):
    kind = make_non_string(r, "coll")
    with raises_error("WRONGTYPE"):
        r.set("coll", "v", get=True)
    assert r.type("coll") == kind  # not overwritten


@pytest.mark.parametrize("args,err", [
    (["NX", "XX"], "ERR syntax error"),
    (["EX", "10", "PX", "100"], "ERR syntax error"),
    (["EX", "10", "KEEPTTL"], "ERR syntax error"),
    (["PXAT", "10", "EXAT", "10"], "ERR syntax error"),
    (["BOGUS"], "ERR syntax error"),
    (["EX"], "ERR syntax error"),
    (["EX", "0"], "ERR invalid expire time in 'set' command"),
    (["PX", "-5"], "ERR invalid expire time in 'set' command"),
    (["EX", "abc"], "ERR value is not an integer or out of range"),
])
def test_set_invalid_options(r, args, err):
    r.set("k", "orig")
    with raises_error(err):
        r.execute_command("SET", "k", "v", *args)
    assert r.get("k") == "orig"


def test_mset_mget_msetnx(r):
    assert r.mset({"a": "1", "b": "2", "c": ""}) is True
    assert r.mget("a", "b", "c", "missing") == ["1", "2", "", None]
    assert r.mget(["a"]) == ["1"]
    assert r.msetnx({"d": "4", "a": "x"}) is False
    assert r.exists("d") == 0
    assert r.get("a") == "1"
    assert r.msetnx({"d": "4", "e": "5"}) is True
    assert r.mget("d", "e") == ["4", "5"]
    # same key twice: last wins
    r.execute_command("MSET", "dup", "1", "dup", "2")
    assert r.get("dup") == "2"
    with raises_error("ERR wrong number of arguments for 'mset' command"):
        r.execute_command("MSET", "a", "1", "b")


def test_mget_non_string_is_nil(r):
    r.set("s", "v")
    make_non_string(r, "coll")
    assert r.mget("s", "coll") == ["v", None]


def test_incr_decr(r):
    assert r.incr("n") == 1
    assert r.incr("n") == 2
    assert r.decr("n") == 1
    assert r.incrby("n", 10) == 11
    assert r.decrby("n", 20) == -9
    assert r.incrby("n", -1) == -10
    assert r.get("n") == "-10"
    assert r.decr("fresh") == -1
    r.set("m", "  5")
    with raises_error("ERR value is not an integer or out of range"):
        r.incr("m")
    r.set("m", "abc")
    with raises_error("ERR value is not an integer or out of range"):
        r.incr("m")
    r.set("m", "1.5")
    with raises_error("ERR value is not an integer or out of range"):
        r.incrby("m", 1)
    with raises_error("ERR value is not an integer or out of range"):
        r.execute_command("INCRBY", "n", "1.0")
    with raises_error("ERR value is not an integer or out of range"):
        r.execute_command("INCRBY", "n", "99999999999999999999")


def test_incr_overflow(r):
    r.set("max", str(2**63 - 1))
    with raises_error("ERR increment or decrement would overflow"):
        r.incr("max")
    assert r.get("max") == str(2**63 - 1)
    r.set("min", str(-(2**63)))
    with raises_error("ERR increment or decrement would overflow"):
        r.decr("min")
    with raises_error("ERR increment or decrement would overflow"):
        r.incrby("min", -1)
    assert r.incrby("min", 2**63 - 1) == -1
    r.set("x", "1")
    with raises_error("ERR decrement would overflow"):
        r.execute_command("DECRBY", "x", str(-(2**63)))


def test_incrbyfloat(r):
    assert r.incrbyfloat("f", 0.5) == 0.5
    assert r.incrbyfloat("f", 1) == 1.5
    assert r.get("f") == "1.5"
    r.set("f", "10.50")
    assert r.incrbyfloat("f", 0.1) == pytest.approx(10.6)
    assert r.get("f") == "10.6"
    r.set("f", "3.0e3")
    assert r.execute_command("INCRBYFLOAT", "f", "200") in ("3200", 3200.0)
    assert r.get("f") == "3200"
    r.set("i", "5")
    r.incrbyfloat("i", -5)
    assert r.get("i") == "0"
    r.set("s", "abc")
    with raises_error("ERR value is not a valid float"):
        r.incrbyfloat("s", 1)
    with raises_error("ERR value is not a valid float"):
        r.execute_command("INCRBYFLOAT", "f", "abc")
    with raises_error("ERR increment would produce NaN or Infinity"):
        r.execute_command("INCRBYFLOAT", "f", "inf")
    assert r.get("f") == "3200"


def test_append_strlen(r):
    assert r.append("k", "hello") == 5
    assert r.append("k", " world") == 11
    assert r.get("k") == "hello world"
    assert r.strlen("k") == 11
    assert r.strlen("missing") == 0
    assert r.append("e", "") == 0
    assert r.exists("e") == 1
    r.set("n", 10)
    assert r.append("n", "5") == 3
    assert r.incr("n") == 106


def test_getrange_setrange(r):
    r.set("k", "Hello World")
    assert r.getrange("k", 0, 4) == "Hello"
    assert r.getrange("k", -5, -1) == "World"
    assert r.getrange("k", 0, -1) == "Hello World"
    assert r.getrange("k", 5, 3) == ""
    assert r.getrange("k", 100, 200) == ""
    assert r.getrange("k", -100, 2) == "Hel"
    assert r.getrange("missing", 0, 10) == ""
    assert r.setrange("k", 6, "Redis") == 11
    assert r.get("k") == "Hello Redis"
    assert r.setrange("pad", 5, "x") == 6
    assert r.get("pad") == "\x00\x00\x00\x00\x00x"
    # empty value on missing key creates nothing
    assert r.setrange("nokey", 10, "") == 0
    assert r.exists("nokey") == 0
    assert r.setrange("k", 0, "") == 11
    with raises_error("ERR offset is out of range"):
        r.setrange("k", -1, "x")
    with raises_error("ERR string exceeds maximum allowed size"):
        r.setrange("k", 512 * 1024 * 1024, "x")


def test_getex_getdel_getset(r):
    r.set("k", "v")
    assert r.getex("k", ex=100) == "v"
    assert 95 <= r.ttl("k") <= 100
    assert r.getex("k", px=200_000) == "v"
    assert 195_000 <= r.pttl("k") <= 200_000
    assert r.getex("k", persist=True) == "v"
    assert r.ttl("k") == -1
    assert r.getex("k") == "v"
    assert r.getex("missing", ex=10) is None
    with raises_error("ERR syntax error"):
        r.execute_command("GETEX", "k", "PERSIST", "EX", "10")
    with raises_error("ERR invalid expire time in 'getex' command"):
        r.execute_command("GETEX", "k", "EX", "0")

    assert r.getdel("k") == "v"
    assert r.exists("k") == 0
    assert r.getdel("k") is None

    assert r.getset("g", "1") is None
    assert r.getset("g", "2") == "1"
    r.expire("g", 100)
    assert r.getset("g", "3") == "2"
    assert r.ttl("g") == -1  # GETSET drops the TTL


def test_setnx_setex_psetex(r):
    assert r.setnx("k", "1") is True
    assert r.setnx("k", "2") is False
    assert r.get("k") == "1"
    assert r.setex("e", 100, "v")
    assert 95 <= r.ttl("e") <= 100
    assert r.psetex("p", 100_000, "v")
    assert 95_000 <= r.pttl("p") <= 100_000
    with raises_error("ERR invalid expire time in 'setex' command"):
        r.setex("e", 0, "v")
    with raises_error("ERR invalid expire time in 'psetex' command"):
        r.execute_command("PSETEX", "p", "-1", "v")


# ==========================================================================
# generic key commands
# ==========================================================================

def test_del_exists_type(r):
    r.mset({"a": 1, "b": 2, "c": 3})
    assert r.exists("a", "b", "missing") == 2
    assert r.exists("a", "a", "a") == 3
    assert r.delete("a", "b", "missing") == 2
    assert r.exists("a", "b") == 0
    assert r.type("c") == "string"
    assert r.type("missing") == "none"
    assert r.unlink("c") == 1
    assert r.exists("c") == 0


def test_rename_renamenx(r):
    r.set("a", "1", ex=100)
    assert r.rename("a", "b") is True
    assert r.exists("a") == 0
    assert r.get("b") == "1"
    assert r.ttl("b") > 0  # TTL moves with the key
    with raises_error("ERR no such key"):
        r.rename("missing", "x")
    r.set("c", "3")
    assert r.rename("b", "c")
    assert r.get("c") == "1"
    assert r.rename("c", "c")  # same key: OK
    assert r.get("c") == "1"
    r.set("d", "4")
    assert r.renamenx("c", "d") is False
    assert r.get("c") == "1"
    assert r.renamenx("c", "e") is True
    assert r.get("e") == "1"
    assert r.exists("c") == 0


def test_copy(r):
    r.set("src", "v", ex=100)
    assert r.copy("src", "dst") is True
    assert r.get("dst") == "v"
    assert r.ttl("dst") > 0
    r.set("dst", "other")
    assert r.copy("src", "dst") is False
    assert r.get("dst") == "other"
    assert r.copy("src", "dst", replace=True) is True
    assert r.get("dst") == "v"
    assert r.copy("missing", "x") is False
    with raises_error("ERR source and destination objects are the same"):
        r.copy("src", "src")
    assert r.copy("src", "src", destination_db=1) is True
    r1 = make_client(r.connection_pool.connection_kwargs["port"], db=1)
    try:
        assert r1.get("src") == "v"
    finally:
        r1.close()
    with raises_error("ERR DB index is out of range"):
        r.execute_command("COPY", "src", "x", "DB", "100000")


def test_move(r):
    port = r.connection_pool.connection_kwargs["port"]
    r1 = make_client(port, db=1)
    try:
        r.set("k", "v", ex=100)
        assert r.move("k", 1) is True
        assert r.exists("k") == 0
        assert r1.get("k") == "v"
        assert r1.ttl("k") > 0
        assert r.move("k", 1) is False  # missing in source
        r.set("k", "v0")
        assert r.move("k", 1) is False  # exists in target
        assert r.get("k") == "v0"
        with raises_error("ERR source and destination objects are the same"):
            r.move("k", 0)
        with raises_error("ERR DB index is out of range"):
            r.move("k", 100000)
    finally:
        r1.close()


def test_keys_patterns(r):
    r.mset({k: 1 for k in ["hello", "hallo", "hxllo", "hllo", "heeeello",
                           "h*llo", "other", "a[b", "ab"]})
    assert sorted(r.keys("*")) == sorted(["hello", "hallo", "hxllo", "hllo",
                                          "heeeello", "h*llo", "other", "a[b", "ab"])
    assert sorted(r.keys("h?llo")) == ["h*llo", "hallo", "hello", "hxllo"]
    assert sorted(r.keys("h*llo")) == ["h*llo", "hallo", "heeeello", "hello", "hllo", "hxllo"]
    assert sorted(r.keys("h[ae]llo")) == ["hallo", "hello"]
    assert sorted(r.keys("h[^e]llo")) == ["h*llo", "hallo", "hxllo"]
    assert sorted(r.keys("h[a-b]llo")) == ["hallo"]
    assert r.keys("h\\*llo") == ["h*llo"]
    assert r.keys("a\\[b") == ["a[b"]
    assert r.keys("nomatch*") == []


def test_scan_5000_keys(r):
    n = 5000
    pipe = r.pipeline(transaction=False)
    for i in range(n):
        pipe.set(f"key:{i}", i)
    pipe.execute()
    seen = list(r.scan_iter(count=100))
    assert set(seen) == {f"key:{i}" for i in range(n)}  # every key at least once
    # MATCH and COUNT
    matched = set(r.scan_iter(match="key:1*", count=500))
    assert matched == {f"key:{i}" for i in range(n) if str(i).startswith("1")}
    # TYPE filter
    assert len(set(r.scan_iter(_type="string", count=1000))) == n
    assert list(r.scan_iter(_type="list", count=1000)) == []
    # a single SCAN call returns a cursor and a list
    cursor, keys = r.scan(0, count=10)
    assert isinstance(cursor, int) and isinstance(keys, list)


def test_scan_keys_added_during_iteration(r):
    """Keys present for the whole iteration must be returned."""
    for i in range(1000):
        r.set(f"old:{i}", 1)
    seen = set()
    cursor = 0
    i = 0
    while True:
        cursor, keys = r.scan(cursor, count=50)
        seen.update(keys)
        r.set(f"new:{i}", 1)  # concurrent writes (may trigger a resize)
        i += 1
        if cursor == 0:
            break
    assert {f"old:{i}" for i in range(1000)} <= seen


def test_scan_invalid_cursor(r):
    with raises_error("ERR invalid cursor"):
        r.execute_command("SCAN", "abc")


# ==========================================================================
# expiry
# ==========================================================================

def test_ttl_basics(r):
    assert r.ttl("missing") == -2
    assert r.pttl("missing") == -2
    r.set("k", "v")
    assert r.ttl("k") == -1
    assert r.pttl("k") == -1
    assert r.expiretime("k") == -1
    assert r.expiretime("missing") == -2
    assert r.expire("k", 100) is True
    assert 95 <= r.ttl("k") <= 100
    assert r.pexpire("k", 100_000) is True
    assert 95_000 <= r.pttl("k") <= 100_000
    now = int(time.time())
    assert abs(r.expiretime("k") - (now + 100)) <= 2
    assert r.persist("k") is True
    assert r.persist("k") is False
    assert r.ttl("k") == -1
    assert r.expire("missing", 100) is False
    at = int(time.time()) + 500
    assert r.expireat("k", at) is True
    assert r.expiretime("k") == at
    pat = int(time.time() * 1000) + 500_000
    assert r.pexpireat("k", pat) is True
    assert r.pexpiretime("k") == pat


def test_expire_nx_xx_gt_lt(r):
    r.set("k", "v")
    assert r.expire("k", 100, xx=True) is False  # no TTL yet
    assert r.ttl("k") == -1
    assert r.expire("k", 100, nx=True) is True
    assert r.expire("k", 200, nx=True) is False
    assert r.expire("k", 200, xx=True) is True
    assert 195 <= r.ttl("k") <= 200
    assert r.expire("k", 100, gt=True) is False
    assert r.expire("k", 300, gt=True) is True
    assert r.expire("k", 400, lt=True) is False
    assert r.expire("k", 50, lt=True) is True
    assert 45 <= r.ttl("k") <= 50
    # no TTL counts as infinite: LT sets it, GT does not
    r.persist("k")
    assert r.expire("k", 100, gt=True) is False
    assert r.ttl("k") == -1
    assert r.expire("k", 100, lt=True) is True
    assert r.pexpire("k", 500_000, gt=True) is True
    with raises_error("ERR NX and XX, GT or LT options at the same time are not compatible"):
        r.execute_command("EXPIRE", "k", "10", "NX", "XX")
    with raises_error("ERR GT and LT options at the same time are not compatible"):
        r.execute_command("EXPIRE", "k", "10", "GT", "LT")
    with raises_error("ERR Unsupported option foo"):
        r.execute_command("EXPIRE", "k", "10", "foo")
    with raises_error("ERR value is not an integer or out of range"):
        r.execute_command("EXPIRE", "k", "ten")


def test_expire_non_positive_deletes(r):
    r.set("k", "v")
    assert r.expire("k", 0) is True
    assert r.exists("k") == 0
    r.set("k", "v")
    assert r.pexpire("k", -100) is True
    assert r.get("k") is None
    r.set("k", "v")
    assert r.expireat("k", 1) is True
    assert r.exists("k") == 0


def test_key_actually_expires(r):
    r.set("k", "v")
    r.set("k2", "v", px=50)
    assert r.pexpire("k", 50) is True
    wait_until(lambda: r.exists("k") == 0, timeout=5, what="k to expire")
    wait_until(lambda: r.exists("k2") == 0, timeout=5, what="k2 to expire")
    assert r.get("k") is None
    assert r.ttl("k") == -2
    assert r.dbsize() == 0


def test_active_expiry_without_access(r):
    """Keys expire (disappear from DBSIZE/INFO) without being touched."""
    pipe = r.pipeline(transaction=False)
    for i in range(100):
        pipe.set(f"e:{i}", "v", px=30)
    pipe.set("keep", "v")
    pipe.execute()
    wait_until(lambda: r.dbsize() == 1, timeout=5, what="active expiry to reap 100 keys")
    assert r.keys("*") == ["keep"]


# ==========================================================================
# DUMP / RESTORE
# ==========================================================================

def test_dump_restore_roundtrip(rb):
    values = [b"", b"hello", b"12345", b"-9000000000", b"3.14", bytes(range(256)) * 40,
              b"x" * 100_000]
    for i, v in enumerate(values):
        key = b"src%d" % i
        rb.set(key, v)
        payload = rb.dump(key)
        assert isinstance(payload, bytes) and len(payload) > 0
        assert rb.restore(b"dst%d" % i, 0, payload)
        assert rb.get(b"dst%d" % i) == v
        assert rb.ttl(b"dst%d" % i) == -1
    assert rb.dump(b"missing") is None


def test_restore_options(rb):
    rb.set(b"k", b"v")
    payload = rb.dump(b"k")
    with raises_error("BUSYKEY Target key name already exists."):
        rb.restore(b"k", 0, payload)
    rb.set(b"k", b"other")
    assert rb.restore(b"k", 0, payload, replace=True)
    assert rb.get(b"k") == b"v"
    assert rb.restore(b"t", 100_000, payload)
    assert 95_000 <= rb.pttl(b"t") <= 100_000
    at = int(time.time() * 1000) + 200_000
    assert rb.restore(b"a", at, payload, absttl=True)
    assert rb.pexpiretime(b"a") == at
    with raises_error("ERR DUMP payload version or checksum are wrong"):
        rb.restore(b"bad", 0, b"garbage")
    corrupted = bytearray(payload)
    corrupted[-1] ^= 0xFF  # break the checksum
    with raises_error("ERR DUMP payload version or checksum are wrong"):
        rb.restore(b"bad", 0, bytes(corrupted))
    with raises_error("ERR Invalid TTL value, must be >= 0"):
        rb.restore(b"bad", -1, payload)
    assert rb.exists(b"bad") == 0


# ==========================================================================
# databases
# ==========================================================================

def test_select_swapdb_dbsize_flush(r):
    port = r.connection_pool.connection_kwargs["port"]
    proto = r.connection_pool.connection_kwargs.get("protocol", 2)
    c = make_client(port, proto, single_connection_client=True)
    try:
        c.set("a", "0")
        assert c.execute_command("SELECT", 1) in (True, "OK")
        assert c.get("a") is None
        c.mset({"x": 1, "y": 2})
        assert c.dbsize() == 2
        assert c.execute_command("SELECT", 0) in (True, "OK")
        assert c.dbsize() == 1
        assert c.swapdb(0, 1) is True
        assert sorted(c.keys()) == ["x", "y"]
        assert c.dbsize() == 2
        c.execute_command("SELECT", 1)
        assert c.keys() == ["a"]
        with raises_error("ERR DB index is out of range"):
            c.execute_command("SELECT", 16)
        with raises_error("ERR value is not an integer or out of range"):
            c.execute_command("SELECT", "x")
        with raises_error("ERR invalid first DB index"):
            c.execute_command("SWAPDB", "a", "1")
        with raises_error("ERR DB index is out of range"):
            c.execute_command("SWAPDB", "0", "16")
        assert c.flushdb() is True
        assert c.dbsize() == 0
        c.execute_command("SELECT", 0)
        assert c.dbsize() == 2
        c.execute_command("SELECT", 2)
        c.set("z", 1)
        assert c.flushall() is True
        assert c.dbsize() == 0
        c.execute_command("SELECT", 0)
        assert c.dbsize() == 0
        assert c.flushdb(asynchronous=True) is True
        assert c.execute_command("FLUSHALL", "SYNC") in (True, "OK")
    finally:
        c.close()


def test_swapdb_is_seen_by_other_connections(r):
    port = r.connection_pool.connection_kwargs["port"]
    r1 = make_client(port, db=1)
    try:
        r.set("in0", "a")
        r1.set("in1", "b")
        r.swapdb(0, 1)
        assert r.keys() == ["in1"]
        assert r1.keys() == ["in0"]
    finally:
        r1.close()


# ==========================================================================
# pipelining
# ==========================================================================

def test_pipeline_10000(r):
    n = 10_000
    pipe = r.pipeline(transaction=False)
    for i in range(n):
        pipe.set(f"p:{i}", i)
        pipe.incr(f"p:{i}")
        pipe.get(f"p:{i}")
    res = pipe.execute()
    assert len(res) == 3 * n
    for i in range(n):
        assert res[3 * i] is True
        assert res[3 * i + 1] == i + 1
        assert res[3 * i + 2] == str(i + 1)
    assert r.dbsize() == n


def test_pipeline_errors_in_place(r):
    pipe = r.pipeline(transaction=False)
    pipe.set("s", "abc")
    pipe.incr("s")
    pipe.get("s")
    res = pipe.execute(raise_on_error=False)
    assert res[0] is True
    assert isinstance(res[1], redis.ResponseError)
    assert str(res[1]).startswith("ERR value is not an integer or out of range")
    assert res[2] == "abc"


def test_raw_pipelined_write_order(port):
    """Many commands in one write(); replies come back complete and in order."""
    raw = Raw(port)
    try:
        n = 2000
        payload = b"".join(b"*2\r\n$4\r\nECHO\r\n$%d\r\n%d\r\n" % (len(str(i)), i)
                           for i in range(n))
        raw.sock.sendall(payload)
        expected = b"".join(b"$%d\r\n%d\r\n" % (len(str(i)), i) for i in range(n))
        assert raw.read_exact(len(expected)) == expected
    finally:
        raw.close()


# ==========================================================================
# protocol: HELLO / RESP3 encoding / inline
# ==========================================================================

def test_hello3_fields(r3):
    h = r3.execute_command("HELLO", 3)
    assert isinstance(h, dict)
    for field in ("server", "version", "proto", "id", "mode", "role", "modules"):
        assert field in h, f"HELLO reply lacks {field!r}: {h}"
    assert h["proto"] == 3
    assert isinstance(h["server"], str) and h["server"]
    assert isinstance(h["version"], str)
    parts = h["version"].split(".")
    assert len(parts) >= 2 and all(p.isdigit() for p in parts), h["version"]
    assert isinstance(h["id"], int) and h["id"] == r3.client_id()
    assert h["mode"] == "standalone"
    assert h["role"] == "master"
    assert h["modules"] == []


def test_hello2_and_errors(port):
    c = make_client(port, 2, single_connection_client=True)
    try:
        h = c.execute_command("HELLO", 2)
        # RESP2: flat array of alternating field/value
        assert isinstance(h, list) and len(h) == 14
        d = dict(zip(h[::2], h[1::2]))
        assert d["proto"] == 2 and d["mode"] == "standalone" and d["role"] == "master"
        with raises_error("NOPROTO unsupported protocol version"):
            c.execute_command("HELLO", 4)
        with raises_error("ERR Protocol version is not an integer or out of range"):
            c.execute_command("HELLO", "x")
        h = c.execute_command("HELLO", 2, "SETNAME", "via-hello")
        assert c.client_getname() == "via-hello"
    finally:
        c.close()


def test_resp3_wire_encoding(port):
    raw = Raw(port)
    try:
        raw.send("GET", "no-such-key-resp2")
        assert raw.read_exact(5) == b"$-1\r\n"
        raw.send("HELLO", "3")
        first = raw.read_exact(1)
        assert first == b"%", f"HELLO 3 must reply with a RESP3 map, got {first!r}"
        raw.sock.settimeout(2)
        # drain the rest of the HELLO map with a PING fence
        raw.send("PING")
        deadline = time.monotonic() + 5
        while b"+PONG\r\n" not in raw.buf:
            assert time.monotonic() < deadline, "no PONG after HELLO 3"
            raw.buf += raw.sock.recv(65536)
        raw.buf = raw.buf[raw.buf.index(b"+PONG\r\n") + 7:]
        raw.send("GET", "no-such-key-resp3")
        assert raw.read_exact(3) == b"_\r\n"
        raw.send("MGET", "no-such-key-resp3")
        assert raw.read_exact(7) == b"*1\r\n_\r\n"
        raw.send("CONFIG", "GET", "maxclients")
        assert raw.read_exact(4) == b"%1\r\n"
    finally:
        raw.close()


def test_inline_commands(port):
    raw = Raw(port)
    try:
        raw.sock.sendall(b"PING\r\nSET inl 'a b'\r\nGET inl\r\nEXISTS inl\r\nDEL inl\r\n")
        expected = b"+PONG\r\n+OK\r\n$3\r\na b\r\n:1\r\n:1\r\n"
        assert raw.read_exact(len(expected)) == expected
    finally:
        raw.close()


def test_protocol_error_closes_connection(port):
    raw = Raw(port)
    try:
        raw.sock.sendall(b"*1\r\n$abc\r\n")
        data = raw.read_until_closed()
        assert data.startswith(b"-ERR Protocol error")
    finally:
        raw.close()


def test_ping_echo(r):
    assert r.ping() is True
    assert r.echo("hello") == "hello"
    with raises_error("ERR wrong number of arguments for 'ping' command"):
        r.execute_command("PING", "a", "b")


# ==========================================================================
# CLIENT
# ==========================================================================

def test_client_setname_getname_id_list(r):
    port = r.connection_pool.connection_kwargs["port"]
    proto = r.connection_pool.connection_kwargs.get("protocol", 2)
    c = make_client(port, proto, single_connection_client=True)
    try:
        assert c.client_getname() is None
        assert c.client_setname("compat-test") is True
        assert c.client_getname() == "compat-test"
        cid = c.client_id()
        assert isinstance(cid, int) and cid > 0
        clients = c.client_list()
        assert isinstance(clients, list) and len(clients) >= 1
        mine = [cl for cl in clients if int(cl["id"]) == cid]
        assert len(mine) == 1, clients
        me = mine[0]
        assert me["name"] == "compat-test"
        assert me["addr"].startswith("127.0.0.1:")
        for field in ("id", "addr", "laddr", "fd", "name", "age", "idle", "db", "cmd"):
            assert field in me, f"CLIENT LIST lacks {field}= : {me}"
        assert me["cmd"] == "client|list"
        assert int(me["db"]) == 0
        info = c.client_info()
        assert int(info["id"]) == cid and info["name"] == "compat-test"
        # another connection has a different id
        other = make_client(port, proto, single_connection_client=True)
        try:
            assert other.client_id() != cid
            assert c.client_list(client_id=[str(other.client_id())])[0]["id"] == str(other.client_id())
        finally:
            other.close()
        with raises_error("ERR Client names cannot contain spaces, newlines or special characters."):
            c.client_setname("bad name")
        assert c.client_setname("") is True  # empty name clears it
        assert c.client_getname() is None
    finally:
        c.close()


# ==========================================================================
# INFO / CONFIG
# ==========================================================================

def test_info(r):
    r.mset({"a": 1, "b": 2, "c": 3})
    r.expire("a", 1000)
    info = r.info()
    assert isinstance(info["redis_version"], str)
    assert info["tcp_port"] == r.connection_pool.connection_kwargs["port"]
    assert info["role"] == "master"
    assert isinstance(info["connected_clients"], int) and info["connected_clients"] >= 1
    assert isinstance(info["used_memory"], int) and info["used_memory"] > 0
    assert isinstance(info["total_commands_processed"], int)
    assert isinstance(info["uptime_in_seconds"], int)
    assert isinstance(info["process_id"], int)
    ks = r.info("keyspace")
    assert ks["db0"]["keys"] == 3
    assert ks["db0"]["expires"] == 1
    assert "db1" not in ks
    server = r.info("server")
    assert "redis_version" in server and "used_memory" not in server
    assert server["redis_mode"] == "standalone"
    mem = r.info("memory")
    assert isinstance(mem["used_memory"], int) and "redis_version" not in mem
    assert "connected_clients" in r.info("clients")
    assert "total_connections_received" in r.info("stats")
    assert r.info("replication")["role"] == "master"
    assert r.info("nosuchsection") == {}
    allinfo = r.info("all")
    assert "redis_version" in allinfo and "db0" in allinfo


def test_info_keyspace_multiple_dbs(r):
    port = r.connection_pool.connection_kwargs["port"]
    r3 = make_client(port, db=3)
    try:
        r.set("a", 1)
        r3.mset({"x": 1, "y": 2})
        ks = r.info("keyspace")
        assert ks["db0"]["keys"] == 1
        assert ks["db3"]["keys"] == 2 and ks["db3"]["expires"] == 0
        r.flushall()
        assert r.info("keyspace") == {}
    finally:
        r3.close()


def test_config_get_set(r):
    cfg = r.config_get("maxclients")
    assert list(cfg) == ["maxclients"]
    initial = cfg["maxclients"]  # 10000 by default (less if the fd limit is low)
    assert initial.isdigit() and int(initial) > 0
    assert r.config_set("maxclients", 500) is True
    assert r.config_get("maxclients") == {"maxclients": "500"}
    assert r.config_set("maxclients", initial) is True
    pm = r.config_get("proto-max-bulk-len")
    assert pm == {"proto-max-bulk-len": str(512 * 1024 * 1024)}
    assert "maxclients" in r.config_get("maxcl*")
    assert r.config_get("no-such-param") == {}
    with raises_error("ERR Unknown option or number of arguments for CONFIG SET - 'no-such-param'"):
        r.config_set("no-such-param", "1")
    with raises_error("ERR CONFIG SET failed (possibly related to argument 'maxclients')"):
        r.config_set("maxclients", "abc")
    assert r.config_get("maxclients") == {"maxclients": initial}


def test_config_proto_max_bulk_len_enforced(port):
    c = make_client(port)
    try:
        assert c.config_set("proto-max-bulk-len", "1mb") is True
        assert c.config_get("proto-max-bulk-len") == {"proto-max-bulk-len": "1048576"}
        raw = Raw(port)
        try:
            n = 2 * 1024 * 1024
            raw.sock.sendall(b"*3\r\n$3\r\nSET\r\n$3\r\nbig\r\n$%d\r\n" % n)
            data = raw.read_until_closed()
            assert data.startswith(b"-ERR Protocol error: invalid bulk length")
        finally:
            raw.close()
        assert c.exists("big") == 0
    finally:
        c.config_set("proto-max-bulk-len", str(512 * 1024 * 1024))
        c.close()


# ==========================================================================
# errors
# ==========================================================================

def make_non_string(r, key):
    """Create a non-string key with whatever collection type the server has.

    Skips the test if the server implements no collection type yet."""
    attempts = [("list", ("RPUSH", key, "a")), ("hash", ("HSET", key, "f", "v")),
                ("set", ("SADD", key, "m")), ("zset", ("ZADD", key, "1", "m")),
                ("stream", ("XADD", key, "*", "f", "v"))]
    for kind, cmd in attempts:
        try:
            r.execute_command(*cmd)
            return kind
        except redis.ResponseError as e:
            if str(e).startswith("ERR unknown command"):
                continue
            raise
    pytest.skip("server implements no collection type yet (needed for WRONGTYPE)")


def test_wrongtype_errors(r):
    make_non_string(r, "coll")
    for cmd in (("GET", "coll"), ("INCR", "coll"), ("APPEND", "coll", "x"),
                ("STRLEN", "coll"), ("GETRANGE", "coll", "0", "1"),
                ("SETBIT", "coll", "0", "1"), ("BITCOUNT", "coll"), ("GETDEL", "coll"),
                ("INCRBYFLOAT", "coll", "1")):
        with raises_error("WRONGTYPE Operation against a key holding the wrong kind of value"):
            r.execute_command(*cmd)
    # SET overwrites any type
    assert r.set("coll", "now-a-string")
    assert r.get("coll") == "now-a-string"


def test_error_messages(r):
    r.set("s", "abc")
    with raises_error("ERR value is not an integer or out of range"):
        r.incr("s")
    with raises_error("ERR syntax error"):
        r.execute_command("SET", "k", "v", "NX", "XX")
    # the command name is echoed as sent (case preserved)
    with raises_error("ERR unknown command 'NoSuchCmd', with args beginning with: 'a' 'b' "):
        r.execute_command("NoSuchCmd", "a", "b")
    with raises_error("ERR unknown command 'nosuchcmd', with args beginning with: "):
        r.execute_command("nosuchcmd")
    with raises_error("ERR wrong number of arguments for 'get' command"):
        r.execute_command("GET")
    with raises_error("ERR wrong number of arguments for 'set' command"):
        r.execute_command("SET", "k")
    # the connection keeps working after errors
    assert r.get("s") == "abc"


# ==========================================================================
# bitmaps
# ==========================================================================

def test_setbit_getbit(r):
    assert r.setbit("b", 7, 1) == 0
    assert r.setbit("b", 7, 1) == 1
    assert r.getbit("b", 7) == 1
    assert r.getbit("b", 0) == 0
    assert r.getbit("b", 1000) == 0
    assert r.getbit("missing", 0) == 0
    assert r.get("b") == "\x01"
    assert r.setbit("b", 100, 1) == 0
    assert r.strlen("b") == 13
    assert r.setbit("b", 7, 0) == 1
    with raises_error("ERR bit offset is not an integer or out of range"):
        r.setbit("b", 2**32, 1)
    with raises_error("ERR bit offset is not an integer or out of range"):
        r.execute_command("SETBIT", "b", "-1", "1")
    with raises_error("ERR bit is not an integer or out of range"):
        r.execute_command("SETBIT", "b", "0", "2")


def test_bitcount(r):
    r.set("k", "foobar")
    assert r.bitcount("k") == 26
    assert r.bitcount("k", 0, 0) == 4
    assert r.bitcount("k", 1, 1) == 6
    assert r.bitcount("k", -2, -1) == 7
    assert r.bitcount("k", 5, 30) == 4
    assert r.bitcount("k", 1, 0) == 0
    assert r.bitcount("k", 1, 1, mode="BYTE") == 6
    assert r.bitcount("k", 5, 30, mode="BIT") == 17
    assert r.bitcount("k", -8, -1, mode="BIT") == 4
    assert r.bitcount("missing") == 0
    with raises_error("ERR syntax error"):
        r.execute_command("BITCOUNT", "k", "0")
    with raises_error("ERR syntax error"):
        r.execute_command("BITCOUNT", "k", "0", "1", "WORD")


def test_bitpos(r):
    r.set("k", b"\xff\xf0\x00")
    assert r.bitpos("k", 0) == 12
    assert r.bitpos("k", 1) == 0
    assert r.bitpos("k", 1, 2) == -1
    assert r.bitpos("k", 0, 2) == 16
    r.set("k", b"\x00\xff\xf0")
    assert r.bitpos("k", 1, 0) == 8
    assert r.bitpos("k", 1, 2) == 16
    assert r.bitpos("k", 1, 2, -1, "BYTE") == 16
    assert r.bitpos("k", 1, 7, 15, "BIT") == 8
    assert r.bitpos("k", 0, 8, -1, "BIT") == 20
    r.set("ones", b"\xff\xff")
    assert r.bitpos("ones", 0) == 16  # no end given: past the string
    assert r.bitpos("ones", 0, 0, -1) == -1  # explicit end
    assert r.bitpos("missing", 0) == 0
    assert r.bitpos("missing", 1) == -1
    with raises_error("ERR The bit argument must be 1 or 0."):
        r.execute_command("BITPOS", "k", "2")


def test_bitop(rb):
    r = rb
    r.set("a", "foobar")
    r.set("b", "abcdef")
    assert r.bitop("AND", "dand", "a", "b") == 6
    assert r.get("dand") == b"`bc`ab"
    assert r.bitop("OR", "dor", "a", "b") == 6
    assert r.get("dor") == b"goofev"
    assert r.bitop("XOR", "dxor", "a", "b") == 6
    assert r.get("dxor") == b"\x07\r\x0c\x06\x04\x14"
    r.set("x", b"\x0f\x00")
    assert r.bitop("NOT", "dnot", "x") == 2
    assert r.get("dnot") == b"\xf0\xff"
    # different lengths: the shorter is zero-padded
    r.set("s", b"\xff")
    r.set("l", b"\xff\x0f\xff")
    assert r.bitop("AND", "d", "s", "l") == 3
    assert r.get("d") == b"\xff\x00\x00"
    assert r.bitop("OR", "d", "s", "l", "nokey") == 3
    assert r.get("d") == b"\xff\x0f\xff"
    # all sources missing: destination deleted
    r.set("dst", "x")
    assert r.bitop("OR", "dst", "nokey1", "nokey2") == 0
    assert r.exists("dst") == 0
    with raises_error("ERR BITOP NOT must be called with a single source key."):
        r.bitop("NOT", "d", "a", "b")
    with raises_error("ERR syntax error"):
        r.bitop("NAND", "d", "a", "b")


def test_bitfield(r):
    bf = r.bitfield("bf")
    res = (bf.set("u8", 0, 255).get("u8", 0).incrby("u8", 0, 10)
           .get("i4", 0).set("i8", "#1", -1).get("u8", 8).execute())
    assert res == [0, 255, 9, 0, 0, 255]
    res = (r.bitfield("c").incrby("u2", 100, 1, overflow="SAT").incrby("u2", 100, 5)
           .incrby("i5", 0, 100, overflow="WRAP").execute())
    assert res == [1, 3, 4]
    res = (r.bitfield("d", default_overflow="FAIL").incrby("u2", 0, 3)
           .incrby("u2", 0, 1).get("u2", 0).execute())
    assert res == [3, None, 3]
    assert r.bitfield("d").set("i8", 0, 200).execute() == [-64]
    assert r.bitfield("d").get("i8", 0).execute() == [-56]
    # BITFIELD_RO
    assert r.bitfield_ro("d", "u8", 0, items=[("u4", 4)]) == [200, 8]
    assert r.bitfield("empty").execute() == []
    with raises_error("ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is."):
        r.execute_command("BITFIELD", "d", "GET", "u64", "0")
    with raises_error("ERR bit offset is not an integer or out of range"):
        r.execute_command("BITFIELD", "d", "GET", "u8", "-1")
    with raises_error("ERR Invalid OVERFLOW type specified"):
        r.execute_command("BITFIELD", "d", "OVERFLOW", "BAD", "GET", "u8", "0")
    with raises_error("ERR syntax error"):
        r.execute_command("BITFIELD", "d", "FOO")


# ==========================================================================
# LCS
# ==========================================================================

def test_lcs(r):
    r.mset({"key1": "ohmytext", "key2": "mynewtext"})
    assert r.execute_command("LCS", "key1", "key2") == "mytext"
    assert r.execute_command("LCS", "key1", "key2", "LEN") == 6
    assert r.execute_command("LCS", "key1", "missing") == ""
    assert r.execute_command("LCS", "m1", "m2", "LEN") == 0
    res = r.execute_command("LCS", "key1", "key2", "IDX", "MINMATCHLEN", "4", "WITHMATCHLEN")
    if isinstance(res, list):  # RESP2: flat array
        res = dict(zip(res[::2], res[1::2]))
    assert res["len"] == 6
    assert res["matches"] == [[[4, 7], [5, 8], 4]]
    res = r.execute_command("LCS", "key1", "key2", "IDX")
    if isinstance(res, list):
        res = dict(zip(res[::2], res[1::2]))
    assert res["matches"] == [[[4, 7], [5, 8]], [[2, 3], [0, 1]]]
    assert res["len"] == 6
    with raises_error("ERR If you want both the length and indexes, please just use IDX."):
        r.execute_command("LCS", "key1", "key2", "LEN", "IDX")
    with raises_error("ERR syntax error"):
        r.execute_command("LCS", "key1", "key2", "BOGUS")
