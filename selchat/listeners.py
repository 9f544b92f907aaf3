"""Sockets: listening, accepting, tuning, refusing and closing them.

`open_listener` and `reserve_port` make the listening sockets (``--workers``
share a port through SO_REUSEPORT). `Listeners` is the accepting side of the
loop: each listener is read by the selector, and one wake-up accepts a bounded
batch of newcomers, refuses those over the connection limits (telling a chat
client why) and hands the rest to the server. When the process runs out of
file descriptors it stops accepting for a while instead of spinning on a
listener that stays readable. `tune` sets an accepted socket up, and
`close_socket` is the one way a client socket is closed.
"""
import errno
import logging
import selectors
import socket
import struct
from typing import TYPE_CHECKING, Callable, Dict, Optional, Tuple

from selchat.addresses import address_group, format_address
from selchat.connection import Connection, Kind
from selchat.limits import Limits
from selchat.room import SERVER_FULL, TOO_MANY_FROM_ADDRESS
from selchat.timers import Timers
from selchat.wire import ServerLine, encode

if TYPE_CHECKING:
    from selchat.server import Server

log = logging.getLogger(__name__)

#: Connections accepted per listener wake-up. Accepting one costs 0.1-0.2 ms
#: under load (tuning, registering, its hello): 1,024 a pass (as it was) kept
#: the members' chat waiting 0.2-0.3 s in a reconnect storm of 2,000. 128 is
#: 15-25 ms a pass; 10,000 joins take ~80 passes, each a short one.
ACCEPT_BATCH = 128
#: After EMFILE/ENFILE, stop accepting this long instead of spinning on a
#: listener that stays readable (asyncio waits 1 s too).
ACCEPT_RETRY_DELAY = 1.0
#: Kernel keepalive: probe after a minute of silence, every 10 s, 6 times, so
#: a peer that vanished without a FIN is found within about two minutes.
KEEPALIVE = (("TCP_KEEPIDLE", 60), ("TCP_KEEPINTVL", 10), ("TCP_KEEPCNT", 6))
#: Keepalive only probes an idle connection. While chat is being sent to a peer
#: that vanished, TCP retransmits for 15 minutes (tcp_retries2) unless
#: TCP_USER_TIMEOUT bounds how long sent data may stay unacknowledged: the same
#: two minutes (Linux; milliseconds).
USER_TIMEOUT_MS = 120_000
_FD_EXHAUSTED = {errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM}


# -- making listening sockets ------------------------------------------------------

def open_listener(host: str, port: int, reuse_port: bool = False) -> socket.socket:
    """A listening socket on host:port; ``::`` also takes IPv4 where it can.

    With `reuse_port` (SO_REUSEPORT), several processes listen on the same
    port and the kernel spreads new connections over them (``--workers``).
    Raises OSError (EADDRINUSE and the like) for the caller to report.
    """
    family, address, dualstack = _resolve(host, port)
    return socket.create_server(
        address, family=family, backlog=socket.SOMAXCONN, reuse_port=reuse_port,
        dualstack_ipv6=dualstack,
    )


def reserve_port(host: str, port: int) -> socket.socket:
    """A socket bound to host:port with SO_REUSEPORT that never listens: it
    holds the port for the listeners of ``--workers`` (and learns which one
    port 0 picked) but is given no connections.

    A plain bind comes first, to fail as `open_listener` would: with
    SO_REUSEPORT alone, a port in use by another server of the same user
    would be shared with it instead of refused.
    """
    family, address, dualstack = _resolve(host, port)
    with _bind(family, address, dualstack, reuse_port=False) as probe:
        address = (address[0], probe.getsockname()[1], *address[2:])
    return _bind(family, address, dualstack, reuse_port=True)


def _resolve(host: str, port: int) -> Tuple[int, tuple, bool]:
    """(family, socket address, whether ``::`` takes IPv4 too) to listen on."""
    family, _, _, _, address = socket.getaddrinfo(
        host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )[0]
    dualstack = family == socket.AF_INET6 and host == "::" and socket.has_dualstack_ipv6()
    return family, address, dualstack


def _bind(family: int, address: tuple, dualstack: bool, reuse_port: bool) -> socket.socket:
    """A bound TCP socket, set up as `socket.create_server` sets up its own."""
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if reuse_port:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0 if dualstack else 1)
        sock.bind(address)
    except OSError:
        sock.close()
        raise
    return sock


# -- accepting ----------------------------------------------------------------------

