"""One connection to Redis: non-blocking, in the server's own selector.

Theory of operation. A `RedisLink` is a transport in the sense of asyncio's
``_SelectorSocketTransport``, speaking RESP. `call` appends a command to the
output buffer and its callback to a FIFO: Redis answers a connection's
commands in order, so the next complete reply belongs to the oldest callback.
`call` sends nothing; the owner calls `flush` once per loop pass before it
sleeps, as Redis's ``beforeSleep`` sends the replies queued while handling
events, so the calls of one pass leave as one pipelined ``send``. What a
``send`` leaves stays queued, and write interest is registered while, and only
while, output is pending (``networking.c``), else every pass would wake up to
an idle writable socket.

The selector's key data is `on_event`. It finishes a connect (``SO_ERROR``),
reads once (one ``recv`` of up to 256 KiB, asyncio's size), feeds
``hiredis.Reader`` and hands each complete reply to its callback, then, on
EVENT_WRITE, flushes: reads first, as ``ae.c`` does.

`connect` puts the handshake first in the output, ahead of anything already
called: AUTH (with a password), SELECT (for a database other than 0), and
CLIENT SETNAME, so ``CLIENT LIST`` tells the nodes' connections apart. The
link checks their replies itself and is READY when the last one arrives.

Any socket error, end of stream, garbage, handshake error or oversized reply
makes the link FAILED: it unregisters and closes its socket, drops what is
queued and every callback (a dropped command may or may not have run, so no
callback is the honest answer), then calls ``on_failure(reason)`` once. No I/O
error escapes; timeouts and reconnecting (`connect` again) are the owner's.
"""
import collections
import enum
import errno
import logging
import os
import selectors
import socket
from typing import Any, Callable, Deque, List, Optional, Sequence, Tuple

import hiredis

from selchat.addresses import os_problem
from selchat.bus.address import BusAddress
from selchat.bus.resp import Arg, command

log = logging.getLogger(__name__)

#: Bytes asked of one ``recv``: asyncio's ``max_size``. Stream batches of chat
#: lines are small; this drains a backlog of them in few passes.
RECV_SIZE = 256 * 1024
#: Unparsed input allowed before the link gives up. A bus reply is a batch of
#: chat lines; far beyond any honest one, this bounds memory if a key is wrong.
MAX_REPLY = 64 * 1024 * 1024

Callback = Callable[[Any], None]


class LinkState(enum.Enum):
    #: Not connected: never yet, or after `RedisLink.close`.
    IDLE = "idle"
    #: `RedisLink.connect` called; TCP or the handshake is not done.
    CONNECTING = "connecting"
    #: Connected, authenticated, database selected, named.
    READY = "ready"
    #: Given up, for the reason in `RedisLink.failure`; the socket is closed.
    FAILED = "failed"


