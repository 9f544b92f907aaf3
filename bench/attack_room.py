"""Attacks on the room's own work (issue 26 items 3-5), on loopback, bounded.

Three attacks by clients that break no rule, each against a `selchat serve`
started here on 127.0.0.1 (any checkout: ``--python`` and ``--repo`` say
which), while a chatter says a line every ``--chat-every`` seconds to a listener:

* ``who``: a room of ``--room`` members (silent sockets), and ``--attackers``
  members sending ``/who PATTERN`` with ever new patterns that match many
  names, as fast as their flood limits let them;
* ``held``: one address makes ``--sessions`` tagged sessions and drops each
  at once, so each is held for /resume; how many names it holds at the end;
* ``replay``: the history filled with 1000 lines of 4 KB, then ``--resumers``
  held sessions resumed from the oldest line by connections that do not read.

Reported: the server's CPU (share of a core over the attack), its RSS before
and at the peak, the chatter's latency (p50, p99, max) and what the attack
got. `run(options)` returns it as a dict; `main()` prints it as JSON.
Start it as ``python bench/attack_room.py --attack who``.
"""
import argparse
import json
import os
import random
import resource
import selectors
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Dict, List, Optional

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
import servers  # noqa: E402

ATTACKS = ("who", "held", "replay")
#: Patterns that match many names ("m0", "7"...), never the same twice in a row:
#: the costliest searches for a server that sorts the matches.
BROAD = [*"0123456789", "m", "M", "m0", "M0", "m1", "M1", *(f"{n:02d}" for n in range(100))]
HISTORY_LINES, HISTORY_LINE = 1000, 4000
#: The chatter's pace: in a room of 10,000 each of its lines is 10,000 sends,
#: so a faster probe would be most of the load it measures.
CHAT_EVERY = 0.2
IO_TIMEOUT = 30.0


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--attack", choices=ATTACKS, default="who")
    parser.add_argument("--python", default=sys.executable,
                        help="the Python that runs the server (a checkout's venv)")
    parser.add_argument("--repo", default=str(BENCH.parent),
                        help="the checkout whose selchat is served")
    parser.add_argument("--seconds", type=float, default=10.0, help="how long `who` runs")
    parser.add_argument("--room", type=int, default=2000, help="members in the room (`who`)")
    parser.add_argument("--attackers", type=int, default=15, help="searchers (`who`)")
    parser.add_argument("--sessions", type=int, default=3000,
                        help="sessions made and dropped (`held`)")
    parser.add_argument("--resumers", type=int, default=500, help="resumers (`replay`)")
    parser.add_argument("--chat-every", type=float, default=CHAT_EVERY,
                        help="seconds between the chatter's lines")
    return parser.parse_args(argv)


# -- the server and the chatter ---------------------------------------------------------

def start_server(options: Any, *extra: str) -> servers.Server:
    """`selchat serve` from `options.repo` with `options.python`, default limits but `extra`."""
    env = dict(os.environ, PYTHONPATH=options.repo)
    log = tempfile.TemporaryFile()
    proc = subprocess.Popen(
        [options.python, "-m", "selchat", "serve", "--host", "127.0.0.1", "--port", "0",
         "--no-web", "--log-level", "warning", *extra],
        cwd=options.repo, env=env, stdout=subprocess.PIPE, stderr=log, stdin=subprocess.DEVNULL)
    try:
        port, _ = servers._read_ports(proc, False)
    except BaseException:
        proc.kill()
        raise
    return servers.Server("selchat", "127.0.0.1", port, proc.pid, proc, log)


class Line:
    """A blocking line client with a deadline on every read."""

    def __init__(self, address: tuple, rcvbuf: Optional[int] = None) -> None:
        self.sock = socket.socket()
        if rcvbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(IO_TIMEOUT)
        self.sock.connect(address)
        self.buffer = b""

    def send(self, *lines: str) -> None:
        self.sock.sendall("".join(line + "\n" for line in lines).encode())

    def line(self) -> str:
        while b"\n" not in self.buffer:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed by the server")
            self.buffer += chunk
        line, self.buffer = self.buffer.split(b"\n", 1)
        return line.decode(errors="replace")

    def until(self, prefix: str) -> str:
        """Lines up to the first with `prefix` (tags ignored); returns it, tags and all."""
        while True:
            line = self.line()
            if line.partition(" ")[2].startswith(prefix) if line.startswith("@") \
                    else line.startswith(prefix):
                return line

    def join(self, name: str, tagged: bool = False) -> str:
        self.until("*** Hello!")
        self.send(*(["/tags"] if tagged else []), name)
        return self.until(f"*** Welcome, {name}!")

    def drop(self) -> None:
        """Reset: no /quit, no FIN, as a network change does."""
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.sock.close()

    def close(self) -> None:
        self.sock.close()


