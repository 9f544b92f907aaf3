"""The event loop: one thread, one selector, every socket.

Theory of operation
-------------------
Each client is a `Connection`, registered with the selector and hung on
``key.data``. What its bytes mean is its kind's protocol (``conn.proto``): the
chat line protocol on the chat port (a `LineBuffer`), HTTP on the web port (an
`HttpConnection`, which may upgrade), the chat over WebSocket (a
`WebSocketLines`); this module only moves bytes and carries out decisions. The
chat rules live in `ChatRoom`, which answers each line with effects (Send,
Broadcast, Close, Joined, Left, and for history and resume Tag, Replay, Hold,
Keep, ResumeAsked). Every deadline (name timeout, close grace, flood refill,
output-limit check, session hold, accept back-off, shutdown) is one entry in
`Timers`, a heap. One call of `run_once` is one pass:

1. ``select()``, with the timeout of the first timer (0 if reads are owed).
2. The listeners: accept a bounded batch; register each newcomer for reading.
3. Readable clients, in turn, while the pass's read budget lasts: one ``recv``
   each, of at most its fair share of the budget, into the protocol; its lines
   go to the room while the client's flood budget lasts (an empty budget stops
   reading that client until a timer refills it: the rest waits in the
   kernel). Clients the budget did not reach are served first next pass, so
   everyone's turn comes and a burst storm costs each pass a bounded amount of
   work. HTTP requests are answered here.
4. Due timers run.
5. Effects are *queued*, never sent: every Send and Broadcast joins the pass's
   `Batch`, delivered once after the reads. A broadcast is a room line: it is
   numbered and kept in the history as the bytes already built. Broadcasts
   are joined into one payload shared by every ordinary member (framed once
   per connection kind, tagged once for the members that asked for tags);
   the few with something particular (a sender, who gets no echo; a Send's
   target; one that joined or left during the pass) get slices of it.
6. Send: a connection with nothing queued is sent its piece at once; one with
   output queued waits for the selector to say it is writable, and is then
   sent everything queued, scatter/gather. So each connection gets at most one
   send per pass, and write interest exists only while output is queued. A
   queue over the hard output limit drops its connection at once; one over
   the soft limit for its time is dropped by a timer.
7. Reap: connections that drained or were dropped are closed. Their leave
   notices were queued when they left OPEN, so steps 5-7 repeat until nothing
   is left to do.
8. With a bus (``serve --bus``), the pass's room lines, name claims and
   direct lines for other nodes' members are sealed into one batch for Redis
   (`selchat.bus.driver.Bus.end_pass`).

With a bus the room is shared by several nodes, and a broadcast is not
delivered in step 5: it goes to Redis, which numbers it, and comes back to
every node, this one included, as an entry of the stream; its Redis
connections are readable sockets of this same selector, and what they read
arrives in step 3 (`bus_entries` and the other ``bus_*`` methods, in the
section "the bus"). Delivery is then as in step 5. While the bus is down, room
lines are delivered here at once and kept for it.

Lifecycle: a connection's `State` changes in `_set_state` alone: OPEN ->
DRAINING (stop reading, output drains within CLOSE_GRACE) or DROPPING (output
discarded) -> CLOSED (in `_reap`, the only place a socket is closed, at the
end of the pass, so no socket disappears while a broadcast walks the members).
Leaving OPEN is the one place the room is told that a session ended.
"""
import errno
import itertools
import logging
import secrets
import selectors
import socket
import struct
import time
from typing import Callable, Dict, Hashable, List, Optional, Sequence, Set, Tuple, Union, cast

from selchat.batch import Batch, Piece
from selchat.connection import GONE, RECV_SIZE, TRANSITIONS, Connection, Kind, State
from selchat.flood import READ_COST, TokenBucket, line_cost
from selchat.framing import END, LineBuffer
from selchat.limits import Limits
from selchat.web.http import CLOSE, NEED_DATA, HttpConnection, Respond, Upgrade
from selchat.web.metrics import Counters, render
from selchat.web.websocket import (
    GOING_AWAY, NORMAL, WebSocketLines, close_frame, text_frame, text_frame_pieces,
)
from selchat import resume, wire
from selchat.addresses import address_group, format_address
from selchat.bus.address import BusAddress
from selchat.bus.driver import Bus
from selchat.bus.protocol import Arg, DirectLine, Entry, Moved, NameLost, RoomLine
from selchat.history import MemoryHistory, replay
from selchat.names import name_key
from selchat.room import (
    SERVER_FULL, TOO_MANY_FROM_ADDRESS, Broadcast, Charge, ChatRoom, Claim, Effect, Hold, Joined,
    Keep, Left, Relay, Release, Replay, ResumeAsked, Send, Tag, Unhold,
)
from selchat.timers import Timer, Timers
from selchat.wakeup import read_signals, signals_as_input
from selchat.wire import ServerLine, encode, slow_down

log = logging.getLogger(__name__)

EVENT_READ = selectors.EVENT_READ
EVENT_WRITE = selectors.EVENT_WRITE
OPEN, DRAINING, DROPPING, CLOSED = State.OPEN, State.DRAINING, State.DROPPING, State.CLOSED
TCP, HTTP, WS = Kind.TCP, Kind.HTTP, Kind.WS
_GAUGES = {TCP: "connections_tcp", HTTP: "connections_http", WS: "connections_ws"}