class RedisLink:
    """One connection to Redis for one job (a node's publisher, its reader):
    commands in, replies to callbacks in order, failures reported once."""

    def __init__(self, address: BusAddress, selector: selectors.BaseSelector, name: str,
                 *, on_failure: Callable[[str], None] = lambda reason: None) -> None:
        self.address = address
        self.name = name  # for logs and CLIENT SETNAME
        self.state = LinkState.IDLE
        self.failure = ""  # why it FAILED, one line
        self._selector = selector
        self._on_failure = on_failure
        self._sock: Optional[socket.socket] = None
        self._connected = False  # the TCP connect has finished
        self._events = 0  # the mask registered now (0: not registered)
        self._reader = hiredis.Reader()
        self._partial = 0  # bytes of an incomplete reply buffered (an upper bound)
        self._out = bytearray()
        self._callbacks: Deque[Callback] = collections.deque()
        self._handshake = 0  # handshake replies still to come (first in the FIFO)

    def connect(self) -> None:
        """Start connecting, without blocking (but for resolving the host name).

        A failure found at once (refused, unresolvable) calls ``on_failure``
        before this returns.
        """
        if self._sock is not None:
            raise RuntimeError(f"{self.name}: connect() while connected")
        host, port, password, db = self.address
        self.state, self.failure = LinkState.CONNECTING, ""
        self._reader, self._partial = hiredis.Reader(), 0
        first: List[Tuple[Tuple[Arg, ...], str]] = []
        if password is not None:
            first.append((("AUTH", password), "authentication failed"))
        if db:
            first.append((("SELECT", db), f"cannot select database {db}"))
        first.append((("CLIENT", "SETNAME", self.name), "CLIENT SETNAME failed"))
        self._out[:0] = b"".join(command(*args) for args, _ in first)
        self._callbacks.extendleft(self._check(what) for _, what in reversed(first))
        self._handshake = len(first)
        try:
            family, kind, proto, _, sockaddr = socket.getaddrinfo(
                host, port, type=socket.SOCK_STREAM)[0]
        except OSError as exc:
            self._fail(f"cannot resolve {host}: {os_problem(exc)}")
            return
        log.debug("%s: connecting to %s", self.name, self.address.display())
        try:
            self._sock = socket.socket(family, kind, proto)
            self._sock.setblocking(False)
            self._sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            code = self._sock.connect_ex(sockaddr)
            if code not in (0, errno.EINPROGRESS):
                raise OSError(code, os.strerror(code))
            self._watch(selectors.EVENT_WRITE)  # writable: the connect is over
        except OSError as exc:
            self._fail(_reason(exc))

    def call(self, args: Sequence[Arg], callback: Callback) -> None:
        """Queue a command (`flush` sends it); its reply, or a ``hiredis.ReplyError``,
        goes to `callback`. Allowed in any state: what is queued when the link
        closes or fails is dropped, so a call made after that waits for `connect`."""
        self._out += command(*args)
        self._callbacks.append(callback)

    def flush(self) -> None:
        """One ``send`` of what is queued; write interest while some is left."""
        if self._sock is None or not self._connected or not self._out:
            return
        try:
            sent = self._sock.send(self._out)
        except (BlockingIOError, InterruptedError):
            sent = 0
        except OSError as exc:
            self._fail(_reason(exc))
            return
        del self._out[:sent]
        self._watch(selectors.EVENT_READ | (selectors.EVENT_WRITE if self._out else 0))

    def on_event(self, mask: int) -> None:
        """The selector's callback (``key.data``) for this link's socket."""
        sock = self._sock
        if sock is None:  # closed earlier in the same pass
            return
        if not self._connected:
            try:
                code = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if code:
                    raise OSError(code, os.strerror(code))
                sock.getpeername()  # ENOTCONN: still under way (a stale event)
            except OSError as exc:
                if exc.errno != errno.ENOTCONN:
                    self._fail(_reason(exc))
                return
            log.debug("%s: connected", self.name)
            self._connected = True
            self.flush()  # the handshake; also registers read interest
            return
        if mask & selectors.EVENT_READ:
            self._read(sock)
        if mask & selectors.EVENT_WRITE and self._sock is sock:
            self.flush()

    def waiting(self) -> int:
        """Commands called whose replies have not come (the handshake aside)."""
        return len(self._callbacks) - self._handshake

    def close(self) -> None:
        """Unregister and close; queued commands and callbacks are dropped."""
        self._teardown()
        if self.state is not LinkState.FAILED:
            self.state = LinkState.IDLE

    def _read(self, sock: socket.socket) -> None:
        try:
            data = sock.recv(RECV_SIZE)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:
            self._fail(_reason(exc))
            return
        if not data:
            self._fail("Redis closed the connection")
            return
        reader = self._reader
        reader.feed(data)
        replied = False
        while self._sock is sock:  # a callback may close the link
            try:
                reply = reader.gets()
            except hiredis.ProtocolError as exc:
                self._fail(f"protocol error: {exc}")
                return
            if reply is False:  # RESP2 has no false: this means "incomplete"
                # At most this recv's bytes remain if a reply came out of it.
                self._partial = len(data) if replied else self._partial + len(data)
                if self._partial > MAX_REPLY:
                    self._fail("reply too large")
                return
            if not self._callbacks:
                self._fail("unexpected reply from Redis")
                return
            replied = True
            self._callbacks.popleft()(reply)

    def _check(self, what: str) -> Callback:
        """The callback of a handshake command: an error reply fails the link."""
        def check(reply: Any) -> None:
            if isinstance(reply, hiredis.ReplyError):
                reason = "authentication failed" if str(reply).startswith("NOAUTH") else what
                self._fail(f"{reason}: {reply}")
                return
            self._handshake -= 1
            if not self._handshake:
                log.debug("%s: ready", self.name)
                self.state = LinkState.READY
        return check

    def _watch(self, events: int) -> None:
        assert self._sock is not None
        if not self._events:
            self._selector.register(self._sock, events, self.on_event)
        elif events != self._events:
            self._selector.modify(self._sock, events, self.on_event)
        self._events = events

    def _fail(self, reason: str) -> None:
        log.debug("%s: failed: %s", self.name, reason)
        self._teardown()
        self.state, self.failure = LinkState.FAILED, reason
        self._on_failure(reason)

    def _teardown(self) -> None:
        sock, self._sock = self._sock, None
        if sock is not None:
            if self._events:
                self._selector.unregister(sock)
            sock.close()
        self._connected, self._events, self._handshake = False, 0, 0
        self._out.clear()
        self._callbacks.clear()


def _reason(exc: OSError) -> str:
    if exc.errno == errno.ECONNRESET:
        return "connection reset by Redis"
    if exc.errno == errno.EPIPE:
        return "Redis closed the connection"
    return os_problem(exc)
