"""What a bus node pays for the lines of rooms it has no members in.

Two selchat nodes on a Redis of their own (`nodes`). On node A, one sender per
room (``#r00`` ... ``#rNN``) says LINES lines in its room, then a line in the
default room (its end marker: its room lines come before it in the one
stream). On node B, one watcher: in ``none`` mode it is in the default room
only (B has no member in any room the lines go to), in ``members`` mode it is
in every room and reads every line. B's CPU seconds from the senders' first
line to the last end marker B delivers, over the room lines, is B's cost per
line; runs of the two modes alternate, and the medians are printed.

    python bench/bus_rooms.py --rooms 40 --lines 2500 --repeat 3 --history 1000 --history 0
"""
import argparse
import socket
import statistics
import sys
import time
from typing import Dict, List, Optional, Tuple

import nodes

#: Seconds any one step may take before the run is given up.
DEADLINE = 120.0


class Client:
    """A blocking line client with a deadline on every read."""

    def __init__(self, address, name: str) -> None:
        self.sock = socket.create_connection(address, timeout=DEADLINE)
        self.buffer = b""
        self.until(b"Please enter your name.")
        self.send(name)
        self.until(b"*** Welcome")

    def send(self, *lines: str) -> None:
        self.sock.sendall("".join(line + "\n" for line in lines).encode())

    def until(self, marker: bytes, count: int = 1) -> int:
        """Read until `marker` was seen `count` times; returns the lines read."""
        seen = lines = 0
        while True:
            while b"\n" in self.buffer:
                line, _, self.buffer = self.buffer.partition(b"\n")
                lines += 1
                if marker in line:
                    seen += 1
                    if seen == count:
                        return lines
            data = self.sock.recv(1 << 20)
            if not data:
                raise RuntimeError("connection closed")
            self.buffer += data

    def close(self) -> None:
        self.sock.close()


def run(mode: str, rooms: int, lines: int, options: List[str]) -> Dict[str, float]:
    """One run: B's, A's and Redis' CPU µs per room line."""
    cluster = nodes.start("selchat", rooms + 10, count=2, options=options)
    clients: List[Client] = []
    try:
        first, second = cluster.nodes
        watcher = Client(second.address, "watcher")
        clients.append(watcher)
        senders = []
        for room in range(rooms):
            sender = Client(first.address, f"s{room}")
            clients.append(sender)
            sender.send(f"/join #r{room:02d}")
            sender.until(b"*** You joined")
            senders.append(sender)
            if mode == "members":
                watcher.send(f"/join #r{room:02d}")
                watcher.until(b"*** You joined")
        senders[0].send("/msg #lobby ready")
        watcher.until(b"<s0> ready")  # B has read every join
        before = _cpu(cluster)
        text = "x" * 60
        for sender in senders:
            sender.send(*[f"{text} {number}" for number in range(lines)], "/msg #lobby end")
        watcher.until(b"> end", rooms)
        after = _cpu(cluster)
        said = rooms * lines
        return {where: (after[where] - before[where]) / said * 1e6 for where in after}
    finally:
        for client in clients:
            client.close()
        cluster.stop()


def _cpu(cluster: nodes.Cluster) -> Dict[str, float]:
    first, second = cluster.nodes
    spent = {"A": first.cpu_seconds(), "B": second.cpu_seconds(),
             "redis": cluster.bus.cpu_seconds() if cluster.bus else None}
    return {where: value for where, value in spent.items() if value is not None}


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rooms", type=int, default=40,
                        help="rooms, one sender each (at most 49: the watcher joins them all)")
    parser.add_argument("--lines", type=int, default=2500, help="lines each sender says")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each case, alternated")
    parser.add_argument("--history", type=int, action="append", default=None,
                        help="the nodes' --history (default: selchat's); give it twice "
                             "(e.g. 1000 and 0) to alternate both: what keeping every "
                             "room's lines on every node costs")
    args = parser.parse_args(argv)
    cases = [(mode, history) for history in (args.history or [None])
             for mode in ("none", "members")]
    results: Dict[Tuple[str, Optional[int]], List[Dict[str, float]]] = {
        case: [] for case in cases}
    started = time.monotonic()
    for _ in range(args.repeat):
        for mode, history in cases:
            options = [] if history is None else ["--history", str(history)]
            results[(mode, history)].append(run(mode, args.rooms, args.lines, options))
            print(f"{mode:8} history {history if history is not None else 'default':7} "
                  + "  ".join(f"{where} {value:6.1f} µs/line"
                              for where, value in results[(mode, history)][-1].items()),
                  flush=True)
    print(f"\nmedians over {args.repeat} runs each, {args.rooms} rooms x {args.lines} lines "
          f"({time.monotonic() - started:.0f} s):")
    for (mode, history), runs in results.items():
        medians = {where: statistics.median(run[where] for run in runs) for where in runs[0]}
        who = "no member in the rooms" if mode == "none" else "a member in each"
        kept = "" if history is None else f", --history {history}"
        print(f"  node B with {who}{kept}: " + ", ".join(
            f"{where} {value:.1f} µs per line" for where, value in medians.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
