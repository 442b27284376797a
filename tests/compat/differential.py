#!/usr/bin/env python3
"""Differential tester: Redraft vs. real Redis on random string/key workloads.

Starts Debian's redis-server (the reference) and the server under test on free
ports.  For every seed it generates a random command sequence with
random.Random(seed) over a tiny key space, sends each command to both servers
over a raw RESP2 connection (tiny RESP client below, no redis-py) and compares
the decoded replies exactly (reply *type* included: +OK is not $2 OK).

Normalisations (the only ones):
  * TTL / PTTL / EXPIRETIME / PEXPIRETIME: negative replies (-1, -2) must be
    equal; positive replies must both be positive and within a tolerance
    (2 s, 2000 ms).  All generated TTLs are large, so nothing expires by time
    during a run; past expiries (EXPIRE k -1, GETEX k EXAT 1, ...) delete the
    key immediately and deterministically.
  * KEYS: the reply array is sorted (hash-table order is not specified).
Error replies are compared in full, including Redis 7.0's
"ERR unknown command 'x', with args beginning with: ..." text.

With --resp3 both connections speak RESP3 (HELLO 3): a reply must have the same
RESP3 types, nested, as Redis's (a map, a set, a double, a null...), and then
match by the rules above once both are put in RESP2's terms.

Keyspace notifications are compared too (unless --no-events): both servers run
with notify-keyspace-events KEA, and after each command the events a
subscriber to every keyspace and keyevent channel received must be the same,
in the same order (`expired` events aside: active expiry's timing differs).

On the first difference it prints the seed, the command index, the command
sequence up to and including the difference, both replies and a command line
that replays it, and exits 1.  The last line is always "N passed, M failed"
(N = seeds whose replies all matched).

Examples:
  tests/compat/differential.py                          # seeds 0..200, 200 ops
  tests/compat/differential.py --seeds 17..18 --ops 42  # replay one failure
  REDRAFT_BIN="redis-server --save ''" tests/compat/differential.py  # self-check
"""

import argparse
import hashlib
import os
import random
import re
import shlex
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from servers import REFERENCE_REDIS, Server, server_under_test_cmd  # noqa: E402

SCRIPT = os.path.relpath(os.path.abspath(__file__), os.getcwd())

# ---------------------------------------------------------------------------
# tiny RESP client
# ---------------------------------------------------------------------------
# Replies are decoded to tagged tuples so that the reply type takes part in
# the comparison:
#   ("simple", str) ("error", str) ("int", int) ("bulk", bytes|None)
#   ("array", list|None)
# RESP3-only types (never valid on a RESP2 connection) decode to their own
# tags ("null", "double", "bool", "map", "set", "verbatim", "bignum", "push",
# "attr") so that a server sending them is reported as different.


class ConnectionClosed(Exception):
    pass


class ProtocolViolation(Exception):
    pass


def encode_command(argv):
    out = [b"*%d\r\n" % len(argv)]
    for a in argv:
        if not isinstance(a, bytes):
            a = str(a).encode()
        out.append(b"$%d\r\n" % len(a))
        out.append(a)
        out.append(b"\r\n")
    return b"".join(out)


class RespClient:
    def __init__(self, port, timeout=10.0):
        self.port = port
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = bytearray()
        self.pos = 0

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def _fill(self):
        if self.pos > 65536:
            del self.buf[:self.pos]
            self.pos = 0
        chunk = self.sock.recv(65536)  # socket timeout bounds the wait
        if not chunk:
            raise ConnectionClosed("server closed the connection")
        self.buf += chunk

    def _line(self):
        while True:
            i = self.buf.find(b"\r\n", self.pos)
            if i >= 0:
                line = bytes(self.buf[self.pos:i])
                self.pos = i + 2
                return line
            self._fill()

    def _exact(self, n):
        while len(self.buf) - self.pos < n + 2:
            self._fill()
        data = bytes(self.buf[self.pos:self.pos + n])
        if self.buf[self.pos + n:self.pos + n + 2] != b"\r\n":
            raise ProtocolViolation("bulk payload not terminated by CRLF")
        self.pos += n + 2
        return data

    def _int(self, s):
        try:
            return int(s)
        except ValueError:
            raise ProtocolViolation(f"bad integer {s!r}") from None

    def read_reply(self):
        line = self._line()
        if not line:
            raise ProtocolViolation("empty reply line")
        t, rest = line[:1], line[1:]
        if t == b"+":
            return ("simple", rest.decode("latin-1"))
        if t == b"-":
            return ("error", rest.decode("latin-1"))
        if t == b":":
            return ("int", self._int(rest))
        if t == b"$":
            n = self._int(rest)
            return ("bulk", None if n < 0 else self._exact(n))
        if t == b"*":
            n = self._int(rest)
            return ("array", None if n < 0 else [self.read_reply() for _ in range(n)])
        # RESP3 types: decoded so they show up as differences, not hangs
        if t == b"_":
            return ("null", None)
        if t == b",":
            return ("double", rest.decode("latin-1"))
        if t == b"#":
            return ("bool", rest.decode("latin-1"))
        if t == b"(":
            return ("bignum", rest.decode("latin-1"))
        if t in (b"=", b"!"):
            return ("verbatim" if t == b"=" else "bloberror", self._exact(self._int(rest)))
        if t in (b"%", b"|"):
            n = self._int(rest)
            items = [(self.read_reply(), self.read_reply()) for _ in range(n)]
            return ("map" if t == b"%" else "attr", items)
        if t in (b"~", b">"):
            n = self._int(rest)
            return ("set" if t == b"~" else "push", [self.read_reply() for _ in range(n)])
        raise ProtocolViolation(f"unknown reply type byte {t!r} in line {line[:80]!r}")

    def call(self, argv):
        self.sock.sendall(encode_command(argv))
        return self.read_reply()


SUBSCRIPTIONS = {"SUBSCRIBE", "UNSUBSCRIBE", "PSUBSCRIBE", "PUNSUBSCRIBE", "SSUBSCRIBE",
                 "SUNSUBSCRIBE"}


def call_safely(client, argv):
    """Send a command; connection problems become a pseudo-reply. A (un)subscription's
    replies, one per channel named (or one), come back together as ("multi", [...])."""
    try:
        first = client.call(argv)
        if str(argv[0]).upper() not in SUBSCRIPTIONS or first[0] == "error":
            return first
        return ("multi", [first] + [client.read_reply() for _ in range(len(argv) - 2)])
    except socket.timeout:
        return ("no-reply", "timed out waiting for a reply")
    except ConnectionClosed as e:
        return ("no-reply", str(e))
    except ProtocolViolation as e:
        return ("no-reply", f"protocol violation: {e}")
    except OSError as e:
        return ("no-reply", f"socket error: {e}")


# ---------------------------------------------------------------------------
# formatting
# ---------------------------------------------------------------------------

def fmt_arg(a, abbrev):
    b = a if isinstance(a, bytes) else str(a).encode()
    if abbrev and len(b) > 60:
        return fmt_arg(b[:40], False) + f"...({len(b)} bytes)"
    s = b.decode("latin-1")
    if s and all(c.isalnum() or c in "-_.:{}#*?+" for c in s):
        return s
    return '"' + "".join(
        c if (32 <= ord(c) < 127 and c not in '"\\') else
        ("\\" + c if c in '"\\' else "\\x%02x" % ord(c)) for c in s) + '"'


def fmt_command(argv, abbrev=True):
    return " ".join(fmt_arg(a, abbrev) for a in argv)


def fmt_reply(r, abbrev=True, indent=""):
    tag, v = r
    if tag == "simple":
        return f"+{v}"
    if tag == "error":
        return f"-{v}"
    if tag == "int":
        return f"(integer) {v}"
    if tag == "bulk":
        return "(nil)" if v is None else fmt_arg(v, abbrev) if v else '""'
    if tag == "multi":
        return "\n".join(fmt_reply(x, abbrev, indent) for x in v)
    if tag == "array":
        if v is None:
            return "(nil array)"
        if not v:
            return "(empty array)"
        return "\n".join(f"{indent}{i + 1}) " + fmt_reply(x, abbrev, indent + "   ").lstrip()
                         for i, x in enumerate(v))
    # RESP3
    if tag in ("double", "bool", "bignum"):
        return f"({tag}) {v}"
    if tag == "null":
        return "(null)"
    if tag in ("set", "push"):
        return f"({tag})\n" + fmt_reply(("array", v), abbrev, indent) if v else f"(empty {tag})"
    if tag in ("map", "attr"):
        return f"({tag})\n" + fmt_reply(("array", [("array", list(p)) for p in v]), abbrev,
                                         indent) if v else f"(empty {tag})"
    return f"<{tag}> {v!r}"


# ---------------------------------------------------------------------------
# normalisation / comparison
# ---------------------------------------------------------------------------

TTL_TOLERANCE = {b"TTL": 2, b"PTTL": 2000, b"EXPIRETIME": 2, b"PEXPIRETIME": 2000}


# --- hashes and sets: normalisation (begin) ---
# Replies in no particular order are compared as multisets (HGETALL as field-value pairs).
# Random picks (SPOP, SRANDMEMBER, HRANDFIELD) are compared by type, size and distinctness, and
# exactly when the whole collection came back (a positive count larger than the reply).
# HSCAN/SSCAN from cursor 0 are compared exactly when both scans completed in one call (reply
# cursor 0); a partial scan (Redis's dictScan and Redraft's hash-ordered cursor page
# differently) must be part of the other server's complete one, and two partial ones are only
# checked for shape. From any other cursor (which means different places to the two servers)
# only the shape is checked.
HS_UNORDERED = {b"SMEMBERS", b"SINTER", b"SUNION", b"SDIFF", b"HKEYS", b"HVALS"}
HS_RANDOM = {b"SPOP", b"SRANDMEMBER", b"HRANDFIELD"}
HS_SCANS = {b"HSCAN", b"SSCAN"}
HS_NORMALISED = HS_UNORDERED | HS_RANDOM | HS_SCANS | {b"HGETALL"}


def hs_pairs(items):
    return sorted(zip(items[0::2], items[1::2]))


def hs_scans_match(name, argv, x, y):
    shape = [len(r) == 2 and r[0][0] == "bulk" and r[1][0] == "array" for r in (x, y)]
    if not all(shape):
        return x == y
    (cx, ix), (cy, iy) = (x[0][1], x[1][1]), (y[0][1], y[1][1])
    norm = hs_pairs if name == b"HSCAN" else sorted
    if str(argv[2]).lstrip("+-").strip("0") != "":  # not a scan from the start
        return True
    if cx == b"0" and cy == b"0":
        return norm(ix) == norm(iy)
    if cx == b"0":
        return set(norm(iy)) <= set(norm(ix))
    if cy == b"0":
        return set(norm(ix)) <= set(norm(iy))
    return True


def hs_replies_match(name, argv, a, b):
    if a[0] != b[0] or a[0] != "array" or a[1] is None or b[1] is None:
        if name in HS_RANDOM and a[0] == b[0] == "bulk":
            return (a[1] is None) == (b[1] is None)
        return a == b
    x, y = a[1], b[1]
    if name == b"HGETALL":
        return hs_pairs(x) == hs_pairs(y)
    if name in HS_UNORDERED:
        return sorted(x) == sorted(y)
    if name in HS_SCANS:
        return hs_scans_match(name, argv, x, y)
    if len(x) != len(y):
        return False
    try:
        count = int(argv[2])
    except (IndexError, ValueError):
        return a == b
    pairs = name == b"HRANDFIELD" and len(argv) > 3
    if count > 0 and len(x) < count * (2 if pairs else 1):  # the whole collection
        return hs_pairs(x) == hs_pairs(y) if pairs else sorted(x) == sorted(y)
    if count > 0 or name == b"SPOP":  # distinct picks
        names = (lambda r: r[0::2]) if pairs else (lambda r: r)
        return all(len(set(names(r))) == len(names(r)) for r in (x, y))
    return True
# --- hashes and sets: normalisation (end) ---


# --- sorted sets: normalisation (begin) ---
# Scores are compared as floats, not as text: Redis 7.0 prints doubles with %.17g (1.1 is
# "1.1000000000000001") where Redraft prints the shortest text that reads back the same, as
# Redis 7.2 does ("1.1"). That also makes -0 equal to 0: Redis's skiplist encoding keeps a -0
# score where Redraft (like Redis's compact encoding) stores 0.
# ZRANDMEMBER picks at random: compared by shape and distinctness, and as multisets when the
# whole set came back. ZSCAN is compared like HSCAN (see above): Redis returns a compact set
# whole, in order, as Redraft does, but walks a big one in its own hash order.
Z_SCORE_REPLY = {b"ZSCORE", b"ZINCRBY", b"ZADD"}
Z_WITHSCORES = {b"ZRANGE", b"ZREVRANGE", b"ZRANGEBYSCORE", b"ZREVRANGEBYSCORE", b"ZUNION",
                b"ZINTER", b"ZDIFF", b"ZRANDMEMBER"}
