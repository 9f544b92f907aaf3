"""TLS connection load on selchat (issue 22): full handshakes per second, and a
reconnect storm under chat.

    python bench/tls_load.py handshakes [--seconds 5] [--processes 2] [--key ec]
    python bench/tls_load.py reconnect [--clients 2000] [--chatters 10] [--key ec]

Both start ``selchat serve`` over TLS only (``--no-clear``) with a throwaway
certificate made here (``--key ec``: ECDSA P-256, what Let's Encrypt issues by
default and what the tests' ``trustme`` certificates are; ``--key rsa``: RSA
2048, which costs the server several times more per handshake). The clients
run in ``--processes`` processes of their own, so that the server's figures
are not the harness's: on a 2-core machine, clients that do the other half of
every handshake (and check the server's signature) are easily the limit.

``handshakes``: each process keeps `IN_FLIGHT` handshakes going for
``--seconds``: connect, shake hands (TLS 1.3, no resumption: every handshake is
full), close, again. The figures: handshakes done per second of the run, and
the server's CPU per handshake (from /proc), whose inverse is how many full
handshakes one core of the server can do per second, whatever the clients
managed (the issue's target: at least 1,000).

``reconnect``: ``--clients`` TLS clients join (spread over the processes);
``--chatters`` more clients, in this process, chat all along: every
``1 / (chatters * chat-rate)`` seconds one of them sends a line stamped with the time, and every
chatter reads the others' lines and notes how long each took. Then every
storm client resets its connection (SO_LINGER 0) at once and connects, shakes
hands and joins again, all at once. The figures: the chatters' latency before
the storm and from it until every storm client is back (the issue's target:
p99 under 500 ms), how long the storm took, and the server's CPU meanwhile.
"""
import argparse
import json
import os
import selectors
import socket
import ssl
import struct
import subprocess
import sys
import tempfile
import time
from typing import Dict, List, Optional, Tuple

import servers
import tlsclient

#: Handshakes each client process keeps under way at once: enough to keep the
#: server busy while the process works on the other half of each.
IN_FLIGHT = 32
#: A chat line slower than this (seconds) is listed in the figures, with when it came.
SLOW = 0.5
#: Longest a phase may take before the run gives up and says so.
PHASE_TIMEOUT = 120.0


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("what", choices=("handshakes", "reconnect"))
    parser.add_argument("--seconds", type=float, default=5.0, help="handshakes: how long")
    parser.add_argument("--processes", type=int, default=2, help="client processes")
    parser.add_argument("--clients", type=int, default=2000, help="reconnect: storm clients")
    parser.add_argument("--chatters", type=int, default=10, help="reconnect: chatting clients")
    parser.add_argument("--chat-rate", type=float, default=2.0,
                        help="reconnect: lines per second each chatter sends")
    parser.add_argument("--calm", type=float, default=2.0,
                        help="reconnect: seconds of chat measured before the storm, and after")
    parser.add_argument("--announce-limit", type=int, default=None,
                        help="passed to selchat: rooms over N members are not told of each "
                             "join and leave (default: selchat's own, 1000)")
    parser.add_argument("--key", choices=("ec", "rsa"), default="ec",
                        help="the certificate's key: ECDSA P-256 or RSA 2048")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--client", help=argparse.SUPPRESS)  # a client process's own job
    args = parser.parse_args(argv)
    if args.client:
        return _client_process(args)
    with tempfile.TemporaryDirectory(prefix="selchat-bench-tls-") as folder:
        cert, key = tlsclient.make_certificate(folder, args.key)
        settings = {"SELCHAT_TLS_CERT": cert, "SELCHAT_TLS_KEY": key, "SELCHAT_TLS_PORT": "0",
                    "SELCHAT_NO_CLEAR": "1"}
        server = servers.start("selchat", args.clients + args.chatters + 4 * IN_FLIGHT
                               * args.processes + 100, settings=settings,
                               options=() if args.announce_limit is None else (
                                   "--announce-limit", str(args.announce_limit)))
        try:
            if args.what == "handshakes":
                figures = _handshakes(server, args)
            else:
                figures = _reconnect(server, args)
        finally:
            server.stop()
    figures["key"] = args.key
    print(json.dumps(figures, indent=1) if args.json else _summary(args.what, figures))
    return 0


# -- the handshakes run --------------------------------------------------------------


