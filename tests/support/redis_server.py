"""A real ``redis-server`` of the test's own, on 127.0.0.1 and a free port.

Its data lives in a temporary directory with an append-only file fsynced on
every write, so `restart` (same port, same directory) finds what was written
before a `kill`. Every wait is a poll with a deadline; nothing sleeps a fixed time.
"""
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from typing import Any, List, Optional, Union

import hiredis
import pytest

from selchat.bus.resp import command
from support.constants import TIMEOUT  # also the bound of any start, stop or query


def require_redis() -> None:
    """Skip the test without ``redis-server`` on PATH, unless
    ``SELCHAT_REQUIRE_REDIS=1`` (CI installs it), which makes that a failure."""
    if shutil.which("redis-server") is None:
        why = "redis-server is not installed"
        if os.environ.get("SELCHAT_REQUIRE_REDIS") == "1":
            pytest.fail(why + "; SELCHAT_REQUIRE_REDIS=1")
        pytest.skip(why)


class RedisNotStarted(RuntimeError):
    """redis-server exited, or did not answer PING in time."""


class RedisServer:
    """``RedisServer(*extra_args)``: started at once, e.g. with
    ``"--requirepass", "secret"`` (which `query` then uses)."""

    def __init__(self, *extra_args: str) -> None:
        self.extra_args = list(extra_args)
        self.password: Optional[str] = None
        if "--requirepass" in extra_args:
            self.password = extra_args[extra_args.index("--requirepass") + 1]
        self._dir = tempfile.TemporaryDirectory(prefix="selchat-redis-")
        self._log = open(os.path.join(self._dir.name, "redis.log"), "ab")
        self.proc: Optional[subprocess.Popen] = None
        for attempt in range(3):  # the free port may be taken before Redis binds it
            self.port = _free_port()
            try:
                self._start()
                return
            except RedisNotStarted:
                if attempt == 2:
                    self._cleanup()
                    raise

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def _start(self) -> None:
        args = ["--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                "--dir", self._dir.name, "--appendonly", "yes", "--appendfsync", "always",
                "--daemonize", "no", "--protected-mode", "no", "--logfile", ""]
        self.proc = subprocess.Popen(
            [shutil.which("redis-server") or "redis-server", *args, *self.extra_args],
            stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + TIMEOUT
        while True:
            if self.proc.poll() is not None:
                raise RedisNotStarted(f"redis-server exited: {self.log()[-2000:]}")
            try:
                if self.query("PING", timeout=0.5) == b"PONG":
                    return
            except (OSError, hiredis.HiredisError):
                pass  # not listening yet; LOADING comes back as a value, not raised
            if time.monotonic() > deadline:
                self.kill()
                raise RedisNotStarted(f"no PONG within {TIMEOUT} s: {self.log()[-2000:]}")
            time.sleep(0.01)  # a poll interval, not a wait for something

    def query(self, *args: Union[bytes, str, int], db: int = 0,
              timeout: float = TIMEOUT) -> Any:
        """One command on a fresh blocking connection (AUTH and SELECT first if
        needed); its reply, an error reply as a ``hiredis.ReplyError`` value."""
        commands: List[bytes] = []
        if self.password is not None:
            commands.append(command("AUTH", self.password))
        if db:
            commands.append(command("SELECT", db))
        commands.append(command(*args))
        reader = hiredis.Reader()
        replies: List[Any] = []
        deadline = time.monotonic() + timeout
        with socket.create_connection(("127.0.0.1", self.port), timeout=timeout) as sock:
            sock.sendall(b"".join(commands))
            while len(replies) < len(commands):
                sock.settimeout(max(0.001, deadline - time.monotonic()))
                data = sock.recv(65536)
                if not data:
                    raise ConnectionError("Redis closed the connection")
                reader.feed(data)
                while (reply := reader.gets()) is not False:
                    replies.append(reply)
        return replies[-1]

    def stop(self) -> None:
        """SIGTERM (SIGKILL after the deadline) and wait; it may be started again."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGCONT)  # a paused server cannot act on SIGTERM
        self.proc.terminate()
        try:
            self.proc.wait(TIMEOUT)
        except subprocess.TimeoutExpired:
            self.kill()

    def kill(self) -> None:
        """SIGKILL and wait: a crash, as far as clients can tell."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(TIMEOUT)

    def pause(self) -> None:
        """SIGSTOP: connections stay open, nothing is answered."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGCONT)

    def restart(self) -> None:
        """Stop if running, then start again on the same port and directory: the
        append-only file is loaded again before PING answers."""
        self.stop()
        self._start()

    def log(self) -> str:
        """What redis-server wrote so far."""
        with open(self._log.name, "rb") as log:
            return log.read().decode(errors="replace")

    def close(self) -> None:
        """Stop for good and remove the directory."""
        try:
            self.stop()
        finally:
            self._cleanup()

    def _cleanup(self) -> None:
        self.kill()
        self._log.close()
        self._dir.cleanup()

    def __enter__(self) -> "RedisServer":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