Z_NORMALISED = Z_SCORE_REPLY | Z_WITHSCORES | {b"ZMSCORE", b"ZPOPMIN", b"ZPOPMAX", b"ZMPOP",
                                               b"ZSCAN", b"BZPOPMIN", b"BZPOPMAX", b"BZMPOP"}


def z_score(r):
    """A bulk score as ("score", float); anything else unchanged."""
    if r[0] == "bulk" and r[1] is not None:
        try:
            return ("score", float(r[1]))
        except ValueError:
            pass
    return r


def z_flat(items):
    """[member, score, member, score...] with the scores as floats."""
    return [z_score(x) if i % 2 else x for i, x in enumerate(items)]


def z_normalise(name, argv, r):
    tag, v = r
    if tag == "bulk" and name in Z_SCORE_REPLY:
        return z_score(r)
    if tag != "array" or v is None:
        return r
    words = [str(a).upper() for a in argv]
    if name == b"ZMSCORE":
        return ("array", [z_score(x) for x in v])
    if name in (b"ZPOPMIN", b"ZPOPMAX") or (name in Z_WITHSCORES and "WITHSCORES" in words):
        return ("array", z_flat(v))
    if name in (b"BZPOPMIN", b"BZPOPMAX") and len(v) == 3:  # key, member, score
        return ("array", v[:2] + [z_score(v[2])])
    if name in (b"ZMPOP", b"BZMPOP") and len(v) == 2 and v[1][0] == "array":
        pairs = [("array", z_flat(p[1])) if p[0] == "array" else p for p in v[1][1]]
        return ("array", [v[0], ("array", pairs)])
    if name == b"ZSCAN" and len(v) == 2 and v[1][0] == "array" and v[1][1] is not None:
        return ("array", [v[0], ("array", z_flat(v[1][1]))])
    return r


def z_replies_match(name, argv, a, b):
    a, b = z_normalise(name, argv, a), z_normalise(name, argv, b)
    if name == b"ZSCAN":
        return hs_scans_match(b"HSCAN", argv, a[1], b[1]) if a[0] == b[0] == "array" else a == b
    if name != b"ZRANDMEMBER" or a[0] != b[0]:
        return a == b
    if a[0] == "bulk":  # one member, or none
        return (a[1] is None) == (b[1] is None)
    if a[0] != "array" or a[1] is None or b[1] is None or len(a[1]) != len(b[1]):
        return a == b
    x, y = a[1], b[1]
    pairs = "WITHSCORES" in [str(w).upper() for w in argv]
    try:
        count = int(argv[2])
    except (IndexError, ValueError):
        return a == b
    if count > 0 and len(x) < count * (2 if pairs else 1):  # the whole set
        return hs_pairs(x) == hs_pairs(y) if pairs else sorted(x) == sorted(y)
    if count > 0:  # distinct picks
        names = (lambda r: r[0::2]) if pairs else (lambda r: r)
        return all(len(set(names(r))) == len(names(r)) for r in (x, y))
    return True
# --- sorted sets: normalisation (end) ---


# OBJECT ENCODING: Redraft names the compact encodings as Redis 7.2 does, where the reference
# (7.0) keeps small lists in a quicklist and small sets of strings in a hashtable. Only those two
# pairs are equal; every other answer (int/embstr/raw, listpack/hashtable for hashes,
# listpack/skiplist for sorted sets, intset) must match exactly.
# The driver asks the reference for the key's type (never inside MULTI, where no OBJECT is
# generated): "hashtable" and "listpack" are the same answer for a set only. A string's
# encoding (int, embstr, raw) follows how each Redis command happens to build its object and is
# not compared beyond being one of the three; the collections' encodings follow the documented
# size limits and are.
OBJECT_ENCODING_72 = {"list": (b"quicklist", b"listpack"), "set": (b"hashtable", b"listpack")}
STRING_ENCODINGS = {b"int", b"embstr", b"raw"}


def object_encoding_match(key_type, a, b):
    if a == b:
        return True
    if a[0] != "bulk" or b[0] != "bulk":
        return False
    if key_type == "string":
        return a[1] in STRING_ENCODINGS and b[1] in STRING_ENCODINGS
    return key_type in OBJECT_ENCODING_72 and (a[1], b[1]) == OBJECT_ENCODING_72[key_type]


def sort_alpha_ties_match(argv, x, y):
    """SORT ALPHA (no BY, no GET) compares C strings, which end at a NUL: elements equal up
    to their first NUL tie, and a set's ties come out in its hash order. Such replies match
    if they hold the same elements and are alike up to each one's first NUL."""
    words = {str(w).upper() for w in argv[2:]}
    if "ALPHA" not in words or words & {"BY", "GET"}:
        return False
    c_str = [[v.split(b"\0", 1)[0] if tag == "bulk" and v else v for tag, v in r]
             for r in (x, y)]
    return c_str[0] == c_str[1] and sorted(x, key=repr) == sorted(y, key=repr)


def replies_match(argv, a, b):
    name = argv[0].upper() if isinstance(argv[0], bytes) else str(argv[0]).upper().encode()
    if name == b"OBJECT":
        return object_encoding_match(None, a, b)
    if name in TTL_TOLERANCE and a[0] == "int" and b[0] == "int":
        x, y = a[1], b[1]
        if x < 0 or y < 0:
            return x == y
        return x > 0 and y > 0 and abs(x - y) <= TTL_TOLERANCE[name]
    if name == b"KEYS" and a[0] == "array" and b[0] == "array" and a[1] and b[1]:
        return sorted(a[1]) == sorted(b[1])
    if (name in (b"SORT", b"SORT_RO") and a[0] == b[0] == "array" and a[1] and b[1]
            and a != b and sort_alpha_ties_match(argv, a[1], b[1])):
        return True
    if name in HS_NORMALISED:  # hashes and sets
        return hs_replies_match(name, argv, a, b)
    if name in Z_NORMALISED:  # sorted sets
        return z_replies_match(name, argv, a, b)
    return a == b


# ---------------------------------------------------------------------------
# command generator
# ---------------------------------------------------------------------------

I64_MAX = 2**63 - 1
I64_MIN = -(2**63)

KEYS = ["k0", "k1", "k2", "k3", "k4", "{tag}k5"]
FUTURE_UNIX = 4_000_000_000  # year 2096: absolute expiries never reached
SMALL_STRINGS = ["foo", "bar", "hello world", "a", "abc", "mytext", "ohmytext",
                 "mynewtext", "\x00\xff\r\nbin", "ÿþ"]
FLOATS = ["0.1", "0.2", "1.5", "-2.25", "3.0e3", "10.50", "-0.0", ".5", "5.", "1e-3",
          "1e3", "7", "-1", "0", "123456.789", "1E2", "2.5e-2"]
ODD_INTS = ["007", "+1", "-0", " 1", "1 ", "1.0", "abc", "0x10", "", "1e3",
            "9223372036854775808", "-9223372036854775809", "inf", "nan"]
BOUNDARY_INTS = [I64_MAX, I64_MIN, I64_MAX - 1, I64_MIN + 1, 0, -1, 1]
ALPHABET = "abcdefgh"