class Chatter(threading.Thread):
    """A line every CHAT_EVERY seconds from one member to another; keeps the latencies."""

    def __init__(self, address: tuple, every: float) -> None:
        super().__init__(daemon=True)
        self.every = every
        self.talker, self.listener = Line(address), Line(address)
        self.talker.join("chatter")
        self.listener.join("listener")
        self.latencies: List[float] = []
        self.lost = 0
        self._done = threading.Event()

    def run(self) -> None:
        number = 0
        while not self._done.is_set():
            number += 1
            sent = time.monotonic()
            try:
                self.talker.send(f"ping {number}")
                self.listener.until(f"<chatter> ping {number}")
                self.latencies.append(time.monotonic() - sent)
            except (OSError, ConnectionError):
                self.lost += 1
                return
            self._done.wait(self.every)

    def stop(self) -> Dict[str, Any]:
        self._done.set()
        self.join(IO_TIMEOUT)
        self.talker.close()
        self.listener.close()
        ms = sorted(latency * 1000 for latency in self.latencies)
        if not ms:
            return {"lines": 0, "lost": self.lost}
        return {"lines": len(ms), "lost": self.lost, "p50_ms": round(ms[len(ms) // 2], 1),
                "p99_ms": round(ms[min(len(ms) - 1, len(ms) * 99 // 100)], 1),
                "max_ms": round(ms[-1], 1)}


class Watch:
    """The server's CPU share and RSS peak from `begin` to `end`."""

    def __init__(self, server: servers.Server) -> None:
        self.server = server
        self.rss_before = server.rss() or 0
        self.rss_peak = self.rss_before
        self.cpu = server.cpu_seconds() or 0.0
        self.started = time.monotonic()

    def sample(self) -> None:
        self.rss_peak = max(self.rss_peak, self.server.rss() or 0)

    def end(self) -> Dict[str, Any]:
        self.sample()
        wall = time.monotonic() - self.started
        spent = (self.server.cpu_seconds() or 0.0) - self.cpu
        return {"seconds": round(wall, 2), "server_cpu_percent": round(100 * spent / wall, 1),
                "rss_before_mib": round(self.rss_before / 2**20, 1),
                "rss_peak_mib": round(self.rss_peak / 2**20, 1)}


def raise_fd_limit(needed: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < needed:
        top = needed if hard == resource.RLIM_INFINITY else min(hard, needed)
        resource.setrlimit(resource.RLIMIT_NOFILE, (top, hard))


# -- the attacks -------------------------------------------------------------------------

def attack_who(options: Any) -> Dict[str, Any]:
    raise_fd_limit(options.room + 300)  # the server inherits it too
    server = start_server(options, "--max-per-ip", "0")  # the room comes from one address
    crowd: List[socket.socket] = []
    attackers: List[Line] = []
    try:
        for number in range(options.room - options.attackers - 2):
            sock = socket.create_connection(server.address, timeout=IO_TIMEOUT)
            sock.sendall(f"m{number:05d}\n".encode())  # joins and never reads
            crowd.append(sock)
        for number in range(options.attackers):
            attackers.append(Line(server.address))
            attackers[-1].join(f"s{number:03d}")
        chatter = Chatter(server.address, options.chat_every)
        chatter.listener.send("/who")
        chatter.listener.until(f"*** Online ({options.room})")
        watch = Watch(server)
        chatter.start()
        chooser = random.Random(26)
        selector = selectors.DefaultSelector()
        for attacker in attackers:
            attacker.sock.setblocking(False)
            selector.register(attacker.sock, selectors.EVENT_READ | selectors.EVENT_WRITE,
                              attacker)
        answers = 0
        deadline = time.monotonic() + options.seconds
        next_sample = 0.0
        while time.monotonic() < deadline:
            for key, mask in selector.select(0.1):
                sock = key.fileobj
                if mask & selectors.EVENT_READ:
                    try:
                        answers += sock.recv(1 << 20).count(b"*** Online matching")
                    except BlockingIOError:
                        pass
                if mask & selectors.EVENT_WRITE:  # keep its kernel buffer full of searches
                    lines = "".join(f"/who {chooser.choice(BROAD)}{chooser.randrange(10)}\n"
                                    if chooser.random() < 0.5 else f"/who {chooser.choice(BROAD)}\n"
                                    for _ in range(200))
                    try:
                        sock.send(lines.encode())
                    except BlockingIOError:
                        pass
            if time.monotonic() >= next_sample:
                watch.sample()
                next_sample = time.monotonic() + 0.25
        result = watch.end()
        result.update(chat=chatter.stop(), answers=answers, room=options.room,
                      attackers=options.attackers)
        result["answers_per_second"] = round(answers / result["seconds"], 1)
        return result
    finally:
        for attacker in attackers:
            attacker.close()
        for sock in crowd:
            sock.close()
        server.stop()


def attack_held(options: Any) -> Dict[str, Any]:
    server = start_server(options)  # default limits
    try:
        chatter = Chatter(server.address, options.chat_every)
        watch = Watch(server)
        chatter.start()
        made = 0
        for number in range(options.sessions):
            client = Line(server.address)
            try:
                client.join(f"h{number:06d}", tagged=True)
            except (OSError, ConnectionError):
                client.close()
                continue  # refused (too many unnamed from this address): next
            made += 1
            client.drop()
            if number % 200 == 0:
                watch.sample()
        time.sleep(0.5)  # the last drops are seen
        # Counted on a connection of its own: the chatter's thread reads its listener.
        counter = Line(server.address)
        counter.join("counter")
        counter.send("/who h0")  # the attack's names (h000000...), held
        held = counter.until("*** Online matching 'h0'")
        counter.close()
        result = watch.end()
        result.update(chat=chatter.stop(), sessions_made=made,
                      names_held=int(held.split("(", 1)[1].split(")", 1)[0]))
        return result
    finally:
        server.stop()


def attack_replay(options: Any) -> Dict[str, Any]:
    raise_fd_limit(options.resumers + 300)
    # Flood control off to fill the history quickly, the per-address cap off so one
    # address may hold every session resumed (the setting).
    # The history has room for the chatter's lines too: nothing is trimmed meanwhile.
    server = start_server(options, "--flood-rate", "0", "--max-per-ip", "0", "--replay", "0",
                          "--history", str(2 * HISTORY_LINES))
    resumers: List[Line] = []
    try:
        tokens = []
        for number in range(options.resumers):
            client = Line(server.address)
            welcome = client.join(f"r{number:04d}", tagged=True)
            tokens.append(welcome.split("resume=", 1)[1].split(maxsplit=1)[0].split(";")[0])
            client.drop()
        talker = Line(server.address)
        talker.join("talker")
        watcher = Line(server.address)
        watcher.join("watcher", tagged=True)
        filler = "x" * HISTORY_LINE
        for start in range(0, HISTORY_LINES, 100):
            talker.send(*[f"{start + n} {filler}" for n in range(100)])
            last = watcher.until(f"<talker> {start + 99} ")
        oldest = int(last.split("seq=", 1)[1].split(";", 1)[0]) - HISTORY_LINES  # all of them
        talker.close()
        watcher.close()
        chatter = Chatter(server.address, options.chat_every)
        watch = Watch(server)
        chatter.start()
        resumed = 0
        for token in tokens:
            resumer = Line(server.address, rcvbuf=4096)  # reads its welcome back, no more
            resumer.until("*** Hello!")
            resumer.send(f"/resume {token} {oldest}")
            resumers.append(resumer)
        for resumer in resumers:
            resumed += "Welcome back" in resumer.line()
            watch.sample()
        for _ in range(8):  # the queues stay (nobody reads): the peak is now
            time.sleep(0.25)
            watch.sample()
        result = watch.end()
        result.update(chat=chatter.stop(), resumers=options.resumers, resumed=resumed,
                      history_mib=round(HISTORY_LINES * HISTORY_LINE / 2**20, 1))
        result["rss_growth_mib"] = round(result["rss_peak_mib"] - result["rss_before_mib"], 1)
        return result
    finally:
        for resumer in resumers:
            resumer.close()
        server.stop()


def run(options: Any) -> Dict[str, Any]:
    """One attack (`options.attack`) against one server; the figures as a dict."""
    attack = {"who": attack_who, "held": attack_held, "replay": attack_replay}[options.attack]
    result = attack(options)
    result.update(attack=options.attack, repo=options.repo)
    return result


def main(argv: Optional[List[str]] = None) -> int:
    print(json.dumps(run(parse_args(argv)), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
