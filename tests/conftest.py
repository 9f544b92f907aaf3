"""Shared fixtures: a real `selchat serve` process, and line-reading clients.

Everything here waits on a condition with a deadline; nothing sleeps a fixed
time, so a test is as fast as the server and fails (never hangs) when it is not.
"""
import os
import re
import selectors
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
from typing import Callable, Iterator, List, Optional

import psutil
import pytest

from redis_server import RedisServer
from selchat.limits import Limits
from selchat.server import Server, open_listener

TIMEOUT = 10.0  # seconds any single wait may take before the test fails
MiB = 1024 * 1024

# `selchat join` keeps resume tokens under $XDG_STATE_HOME/selchat: tests never
# write into a home directory. This is the run's fallback; `private_state`
# gives each test its own (a token left by one test must not resume in another).
_STATE_HOME = tempfile.TemporaryDirectory(prefix="selchat-test-state-")
os.environ["XDG_STATE_HOME"] = _STATE_HOME.name


@pytest.fixture(autouse=True)
def private_state(tmp_path_factory, monkeypatch) -> str:
    """This test's XDG_STATE_HOME (clients started as subprocesses inherit it)."""
    path = str(tmp_path_factory.mktemp("state"))
    monkeypatch.setenv("XDG_STATE_HOME", path)
    return path


#: What every server the tests start prints once it listens (selchat, and the bench's
#: peers: "threaded listening on 127.0.0.1:PORT"); selchat's web page line.
LISTENING = re.compile(rb"listening on \[?([^\]\s]+)\]?:(\d+)\s*$")
WEB_PAGE = re.compile(rb"selchat web page on (http://\S+:(\d+)/)\s*$")


class ServerNotStarted(RuntimeError):
    """The server exited, or did not print its address(es) in time."""