class Gen:
    def __init__(self, rng):
        self.rng = rng
        self.table = [
            # (weight, generator)
            (8, self.g_set), (6, self.g_get), (2, self.g_getset), (2, self.g_getdel),
            (3, self.g_getex), (2, self.g_setnx), (2, self.g_setex), (2, self.g_psetex),
            (2, self.g_mset), (3, self.g_mget), (2, self.g_msetnx), (3, self.g_append),
            (2, self.g_strlen), (3, self.g_getrange), (3, self.g_setrange),
            (3, self.g_incr), (4, self.g_incrby), (4, self.g_incrbyfloat),
            (3, self.g_del), (2, self.g_exists), (2, self.g_type), (2, self.g_rename),
            (2, self.g_renamenx), (2, self.g_copy), (1, self.g_move), (1, self.g_select),
            (5, self.g_expire), (4, self.g_ttl), (2, self.g_persist),
            (4, self.g_setbit), (3, self.g_getbit), (3, self.g_bitcount), (3, self.g_bitpos),
            (3, self.g_bitop), (4, self.g_bitfield), (3, self.g_lcs), (2, self.g_dbsize),
            (1, self.g_keys), (3, self.g_wrong_arity), (2, self.g_unknown), (1, self.g_misc),
        ]
        # --- lists: table rows (begin) ---
        self.table += [
            (10, self.g_list_push), (4, self.g_list_pop), (2, self.g_llen), (3, self.g_lrange),
            (2, self.g_lindex), (2, self.g_lset), (2, self.g_linsert), (2, self.g_lrem),
            (2, self.g_ltrim), (3, self.g_lpos), (3, self.g_lmove), (2, self.g_lmpop),
            (1, self.g_list_arity),
        ]
        # --- lists: table rows (end) ---
        # --- hashes and sets: table rows (begin) ---
        self.erange = False  # see op
        self.pending = []  # commands an op queued to run next (see op and g_spop)
        self.table += [
            (5, self.g_hset), (2, self.g_hsetnx), (4, self.g_hget), (3, self.g_hgetall),
            (2, self.g_hdel), (3, self.g_hincrby), (3, self.g_hincrbyfloat),
            (2, self.g_hrandfield), (2, self.g_hscan),
            (5, self.g_sadd), (2, self.g_srem), (3, self.g_sread), (2, self.g_spop),
            (2, self.g_srandmember), (2, self.g_smove), (3, self.g_setop),
            (2, self.g_setop_store), (2, self.g_sintercard), (2, self.g_sscan),
            (2, self.g_hs_keyops), (1, self.g_hs_arity),
        ]
        # --- hashes and sets: table rows (end) ---
        # --- sorted sets: table rows (begin) ---
        self.table += [
            (14, self.g_zadd), (2, self.g_zincrby), (2, self.g_zrem), (4, self.g_zread),
            (2, self.g_zcount), (5, self.g_zrange), (4, self.g_zlex), (2, self.g_zrangestore),
            (1, self.g_zremrange), (2, self.g_zpop), (4, self.g_zsetop), (2, self.g_zrandmember),
            (2, self.g_zscan), (1, self.g_zset_arity),
        ]
        # --- sorted sets: table rows (end) ---
        self.table += [(4, self.g_sort), (4, self.g_tx), (1, self.g_tx_misuse),
                       (2, self.g_object), (6, self.g_watch_write), (4, self.g_blocking),
                       (3, self.g_pubsub), (4, self.g_script)]
        self.weights = [w for w, _ in self.table]
        self.gens = [g for _, g in self.table]

    # --- building blocks -------------------------------------------------
    def key(self):
        return self.rng.choice(KEYS)

    def keys(self, lo=1, hi=4):
        return [self.key() for _ in range(self.rng.randint(lo, hi))]

    def value(self):
        r = self.rng
        c = r.random()
        if c < 0.25:
            return str(r.randint(-10, 100))
        if c < 0.32:
            return str(r.choice(BOUNDARY_INTS))
        if c < 0.45:
            return r.choice(FLOATS)
        if c < 0.70:
            return r.choice(SMALL_STRINGS)
        if c < 0.78:
            return ""
        if c < 0.85:
            return r.choice(ODD_INTS)
        if c < 0.93:
            return "".join(r.choices(ALPHABET, k=1000))
        return "".join(r.choices(ALPHABET, k=r.randint(1, 12)))

    def secs(self):
        """A relative TTL in seconds; mostly large and valid."""
        r = self.rng
        c = r.random()
        if c < 0.85:
            return str(r.randint(10_000, 10_000_000))
        return r.choice(["0", "-1", "abc", "1.5", str(I64_MAX), "9223372036854770",
                         "9223372036854", ""])

    def millis(self):
        r = self.rng
        c = r.random()
        if c < 0.85:
            return str(r.randint(10_000_000, 10_000_000_000))
        return r.choice(["0", "-5", "abc", str(I64_MAX), "9223372036854775000", ""])

    def abs_secs(self, allow_past):
        r = self.rng
        if allow_past and r.random() < 0.15:
            return r.choice(["1", "1000", "0"])
        if r.random() < 0.05:
            return r.choice(["abc", "-1", str(I64_MAX)])
        return str(FUTURE_UNIX + r.randint(0, 10_000_000))

    def abs_millis(self, allow_past):
        r = self.rng
        if allow_past and r.random() < 0.15:
            return r.choice(["1", "1000", "0"])
        if r.random() < 0.05:
            return r.choice(["abc", "-1", str(I64_MAX)])
        return str(FUTURE_UNIX * 1000 + r.randint(0, 10_000_000_000))

    def int_arg(self):
        r = self.rng
        c = r.random()
        if c < 0.6:
            return str(r.randint(-100, 100))
        if c < 0.85:
            return str(r.choice(BOUNDARY_INTS))
        return r.choice(ODD_INTS)

    def small_index(self, span=30):
        r = self.rng
        if r.random() < 0.1:
            return r.choice(["abc", str(I64_MAX), str(I64_MIN), "1.5"])
        return str(r.randint(-span, span))

    # --- generators ------------------------------------------------------
    def g_set(self):
        r = self.rng
        argv = ["SET", self.key(), self.value()]
        opts = []
        if r.random() < 0.3:
            opts.append(r.choice(["NX", "XX"]))
            if r.random() < 0.05:
                opts.append(r.choice(["NX", "XX"]))
        if r.random() < 0.3:
            opts.append("GET")
        if r.random() < 0.5:
            kind = r.choice(["EX", "PX", "EXAT", "PXAT", "KEEPTTL"])
            if kind == "EX":
                opts += ["EX", self.secs()]
            elif kind == "PX":
                opts += ["PX", self.millis()]
            elif kind == "EXAT":  # past absolute SET expiry is not deterministic: avoid
                opts += ["EXAT", self.abs_secs(allow_past=False)]
            elif kind == "PXAT":
                opts += ["PXAT", self.abs_millis(allow_past=False)]
            else:
                opts.append("KEEPTTL")
            if r.random() < 0.08:  # conflicting second expiry option
                opts += r.choice([["EX", "100000"], ["PX", "100000000"], ["KEEPTTL"]])
        if r.random() < 0.03:
            opts.append(r.choice(["BOGUS", "EX", "PX"]))  # unknown / missing argument
        if r.random() < 0.2:
            r.shuffle(opts)  # option order is free (may split "EX n": syntax error)
        return argv + opts

    def g_get(self):
        return ["GET", self.key()]

    def g_getset(self):
        return ["GETSET", self.key(), self.value()]

    def g_getdel(self):
        return ["GETDEL", self.key()]

    def g_getex(self):
        r = self.rng
        argv = ["GETEX", self.key()]
        c = r.random()
        if c < 0.2:
            argv += ["EX", self.secs()]
        elif c < 0.4:
            argv += ["PX", self.millis()]
        elif c < 0.55:
            argv += ["EXAT", self.abs_secs(allow_past=True)]
        elif c < 0.7:
            argv += ["PXAT", self.abs_millis(allow_past=True)]
        elif c < 0.85:
            argv += ["PERSIST"]
        if r.random() < 0.08:
            argv += r.choice([["PERSIST"], ["EX", "100000"], ["BOGUS"]])
        return argv

    def g_setnx(self):
        return ["SETNX", self.key(), self.value()]

    def g_setex(self):
        return ["SETEX", self.key(), self.secs(), self.value()]

    def g_psetex(self):
        return ["PSETEX", self.key(), self.millis(), self.value()]

    def g_mset(self):
        argv = ["MSET"]
        for _ in range(self.rng.randint(1, 3)):
            argv += [self.key(), self.value()]
        return argv

    def g_mget(self):
        return ["MGET"] + self.keys(1, 5)

    def g_msetnx(self):
        argv = ["MSETNX"]
        for _ in range(self.rng.randint(1, 3)):
            argv += [self.key(), self.value()]
        return argv

    def g_append(self):
        return ["APPEND", self.key(), self.value()]

    def g_strlen(self):
        return ["STRLEN", self.key()]

    def g_getrange(self):
        r = self.rng
        span = 1100 if r.random() < 0.3 else 15
        return ["GETRANGE", self.key(), self.small_index(span), self.small_index(span)]

    def g_setrange(self):
        r = self.rng
        c = r.random()
        if c < 0.8:
            off = str(r.randint(0, 1100 if r.random() < 0.3 else 20))
        else:  # invalid / too large (never a valid huge offset: 512 MB allocations)
            off = r.choice(["-1", "536870912", "abc", str(I64_MAX)])
        return ["SETRANGE", self.key(), off, self.value()]

    def g_incr(self):
        return [self.rng.choice(["INCR", "DECR"]), self.key()]

    def g_incrby(self):
        return [self.rng.choice(["INCRBY", "DECRBY"]), self.key(), self.int_arg()]

    def g_incrbyfloat(self):
        r = self.rng
        inc = r.choice(FLOATS) if r.random() < 0.85 else r.choice(
            ["abc", "", "inf", "-inf", "nan", " 1", "1 ", str(r.randint(-5, 5))])
        return ["INCRBYFLOAT", self.key(), inc]

    def g_del(self):
        return [self.rng.choice(["DEL", "UNLINK"])] + self.keys(1, 3)

    def g_exists(self):
        return ["EXISTS"] + self.keys(1, 4)

    def g_type(self):
        return ["TYPE", self.key()]

    def g_rename(self):
        return ["RENAME", self.key(), self.key()]

    def g_renamenx(self):
        return ["RENAMENX", self.key(), self.key()]

    def g_copy(self):
        r = self.rng
        argv = ["COPY", self.key(), self.key()]
        if r.random() < 0.2:
            argv += ["DB", r.choice(["0", "1", "16", "abc"])]
        if r.random() < 0.4:
            argv.append("REPLACE")
        if r.random() < 0.03:
            argv.append("BOGUS")
        return argv

    def g_move(self):
        return ["MOVE", self.key(), self.rng.choice(["1", "1", "1", "0", "16", "-1", "x"])]

    def g_select(self):
        return ["SELECT", self.rng.choice(["0", "0", "0", "1", "16", "x"])]

    def g_expire(self):
        r = self.rng
        cmd = r.choice(["EXPIRE", "PEXPIRE", "EXPIREAT", "PEXPIREAT"])
        past = r.random() < 0.1
        if cmd == "EXPIRE":
            t = r.choice(["0", "-1", "-100"]) if past else self.secs()
        elif cmd == "PEXPIRE":
            t = r.choice(["0", "-1", "-100"]) if past else self.millis()
        elif cmd == "EXPIREAT":
            t = self.abs_secs(allow_past=True)
        else:
            t = self.abs_millis(allow_past=True)
        argv = [cmd, self.key(), t]
        if r.random() < 0.4:
            argv.append(r.choice(["NX", "XX", "GT", "LT"]))
            if r.random() < 0.1:
                argv.append(r.choice(["NX", "XX", "GT", "LT", "FOO"]))
        return argv

    def g_ttl(self):
        return [self.rng.choice(["TTL", "PTTL", "EXPIRETIME", "PEXPIRETIME"]), self.key()]

    def g_persist(self):
        return ["PERSIST", self.key()]

    def g_setbit(self):
        r = self.rng
        c = r.random()
        if c < 0.9:
            off = str(r.randint(0, 9000 if r.random() < 0.2 else 64))
        else:
            off = r.choice(["-1", "4294967296", "abc", "1.5"])
        bit = r.choice(["0", "1"]) if r.random() < 0.92 else r.choice(["2", "-1", "a", ""])
        return ["SETBIT", self.key(), off, bit]

    def g_getbit(self):
        r = self.rng
        off = str(r.randint(0, 100)) if r.random() < 0.9 else r.choice(
            ["-1", "4294967296", "abc", str(r.randint(1000, 20000))])
        return ["GETBIT", self.key(), off]

    def g_bitcount(self):
        r = self.rng
        argv = ["BITCOUNT", self.key()]
        c = r.random()
        if c < 0.7:
            span = 60 if r.random() < 0.5 else 8
            argv += [self.small_index(span), self.small_index(span)]
            if r.random() < 0.5:
                argv.append(r.choice(["BIT", "BYTE", "bit", "WORD"]))
        elif c < 0.8:
            argv.append(self.small_index())  # start without end: syntax error
        return argv

    def g_bitpos(self):
        r = self.rng
        bit = r.choice(["0", "1"]) if r.random() < 0.93 else r.choice(["2", "-1", "x"])
        argv = ["BITPOS", self.key(), bit]
        c = r.random()
        if c < 0.7:
            span = 60 if r.random() < 0.5 else 8
            argv.append(self.small_index(span))
            if r.random() < 0.7:
                argv.append(self.small_index(span))
                if r.random() < 0.5:
                    argv.append(r.choice(["BIT", "BYTE", "FOO"]))
        return argv

    def g_bitop(self):
        r = self.rng
        op = r.choice(["AND", "OR", "XOR", "NOT", "and", "NAND"])
        if op == "NOT" and r.random() < 0.8:
            srcs = [self.key()]
        else:
            srcs = self.keys(1, 3)
        return ["BITOP", op, self.key()] + srcs

    def bf_type(self):
        r = self.rng
        if r.random() < 0.06:
            return r.choice(["u64", "i65", "u0", "i0", "x8", "u", "8"])
        if r.random() < 0.5:
            return "u%d" % r.choice([1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 31, 32, 33, 63])
        return "i%d" % r.choice([1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 31, 32, 33, 63, 64])

    def bf_offset(self):
        r = self.rng
        c = r.random()
        if c < 0.7:
            return str(r.randint(0, 80))
        if c < 0.95:
            return "#%d" % r.randint(0, 10)
        return r.choice(["-1", "abc", "#-1", "4294967296"])

    def bf_value(self):
        r = self.rng
        c = r.random()
        if c < 0.5:
            return str(r.randint(-300, 300))
        if c < 0.9:
            return str(r.choice([I64_MAX, I64_MIN, 2**31, -(2**31), 2**32, 2**62, -(2**62)]))
        return r.choice(["abc", "1.5", "9223372036854775808"])

    def g_bitfield(self):
        r = self.rng
        ro = r.random() < 0.15
        argv = ["BITFIELD_RO" if ro else "BITFIELD", self.key()]
        for _ in range(r.randint(0, 4)):
            c = r.random()
            if ro or c < 0.35:
                argv += ["GET", self.bf_type(), self.bf_offset()]
            elif c < 0.6:
                value = self.bf_value()
                # Known, deliberate difference: with OVERFLOW SAT, Redis 7.0 stores a field's
                # maximum for SET values near -2^63 (integer overflow in its C code); Redraft
                # stores the minimum, as the documentation describes saturation.
                if str(value).startswith("-922337203685477"):
                    value = "-1"
                argv += ["SET", self.bf_type(), self.bf_offset(), value]
            elif c < 0.85:
                argv += ["INCRBY", self.bf_type(), self.bf_offset(), self.bf_value()]
            elif c < 0.98:
                argv += ["OVERFLOW", r.choice(["WRAP", "SAT", "FAIL", "wrap", "BAD"])]
            else:
                argv += [r.choice(["FOO", "GET"])]
        if ro and r.random() < 0.1:
            argv += ["SET", "u8", "0", "1"]  # not allowed in BITFIELD_RO
        return argv

    def g_lcs(self):
        r = self.rng
        argv = ["LCS", self.key(), self.key()]
        opts = []
        if r.random() < 0.3:
            opts.append("LEN")
        if r.random() < 0.5:
            opts.append("IDX")
        if r.random() < 0.4:
            opts += ["MINMATCHLEN", r.choice(["0", "1", "2", "3", "4", "10", "-1", "x"])]
        if r.random() < 0.4:
            opts.append("WITHMATCHLEN")
        if r.random() < 0.03:
            opts.append("BOGUS")
        return argv + opts

    def g_dbsize(self):
        return ["DBSIZE"]

    def g_keys(self):
        return ["KEYS", self.rng.choice(["*", "k*", "k?", "{*", "*[0-2]", "nomatch", "*5"])]

    WRONG_ARITY = [
        ["GET"], ["GET", "k0", "x"], ["SET", "k0"], ["SET"], ["STRLEN"], ["INCR"],
        ["INCR", "k0", "1"], ["INCRBY", "k0"], ["DECRBY", "k0", "1", "2"], ["APPEND", "k0"],
        ["GETRANGE", "k0", "0"], ["SETRANGE", "k0", "0"], ["MGET"], ["MSET", "k0"],
        ["MSET", "k0", "v", "k1"], ["MSETNX", "k0", "v", "k1"], ["DEL"], ["EXISTS"],
        ["TTL"], ["PTTL", "k0", "k1"], ["EXPIRE", "k0"], ["PERSIST", "k0", "k1"],
        ["RENAME", "k0"], ["RENAMENX", "k0"], ["COPY", "k0"], ["SETBIT", "k0", "1"],
        ["GETBIT", "k0"], ["BITOP", "AND"], ["BITOP", "AND", "d"], ["BITCOUNT"],
        ["BITPOS", "k0"], ["BITFIELD"], ["LCS", "k0"], ["DBSIZE", "x"], ["TYPE"],
        ["GETDEL"], ["GETDEL", "k0", "k1"], ["GETSET", "k0"], ["SETNX", "k0"],
        ["SETEX", "k0", "100"], ["PSETEX", "k0", "100"], ["INCRBYFLOAT", "k0"],
        ["GETEX"], ["EXPIRETIME"], ["SELECT"], ["MOVE", "k0"], ["KEYS"], ["ECHO"],
        ["PING", "a", "b"], ["FLUSHALL", "ASYNC", "x"],
    ]

    def g_wrong_arity(self):
        argv = list(self.rng.choice(self.WRONG_ARITY))
        return argv

    def g_unknown(self):
        r = self.rng
        name = r.choice(["FOO", "gett", "sett", "xyzzy", "Frob", "GET2", "INCR_BY", "BITFIELDS"])
        args = []
        for _ in range(r.randint(0, 4)):
            c = r.random()
            if c < 0.15:
                args.append("".join(r.choices(ALPHABET, k=r.choice([100, 127, 128, 129, 300]))))
            elif c < 0.25:
                args.append("")
            elif c < 0.35:
                args.append("with space")
            else:
                args.append(self.key())
        return [name] + args

    def g_misc(self):
        r = self.rng
        return r.choice([["PING"], ["PING", "hello"], ["ECHO", self.value()], ["ECHO", ""]])

    # --- lists (begin) ----------------------------------------------------
    # Replies of list commands are deterministic: no normalisation needed.
    LIST_ELEMENTS = ["a", "b", "c", "a", "b", "1", "-1", "", "hello world", "\x00\xff\r\nbin",
                     "9223372036854775807"]

    # Mostly keys only list commands touch, so that lists live long enough to grow; sometimes
    # a shared key, which may hold a string (WRONGTYPE) or a list another command changes.
    LIST_KEYS = ["l0", "l1", "{tag}l2"]

    def list_key(self):
        r = self.rng
        return r.choice(self.LIST_KEYS) if r.random() < 0.75 else self.key()

    def list_keys(self, lo=1, hi=3):
        return [self.list_key() for _ in range(self.rng.randint(lo, hi))]

    def list_element(self):
        r = self.rng
        return r.choice(self.LIST_ELEMENTS) if r.random() < 0.9 else self.value()

    def list_end(self):
        r = self.rng
        return r.choice(["LEFT", "RIGHT", "left", "Right"]) if r.random() < 0.97 else \
            r.choice(["UP", "", "LEFTX"])

    def list_count(self):
        """A count argument: mostly small, sometimes zero, negative, huge or not a number."""
        r = self.rng
        c = r.random()
        if c < 0.75:
            return str(r.randint(0, 6))
        if c < 0.9:
            return str(r.choice([-1, -3, I64_MAX, I64_MIN, 2**63, 1000]))
        return r.choice(ODD_INTS)

    def g_list_push(self):
        r = self.rng
        cmd = r.choice(["LPUSH", "RPUSH", "LPUSH", "RPUSH", "LPUSHX", "RPUSHX"])
        return [cmd, self.list_key()] + [self.list_element() for _ in range(r.randint(1, 6))]

    def g_list_pop(self):
        r = self.rng
        argv = [r.choice(["LPOP", "RPOP"]), self.list_key()]
        if r.random() < 0.5:
            argv.append(self.list_count())
        return argv

    def g_llen(self):
        return ["LLEN", self.list_key()]

    def g_lrange(self):
        r = self.rng
        span = 12 if r.random() < 0.9 else 10**12
        if r.random() < 0.4:
            start, stop = str(r.randint(-3, 2)), str(r.choice([-1, -2, r.randint(3, 20)]))
        else:
            start, stop = self.small_index(span), self.small_index(span)
        return ["LRANGE", self.list_key(), start, stop]

    def g_lindex(self):
        return ["LINDEX", self.list_key(), self.small_index(8)]

    def g_lset(self):
        return ["LSET", self.list_key(), self.small_index(8), self.list_element()]

    def g_linsert(self):
        r = self.rng
        where = r.choice(["BEFORE", "AFTER", "before", "after"]) if r.random() < 0.95 else "MIDDLE"
        return ["LINSERT", self.list_key(), where, self.list_element(), self.list_element()]

    def g_lrem(self):
        r = self.rng
        count = str(r.randint(-3, 3)) if r.random() < 0.85 else self.list_count()
        return ["LREM", self.list_key(), count, self.list_element()]

    def g_ltrim(self):
        r = self.rng
        # Mostly a trim that keeps something, so that lists live on.
        if r.random() < 0.7:
            start, stop = str(r.randint(0, 2)), str(r.choice([-1, -2, r.randint(3, 20)]))
        else:
            start, stop = self.small_index(8), self.small_index(8)
        return ["LTRIM", self.list_key(), start, stop]

    def g_lpos(self):
        r = self.rng
        argv = ["LPOS", self.list_key(), self.list_element()]
        opts = []
        if r.random() < 0.5:
            rank = str(r.choice([1, 2, 3, -1, -2, -3])) if r.random() < 0.85 else \
                r.choice(["0", "abc", str(I64_MIN), str(I64_MAX), str(-I64_MAX)])
            opts.append(["RANK", rank])
        if r.random() < 0.5:
            opts.append(["COUNT", self.list_count()])
        if r.random() < 0.4:
            opts.append(["MAXLEN", self.list_count()])
        if r.random() < 0.05:
            opts.append([r.choice(["BOGUS", "RANK", "COUNT"])])  # unknown / missing value
        r.shuffle(opts)
        return argv + [a for o in opts for a in o]

    def g_lmove(self):
        r = self.rng
        if r.random() < 0.3:
            return ["RPOPLPUSH", self.list_key(), self.list_key()]
        return ["LMOVE", self.list_key(), self.list_key(), self.list_end(), self.list_end()]

    def g_lmpop(self):
        r = self.rng
        keys = self.list_keys(1, 3)
        numkeys = str(len(keys)) if r.random() < 0.9 else r.choice(
            ["0", "-1", "abc", str(len(keys) + 1), str(I64_MAX)])
        argv = ["LMPOP", numkeys] + keys + [self.list_end()]
        if r.random() < 0.5:
            argv += ["COUNT", self.list_count()]
        if r.random() < 0.05:
            argv += r.choice([["COUNT", "1"], ["COUNT"], ["BOGUS"]])
        return argv

    LIST_WRONG_ARITY = [
        ["LPUSH", "k0"], ["RPUSH"], ["LPUSHX", "k0"], ["RPUSHX"], ["LPOP"],
        ["RPOP", "k0", "1", "2"],
        ["LLEN"], ["LLEN", "k0", "k1"], ["LRANGE", "k0", "0"], ["LINDEX", "k0"],
        ["LSET", "k0", "0"], ["LINSERT", "k0", "BEFORE", "a"], ["LREM", "k0", "1"],
        ["LTRIM", "k0", "0"], ["LPOS", "k0"], ["LMOVE", "k0", "k1", "LEFT"],
        ["RPOPLPUSH", "k0"], ["LMPOP", "1", "k0"], ["LMPOP"],
    ]

    def g_list_arity(self):
        return list(self.rng.choice(self.LIST_WRONG_ARITY))
    # --- lists (end) ------------------------------------------------------

    # --- hashes and sets (begin) --------------------------------------------
    # Mostly keys only these commands touch, so that collections grow; sometimes a key of the
    # other family or a shared key (WRONGTYPE, or a value another command made).
    HASH_KEYS = ["h0", "h1", "{tag}h2"]
    SET_KEYS = ["s0", "s1", "s2", "{tag}s3"]
    HASH_FIELDS = ["f0", "f1", "f2", "f3", "a", "b", "", "x y", "n"]
    SET_INTS = ["1", "2", "3", "10", "-5", "0", "100", str(I64_MAX), str(I64_MIN)]
    SET_STRS = ["a", "b", "c", "hello", "", "x y", "1.5", "01", "\x00\xff\r\nbin"]
    # s0 and {tag}s3 hold mostly integers (an intset in Redis, returned whole by SSCAN).
    INT_SET_KEYS = ("s0", "{tag}s3")

    def hs_key(self, own, other):
        r = self.rng
        c = r.random()
        if c < 0.75:
            return r.choice(own)
        return r.choice(other) if c < 0.85 else self.key()

    def hash_key(self):
        return self.hs_key(self.HASH_KEYS, self.SET_KEYS)

    def set_key(self):
        return self.hs_key(self.SET_KEYS, self.HASH_KEYS)

    def hash_field(self):
        r = self.rng
        return r.choice(self.HASH_FIELDS) if r.random() < 0.9 else "f%d" % r.randint(4, 300)

    def hash_value(self):
        r = self.rng
        c = r.random()
        if c < 0.4:
            return str(r.randint(-100, 100))
        if c < 0.5:
            return r.choice(FLOATS)
        if c < 0.55:
            return r.choice(ODD_INTS)
        if c < 0.97:
            return r.choice(SMALL_STRINGS + ["", "v"])
        return "v" * r.choice([64, 65, 200])  # past 64 bytes Redis converts to a hashtable

    def set_member(self, key):
        r = self.rng
        if r.random() < (0.9 if key in self.INT_SET_KEYS else 0.15):
            return r.choice(self.SET_INTS) if r.random() < 0.7 else str(r.randint(-300, 300))
        return r.choice(self.SET_STRS) if r.random() < 0.9 else "m%d" % r.randint(0, 300)

    def random_count(self):
        """A count of SPOP, SRANDMEMBER or HRANDFIELD. Never a large valid negative one: Redis
        writes that many elements whatever it costs (-10^12 exhausts its memory), where Redraft
        refuses a reply past 512 MiB, a deliberate difference."""
        r = self.rng
        c = r.random()
        if c < 0.8:
            return str(r.randint(-8, 8))
        if c < 0.9:
            return r.choice([str(I64_MAX), str(I64_MIN), "1000", "-0", "abc", "1.5", ""])
        return r.choice(ODD_INTS)

    def scan_args(self, patterns):
        r = self.rng
        cursor = "0" if r.random() < 0.85 else r.choice(
            ["1", "7", "-1", "", "+0", "01", "x", "18446744073709551616", "18446744073709551615"])
        opts = []
        if r.random() < 0.4:
            opts.append(["MATCH", r.choice(patterns)])
        if r.random() < 0.5:
            opts.append(["COUNT", r.choice(["1", "2", "5", "10", "100", "1000"]) if r.random() < 0.9
                         else r.choice(["0", "-1", "abc", str(I64_MAX)])])
        if r.random() < 0.04:
            opts.append(r.choice([["NOVALUES"], ["TYPE", "string"], ["COUNT"], ["MATCH"]]))
        r.shuffle(opts)
        return [cursor] + [a for o in opts for a in o]

    def g_hset(self):
        r = self.rng
        argv = [r.choice(["HSET", "HSET", "HMSET"]), self.hash_key()]
        if r.random() < 0.02:  # past 512 fields Redis converts to a hashtable
            for n in range(r.randint(500, 530)):
                argv += ["f%d" % n, str(n)]
            return argv
        for _ in range(r.randint(1, 4)):
            argv += [self.hash_field(), self.hash_value()]
        if r.random() < 0.03:
            argv.append(self.hash_field())  # odd: wrong number of arguments
        return argv

    def g_hsetnx(self):
        return ["HSETNX", self.hash_key(), self.hash_field(), self.hash_value()]

    def g_hget(self):
        r = self.rng
        key = self.hash_key()
        c = r.random()
        if c < 0.4:
            return ["HGET", key, self.hash_field()]
        if c < 0.65:
            return ["HMGET", key] + [self.hash_field() for _ in range(r.randint(1, 4))]
        if c < 0.85:
            return ["HEXISTS", key, self.hash_field()]
        return ["HSTRLEN", key, self.hash_field()]

    def g_hgetall(self):
        return [self.rng.choice(["HGETALL", "HKEYS", "HVALS", "HLEN"]), self.hash_key()]

    def g_hdel(self):
        r = self.rng
        return ["HDEL", self.hash_key()] + [self.hash_field() for _ in range(r.randint(1, 3))]

    def g_hincrby(self):
        return ["HINCRBY", self.hash_key(), self.hash_field(), self.int_arg()]

    def g_hincrbyfloat(self):
        r = self.rng
        inc = r.choice(FLOATS) if r.random() < 0.85 else r.choice(
            ["abc", "", "inf", "-inf", "nan", " 1", "1 ", "0x10", "1e4932", "-1e4932", "1e308"])
        return ["HINCRBYFLOAT", self.hash_key(), self.hash_field(), inc]

    def g_hrandfield(self):
        r = self.rng
        argv = ["HRANDFIELD", self.hash_key()]
        if r.random() < 0.3:
            return argv
        argv.append(self.random_count())
        if r.random() < 0.4:
            argv.append(r.choice(["WITHVALUES", "withvalues", "WithValues"]))
            if r.random() < 0.05:  # past half the range: refused with WITHVALUES
                argv[2] = r.choice(["4611686018427387904", "-4611686018427387904"])
        if r.random() < 0.03:
            argv.append(r.choice(["BOGUS", "WITHVALUES"]))
        return argv

    def g_hscan(self):
        return ["HSCAN", self.hash_key()] + self.scan_args(["*", "f*", "?", "a", "*[0-2]", "x*"])

    def g_sadd(self):
        r = self.rng
        key = self.set_key()
        if r.random() < 0.02:  # past 512 integers Redis converts an intset to a hashtable
            return ["SADD", key] + [str(n) for n in range(r.randint(500, 530))]
        return ["SADD", key] + [self.set_member(key) for _ in range(r.randint(1, 5))]

    def g_srem(self):
        r = self.rng
        key = self.set_key()
        return ["SREM", key] + [self.set_member(key) for _ in range(r.randint(1, 4))]

    def g_sread(self):
        r = self.rng
        key = self.set_key()
        c = r.random()
        if c < 0.3:
            return ["SMEMBERS", key]
        if c < 0.5:
            return ["SCARD", key]
        if c < 0.75:
            return ["SISMEMBER", key, self.set_member(key)]
        return ["SMISMEMBER", key] + [self.set_member(key) for _ in range(r.randint(1, 4))]

    def g_spop(self):
        r = self.rng
        key = self.set_key()
        c = r.random()
        if c < 0.5:
            # Which members go is random (and differs between the servers), so the set is
            # deleted right after, on both, to keep them equal.
            self.pending.append(["DEL", key])
            return ["SPOP", key] if c < 0.25 else ["SPOP", key, str(r.randint(1, 4))]
        if c < 0.8:  # nothing or everything: the same on both
            return ["SPOP", key, r.choice(["0", "1000", str(I64_MAX)])]
        if c < 0.97:
            return ["SPOP", key, r.choice(["-1", "abc", "-0", "1.5", str(I64_MIN), ""])]
        return ["SPOP", key, "1", "2"]

    def g_srandmember(self):
        r = self.rng
        argv = ["SRANDMEMBER", self.set_key()]
        if r.random() < 0.7:
            argv.append(self.random_count())
            if r.random() < 0.03:
                argv.append("BOGUS")
        return argv

    def g_smove(self):
        source, target = self.set_key(), self.set_key()
        return ["SMOVE", source, target, self.set_member(source)]

    def g_setop(self):
        r = self.rng
        return [r.choice(["SINTER", "SUNION", "SDIFF"])] + [
            self.set_key() for _ in range(r.randint(1, 3))]

    def g_setop_store(self):
        r = self.rng
        cmd = r.choice(["SINTERSTORE", "SUNIONSTORE", "SDIFFSTORE"])
        return [cmd, self.set_key()] + [self.set_key() for _ in range(r.randint(1, 3))]

    def g_sintercard(self):
        r = self.rng
        keys = [self.set_key() for _ in range(r.randint(1, 3))]
        numkeys = str(len(keys)) if r.random() < 0.9 else r.choice(
            ["0", "-1", "abc", str(len(keys) + 1), str(I64_MAX), "01"])
        argv = ["SINTERCARD", numkeys] + keys
        if r.random() < 0.5:
            argv += ["LIMIT", str(r.randint(0, 4)) if r.random() < 0.9 else
                     r.choice(["-1", "abc", str(I64_MAX), "-0"])]
        if r.random() < 0.04:
            argv += r.choice([["LIMIT"], ["BOGUS"], ["LIMIT", "1"]])
        return argv

    def g_sscan(self):
        return ["SSCAN", self.set_key()] + self.scan_args(["*", "1*", "?", "a", "*[0-2]", "x*"])

    def g_hs_keyops(self):
        """Key commands on the collections: TTLs that changes must keep, and deletes that keep
        the collections small."""
        r = self.rng
        key = r.choice(self.HASH_KEYS + self.SET_KEYS)
        c = r.random()
        if c < 0.3:
            return ["DEL", key]
        if c < 0.5:
            return ["EXPIRE", key, str(r.randint(10_000, 10_000_000))]
        if c < 0.65:
            return [r.choice(["TTL", "TYPE", "EXISTS", "PERSIST"]), key]
        other = r.choice(self.HASH_KEYS + self.SET_KEYS)
        return r.choice([["RENAME", key, other], ["COPY", key, other, "REPLACE"]])

    HS_WRONG_ARITY = [
        ["HSET", "h0", "f"], ["HSET", "h0"], ["HSETNX", "h0", "f"], ["HGET", "h0"],
        ["HMSET", "h0", "f"], ["HMGET", "h0"], ["HGETALL"], ["HDEL", "h0"], ["HEXISTS", "h0"],
        ["HLEN"], ["HKEYS", "h0", "x"], ["HVALS"], ["HINCRBY", "h0", "f"],
        ["HINCRBYFLOAT", "h0", "f"], ["HSTRLEN", "h0"], ["HRANDFIELD"], ["HSCAN", "h0"],
        ["SADD", "s0"], ["SREM", "s0"], ["SMEMBERS"], ["SISMEMBER", "s0"], ["SMISMEMBER", "s0"],
        ["SCARD"], ["SPOP"], ["SRANDMEMBER"], ["SMOVE", "s0", "s1"], ["SINTER"],
        ["SINTERCARD", "1"], ["SUNION"], ["SDIFF"], ["SINTERSTORE", "d"], ["SUNIONSTORE", "d"],
        ["SDIFFSTORE", "d"], ["SSCAN", "s0"],
    ]

    def g_hs_arity(self):
        return list(self.rng.choice(self.HS_WRONG_ARITY))
    # --- hashes and sets (end) ----------------------------------------------

    # --- sorted sets (begin) ------------------------------------------------
    # Mostly keys only these commands touch, so that sets grow (sometimes past Redis's compact
    # encoding: 128 members or a member over 64 bytes); sometimes a set or hash key (sets count
    # as scores of 1 in ZUNION and friends; hashes are WRONGTYPE) or a shared key.
    ZSET_KEYS = ["z0", "z1", "z2", "{tag}z3"]
    # Where the storing commands mostly write (an empty result deletes the target).
    ZSTORE_KEYS = ["zd0", "{tag}zd1"]
    # Keys whose members all score 0, for the lexicographic commands: with mixed scores their
    # result is unspecified, and Redis's skiplist answers depend on its random levels. Only
    # ZADD ... 0 and removals touch these keys.
    ZLEX_KEYS = ["zl0", "{tag}zl1"]
    ZMEMBERS = ["a", "b", "c", "d", "e", "f", "", "x y", "1", "1.5", "-1", "\x00\xff\r\nbin",
                "hello"]
    ZLEX_MEMBERS = ["a", "b", "c", "aa", "ab", "abc", "b\x00", "", "zz", "A", "\xff"]
    ZSCORES = ["1", "2", "3", "-1", "0", "-0", "1.5", "-2.25", "0.1", "10", "100", "1e3", ".5",
               "inf", "-inf", "+inf", "0x10", "1e-3", "3.0e3", "123456.789", "1e-310"]
    ZBAD_SCORES = ["nan", "abc", "", " 1", "1 ", "1e400", "-1e400", "1e-400", "0x", "1,5"]

    def zkey(self):
        r = self.rng
        c = r.random()
        if c < 0.75:
            return r.choice(self.ZSET_KEYS)
        if c < 0.82:
            return r.choice(self.ZSTORE_KEYS)
        if c < 0.92:
            return r.choice(self.SET_KEYS + self.HASH_KEYS)
        return self.key()

    def zstore_key(self):
        r = self.rng
        return r.choice(self.ZSTORE_KEYS) if r.random() < 0.8 else r.choice(self.ZSET_KEYS)

    def zlex_key(self):
        return self.rng.choice(self.ZLEX_KEYS)

    def zmember(self):
        r = self.rng
        c = r.random()
        if c < 0.85:
            return r.choice(self.ZMEMBERS)
        if c < 0.98:
            return "m%d" % r.randint(0, 15)
        return "v" * r.choice([64, 65, 300])

    def zscore(self):
        r = self.rng
        c = r.random()
        if c < 0.6:
            return r.choice(self.ZSCORES)
        if c < 0.95:
            return str(r.randint(-20, 20))
        return r.choice(self.ZBAD_SCORES)

    def zbound(self):
        """One end of a score range."""
        r = self.rng
        c = r.random()
        if c < 0.5:
            b = str(r.randint(-5, 25))
        elif c < 0.85:
            b = r.choice(["-inf", "+inf", "inf", "0", "-0", "1.5", "0.1", "1e3", "-2.25"])
        else:
            b = r.choice(["", " 1", "1 ", "abc", "nan", "(", "((1", "1e400", "-1e400", "0x10",
                          "(inf", "(-inf", "[1"])
        return "(" + b if r.random() < 0.3 else b

    def zlex_bound(self):
        r = self.rng
        c = r.random()
        if c < 0.3:
            return r.choice(["-", "+"])
        if c < 0.95:
            return r.choice(["[", "("]) + r.choice(self.ZLEX_MEMBERS)
        return r.choice(["a", "", "-a", "+", "[", "("])

    def zrank_arg(self):
        r = self.rng
        if r.random() < 0.9:
            return str(r.randint(-5, 5))
        return r.choice([str(I64_MAX), str(I64_MIN), "abc", "1.5", "10000000000"])

    def zlimit(self):
        r = self.rng
        offset = str(r.randint(-1, 4)) if r.random() < 0.9 else r.choice(["abc", str(I64_MAX)])
        count = str(r.randint(-2, 4)) if r.random() < 0.9 else r.choice(["abc", str(I64_MIN)])
        return ["LIMIT", offset, count]

    def g_zadd(self):
        r = self.rng
        argv = ["ZADD", r.choice(self.ZSET_KEYS) if r.random() < 0.8 else self.zkey()]
        flags = []
        if r.random() < 0.35:
            flags.append(r.choice(["NX", "XX", "nx", "xx"]))
        if r.random() < 0.25:
            flags.append(r.choice(["GT", "LT", "gt"]))
        if r.random() < 0.3:
            flags.append("CH")
        incr = r.random() < 0.15
        if incr:
            flags.append("INCR")
        if r.random() < 0.05:  # conflicting or repeated flags
            flags.append(r.choice(["NX", "XX", "GT", "LT", "CH", "INCR"]))
        r.shuffle(flags)
        argv += flags
        if r.random() < 0.02:  # past 128 members Redis converts to a skiplist
            for n in range(r.randint(120, 140)):
                argv += [str(n % 7), "m%d" % n]
            return argv
        for _ in range(1 if incr and r.random() < 0.9 else r.randint(1, 10)):
            argv += [self.zscore(), self.zmember()]
        if r.random() < 0.03:
            argv.append(self.zscore())  # odd: a score without a member
        return argv

    def g_zincrby(self):
        return ["ZINCRBY", self.zkey(), self.zscore(), self.zmember()]

    def g_zrem(self):
        r = self.rng
        return ["ZREM", self.zkey()] + [self.zmember() for _ in range(r.randint(1, 4))]

    def g_zread(self):
        r = self.rng
        key = self.zkey()
        c = r.random()
        if c < 0.2:
            return ["ZCARD", key]
        if c < 0.45:
            return ["ZSCORE", key, self.zmember()]
        if c < 0.65:
            return ["ZMSCORE", key] + [self.zmember() for _ in range(r.randint(1, 4))]
        # Not WITHSCORE: Redis 7.2's, which 7.0 refuses.
        return [r.choice(["ZRANK", "ZREVRANK"]), key, self.zmember()]

    def g_zcount(self):
        return ["ZCOUNT", self.zkey()] + list(self.zscore_span(False))

    def zrank_span(self):
        """Start and stop of a rank range; mostly one that selects something."""
        r = self.rng
        if r.random() < 0.6:
            return str(r.randint(-3, 2)), str(r.choice([-1, -2, r.randint(0, 12)]))
        return self.zrank_arg(), self.zrank_arg()

    def zscore_span(self, rev):
        """Min and max of a score range (max first if `rev`); mostly min <= max."""
        r = self.rng
        lo, hi = self.zbound(), self.zbound()
        if r.random() < 0.6:
            a, b = sorted([r.randint(-5, 25), r.randint(-5, 25)])
            lo, hi = r.choice([str(a), "(" + str(a), "-inf"]), r.choice([str(b), "(" + str(b),
                                                                           "+inf"])
        return (hi, lo) if rev else (lo, hi)

    def g_zrange(self):
        r = self.rng
        key = self.zkey()
        c = r.random()
        if c < 0.45:
            argv = ["ZRANGE", key]
            opts = []
            by = r.choice([None, None, "BYSCORE"])
            rev = r.random() < 0.3
            if rev:
                opts.append(["REV"])
            if by:
                argv += list(self.zscore_span(rev))
                opts.append([by])
            else:
                argv += list(self.zrank_span())
            if r.random() < (0.4 if by else 0.05):
                opts.append(self.zlimit())
            if r.random() < 0.4:
                opts.append(["WITHSCORES"])
            if r.random() < 0.04:
                opts.append([r.choice(["BYLEX", "BYSCORE", "REV", "LIMIT", "BOGUS"])])
            r.shuffle(opts)
            return argv + [a for o in opts for a in o]
        if c < 0.6:
            argv = [r.choice(["ZREVRANGE", "ZRANGE"]), key] + list(self.zrank_span())
        else:
            cmd = r.choice(["ZRANGEBYSCORE", "ZREVRANGEBYSCORE"])
            argv = [cmd, key] + list(self.zscore_span(cmd == "ZREVRANGEBYSCORE"))
            if r.random() < 0.4:
                argv += self.zlimit()
        if r.random() < 0.4:
            argv.append("WITHSCORES")
        if r.random() < 0.03:
            argv.append(r.choice(["REV", "BYSCORE", "LIMIT"]))
        return argv

    def g_zlex(self):
        r = self.rng
        key = self.zlex_key()
        c = r.random()
        if c < 0.3:
            argv = ["ZADD", key]
            for _ in range(r.randint(1, 4)):
                argv += ["0", r.choice(self.ZLEX_MEMBERS)]
            return argv
        if c < 0.4:
            return ["ZLEXCOUNT", key, self.zlex_bound(), self.zlex_bound()]
        if c < 0.45:
            return ["ZREMRANGEBYLEX", key, self.zlex_bound(), self.zlex_bound()]
        if c < 0.7:
            argv = ["ZRANGE", key, self.zlex_bound(), self.zlex_bound(), "BYLEX"]
            if r.random() < 0.4:
                argv.append("REV")
        else:
            argv = [r.choice(["ZRANGEBYLEX", "ZREVRANGEBYLEX"]), key, self.zlex_bound(),
                    self.zlex_bound()]
        if r.random() < 0.4:
            argv += self.zlimit()
        if r.random() < 0.05:
            argv.append("WITHSCORES")  # not with BYLEX
        return argv

    def g_zrangestore(self):
        r = self.rng
        argv = ["ZRANGESTORE", self.zstore_key(), self.zkey()]
        rev = r.random() < 0.3
        if r.random() < 0.5:
            argv += list(self.zscore_span(rev)) + ["BYSCORE"]
            if r.random() < 0.4:
                argv += self.zlimit()
        else:
            argv += list(self.zrank_span())
        if rev:
            argv.append("REV")
        if r.random() < 0.04:
            argv.append(r.choice(["WITHSCORES", "BOGUS"]))
        return argv

    def g_zremrange(self):
        r = self.rng
        if r.random() < 0.5:
            return ["ZREMRANGEBYRANK", self.zkey()] + list(self.zrank_span())
        return ["ZREMRANGEBYSCORE", self.zkey()] + list(self.zscore_span(False))

    def g_zpop(self):
        r = self.rng
        if r.random() < 0.6:
            argv = [r.choice(["ZPOPMIN", "ZPOPMAX"]), r.choice([self.zkey(), self.zlex_key()])]
            if r.random() < 0.5:
                argv.append(str(r.randint(0, 4)) if r.random() < 0.85 else
                            r.choice(["-1", "abc", str(I64_MAX), "1.5"]))
            return argv
        keys = [self.zkey() for _ in range(r.randint(1, 3))]
        numkeys = str(len(keys)) if r.random() < 0.9 else r.choice(
            ["0", "-1", "abc", str(len(keys) + 1), str(I64_MAX)])
        argv = ["ZMPOP", numkeys] + keys + [r.choice(["MIN", "MAX", "min"]) if r.random() < 0.95
                                            else "MIDDLE"]
        if r.random() < 0.5:
            argv += ["COUNT", str(r.randint(1, 4)) if r.random() < 0.85 else
                     r.choice(["0", "-1", "abc", str(I64_MAX)])]
        if r.random() < 0.04:
            argv += r.choice([["COUNT", "1"], ["COUNT"], ["BOGUS"]])
        return argv

    def g_zsetop(self):
        r = self.rng
        op = r.choice(["ZUNION", "ZINTER", "ZDIFF", "ZINTERCARD"])
        store = op != "ZINTERCARD" and r.random() < 0.4
        keys = [self.zkey() for _ in range(r.randint(1, 3))]
        numkeys = str(len(keys)) if r.random() < 0.92 else r.choice(
            ["0", "-1", "abc", str(len(keys) + 1), str(I64_MAX)])
        argv = ([op + "STORE", self.zstore_key()] if store else [op]) + [numkeys] + keys
        opts = []
        if op == "ZINTERCARD":
            if r.random() < 0.5:
                opts.append(["LIMIT", str(r.randint(0, 3)) if r.random() < 0.9 else
                             r.choice(["-1", "abc"])])
        else:
            if op != "ZDIFF" or r.random() < 0.05:
                if r.random() < 0.4:
                    weights = [r.choice(["1", "2", "0", "-1", "0.5", "inf", "-inf", "1e3"])
                               for _ in keys]
                    if r.random() < 0.05:
                        weights[-1] = r.choice(["nan", "abc", ""])
                    if r.random() < 0.05:
                        weights.pop()  # too few
                    opts.append(["WEIGHTS"] + weights)
                if r.random() < 0.4:
                    opts.append(["AGGREGATE", r.choice(["SUM", "MIN", "MAX", "min"]) if
                                 r.random() < 0.95 else "AVG"])
            if not store and r.random() < 0.5:
                opts.append(["WITHSCORES"])
        if r.random() < 0.03:
            opts.append([r.choice(["BOGUS", "WITHSCORES", "LIMIT"])])
        r.shuffle(opts)
        return argv + [a for o in opts for a in o]

    def g_zrandmember(self):
        """Never a large valid negative count without WITHSCORES: Redis writes that many
        elements whatever it costs, where Redraft refuses more than 2^24 picks."""
        r = self.rng
        argv = ["ZRANDMEMBER", self.zkey()]
        if r.random() < 0.3:
            return argv
        withscores = r.random() < 0.4
        c = r.random()
        if c < 0.85:
            count = str(r.randint(-8, 8))
        elif withscores:
            count = r.choice([str(I64_MAX), str(I64_MIN), str(-I64_MAX), "4611686018427387904",
                              "-4611686018427387904", "abc"])
        else:
            count = r.choice([str(I64_MAX), str(I64_MIN), "abc", "1.5", ""])
        argv.append(count)
        if withscores:
            argv.append(r.choice(["WITHSCORES", "withscores"]))
        if r.random() < 0.03:
            argv.append(r.choice(["BOGUS", "WITHSCORES"]))
        return argv

    def g_zscan(self):
        return ["ZSCAN", self.zkey()] + self.scan_args(["*", "m*", "?", "a", "*[0-2]", "x*"])

    ZSET_WRONG_ARITY = [
        ["ZADD", "z0", "1"], ["ZADD", "z0"], ["ZADD", "z0", "NX"], ["ZINCRBY", "z0", "1"],
        ["ZREM", "z0"], ["ZCARD"], ["ZSCORE", "z0"], ["ZSCORE", "z0", "a", "b"], ["ZMSCORE", "z0"],
        ["ZRANK", "z0"], ["ZREVRANK"], ["ZCOUNT", "z0", "1"], ["ZLEXCOUNT", "z0", "-"],
        ["ZRANGE", "z0", "0"], ["ZRANGESTORE", "z1", "z0", "0"], ["ZREVRANGE", "z0", "0"],
        ["ZRANGEBYSCORE", "z0", "1"], ["ZREVRANGEBYLEX", "z0", "+"],
        ["ZREMRANGEBYRANK", "z0", "0"], ["ZREMRANGEBYSCORE", "z0", "0", "1", "2"],
        ["ZPOPMIN"], ["ZMPOP", "1", "z0"], ["ZUNION", "1"], ["ZINTERSTORE", "z1", "1"],
        ["ZDIFF"], ["ZINTERCARD", "1"], ["ZRANDMEMBER"], ["ZSCAN", "z0"],
    ]

    def g_zset_arity(self):
        return list(self.rng.choice(self.ZSET_WRONG_ARITY))
    # --- sorted sets (end) --------------------------------------------------

    # --- SORT, transactions, OBJECT ENCODING (begin) ------------------------
    # SORT's output is deterministic on both servers (equal weights fall back to comparing
    # the elements), except BY nosort on a set, never generated. A SORT op mostly builds its
    # own source and weight keys first (queued in `pending`), so that BY and GET patterns
    # find something; sometimes it sorts whatever a shared key holds.
    SORT_SOURCES = ["so0", "{tag}so1"]
    SORT_NUMS = ["3", "10", "-2", "1.5", "0", "7", "-0.5", "1e2", "10"]
    SORT_WORDS = ["b", "a", "c", "B", "aa", "", "10", "2", "x y"]

    def sort_source(self):
        """Commands that fill a SORT source key, and the key."""
        r = self.rng
        key = r.choice(self.SORT_SOURCES)
        words = r.random() < 0.4
        pool = self.SORT_WORDS if words else self.SORT_NUMS
        # At most 6: Redis sorts with a LIMIT by a partial quicksort, which keeps equal
        # elements in their input order (as Redraft always does) only below 7 elements.
        elems = [r.choice(pool) for _ in range(r.randint(1, 6))]
        kind = r.choice(["list", "set", "zset"])
        setup = [["DEL", key]]
        if kind == "list":
            setup.append(["RPUSH", key] + elems)
        elif kind == "set":
            setup.append(["SADD", key] + elems)
        else:
            setup.append(["ZADD", key] + [x for e in elems for x in (str(r.randint(-3, 3)), e)])
        if r.random() < 0.6:  # weights for BY w_*, and hashes for BY/GET h_*->f
            mset = ["MSET"]
            for e in dict.fromkeys(elems):
                if r.random() < 0.85:
                    mset += [f"w_{e}", r.choice(self.SORT_NUMS + ["abc"] * (r.random() < 0.1))]
            if len(mset) > 1:
                setup.append(mset)
            for e in dict.fromkeys(elems):
                if r.random() < 0.5:
                    setup.append(["HSET", f"h_{e}", "f", r.choice(self.SORT_NUMS + ["zz"])])
        return key, kind, words, setup

    def g_sort(self):
        r = self.rng
        if r.random() < 0.8:
            key, kind, words, setup = self.sort_source()
        else:
            # Not the shared sorted-set keys: Redis's SORT turns a packed source sorted set
            # into a skiplist as a side effect, which OBJECT ENCODING would then show. Not the
            # shared set keys: they hold "" and "\0..." which ALPHA finds equal (as C strings),
            # and equal elements of a set come in Redis's hash order.
            key, kind, words, setup = r.choice(KEYS + self.LIST_KEYS), "any", True, []
        ro = r.random() < 0.2
        argv = ["SORT_RO" if ro else "SORT", key]
        alpha = words or self.erange or r.random() < 0.2
        # ALPHA BY leaves equal weights in the input order, which for a set or a sorted set
        # is the order Redis walks its hash table in: generated for lists only.
        c = r.random() if not (alpha and kind != "list") else 1.0
        if c < 0.3:
            argv += ["BY", "w_*"]
        elif c < 0.4:
            argv += ["BY", "h_*->f"]
        elif c < 0.45 and kind == "list":
            argv += ["BY", "nosort"]
        elif c < 0.5:
            argv += ["BY", "nokey_*"]  # every weight missing: all equal
        if r.random() < 0.3:
            argv += ["LIMIT", r.choice(["0", "1", "2", "-1", "5", "abc"]),
                     r.choice(["1", "2", "3", "-1", "0", "10", "x"])]
        for _ in range(r.choice([0, 0, 1, 2])):
            argv += ["GET", r.choice(["#", "w_*", "h_*->f", "nokey_*", "h_*->nofield"])]
        if r.random() < 0.3:
            argv.append(r.choice(["ASC", "DESC", "desc"]))
        if alpha:
            argv.append("ALPHA")
        if r.random() < 0.25:
            argv += ["STORE", r.choice(["sd0", key, "k0"])]  # SORT_RO: a syntax error
        if r.random() < 0.03:
            argv.append(r.choice(["BOGUS", "LIMIT", "GET"]))
        self.pending.extend(setup[1:] + [argv])
        return setup[0] if setup else ["EXISTS", key]

    # Commands that change the keys a WATCH covers, some without changing their value (SET
    # to the same value still counts as a write; SADD of a present member does not).
    def watch_touch(self, key):
        r = self.rng
        return r.choice([["SET", key, "v"], ["DEL", key], ["INCR", key], ["EXPIRE", key, "100"],
                         ["SADD", key, "a"], ["RPUSH", key, "x"], ["GET", key],
                         ["EXISTS", key], ["RENAME", key, "k4"], ["PERSIST", key],
                         ["FLUSHDB"] if r.random() < 0.2 else ["PING"]])

    def g_tx(self):
        """MULTI, a few commands, then EXEC or DISCARD; sometimes a WATCH first and a touch
        of the watched key, a command that fails when queued (EXECABORT), or a command
        MULTI does not allow."""
        r = self.rng
        pre, inner = [], []
        if r.random() < 0.35:
            watched = self.keys(1, 2)
            pre.append(["WATCH"] + watched)
            if r.random() < 0.5:
                pre.append(self.watch_touch(r.choice(watched)))
        for _ in range(r.randint(0, 5)):
            gen = r.choices(self.gens, weights=self.weights)[0]
            if gen in (self.g_tx, self.g_sort, self.g_select, self.g_move, self.g_object,
                       self.g_watch_write, self.g_pubsub):
                gen = self.g_set
            inner.append(gen())
            inner.extend(self.pending)
            self.pending.clear()
        c = r.random()
        if c < 0.06:
            inner.insert(r.randint(0, len(inner)), r.choice([["GET"], ["NOSUCHCMD", "x"],
                                                              ["SET", "k0"]]))
        elif c < 0.1:
            inner.insert(r.randint(0, len(inner)), r.choice([["MULTI"], ["WATCH", "k0"]]))
        end = ["EXEC"] if r.random() < 0.85 else ["DISCARD"]
        after = [["UNWATCH"]] if r.random() < 0.2 else []
        self.pending.extend(pre[1:] + [["MULTI"]] + inner + [end] + after)
        return pre[0] if pre else self.pending.pop(0)

    def g_blocking(self):
        """A blocking pop, made from a generated non-blocking one: served at once from a
        key that holds something, or after a 1-10 ms timeout from one that does not (never
        0, which would wait for ever), or refused for its timeout. Inside MULTI it does not
        block."""
        r = self.rng
        timeout = r.choice(["0.01", "0.001", "1e-2", ".005", "0x1p-7"]) if r.random() < 0.9 \
            else r.choice(["-1", "abc", "", "-0.5", "nan", "1e400", "inf", "1e16", "0x"])
        choice = r.randrange(5)
        if choice == 0:
            return [r.choice(["BLPOP", "BRPOP"])] + self.list_keys(1, 3) + [timeout]
        if choice == 1:
            argv = self.g_lmove()
            return (["BRPOPLPUSH"] + argv[1:] if argv[0] == "RPOPLPUSH"
                    else ["BLMOVE"] + argv[1:]) + [timeout]
        if choice == 2:
            return ["BLMPOP", timeout] + self.g_lmpop()[1:]
        if choice == 3:
            keys = [r.choice([self.zkey(), self.zlex_key()]) for _ in range(r.randint(1, 3))]
            return [r.choice(["BZPOPMIN", "BZPOPMAX"])] + keys + [timeout]
        argv = self.g_zpop()
        while argv[0] != "ZMPOP":
            argv = self.g_zpop()
        return ["BZMPOP", timeout] + argv[1:]

    CHANNELS = ["ch0", "ch1", "{tag}ch2"]

    def g_pubsub(self):
        """PUBLISH, SPUBLISH and PUBSUB's introspection; or SUBSCRIBE / PSUBSCRIBE /
        SSUBSCRIBE, a random command (refused in RESP2's subscribed mode, run in RESP3's),
        and the matching unsubscribe with its channels named (without them the order of the
        replies is the server's hash order)."""
        r = self.rng
        ch = r.choice(self.CHANNELS)
        c = r.random()
        if c < 0.25:
            return [r.choice(["PUBLISH", "SPUBLISH"]), ch, self.value()]
        if c < 0.55:
            return r.choice([["PUBSUB", "CHANNELS"], ["PUBSUB", "CHANNELS", "ch*"],
                             ["PUBSUB", "NUMSUB"] + self.CHANNELS[:r.randint(0, 3)],
                             ["PUBSUB", "NUMPAT"], ["PUBSUB", "SHARDCHANNELS"],
                             ["PUBSUB", "SHARDNUMSUB", ch], ["PUBSUB", "NOPE"], ["PUBSUB"],
                             ["PUBSUB", "NUMPAT", "x"], ["UNSUBSCRIBE", ch],
                             ["PUNSUBSCRIBE", "ch*"], ["SUNSUBSCRIBE", ch]])
        kind = r.choice(["", "P", "S"])
        names = (["ch*", "{tag}*"][:r.randint(1, 2)] if kind == "P"
                 else [ch] if kind == "S" else self.CHANNELS[:r.randint(1, 3)])
        inner = r.choices(self.gens, weights=self.weights)[0]
        if inner in (self.g_tx, self.g_tx_misuse, self.g_select, self.g_watch_write,
                     self.g_pubsub, self.g_blocking, self.g_sort):
            inner = self.g_set
        middle = [inner(), ["PING"], ["PING", "x"]][r.randrange(3)]
        self.pending[:0] = [middle, [kind + "UNSUBSCRIBE"] + names] + self.pending
        return [kind + "SUBSCRIBE"] + names

    def g_script(self):
        """A random command run by a Lua script (EVAL, or EVALSHA of the same text after a
        SCRIPT LOAD): the reply goes through Redis's conversions to Lua and back, and an error
        carries the script's SHA and line, or comes back as a value from redis.pcall."""
        r = self.rng
        scriptable = [
            self.g_set, self.g_get, self.g_getset, self.g_getdel, self.g_mset, self.g_mget,
            self.g_append, self.g_strlen, self.g_getrange, self.g_setrange, self.g_incr,
            self.g_incrby, self.g_incrbyfloat, self.g_del, self.g_exists, self.g_type,
            self.g_rename, self.g_copy, self.g_setbit, self.g_getbit, self.g_bitcount,
            self.g_bitpos, self.g_bitop, self.g_bitfield, self.g_lcs, self.g_list_push,
            self.g_list_pop, self.g_llen, self.g_lrange, self.g_lindex, self.g_lset,
            self.g_linsert, self.g_lrem, self.g_ltrim, self.g_lpos, self.g_lmove,
            self.g_wrong_arity, self.g_unknown,
        ]
        argv = r.choice(scriptable)()
        if str(argv[0]).upper() in ("SELECT", "MULTI", "EXEC", "WATCH"):
            return argv
        body = r.choice([
            "return redis.call(unpack(ARGV))",
            "return redis.pcall(unpack(ARGV))",
            "local reply = redis.pcall(unpack(ARGV))\n"
            "if type(reply) == 'table' and reply.err then return 'caught: ' .. reply.err end\n"
            "return {type(reply), reply}",
        ])
        keys = [a for a in argv[1:] if a in KEYS][:2]
        if r.random() < 0.3:
            self.pending[:0] = [["EVALSHA", sha1_hex(body), str(len(keys))] + keys + argv]
            return ["SCRIPT", "LOAD", body]
        return ["EVAL", body, str(len(keys))] + keys + argv

    def g_watch_write(self):
        """WATCH every name a random command mentions, run it, then MULTI, PING, EXEC: EXEC
        fails exactly when the command changed one of its keys. A write that changes nothing
        (a DEL of a missing key, an SREM of a missing member, an out-of-range LSET) leaves the
        WATCH intact in Redis, and must here too."""
        r = self.rng
        gen = r.choices(self.gens, weights=self.weights)[0]
        if gen in (self.g_tx, self.g_tx_misuse, self.g_select, self.g_object,
                   self.g_watch_write, self.g_pubsub):
            gen = self.g_set
        argv = gen()
        # Over-watching is harmless: a value taken for a key is a key nothing else writes.
        watched = list(dict.fromkeys(a for a in argv[1:]
                                     if isinstance(a, str) and 0 < len(a) <= 16))[:8]
        if not watched or str(argv[0]).upper() in ("WATCH", "MULTI", "EXEC", "DISCARD"):
            return argv
        self.pending[:0] = [argv, ["MULTI"], ["PING"], ["EXEC"]]
        return ["WATCH"] + watched

    def g_tx_misuse(self):
        return list(self.rng.choice([["EXEC"], ["DISCARD"], ["UNWATCH"], ["WATCH"],
                                     ["MULTI", "x"], ["EXEC", "x"]]))

    def g_object(self):
        r = self.rng
        key = r.choice(KEYS + self.LIST_KEYS + self.SET_KEYS + self.HASH_KEYS + self.ZSET_KEYS)
        return ["OBJECT", r.choice(["ENCODING", "encoding"] * 5 + ["NOPE"]), key]
    # --- SORT, transactions, OBJECT ENCODING (end) --------------------------

    # --- entry point -----------------------------------------------------
    def op(self):
        argv = self.next_op()
        # Redis 7.0's SORT reads errno without clearing it first, so after any command that
        # parsed a number out of double's range (1e-310, 1e400: ERANGE) it fails every numeric
        # sort with "One or more scores can't be converted into double". Redraft has no such
        # state; SORT sorts ALPHA for the rest of a seed once one was sent.
        if any(OUT_OF_RANGE_DOUBLE.search(str(a)) for a in argv[1:]):
            self.erange = True
        return argv

    def next_op(self):
        if self.pending:  # a follow-up an op queued (hashes and sets: see g_spop)
            return self.pending.pop(0)
        argv = self.rng.choices(self.gens, weights=self.weights)[0]()
        if self.rng.random() < 0.1:  # command names are case-insensitive
            argv[0] = "".join(c.upper() if self.rng.random() < 0.5 else c.lower()
                              for c in argv[0])
        return argv


