"""Start, watch and stop the servers under test: selchat, the baselines, Redis.

Every chat server is started the same way (``--host 127.0.0.1 --port 0``)
and announces itself with one stdout line ending in ``listening on HOST:PORT``,
so one launcher serves them all. Redis cannot pick its own port and says
nothing on stdout: it gets a free port found here and is ready when it answers
PING. Everything started is stopped (SIGTERM, then SIGKILL after a deadline),
also when the bench fails or is interrupted.

The server's CPU and memory are read with psutil, imported only when a run
needs it: without psutil the bench still runs (and ``--help`` works), and the
figures that need it say "n/a (psutil not installed)".
"""
import ipaddress
import os
import re
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, List, Optional, Tuple

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
#: Every server the bench knows, and the protocol each speaks.
KINDS = {"selchat": "chat", "threaded": "chat", "asyncio": "chat", "redis": "redis"}
START_TIMEOUT = 10.0
STOP_TIMEOUT = 5.0
_LISTENING = re.compile(rb"listening on \[?([^\]\s]+)\]?:(\d+)\s*$")


def _psutil() -> Any:
    """The psutil module, or None when it is not installed."""
    try:
        import psutil
    except ImportError:
        return None
    return psutil


def available(kind: str) -> bool:
    return kind != "redis" or shutil.which("redis-server") is not None


def command(kind: str, port: int, max_clients: int) -> List[str]:
    """The command line that starts `kind` on 127.0.0.1 (`port` only for Redis)."""
    if kind == "selchat":
        return [sys.executable, "-m", "selchat", "serve", "--host", "127.0.0.1", "--port", "0",
                "--flood-rate", "0", "--max-clients", str(max_clients), "--log-level", "warning"]
    if kind in ("threaded", "asyncio"):
        script = BENCH / "peers" / ("threaded.py" if kind == "threaded" else "asyncio_chat.py")
        return [sys.executable, str(script), "--host", "127.0.0.1", "--port", "0",
                "--max-clients", str(max_clients)]
    if kind == "redis":
        return ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                "--appendonly", "no", "--maxclients", str(max_clients), "--loglevel", "warning"]
    raise ValueError(f"unknown server {kind!r}")


