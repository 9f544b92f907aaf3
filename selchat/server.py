"""The event loop: one pass at a time, and every connection's lifecycle.

This module is the loop and nothing else; each concern it drives has a module
of its own:

====================== ==================================================================
`selchat.listeners`    listening sockets, accepting, refusing, tuning and closing sockets
`selchat.lines`        a chat session's lines to the room (chat port, and WebSocket's base)
`selchat.throttle`     flood control: input paid for from a budget, clients held back
`selchat.web.driver`   the web port: HTTP requests, the upgrade, WebSocket close frames
`selchat.effects`      the room's effects carried out; history replay and ``/resume``
`selchat.output`       the pass's batch to every recipient; sends; output limits
`selchat.bus.bridge`   the room shared with other nodes through the bus (``--bus``)
`selchat.tls_port`     TLS ports: handshakes bounded per pass, then connections that seal
`selchat.proxied_port` behind ``--trusted-proxy``: the PROXY header names the client
====================== ==================================================================

Theory of operation
-------------------
Each client is a `Connection`, registered with the selector and hung on
``key.data``. Its `Kind` (``conn.kind``, one object per kind: chat port,
HTTP, WebSocket) is what differs between them: what its bytes mean (its
sans-I/O ``conn.proto``) and what is done with them; the loop calls the kind
and never asks which one it is. The chat rules live in `ChatRoom`, which
answers each line with effects (Send, Broadcast, Close, Joined, Left, and for
history and resume Tag, Replay, Hold, Keep, ResumeAsked), carried out by
`selchat.effects`. Every deadline (name timeout, close grace, flood refill,
output-limit check, session hold, accept back-off, shutdown) is one entry in
`Timers`, a heap. One call of `run_once` is one pass:

1. ``select()``, with the timeout of the first timer (0 if reads are owed).
2. The listeners: accept a bounded batch; register each newcomer for reading
   (`selchat.listeners.Listeners`).
3. Readable clients, in turn, while the pass's read budget lasts: one ``recv``
   each, of at most its fair share of the budget, fed to its protocol; then
   its kind acts on it (``Kind.received``): a chat session's lines go to the
   room while its flood budget lasts (an empty budget stops reading that
   client until a timer refills it: the rest waits in the kernel), HTTP
   requests are answered while theirs lasts, a few per pass. Clients the
   budget did not reach are served first next pass, so everyone's turn comes
   and a burst storm costs each pass a bounded amount of work. Members are read
   first; those not members yet after them, NEWCOMER_READS_PER_PASS a pass, and
   members found reset leave DEPARTURES_PER_PASS a pass (a reconnect storm).
4. Due timers run.
5. Effects are *queued*, never sent: every Send and Broadcast joins the pass's
   `Batch`, delivered once after the reads (`selchat.output.Output.deliver`).
   A broadcast is a room line: it is numbered and kept in the history as the
   bytes already built. Broadcasts are joined into one payload shared by
   every ordinary member (framed once per connection kind, tagged once for
   the members that asked for tags); the few with something particular (a
   sender, who gets no echo; a Send's target; one that joined or left during
   the pass) get slices of it. Then each kind sends what must follow the
   pass's lines (``Kind.after_batch``: WebSocket close frames).
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
arrives in step 3, through `selchat.bus.bridge.BusBridge`. Delivery is then
as in step 5. While the bus is down, room lines are delivered here at once
and kept for it.

Lifecycle: a connection's `State` changes in `_set_state` alone, along
`TRANSITIONS` (any other move raises `IllegalTransition`): OPEN -> DRAINING
(stop reading, output drains within CLOSE_GRACE) or DROPPING (output
discarded) -> CLOSED (in `_reap`, the only place a socket is closed, at the
end of the pass, so no socket disappears while a broadcast walks the members).
Leaving OPEN is the one place the room is told that a session ended. Whoever
decides a connection is over (the room's Close, an end of stream, an output
limit, a failed send, a timer) asks `_set_state`; nobody else closes anything.
"""
import itertools
import logging
import secrets
import selectors
import signal
import socket
import time
from typing import Callable, Dict, List, Optional, Sequence, Set, Tuple

