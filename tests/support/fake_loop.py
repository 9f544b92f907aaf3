"""The server in this process, pass by pass, with a clock that moves only when told.

Every deadline of the server is a timer on the clock it is given; a FakeClock only
moves when a test moves it. The server runs in the test's thread, one
``run_once(0)`` at a time, between the peers' reads. Loopback delivers a send into
the receiver's queue before ``send`` returns, so "a few more passes brought
nothing" is a fact, not a guess.
"""
import socket
import time
from typing import Callable, List, Optional

from selchat.limits import Limits
from selchat.listeners import open_listener
from selchat.server import Server
from selchat.storage import Storage
from support.constants import TIMEOUT

START = 1000.0  # the fake clock's first reading; sums of halves stay exact


class FakeClock:
    """The server's clock: `time.monotonic` in shape, moved by hand."""

    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class Peer:
    """A client socket read without blocking: the server runs in this thread."""

    def __init__(self, address, rcvbuf: Optional[int] = None) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf is not None:  # before connect, or the window is already advertised
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.connect(address)  # the kernel completes it from the backlog
        self.sock.setblocking(False)
        self.data = bytearray()
        self.closed = False  # end of stream or reset seen

    def send(self, *lines: str) -> None:
        self.sock.sendall("".join(line + "\n" for line in lines).encode())

    def take(self) -> None:
        """Read whatever has arrived."""
        while not self.closed:
            try:
                chunk = self.sock.recv(1 << 20)
            except BlockingIOError:
                return
            except ConnectionResetError:
                chunk = b""
            if not chunk:
                self.closed = True
            self.arrived(chunk)

    def arrived(self, chunk: bytes) -> None:
        """What a read brought (b"": the end): its lines."""
        self.data += chunk

    @property
    def lines(self) -> List[str]:
        """Complete lines received so far."""
        return self.data.decode().split("\n")[:-1]

    def close(self) -> None:
        self.sock.close()


class Loop:
    """A `Server` on 127.0.0.1 with a fake clock, and the peers talking to it."""

    def __init__(self, clock: Optional[Callable[[], float]] = None,
                 web_listener: Optional[socket.socket] = None,
                 storage: Optional[Storage] = None,
                 wall_clock: Callable[[], float] = time.time, **limits) -> None:
        self.clock = clock or FakeClock()
        self.server = Server(open_listener("127.0.0.1", 0), Limits(**limits), self.clock,
                             web_listener=web_listener, storage=storage, wall_clock=wall_clock)
        self.address = ("127.0.0.1", int(self.server.address.rsplit(":", 1)[1]))
        self.peers: List[Peer] = []  # read after every pass
        self.made: List[Peer] = []  # every peer, kept open until teardown

    def peer(self, name: Optional[str] = None, rcvbuf: Optional[int] = None,
             reads: bool = True) -> Peer:
        """A new connection; with a name, joined (its hello and welcome read).
        One that `reads` is read after every pass; the others only when told."""
        peer = Peer(self.address, rcvbuf)
        self.peers.append(peer)
        self.made.append(peer)
        if name is not None:
            peer.send(name)
            self.until(lambda: any(line.startswith(f"*** Welcome, {name}!")
                                   for line in peer.lines))
        if not reads:
            self.peers.remove(peer)
        return peer

    def run(self, passes: int = 5) -> None:
        """A few passes, the peers reading after each (the clock stays put)."""
        for _ in range(passes):
            self.server.run_once(0)
            for peer in self.peers:
                peer.take()

    def until(self, condition: Callable[[], object], timeout: float = TIMEOUT) -> None:
        """Passes until `condition()` holds; fails after `timeout` real seconds."""
        deadline = time.monotonic() + timeout
        while True:
            self.run(1)
            if condition():
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"condition not met within {timeout} s")

    def at(self, when: float) -> None:
        """Set the fake clock (only forwards) and run a few passes."""
        assert when >= self.clock.now
        self.clock.now = when
        self.run()

    def settle(self, count: Callable[[], int], passes: int = 20) -> int:
        """Passes until `count()` has not grown for three (or `passes` ran out); its value."""
        last, still = count(), 0
        while still < 3 and passes:
            self.run(1)
            now = count()
            still, last, passes = (still + 1 if now == last else 0), now, passes - 1
        return last

    def conn(self, name: str):
        """The server's connection for member `name` (white box)."""
        return next(c for c in self.server._conns if self.server._room.name_of(c) == name)

    def close(self) -> None:
        for peer in self.made:
            peer.close()
        self.server.close()


class WebLoop(Loop):
    """A `Loop` whose server has a web port too: `web_peer` connects to it."""

    def __init__(self, clock: Optional[Callable[[], float]] = None, **limits) -> None:
        web = open_listener("127.0.0.1", 0)
        self.web = web.getsockname()[:2]
        super().__init__(clock, web, **limits)

    def web_peer(self) -> Peer:
        """A new connection to the web port, read after every pass."""
        peer = Peer(self.web)
        self.peers.append(peer)
        self.made.append(peer)
        return peer