# Arguments whose parse sets errno to ERANGE in Redis (see Gen.op): doubles out of range and
# integers past 64 bits (a SCAN cursor).
OUT_OF_RANGE_DOUBLE = re.compile(r"[eE][+-]?0*[1-9][0-9]{2,}|[0-9]{20,}")


class Transactions:
    """Follows MULTI ... EXEC on the connection (by the reference's replies) so that EXEC's
    array is compared element by element, each by the rules of the command queued there."""

    # errno outlives a seed in the reference's process (see Gen.op): once an earlier seed sent
    # a number out of range, a numeric SORT that the reference refuses with this error and
    # Redraft answers counts as equal. Within a seed Gen sorts ALPHA instead.
    stale_erange = False
    SORT_ERANGE = ("error", "ERR One or more scores can't be converted into double")

    def __init__(self, reference):
        self.reference = reference  # a connection to the reference, for OBJECT's key type
        self.queued = None  # the commands queued since MULTI, or None outside MULTI
        self.erange_here = False  # this seed sent an out-of-range number
        self.excused = False  # the last command's replies differed by a Redis quirk

    def match(self, argv, a, b):
        name = str(argv[0]).upper()
        if any(OUT_OF_RANGE_DOUBLE.search(str(x)) for x in argv[1:]):
            self.erange_here = True
        self.excused = False
        if (name in ("SORT", "SORT_RO") and Transactions.stale_erange
                and a == self.SORT_ERANGE and b[0] in ("array", "int")):
            self.excused = True  # and so are the events of Redraft's STORE
            return True  # an array, or STORE's count
        if self.queued is None:
            if name == "MULTI" and a == ("simple", "OK"):
                self.queued = []
            if name == "OBJECT" and len(argv) == 3 and a != b:
                key_type = call_safely(self.reference, ["TYPE", argv[2]])
                return object_encoding_match(key_type[1], a, b)
            return replies_match(argv, a, b)
        if name in ("EXEC", "DISCARD"):
            queued, self.queued = self.queued, None
            if (name == "EXEC" and a[0] == b[0] == "array" and a[1] is not None
                    and b[1] is not None and len(a[1]) == len(b[1]) == len(queued)):
                return all(replies_match(q, x, y) for q, x, y in zip(queued, a[1], b[1]))
            return a == b
        if a == ("simple", "QUEUED"):
            self.queued.append(argv)
        return a == b


