"""One client socket: its lifecycle state, its protocol, its output queue.

`Connection` is where socket errors are translated into plain answers, so the
server loop never sees an exception from a peer:

* `read_once()` does a single ``recv_into``: the byte count, 0 for an orderly
  end of stream, ``None`` for "nothing now" (``EAGAIN``/``EINTR``: the
  selector will say when to try again), or `GONE` (reset, keepalive gave up).
* `write(data)` / `write_pieces(pieces)` send at once when nothing is queued,
  else queue; `flush()` does a single ``send`` (``sendmsg`` for several
  buffers) of what is queued. Each answers the bytes still queued (0: all
  went, the common case), or `GONE` if the peer is gone (``EPIPE``, ``ECONNRESET``).

What the bytes mean is the job of ``proto``, a sans-I/O object made by the
connection's `Kind`: for the chat line protocol over TCP a
`selchat.framing.LineBuffer`, for a WebSocket a
`selchat.web.websocket.WebSocketLines` (both: ``feed(bytes)``, ``b""`` at the
end of the stream; ``next_line()``), for HTTP a
`selchat.web.http.HttpConnection`. What the loop does with a kind's
connections (hand lines to the room, answer requests, send close frames) is
the `Kind` object's, one per kind, behind one small interface. ``frame`` says
how the room's lines go out to this connection: None for raw lines, or a
function that wraps a payload of lines (a WebSocket text frame): the server
frames each shared payload once per kind.

The lifecycle is `State`; only the server changes it, in one method
(`selchat.server.Server._set_state`), along `TRANSITIONS`.
"""
import enum
import socket
from typing import TYPE_CHECKING, Any, Callable, Dict, FrozenSet, List, Optional, Tuple, Union

from selchat.flood import TokenBucket
from selchat.framing import LineBuffer
from selchat.sendbuf import IOV_MAX, Buffer, SendBuffer
from selchat.timers import Timer
from selchat.web.http import HttpConnection
from selchat.web.websocket import WebSocketLines

if TYPE_CHECKING:
    from selchat.server import Server

Protocol = Union[LineBuffer, WebSocketLines, HttpConnection]

#: Bytes asked of one ``recv`` at most. asyncio reads 256 KiB, Redis 16 KiB;
#: chat lines are short, and 64 KiB drains a burst of them in one call.
RECV_SIZE = 64 * 1024
#: What `read_once` and the writes answer when the peer is gone.
GONE = -1


class Kind:
    """What a connection's bytes mean, and what the loop does about them.

    One object per kind and server, shared by that kind's connections
    (``Connection.kind``), as Redis shares one ``ConnectionType`` table per
    connection type: the loop calls these methods and never asks which kind a
    connection is, so a new kind (IRC, TLS) is a subclass in a module of its
    own. The kinds: `selchat.lines.LineKind` (the chat port),
    `selchat.web.driver.HttpKind` and `selchat.web.driver.WebSocketKind`.
    """

    #: Names the kind in the log; the gauge that counts its connections.
    name = "?"
    gauge = ""
    #: Said after "connection N from ADDRESS" when one is accepted.
    accepted_note = ""
    #: How the room's lines go out (copied to ``Connection.frame``): None for raw lines.
    frame: Optional[Callable[[bytes], bytes]] = None
    #: A refused newcomer (server full) is told why in a chat line: only chat
    #: clients read one first (an HTTP client would take it for a response).
    told_why_refused = False

    def __repr__(self) -> str:
        return f"<{self.name} connections>"

    def protocol(self) -> "Protocol":
        """The sans-I/O object for a newly accepted connection of this kind."""
        raise NotImplementedError

    def adopt(self, server: "Server", sock: socket.socket, address: Tuple, group: str) -> None:
        """A newcomer accepted on this kind's port, counted against its address
        group `group`, becomes a connection (a TLS port,
        `selchat.tls_port.TlsPort`, shakes hands first)."""
        server._add_connection(sock, address, self, group)

    def opened(self, conn: "Connection") -> None:
        """`conn` was accepted and registered for reading."""

    def received(self, conn: "Connection") -> None:
        """``conn.proto`` was fed a read (``b""``: end of stream): act on it."""

    def resume_reading(self, conn: "Connection") -> None:
        """`conn` may be read again (a flood-control pause, or a resume that
        waited for the bus, is over): take what it sent meanwhile."""

    def drained(self, conn: "Connection") -> None:
        """Everything queued for `conn` (OPEN) went after it had to wait."""

    def closing(self, conn: "Connection") -> None:
        """`conn` left OPEN for DRAINING: its last output is being sent."""

    def after_batch(self) -> None:
        """The pass's lines were queued for everyone: what must go after them."""

    def frame_pieces(self, pieces: List[Buffer]) -> List[Buffer]:
        """`pieces` (a recipient's own, or a replay's) as they go out, framed as
        `frame` frames a payload, without joining them: as they are for raw lines."""
        return pieces