from selchat.batch import Batch
from selchat.bus.address import BusAddress
from selchat.bus.bridge import BusBridge
from selchat.bus.protocol import MAX_STREAM_BYTES
from selchat.connection import (
    GONE, RECV_SIZE, TRANSITIONS, Connection, IllegalTransition, Kind, State,
)
from selchat.archive import Archive
from selchat.effects import Effects
from selchat.history import MemoryHistory
from selchat.limits import Limits
from selchat.lines import LineKind
from selchat.listeners import Listeners, close_socket
from selchat.output import Output
from selchat.addresses import format_address
from selchat.effect_types import Effect
from selchat.room import ChatRoom
from selchat.accounts.driver import DEFAULT_OPTIONS, AccountOptions, Accounts
from selchat.storage import Storage
from selchat.timers import Timers
from selchat.wakeup import read_signals, signals_as_input
from selchat.web.driver import HttpKind, WebSocketKind
from selchat.web.metrics import Counters
from selchat.tls import Certificates
from selchat.tls_port import TlsPort, reload_certificates
from selchat.proxied_port import ProxiedPort
from selchat.trusted_proxies import TrustedProxies
from selchat import resume

log = logging.getLogger(__name__)

EVENT_READ = selectors.EVENT_READ
EVENT_WRITE = selectors.EVENT_WRITE
OPEN, DRAINING, DROPPING, CLOSED = State.OPEN, State.DRAINING, State.DROPPING, State.CLOSED

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
#: Reads per pass from connections that are not members yet (a name line, a
#: /resume, an HTTP request), after every member's read. Claiming a name
#: costs 100-200 us (its look-alike checks, the welcome): a reconnect storm
#: of 2,000 named all in one pass stalled every member's chat for 0.3-0.4 s.
#: 64 is about 10 ms a pass; the rest wait their turn, first come first served.
NEWCOMER_READS_PER_PASS = 64
#: Members found gone (reset while reading or sending) that leave the room per
#: pass. A leave costs 0.1-0.35 ms (the room, the notices, closing the socket):
#: 2,000 resets read in one pass stalled the chat 0.2-0.75 s. The rest wait,
#: not read, in the order found, for the next passes (64: about 10-20 ms a pass).
DEPARTURES_PER_PASS = 64
#: With a bus, a node starts accepting once it has read the room from Redis,
#: or after this long without an answer (then it starts in an outage).
BUS_STARTUP_WAIT = 3.0
#: A connection that said goodbye (or sent EOF) gets this long to take its
#: last lines before it is closed anyway.
CLOSE_GRACE = 5.0
#: On Ctrl-C or SIGTERM, pending output is flushed for at most this long.
SHUTDOWN_GRACE = 2.0
DEFAULT_LIMITS = Limits()
#: Another port of the server's (`selchat.irc.port`): given the server, its
#: kind, the kind its listener is keyed by (the same, or a `TlsPort` around
#: it) and its listening socket.
Port = Callable[["Server"], Tuple[Kind, Kind, socket.socket]]