class Events:
    """Keyspace notifications of one server (`notify-keyspace-events KEA`), as a subscriber to
    every keyspace and keyevent channel sees them: after each command the driver publishes a
    marker on a channel of its own and takes every event that arrived before it. `expired`
    events are left out: when active expiry finds a key differs between servers."""

    MARK = "__differential_mark__"

    def __init__(self, port):
        self.sub = RespClient(port)
        self.pub = RespClient(port)
        self.marks = 0
        for argv in (["PSUBSCRIBE", "__key*__:*"], ["SUBSCRIBE", self.MARK]):
            self.sub.call(argv)

    def close(self):
        self.sub.close()
        self.pub.close()

    def drain(self):
        """The events since the last drain, as (channel, message) byte pairs; or a
        ("no-reply", why) pseudo-reply if the subscriber connection failed."""
        self.marks += 1
        mark = str(self.marks).encode()
        events = []
        try:
            self.pub.call(["PUBLISH", self.MARK, mark])
            while True:
                tag, frame = self.sub.read_reply()
                if tag != "array" or not frame:
                    return ("no-reply", f"subscriber got {fmt_reply((tag, frame))}")
                kind = frame[0][1]
                if kind == b"message" and frame[2][1] == mark:
                    return ("events", events)
                if kind == b"pmessage":
                    channel, message = frame[2][1], frame[3][1]
                    if b"expired" not in (message, channel.rsplit(b":", 1)[-1]):
                        events.append((channel, message))
        except (OSError, ConnectionClosed, ProtocolViolation) as e:
            return ("no-reply", f"subscriber: {e}")