class Server:
    """A server under test: its address, and its process if the bench knows it."""

    def __init__(self, kind: str, host: str, port: int, pid: Optional[int],
                 proc: Optional[subprocess.Popen] = None, log=None) -> None:
        self.kind, self.host, self.port, self.pid = kind, host, port, pid
        self.proc, self._log = proc, log
        psutil = _psutil() if pid else None
        self.process = psutil.Process(pid) if psutil else None
        #: Why there are no server CPU and memory figures, or None when there are.
        self.unmetered = None if psutil else (
            "psutil not installed" if pid else "the server's pid is unknown")

    @property
    def address(self) -> Tuple[str, int]:
        return self.host, self.port

    @property
    def started_here(self) -> bool:
        return self.proc is not None

    def cpu_seconds(self) -> Optional[float]:
        """User plus system CPU the server has used, all its threads included."""
        if self.process is None:
            return None
        times = self.process.cpu_times()
        return times.user + times.system

    def rss(self) -> Optional[int]:
        return self.process.memory_info().rss if self.process else None

    def describe(self) -> dict:
        return {"kind": self.kind, "address": f"{self.host}:{self.port}", "pid": self.pid,
                "started_by_bench": self.started_here, "unmetered": self.unmetered}

    def signal_stop(self) -> None:
        """Ask a server we started to stop (without waiting)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)

    def stop(self) -> None:
        """Stop a server we started: SIGTERM, then SIGKILL after a deadline."""
        if self.proc is None:
            return
        self.signal_stop()
        try:
            self.proc.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(STOP_TIMEOUT)
        for stream in (self.proc.stdout, self._log):
            if stream is not None:
                stream.close()

    def log_tail(self, size: int = 2000) -> str:
        if self._log is None:
            return ""
        self._log.seek(0)
        return self._log.read().decode(errors="replace")[-size:]


class Meter:
    """The server's CPU and RSS (by its pid) and the harness's own CPU.

    `mark` notes the CPU clocks at a moment; `between` gives the CPU each
    side used from one mark to another, and the wall time. `sample` (called
    every few hundred milliseconds) keeps the server's peak RSS.
    """

    def __init__(self, server: Server) -> None:
        self._server = server
        self.marks = {}
        self.rss = {"peak": None}  #: bytes: "before", "joined" (set by the caller), "peak"
        self.rss["before"] = self.sample()

    def sample(self) -> Optional[int]:
        rss = _reading(self._server.rss)
        if rss is not None:
            self.rss["peak"] = max(self.rss["peak"] or 0, rss)
        return rss

    def mark(self, name: str) -> None:
        self.marks[name] = (_reading(self._server.cpu_seconds), time.process_time(),
                            time.monotonic())
        self.sample()

    def between(self, first: str, last: str) -> dict:
        (server0, own0, wall0), (server1, own1, wall1) = self.marks[first], self.marks[last]
        server = None if server0 is None or server1 is None else server1 - server0
        return {"server": server, "harness": own1 - own0, "wall": wall1 - wall0}


def _reading(probe):
    """A psutil reading, or None once the process is gone (no figure, but a run)."""
    psutil = _psutil()
    gone = psutil.Error if psutil else ()  # without psutil no probe reads a process
    try:
        return probe()
    except gone:
        return None


def start(kind: str, max_clients: int) -> Server:
    """Start `kind` listening on 127.0.0.1; RuntimeError if it does not come up."""
    env = dict(os.environ)  # `-m selchat` works from a clone that is not installed
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    attempts = 3 if kind == "redis" else 1  # another process may take Redis' port first
    for attempt in range(attempts):
        log = tempfile.TemporaryFile()  # a file, not a pipe: a chatty server never blocks
        port = free_port() if kind == "redis" else 0
        proc = subprocess.Popen(command(kind, port, max_clients), stdout=subprocess.PIPE,
                                stderr=log, stdin=subprocess.DEVNULL, env=env)
        try:
            port = _wait_for_pong(proc, port) if kind == "redis" else _read_port(proc)
            return Server(kind, "127.0.0.1", port, proc.pid, proc, log)
        except BaseException as exc:
            failed = Server(kind, "127.0.0.1", port, None, proc, log)
            why = failed.log_tail().strip() or repr(exc)
            failed.stop()
            if not isinstance(exc, Exception):
                raise
    raise RuntimeError(f"{kind} did not start: {why}")


def _read_port(proc: subprocess.Popen) -> int:
    """The port from the server's ``... listening on HOST:PORT`` line."""
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ)
        if not sel.select(START_TIMEOUT):
            raise TimeoutError
        line = proc.stdout.readline()
    match = _LISTENING.search(line)
    if not match:
        raise ValueError(line)
    return int(match.group(2))


def _wait_for_pong(proc: subprocess.Popen, port: int) -> int:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1.0) as sock:
                sock.sendall(b"PING\r\n")
                if sock.recv(64).startswith(b"+PONG"):
                    return port
        except OSError:
            with selectors.DefaultSelector() as sel:  # a short pause between tries
                sel.select(0.05)
    raise TimeoutError


def free_port() -> int:
    """A port free on 127.0.0.1 right now (for Redis, which cannot pick its own)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def attach(kind: str, host: str, port: int, pid: Optional[int]) -> Server:
    """A server somebody else runs; `pid` (optional) lets the bench meter it."""
    return Server(kind, host, port, pid)


def is_loopback(host: str) -> bool:
    """True if every address `host` resolves to is a loopback address."""
    try:
        infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except socket.gaierror:
        return False
    return all(ipaddress.ip_address(info[4][0].split("%")[0]).is_loopback for info in infos)