class State(enum.Enum):
    """A connection's life, as wsproto's ``ConnectionState``."""

    #: Reading and writing. The room knows it: unnamed, then a member.
    OPEN = "open"
    #: Reading is over (a goodbye, the peer's end of stream, a name timeout,
    #: shutdown) and the room was told; its output drains, then it closes.
    #: ``CLOSE_GRACE`` bounds the wait.
    DRAINING = "draining"
    #: Dropped (reset, too slow): the room was told, its output is
    #: discarded, and it is closed with a reset at the end of the pass.
    DROPPING = "dropping"
    #: Socket closed, unregistered, forgotten.
    CLOSED = "closed"


#: The only moves `Server._set_state` makes; anything else is a bug, and raises
#: `IllegalTransition`.
TRANSITIONS: Dict[State, FrozenSet[State]] = {
    State.OPEN: frozenset({State.DRAINING, State.DROPPING}),
    State.DRAINING: frozenset({State.DROPPING, State.CLOSED}),
    State.DROPPING: frozenset({State.CLOSED}),
    State.CLOSED: frozenset(),
}


class IllegalTransition(RuntimeError):
    """A change of `State` that `TRANSITIONS` does not allow: a bug in the server."""


class Connection:
    __slots__ = (
        "sock", "number", "kind", "proto", "frame", "tagged", "out", "bucket", "state",
        "reading", "events", "timer", "group", "over_soft_since", "render",
    )

    def __init__(
        self, sock: socket.socket, number: int, kind: Kind, proto: Protocol,
        bucket: Optional[TokenBucket],
    ) -> None:
        self.sock = sock
        self.number = number  # names the connection in the log
        self.kind = kind
        self.proto = proto
        self.frame = kind.frame  # the kind's, kept here for the delivery loop
        self.tagged = False  # asked for tags (/tags): lines carry seq and time
        #: For a tagged connection, how a pass's lines are rendered for it
        #: (`selchat.batch.Render`; None: the line protocol's tags). One render
        #: function is one variant of the pass's bytes, made once for all who
        #: share it (the IRC kind's: plain, and with IRCv3 tags).
        self.render: Optional[Callable[[bytes, object, object], bytes]] = None
        self.out = SendBuffer()
        self.bucket = bucket  # None when flood control is off
        self.state = State.OPEN
        self.reading = True  # read interest wanted: OPEN and not held back by flood control
        self.events = 0  # the selector mask currently registered (0: not registered)
        self.timer: Optional[Timer] = None  # the name timeout, then the close grace
        #: The peer's address group (`selchat.addresses.address_group`) while it
        #: counts against the per-address limit (unnamed).
        self.group: Optional[str] = None
        #: When the output queue went over the soft limit (0.0: it is not over).
        self.over_soft_since = 0.0

    def __repr__(self) -> str:
        return f"connection {self.number}"

    def read_once(self, buffer: memoryview, size: int) -> Optional[int]:
        """One ``recv_into`` of at most `size` bytes of the caller's buffer (one
        buffer shared by every connection spares an allocation per read)."""
        try:
            return self.sock.recv_into(buffer, size)
        except (BlockingIOError, InterruptedError):
            return None
        except OSError:  # ECONNRESET, ETIMEDOUT (keepalive or TCP_USER_TIMEOUT gave up)
            return GONE

    def write(self, data: bytes) -> int:
        """Send `data` at once if nothing is queued before it, else queue it.

        asyncio's "try to send now": most writes cost one ``send`` and no
        bookkeeping. Answers the bytes left queued, or GONE.
        """
        out = self.out
        if out.pending:
            out.append(data)
            return out.pending
        try:  # the hot path of every broadcast: no helper call here
            sent = self.sock.send(data)
        except (BlockingIOError, InterruptedError):
            sent = 0
        except OSError:
            return GONE
        if sent < len(data):
            out.append(memoryview(data)[sent:] if sent else data)
        return out.pending

    def write_pieces(self, pieces: List[Buffer]) -> int:
        """`write` for a list of buffers (an own piece cut from the shared bytes)."""
        size = sum(map(len, pieces))
        out = self.out
        if out.pending:
            out.extend(pieces, size)
            return out.pending
        sent = self._sendmsg(pieces[:IOV_MAX])
        if sent < 0:
            return GONE
        if sent < size:
            out.extend(pieces, size)
            out.advance(sent)
        return out.pending

    def flush(self) -> int:
        """One send of what is queued: answers the bytes still queued, or GONE."""
        out = self.out
        if not out.pending:
            return 0
        buffers = out.buffers()
        sent = self._send(buffers[0]) if len(buffers) == 1 else self._sendmsg(buffers)
        if sent < 0:
            return GONE
        out.advance(sent)
        return out.pending

    def before_close(self) -> None:
        """What an orderly close owes the peer first (TLS: close_notify); nothing here."""

    def discard_output(self) -> None:
        self.out.advance(self.out.pending)

    def _send(self, data: Buffer) -> int:
        """Bytes the kernel took (0 when it would block), or GONE."""
        return self._try(self.sock.send, data)

    def _sendmsg(self, buffers: List[Buffer]) -> int:
        return self._try(self.sock.sendmsg, buffers)

    @staticmethod
    def _try(send: Callable[[Any], int], what: Any) -> int:
        try:
            return send(what)
        except (BlockingIOError, InterruptedError):
            return 0
        except OSError:
            return GONE