class ServerProcess:
    """`python -m selchat serve` on 127.0.0.1 and a free port, or any `command` that
    prints "... listening on HOST:PORT"; the one way tests start a server.

    With `web`, also waits for selchat's "selchat web page on URL" line (`url`,
    `web_port`). Stdout is read unbuffered, so lines that arrive together are
    all seen; stderr goes to a file, `log()`.
    """

    def __init__(self, *args: str, env: Optional[dict] = None, preexec_fn=None,
                 host: str = "127.0.0.1", port: int = 0, web: bool = False,
                 log_level: str = "debug", command: Optional[List[str]] = None) -> None:
        if command is None:
            # No web page unless a test asks for one (web, or a --web option): its
            # default port is the same for every server, and most tests speak TCP.
            web = web or any(arg.startswith("--web") for arg in args)
            extra = [] if web else ["--no-web"]
            if "--web-port" not in args and web:
                extra += ["--web-port", "0"]
            # No history replay unless asked for either: tests assert the exact
            # lines after a welcome, and the replay's are tested on their own.
            if "--replay" not in args:
                extra += ["--replay", "0"]
            command = [sys.executable, "-m", "selchat", "serve", "--host", host,
                       "--port", str(port), "--log-level", log_level, *extra, *args]
        # stderr goes to a file: a pipe nobody drains would block a chatty server.
        self._log = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=self._log, stdin=subprocess.DEVNULL,
            env={**os.environ, **(env or {})}, preexec_fn=_child_setup(preexec_fn),
        )
        self.url: Optional[str] = None
        self.web_port: Optional[int] = None
        try:
            self.port = self._wait_for_addresses(web)
        except BaseException:
            self.stop(signal.SIGKILL)
            raise
        self.host = host.strip("[]")
        self.address = (self.host, self.port)

    def _wait_for_addresses(self, web: bool) -> int:
        port, pending = None, b""
        fd, deadline = self.proc.stdout.fileno(), time.monotonic() + TIMEOUT
        with selectors.DefaultSelector() as sel:
            sel.register(fd, selectors.EVENT_READ)
            while port is None or (web and self.url is None):
                if not sel.select(max(0.0, deadline - time.monotonic())):
                    raise ServerNotStarted(f"no address within {TIMEOUT} s: {self.log()[-2000:]}")
                data = os.read(fd, 4096)
                if not data:
                    raise ServerNotStarted(f"exited: {self.log()[-2000:]}")
                *lines, pending = (pending + data).split(b"\n")
                for line in lines:
                    listening, page = LISTENING.search(line), WEB_PAGE.search(line)
                    if listening and port is None:
                        port = int(listening.group(2))
                    elif page:
                        self.url, self.web_port = page.group(1).decode(), int(page.group(2))
        return port

    def stop(self, sig: int = signal.SIGTERM) -> int:
        """Signal the server and wait for it to exit; returns its status."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(TIMEOUT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(TIMEOUT)
            raise
        finally:
            self.proc.stdout.close()

    def log(self) -> str:
        """Everything the server wrote to stderr so far."""
        self._log.seek(0)
        return self._log.read().decode(errors="replace")


def _child_setup(then=None):
    """In the child before exec: SIGINT back to its default, then `then()`.

    A test run started in the background (``cmd &`` in a script, nohup, some
    CI runners) has SIGINT ignored, and the server rightly keeps a signal it
    inherited as ignored: Ctrl-C tests would then wait for nothing.
    """
    def setup() -> None:
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        if then is not None:
            then()
    return setup


def _readline_with_deadline(pipe, timeout: float) -> bytes:
    sel = selectors.DefaultSelector()
    sel.register(pipe, selectors.EVENT_READ)
    try:
        if not sel.select(timeout):
            return b""
        return pipe.readline()
    finally:
        sel.close()


class LineClient:
    """A raw TCP chat client that reads whole lines with a deadline."""

    def __init__(self, address, name: Optional[str] = None, rcvbuf: Optional[int] = None) -> None:
        if rcvbuf is None:
            self.sock = socket.create_connection(address, timeout=TIMEOUT)
        else:  # a small receive buffer must be set before connecting to shrink the window
            self.sock = socket.socket(socket.AF_INET6 if ":" in address[0] else socket.AF_INET)
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
            self.sock.settimeout(TIMEOUT)
            self.sock.connect(address)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buffer = b""
        self.closed = False
        if name is not None:
            self.expect("*** Hello! Please enter your name.")
            self.send(name)
            self.expect_prefix(f"*** Welcome, {name}!")

    def send(self, *lines: str) -> None:
        self.sock.sendall("".join(line + "\n" for line in lines).encode())

    def send_bytes(self, data: bytes) -> None:
        self.sock.sendall(data)

    def _fill(self, deadline: float) -> bool:
        """Read more; False at end of stream."""
        self.sock.settimeout(max(0.001, deadline - time.monotonic()))
        try:
            data = self.sock.recv(65536)
        except ConnectionResetError:
            data = b""
        if not data:
            self.closed = True
        self.buffer += data
        return bool(data)

    def line(self, timeout: float = TIMEOUT) -> str:
        """The next line, without its newline; fails after `timeout`."""
        deadline = time.monotonic() + timeout
        while b"\n" not in self.buffer:
            if time.monotonic() >= deadline:
                raise AssertionError(f"no line within {timeout} s (have {self.buffer!r})")
            try:
                if not self._fill(deadline):
                    raise AssertionError(f"connection closed (have {self.buffer!r})")
            except socket.timeout:
                continue
        line, self.buffer = self.buffer.split(b"\n", 1)
        return line.decode()

    def lines(self, count: int, timeout: float = TIMEOUT) -> List[str]:
        return [self.line(timeout) for _ in range(count)]

    def expect(self, expected: str) -> None:
        got = self.line()
        assert got == expected

    def expect_prefix(self, prefix: str) -> str:
        got = self.line()
        assert got.startswith(prefix), got
        return got

    def expect_closed(self, timeout: float = TIMEOUT) -> bytes:
        """Wait for end of stream; returns whatever arrived before it."""
        deadline = time.monotonic() + timeout
        while not self.closed:
            if time.monotonic() >= deadline:
                raise AssertionError(f"still open after {timeout} s")
            try:
                self._fill(deadline)
            except socket.timeout:
                continue
        rest, self.buffer = self.buffer, b""
        return rest

    def assert_quiet(self, seconds: float = 0.2) -> None:
        """Nothing arrives for a moment (used only after a marker proved delivery)."""
        self.sock.settimeout(seconds)
        try:
            data = self.sock.recv(65536)
        except socket.timeout:
            data = None
        assert not self.buffer and data is None, (self.buffer, data)

    def close(self) -> None:
        self.sock.close()


def wait_for(condition, timeout: float = TIMEOUT, interval: float = 0.01):
    """Poll `condition` until it is truthy; fail after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(interval)