def _handshakes(server: servers.Server, args: argparse.Namespace) -> dict:
    port = server.address[1]
    procs = [_spawn(["--client", f"handshakes:{port}:{args.seconds}"], args)
             for _ in range(args.processes)]
    for proc in procs:
        _expect(proc, "ready")
    cpu = server.cpu_seconds()
    started = time.monotonic()
    for proc in procs:
        _say(proc, "go")
    said = [_expect(proc, "done").split() for proc in procs]
    done, failed = sum(int(words[1]) for words in said), sum(int(words[2]) for words in said)
    wall = time.monotonic() - started
    spent = (server.cpu_seconds() or 0.0) - (cpu or 0.0)
    for proc in procs:
        proc.wait(10)
    return {"handshakes": done, "failed": failed, "seconds": round(wall, 2),
            "per_second": round(done / wall), "server_cpu_s": round(spent, 3),
            "server_cpu_percent": round(100 * spent / wall),
            "server_us_per_handshake": round(1e6 * spent / done, 1) if done else None,
            "per_core_per_second": round(done / spent) if spent else None}


def _shake_loop(port: int, seconds: float) -> Tuple[int, int]:
    """Full handshakes, `IN_FLIGHT` at once, until `seconds` pass: how many
    finished, and how many failed."""
    context = _no_resumption(tlsclient.client_context())
    sel = selectors.DefaultSelector()
    done = failed = 0
    deadline = time.monotonic() + seconds

    def start() -> None:
        client = _Joining(port, context, None)
        sel.register(client.tls, selectors.EVENT_WRITE, client)

    for _ in range(IN_FLIGHT):
        start()
    while time.monotonic() < deadline:
        for key, _ in sel.select(0.5):
            client: _Joining = key.data
            try:
                events = client.step()
            except OSError:
                events, failed = None, failed + 1
            if events is None:
                done += client.shaken
                sel.unregister(client.tls)
                client.tls.close()
                start()
            elif events != key.events:
                sel.modify(client.tls, events, client)
    return done, failed


def _no_resumption(context: ssl.SSLContext) -> ssl.SSLContext:
    context.options |= ssl.OP_NO_TICKET  # every handshake full (the server sends none anyway)
    return context


# -- the reconnect storm ---------------------------------------------------------------


