#!/usr/bin/env python3
"""Attacks on selchat's web port, and what they cost the server and its chat.

``python bench/attack_web.py --attack frames`` starts a ``selchat serve`` with
its default limits on loopback (chat and web port both on free ports), joins
two chat members over TCP, one saying a timestamped line every
`CHAT_INTERVAL` and the other timing its arrival, and then, for ``--seconds``,
has ``--attackers`` clients attack the web port:

* ``frames``: each upgrades to a WebSocket, never names itself, and sends
  legal frames that carry no line (``--frames ping``, ``text``: empty text
  messages, ``continuation``: one message that never ends, in empty
  fragments), 64 KiB of them per write, as fast as the server takes them,
  reading its pongs. Text and continuation frames have an empty ping after
  every `PING_EVERY` - 1 of them (a ping may come between fragments), so the
  pongs show how many frames the server decoded (``frames_decoded``).
* ``pipeline``: each sends ``GET /metrics`` requests pipelined, 64 KiB of
  them per write, as fast as the server takes them, reading the responses,
  and connects again whenever the server closes the connection.

It reports the server's CPU over the attack (psutil, per cent of one core),
the chat's latency before and during the attack (p50, p99), and what the
attackers sent and got; with ``--runs N`` the medians of N runs (the machine
is shared: one short run means little). Everything stops by itself: the
attack after ``--seconds``, the server after the run (SIGTERM, then SIGKILL).
``--server-python`` and ``--server-repo`` run another checkout's server with
the same harness (before/after figures).

The harness is one thread and one selector, like the server: attackers and
chatters are non-blocking sockets, so attackers only send as fast as the
server reads, and the chatter is timed on the same clock.
"""
import argparse
import json
import os
import selectors
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
import servers  # noqa: E402
from wsclient import Masker, accept_for, new_key, upgrade_request  # noqa: E402