@pytest.fixture
def chat_server() -> Iterator:
    """Factory: chat_server(*serve_args) starts a server; all are stopped at teardown."""
    started: List[ServerProcess] = []

    def start(*args: str, **kwargs) -> ServerProcess:
        server = ServerProcess(*args, **kwargs)
        started.append(server)
        return server

    yield start
    for server in started:
        if server.proc.poll() is None:
            server.stop(signal.SIGKILL)


@pytest.fixture
def server(chat_server) -> ServerProcess:
    """A fresh server per test (flood control off), so no test hears another's."""
    return chat_server("--flood-rate", "0")


@pytest.fixture
def connect(server):
    """connect(name=None) -> LineClient on `server`, closed at teardown."""
    clients: List[LineClient] = []

    def make(name: Optional[str] = None, on: Optional[ServerProcess] = None) -> LineClient:
        client = LineClient((on or server).address, name)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


# -- `selchat join` as a process, and a scripted server for it (test_client*.py) ------------


@pytest.fixture
def piped():
    """piped(name, port, stdin=PIPE) -> the client's Popen, `.output` an Output."""
    from test_client import Output, default_sigint, join_command  # it imports this module
    started = []

    def start(name: str, port: int, *options: str, stdin=subprocess.PIPE) -> subprocess.Popen:
        proc = subprocess.Popen(join_command(name, port, *options), stdin=stdin,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                preexec_fn=default_sigint)
        proc.output = Output(proc.stdout.fileno())
        started.append(proc)
        return proc

    yield start
    for proc in started:
        if proc.poll() is None:
            proc.kill()
        proc.wait(TIMEOUT)
        for pipe in (proc.stdin, proc.stdout, proc.stderr):
            if pipe:
                pipe.close()


@pytest.fixture
def fake_server():
    """A scripted server (test_client's `FakeServer`), closed at teardown."""
    from test_client import FakeServer
    server = FakeServer()
    yield server
    server.close()


# -- what a test about one misbehaving client needs ------------------------------------
#
# Those tests (test_line_length, test_bad_input, test_slow_readers, test_flood_control,
# test_name_and_capacity, test_descriptors, test_abrupt_endings, ...) each play one kind of
# bad client next to well-behaved ones, and assert the exact lines the well-behaved ones
# see, plus what the server process shows (psutil: memory, descriptors, CPU; its log).
# Waits are bounded; the few fixed windows are measurements (CPU over a second, "the
# sender is stalled"), never synchronisation.

HELLO = "*** Hello! Please enter your name."
INVALID_NAME = ("!!! invalid name: names are 1-32 letters or digits, '_', '-' or '.', "
                "with at least one letter or digit")
SERVER_FULL = b"!!! server full\n"

@pytest.fixture
def clients() -> Callable[..., LineClient]:
    """clients(server, name=None, rcvbuf=None) -> LineClient, closed at teardown."""
    made: List[LineClient] = []

    def make(server: ServerProcess, name: Optional[str] = None, **kwargs) -> LineClient:
        client = LineClient(server.address, name, **kwargs)
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()


def process(server: ServerProcess) -> psutil.Process:
    return psutil.Process(server.proc.pid)


