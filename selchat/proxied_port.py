"""A chat port behind trusted reverse proxies (``--trusted-proxy``): the PROXY
protocol header a proxy sends first names the real client, for the log and
the per-address limit.

`ProxiedPort` wraps the kind a listener's newcomers become (the chat port's
`LineKind`, or the TLS port's `selchat.tls_port.TlsPort`: the header comes
before the TLS handshake, as HAProxy's ``send-proxy`` and nginx's
``proxy_protocol on`` send it). A newcomer from a trusted address waits here,
outside the server's connections, until its header is complete: it is
peeked at (``MSG_PEEK``) and then exactly its bytes are read, so what the client
sent after it stays in the kernel for the kind that reads it. A newcomer from
any other address goes straight on: a header it sends is just bytes (a name
the room refuses, or not TLS).
"""
import logging
import selectors
import socket
from typing import TYPE_CHECKING, Dict, Optional, Tuple

from selchat.addresses import address_group, format_address
from selchat.connection import Kind
from selchat.listeners import close_socket
from selchat.proxy_protocol import MAX_HEADER, ProxyError, parse
from selchat.timers import Timer
from selchat.trusted_proxies import TrustedProxies

if TYPE_CHECKING:
    from selchat.server import Server

log = logging.getLogger(__name__)

#: A trusted proxy sends its header at once; one that has not within this long
#: is closed (the same bound as a TLS handshake's).
HEADER_TIMEOUT = 10.0
#: A header seen only in part is looked at again after this long, not at every
#: pass: the peeked bytes keep the socket readable.
PEEK_RETRY = 0.02


class Waiting:
    """A newcomer from a trusted proxy whose header has not been read yet."""

    __slots__ = ("sock", "address", "group", "timer", "retry")

    def __init__(self, sock: socket.socket, address: Tuple, group: str) -> None:
        self.sock, self.address = sock, address
        self.group = group  # the proxy's address group, counted by `Listeners` meanwhile
        self.timer: Optional[Timer] = None
        self.retry: Optional[Timer] = None


class ProxiedPort(Kind):
    """Newcomers from `proxies` name their client in a PROXY header, then go on to `inner`."""

    def __init__(self, server: "Server", inner: Kind, proxies: TrustedProxies) -> None:
        self._server = server
        self.inner = inner
        self.name = f"proxied+{inner.name}"
        self.told_why_refused = inner.told_why_refused
        self._proxies = proxies
        self._waiting: Dict[socket.socket, Waiting] = {}

    def adopt(self, server: "Server", sock: socket.socket, address: Tuple, group: str) -> None:
        if not self._proxies.trusts(address[0]):
            self.inner.adopt(server, sock, address, group)
            return
        waiting = Waiting(sock, address, group)
        self._waiting[sock] = waiting
        waiting.timer = server._timers.call_at(server._now + HEADER_TIMEOUT, self._timed_out,
                                               waiting)
        self._watch(waiting)

    def _watch(self, waiting: Waiting, _: object = None) -> None:
        waiting.retry = None
        self._server._selector.register(waiting.sock, selectors.EVENT_READ,
                                        lambda mask: self._peek(waiting))

    def _peek(self, waiting: Waiting) -> None:
        server = self._server
        try:
            data = waiting.sock.recv(MAX_HEADER, socket.MSG_PEEK)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:
            self._give_up(waiting, f"connection lost before its PROXY header ({exc.strerror})")
            return
        if not data:
            self._give_up(waiting, "closed before its PROXY header")
            return
        try:
            header = parse(data)
        except ProxyError as exc:
            self._give_up(waiting, str(exc))
            return
        server._selector.unregister(waiting.sock)
        if header is None:  # in part: look again soon
            waiting.retry = server._timers.call_at(server._now + PEEK_RETRY, self._watch, waiting)
            return
        self._forget(waiting)
        waiting.sock.recv(header.length)  # only the header: the rest is the client's
        address, group = waiting.address, waiting.group
        if header.address is not None:
            listeners, proxy = server._listeners, format_address(*address[:2])
            listeners.forget(group)
            address = header.address
            group = address_group(address[0])
            if not listeners.admit(group):
                log.warning("refused %s (through %s): %d unnamed connections from that "
                            "address", format_address(*address), proxy,
                            server.limits.max_per_ip)
                close_socket(waiting.sock)
                return
            log.info("%s is %s (PROXY protocol)", proxy, format_address(*address))
        self.inner.adopt(server, waiting.sock, address, group)

    def _timed_out(self, waiting: Waiting) -> None:
        waiting.timer = None
        self._give_up(waiting, f"no PROXY header in {HEADER_TIMEOUT:g} s")

    def _give_up(self, waiting: Waiting, why: str) -> None:
        if waiting.sock not in self._waiting:
            return
        if waiting.retry is None:
            self._server._selector.unregister(waiting.sock)
        self._forget(waiting)
        if why:
            log.info("%s: %s", format_address(*waiting.address[:2]), why)
        self._server._listeners.forget(waiting.group)
        close_socket(waiting.sock, reset=True)

    def _forget(self, waiting: Waiting) -> None:
        del self._waiting[waiting.sock]
        self._server._timers.cancel(waiting.timer)
        self._server._timers.cancel(waiting.retry)
        waiting.timer = None

    def close(self) -> None:
        """Shutdown: the newcomers still waiting for a header end here."""
        for waiting in list(self._waiting.values()):
            self._give_up(waiting, "")