ATTACKS = ("frames", "pipeline")
FRAME_KINDS = ("ping", "text", "continuation")
#: Bounds: the bench must stop by itself and stay a guest on a shared machine.
MAX_SECONDS = 120.0
MAX_ATTACKERS = 50
MAX_RUNS = 10
#: One attacker write, as the issue's attack: what one server ``recv`` takes.
WRITE_SIZE = 64 * 1024
#: A chat line every 100 ms: well within the default flood limit (10 a second).
CHAT_INTERVAL = 0.1
#: Seconds of chat timed before the attack (the idle figure) and the time
#: the last lines get to arrive after it.
BASELINE_SECONDS = 1.0
SETTLE_SECONDS = 2.0
CONNECT_TIMEOUT = 10.0
#: In text and continuation attacks, one frame in this many is a ping.
PING_EVERY = 10
_PONG, _TEXT, _PING, _CONTINUATION = 0xA, 0x1, 0x9, 0x0
_EMPTY_PONG = bytes((0x80 | _PONG, 0))


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--attack", choices=ATTACKS, default="frames")
    parser.add_argument("--frames", choices=FRAME_KINDS, default="ping",
                        help="the frames a frames attack sends (default: %(default)s)")
    parser.add_argument("--attackers", type=int, default=1,
                        help=f"attacking connections, 1-{MAX_ATTACKERS} (default: %(default)s)")
    parser.add_argument("--seconds", type=float, default=5.0,
                        help=f"length of one attack, up to {MAX_SECONDS:g} (default: %(default)s)")
    parser.add_argument("--runs", type=int, default=1,
                        help=f"runs, 1-{MAX_RUNS}; figures are their medians (default: 1)")
    parser.add_argument("--server-python", default=sys.executable,
                        help="the Python that runs the server (another checkout's venv)")
    parser.add_argument("--server-repo", default=str(servers.REPO),
                        help="the checkout whose selchat is attacked (default: this one)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    options = parser.parse_args(argv)
    if not 1 <= options.attackers <= MAX_ATTACKERS:
        parser.error(f"--attackers must be 1-{MAX_ATTACKERS}")
    if not 0 < options.seconds <= MAX_SECONDS:
        parser.error(f"--seconds must be over 0 and at most {MAX_SECONDS:g}")
    if not 1 <= options.runs <= MAX_RUNS:
        parser.error(f"--runs must be 1-{MAX_RUNS}")
    return options


# -- the attackers ------------------------------------------------------------------

def frames_payload(kind: str) -> bytes:
    """One write's worth (WRITE_SIZE) of masked frames that carry no line."""
    masker = Masker()
    ping = masker.frame(b"", _PING)
    if kind == "ping":
        group = ping
    elif kind == "continuation":  # one text message that never ends: empty pieces
        group = _unfinished(masker, _CONTINUATION) * (PING_EVERY - 1) + ping
    else:
        group = masker.frame(b"", _TEXT) * (PING_EVERY - 1) + ping
    return group * (WRITE_SIZE // len(group))


def frames_per_pong(kind: str) -> int:
    return 1 if kind == "ping" else PING_EVERY


def _unfinished(masker: Masker, opcode: int) -> bytes:
    """An empty frame without FIN (the message goes on)."""
    return bytes((opcode, 0x80)) + masker.key


def pipeline_payload(host: str, port: int) -> bytes:
    request = b"GET /metrics HTTP/1.1\r\nHost: %s:%d\r\n\r\n" % (host.encode(), port)
    return request * (WRITE_SIZE // len(request))


class Attacker:
    """One attacking connection: it sends `payload` over and over while the
    socket takes it, and counts what comes back (pongs, or responses)."""

    def __init__(self, options: argparse.Namespace, address: tuple, sel: Any) -> None:
        self.options, self.address, self.sel = options, address, sel
        self.sent = self.received = self.answers = self.connections = 0
        self.refused: Optional[str] = None
        self._pending = b""
        self._payload = (frames_payload(options.frames) if options.attack == "frames"
                         else pipeline_payload(*address))
        self._connect()

    def _connect(self) -> None:
        self.sock = socket.create_connection(self.address, timeout=CONNECT_TIMEOUT)
        self.connections += 1
        self._pending = b""
        if self.options.attack == "frames":
            self._upgrade()
        self._out = memoryview(self._payload)
        self.sock.setblocking(False)
        self.sel.register(self.sock, selectors.EVENT_READ | selectors.EVENT_WRITE, self)

    def _upgrade(self) -> None:
        key = new_key()
        self.sock.sendall(upgrade_request(*self.address, key))
        head = b""
        while b"\r\n\r\n" not in head:
            data = self.sock.recv(4096)
            if not data:
                raise RuntimeError("the server closed the upgrade")
            head += data
        head, _, self._pending = head.partition(b"\r\n\r\n")
        if not head.startswith(b"HTTP/1.1 101") or accept_for(key) not in head:
            raise RuntimeError(f"upgrade refused: {head[:80]!r}")
        if self.options.frames == "continuation":  # the message's first piece
            self.sock.sendall(_unfinished(Masker(), _TEXT))

    def ready(self, mask: int) -> None:
        if mask & selectors.EVENT_WRITE:
            try:
                sent = self.sock.send(self._out)
            except (BlockingIOError, InterruptedError):
                sent = 0
            except OSError:
                return self._closed()
            self.sent += sent
            self._out = self._out[sent:] if sent < len(self._out) else memoryview(self._payload)
        if mask & selectors.EVENT_READ:
            try:
                data = self.sock.recv(WRITE_SIZE)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                data = b""
            if not data:
                return self._closed()
            self.received += len(data)
            self._count(data)

    def _count(self, data: bytes) -> None:
        """Count answers by their first bytes (cheap: the harness must not be
        what slows the chat down): a status line, or an empty pong (our pings
        are empty; the server's text frames to an unnamed client are ASCII)."""
        data = self._pending + data
        mark = b"HTTP/1.1 200 " if self.options.attack == "pipeline" else _EMPTY_PONG
        self.answers += data.count(mark)
        self._pending = data[-(len(mark) - 1):]  # a mark cut in two is counted once

    def _closed(self) -> None:
        self.sel.unregister(self.sock)
        self.sock.close()
        if self.options.attack == "pipeline":  # closed after its keep-alive cap: again
            self._connect()
        else:
            self.refused = "the server closed the WebSocket"

    def close(self) -> None:
        if self.sock.fileno() >= 0:
            self.sel.unregister(self.sock)
            self.sock.close()


# -- the chat -----------------------------------------------------------------------

class Chat:
    """Two TCP members: `sender` says a numbered line every CHAT_INTERVAL,
    `receiver` notes when each arrives."""

    def __init__(self, address: tuple, sel: Any) -> None:
        self.sel = sel
        self.receiver = self._member(address, "bob")
        self.sender = self._member(address, "alice")
        self._wait_for(b"alice")  # bob saw alice join: both are in
        self.receiver.setblocking(False)
        self.sel.register(self.receiver, selectors.EVENT_READ, self)
        self.sent_at: Dict[int, float] = {}
        self.latency: Dict[int, float] = {}
        self._number = 0
        self._tail = b""

    @staticmethod
    def _member(address: tuple, name: str) -> socket.socket:
        sock = socket.create_connection(address, timeout=CONNECT_TIMEOUT)
        sock.sendall(name.encode() + b"\n")
        return sock

    def _wait_for(self, text: bytes) -> None:
        seen, deadline = b"", time.monotonic() + CONNECT_TIMEOUT
        while text not in seen:
            self.receiver.settimeout(max(0.01, deadline - time.monotonic()))
            data = self.receiver.recv(4096)
            if not data:
                raise RuntimeError("the server closed a chat member")
            seen += data

    def say(self) -> int:
        self._number += 1
        self.sent_at[self._number] = time.monotonic()
        self.sender.sendall(b"t%d\n" % self._number)
        return self._number

    def ready(self, _mask: int) -> None:
        try:
            data = self.receiver.recv(65536)
        except (BlockingIOError, InterruptedError):
            return
        now = time.monotonic()
        *lines, self._tail = (self._tail + data).split(b"\n")
        for line in lines:
            if line.startswith(b"<alice> t"):
                number = int(line[9:])
                self.latency[number] = now - self.sent_at[number]

    def percentiles(self, first: int, last: int) -> dict:
        """p50 and p99 in ms of lines first..last; a line that never came counts
        as late as the end of the run."""
        end = time.monotonic()
        waits = sorted(self.latency.get(n, end - self.sent_at[n]) for n in range(first, last + 1))
        if not waits:
            return {"p50_ms": None, "p99_ms": None, "lines": 0, "missing": 0}
        missing = sum(n not in self.latency for n in range(first, last + 1))
        return {"p50_ms": _ms(waits, 0.5), "p99_ms": _ms(waits, 0.99), "lines": len(waits),
                "missing": missing}

    @property
    def said(self) -> int:
        return self._number

    def close(self) -> None:
        self.sel.unregister(self.receiver)
        self.sender.close()
        self.receiver.close()


def _ms(ordered: List[float], quantile: float) -> float:
    return round(1000 * ordered[min(len(ordered) - 1, int(quantile * len(ordered)))], 2)


# -- one run ------------------------------------------------------------------------

def start_server(python: str, repo: str) -> servers.Server:
    """selchat with its default limits, chat and web port on loopback."""
    env = {**os.environ, "PYTHONPATH": repo}
    log = tempfile.TemporaryFile()
    proc = subprocess.Popen(
        [python, "-m", "selchat", "serve", "--host", "127.0.0.1", "--port", "0",
         "--web-port", "0", "--replay", "0", "--log-level", "warning"],
        stdout=subprocess.PIPE, stderr=log, stdin=subprocess.DEVNULL, env=env, cwd=repo)
    try:
        port, web_port = servers._read_ports(proc, True)
    except BaseException:
        servers.Server("selchat", "127.0.0.1", 0, None, proc, log).stop()
        raise
    return servers.Server("selchat", "127.0.0.1", port, proc.pid, proc, log, web_port)


def run(options: argparse.Namespace) -> dict:
    """Every run of `options` (see `parse_args`) and the medians of their figures."""
    runs = [run_once(options) for _ in range(options.runs)]
    medians = {key: round(statistics.median(r[key] for r in runs), 2)
               for key, value in runs[0].items() if isinstance(value, (int, float))
               and all(r[key] is not None for r in runs)}
    return {"attack": options.attack, "frames": options.frames if options.attack == "frames"
            else None, "attackers": options.attackers, "seconds": options.seconds,
            "server_repo": options.server_repo, "median": medians, "runs": runs}


def run_once(options: argparse.Namespace) -> dict:
    server = start_server(options.server_python, options.server_repo)
    sel = selectors.DefaultSelector()
    attackers: List[Attacker] = []
    chat: Optional[Chat] = None
    try:
        chat = Chat(server.address, sel)
        before = _chat_for(chat, sel, BASELINE_SECONDS)
        web = server.web_address
        assert web is not None
        cpu0, own0, wall0 = server.cpu_seconds(), time.process_time(), time.monotonic()
        attackers = [Attacker(options, web, sel) for _ in range(options.attackers)]
        during = _chat_for(chat, sel, options.seconds)
        cpu1, own1, wall1 = server.cpu_seconds(), time.process_time(), time.monotonic()
        for attacker in attackers:
            attacker.close()
        answers = sum(a.answers for a in attackers)
        attackers_figures = {
            "attack_seconds": round(wall1 - wall0, 3),
            "attack_sent_bytes": sum(a.sent for a in attackers),
            "attack_answers": answers,
            "frames_decoded": answers * frames_per_pong(options.frames)
            if options.attack == "frames" else None,
            "attack_connections": sum(a.connections for a in attackers),
            "attackers_refused": sum(a.refused is not None for a in attackers),
        }
        _chat_for(chat, sel, SETTLE_SECONDS, say=False)
        idle = chat.percentiles(*before)
        busy = chat.percentiles(*during)
        cpu = None if cpu0 is None or cpu1 is None else 100 * (cpu1 - cpu0) / (wall1 - wall0)
        return {"server_cpu_percent": None if cpu is None else round(cpu, 1),
                "harness_cpu_percent": round(100 * (own1 - own0) / (wall1 - wall0), 1),
                "chat_p50_ms": busy["p50_ms"], "chat_p99_ms": busy["p99_ms"],
                "chat_lines": busy["lines"], "chat_missing": busy["missing"],
                "idle_p50_ms": idle["p50_ms"], "idle_p99_ms": idle["p99_ms"],
                **attackers_figures}
    finally:
        for attacker in attackers:
            attacker.close()
        if chat is not None:
            chat.close()
        sel.close()
        server.stop()


def _chat_for(chat: Chat, sel: Any, seconds: float, say: bool = True) -> tuple:
    """Run the selector for `seconds`, the chat saying a line every CHAT_INTERVAL;
    the numbers of the first and last lines said."""
    start = time.monotonic()
    end, due = start + seconds, start
    first = last = chat.said + 1
    while True:
        now = time.monotonic()
        if now >= end or not say and len(chat.latency) == chat.said:
            return first, last - 1
        if say and now >= due:
            last = chat.say() + 1
            due += CHAT_INTERVAL
        for key, mask in sel.select(max(0.0, min(end, due if say else end) - now)):
            key.data.ready(mask)


# -- report -------------------------------------------------------------------------

def describe(result: dict) -> str:
    m = result["median"]
    what = result["attack"] + (f" ({result['frames']})" if result["frames"] else "")
    return "\n".join([
        f"attack: {what}, {result['attackers']} attacker(s), {result['seconds']:g} s, "
        f"{len(result['runs'])} run(s), medians; server {result['server_repo']}",
        f"  server CPU during the attack: {m.get('server_cpu_percent', 'n/a')} % of one core "
        f"(the harness: {m.get('harness_cpu_percent')} %)",
        f"  chat latency: p50 {m.get('chat_p50_ms')} ms, p99 {m.get('chat_p99_ms')} ms "
        f"({m.get('chat_missing')} of {m.get('chat_lines')} lines missing); before the attack "
        f"p50 {m.get('idle_p50_ms')} ms, p99 {m.get('idle_p99_ms')} ms",
        f"  attackers: sent {m.get('attack_sent_bytes', 0) / 1e6:.1f} MB (most of it waits in "
        f"kernel buffers), got {m.get('attack_answers')} "
        f"{'pongs' if result['attack'] == 'frames' else 'responses'} over "
        f"{m.get('attack_connections')} connection(s)"
        + (f"; frames decoded: {m.get('frames_decoded')}" if result["frames"] else ""),
    ])


def main(argv: Optional[Sequence[str]] = None) -> int:
    options = parse_args(argv)
    result = run(options)
    print(json.dumps(result, indent=2) if options.json else describe(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
