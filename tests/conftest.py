"""Fixtures only; the helpers behind them live in `support` (see its docstring).

The folder a test file sits in says what it needs, and marks it: ``pure/`` (no
sockets, no processes, no clock), ``loop/`` (the server in this process on a
fake clock, loopback sockets), ``system/`` (processes and real sockets).
"""
import os
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Callable, Iterator, List, Optional
from unittest import mock

import pytest
from hypothesis import settings

from support.browser import chromium
from support.clients import LineClient
from support.constants import TIMEOUT
from support.fake_loop import Loop
from support.join_client import FakeServer, Output, Terminal, join_command
from support.redis_server import RedisServer, require_redis
from support.servers import ServerProcess, default_sigint

HERE = Path(__file__).parent

# Hypothesis' 200 ms deadline per example measures the machine, not the code: on a
# shared, loaded CI machine it fails examples that are merely slow.
settings.register_profile("selchat", deadline=None)
settings.load_profile("selchat")

#: Each folder's marker: ``pytest -m pure`` runs exactly tests/pure, in seconds.
FOLDER_MARKERS = {"pure": pytest.mark.pure, "loop": pytest.mark.loop,
                  "system": pytest.mark.system}

# `selchat join` keeps resume tokens under $XDG_STATE_HOME/selchat: tests never
# write into a home directory. This is the run's fallback; `private_state`
# gives each test its own (a token left by one test must not resume in another).
_STATE_HOME = tempfile.TemporaryDirectory(prefix="selchat-test-state-")
os.environ["XDG_STATE_HOME"] = _STATE_HOME.name
# No IRC port unless a test asks for one (`--irc-port`: support.servers.ServerProcess
# then drops this): its default, 6667, is every server's and maybe another IRC
# server's on this machine, and tests read exact startup lines.
os.environ["SELCHAT_NO_IRC"] = "1"


@pytest.fixture(autouse=True)
def private_state(tmp_path_factory, monkeypatch) -> str:
    """This test's XDG_STATE_HOME (clients started as subprocesses inherit it)."""
    path = str(tmp_path_factory.mktemp("state"))
    monkeypatch.setenv("XDG_STATE_HOME", path)
    return path


@pytest.hookimpl(tryfirst=True)  # before `-m` deselects by marker
def pytest_collection_modifyitems(items: List[pytest.Item]) -> None:
    for item in items:
        folder = item.path.relative_to(HERE).parts[0] if HERE in item.path.parents else ""
        if folder in FOLDER_MARKERS:
            item.add_marker(FOLDER_MARKERS[folder])
        if "start_redis" in getattr(item, "fixturenames", ()):  # what every Redis comes from
            item.add_marker(pytest.mark.redis)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    """A pure test that opens a socket, starts a process or sleeps fails, so the
    folder keeps its promise (a hook, not a fixture: Hypothesis refuses those)."""
    if item.get_closest_marker("pure") is None:
        yield
        return

    def refuse(*args, **kwargs) -> None:
        raise AssertionError(f"{item.nodeid} opens a socket, starts a process or sleeps: "
                             "it belongs in tests/loop or tests/system, not tests/pure")

    with mock.patch.object(socket.socket, "__init__", refuse), \
            mock.patch.object(subprocess.Popen, "__init__", refuse), \
            mock.patch.object(time, "sleep", refuse):
        yield


# -- `selchat serve` processes and line clients on them ---------------------------------


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
def clients() -> Iterator[Callable[..., LineClient]]:
    """clients(server, name=None, rcvbuf=None) -> LineClient, closed at teardown."""
    made: List[LineClient] = []

    def make(server: ServerProcess, name: Optional[str] = None, **kwargs) -> LineClient:
        client = LineClient(server.address, name, **kwargs)
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()


@pytest.fixture
def connect(server, clients) -> Callable[..., LineClient]:
    """connect(name=None, on=None) -> LineClient on `server` (or `on`), closed at teardown."""
    def make(name: Optional[str] = None, on: Optional[ServerProcess] = None) -> LineClient:
        return clients(on or server, name)
    return make


# -- `selchat join` as a process, and a scripted server for it ------------------------------


@pytest.fixture
def piped():
    """piped(name, port, stdin=PIPE) -> the client's Popen, `.output` an Output."""
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
def fake_server() -> Iterator[FakeServer]:
    """A scripted server (`support.join_client.FakeServer`), closed at teardown."""
    server = FakeServer()
    yield server
    server.close()


# -- the server in this process, pass by pass ------------------------------------------------


@pytest.fixture
def in_process_server() -> Iterator[Callable[..., Loop]]:
    """in_process_server(clock=None, **limits) -> Loop (a FakeClock by default); every
    server and peer is closed at teardown."""
    made: List[Loop] = []

    def make(clock: Optional[Callable[[], float]] = None, **limits) -> Loop:
        made.append(Loop(clock, **limits))
        return made[-1]

    yield make
    for each in made:
        each.close()


# -- a Redis of the test's own, for the bus ----------------------------------------------------


@pytest.fixture
def start_redis() -> Iterator[Callable[..., RedisServer]]:
    """start_redis(*extra_args) -> RedisServer; every one is stopped at teardown.

    Without ``redis-server`` on PATH the test is skipped, unless
    ``SELCHAT_REQUIRE_REDIS=1`` (CI installs it), which makes that a failure.
    """
    require_redis()
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


@pytest.fixture
def terminal():
    """terminal(name, port, *options, env=None) -> Terminal, killed and closed at teardown."""
    started = []

    def start(name: str, port: int, *options: str, env: Optional[dict] = None) -> Terminal:
        started.append(Terminal(name, port, *options, env=env))
        return started[-1]

    yield start
    for term in started:
        term.close()


@pytest.fixture(scope="module")
def browser():
    """One headless Chromium (1000x700) for a whole test module: starting one costs
    seconds (skipped, or failed with SELCHAT_REQUIRE_BROWSER=1, without one)."""
    driver = chromium()(1000, 700)
    yield driver
    driver.quit()