class Chatters:
    """`count` TLS clients in this process: they chat in turn and time each line."""

    def __init__(self, port: int, count: int, rate: float) -> None:
        self.interval = 1 / (count * rate)
        self.sel = selectors.DefaultSelector()
        self.socks: List[ssl.SSLSocket] = []
        self.pending: Dict[ssl.SSLSocket, bytes] = {}
        self.latencies: List[Tuple[float, float]] = []  # (when received, seconds taken)
        self.turn = 0
        context = tlsclient.client_context()
        for number in range(count):
            sock = socket.create_connection(("127.0.0.1", port), timeout=10)
            tls = context.wrap_socket(sock, server_hostname="localhost")
            tls.sendall(b"chatter%d\n" % number)
            _read_until(tls, b"*** Welcome")
            tls.setblocking(False)
            self.socks.append(tls)
            self.pending[tls] = b""
            self.sel.register(tls, selectors.EVENT_READ)

    def say(self) -> None:
        tls = self.socks[self.turn % len(self.socks)]
        self.turn += 1
        tls.setblocking(True)
        tls.sendall(b"at %d\n" % time.monotonic_ns())
        tls.setblocking(False)

    def take(self, timeout: float) -> None:
        for key, _ in self.sel.select(timeout):
            tls = key.fileobj
            data = b""
            while True:
                try:
                    chunk = tls.recv(65536)  # type: ignore[union-attr]
                except (ssl.SSLWantReadError, BlockingIOError):
                    break
                if not chunk:
                    raise RuntimeError("the server closed a chatter")
                data += chunk
            *lines, self.pending[tls] = (self.pending[tls] + data).split(b"\n")  # type: ignore[index]
            now = time.monotonic_ns()
            for line in lines:
                at = line.find(b"> at ")
                if at >= 0:
                    self.latencies.append((now / 1e9, (now - int(line[at + 5:])) / 1e9))

    def chat_until(self, done, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        next_line = time.monotonic()
        while not done():
            now = time.monotonic()
            if now > deadline:
                raise RuntimeError("the storm did not end in time")
            if now >= next_line:
                self.say()
                next_line += self.interval
            self.take(max(0.0, next_line - time.monotonic()))


def _reconnect(server: servers.Server, args: argparse.Namespace) -> dict:
    port = server.address[1]
    shares = [args.clients // args.processes + (i < args.clients % args.processes)
              for i in range(args.processes)]
    procs = [_spawn(["--client", f"storm:{port}:{share}:{i}"], args)
             for i, share in enumerate(shares)]
    for proc in procs:
        _expect(proc, "joined", PHASE_TIMEOUT)
    chat = Chatters(port, args.chatters, args.chat_rate)
    calm_end = time.monotonic() + args.calm
    chat.chat_until(lambda: time.monotonic() >= calm_end, args.calm + 10)
    cpu = server.cpu_seconds()
    storm_at = time.monotonic()
    for proc in procs:
        _say(proc, "go")
    for proc in procs:
        os.set_blocking(proc.stdout.fileno(), False)  # type: ignore[union-attr]
    back: List[str] = []

    def all_back() -> bool:
        for proc in procs:
            line = proc.stdout.readline()  # type: ignore[union-attr]
            if line:
                back.append(line.decode())
        return len(back) == len(procs)

    chat.chat_until(all_back, PHASE_TIMEOUT)
    storm_end = time.monotonic()
    spent = (server.cpu_seconds() or 0.0) - (cpu or 0.0)
    after_end = storm_end + args.calm
    chat.chat_until(lambda: time.monotonic() >= after_end, args.calm + 10)
    for proc in procs:
        _say(proc, "end")
        proc.wait(10)
    before = [taken for at, taken in chat.latencies if at < storm_at]
    during = [taken for at, taken in chat.latencies if storm_at <= at <= storm_end + 0.5]
    return {"storm_clients": args.clients, "chatters": args.chatters,
            "storm_s": round(storm_end - storm_at, 2),
            "rejoined": sum(int(line.split()[1]) for line in back),
            "retries": sum(int(line.split()[2]) for line in back),
            "server_cpu_s": round(spent, 2),
            "before_ms": _percentiles(before), "during_ms": _percentiles(during),
            # When the slow lines arrived (seconds after the storm began): where to look.
            "slow_lines": [[round(at - storm_at, 2), round(taken, 2)]
                           for at, taken in chat.latencies if taken > SLOW and at >= storm_at]}


def _storm_process(port: int, count: int, number: int) -> None:
    """Join `count` clients; on "go" reset them all and join again at once
    (under new names: the old connections may not be gone from the room yet)."""
    context = tlsclient.client_context()
    socks, retries = _join_all(port, context, [f"s{number}x{i}" for i in range(count)])
    print("joined", retries, flush=True)
    assert sys.stdin.readline().strip() == "go"
    for sock in socks:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.close()
    socks, retries = _join_all(port, context, [f"s{number}y{i}" for i in range(count)])
    print("back", len(socks), retries, flush=True)
    sys.stdin.readline()  # "end": hold the connections until the run is over


class _Joining:
    """A client on its way in: connecting, shaking hands, then (with a name)
    joining and reading until its welcome."""

    def __init__(self, port: int, context: ssl.SSLContext, name: Optional[str]) -> None:
        sock = socket.socket()
        sock.setblocking(False)
        sock.connect_ex(("127.0.0.1", port))
        self.tls = context.wrap_socket(sock, server_hostname="localhost",
                                       do_handshake_on_connect=False)
        self.name, self.connected, self.shaken, self.got = name, False, False, b""

    def step(self) -> Optional[int]:
        """Move on: the events to wait for next, or None once welcomed.
        Raises OSError if the connection failed (the caller tries again)."""
        tls = self.tls
        if not self.connected:
            code = tls.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if code:
                raise OSError(code, os.strerror(code))
            self.connected = True
        try:
            if not self.shaken:
                tls.do_handshake()
                self.shaken = True
                if self.name is None:
                    return None
                tls.send(self.name.encode() + b"\n")
            chunk = tls.recv(65536)
        except ssl.SSLWantReadError:
            return selectors.EVENT_READ
        except ssl.SSLWantWriteError:
            return selectors.EVENT_WRITE
        if not chunk:
            raise ConnectionResetError("closed before its welcome")
        self.got += chunk
        return None if b"*** Welcome" in self.got else selectors.EVENT_READ


def _join_all(port: int, context: ssl.SSLContext,
              names: List[str]) -> Tuple[List[ssl.SSLSocket], int]:
    """Connect, shake hands and join every name at once (non-blocking): the
    connections once each has its welcome, and how many attempts failed and
    were made again (a handshake the server timed out, say)."""
    sel = selectors.DefaultSelector()
    for name in names:
        client = _Joining(port, context, name)
        sel.register(client.tls, selectors.EVENT_WRITE, client)
    joined: List[ssl.SSLSocket] = []
    retries, deadline = 0, time.monotonic() + PHASE_TIMEOUT
    while len(joined) < len(names):
        if time.monotonic() > deadline:
            raise SystemExit(f"{len(names) - len(joined)} storm clients did not join in time")
        for key, _ in sel.select(1.0):
            client: _Joining = key.data
            try:
                events = client.step()
            except OSError:
                retries += 1
                sel.unregister(client.tls)
                client.tls.close()
                again = _Joining(port, context, client.name)
                sel.register(again.tls, selectors.EVENT_WRITE, again)
                continue
            if events is None:
                sel.unregister(client.tls)
                joined.append(client.tls)
            elif events != key.events:
                sel.modify(client.tls, events, client)
    sel.close()
    return joined, retries


# -- client processes -------------------------------------------------------------


def _client_process(args: argparse.Namespace) -> int:
    job, port, *rest = args.client.split(":")
    if job == "handshakes":
        print("ready", flush=True)
        assert sys.stdin.readline().strip() == "go"
        print("done", *_shake_loop(int(port), float(rest[0])), flush=True)
    else:
        _storm_process(int(port), int(rest[0]), int(rest[1]))
    return 0


def _spawn(extra: List[str], args: argparse.Namespace) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, __file__, args.what, *extra],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE)


