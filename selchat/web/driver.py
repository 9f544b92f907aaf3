"""Driving the web port in the loop: HTTP until an upgrade, then chat over WebSocket.

Two `selchat.connection.Kind`\\ s. `HttpKind` answers the requests of a
connection on the web port (`selchat.web.http` decides what to answer), one at
a time and only while its output is drained, so a client that pipelines
requests but does not read is not read either; an idle connection or a
half-sent request is closed after the name timeout. ``/metrics`` is rendered
from the server's counters here. An upgrade turns the connection into a
`WebSocketKind` one: a chat session like a terminal's (`selchat.lines.LineKind`),
whose lines come out of frames and go out in text frames, which owes the peer
its pongs at once, and which is closed with a close frame after its last lines.
"""
import logging
from typing import TYPE_CHECKING, List, Sequence

from selchat.connection import Connection, Kind, State
from selchat.lines import LineKind
from selchat.trusted_proxies import forwarded_client
from selchat.web.http import CLOSE, NEED_DATA, HttpConnection, Respond, Upgrade
from selchat.web.metrics import render
from selchat.web.page import page_for
from selchat.web.websocket import GOING_AWAY, NORMAL, WebSocketLines, close_frame, text_frame

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
        self._handle_lines(conn)  # lines that came with the handshake

    def after_lines(self, conn: Connection) -> None:
        """Send the pongs the WebSocket protocol owes the peer at once, ahead of
        this pass's lines; a close reply waits for those (`after_batch`)."""
        proto = conn.proto
        if isinstance(proto, WebSocketLines) and proto.close_code is None:
            control = proto.data_to_send()
            if control:
                self._server._output.write(conn, control)

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


class HttpKind(Kind):
    """A connection on the web port that has not upgraded: requests, responses."""

    name = "http"
    gauge = "connections_http"
    accepted_note = " (web)"
    told_why_refused = False

    def __init__(self, server: "Server", origins: Sequence[str], websocket: WebSocketKind,
                 scheme: str = "http") -> None:
        self._server = server
        self._scheme = scheme  # the page's own origin's: https behind TLS
        self._origins = tuple(origins)
        self._websocket = websocket
        self._page = page_for(server.limits)  # built once: the server's limits do not change

    def protocol(self) -> HttpConnection:
        return HttpConnection(self._metrics, self._origins, self._page, self._scheme)

    def opened(self, conn: Connection) -> None:
        # Idle or half-sent requests are closed after the name timeout too.
        self._idle_from_now(conn)

    def received(self, conn: Connection) -> None:
        self._serve_http(conn)

    def drained(self, conn: Connection) -> None:
        if not conn.reading:  # answered: on to its next request
            self._serve_http(conn)

    def _serve_http(self, conn: Connection) -> None:
        """Answer the requests `conn` sent, in order, while its output is drained:
        a client that pipelines requests but does not read is not read either."""
        server = self._server
        http = conn.proto
        assert isinstance(http, HttpConnection)
        while conn.state is OPEN and not conn.out.pending:
            action = http.next_action()
            if action is NEED_DATA:
                break
            if action is CLOSE:
                server._set_state(conn, DRAINING, "end of stream")
                break
            server.counters.http_requests += 1
            if server.proxies and http.forwarded_for:
                self._forwarded(conn, http.forwarded_for)
            if isinstance(action, Upgrade):
                self._upgrade(conn, action)
                return
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

    def _forwarded(self, conn: Connection, header: bytes) -> None:
        """From a trusted proxy, X-Forwarded-For names the client: the log and
        the per-address count take its address (`selchat.trusted_proxies`)."""
        server, client = self._server, forwarded_client(header)
        if client is None or conn.address is None or client == conn.address:
            return
        try:
            peer = conn.sock.getpeername()[0]
        except OSError:
            return
        if server.proxies.trusts(peer):
            server._listeners.forget(conn.address)
            server._listeners.count(client)
            conn.address = client
            log.info("%r is %s (X-Forwarded-For)", conn, client)

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
        counters = server.counters
        counters.members = len(server._room.members)
        if server._bridge is not None:
            bus = server._bridge.bus
            counters.bus_up = int(bus.up)
            counters.bus_lag_seconds = bus.lag_ms / 1000
            counters.bus_waiting_lines = bus.outbox.waiting_lines
            counters.bus_outages = bus.outages
        return render(counters, server._clock())
