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
import os
import random
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


def call_safely(client, argv):
    """Send a command; connection problems become a pseudo-reply."""
    try:
        return client.call(argv)
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
    if tag == "array":
        if v is None:
            return "(nil array)"
        if not v:
            return "(empty array)"
        return "\n".join(f"{indent}{i + 1}) " + fmt_reply(x, abbrev, indent + "   ").lstrip()
                         for i, x in enumerate(v))
    return f"<{tag}> {v!r}"


# ---------------------------------------------------------------------------
# normalisation / comparison
# ---------------------------------------------------------------------------

TTL_TOLERANCE = {b"TTL": 2, b"PTTL": 2000, b"EXPIRETIME": 2, b"PEXPIRETIME": 2000}


def replies_match(argv, a, b):
    name = argv[0].upper() if isinstance(argv[0], bytes) else str(argv[0]).upper().encode()
    if name in TTL_TOLERANCE and a[0] == "int" and b[0] == "int":
        x, y = a[1], b[1]
        if x < 0 or y < 0:
            return x == y
        return x > 0 and y > 0 and abs(x - y) <= TTL_TOLERANCE[name]
    if name == b"KEYS" and a[0] == "array" and b[0] == "array" and a[1] and b[1]:
        return sorted(a[1]) == sorted(b[1])
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

    # --- entry point -----------------------------------------------------
    def op(self):
        argv = self.rng.choices(self.gens, weights=self.weights)[0]()
        if self.rng.random() < 0.1:  # command names are case-insensitive
            argv[0] = "".join(c.upper() if self.rng.random() < 0.5 else c.lower()
                              for c in argv[0])
        return argv


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


def reset(client):
    """FLUSHALL + SELECT 0 before each seed; returns an error string or None."""
    for argv in (["FLUSHALL"], ["SELECT", "0"]):
        rep = call_safely(client, argv)
        if rep != ("simple", "OK"):
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
        cref, csut = RespClient(ref.port), RespClient(sut.port)
        for seed in args.seeds:
            ops = generate(seed, args.ops)
            err = reset(cref) or reset(csut)
            if err:
                print(f"ERROR: reset before seed {seed} failed: {err}", file=sys.stderr)
                failed += 1
                break
            diff_at = None
            for i, argv in enumerate(ops):
                a = call_safely(cref, argv)
                b = call_safely(csut, argv)
                if not replies_match(argv, a, b):
                    diff_at = (i, a, b)
                    break
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
            print("--- reference (redis) reply ---")
            print(fmt_reply(a, abbrev))
            print("--- server-under-test reply ---")
            print(fmt_reply(b, abbrev))
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
            if a[0] == "no-reply" or b[0] == "no-reply":  # resync connections
                cref.close()
                csut.close()
                cref, csut = RespClient(ref.port), RespClient(sut.port)
        cref.close()
        csut.close()
    finally:
        sut.stop()
        ref.stop()
    print(f"# {time.monotonic() - t0:.1f}s")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
