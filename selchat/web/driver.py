"""Driving the web port in the loop: HTTP until an upgrade, then chat over WebSocket.

Two `selchat.connection.Kind`\\ s. `HttpKind` answers the requests of a
connection on the web port (`selchat.web.http` decides what to answer), one at
a time and only while its output is drained, so a client that pipelines
requests but does not read is not read either; each request costs flood
tokens (`selchat.flood.REQUEST_COST`, `selchat.throttle`), and one pass
answers `selchat.web.http.REQUESTS_PER_PASS` at most. An idle connection or a
half-sent request is closed after the name timeout. ``/metrics`` is rendered
from the server's counters here, at most once a second
(`selchat.web.metrics.Exposition`). An upgrade turns the connection into a
`WebSocketKind` one: a chat session like a terminal's (`selchat.lines.LineKind`),
whose lines come out of frames and go out in text frames, which owes the peer
its pongs at once, and which is closed with a close frame after its last lines.
"""
import logging
import socket
from typing import TYPE_CHECKING, List, Sequence

from selchat.connection import Connection, State
from selchat.flood import REQUEST_COST
from selchat.lines import LineKind
from selchat.sendbuf import Buffer
from selchat.throttle import ThrottledKind
from selchat.web.http import (
    CLOSE, NEED_DATA, REQUESTS_PER_PASS, HttpConnection, Respond, Upgrade, served_names,
)
from selchat.web.metrics import Counters, Exposition
from selchat.web.page import page_for
from selchat.web.websocket import (
    GOING_AWAY, NORMAL, WebSocketLines, close_frame, text_frame, text_frame_pieces,
)

if TYPE_CHECKING:
    from selchat.server import Server

log = logging.getLogger(__name__)

OPEN, DRAINING = State.OPEN, State.DRAINING


class WebSocketKind(LineKind):
    """The chat over WebSocket, after an upgrade on the web port."""

    name = "ws"
    gauge = "connections_ws"
    told_why_refused = False

    def __init__(self, server: "Server") -> None:
        super().__init__(server)
        self.frame = text_frame
        self._closing: List[Connection] = []  # a close frame goes after the batch

    def protocol(self, trailing: bytes = b"") -> WebSocketLines:
        """Its connections begin as HTTP ones (`upgraded`)."""
        return WebSocketLines(self._server.limits.max_line, trailing)

    def upgraded(self, conn: Connection, trailing: bytes) -> None:
        """`conn`, an HTTP connection that upgraded, is a chat session of this
        kind from now on; `trailing` is what the client sent after the
        request, the first bytes of the WebSocket stream."""
        server = self._server
        server._count_connection(conn.kind, -1)
        server._count_connection(self, +1)
        conn.kind, conn.proto, conn.frame = self, self.protocol(trailing), self.frame
        conn.reading = True
        server._update_interest(conn)
        log.info("%r: WebSocket", conn)
        self.start_session(conn)
        self.take_input(conn)  # lines that came with the handshake

    def after_lines(self, conn: Connection) -> None:
        """Send the pongs the WebSocket protocol owes the peer at once, ahead of
        this pass's lines; a close reply waits for those (`after_batch`)."""
        proto = conn.proto
        if isinstance(proto, WebSocketLines) and proto.close_code is None:
            control = proto.data_to_send()
            if control:
                self._server._output.write(conn, control)

    def frame_pieces(self, pieces: List[Buffer]) -> List[Buffer]:
        """One text frame around `pieces`, not joined (a replay's are the history's)."""
        return text_frame_pieces(pieces)

    def closing(self, conn: Connection) -> None:
        self._closing.append(conn)  # a close frame (ours or a reply), last

    def after_batch(self) -> None:
        """WebSockets this side closes get a close frame after their last lines."""
        if not self._closing:
            return
        server = self._server
        code = GOING_AWAY if server._stop_deadline is not None else NORMAL
        closing, self._closing = self._closing, []
        for conn in closing:
            proto = conn.proto
            if conn.state is DRAINING and isinstance(proto, WebSocketLines):
                data = close_frame(code) if proto.close_code is None else proto.data_to_send()
                if data:  # none after a plain end of stream (1006)
                    server._output.write(conn, data)


