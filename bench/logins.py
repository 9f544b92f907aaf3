"""Does a burst of password logins slow everyone else down?

Starts ``selchat serve`` (no data on disk), registers LOGINS accounts, then
measures the latency of 10 chatters' lines (each says a line every 1/RATE s,
stamped with this process's clock, heard by the other 9) in three phases:

* ``quiet``: nothing else happens;
* ``logins``: LOGINS connections log in at once, each sending a registered
  name and its password (each an scrypt check in the server's hashing worker),
  and leave once welcomed (so the chat's members stay the same);
* ``joins``: as many connections join at once with unregistered names (the
  same joins and notices, no password), for as long as ``logins`` took;
* ``quiet`` again, as long; the three in turn, ROUNDS times.

Prints each phase's median and p99 latency and how long its burst took; the
ratio that matters is p99 of ``logins`` against ``joins`` and ``quiet``.
Usage: ``python bench/logins.py [--logins 100] [--scrypt-n 32768] [--rate 20] [--rounds 3]``
(docs/benchmarks.rst, "Logins").
"""
import argparse
import os
import selectors
import socket
import statistics
import subprocess
import sys
import time
from typing import Dict, List, Optional, Tuple

CHATTERS = 10
#: Seconds a phase lasts at least (the quiet one exactly).
MIN_PHASE = 5.0
#: A burst not done in this long is reported as such.
BURST_DEADLINE = 120.0


def start_server(scrypt_n: int) -> Tuple[subprocess.Popen, Tuple[str, int]]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "selchat", "serve", "--port", "0", "--no-web", "--no-data",
         "--flood-rate", "0", "--max-per-ip", "0", "--scrypt-n", str(scrypt_n),
         "--log-level", "warning", "--replay", "0",
         # Every login waits its turn, however long the queue: the burst is all measured.
         "--name-timeout", str(BURST_DEADLINE)],
        stdout=subprocess.PIPE, text=True, env={**os.environ, "SELCHAT_SERVER_PASSWORD": ""})
    assert proc.stdout is not None
    for line in proc.stdout:
        if "listening on" in line:
            host, port = line.rsplit(" ", 1)[1].strip().rsplit(":", 1)
            return proc, (host, int(port))
    raise SystemExit("the server did not start")


class Client:
    """A line client read without blocking."""

    def __init__(self, address: Tuple[str, int], first: str) -> None:
        self.sock = socket.create_connection(address)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.sendall(first.encode())
        self.sock.setblocking(False)
        self.buffer = b""

    def lines(self) -> List[str]:
        try:
            data = self.sock.recv(1 << 20)
        except BlockingIOError:
            return []
        self.buffer += data
        *lines, self.buffer = self.buffer.split(b"\n")
        return [line.decode("utf-8", "replace") for line in lines]

    def send(self, text: str) -> None:
        self.sock.sendall(text.encode())


def wait_all(clients: List[Client], marker: str, deadline: float) -> int:
    """Read `clients` until each has had a line containing `marker`; how many did."""
    waiting = {id(each): each for each in clients}
    selector = selectors.DefaultSelector()
    for each in clients:
        selector.register(each.sock, selectors.EVENT_READ, each)
    while waiting and time.monotonic() < deadline:
        for key, _ in selector.select(0.5):
            if any(marker in line for line in key.data.lines()):
                waiting.pop(id(key.data), None)
    selector.close()
    return len(clients) - len(waiting)


def phase(address: Tuple[str, int], chatters: List[Client], rate: float,
          burst: List[str], marker: str, least: float) -> Tuple[List[float], float, int]:
    """Latencies (ms) of the chatters' lines while `burst` (first lines of new
    connections) is served; how long the burst took; how many it welcomed."""
    selector = selectors.DefaultSelector()
    for each in chatters:
        selector.register(each.sock, selectors.EVENT_READ, ("chat", each))
    latencies: List[float] = []
    began = time.monotonic()
    newcomers: Dict[int, Client] = {}
    for first in burst:
        client = Client(address, first)
        newcomers[id(client)] = client
        selector.register(client.sock, selectors.EVENT_READ, ("new", client))
    welcomed, done_at = 0, None if burst else began
    interval = 1.0 / (rate * len(chatters))
    next_send, turn = began, 0
    while True:
        now = time.monotonic()
        if done_at is None and (welcomed == len(burst) or now - began > BURST_DEADLINE):
            done_at = now
        if done_at is not None and now - began >= least:
            break
        if now >= next_send:
            chatters[turn % len(chatters)].send(f"t {time.perf_counter_ns()}\n")
            turn += 1
            next_send += interval
        for key, _ in selector.select(max(0.0, next_send - time.monotonic())):
            kind, client = key.data
            for line in client.lines():
                if kind == "new":
                    if marker in line:  # in, then out: the chat's members stay the same
                        welcomed += 1
                        client.send("/quit\n")
                        selector.unregister(client.sock)
                        break
                    continue
                _, found, stamp = line.partition("> t ")
                if found:
                    latencies.append((time.perf_counter_ns() - int(stamp)) / 1e6)
    for client in newcomers.values():
        client.sock.close()
    selector.close()
    assert done_at is not None
    return latencies, done_at - began, welcomed


def main(argv: Optional[List[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--logins", type=int, default=100)
    parser.add_argument("--scrypt-n", type=int, default=2 ** 15)
    parser.add_argument("--rate", type=float, default=20.0, help="lines a second per chatter")
    parser.add_argument("--rounds", type=int, default=3,
                        help="logins, joins, quiet in turn, this many times (the machine's "
                             "other load changes: compare within a round)")
    options = parser.parse_args(argv)
    proc, address = start_server(options.scrypt_n)
    try:
        print(f"scrypt N={options.scrypt_n}, {CHATTERS} chatters at {options.rate:g} "
              f"lines/s each, bursts of {options.logins}")
        owners = [Client(address, f"user{i}\n/register password-{i}\n")
                  for i in range(options.logins)]
        registered = wait_all(owners, "registered to you", time.monotonic() + BURST_DEADLINE)
        for each in owners:
            each.sock.close()
        print(f"registered {registered} accounts")
        chatters = [Client(address, f"chat{i}\n") for i in range(CHATTERS)]
        wait_all(chatters, "Welcome", time.monotonic() + 10)
        phases = [("logins", [f"user{i}\npassword-{i}\n" for i in range(options.logins)]),
                  ("joins", [f"guest{i}\n" for i in range(options.logins)]),
                  ("quiet", [])]
        for number in range(options.rounds):
            print(f"round {number + 1}")
            logins_took = 0.0
            for name, burst in phases:
                # Each phase of a round lasts as long as its logins took.
                latencies, took, welcomed = phase(address, chatters, options.rate, burst,
                                                  "Welcome", max(MIN_PHASE, logins_took))
                logins_took = logins_took or took
                latencies.sort()
                p99 = latencies[int(len(latencies) * 0.99) - 1]
                print(f"  {name:7} lines {len(latencies):6}  median "
                      f"{statistics.median(latencies):6.2f} ms  p99 {p99:6.2f} ms  "
                      f"max {latencies[-1]:6.2f} ms"
                      + (f"  burst: {welcomed}/{len(burst)} welcomed in {took:.2f} s" if burst
                         else ""))
    finally:
        proc.terminate()
        proc.wait(10)


if __name__ == "__main__":
    main()
