"""Shared helpers for the compatibility tests: start/stop a server under test.

Stdlib only.  The server-under-test is given as a command string (split with
shlex), e.g. ``target/release/redraft`` or
``redis-server --save '' --appendonly no``.  The helpers append
``--port P --bind 127.0.0.1 --dir D`` (plus any extra args) to it.
"""

import os
import shlex
import shutil
import signal
import socket
import subprocess
import tempfile
import time

REPO_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
DEFAULT_REDRAFT_BIN = os.path.join(REPO_ROOT, "target", "release", "redraft")
REFERENCE_REDIS = "redis-server --save '' --appendonly no"


def server_under_test_cmd():
    """The server-under-test command from $REDRAFT_BIN (default: release build)."""
    return os.environ.get("REDRAFT_BIN") or DEFAULT_REDRAFT_BIN


def free_port():
    """Ask the kernel for a currently free TCP port on 127.0.0.1."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ping(port, timeout=0.5):
    """True if a RESP server on 127.0.0.1:port answers PING with +PONG."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            s.sendall(b"*1\r\n$4\r\nPING\r\n")
            buf = b""
            while not buf.endswith(b"\r\n"):
                chunk = s.recv(64)
                if not chunk:
                    return False
                buf += chunk
            return buf == b"+PONG\r\n"
    except OSError:
        return False


class Server:
    """A server process started on a free port with its own temp data dir."""

    def __init__(self, cmd, name="server", extra_args=(), startup_timeout=15.0):
        self.cmd = cmd
        self.name = name
        self.extra_args = list(extra_args)
        self.startup_timeout = startup_timeout
        self.proc = None
        self.port = None
        self.dir = None
        self.log_path = None
        self._log = None

    def start(self):
        argv = shlex.split(self.cmd)
        if not argv:
            raise RuntimeError("empty server command")
        exe = argv[0]
        if os.sep in exe:
            exe = os.path.abspath(exe)
            if not os.access(exe, os.X_OK):
                raise RuntimeError(f"{self.name}: {exe} is not an executable file")
            argv[0] = exe
        elif shutil.which(exe) is None:
            raise RuntimeError(f"{self.name}: {exe!r} not found in PATH")
        self.dir = tempfile.mkdtemp(prefix=f"redraft-{self.name}-")
        self.log_path = os.path.join(self.dir, "server.log")
        last_err = None
        for _attempt in range(3):  # retry in case the free port got taken
            self.port = free_port()
            full = argv + ["--port", str(self.port), "--bind", "127.0.0.1",
                           "--dir", self.dir] + self.extra_args
            self._log = open(self.log_path, "ab")
            self.proc = subprocess.Popen(full, stdout=self._log, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, cwd=self.dir)
            deadline = time.monotonic() + self.startup_timeout
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    break
                if ping(self.port):
                    return self
                time.sleep(0.02)
            last_err = (f"{self.name} ({' '.join(shlex.quote(a) for a in full)}) "
                        f"did not answer PING within {self.startup_timeout}s "
                        f"(exit code {self.proc.poll()})")
            self._kill_proc()
        log = self.read_log()
        self._cleanup_dir()
        raise RuntimeError(last_err + "\n--- server log ---\n" + log)

    def read_log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read()[-4000:].decode("utf-8", "replace")
        except (OSError, TypeError):
            return ""

    def _kill_proc(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        if self._log is not None:
            self._log.close()
            self._log = None

    def _cleanup_dir(self):
        if self.dir:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None

    def stop(self):
        self._kill_proc()
        self._cleanup_dir()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
