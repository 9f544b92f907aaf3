"""The in-process server (`support.fake_loop`) with a TLS port, and peers that
speak TLS to it through a `selchat.tls.TlsLayer` on a non-blocking socket."""
import socket
import ssl
from typing import Callable, Optional

from selchat.limits import Limits
from selchat.listeners import open_listener
from selchat.server import Server
from selchat.tls import Certificates, TlsLayer, client_context
from support.fake_loop import FakeClock, Loop, Peer


class TlsPeer(Peer):
    """A `Peer` whose bytes go through TLS: `take` also moves the handshake on."""

    def __init__(self, address, ca_file: str, before: bytes = b"",
                 context: Optional[ssl.SSLContext] = None) -> None:
        """`before`: bytes sent ahead of the handshake (a proxy's PROXY header);
        `context`: the client's (by default: trusting `ca_file`, TLS 1.2 or 1.3)."""
        super().__init__(address)
        self.sock.sendall(before)
        self.tls = TlsLayer(context or client_context(ca_file), server_side=False,
                            server_hostname="localhost")
        self.shaken = False
        self.ended_cleanly = False  # the server said close_notify
        self._step()

    def _step(self) -> None:
        if not self.shaken:
            self.shaken = self.tls.handshake()
        self.sock.sendall(self.tls.take_output())

    def send(self, *lines: str) -> None:
        self.sock.sendall(self.tls.seal("".join(line + "\n" for line in lines).encode()))

    def arrived(self, chunk: bytes) -> None:
        if not chunk:
            return
        self.tls.feed(chunk)
        self._step()
        buffer = memoryview(bytearray(1 << 16))
        while self.shaken and not self.ended_cleanly:
            try:
                got = self.tls.read_into(buffer, len(buffer))
            except ssl.SSLZeroReturnError:  # close_notify
                self.ended_cleanly = True
                break
            if not got:
                break
            self.data += buffer[:got]


class TlsLoop(Loop):
    """A `Loop` whose server also has a TLS chat port (the clear one stays) when
    given `certificates`, trusts `trusted_proxies`, and with `web` has a web port."""

    def __init__(self, certificates: Optional[Certificates] = None,
                 clock: Optional[Callable[[], float]] = None, trusted_proxies=(),
                 web: bool = False, **limits) -> None:
        self.clock = clock or FakeClock()
        self.tls_listener = open_listener("127.0.0.1", 0) if certificates else None
        self.web_listener = open_listener("127.0.0.1", 0) if web else None
        self.server = Server(open_listener("127.0.0.1", 0), Limits(**limits), self.clock,
                             web_listener=self.web_listener, certificates=certificates,
                             tls_listener=self.tls_listener, trusted_proxies=trusted_proxies)
        self.address = ("127.0.0.1", int(self.server.address.rsplit(":", 1)[1]))
        if self.tls_listener is not None:
            self.tls_address = self.tls_listener.getsockname()[:2]
        if self.web_listener is not None:
            self.web_address = self.web_listener.getsockname()[:2]
        self.peers = []
        self.made = []

    def tls_peer(self, ca_file: str, name: Optional[str] = None) -> TlsPeer:
        peer = TlsPeer(self.tls_address, ca_file)
        self.peers.append(peer)
        self.made.append(peer)
        if name is not None:
            self.until(lambda: peer.shaken and peer.lines)
            peer.send(name)
            self.until(lambda: any(line.startswith(f"*** Welcome, {name}!")
                                   for line in peer.lines))
        return peer


def raw_socket(address) -> socket.socket:
    sock = socket.create_connection(address)
    sock.setblocking(False)
    return sock