def read_until(client: LineClient, last: str, timeout: float = TIMEOUT) -> List[str]:
    """Every line up to and including `last` (strict UTF-8), read in big gulps."""
    needle = ("\n" + last + "\n").encode()
    data = bytearray(b"\n" + client.buffer)
    client.buffer = b""
    deadline = time.monotonic() + timeout
    start = 0
    while (found := data.find(needle, start)) < 0:
        start = max(0, len(data) - len(needle))
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError(f"no {last!r} within {timeout} s (tail {bytes(data[-200:])!r})")
        client.sock.settimeout(remaining)
        try:
            chunk = client.sock.recv(1 << 20)
        except socket.timeout:
            continue
        if not chunk:
            raise AssertionError(f"closed before {last!r} (tail {bytes(data[-200:])!r})")
        data += chunk
    end = found + len(needle)
    client.buffer = bytes(data[end:])
    return data[1:end - 1].decode().split("\n")


def reset(client: LineClient) -> None:
    """Close with SO_LINGER 0: the kernel sends RST instead of FIN."""
    client.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    client.close()


def join_when_there_is_room(server: ServerProcess, name: str) -> LineClient:
    """Connect until the server answers with its hello rather than "server full"; join."""
    def attempt() -> Optional[LineClient]:
        client = LineClient(server.address)
        first = client.line()
        if first == HELLO:
            return client
        assert first == "!!! server full", first
        client.close()
        return None

    client = wait_for(attempt, interval=0.05)
    client.send(name)
    client.expect_prefix(f"*** Welcome, {name}!")
    return client


def times_of_lines(client: LineClient, count: int) -> List[tuple]:
    """The next `count` lines, each with the time it was seen."""
    return [(client.line(), time.monotonic()) for _ in range(count)]


def slow_down(rate: float) -> str:
    return f"*** slow down: at most {rate:g} lines a second; your lines are queued"


def times_of_answers(client: LineClient, count: int, rate: float) -> List[tuple]:
    """`count` answers to a flood (with their times), and the one slow-down notice
    a client held back by flood control gets among them, checked and left out."""
    seen = times_of_lines(client, count + 1)
    assert [line for line, _ in seen].count(slow_down(rate)) == 1, seen
    return [(line, at) for line, at in seen if line != slow_down(rate)]


def assert_rate_limited(stamps: List[float], started: float, burst: int, rate: float) -> None:
    """Line k (1-based) cannot have been handled before the bucket allowed it.

    A bucket holds at most `burst` tokens, so by time t at most burst + rate * (t - started)
    lines sent after `started` can have been handled; a line is seen after it is handled,
    so a slow test machine only makes this easier to meet. One line of slack for rounding.
    """
    for k, seen in enumerate(stamps, 1):
        allowed = burst + rate * (seen - started) + 1
        assert k <= allowed, f"line {k} seen {seen - started:.3f} s after the flood began"


# -- the server in this process, pass by pass (test_loop.py) -------------------------------
#
# Every deadline of the server is a timer on the clock it is given; a FakeClock only
# moves when a test moves it. The server runs in the test's thread, one
# ``run_once(0)`` at a time, between the peers' reads. Loopback delivers a send into
# the receiver's queue before ``send`` returns, so "a few more passes brought
# nothing" is a fact, not a guess.

START = 1000.0  # the fake clock's first reading; sums of halves stay exact


class FakeClock:
    """The server's clock: `time.monotonic` in shape, moved by hand."""

    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class Peer:
    """A client socket read without blocking: the server runs in this thread."""

    def __init__(self, address, rcvbuf: Optional[int] = None) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf is not None:  # before connect, or the window is already advertised
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.connect(address)  # the kernel completes it from the backlog
        self.sock.setblocking(False)
        self.data = bytearray()
        self.closed = False  # end of stream or reset seen

    def send(self, *lines: str) -> None:
        self.sock.sendall("".join(line + "\n" for line in lines).encode())

    def take(self) -> None:
        """Read whatever has arrived."""
        while not self.closed:
            try:
                chunk = self.sock.recv(1 << 20)
            except BlockingIOError:
                return
            except ConnectionResetError:
                chunk = b""
            if not chunk:
                self.closed = True
            self.data += chunk

    @property
    def lines(self) -> List[str]:
        """Complete lines received so far."""
        return self.data.decode().split("\n")[:-1]

    def close(self) -> None:
        self.sock.close()