class Server:
    """A chat server on one listening socket (and a web listener, if given);
    drive it with `serve_forever`, or pass by pass with `run_once` (tests do,
    with a fake clock)."""

    def __init__(
        self,
        listener: Optional[socket.socket],
        limits: Limits = DEFAULT_LIMITS,
        clock: Callable[[], float] = time.monotonic,
        web_listener: Optional[socket.socket] = None,
        web_origins: Sequence[str] = (),
        wall_clock: Callable[[], float] = time.time,
        web_hosts: Sequence[str] = (),
        bus: Optional[BusAddress] = None,
        bus_retention: float = 600.0,
        bus_lease: float = 15.0,
        bus_max_bytes: int = MAX_STREAM_BYTES,
        certificates: Optional[Certificates] = None,
        tls_listener: Optional[socket.socket] = None,
        trusted_proxies: Sequence[str] = (),
        storage: Optional[Storage] = None,
        accounts: AccountOptions = DEFAULT_OPTIONS,
        ports: Sequence["Port"] = (),
    ) -> None:
        self.limits = limits
        self._clock = clock
        self._now = clock()
        self._selector = selectors.DefaultSelector()
        self._timers = Timers()
        self._wall_clock = wall_clock  # for the time tags only
        self._time_ms = 0  # the pass's wall-clock time, for its tags
        #: The room's numbered lines: replay on join, resume after a drop. Its
        #: epoch is in every resume token, so a restarted server knows its own.
        #: With a data directory the epoch is the database's (kept across restarts).
        self.storage = storage if storage is not None else Storage.memory()
        self._history = MemoryHistory(self.storage.epoch, limits.history)
        resumable = limits.history > 0 and limits.resume_window > 0
        #: Accounts, operators, bans and room rules, in the same data directory.
        self.accounts = Accounts(self.storage.path, accounts, wall_clock)
        self._room: ChatRoom[Connection] = ChatRoom(
            resume_window=limits.resume_window if resumable else 0.0,
            replay=limits.replay if limits.history else 0,
            new_token=lambda: resume.new_token(self._history.epoch, secrets.token_bytes),
            max_held=limits.max_held, max_held_per_group=limits.max_per_ip,
            default_room="#" + limits.default_room.lstrip("#"), max_rooms=limits.max_rooms,
            max_rooms_per_member=limits.max_rooms_per_member,
            announce_limit=limits.announce_limit,
            authority=self.accounts.authority,
        )
        self.counters = Counters(self._now)
        self._conns: Set[Connection] = set()  # every connection not yet CLOSED
        self._numbers = itertools.count(1)  # numbers connections in the log
        self._recv_buffer = memoryview(bytearray(RECV_SIZE))  # shared: one recv at a time
        self._batch: Batch[Connection] = Batch()  # this pass's lines, delivered at its end
        self._owed_reads: List[Connection] = []  # readable, not reached by last pass's budget
        #: Readable non-members, in the order they became readable, not yet read
        #: (NEWCOMER_READS_PER_PASS a pass, after the members): an ordered set.
        self._newcomer_reads: Dict[Connection, None] = {}
        #: Members found gone, past this pass's DEPARTURES_PER_PASS: why, in order.
        self._departing: Dict[Connection, str] = {}
        self._departures_left = DEPARTURES_PER_PASS
        self._share = RECV_SIZE  # bytes one client may be read in this pass
        self._doomed: Set[Connection] = set()  # to close at the end of the pass
        self._stop_requested = False
        self._stop_deadline: Optional[float] = None
        self._output = Output(self)
        self._effects = Effects(self)
        self._apply: Callable[[List[Effect]], None] = self._effects.apply
        self.accounts.start(self)
        #: With a data directory (and no bus), the rooms' lines on disk too,
        #: and the sessions across a restart (`selchat.archive`).
        self.archive: Optional[Archive] = None
        if self.storage.db is not None and bus is None:
            self.archive = Archive(self, self.storage)
            self._history.journal = self.archive.journal(None)
            self.archive.restore(self._history, self._room.rooms.default)
            self._room.rooms.recall = self.archive.recall
            self._room.keep_sessions = self._room.resume_window > 0
            self.archive.restore_sessions()
        #: The kinds of connection: one object each, shared by their connections.
        self._chat = LineKind(self)
        #: Behind trusted proxies, the chat ports read their PROXY header first.
        self.proxies = TrustedProxies(trusted_proxies)
        self._proxied_ports: List[ProxiedPort] = []
        self._chat_port = self._behind_proxies(self._chat)
        sockets: Dict[Kind, socket.socket] = {} if listener is None else {
            self._chat_port: listener}
        self._kinds: Tuple[Kind, ...] = (self._chat,)
        #: With certificates, TLS ports: their newcomers shake hands first.
        self.certificates = certificates
        self._tls_ports: List[TlsPort] = []
        if certificates is not None and tls_listener is not None:
            self._tls_ports.append(TlsPort(self, self._chat, certificates))
            sockets[self._behind_proxies(self._tls_ports[-1])] = tls_listener
        if web_listener is not None:
            websocket = WebSocketKind(self)
            scheme = "http" if certificates is None else "https"
            http = HttpKind(self, websocket, web_listener.getsockname()[0], web_origins, web_hosts,
                            scheme)
            web: Kind = http
            if certificates is not None:  # https and wss
                web = TlsPort(self, http, certificates)
                self._tls_ports.append(web)
            sockets[web] = web_listener
            self._kinds += (http, websocket)
        for port in ports:  # more kinds, each on a listener of its own (the IRC port)
            kind, listening, sock = port(self)
            sockets[listening] = sock
            if kind not in self._kinds:  # another port of a kind already here (over TLS)
                self._kinds += (kind,)
        self._listeners = Listeners(self, sockets)
        #: With a bus, the room is shared with other nodes through Redis.
        self._bridge: Optional[BusBridge] = None
        if bus is not None:
            self._bridge = BusBridge(self, bus, bus_retention, bus_lease, bus_max_bytes)
            self._time_ms = int(wall_clock() * 1000)
            self._bridge.bus.start()
            # Newcomers wait (in the backlog) until the node knows the room, so
            # their welcome is right; a bus that does not answer soon is an outage.
            self._timers.call_at(self._now + BUS_STARTUP_WAIT, self._listeners.start)
        else:
            self._listeners.start()

    @property
    def address(self) -> str:
        """The chat port's address, host:port."""
        return self._listeners.address(self._chat_port)

    def _behind_proxies(self, kind: Kind) -> Kind:
        """What a chat listener's newcomers are first: `kind`, or with trusted
        proxies the reader of their PROXY header."""
        if not self.proxies:
            return kind
        self._proxied_ports.append(ProxiedPort(self, kind, self.proxies))
        return self._proxied_ports[-1]

    # -- the loop ---------------------------------------------------------------------

    def serve_forever(self, ready: Callable[[], None] = lambda: None) -> None:
        """Run until SIGINT or SIGTERM, then shut down gracefully.

        `ready` is called once the signal handlers are in place, so whoever
        waits for it may signal the server at once.
        """
        signals = ("SIGINT", "SIGTERM") + (("SIGHUP",) if self.certificates else ())
        with signals_as_input(signals) as signal_fd:
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
        wait = 0.0 if self._owed_reads or self._newcomer_reads or self._departing \
            else self._timers.timeout(self._clock())
        if timeout is not None:
            wait = timeout if wait is None else min(wait, timeout)
        # Output held for a pass (`selchat.tls_port`) never waits for input: a
        # pass that finds none sends it at its end (`Output.release`).
        events = self._selector.select(0 if self._output.held else wait)
        started = time.perf_counter()
        self._now = self._clock()
        self._time_ms = int(self._wall_clock() * 1000)
        self.counters.loop_passes += 1
        budget = self._read_budget()
        # Each readable client's share of the budget: a few big senders must
        # not take a whole pass each while everyone else waits for a turn.
        self._share = max(MIN_READ_SHARE, budget // (len(events) + len(self._owed_reads) or 1))
        served: Optional[Set[Connection]] = None
        self._departures_left = DEPARTURES_PER_PASS
        if self._departing:  # those found gone earlier leave first
            self._depart_waiting()
        if self._owed_reads:  # their turn comes before anyone read last pass
            owed, self._owed_reads = self._owed_reads, []
            served = set(owed)
            for conn in owed:
                budget = self._read(conn, budget)
        writable = self._output.dirty.add
        members, newcomers = self._room.members, self._newcomer_reads
        for key, mask in events:
            conn = key.data
            if isinstance(conn, Connection):
                if mask & EVENT_READ and conn.reading and (served is None or conn not in served):
                    if conn in members:
                        budget = self._read(conn, budget)
                    else:  # a newcomer: after the members, a bounded number a pass
                        newcomers[conn] = None
                if mask & EVENT_WRITE:
                    writable(conn)
            else:
                conn(mask)  # a listener, the signal pipe, a link to the bus
        if newcomers:
            self._read_newcomers(budget)
        if self._stop_requested:
            self._stop_requested = False
            self.stop()
        self._timers.run_due(self._now)
        while True:
            self._output.deliver()
            for kind in self._kinds:
                kind.after_batch()
            self._output.flush()
            if not self._doomed:
                break
            self._reap()
        if self._bridge is not None:
            self._bridge.bus.end_pass(self._time_ms)
        spent = time.perf_counter() - started
        if spent > self.counters.longest_pass_seconds:  # a stall shows in /metrics
            self.counters.longest_pass_seconds = spent

    def _read_budget(self) -> int:
        """Bytes this pass may read, across all clients: about DELIVERY_BUDGET
        delivered, whatever the number of members."""
        return max(MIN_READ_BUDGET, min(
            MAX_READ_BUDGET, DELIVERY_BUDGET // (len(self._room.members) + 1)))

    def _read_newcomers(self, budget: int) -> None:
        """The first NEWCOMER_READS_PER_PASS waiting newcomers' reads (one
        slice of the ordered set a pass: no rescan of it per newcomer)."""
        waiting = self._newcomer_reads
        turn = list(itertools.islice(waiting, NEWCOMER_READS_PER_PASS))
        for conn in turn:
            del waiting[conn]
        for conn in turn:
            budget = self._read(conn, budget)

    def lost(self, conn: Connection, why: str) -> None:
        """`conn` was found gone (reading or sending): dropped now, or, past
        this pass's DEPARTURES_PER_PASS, in a later pass, not read meanwhile."""
        if conn.state is not OPEN or self._departures_left > 0:
            self._departures_left -= conn.state is OPEN
            self._set_state(conn, DROPPING, why)
        elif conn not in self._departing:
            conn.reading = False
            self._update_interest(conn)
            self._departing[conn] = why

    def make_room(self) -> bool:
        """The server is full and a newcomer knocks: a member found gone and
        waiting to leave holds a slot (and a file descriptor) of a connection
        that is no more; it leaves now (at most one per newcomer). True if one did."""
        if not self._departing:
            return False
        conn, why = next(iter(self._departing.items()))
        del self._departing[conn]
        if conn.state is OPEN:
            self._set_state(conn, DROPPING, why)
            self._doomed.discard(conn)
            self._set_state(conn, CLOSED)
        return True

    def _depart_waiting(self) -> None:
        """Drop the members found gone in earlier passes, oldest first, as
        many as this pass's DEPARTURES_PER_PASS allows."""
        waiting = self._departing
        turn = list(itertools.islice(waiting.items(), self._departures_left))
        for conn, _ in turn:
            del waiting[conn]
        for conn, why in turn:
            if conn.state is OPEN:
                self._departures_left -= 1
                self._set_state(conn, DROPPING, why)

    def _read(self, conn: Connection, budget: int) -> int:
        """One read from `conn` if the pass's budget allows, handed to its
        kind; returns what is left of the budget."""
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
                self.lost(conn, "connection reset")
                return budget
            conn.proto.feed(self._recv_buffer[:received] if received else b"")
            conn.kind.received(conn)
        except Exception:  # a bug one client found must not stop everyone
            log.exception("%r: unexpected error", conn)
            if conn.state is OPEN or conn.state is DRAINING:
                self._set_state(conn, DROPPING, "unexpected error")
            return budget
        return budget - received

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

    # -- starting and stopping --------------------------------------------------------

    def stop(self) -> None:
        """Begin a graceful shutdown: notify everyone, flush, then close."""
        if self._stop_deadline is not None:
            return
        log.info("shutting down: %d connections", len(self._conns))
        self._stop_deadline = self._now + SHUTDOWN_GRACE
        self._timers.call_at(self._stop_deadline, lambda _: None)  # wakes select() then
        self._listeners.close()
        self._close_newcomers()
        self._apply(self._room.shutdown())
        if self._bridge is not None:  # the other nodes' members are told, and the names freed
            self._apply(self._room.depart_all("server shutting down"))
        for conn in list(self._conns):
            if conn.state is OPEN:
                self._set_state(conn, DRAINING)

    def finished(self) -> bool:
        """True once a shutdown has drained every connection or run out of time."""
        if self._stop_deadline is None:
            return False
        settled = self._bridge is None or self._bridge.bus.settled()
        return (not self._conns and settled) or self._now >= self._stop_deadline

    def close(self) -> None:
        """Close every socket now, flushed or not."""
        self._stop_deadline = self._stop_deadline or self._now  # no leave notices
        for conn in list(self._conns):
            if conn.state is not DROPPING:
                self._set_state(conn, DROPPING)
        self._reap()
        self._listeners.close()
        self._close_newcomers()
        if self._bridge is not None:
            self._bridge.bus.close()
        self.accounts.close()
        if self.archive is not None:
            self.archive.close()
        self._selector.close()

    def _close_newcomers(self) -> None:
        """Those not yet connections: waiting for a PROXY header, or shaking hands."""
        for proxied in self._proxied_ports:
            proxied.close()
        for port in self._tls_ports:
            port.close()

    def _on_signal(self, fd: int) -> None:
        # Only set a flag: run_once acts on it at a safe point of the pass.
        # SIGHUP (with TLS) reads the certificate and key again instead.
        signums = set(read_signals(fd))
        if signal.SIGHUP in signums and self.certificates is not None:
            signums.discard(signal.SIGHUP)
            reload_certificates(self.certificates)
        if signums:
            self._stop_requested = True

    # -- lifecycle: connections begin here, and every change of State happens here ----

    def _add_connection(self, sock: socket.socket, address: Tuple, kind: Kind, group: str,
                        make: Callable[..., Connection] = Connection) -> None:
        """An accepted newcomer, tuned and counted against its address group
        `group` (`Listeners`); `make` is its connection type (`TlsConnection`
        after a TLS handshake)."""
        conn = make(sock, next(self._numbers), kind, kind.protocol(), None)
        conn.group = group
        self._conns.add(conn)
        self._count_connection(kind, +1)
        self._update_interest(conn)
        log.info("%r from %s%s", conn, format_address(*address[:2]), kind.accepted_note)
        kind.opened(conn)

    def _count_connection(self, kind: Kind, change: int) -> None:
        setattr(self.counters, kind.gauge, getattr(self.counters, kind.gauge) + change)

    def _set_state(self, conn: Connection, new: State, why: str = "") -> None:
        old = conn.state
        if new not in TRANSITIONS[old]:
            raise IllegalTransition(f"{conn!r}: {old.value} -> {new.value}")
        if old is OPEN:
            name = self._room.name_of(conn)
            label = f"{conn!r} ({name})" if name else repr(conn)
            if why:
                log.info("%s closed: %s", label, why)
            conn.reading = False
            self._timers.cancel(conn.timer)
            conn.timer = None
            self._listeners.count_named(conn)
            if self._stop_deadline is None:  # at shutdown nobody needs leave notices
                self._apply(self._room.disconnect(conn, now=self._now))
        conn.state = new
        if new is DRAINING:
            conn.kind.closing(conn)
            conn.timer = self._timers.call_at(self._now + CLOSE_GRACE, self._grace_over, conn)
            self._output.dirty.add(conn)  # the flush closes it once nothing is queued
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
            self._output.dirty.discard(conn)
            if conn.events:
                self._selector.unregister(conn.sock)
                conn.events = 0
            if old is not DROPPING:
                conn.before_close()
            close_socket(conn.sock, reset=old is DROPPING)
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