def fmt_events(r, abbrev=True):
    tag, v = r
    if tag != "events":
        return fmt_reply(r, abbrev)
    if not v:
        return "(no events)"
    return "\n".join(f"{i + 1}) {fmt_arg(c, abbrev)} {fmt_arg(m, abbrev)}"
                     for i, (c, m) in enumerate(v))


def shape(r):
    """A RESP3 reply's types, nested, without its values: for an array, set or map the
    distinct shapes of its elements (how many, and in what order, the RESP2 rules judge:
    a SCAN's batch or a random pick need not be alike)."""
    tag, v = r
    if tag in ("array", "push", "set", "multi") and v is not None:
        return (tag, sorted({repr(shape(x)) for x in v}))
    if tag in ("map", "attr"):
        return (tag, sorted({repr((shape(k), shape(x))) for k, x in v}))
    return tag


def shapes_match(a, b):
    """Two replies have alike types, nested: an empty array, set or map is like any of its
    kind, and every element of one is like some element of the other."""
    (ta, va), (tb, vb) = a, b
    if ta != tb:
        return False
    if ta not in ("array", "push", "set", "map", "attr", "multi") or va is None or vb is None:
        return (va is None) == (vb is None) if ta == "array" else True

    def kinds(r):  # one element of each distinct shape (a map's pairs as arrays)
        tag, v = r
        items = [("array", list(p)) for p in v] if tag in ("map", "attr") else v
        return list({repr(shape(x)): x for x in items}.values())

    xs, ys = kinds(a), kinds(b)
    if not xs or not ys:
        return True
    return (all(any(shapes_match(x, y) for y in ys) for x in xs)
            and all(any(shapes_match(x, y) for x in xs) for y in ys))