class Listeners:
    """The server's listening sockets, one per kind of newcomer (the chat
    port's, the web port's), and who may connect.

    Nothing is accepted before `start`; the server starts them at once, or
    with a bus once the node knows the room.
    """

    def __init__(self, server: "Server", sockets: Dict[Kind, socket.socket]) -> None:
        self._server = server
        self._selector: selectors.BaseSelector = server._selector
        self._timers: Timers = server._timers
        self._limits: Limits = server.limits
        self._sockets = sockets
        #: Unnamed connections per peer address group (``--max-per-ip`` counts
        #: them; `selchat.addresses.address_group`: an IPv6 /64, one IPv4 address).
        self._unnamed_per_address: Dict[str, int] = {}
        self._paused = True  # not registered with the selector: a timer or `start` resumes
        self._started = False  # registered once
        self._out_of_fds = False  # warned: retries stay quiet until an accept works
        for sock in sockets.values():
            sock.setblocking(False)

    @property
    def started(self) -> bool:
        return self._started

    def address(self, kind: Kind) -> str:
        """The listening address of `kind`'s port, host:port."""
        return format_address(*self._sockets[kind].getsockname()[:2])

    def start(self, _: object = None) -> None:
        """Accept from now on (a timer's callback too: hence the argument)."""
        if self._paused or not self._started:  # else a shutdown closed the listeners
            self._paused, self._started = False, True
            for kind, listener in self._sockets.items():
                self._selector.register(listener, selectors.EVENT_READ, self._acceptor(kind))

    def _acceptor(self, kind: Kind) -> Callable[[int], None]:
        return lambda _: self._accept(kind)

    def _accept(self, kind: Kind) -> None:
        listener, limits, server = self._sockets[kind], self._limits, self._server
        for _ in range(ACCEPT_BATCH):
            try:
                sock, address = listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                if exc.errno in _FD_EXHAUSTED:
                    self._pause(exc)
                    return
                log.debug("accept failed: %s", exc)  # e.g. ECONNABORTED: already gone
                continue
            if self._out_of_fds:
                self._out_of_fds = False
                log.info("accepting again")
            group = address_group(address[0])
            if len(server._conns) >= limits.max_clients and not server.make_room():
                log.warning("refused %s: server full", format_address(*address[:2]))
                refuse(sock, SERVER_FULL if kind.told_why_refused else None)
            elif not self._admit_newcomer(address[0], group):
                log.warning("refused %s: %d unnamed connections from that address",
                            format_address(*address[:2]), limits.max_per_ip)
                refuse(sock, TOO_MANY_FROM_ADDRESS if kind.told_why_refused else None)
            else:
                tune(sock)
                kind.adopt(server, sock, address, group)

    def _pause(self, exc: OSError) -> None:
        if not self._out_of_fds:  # once per episode; the retries are not news
            self._out_of_fds = True
            log.warning("out of file descriptors (%s): not accepting; retrying every %g s",
                        exc.strerror, ACCEPT_RETRY_DELAY)
        self._paused = True
        for listener in self._sockets.values():
            self._selector.unregister(listener)
        self._timers.call_at(self._server._now + ACCEPT_RETRY_DELAY, self.start)

    def _admit_newcomer(self, host: str, group: str) -> bool:
        """`admit` `host`'s `group`, but a trusted proxy's connections are only
        counted: the limit applies to the clients they name (`selchat.proxied_port`)."""
        if self._server.proxies and self._server.proxies.trusts(host):
            self.count(group)
            return True
        return self.admit(group)

    def admit(self, group: str) -> bool:
        """Count one more unnamed connection from address group `group`, if
        --max-per-ip allows it (behind a proxy, the group of the client the proxy named)."""
        if 0 < self._limits.max_per_ip <= self._unnamed_per_address.get(group, 0):
            return False
        self.count(group)
        return True

    def count(self, group: str) -> None:
        self._unnamed_per_address[group] = self._unnamed_per_address.get(group, 0) + 1

    def count_named(self, conn: Connection) -> None:
        """`conn` stopped counting against its address (it chose a name, or left)."""
        group = conn.group
        if group is None:
            return
        conn.group = None
        self.forget(group)

    def forget(self, group: str) -> None:
        """One connection from address group `group` stopped counting (named,
        left, or never became one: a failed TLS handshake)."""
        left = self._unnamed_per_address[group] - 1
        if left:
            self._unnamed_per_address[group] = left
        else:
            del self._unnamed_per_address[group]

    def close(self) -> None:
        for listener in self._sockets.values():
            if not self._paused:
                self._selector.unregister(listener)
            listener.close()
        self._sockets = {}
        self._paused = False


# -- client sockets -------------------------------------------------------------------

def tune(sock: socket.socket) -> None:
    """Non-blocking, no Nagle delay, and bounded waits for a vanished peer."""
    sock.setblocking(False)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    for option, value in KEEPALIVE + (("TCP_USER_TIMEOUT", USER_TIMEOUT_MS),):
        if hasattr(socket, option):
            sock.setsockopt(socket.IPPROTO_TCP, getattr(socket, option), value)


def refuse(sock: socket.socket, line: Optional[ServerLine]) -> None:
    """Best effort: tell a newcomer why it cannot stay (a chat client, which
    reads first: an HTTP client would take the line for a response), then close."""
    sock.setblocking(False)
    if line is not None:
        try:
            sock.send(encode(line))
        except OSError:
            pass
    close_socket(sock)


def close_socket(sock: socket.socket, reset: bool = False) -> None:
    """Close, first reading what the peer sent that nobody will read.

    Closing with unread input makes the kernel send a reset, which may destroy
    the last lines queued for the peer (a goodbye, "server full"). A dropped
    connection (`reset`) is reset on purpose: the kernel frees what it still
    held for a reader that stopped reading, instead of keeping it for minutes.
    """
    if reset:
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
        sock.close()
        return
    try:
        for _ in range(16):
            if not sock.recv(65536):
                break
    except OSError:
        pass
    sock.close()