#: Connections accepted per listener wake-up. A pass costs a send to every
#: member, so a connect storm should join in few, large passes (10,000 joins in
#: ~10); accepting 1024 takes tens of milliseconds, so chat is not kept waiting.
ACCEPT_BATCH = 1024
#: After EMFILE/ENFILE, stop accepting this long instead of spinning on a
#: listener that stays readable (asyncio waits 1 s too).
ACCEPT_RETRY_DELAY = 1.0
#: Bytes read per pass, across all clients, are capped so that what one pass
#: broadcasts stays bounded: the bytes delivered in a pass (read bytes times
#: members) are kept near DELIVERY_BUDGET, between these two read budgets.
#: 64 MiB of deliveries is a pass of a few tens of milliseconds here; 16 KiB
#: still reads a few full lines per pass in a 10,000-member room.
DELIVERY_BUDGET = 64 * 1024 * 1024
MIN_READ_BUDGET = 16 * 1024
MAX_READ_BUDGET = 256 * 1024
#: The least one readable client is read in a pass, whatever the crowd: a line
#: of typing in one read (a longer line takes a few passes).
MIN_READ_SHARE = 1024
#: With a bus, a node starts accepting once it has read the room from Redis,
#: or after this long without an answer (then it starts in an outage).
BUS_STARTUP_WAIT = 3.0
#: A connection that said goodbye (or sent EOF) gets this long to take its
#: last lines before it is closed anyway.
CLOSE_GRACE = 5.0
#: On Ctrl-C or SIGTERM, pending output is flushed for at most this long.
SHUTDOWN_GRACE = 2.0
#: Kernel keepalive: probe after a minute of silence, every 10 s, 6 times, so
#: a peer that vanished without a FIN is found within about two minutes.
KEEPALIVE = (("TCP_KEEPIDLE", 60), ("TCP_KEEPINTVL", 10), ("TCP_KEEPCNT", 6))
#: Keepalive only probes an idle connection. While chat is being sent to a peer
#: that vanished, TCP retransmits for 15 minutes (tcp_retries2) unless
#: TCP_USER_TIMEOUT bounds how long sent data may stay unacknowledged: the same
#: two minutes (Linux; milliseconds).
USER_TIMEOUT_MS = 120_000
DEFAULT_LIMITS = Limits()
_FD_EXHAUSTED = {errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM}


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