def downgrade(r, flat_pairs=True):
    """A RESP3 reply in RESP2's terms (maps flattened, sets as arrays, doubles as bulk
    strings, null as a null bulk), for the RESP2 comparison rules once the shapes matched.
    An array of pairs (member and score, field and value) is sent flat in RESP2, except by
    ZMPOP and BZMPOP (`flat_pairs` False)."""
    tag, v = r
    if (flat_pairs and tag == "array" and v
            and all(x[0] == "array" and x[1] and len(x[1]) == 2 for x in v)):
        return (tag, [downgrade(y) for x in v for y in x[1]])
    if tag in ("array", "multi") and v is not None:
        return (tag, [downgrade(x, flat_pairs) for x in v])
    if tag in ("set", "push"):
        return ("array", [downgrade(x) for x in v])
    if tag in ("map", "attr"):
        return ("array", [downgrade(y) for k, x in v for y in (k, x)])
    if tag == "null":
        return ("bulk", None)
    if tag == "double":
        return ("bulk", v.encode("latin-1"))
    if tag == "bool":
        return ("int", 1 if v == "t" else 0)
    if tag in ("bignum", "verbatim"):
        return ("bulk", v if isinstance(v, bytes) else v.encode("latin-1"))
    return r


def sha1_hex(text):
    return hashlib.sha1(text.encode()).hexdigest()