class HttpKind(ThrottledKind):
    """A connection on the web port that has not upgraded: requests, responses."""

    name = "http"
    gauge = "connections_http"
    accepted_note = " (web)"
    told_why_refused = False
    says_slow_down = False  # a held-back client is just answered later

    def __init__(self, server: "Server", websocket: WebSocketKind, bound: str,
                 origins: Sequence[str] = (), hosts: Sequence[str] = ()) -> None:
        """`bound` is the web listener's address, `origins` and `hosts` the
        operator's (``--web-origin``, ``--web-host``)."""
        super().__init__(server)
        self._websocket = websocket
        self._origins = tuple(origins)
        #: The names Host may give (DNS rebinding: see `selchat.web.http`).
        self._names = served_names(bound, hosts, socket.gethostname())
        self._page = page_for(server.limits)  # built once: the server's limits do not change
        self._exposition = Exposition(server.counters)  # /metrics, rendered once a second

    def protocol(self) -> HttpConnection:
        return HttpConnection(self._metrics, self._origins, page=self._page, hosts=self._names)

    def opened(self, conn: Connection) -> None:
        conn.bucket = self.new_bucket()  # its requests have a price too
        # Idle or half-sent requests are closed after the name timeout too.
        self._idle_from_now(conn)

    def drained(self, conn: Connection) -> None:
        if not conn.reading:  # answered: on to its next request
            self.take_input(conn)

    def take_input(self, conn: Connection) -> int:
        """Answer the requests `conn` sent, in order, while its output is drained
        (a client that pipelines requests but does not read is not read either)
        and its flood budget lasts, REQUESTS_PER_PASS at most: the rest wait for
        a timer, as lines do. Returns how many were answered."""
        server = self._server
        http = conn.proto
        assert isinstance(http, HttpConnection)
        bucket, answered = conn.bucket, 0
        while conn.state is OPEN and not conn.out.pending:
            if bucket is not None and http.has_request() and (
                    answered == REQUESTS_PER_PASS or not bucket.ready(server._now)):
                self._hold_back(conn)  # a due timer serves it after this pass's reads
                return answered
            action = http.next_action()
            if action is NEED_DATA:
                break
            if action is CLOSE:
                server._set_state(conn, DRAINING, "end of stream")
                break
            server.counters.http_requests += 1
            answered += 1
            if bucket is not None:
                bucket.take(server._now, REQUEST_COST)
            if isinstance(action, Upgrade):
                self._upgrade(conn, action)
                return answered
            assert isinstance(action, Respond)
            server._output.write(conn, action.data)
            if action.close:
                if conn.state is OPEN:
                    server._set_state(conn, DRAINING)
                break
            server._timers.cancel(conn.timer)  # kept alive: the idle deadline starts again
            self._idle_from_now(conn)
        if conn.state is OPEN and conn.reading == bool(conn.out.pending):
            conn.reading = not conn.out.pending
            server._update_interest(conn)
        return answered

    def _upgrade(self, conn: Connection, upgrade: Upgrade) -> None:
        """The handshake's answer goes out; from now on `conn` is a chat session."""
        server = self._server
        server._output.write(conn, upgrade.data)
        server._timers.cancel(conn.timer)
        self._websocket.upgraded(conn, upgrade.trailing)

    def _idle_from_now(self, conn: Connection) -> None:
        server = self._server
        conn.timer = server._timers.call_at(
            server._now + server.limits.name_timeout, self._idle, conn)

    def _idle(self, conn: Connection) -> None:
        conn.timer = None
        if conn.state is OPEN:
            self._server._set_state(conn, DRAINING, "no request in time")

    def _metrics(self) -> bytes:
        server = self._server
        return self._exposition.body(server._clock(), self._update_gauges)

    def _update_gauges(self, counters: Counters) -> None:
        """The figures /metrics shows that the loop does not count as it goes."""
        server = self._server
        counters.members = len(server._room.members)
        if server._bridge is not None:
            bus = server._bridge.bus
            counters.bus_up = int(bus.up)
            counters.bus_lag_seconds = bus.lag_ms / 1000
            counters.bus_waiting_lines = bus.outbox.waiting_lines
            counters.bus_outages = bus.outages
