"""redis-py's scripting against the server under test: EVAL / EVALSHA with its Script objects
(which load a script on NOSCRIPT and retry), the Lock class (Lua underneath), Redis's type
conversions both ways and its error texts, and functions (FUNCTION LOAD, FCALL). Passes
against redis-server 7 too."""

import pytest
import redis

from servers import Server, server_under_test_cmd


@pytest.fixture(scope="module")
def port():
    srv = Server(server_under_test_cmd(), name="sut-scripting")
    srv.start()
    yield srv.port
    srv.stop()


@pytest.fixture(params=[2, 3], ids=["resp2", "resp3"])
def r(request, port):
    c = redis.Redis(host="127.0.0.1", port=port, protocol=request.param, decode_responses=True,
                    socket_timeout=10)
    c.flushall()
    c.script_flush()
    c.function_flush()
    yield c
    c.close()


def test_a_registered_script_loads_itself_and_runs_by_sha(r):
    incr_by = r.register_script(
        "local v = redis.call('INCRBY', KEYS[1], ARGV[1]) "
        "redis.call('RPUSH', KEYS[2], v) return v")
    assert incr_by(keys=["n", "log"], args=[5]) == 5
    assert incr_by(keys=["n", "log"], args=[7]) == 12
    assert r.lrange("log", 0, -1) == ["5", "12"]
    assert r.script_exists(incr_by.sha, "0" * 40) == [True, False]
    r.script_flush()
    assert r.script_exists(incr_by.sha) == [False]
    assert incr_by(keys=["n", "log"], args=[1]) == 13  # NOSCRIPT, then loaded again


def test_conversions_from_lua_to_replies(r):
    assert r.eval("return {1, 2, 3.99, 'a', nil, 'not reached'}", 0) == [1, 2, 3, "a"]
    assert r.eval("return {ok = 'FINE'}", 0) == "FINE"
    assert r.eval("return redis.status_reply('HI')", 0) == "HI"
    assert r.eval("return true", 0) == 1
    assert r.eval("return false", 0) is None
    assert r.eval("return -3.5", 0) == -3
    with pytest.raises(redis.ResponseError, match="^My Error$"):
        r.eval("return redis.error_reply('My Error')", 0)
    with pytest.raises(redis.ResponseError, match="^bad thing$"):
        r.eval("return {err = 'bad thing'}", 0)


def test_conversions_from_replies_to_lua(r):
    r.set("s", "abc")
    assert r.eval("return type(redis.call('GET', 'missing'))", 0) == "boolean"
    assert r.eval("return redis.call('TYPE', KEYS[1])['ok']", 1, "s") == "string"
    assert r.eval("return redis.pcall('INCR', KEYS[1])['err']", 1, "s") == \
        "ERR value is not an integer or out of range"
    r.hset("h", mapping={"f": "v"})
    assert r.eval("return redis.call('HGETALL', KEYS[1])", 1, "h") == ["f", "v"]
    assert r.eval("redis.setresp(3) return type(redis.call('GET', 'missing'))", 0) == "nil"
    assert r.eval("redis.call('SET', 'n', 3.7) return redis.call('GET', 'n')", 0) == \
        "3.7000000000000002"
    assert r.eval("return cjson.decode(ARGV[1]).a[2]", 0, '{"a": [1, "two"]}') == "two"
    assert r.eval("return cjson.encode({1, 2, {x = 'a/b'}})", 0) == '[1,2,{"x":"a\\/b"}]'
    assert r.eval("return bit.band(7, 3) + bit.lshift(1, 4)", 0) == 19
    assert r.eval("return redis.sha1hex('abc')", 0) == "a9993e364706816aba3e25717850c26c9cd0d89d"


def test_errors_say_which_script_and_where(r):
    r.set("s", "abc")
    with pytest.raises(redis.ResponseError) as e:
        r.eval("local x = 1\nreturn redis.call('INCR', KEYS[1])", 1, "s")
    assert str(e.value).startswith("value is not an integer or out of range script: ")
    assert str(e.value).endswith(", on @user_script:2.")
    with pytest.raises(redis.ResponseError, match="nonexistent global variable 'nope'"):
        r.eval("return nope", 0)
    with pytest.raises(redis.ResponseError, match="Attempt to modify a readonly table"):
        r.eval("x = 1", 0)
    with pytest.raises(redis.ResponseError, match="Attempt to modify a readonly table"):
        r.eval("string.upper = nil", 0)
    with pytest.raises(redis.ResponseError, match="^Error compiling script"):
        r.eval("return +", 0)
    with pytest.raises(redis.ResponseError, match="not allowed from script"):
        r.eval("return redis.call('MULTI')", 0)
    with pytest.raises(redis.ResponseError, match="Unknown Redis command called from script"):
        r.eval("return redis.call('NOSUCH')", 0)
    with pytest.raises(redis.ResponseError, match="Number of keys can't be greater"):
        r.eval("return 1", 2, "a")
    with pytest.raises(redis.exceptions.NoScriptError):
        r.evalsha("f" * 40, 0)


def test_read_only_scripts_refuse_writes(r):
    r.set("k", "v")
    assert r.eval_ro("return redis.call('GET', KEYS[1])", 1, "k") == "v"
    with pytest.raises(redis.ResponseError, match="Write commands are not allowed from read-only"):
        r.eval_ro("return redis.call('DEL', KEYS[1])", 1, "k")
    sha = r.script_load("return redis.call('STRLEN', KEYS[1])")
    assert r.evalsha_ro(sha, 1, "k") == 1
    assert r.get("k") == "v"