def generate(seed, nops):
    gen = Gen(random.Random(seed))
    return [gen.op() for _ in range(nops)]


# ---------------------------------------------------------------------------
# driver
# ---------------------------------------------------------------------------

def parse_seeds(s):
    if ".." in s:
        a, b = s.split("..", 1)
        a, b = int(a), int(b)
        if b <= a:
            raise argparse.ArgumentTypeError("--seeds A..B needs B > A (B is exclusive)")
        return range(a, b)
    n = int(s)
    return range(n, n + 1)


def reset(client, resp3):
    """RESET (a seed may end inside MULTI, or subscribed: it leaves both, unwatches, selects
    database 0, and speaks RESP2 again), HELLO 3 if asked, FLUSHALL before each seed; returns
    an error string or None."""
    steps = [(["RESET"], ("simple", "RESET"))]
    steps += [(["HELLO", "3"], "map")] if resp3 else []
    steps += [(["FLUSHALL"], ("simple", "OK"))]
    for argv, want in steps:
        rep = call_safely(client, argv)
        if rep != want and rep[0] != want:
            return f"{fmt_command(argv)} -> {fmt_reply(rep)}"
    return None


def main():
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=parse_seeds, default=range(0, 200),
                    help="seed range A..B (B exclusive) or a single seed; default 0..200")
    ap.add_argument("--ops", type=int, default=200, help="commands per seed (default 200)")
    ap.add_argument("--server-under-test", default=None,
                    help="server-under-test command (default: $REDRAFT_BIN or "
                         "target/release/redraft); --port/--bind/--dir are appended")
    ap.add_argument("--reference", default=REFERENCE_REDIS,
                    help=f"reference server command (default: {REFERENCE_REDIS!r})")
    ap.add_argument("--keep-going", action="store_true",
                    help="continue with the next seed after a difference")
    ap.add_argument("--no-abbrev", action="store_true",
                    help="print long arguments/replies in full")
    ap.add_argument("--resp3", action="store_true",
                    help="speak RESP3 (HELLO 3): replies must have the same RESP3 types, "
                         "nested, then match by the RESP2 rules")
    ap.add_argument("--no-events", action="store_true",
                    help="do not compare keyspace notifications after each command")
    ap.add_argument("--print-commands", action="store_true",
                    help="print the generated command sequence of each seed and exit "
                         "(no servers started)")
    args = ap.parse_args()
    sut_cmd = args.server_under_test or server_under_test_cmd()
    abbrev = not args.no_abbrev

    if args.print_commands:
        for seed in args.seeds:
            for i, argv in enumerate(generate(seed, args.ops)):
                print(f"seed {seed} #{i}: {fmt_command(argv, abbrev)}")
        return 0

    print(f"# reference:         {args.reference}")
    print(f"# server under test: {sut_cmd}")
    print(f"# seeds {args.seeds.start}..{args.seeds.stop}, {args.ops} ops per seed",
          flush=True)

    ref = Server(args.reference, name="reference")
    sut = Server(sut_cmd, name="sut")
    passed = failed = 0
    t0 = time.monotonic()
    try:
        try:
            ref.start()
            sut.start()
        except RuntimeError as e:
            print(f"ERROR: {e}", file=sys.stderr)
            print(f"{passed} passed, {failed} failed (could not start the servers)")
            return 2
        def connect():
            clients = RespClient(ref.port), RespClient(sut.port)
            for c in clients if args.resp3 else ():
                if call_safely(c, ["HELLO", "3"])[0] != "map":
                    raise RuntimeError("HELLO 3 did not answer with a map")
            return clients

        cref, csut = connect()
        eref = esut = None
        if not args.no_events:
            for c in (cref, csut):
                rep = call_safely(c, ["CONFIG", "SET", "notify-keyspace-events", "KEA"])
                if rep != ("simple", "OK"):
                    print(f"ERROR: CONFIG SET notify-keyspace-events: {fmt_reply(rep)}",
                          file=sys.stderr)
                    return 2
            eref, esut = Events(ref.port), Events(sut.port)
        for seed in args.seeds:
            ops = generate(seed, args.ops)
            err = reset(cref, args.resp3) or reset(csut, args.resp3)
            if err:
                print(f"ERROR: reset before seed {seed} failed: {err}", file=sys.stderr)
                failed += 1
                break
            diff_at = None
            if eref:  # what the reset itself sent (FLUSHALL's deletions of expired keys)
                eref.drain()
                esut.drain()
            tx = Transactions(cref)
            for i, argv in enumerate(ops):
                a = call_safely(cref, argv)
                b = call_safely(csut, argv)
                if args.resp3:
                    # (An error against a reply is for the RESP2 rules: see stale_erange.)
                    if "error" not in (a[0], b[0]) and not shapes_match(a, b):
                        diff_at = (i, a, b)
                        break
                    name = str(argv[0]).upper()
                    if name == "EXEC" and a[0] == b[0] == "array" and a[1] and b[1]:
                        # Each queued command's reply on its own (not EXEC's as pairs).
                        nested = [str(q[0]).upper() in ("ZMPOP", "BZMPOP")
                                  for q in tx.queued or []]
                        a, b = (("array", [downgrade(x, not (nested[i:i + 1] or [0])[0])
                                           for i, x in enumerate(r[1])]) for r in (a, b))
                    else:
                        flat = name not in ("ZMPOP", "BZMPOP")
                        a, b = downgrade(a, flat), downgrade(b, flat)
                if not tx.match(argv, a, b):
                    diff_at = (i, a, b)
                    break
                if eref:
                    a, b = eref.drain(), esut.drain()
                    if a != b and not tx.excused:
                        diff_at = (i, a, b)
                        break
                words = [str(w).upper() for w in argv]
                if tx.excused and "STORE" in words[2:-1]:
                    # Redis refused the SORT, Redraft stored its result: the destination
                    # differs now, so it goes on both (and so do the events that says).
                    dest = argv[words.index("STORE", 2) + 1]
                    for c in (cref, csut):
                        call_safely(c, ["DEL", dest])
                    if eref:
                        eref.drain()
                        esut.drain()
            Transactions.stale_erange |= tx.erange_here
            if diff_at is None:
                passed += 1
                if (passed + failed) % 50 == 0:
                    print(f"# {passed + failed} seeds done ({time.monotonic() - t0:.1f}s)",
                          flush=True)
                continue

            failed += 1
            i, a, b = diff_at
            print(f"\nDIFFERENCE at seed {seed}, command #{i}:")
            print(f"--- command sequence (seed {seed}, commands 0..{i}) ---")
            for j, argv in enumerate(ops[:i + 1]):
                print(f"{j:4d}  {fmt_command(argv, abbrev)}")
            print("--- differing command ---")
            print(f"      {fmt_command(ops[i], abbrev)}")
            what = "events" if a[0] == "events" else "reply"
            print(f"--- reference (redis) {what} ---")
            print(fmt_events(a, abbrev))
            print(f"--- server-under-test {what} ---")
            print(fmt_events(b, abbrev))
            replay = ["python3", SCRIPT, "--seeds", f"{seed}..{seed + 1}",
                      "--ops", str(i + 1), "--server-under-test", sut_cmd]
            if args.reference != REFERENCE_REDIS:
                replay += ["--reference", args.reference]
            print("--- replay with ---")
            print(" ".join(shlex.quote(x) for x in replay))
            if abbrev:
                print("(long arguments abbreviated; add --no-abbrev to print them in full, "
                      "or --print-commands to list the sequence)")
            if sut.proc.poll() is not None:
                print(f"server under test exited with code {sut.proc.returncode}; log tail:")
                print(sut.read_log())
                break
            if not args.keep_going:
                break
            if a[0] in ("no-reply", "events") or b[0] in ("no-reply", "events"):
                # Resync the connections (a subscriber may hold events past its mark).
                for c in (cref, csut, eref, esut):
                    if c:
                        c.close()
                cref, csut = connect()
                if eref:
                    eref, esut = Events(ref.port), Events(sut.port)
        for c in (cref, csut, eref, esut):
            if c:
                c.close()
    finally:
        sut.stop()
        ref.stop()
    print(f"# {time.monotonic() - t0:.1f}s")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
