"""The bus when Redis loses its data, and what the outbox really holds.

``python bench/attack_bus.py`` starts a redis-server without persistence
(``--save "" --appendonly no``) and two ``selchat serve --bus`` nodes, each
with a speaker and a watcher. Each round, both speakers send ``--lines``
lines; half-way through, Redis is killed (SIGKILL) and started again empty,
so the nodes find a new epoch. Once every node says "other servers reachable
again", each speaker sends one more line and both watchers read until they
have both. Per watcher it counts the other node's chat lines it got, the
``!!! history gap`` lines it was told (and how many lines they name), and the
lines lost without a word: missing minus told (never below 0).

``--drain-lines N`` runs one bus node in process (`selchat.bus.driver.Bus`
in this script's own selector loop, the real clock) while Redis is not there
yet: its outbox keeps N short lines, 100 a pass; then Redis starts and the
node publishes them. It reports how long the drain took, how many times the
watchdog declared Redis silent meanwhile, and the most commands waiting.

``--outbox-lines N`` also fills a `selchat.bus.protocol.Outbox` in process
with N short lines (30 bytes, 100 a pass) and reports its memory per line as
tracemalloc sees it against what the outbox counts towards its bound.

Both parts use the selchat importable here (run it with another checkout's
Python to measure that one). `run(options)` returns the figures as a dict;
`main()` prints them (``--json -`` for JSON).
"""
import argparse
import gc
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import tracemalloc
from typing import Dict, List, Optional

TIMEOUT = 20.0  # seconds any one wait may take
GAP = re.compile(r"!!! history gap: (\d+) lines? missed")
REACHABLE = "*** other servers reachable again"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Reader:
    """A chat connection read line by line with a deadline."""

    def __init__(self, port: int, name: str) -> None:
        deadline = time.monotonic() + TIMEOUT
        while True:
            try:
                self.sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)  # the node is still starting: poll
        self.buffer = b""
        self.lines: List[str] = []
        self.until(lambda line: line.startswith("*** Hello"))
        self.send(name)
        self.until(lambda line: line.startswith("*** Welcome"))

    def send(self, *lines: str) -> None:
        self.sock.sendall("".join(line + "\n" for line in lines).encode())

    def until(self, done) -> None:
        """Read (keeping every line) until `done(line)` holds for one."""
        deadline = time.monotonic() + TIMEOUT
        while True:
            while b"\n" in self.buffer:
                raw, self.buffer = self.buffer.split(b"\n", 1)
                line = raw.decode(errors="replace")
                self.lines.append(line)
                if done(line):
                    return
            self.sock.settimeout(max(0.01, deadline - time.monotonic()))
            data = self.sock.recv(1 << 20)
            if not data:
                raise ConnectionError("the node closed the connection")
            self.buffer += data


