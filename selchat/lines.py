"""Chat sessions: lines read from a connection go to the room, under flood control.

`LineKind` is the `selchat.connection.Kind` of the chat port (the line
protocol over TCP, a `selchat.framing.LineBuffer` per connection), and the
base of the WebSocket kind, which reads the same lines out of frames. A read
is fed to the connection's protocol; its complete lines go to the room one by
one while the client's flood budget lasts (`selchat.throttle`: an empty
budget stops reading that client until it refilled, and the client is told
to slow down once per episode). A WebSocket's frames that complete no line
cost a token per `selchat.flood.FRAMES_PER_TOKEN`. A session also has until
the name timeout to choose a name.
"""
import logging
from typing import Union, cast

from selchat.connection import Connection, Protocol, State
from selchat.flood import line_cost
from selchat.framing import END_OF_STREAM, LineBuffer
from selchat.throttle import ThrottledKind
from selchat.web.websocket import IDLE_FRAMES, WebSocketLines

log = logging.getLogger(__name__)

OPEN = State.OPEN
#: A line kind's protocol (made once: a ``Union[...]`` in `take_input` is a lookup a read).
LineProtocol = Union[LineBuffer, WebSocketLines]


class LineKind(ThrottledKind):
    """The chat line protocol on the chat port (``selchat join``, ``nc``)."""

    name = "tcp"
    gauge = "connections_tcp"
    told_why_refused = True

    def protocol(self) -> Protocol:
        return LineBuffer(self._server.limits.max_line)

    def opened(self, conn: Connection) -> None:
        self.start_session(conn)

    def start_session(self, conn: Connection) -> None:
        """`conn` speaks chat now (on connect, or after a WebSocket upgrade)."""
        server, limits = self._server, self._server.limits
        conn.bucket = self.new_bucket()
        conn.timer = server._timers.call_at(server._now + limits.name_timeout, self._no_name, conn)
        server._apply(server._room.connect(conn, conn.group or ""))

    def _no_name(self, conn: Connection) -> None:
        conn.timer = None
        if conn.state is OPEN:
            log.info("%r: no name in time", conn)
            limits = self._server.limits
            self._server._apply(self._server._room.name_timeout(conn, limits.name_timeout))

    # -- reading ----------------------------------------------------------------------

    def take_input(self, conn: Connection) -> int:
        """Hand complete lines to the room while the client's budget lasts;
        returns how many it took."""
        # A line kind's connections carry the line protocol its kind made:
        # Connection.proto is typed as the union of every kind's.
        proto = cast(LineProtocol, conn.proto)
        server = self._server
        bucket, now, take_line = conn.bucket, server._now, self.take_line
        max_line = server.limits.max_line
        taken = 0
        while conn.reading:
            if bucket is not None and not bucket.ready(now):
                if proto.has_line():  # else nothing is held back: no need to say so
                    self._hold_back(conn)
                break
            line = proto.next_line()
            if line is None:
                break
            if line is END_OF_STREAM:  # the peer is done sending (maybe only half-closed)
                server._set_state(conn, State.DRAINING, "end of stream")
                break
            if line is IDLE_FRAMES:  # WebSocket frames that made no line cost all the same
                if bucket is not None:
                    bucket.take(now, 1.0)
                continue
            taken += 1
            if isinstance(line, bytes):
                if bucket is not None:
                    bucket.take(now, line_cost(len(line)))
                take_line(conn, line)
            else:  # LINE_TOO_LONG: its bytes were read (and cost) all the same
                if bucket is not None:
                    bucket.take(now, line_cost(max_line))
                self.line_too_long(conn)
        server.counters.lines_received += taken
        self.after_lines(conn)
        return taken

    def take_line(self, conn: Connection, line: bytes) -> None:
        """One complete line from `conn`: the room's (the IRC kind's: a command)."""
        server = self._server
        server._apply(server._room.receive(conn, line.decode("utf-8", "replace")))

    def line_too_long(self, conn: Connection) -> None:
        """`conn` sent a line over the cap: its bytes were thrown away."""
        server = self._server
        server._apply(server._room.line_too_long(conn, server.limits.max_line))

    def after_lines(self, conn: Connection) -> None:
        """What the protocol owes the peer once its lines were taken (none here)."""