def _say(proc: subprocess.Popen, word: str) -> None:
    proc.stdin.write(word.encode() + b"\n")  # type: ignore[union-attr]
    proc.stdin.flush()  # type: ignore[union-attr]


def _expect(proc: subprocess.Popen, word: str, timeout: float = PHASE_TIMEOUT) -> str:
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)  # type: ignore[arg-type]
    if not sel.select(timeout):
        raise SystemExit(f"tls_load.py: a client process did not say {word!r} in time")
    line = proc.stdout.readline().decode()  # type: ignore[union-attr]
    if not line.startswith(word):
        raise SystemExit(f"tls_load.py: a client process said {line.strip()!r}, not {word!r}")
    return line


def _read_until(tls: ssl.SSLSocket, marker: bytes) -> bytes:
    got = b""
    while marker not in got:
        chunk = tls.recv(65536)
        if not chunk:
            raise RuntimeError("the server closed a chatter before its welcome")
        got += chunk
    return got


def _percentiles(values: List[float]) -> dict:
    if not values:
        return {"count": 0}
    ordered = sorted(values)

    def at(share: float) -> float:
        return round(1000 * ordered[min(len(ordered) - 1, int(share * len(ordered)))], 1)

    return {"count": len(ordered), "p50": at(0.5), "p99": at(0.99), "max": at(1.0)}


def _summary(what: str, f: dict) -> str:
    key = "ECDSA P-256" if f["key"] == "ec" else "RSA 2048"
    if what == "handshakes":
        return (f"full TLS handshakes ({key}): {f['handshakes']:,} in {f['seconds']} s = "
                f"{f['per_second']:,}/s ({f['failed']} failed); server CPU "
                f"{f['server_cpu_percent']} % of a core, "
                f"{f['server_us_per_handshake']} µs per handshake = "
                f"{f['per_core_per_second']:,} handshakes/s per core (target: at least 1,000)")
    before, during = f["before_ms"], f["during_ms"]
    return (f"reconnect storm ({key}): {f['rejoined']:,} of {f['storm_clients']:,} TLS clients "
            f"back in {f['storm_s']} s ({f['retries']} attempts made again; server CPU "
            f"{f['server_cpu_s']} s), {f['chatters']} "
            f"chatting: before p50 {before.get('p50')} ms p99 {before.get('p99')} ms; during "
            f"p50 {during.get('p50')} ms p99 {during.get('p99')} ms max {during.get('max')} ms "
            f"({during['count']} lines; target p99 under 500 ms)")


if __name__ == "__main__":
    sys.exit(main())
