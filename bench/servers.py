"""Start, watch and stop the servers under test: selchat, the baselines, Redis.

Every chat server is started the same way (``--host 127.0.0.1 --port 0``)
and announces itself with one stdout line ending in ``listening on HOST:PORT``,
so one launcher serves them all. For WebSocket clients selchat also gets
``--web-port 0`` and announces ``web page on http://HOST:PORT/``; the
``websockets`` peer speaks only WebSocket, on its one port. Redis cannot pick its own port and says
nothing on stdout: it gets a free port found here and is ready when it answers
PING. As selchat's bus (``--bus``, see `nodes`) it also gets a directory to
keep its stream in, an append-only file synced at every write, so that it can
be killed and started again on the same port with nothing lost. Everything
started is stopped (SIGTERM, then SIGKILL after a deadline), also when the
bench fails or is interrupted.

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
from typing import Any, Dict, List, Optional, Sequence, Tuple

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
#: Every server the bench knows, and the protocol each speaks.
KINDS = {"selchat": "chat", "threaded": "chat", "asyncio": "chat", "redis": "redis",
         "websockets": "chat"}
#: The servers WebSocket clients can reach, and those they are the only way to.
SPEAKS_WEBSOCKET = {"selchat", "websockets"}
WEBSOCKET_ONLY = {"websockets"}
START_TIMEOUT = 10.0
STOP_TIMEOUT = 5.0
#: selchat with --no-clear says "selchat TLS on HOST:PORT" first instead.
_LISTENING = re.compile(rb"(?:listening|TLS) on \[?([^\]\s]+)\]?:(\d+)\s*$")
_WEB_PAGE = re.compile(rb"web page on http://\[?([^\]\s/]+)\]?:(\d+)/\s*$")


def _psutil() -> Any:
    """The psutil module, or None when it is not installed."""
    try:
        import psutil
    except ImportError:
        return None
    return psutil


def available(kind: str) -> bool:
    return kind != "redis" or shutil.which("redis-server") is not None


def command(kind: str, port: int, max_clients: int, web: bool = False,
            bus: Optional[str] = None, store: Optional[str] = None,
            options: Sequence[str] = ()) -> List[str]:
    """The command line that starts `kind` on 127.0.0.1 (`port` only for Redis;
    `web`: selchat opens its web port too; `bus`: selchat joins that Redis;
    `store`: Redis keeps an append-only file there; `options`: more of
    selchat's own, such as ``--announce-limit 1000``)."""
    if kind == "selchat":
        # Every harness client comes from 127.0.0.1 and up to 1024 connect before
        # any has named itself: the per-address limit on unnamed connections is off.
        return [sys.executable, "-m", "selchat", "serve", "--host", "127.0.0.1", "--port", "0",
                "--flood-rate", "0", "--max-clients", str(max_clients), "--max-per-ip", "0",
                "--log-level", "warning", *(["--web-port", "0"] if web else ["--no-web"]),
                *(["--bus", bus] if bus else []),
                # Nothing on disk unless the run asks (flood.py --data: a temp dir).
                *([] if "--data" in options else ["--no-data"]), *options]
    if kind in ("threaded", "asyncio", "websockets"):
        script = BENCH / "peers" / {"threaded": "threaded.py", "asyncio": "asyncio_chat.py",
                                    "websockets": "websockets_chat.py"}[kind]
        return [sys.executable, str(script), "--host", "127.0.0.1", "--port", "0",
                "--max-clients", str(max_clients)]
    if kind == "redis":
        # The bus's Redis writes every command to its append-only file before it
        # answers, so a killed Redis loses nothing it confirmed; the default
        # fsync once a second only matters if the machine itself goes down.
        durable = (["--dir", store, "--appendonly", "yes", "--appendfsync", "everysec"]
                   if store else ["--appendonly", "no"])
        return ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                *durable, "--maxclients", str(max_clients), "--loglevel", "warning"]
    raise ValueError(f"unknown server {kind!r}")