class Redis:
    """A redis-server that forgets everything when it dies."""

    def __init__(self) -> None:
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="selchat-bench-redis-")
        self.proc: Optional[subprocess.Popen] = None
        self.start()

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [shutil.which("redis-server") or "redis-server", "--port", str(self.port),
             "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", self.dir,
             "--protected-mode", "no"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + TIMEOUT
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
                    sock.sendall(b"PING\r\n")
                    if sock.recv(64).startswith(b"+PONG"):
                        return
            except OSError:
                if time.monotonic() > deadline:
                    raise
            time.sleep(0.02)  # a poll interval

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait(TIMEOUT)

    def close(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.kill()
        shutil.rmtree(self.dir, ignore_errors=True)


def data_loss(rounds: int, lines: int, python: str) -> Dict[str, object]:
    """Redis killed and restarted empty mid-burst, `rounds` times."""
    redis = Redis()
    nodes: List[subprocess.Popen] = []
    try:
        ports = [free_port() for _ in range(2)]
        for port in ports:
            nodes.append(subprocess.Popen(
                [python, "-m", "selchat", "serve", "--host", "127.0.0.1", "--port", str(port),
                 "--no-web", "--flood-rate", "0", "--replay", "0",
                 "--bus", f"redis://127.0.0.1:{redis.port}"],
                cwd=redis.dir,  # not a checkout: `python` imports its own selchat
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        watchers = [Reader(port, f"w{index}") for index, port in enumerate(ports)]
        speakers = [Reader(port, f"s{index}") for index, port in enumerate(ports)]
        said: List[List[str]] = [[], []]

        def say(label: str, count: int) -> None:
            for index, speaker in enumerate(speakers):
                batch = [f"{label}-{n}" for n in range(count)]
                speaker.send(*batch)
                said[index] += [f"<s{index}> {line}" for line in batch]

        def everyone_has(last: List[str]) -> None:
            for watcher in watchers:
                wanted = set(last)
                watcher.until(lambda line, wanted=wanted: not (wanted.discard(line) or wanted))

        say("start", 1)
        everyone_has([said[0][-1], said[1][-1]])
        for watcher in watchers:
            watcher.lines.clear()
        said = [[], []]
        started = time.monotonic()
        for round_ in range(rounds):
            say(f"r{round_}a", lines // 2)
            redis.kill()
            say(f"r{round_}b", lines - lines // 2)
            redis.start()
            for watcher in watchers:
                watcher.until(lambda line: line == REACHABLE)
            say(f"r{round_}end", 1)
            everyone_has([said[0][-1], said[1][-1]])
        figures: Dict[str, object] = {"rounds": rounds, "lines_per_round_per_node": lines,
                                      "seconds": round(time.monotonic() - started, 2)}
        for index, watcher in enumerate(watchers):
            other = said[1 - index]
            got = {line for line in watcher.lines if line.startswith(f"<s{1 - index}> ")}
            missing = sum(line not in got for line in other)
            told = sum(int(gap[1]) for gap in map(GAP.match, watcher.lines) if gap)
            figures[f"w{index}"] = {"sent_by_other_node": len(other), "missing": missing,
                                    "gaps_told": told, "gap_lines": sum(
                                        bool(GAP.match(line)) for line in watcher.lines),
                                    "lost_silently": max(0, missing - told)}
        return figures
    finally:
        for node in nodes:
            node.send_signal(signal.SIGTERM)
        for node in nodes:
            try:
                node.wait(TIMEOUT)
            except subprocess.TimeoutExpired:
                node.kill()
        redis.close()


def outbox_memory(count: int, size: int = 30, per_pass: int = 100) -> Dict[str, float]:
    """Bytes per short line an `Outbox` holds (tracemalloc) and counts (its `size`)."""
    from selchat.bus.protocol import Outbox

    box = Outbox("bench000", 600_000, 15_000, max_bytes=1 << 40)
    who = object()
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for number in range(count):
            box.line(b"<u%05d> " % (number % 1000) + b"x" * (size - 9) + b"\n", who, "", True)
            if number % per_pass == per_pass - 1:
                box.seal(number)
        box.seal(count)
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    return {"lines": count, "line_bytes": size, "held_per_line": round(held / count, 1),
            "counted_per_line": round(box.size / count, 1),
            "held_over_counted": round(held / box.size, 2)}


class _Host:
    """The least a `BusHost` does: nothing, but deliver kept lines nowhere."""

    def __getattr__(self, name: str):
        return lambda *args: [] if name == "bus_claims" else None


def drain(count: int) -> Dict[str, object]:
    """An outage's backlog of `count` short lines published when Redis comes."""
    import selectors

    from selchat.bus.address import parse_bus_url
    from selchat.bus.driver import Bus, BusState
    from selchat.timers import Timers

    port = free_port()
    selector, timers = selectors.DefaultSelector(), Timers()
    bus = Bus(parse_bus_url(f"redis://127.0.0.1:{port}"), selector, timers, _Host(),
              time.monotonic, lambda: int(time.time() * 1000), 0, 600.0, 15.0)
    bus.start()  # refused: down, retrying
    for number in range(count):
        bus.outbox.line(b"<u%05d> " % (number % 1000) + b"x" * 21 + b"\n", None, "", True)
        if number % 100 == 99:
            bus.end_pass(int(time.time() * 1000))
    redis = Redis.__new__(Redis)
    redis.port, redis.dir, redis.proc = port, tempfile.mkdtemp(prefix="selchat-bench-redis-"), None
    try:
        redis.start()
        started, outages, most = time.monotonic(), bus.outages, 0
        while not (bus.state is BusState.UP and bus.outbox.settled()):
            if time.monotonic() - started > 120:
                break
            for key, mask in selector.select(0.01):
                key.data(mask)
            timers.run_due(time.monotonic())
            bus.end_pass(int(time.time() * 1000))
            most = max(most, sum(link.waiting() for link in bus._links[:1]))
        return {"lines": count, "drained": bus.outbox.settled(),
                "seconds": round(time.monotonic() - started, 2),
                "watchdog_outages": bus.outages - outages, "most_commands_waiting": most}
    finally:
        bus.close()
        selector.close()
        redis.close()


def run(options: argparse.Namespace) -> Dict[str, object]:
    """Every figure of one run, for `main` or another harness."""
    import selchat

    figures: Dict[str, object] = {"selchat": os.path.dirname(selchat.__file__)}
    if options.rounds:
        figures["data_loss"] = data_loss(options.rounds, options.lines, options.python)
    if options.drain_lines:
        figures["drain"] = drain(options.drain_lines)
    if options.outbox_lines:
        figures["outbox_memory"] = outbox_memory(options.outbox_lines)
    return figures


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=4,
                        help="Redis data losses, each in the middle of a burst (0: none)")
    parser.add_argument("--lines", type=int, default=1300,
                        help="lines each node's speaker sends per round")
    parser.add_argument("--outbox-lines", type=int, default=200_000,
                        help="short lines put in an in-process outbox to weigh it (0: skip)")
    parser.add_argument("--drain-lines", type=int, default=0,
                        help="short lines an in-process node keeps before Redis starts, "
                             "then publishes (0: skip)")
    parser.add_argument("--python", default=sys.executable,
                        help="the Python that runs the nodes (its selchat is measured)")
    parser.add_argument("--json", metavar="FILE", help="write the figures as JSON ('-': stdout)")
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> int:
    options = parse_args(argv)
    if options.rounds and shutil.which("redis-server") is None:
        print("redis-server is not installed", file=sys.stderr)
        return 1
    figures = run(options)
    text = json.dumps(figures, indent=2)
    if options.json and options.json != "-":
        with open(options.json, "w") as out:
            out.write(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