def test_scripts_in_a_transaction_and_a_pipeline(r):
    sha = r.script_load("return redis.call('INCR', KEYS[1])")
    pipe = r.pipeline(transaction=True)
    pipe.evalsha(sha, 1, "c").eval("return redis.call('INCRBY', KEYS[1], 10)", 1, "c")
    pipe.get("c")
    assert pipe.execute() == [1, 11, "11"]


def test_the_lock_class_is_exclusive_and_released_by_its_owner_only(r, port):
    other = redis.Redis(host="127.0.0.1", port=port, decode_responses=True)
    lock = r.lock("resource", timeout=10)
    assert lock.acquire(blocking=False)
    rival = other.lock("resource", timeout=10)
    assert not rival.acquire(blocking=False)
    lock.extend(5)
    assert 10 < r.pttl("resource") <= 15000
    rival.local.token = "not-the-owner-s-token"  # its release script must refuse
    with pytest.raises(redis.exceptions.LockNotOwnedError):
        rival.release()
    rival.local.token = None
    lock.release()
    assert rival.acquire(blocking=False)
    rival.release()
    other.close()


def test_a_script_publishes_to_subscribers(r, port):
    listener = redis.Redis(host="127.0.0.1", port=port, decode_responses=True).pubsub()
    listener.subscribe("events")
    assert listener.get_message(timeout=5)["type"] == "subscribe"
    received = r.eval("redis.call('SET', KEYS[1], ARGV[1]) "
                      "return redis.call('PUBLISH', 'events', 'set ' .. ARGV[1])", 1, "k", "v1")
    assert received == 1
    message = listener.get_message(timeout=5)
    assert message["type"] == "message" and message["data"] == "set v1"
    with pytest.raises(redis.ResponseError, match="Write commands are not allowed from read-only"):
        r.eval_ro("return redis.call('PUBLISH', 'events', 'x')", 0)
    listener.close()


LIBRARY = """#!lua name=counters
local function bump(keys, args)
  return redis.call('INCRBY', keys[1], args[1] or 1)
end
redis.register_function('bump', bump)
redis.register_function{function_name = 'peek', description = 'reads a counter',
  callback = function(keys) return redis.call('GET', keys[1]) end, flags = {'no-writes'}}
"""


def test_a_function_library_loads_lists_and_runs(r):
    assert r.function_load(LIBRARY) == "counters"
    assert r.fcall("bump", 1, "c", 5) == 5
    assert r.fcall("bump", 1, "c") == 6
    assert r.fcall_ro("peek", 1, "c") == "6"
    with pytest.raises(redis.ResponseError, match="Can not execute a script with write flag"):
        r.fcall_ro("bump", 1, "c")
    with pytest.raises(redis.ResponseError, match="Library 'counters' already exists"):
        r.function_load(LIBRARY)
    assert r.function_load(LIBRARY.replace("or 1", "or 100"), replace=True) == "counters"
    assert r.fcall("bump", 1, "c") == 106
    [library] = r.function_list(library="count*", withcode=True)
    if isinstance(library, list):  # RESP2: flat key/value arrays
        library = dict(zip(library[::2], library[1::2]))
    assert library["library_name"] == "counters" and library["engine"] == "LUA"
    assert "or 100" in library["library_code"]
    functions = []
    for f in library["functions"]:
        if isinstance(f, list):
            f = dict(zip(f[::2], f[1::2]))
        functions.append((f["name"], f["description"], sorted(f["flags"])))
    assert sorted(functions) == [("bump", None, []), ("peek", "reads a counter", ["no-writes"])]
    assert r.function_delete("counters") in (True, "OK")
    with pytest.raises(redis.ResponseError, match="Function not found"):
        r.fcall("bump", 1, "c")


def test_a_library_must_say_its_name_and_register_functions(r):
    with pytest.raises(redis.ResponseError, match="Missing library metadata"):
        r.function_load("return 1")
    with pytest.raises(redis.ResponseError, match="No functions registered"):
        r.function_load("#!lua name=empty\nreturn 1")
    with pytest.raises(redis.ResponseError, match="Error compiling function"):
        r.function_load("#!lua name=broken\nreturn +")
    r.function_load(LIBRARY)
    with pytest.raises(redis.ResponseError, match="Function bump already exists"):
        r.function_load("#!lua name=other\nredis.register_function('bump', function() end)")
    with pytest.raises(redis.ResponseError, match=r"script: bump, on @user_function:3\."):
        r.fcall("bump", 1, "c", "not a number")


def test_function_dump_and_restore_carry_libraries(r):
    r.function_load(LIBRARY)
    payload = r.function_dump()
    r.function_flush()
    with pytest.raises(redis.ResponseError, match="Function not found"):
        r.fcall("bump", 1, "c")
    assert r.function_restore(payload) in (True, "OK")
    assert r.fcall("bump", 1, "c", 3) == 3
    with pytest.raises(redis.ResponseError, match="Library counters already exists"):
        r.function_restore(payload)
    assert r.function_restore(payload, "REPLACE") in (True, "OK")
    assert r.function_restore(payload, "FLUSH") in (True, "OK")
    with pytest.raises(redis.ResponseError, match="payload version or checksum are wrong"):
        r.function_restore(payload[:-1] + bytes([payload[-1] ^ 1]))
    assert r.fcall_ro("peek", 1, "c") == "3"