class Server:
    """A chat server on one listening socket (and a web listener, if given);
    drive it with `serve_forever`, or pass by pass with `run_once` (tests do,
    with a fake clock)."""

    def __init__(
        self,
        listener: socket.socket,
        limits: Limits = DEFAULT_LIMITS,
        clock: Callable[[], float] = time.monotonic,
        web_listener: Optional[socket.socket] = None,
        web_origins: Sequence[str] = (),
        wall_clock: Callable[[], float] = time.time,
        bus: Optional[BusAddress] = None,
        bus_retention: float = 600.0,
        bus_lease: float = 15.0,
    ) -> None:
        self.limits = limits
        self._listeners: Dict[Kind, socket.socket] = {TCP: listener}
        if web_listener is not None:
            self._listeners[HTTP] = web_listener
        self._web_origins = tuple(web_origins)
        self._clock = clock
        self._now = clock()
        self._selector = selectors.DefaultSelector()
        self._timers = Timers()
        self._wall_clock = wall_clock  # for the time tags only
        self._time_ms = 0  # the pass's wall-clock time, for its tags
        #: The room's numbered lines: replay on join, resume after a drop. Its
        #: epoch is in every resume token, so a restarted server knows its own.
        self._history = MemoryHistory(secrets.token_hex(4), limits.history)
        resumable = limits.history > 0 and limits.resume_window > 0
        self._room = ChatRoom(
            resume_window=limits.resume_window if resumable else 0.0,
            replay=limits.replay if limits.history else 0,
            new_token=lambda: resume.new_token(self._history.epoch, secrets.token_bytes),
            max_held=limits.max_held, max_held_per_group=limits.max_per_ip,
        )
        self._holds: Dict[Hashable, Timer] = {}  # held sessions' deadlines
        self.counters = Counters(self._now)
        self._conns: Set[Connection] = set()  # every connection not yet CLOSED
        self._numbers = itertools.count(1)  # numbers connections in the log
        self._recv_buffer = memoryview(bytearray(RECV_SIZE))  # shared: one recv at a time
        self._batch = Batch()  # this pass's lines, delivered once at its end
        self._owed_reads: List[Connection] = []  # readable, not reached by last pass's budget
        self._share = RECV_SIZE  # bytes one client may be read in this pass
        self._dirty: Set[Connection] = set()  # writable, or draining: flush once this pass
        self._doomed: Set[Connection] = set()  # to close at the end of the pass
        self._closing_websockets: List[Connection] = []  # a close frame goes after the batch
        self._unnamed_per_address: Dict[str, int] = {}
        self._encoded: Tuple[Optional[ServerLine], bytes] = (None, b"")  # last shared line
        self._accept_paused = False  # listeners unregistered: a timer resumes accepting
        self._started = False  # listeners registered once
        self._out_of_fds = False  # warned: retries stay quiet until an accept works
        self._stop_requested = False
        self._stop_deadline: Optional[float] = None
        for sock in self._listeners.values():
            sock.setblocking(False)
        #: With a bus, the room is shared with other nodes through Redis.
        self._bus: Optional[Bus] = None
        self._claims: Dict[Hashable, Tuple[str, str, int, str]] = {}  # key name since th
        self._moving: Dict[str, Tuple[Connection, str, int]] = {}  # resumes from other nodes
        self._bus_trouble_told = False
        if bus is not None:
            self._bus = Bus(bus, self._selector, self._timers, self, lambda: self._now,
                            lambda: self._time_ms, limits.history, bus_retention, bus_lease)
            self._time_ms = int(wall_clock() * 1000)
            self._bus.start()
            # Newcomers wait (in the backlog) until the node knows the room, so
            # their welcome is right; a bus that does not answer soon is an outage.
            self._accept_paused = True
            self._timers.call_at(self._now + BUS_STARTUP_WAIT, self._resume_accepting)
        else:
            self._resume_accepting(None)

    @property
    def address(self) -> str:
        """The chat port's address, host:port."""
        return format_address(*self._listeners[TCP].getsockname()[:2])

    # -- the loop ---------------------------------------------------------------

    def serve_forever(self, ready: Callable[[], None] = lambda: None) -> None:
        """Run until SIGINT or SIGTERM, then shut down gracefully.

        `ready` is called once the signal handlers are in place, so whoever
        waits for it may signal the server at once.
        """
        with signals_as_input(("SIGINT", "SIGTERM")) as signal_fd:
            self._selector.register(signal_fd, EVENT_READ, lambda _: self._on_signal(signal_fd))
            try:
                ready()
                while not self.finished():
                    self.run_once()
            finally:
                self._selector.unregister(signal_fd)
                self.close()

    def run_once(self, timeout: Optional[float] = None) -> None:
        """One pass of the loop (see the module docstring). `timeout` caps the
        wait for I/O (tests pass 0); by default the first timer sets it."""
        wait = 0.0 if self._owed_reads else self._timers.timeout(self._clock())
        if timeout is not None:
            wait = timeout if wait is None else min(wait, timeout)
        events = self._selector.select(wait)
        self._now = self._clock()
        self._time_ms = int(self._wall_clock() * 1000)
        self.counters.loop_passes += 1
        budget = self._read_budget()
        # Each readable client's share of the budget: a few big senders must
        # not take a whole pass each while everyone else waits for a turn.
        self._share = max(MIN_READ_SHARE, budget // (len(events) + len(self._owed_reads) or 1))
        served: Optional[Set[Connection]] = None
        if self._owed_reads:  # their turn comes before anyone read last pass
            owed, self._owed_reads = self._owed_reads, []
            served = set(owed)
            for conn in owed:
                budget = self._read(conn, budget)
        for key, mask in events:
            conn = key.data
            if conn.__class__ is Connection:
                if mask & EVENT_READ and conn.reading and (served is None or conn not in served):
                    budget = self._read(conn, budget)
                if mask & EVENT_WRITE:
                    self._dirty.add(conn)
            else:
                conn(mask)  # a listener, the signal pipe, a link to the bus
        if self._stop_requested:
            self._stop_requested = False
            self.stop()
        self._timers.run_due(self._now)
        while True:
            self._deliver_batch()
            if self._closing_websockets:
                self._send_close_frames()
            self._flush()
            if not self._doomed:
                break
            self._reap()
        if self._bus is not None:
            self._bus.end_pass(self._time_ms)

    def _read_budget(self) -> int:
        """Bytes this pass may read, across all clients: about DELIVERY_BUDGET
        delivered, whatever the number of members."""
        return max(MIN_READ_BUDGET, min(
            MAX_READ_BUDGET, DELIVERY_BUDGET // (len(self._room.members) + 1)))

    def stop(self) -> None:
        """Begin a graceful shutdown: notify everyone, flush, then close."""
        if self._stop_deadline is not None:
            return
        log.info("shutting down: %d connections", len(self._conns))
        self._stop_deadline = self._now + SHUTDOWN_GRACE
        self._timers.call_at(self._stop_deadline, lambda _: None)  # wakes select() then
        self._close_listeners()
        self._apply(self._room.shutdown())
        if self._bus is not None:  # the other nodes' members are told, and the names freed
            self._apply(self._room.depart_all("server shutting down"))
        for conn in list(self._conns):
            if conn.state is OPEN:
                self._set_state(conn, DRAINING)

    def finished(self) -> bool:
        """True once a shutdown has drained every connection or run out of time."""
        if self._stop_deadline is None:
            return False
        settled = self._bus is None or self._bus.settled()
        return (not self._conns and settled) or self._now >= self._stop_deadline

    def close(self) -> None:
        """Close every socket now, flushed or not."""
        self._stop_deadline = self._stop_deadline or self._now  # no leave notices
        for conn in list(self._conns):
            if conn.state is not DROPPING:
                self._set_state(conn, DROPPING)
        self._reap()
        self._close_listeners()
        if self._bus is not None:
            self._bus.close()
        self._selector.close()

    def _on_signal(self, fd: int) -> None:
        # Only set a flag: run_once acts on it at a safe point of the pass.
        if read_signals(fd):
            self._stop_requested = True

    # -- lifecycle: every change of State happens here --------------------------

    def _set_state(self, conn: Connection, new: State, why: str = "") -> None:
        old = conn.state
        assert new in TRANSITIONS[old], f"{conn!r}: {old} -> {new}"
        if old is OPEN:
            name = self._room.name_of(conn)
            label = f"{conn!r} ({name})" if name else repr(conn)
            if why:
                log.info("%s closed: %s", label, why)
            conn.reading = False
            self._timers.cancel(conn.timer)
            conn.timer = None
            self._count_named(conn)
            if self._stop_deadline is None:  # at shutdown nobody needs leave notices
                self._apply(self._room.disconnect(conn, now=self._now))
        conn.state = new
        if new is DRAINING:
            if isinstance(conn.proto, WebSocketLines):
                self._closing_websockets.append(conn)  # a close frame (ours or a reply), last
            conn.timer = self._timers.call_at(self._now + CLOSE_GRACE, self._grace_over, conn)
            self._dirty.add(conn)  # the flush closes it once nothing is queued
            self._update_interest(conn)
        elif new is DROPPING:
            if old is DRAINING and why:
                log.info("%r closed: %s", conn, why)
            self._timers.cancel(conn.timer)
            conn.timer = None
            conn.discard_output()
            self._doomed.add(conn)
        elif new is CLOSED:
            self._conns.discard(conn)
            self._count_connection(conn.kind, -1)
            self._dirty.discard(conn)
            if conn.events:
                self._selector.unregister(conn.sock)
                conn.events = 0
            _close_socket(conn.sock, reset=old is DROPPING)
            log.debug("%r closed", conn)

    def _grace_over(self, conn: Connection) -> None:
        if conn.state is DRAINING:
            conn.timer = None
            self._set_state(conn, DROPPING, "did not take its last lines in time")

    def _reap(self) -> None:
        """Close the connections that drained or were dropped."""
        doomed, self._doomed = self._doomed, set()
        for conn in doomed:
            self._set_state(conn, CLOSED)

    # -- accepting --------------------------------------------------------------

    def _acceptor(self, kind: Kind) -> Callable[[int], None]:
        return lambda _: self._accept(kind)

    def _accept(self, kind: Kind) -> None:
        listener = self._listeners[kind]
        for _ in range(ACCEPT_BATCH):
            try:
                sock, address = listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                if exc.errno in _FD_EXHAUSTED:
                    self._pause_accepting(exc)
                    return
                log.debug("accept failed: %s", exc)  # e.g. ECONNABORTED: already gone
                continue
            if self._out_of_fds:
                self._out_of_fds = False
                log.info("accepting again")
            host = address_group(address[0])
            if len(self._conns) >= self.limits.max_clients:
                log.warning("refused %s: server full", format_address(*address[:2]))
                _refuse(sock, SERVER_FULL if kind is TCP else None)
            elif 0 < self.limits.max_per_ip <= self._unnamed_per_address.get(host, 0):
                log.warning("refused %s: %d unnamed connections from that address",
                            format_address(*address[:2]), self.limits.max_per_ip)
                _refuse(sock, TOO_MANY_FROM_ADDRESS if kind is TCP else None)
            else:
                self._add_connection(sock, address, kind)

    def _pause_accepting(self, exc: OSError) -> None:
        if not self._out_of_fds:  # once per episode; the retries are not news
            self._out_of_fds = True
            log.warning("out of file descriptors (%s): not accepting; retrying every %g s",
                        exc.strerror, ACCEPT_RETRY_DELAY)
        self._accept_paused = True
        for listener in self._listeners.values():
            self._selector.unregister(listener)
        self._timers.call_at(self._now + ACCEPT_RETRY_DELAY, self._resume_accepting)

    def _resume_accepting(self, _: object) -> None:
        if self._accept_paused or not self._started:  # else a shutdown closed the listeners
            self._accept_paused, self._started = False, True
            for kind, listener in self._listeners.items():
                self._selector.register(listener, EVENT_READ, self._acceptor(kind))

    def _add_connection(self, sock: socket.socket, address: Tuple, kind: Kind) -> None:
        _tune(sock)
        limits = self.limits
        conn = Connection(sock, next(self._numbers), kind, self._protocol(kind), None)
        conn.address = address_group(address[0])
        self._unnamed_per_address[conn.address] = self._unnamed_per_address.get(conn.address, 0) + 1
        self._conns.add(conn)
        self._count_connection(kind, +1)
        self._update_interest(conn)
        log.info("%r from %s%s", conn, format_address(*address[:2]),
                 " (web)" if kind is HTTP else "")
        if kind is TCP:
            self._start_session(conn)
        else:  # idle or half-sent requests are closed after the name timeout too
            conn.timer = self._timers.call_at(self._now + limits.name_timeout, self._idle, conn)

    def _protocol(self, kind: Kind) -> LineBuffer | HttpConnection:
        if kind is TCP:
            return LineBuffer(self.limits.max_line)
        return HttpConnection(self._metrics, self._web_origins)

    def _start_session(self, conn: Connection) -> None:
        """`conn` speaks chat now (on connect, or after a WebSocket upgrade)."""
        limits = self.limits
        if limits.flood_rate > 0:
            conn.bucket = TokenBucket(limits.flood_burst, limits.flood_rate, self._now)
        conn.timer = self._timers.call_at(self._now + limits.name_timeout, self._no_name, conn)
        self._apply(self._room.connect(conn, conn.address or ""))

    def _count_connection(self, kind: Kind, change: int) -> None:
        name = _GAUGES[kind]
        setattr(self.counters, name, getattr(self.counters, name) + change)

    def _count_named(self, conn: Connection) -> None:
        """`conn` stopped counting against its address (it chose a name, or left)."""
        address = conn.address
        if address is None:
            return
        conn.address = None
        left = self._unnamed_per_address[address] - 1
        if left:
            self._unnamed_per_address[address] = left
        else:
            del self._unnamed_per_address[address]

    def _no_name(self, conn: Connection) -> None:
        conn.timer = None
        if conn.state is OPEN:
            log.info("%r: no name in time", conn)
            self._apply(self._room.name_timeout(conn, self.limits.name_timeout))

    # -- reading ----------------------------------------------------------------

    def _read(self, conn: Connection, budget: int) -> int:
        """One read from `conn` if the pass's budget allows; returns what is left."""
        if budget <= 0:
            self._owed_reads.append(conn)
            return budget
        if not conn.reading:  # throttled or closed since it became readable
            return budget
        try:
            received = conn.read_once(self._recv_buffer, min(RECV_SIZE, budget, self._share))
            if received is None:
                return budget
            if received == GONE:
                self._set_state(conn, DROPPING, "connection reset")
                return budget
            conn.proto.feed(self._recv_buffer[:received] if received else b"")
            if conn.kind is HTTP:
                self._serve_http(conn)
            elif not self._handle_lines(conn) and conn.reading and conn.bucket is not None:
                self._charge_read(conn, conn.bucket)
        except Exception:  # a bug one client found must not stop everyone
            log.exception("%r: unexpected error", conn)
            if conn.state is OPEN or conn.state is DRAINING:
                self._set_state(conn, DROPPING, "unexpected error")
            return budget
        return budget - received

    def _handle_lines(self, conn: Connection) -> int:
        """Hand complete lines to the room while the client's budget lasts;
        returns how many it took."""
        proto = cast(Union[LineBuffer, WebSocketLines], conn.proto)
        bucket, now, room = conn.bucket, self._now, self._room
        taken = 0
        while conn.reading:
            if bucket is not None and not bucket.ready(now):
                if proto.has_line():  # else nothing is held back: no need to say so
                    self._hold_back(conn)
                break
            line = proto.next_line()
            if line is None:
                break
            if line is END:  # the peer is done sending (maybe only half-closed)
                self._set_state(conn, DRAINING, "end of stream")
                break
            taken += 1
            if isinstance(line, bytes):
                if bucket is not None:
                    bucket.take(now, line_cost(len(line)))
                self._apply(room.receive(conn, line.decode("utf-8", "replace")))
            else:  # LINE_TOO_LONG: its bytes were read (and cost) all the same
                if bucket is not None:
                    bucket.take(now, line_cost(self.limits.max_line))
                self._apply(room.line_too_long(conn, self.limits.max_line))
        self.counters.lines_received += taken
        if conn.kind is WS:
            self._answer_websocket(conn)
        return taken

    def _answer_websocket(self, conn: Connection) -> None:
        """Send the pongs the WebSocket protocol owes the peer at once, ahead of
        this pass's lines; a close reply waits for those (`_send_close_frames`)."""
        if isinstance(conn.proto, WebSocketLines) and conn.proto.close_code is None:
            control = conn.proto.data_to_send()
            if control:
                self._write(conn, control)

    # -- the web port: HTTP until an upgrade ----------------------------------------

    def _serve_http(self, conn: Connection) -> None:
        """Answer the requests `conn` sent, in order, while its output is drained:
        a client that pipelines requests but does not read is not read either."""
        http = conn.proto
        assert isinstance(http, HttpConnection)
        while conn.state is OPEN and not conn.out.pending:
            action = http.next_action()
            if action is NEED_DATA:
                break
            if action is CLOSE:
                self._set_state(conn, DRAINING, "end of stream")
                break
            self.counters.http_requests += 1
            if isinstance(action, Upgrade):
                self._upgrade(conn, action)
                return
            assert isinstance(action, Respond)
            self._write(conn, action.data)
            if action.close:
                if conn.state is OPEN:
                    self._set_state(conn, DRAINING)
                break
            self._timers.cancel(conn.timer)  # kept alive: the idle deadline starts again
            conn.timer = self._timers.call_at(
                self._now + self.limits.name_timeout, self._idle, conn)
        if conn.state is OPEN and conn.reading == bool(conn.out.pending):
            conn.reading = not conn.out.pending
            self._update_interest(conn)

    def _upgrade(self, conn: Connection, upgrade: Upgrade) -> None:
        """The handshake's answer goes out; from now on `conn` is a chat session."""
        self._write(conn, upgrade.data)
        self._timers.cancel(conn.timer)
        self._count_connection(HTTP, -1)
        self._count_connection(WS, +1)
        conn.kind = WS
        conn.proto = WebSocketLines(self.limits.max_line, upgrade.trailing)
        conn.frame = text_frame
        conn.reading = True
        self._update_interest(conn)
        log.info("%r: WebSocket", conn)
        self._start_session(conn)
        self._handle_lines(conn)  # lines that came with the handshake

    def _idle(self, conn: Connection) -> None:
        conn.timer = None
        if conn.state is OPEN:
            self._set_state(conn, DRAINING, "no request in time")

    def _metrics(self) -> bytes:
        counters = self.counters
        counters.members = len(self._room.members)
        if self._bus is not None:
            bus = self._bus
            counters.bus_up = int(bus.up)
            counters.bus_lag_seconds = bus.lag_ms / 1000
            counters.bus_waiting_lines = bus.outbox.waiting_lines
            counters.bus_outages = bus.outages
        return render(counters, self._clock())

    def _send_close_frames(self) -> None:
        """WebSockets this side closes get a close frame after their last lines."""
        code = GOING_AWAY if self._stop_deadline is not None else NORMAL
        closing, self._closing_websockets = self._closing_websockets, []
        for conn in closing:
            if conn.state is DRAINING:
                proto = cast(WebSocketLines, conn.proto)
                data = close_frame(code) if proto.close_code is None else proto.data_to_send()
                if data:  # none after a plain end of stream (1006)
                    self._write(conn, data)

    def _charge_read(self, conn: Connection, bucket: TokenBucket) -> None:
        """A read that completed no line still costs a fraction of one, so a
        client trickling bytes without newlines is read rarely, not per segment."""
        bucket.take(self._now, READ_COST)
        if not bucket.ready(self._now):
            self._hold_back(conn)

    def _hold_back(self, conn: Connection) -> None:
        """Out of flood budget: stop reading until a timer says it refilled."""
        bucket = conn.bucket
        assert bucket is not None
        conn.reading = False
        self._update_interest(conn)
        self._timers.call_at(self._now + bucket.wait(self._now), self._resume_reading, conn)
        self.counters.flood_throttled += 1
        if bucket.new_episode():
            log.debug("%r: held back by flood control", conn)
            self._apply([Send(conn, slow_down(bucket.rate))])

    def _resume_reading(self, conn: Connection) -> None:
        if conn.state is OPEN:
            conn.reading = True
            self._handle_lines(conn)
            self._update_interest(conn)

    # -- effects ------------------------------------------------------------------

    def _apply(self, effects: List[Effect]) -> None:
        batch = self._batch
        for effect in effects:
            if isinstance(effect, Broadcast):  # a room line: numbered, kept in the history
                payload = self._encode(effect.line)
                bus = self._bus
                if bus is None:
                    seq = self._history.append(payload, self._time_ms, (len(payload),))
                    batch.broadcast(payload, effect.exclude, seq)
                elif effect.elsewhere:
                    bus.outbox.line(payload, None, effect.presence, delivered=True)
                elif not bus.outbox.line(payload, effect.exclude, effect.presence,
                                         delivered=not bus.up) or not bus.up:
                    batch.broadcast(payload, effect.exclude)  # no bus: here, at once
            elif isinstance(effect, Send):
                payload = self._encode(effect.line)
                tagged = None
                if effect.tags is not None:  # a tagged welcome, with its resume token
                    # Its seq is its own join notice's, the room line that follows
                    # it (and that it is not sent): a resume from here on misses
                    # nothing and repeats nothing, even if no room line came first.
                    # With a bus the join notice is numbered later, by Redis.
                    seq = self._history.last_seq + (self._bus is None)
                    tagged = wire.tag_line(payload, self._time_ms, effect.tags, seq)
                batch.send(payload, effect.to, tagged)
            elif isinstance(effect, Joined):
                conn = cast(Connection, effect.session)  # the room's sessions are ours
                batch.joined(conn)
                self._timers.cancel(conn.timer)
                conn.timer = None
                self._count_named(conn)
            elif isinstance(effect, Left):
                batch.left(effect.session)
            elif isinstance(effect, Tag):
                cast(Connection, effect.session).tagged = True
            elif isinstance(effect, Replay):
                self._replay(cast(Connection, effect.session), effect.lines)
            elif isinstance(effect, Hold):
                self._holds[effect.session] = self._timers.call_at(
                    effect.deadline, self._hold_over, effect.session)
            elif isinstance(effect, Unhold):  # the timer would keep its connection alive
                self._timers.cancel(self._holds.pop(effect.session, None))
            elif isinstance(effect, Charge):
                bucket = cast(Connection, effect.session).bucket
                if bucket is not None:
                    bucket.take(self._now, effect.tokens)
            elif isinstance(effect, Keep):
                self._room.sessions.keep(effect.session, self._time_ms, encode(effect.line))
            elif isinstance(effect, ResumeAsked):
                self._resume(cast(Connection, effect.session), effect.token, effect.last_seq)
            elif isinstance(effect, (Claim, Release, Relay)):
                if self._bus is not None:
                    self._bus_names(effect)
            else:  # Close: a goodbye said, a name timeout, a session taken over
                conn = cast(Connection, effect.session)
                if conn.state is OPEN:
                    self._set_state(conn, DRAINING)

    # -- history and resume -------------------------------------------------------

    def _replay(self, conn: Connection, count: int) -> None:
        """The last room lines for a newcomer, right after its welcome."""
        lines = self._history.last(count)
        if not lines:
            return
        start, end = encode(wire.history_start(len(lines))), encode(wire.history_end())
        if conn.tagged:
            start, end = wire.tag_line(start, self._time_ms), wire.tag_line(end, self._time_ms)
        # The history's own bytes, not a copy per newcomer (`replay`).
        self._batch.send([start, *replay(lines, conn.tagged), end], conn)

    def _resume(self, conn: Connection, token: str, last_seq: int) -> None:
        """``/resume``: take the held session over with every line it missed,
        or say the gap (never a silent one)."""
        bus = self._bus
        if bus is not None and self._room.sessions.by_token(token) is None \
                and resume.token_epoch(token) == self._history.epoch:
            hashed = resume.token_hash(token)  # perhaps a session of another node
            if bus.takeover(hashed, lambda reply: self._taken_over(hashed, reply)):
                # The former node lets the session go when it reads the move
                # from the stream; so does this node, and by then its history
                # holds every line the former node could have sent: the resume
                # is completed there (`_moved_here`), whichever comes first,
                # Redis' answer or the move.
                self._moving[hashed] = (conn, token, last_seq)
                conn.reading = False  # until then its lines wait in the kernel
                self._update_interest(conn)
                return
        self._resume_here(conn, token, last_seq)

    def _taken_over(self, hashed: str, reply: Optional[Sequence[bytes]]) -> None:
        """Redis answered a resume with a token this node does not know: no
        session (a gap), or one of this node's; else the move completes it."""
        if reply is not None and reply[0].decode() != cast(Bus, self._bus).node:
            return
        waiting = self._moving.pop(hashed, None)
        if waiting is not None and waiting[0].state is OPEN:
            conn, token, last_seq = waiting
            self._resume_here(conn, token, last_seq)
            self._resume_reading(conn)  # and the lines it sent after the /resume

    def _resume_here(self, conn: Connection, token: str, last_seq: int) -> None:
        outcome = resume.decide(self._history, self._room.sessions, token, last_seq, self._now)
        if isinstance(outcome, resume.Resumed):
            claim = self._claims.pop(outcome.member.session, None)
            if claim is not None:  # the name is claimed by the session, now on `conn`
                self._claims[conn] = claim
            self._apply(self._room.resumed(outcome.member, conn))
            self._batch.send(resume.welcome_back(outcome, self._time_ms), conn)
            return
        # Debug, not info: one address refused at its flood rate would log GBs a day.
        log.debug("%r: resume refused: %s", conn, outcome.kind.value)
        self._apply([Send(conn, resume.gap_line(outcome))])
        if outcome.ends is not None:
            self._apply(self._room.release(outcome.ends.session))

    def _moved_here(self, move: Moved) -> None:
        """Our own move read back: the session is this node's; fill its gap."""
        conn, token, last_seq = self._moving.pop(move.token_hash)
        self._room.remote_presence(move.former, "-" + move.name)
        if conn.state is not OPEN:  # moved here for nobody: let the name go
            self._let_go(move.name, move.token_hash)
            return
        lines = self._history.after(last_seq)
        if isinstance(lines, list):
            self._apply(self._room.adopt(conn, move.name, token))
            # Redis moved the name's claim here already; heartbeats renew it.
            self._claims[conn] = (move.key, move.name, move.since, move.token_hash)
            member = self._room.sessions.get(conn)
            assert member is not None
            missed = resume.missed(lines, move.name)
            pieces = resume.welcome_back(resume.Resumed(member, missed, [], 0, False),
                                         self._time_ms)
            self._batch.send(pieces, conn)
        else:
            gap = resume.Gap(resume.GapKind.HISTORY, lines.missing)
            log.debug("%r: resume refused: %s", conn, gap.kind.value)
            self._apply([Send(conn, resume.gap_line(gap))])
            self._let_go(move.name, move.token_hash)
        self._resume_reading(conn)  # and the lines it sent after the /resume

    def _let_go(self, name: str, hashed: str) -> None:
        """A session moved here ended before it was resumed: its name is free."""
        cast(Bus, self._bus).outbox.release(name_key(name), hashed)
        self._apply([Broadcast(wire.left(name, "connection lost"), presence="-" + name)])

    def _hold_over(self, session: Hashable) -> None:
        self._holds.pop(session, None)
        self._apply(self._room.expire(session))

    # -- the bus: what the other nodes did, and what they must know -------------

    def _bus_names(self, effect: Union[Claim, Release, Relay]) -> None:
        """Names and direct lines the other nodes must know of."""
        outbox = cast(Bus, self._bus).outbox
        if isinstance(effect, Relay):
            outbox.direct(name_key(effect.name), encode(effect.line))
        elif isinstance(effect, Claim):
            member = self._room.sessions.get(effect.session)
            hashed = member.token_hash if member is not None else ""
            # When, to the microsecond: of two nodes that gave a name out during
            # an outage, the earlier keeps it (a tie goes by node id).
            since = int(self._wall_clock() * 1_000_000)
            claim = (name_key(effect.name), effect.name, since, hashed)
            self._claims[effect.session] = claim
            outbox.claim(*claim)
        else:
            held = self._claims.pop(effect.session, None)
            outbox.release(name_key(effect.name), held[3] if held and effect.final else "")

    def bus_synced(self, epoch: str, lines: List[RoomLine],
                   names: Dict[str, Tuple[str, str]], new_epoch: bool) -> None:
        bus = cast(Bus, self._bus)
        self._room.remote_synced(names, bus.node)
        if not self._started:
            self._resume_accepting(None)
        if new_epoch:  # the room's numbering is Redis' from now on
            self._history = MemoryHistory(epoch, self.limits.history)
            for line in lines:
                self._history.append(line.data, line.time_ms, (len(line.data),), line.seq)

    def bus_entries(self, entries: List[Entry]) -> None:
        node, room, batch, history = cast(Bus, self._bus).node, self._room, self._batch, \
            self._history
        for entry in entries:
            if entry.__class__ is RoomLine:  # the hot path
                line = cast(RoomLine, entry)
                seq = history.append(line.data, line.time_ms, (len(line.data),), line.seq)
                own = line.own
                if own is None:
                    if line.presence and line.node != node:
                        if line.presence.endswith("\t" + node):  # "gone", said of ours:
                            continue  # our members know better (see `bus_reaped_us`)
                        room.remote_presence(line.node, line.presence)
                    batch.broadcast(line.data, None, (seq, line.time_ms))
                elif not own.delivered:
                    batch.broadcast(line.data, own.exclude, (seq, line.time_ms))
            elif isinstance(entry, DirectLine):
                self._direct_from_bus(entry)
            elif isinstance(entry, NameLost):
                if entry.node == node:
                    self._apply(room.name_lost(entry.key))
            elif isinstance(entry, Moved):
                self._bus_moved(entry, node)

    def _direct_from_bus(self, line: DirectLine) -> None:
        session = self._room.holder(line.key)
        if session is None:
            return  # gone meanwhile: like a line to someone who just left
        if self._room.is_held(session):
            self._room.sessions.keep(session, line.time_ms, line.data)
        else:
            self._batch.send(line.data, session, wire.tag_line(line.data, line.time_ms))

    def _bus_moved(self, move: Moved, node: str) -> None:
        if move.node == node:
            if move.token_hash in self._moving:
                self._moved_here(move)
            return
        member = self._room.sessions.by_hash(move.token_hash) if move.former == node else None
        if member is None:
            self._room.remote_presence(move.node, "+" + move.name)
            return
        kept = list(member.kept)
        self._claims.pop(member.session, None)  # the name is the other node's now
        self._apply(self._room.moved_away(member, move.node))
        outbox = cast(Bus, self._bus).outbox
        for direct in kept:  # they follow it there
            outbox.direct(move.key, direct.data)

    def bus_lost(self, keys: List[str]) -> None:
        for key in keys:
            self._apply(self._room.name_lost(key))

    def bus_reaped(self, names: List[str]) -> None:
        self._apply(self._room.remote_gone(names))

    def bus_reaped_us(self) -> None:
        self._apply(self._room.announce_all())

    def bus_state(self, up: bool, why: str) -> None:
        bus = cast(Bus, self._bus)
        if not self._started:  # no bus at startup: start in an outage
            self._resume_accepting(None)
        if up:
            if bus.outbox.waiting_lines:
                log.info("bus back: publishing %d lines kept meanwhile", bus.outbox.waiting_lines)
            if bus.outbox.unpublished:
                log.warning("bus back: %d lines made during the outage were over the bound "
                            "and reached this node's members only", bus.outbox.unpublished)
                bus.outbox.unpublished = 0
            if self._bus_trouble_told:
                self._bus_trouble_told = False
                self._tell_members(wire.notice("other servers reachable again"))
            return
        for own in bus.outbox.deliver_here():  # published, not read back: here, now
            self._batch.broadcast(own.payload, own.exclude)
        if not self._bus_trouble_told:
            self._bus_trouble_told = True
            self._tell_members(wire.notice("other servers unreachable; messages may be delayed"))

    def _tell_members(self, line: ServerLine) -> None:
        """A notice from this node to its own members alone (not a room line)."""
        self._batch.broadcast(encode(line))

    def bus_claims(self) -> List[Arg]:
        return [part for claim in self._claims.values() for part in claim]

    def _render_tagged(self, payload: bytes, note: object) -> bytes:
        """A batch item as a tagged member gets it: a room line with its seq and
        time; a direct line with its time, or the tagged bytes made for it."""
        if isinstance(note, int):
            return wire.tag_prefix(note, self._time_ms) + payload
        if isinstance(note, tuple):  # a line from the bus: its seq, and when it was said
            return wire.tag_prefix(note[0], note[1]) + payload
        if isinstance(note, bytes):
            return note
        return wire.tag_prefix(None, self._time_ms) + payload

    def _encode(self, line: ServerLine) -> bytes:
        """A line's bytes; the same line object twice in a row (a /who answer
        asked for by many) is encoded once and its bytes shared."""
        last, payload = self._encoded
        if line is not last:
            payload = encode(line)
            self._encoded = (line, payload)
        return payload

    def _deliver_batch(self) -> None:
        """Queue the pass's lines for every recipient: one piece each."""
        if not self._batch:
            return
        members = self._room.members
        batch, self._batch = self._batch, Batch()
        self.counters.deliveries += batch.deliveries(len(members))
        shared, own = batch.split(members)
        tagged: Optional[Tuple[bytes, Dict[Hashable, List[Piece]]]] = None  # made if needed
        framed: Dict[Tuple[object, bool], bytes] = {}  # shared, once per kind and tagging
        if shared:
            for conn in cast(List[Connection], list(members)):  # a send may fail: a copy
                if conn in own:
                    continue
                if conn.frame is None and not conn.tagged:  # the hot path
                    self._write(conn, shared)
                    continue
                data = framed.get((conn.frame, conn.tagged))
                if data is None:
                    data = shared
                    if conn.tagged:
                        if tagged is None:
                            tagged = batch.split(members, self._render_tagged)
                        data = tagged[0]
                    if conn.frame is not None:
                        data = conn.frame(data)
                    framed[(conn.frame, conn.tagged)] = data
                self._write(conn, data)
        for who, pieces in own.items():
            conn = cast(Connection, who)
            if conn.tagged:
                if tagged is None:
                    tagged = batch.split(members, self._render_tagged)
                pieces = tagged[1][who]
            if pieces and conn.state is not DROPPING and conn.state is not CLOSED:
                self._write_own(conn, pieces)

    def _write(self, conn: Connection, data: bytes) -> None:
        if conn.events & EVENT_WRITE:  # waiting for the selector: queue, don't retry
            conn.out.append(data)
            self._check_output(conn)
            return
        queued = conn.write(data)
        if queued == 0 and conn.state is OPEN and conn.kind is not HTTP:  # the hot path
            self.counters.bytes_sent += len(data)
        else:
            self._sent(conn, self._count_sent(len(data), queued))

    def _write_own(self, conn: Connection, pieces: List[Piece]) -> None:
        if conn.frame is not None:  # a WebSocket: one text frame, its pieces not joined
            pieces = text_frame_pieces(pieces)
        size = sum(map(len, pieces))
        if conn.events & EVENT_WRITE:
            conn.out.extend(pieces, size)
            self._check_output(conn)
        else:
            queued = conn.out.pending + size
            self._sent(conn, self._count_sent(queued, conn.write_pieces(pieces)))

    def _count_sent(self, before: int, after: int) -> int:
        """Count what one send took (`before` - `after` bytes queued); pass `after` on."""
        if after >= 0:
            self.counters.bytes_sent += before - after
        return after

    # -- writing and output limits ------------------------------------------------

    def _flush(self) -> None:
        """One send for each connection the selector found writable (or draining)."""
        dirty, self._dirty = self._dirty, set()
        for conn in dirty:
            if conn.state is OPEN or conn.state is DRAINING:
                self._sent(conn, self._count_sent(conn.out.pending, conn.flush()))

    def _sent(self, conn: Connection, queued: int) -> None:
        """After a send: close, drop, or ask for write readiness as it turned out."""
        if queued == 0:  # the common case: everything went
            conn.over_soft_since = 0.0
            if conn.state is DRAINING:
                self._doomed.add(conn)
            elif conn.kind is HTTP and not conn.reading:  # answered: on to its next request
                self._serve_http(conn)
            elif conn.events & EVENT_WRITE:
                self._update_interest(conn)
        elif queued == GONE:
            if conn.state is not DROPPING:
                self._set_state(conn, DROPPING, "connection lost while sending")
        else:
            if queued <= self.limits.soft_output:
                conn.over_soft_since = 0.0
            self._check_output(conn)
            if conn.state is not DROPPING:
                self._update_interest(conn)

    def _check_output(self, conn: Connection) -> None:
        """Apply the output limits to a connection whose queue just grew."""
        queued, limits = conn.out.pending, self.limits
        if queued > limits.max_output:
            self._drop_slow(conn, f"{queued} bytes of output queued, over the hard limit "
                                  f"of {limits.max_output}")
        elif queued > limits.soft_output and not conn.over_soft_since:
            conn.over_soft_since = self._now
            self._timers.call_at(self._now + limits.soft_output_seconds,
                                 self._check_soft_limit, conn)

    def _check_soft_limit(self, conn: Connection) -> None:
        limits = self.limits
        since = conn.over_soft_since
        if (conn.state is OPEN or conn.state is DRAINING) and since \
                and self._now - since >= limits.soft_output_seconds \
                and conn.out.pending > limits.soft_output:
            self._drop_slow(conn, f"output queue over {limits.soft_output} bytes for "
                                  f"{limits.soft_output_seconds:g} s")

    def _drop_slow(self, conn: Connection, why: str) -> None:
        log.warning("%r (%s) is not reading: %s", conn,
                    self._room.name_of(conn) or "unnamed", why)
        self.counters.slow_readers_dropped += 1
        self._set_state(conn, DROPPING, "too slow")

    def _update_interest(self, conn: Connection) -> None:
        """Register exactly the readiness this connection waits for."""
        wanted = (EVENT_READ if conn.reading else 0) | (EVENT_WRITE if conn.out.pending else 0)
        if wanted == conn.events:
            return
        if not conn.events:
            self._selector.register(conn.sock, wanted, conn)
        elif not wanted:
            self._selector.unregister(conn.sock)
        else:
            self._selector.modify(conn.sock, wanted, conn)
        conn.events = wanted

    def _close_listeners(self) -> None:
        for listener in self._listeners.values():
            if not self._accept_paused:
                self._selector.unregister(listener)
            listener.close()
        self._listeners = {}
        self._accept_paused = False


def _tune(sock: socket.socket) -> None:
    """Non-blocking, no Nagle delay, and bounded waits for a vanished peer."""
    sock.setblocking(False)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    for option, value in KEEPALIVE + (("TCP_USER_TIMEOUT", USER_TIMEOUT_MS),):
        if hasattr(socket, option):
            sock.setsockopt(socket.IPPROTO_TCP, getattr(socket, option), value)


def _refuse(sock: socket.socket, line: Optional[ServerLine]) -> None:
    """Best effort: tell a newcomer why it cannot stay (a chat client, which
    reads first: an HTTP client would take the line for a response), then close."""
    sock.setblocking(False)
    if line is not None:
        try:
            sock.send(encode(line))
        except OSError:
            pass
    _close_socket(sock)


def _close_socket(sock: socket.socket, reset: bool = False) -> None:
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
