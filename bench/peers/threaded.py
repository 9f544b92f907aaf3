#!/usr/bin/env python3
"""Baseline: the classic thread-per-client chat server, written correctly.

What a Python developer writes first, minus the usual bugs: one thread per
client doing blocking reads; one lock around the client list, also held while
a line goes out to everyone, so lines never interleave half-sent and every
client sees them in one order; ``sendall``, never a bare ``send``; a full
listen backlog; TCP_NODELAY, so Nagle is not what the bench measures.

It speaks selchat's protocol as far as the bench uses it: the hello line, a
name (unique ignoring case), the welcome and join notices, chat lines to
everyone else, leave notices. Start it like selchat::

    python bench/peers/threaded.py --host 127.0.0.1 --port 0 --max-clients 1000

It prints ``threaded listening on HOST:PORT`` and runs until SIGTERM or Ctrl-C.
"""
import itertools
import signal
import socket
import sys
import threading
from typing import Dict, Optional, Set

import peer_args  # the sibling module: peers run as scripts from bench/peers

HELLO = b"*** Hello! Please enter your name.\n"
MAX_LINE = 4096


class Room:
    """The joined clients, and the one lock that guards them and their sockets."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.members: Dict[socket.socket, str] = {}
        self.taken: Set[str] = set()  # casefolded names

    def join(self, sock: socket.socket, name: str) -> bool:
        with self.lock:
            if name.casefold() in self.taken:
                return False
            self.taken.add(name.casefold())
            self.members[sock] = name
            shown = ", ".join(itertools.islice(self.members.values(), 50))
            welcome = f"*** Welcome, {name}! Online ({len(self.members)}): {shown}\n"
            self.deliver(sock, welcome.encode())
            self.broadcast(f"*** {name} has joined the chat room.\n".encode(), sock)
        return True

    def leave(self, sock: socket.socket) -> None:
        with self.lock:
            name = self.members.pop(sock, None)
            if name is not None:
                self.taken.discard(name.casefold())
                self.broadcast(f"*** {name} has left the chat room.\n".encode(), None)

    def broadcast(self, data: bytes, exclude: Optional[socket.socket]) -> None:
        """Send to every member but `exclude`; the caller holds the lock."""
        for sock in list(self.members):
            if sock is not exclude:
                self.deliver(sock, data)

    def deliver(self, sock: socket.socket, data: bytes) -> None:
        try:
            sock.sendall(data)
        except OSError:  # that client's own thread notices and leaves
            pass


def serve_client(room: Room, sock: socket.socket) -> None:
    reader = sock.makefile("rb")
    try:
        sock.sendall(HELLO)
        name = None
        while name is None:
            line = reader.readline(MAX_LINE)
            if not line:
                return
            wanted = line.decode("utf-8", "replace").strip()
            if not wanted or len(wanted) > 32:
                sock.sendall(b"!!! invalid name\n")
            elif room.join(sock, wanted):
                name = wanted
            else:
                sock.sendall(f"!!! name taken: {wanted}\n".encode())
        prefix = f"<{name}> ".encode()
        for line in reader:
            text = line.rstrip(b"\r\n")
            if text.strip():
                with room.lock:
                    room.broadcast(prefix + text + b"\n", sock)
    except OSError:
        pass
    finally:
        room.leave(sock)
        reader.close()
        sock.close()


def run(room: Room, host: str, port: int, max_clients: int, label: str = "threaded") -> int:
    """Accept clients into `room` until SIGTERM or Ctrl-C."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    listener = socket.create_server((host, port), backlog=socket.SOMAXCONN)
    bound_host, bound_port = listener.getsockname()[:2]
    print(f"{label} listening on {bound_host}:{bound_port}", flush=True)
    try:
        while True:
            sock, _ = listener.accept()
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if threading.active_count() > max_clients:
                sock.sendall(b"!!! server full\n")
                sock.close()
                continue
            threading.Thread(target=serve_client, args=(room, sock), daemon=True).start()
    except KeyboardInterrupt:
        pass
    return 0


def main() -> int:
    args = peer_args.parse(__doc__.split("\n\n")[0])
    return run(Room(), args.host, args.port, args.max_clients)


if __name__ == "__main__":
    sys.exit(main())