class Loop:
    """A `Server` on 127.0.0.1 with a fake clock, and the peers talking to it."""

    def __init__(self, clock: Optional[Callable[[], float]] = None, **limits) -> None:
        self.clock = clock or FakeClock()
        self.server = Server(open_listener("127.0.0.1", 0), Limits(**limits), self.clock)
        self.address = ("127.0.0.1", int(self.server.address.rsplit(":", 1)[1]))
        self.peers: List[Peer] = []  # read after every pass
        self.made: List[Peer] = []  # every peer, kept open until teardown

    def peer(self, name: Optional[str] = None, rcvbuf: Optional[int] = None,
             reads: bool = True) -> Peer:
        """A new connection; with a name, joined (its hello and welcome read).
        One that `reads` is read after every pass; the others only when told."""
        peer = Peer(self.address, rcvbuf)
        self.peers.append(peer)
        self.made.append(peer)
        if name is not None:
            peer.send(name)
            self.until(lambda: any(line.startswith(f"*** Welcome, {name}!")
                                   for line in peer.lines))
        if not reads:
            self.peers.remove(peer)
        return peer

    def run(self, passes: int = 5) -> None:
        """A few passes, the peers reading after each (the clock stays put)."""
        for _ in range(passes):
            self.server.run_once(0)
            for peer in self.peers:
                peer.take()

    def until(self, condition: Callable[[], object], timeout: float = TIMEOUT) -> None:
        """Passes until `condition()` holds; fails after `timeout` real seconds."""
        deadline = time.monotonic() + timeout
        while True:
            self.run(1)
            if condition():
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"condition not met within {timeout} s")

    def at(self, when: float) -> None:
        """Set the fake clock (only forwards) and run a few passes."""
        assert when >= self.clock.now
        self.clock.now = when
        self.run()

    def conn(self, name: str):
        """The server's connection for member `name` (white box)."""
        return next(c for c in self.server._conns if self.server._room.name_of(c) == name)

    def close(self) -> None:
        for peer in self.made:
            peer.close()
        self.server.close()


@pytest.fixture
def loop():
    """loop(clock=None, **limits) -> Loop (a FakeClock by default); every server and
    peer is closed at teardown."""
    made: List[Loop] = []

    def make(clock: Optional[Callable[[], float]] = None, **limits) -> Loop:
        made.append(Loop(clock, **limits))
        return made[-1]

    yield make
    for each in made:
        each.close()


# -- a Redis of the test's own, for the bus (tests/redis_server.py) ------------------------


@pytest.fixture
def start_redis() -> Iterator[Callable[..., RedisServer]]:
    """start_redis(*extra_args) -> RedisServer; every one is stopped at teardown.

    Without ``redis-server`` on PATH the test is skipped, unless
    ``SELCHAT_REQUIRE_REDIS=1`` (CI installs it), which makes that a failure.
    """
    if shutil.which("redis-server") is None:
        why = "redis-server is not installed"
        if os.environ.get("SELCHAT_REQUIRE_REDIS") == "1":
            pytest.fail(why + "; SELCHAT_REQUIRE_REDIS=1")
        pytest.skip(why)
    started: List[RedisServer] = []

    def start(*extra_args: str) -> RedisServer:
        started.append(RedisServer(*extra_args))
        return started[-1]

    yield start
    for redis in started:
        redis.close()


@pytest.fixture
def redis_server(start_redis) -> RedisServer:
    """A fresh redis-server per test, stopped (and its data removed) after."""
    return start_redis()