class Server:
    """A server under test: its address, and its process if the bench knows it."""

    def __init__(self, kind: str, host: str, port: int, pid: Optional[int],
                 proc: Optional[subprocess.Popen] = None, log=None,
                 web_port: Optional[int] = None) -> None:
        self.kind, self.host, self.port, self.pid = kind, host, port, pid
        self.web_port = web_port  #: where WebSocket clients connect, if anywhere
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
    def web_address(self) -> Optional[Tuple[str, int]]:
        return None if self.web_port is None else (self.host, self.web_port)

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

    The server may be several processes (`nodes`, each a `Server`), whose
    figures are summed and also kept apart, and may have a `bus` (anything
    with a ``cpu_seconds()``), whose CPU is kept apart. `mark` notes the CPU
    clocks at a moment; `between` gives the CPU each side used from one mark
    to another, and the wall time. `sample` (called every few hundred
    milliseconds) keeps the peak RSS.
    """

    def __init__(self, nodes: List[Server], bus: Any = None) -> None:
        self._nodes, self._bus = nodes, bus
        self.marks = {}
        #: bytes, summed over the nodes: "before", "joined" (`note`), "peak"
        self.rss = {"peak": None}
        self.node_rss = [{"peak": None} for _ in nodes]  #: the same, per node
        self.note("before")

    def sample(self) -> Optional[int]:
        """The nodes' RSS now (None if any is unknown); peaks kept."""
        readings = [_reading(node.rss) for node in self._nodes]
        for rss, kept in zip(readings, self.node_rss):
            if rss is not None:
                kept["peak"] = max(kept["peak"] or 0, rss)
        total = None if None in readings else sum(readings)
        if total is not None:
            self.rss["peak"] = max(self.rss["peak"] or 0, total)
        return total

    def note(self, name: str) -> None:
        """Keep the RSS now as `name` ("before", "joined")."""
        self.rss[name] = self.sample()
        for node, kept in zip(self._nodes, self.node_rss):
            kept[name] = _reading(node.rss)

    def mark(self, name: str) -> None:
        nodes = tuple(_reading(node.cpu_seconds) for node in self._nodes)
        bus = _reading(self._bus.cpu_seconds) if self._bus else None
        self.marks[name] = (nodes, bus, time.process_time(), time.monotonic())
        self.sample()

    def between(self, first: str, last: str) -> dict:
        """CPU seconds from mark to mark: "server" (the nodes' sum), "nodes" (each),
        "bus", "harness"; and "wall" seconds."""
        (nodes0, bus0, own0, wall0), (nodes1, bus1, own1, wall1) = (self.marks[first],
                                                                    self.marks[last])
        nodes = [_spent(a, b) for a, b in zip(nodes0, nodes1)]
        return {"server": None if None in nodes else sum(nodes), "nodes": nodes,
                "bus": _spent(bus0, bus1), "harness": own1 - own0, "wall": wall1 - wall0}


def _spent(before: Optional[float], after: Optional[float]) -> Optional[float]:
    return None if before is None or after is None else after - before


def _reading(probe):
    """A psutil reading, or None once the process is gone (no figure, but a run)."""
    psutil = _psutil()
    gone = psutil.Error if psutil else ()  # without psutil no probe reads a process
    try:
        return probe()
    except gone:
        return None


def start(kind: str, max_clients: int, web: bool = False, bus: Optional[str] = None,
          store: Optional[str] = None, port: Optional[int] = None,
          settings: Optional[Dict[str, str]] = None, options: Sequence[str] = ()) -> Server:
    """Start `kind` listening on 127.0.0.1 (and selchat's web port too if `web`);
    RuntimeError if it does not come up. `bus`, `store`: see `command`; `port`:
    Redis on that port (started again), not on a free one; `settings`: more
    environment (selchat's TLS: SELCHAT_TLS_CERT...); `options`: see `command`."""
    env = {**os.environ, **(settings or {})}  # `-m selchat` works from a clone not installed
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    # Another process may take the free port found for Redis before Redis does.
    attempts = 3 if kind == "redis" and port is None else 1
    for _ in range(attempts):
        log = tempfile.TemporaryFile()  # a file, not a pipe: a chatty server never blocks
        port_now = port or (free_port() if kind == "redis" else 0)
        web_here = web and kind == "selchat"
        proc = subprocess.Popen(command(kind, port_now, max_clients, web_here, bus, store,
                                        options),
                                stdout=subprocess.PIPE, stderr=log, stdin=subprocess.DEVNULL,
                                env=env)
        try:
            if kind == "redis":
                port_now, web_port = _wait_for_pong(proc, port_now), None
            else:
                port_now, web_port = _read_ports(proc, web_here)
                if kind in WEBSOCKET_ONLY:
                    web_port = port_now
            return Server(kind, "127.0.0.1", port_now, proc.pid, proc, log, web_port)
        except BaseException as exc:
            failed = Server(kind, "127.0.0.1", port_now, None, proc, log)
            why = failed.log_tail().strip() or repr(exc)
            failed.stop()
            if not isinstance(exc, Exception):
                raise
    raise RuntimeError(f"{kind} did not start: {why}")


def _read_ports(proc: subprocess.Popen, web: bool) -> Tuple[int, Optional[int]]:
    """The port from the server's ``... listening on HOST:PORT`` line, and with
    `web` the one from its ``... web page on http://HOST:PORT/`` line.

    Reads the pipe unbuffered: a buffered reader would hold the second line
    where ``select`` cannot see it."""
    fd, pending = proc.stdout.fileno(), b""
    port: Optional[int] = None
    web_port: Optional[int] = None
    deadline = time.monotonic() + START_TIMEOUT
    with selectors.DefaultSelector() as sel:
        sel.register(fd, selectors.EVENT_READ)
        while port is None or (web and web_port is None):
            if not sel.select(max(0.0, deadline - time.monotonic())):
                raise TimeoutError
            data = os.read(fd, 4096)
            if not data:
                raise ValueError(pending)
            *lines, pending = (pending + data).split(b"\n")
            for line in lines:
                listening, page = _LISTENING.search(line), _WEB_PAGE.search(line)
                if listening:
                    port = int(listening.group(2))
                elif page:
                    web_port = int(page.group(2))
    return port, web_port


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
