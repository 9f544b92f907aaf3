"""The simulated clients: hundreds or thousands of sockets on one selector.

One process, one thread, `selectors`, like the server under test, so the
harness's own CPU (which it reports) is one core at most and a reader can tell
which side was the limit. A run has four phases, each with a time budget; a
phase that overruns stops the run, and the result says which and how far it got.

1. **connect**: open every connection, at most `CONNECT_WINDOW` of them not
   yet joined at any time; each sends its join line (a name, or SUBSCRIBE) as
   soon as its connect completes, and has joined when the welcome arrives.
   Join notices are skipped by searching each read for a marker, never split
   into lines: 10,000 clients receive 50 million of them. Past 16,000 clients
   they connect from several loopback source addresses in turn (`sources`),
   so the ephemeral ports of one address do not run out.
2. **ready**: an announcer sends the ready marker and every receiver must see
   it (with chat, a second announcer sends one for the first). In a stream
   that keeps order, that proves the receiver has taken all its join notices
   and is receiving; from then on it counts messages (see `tally`).
3. **run**: senders send, for `duration` seconds or `messages` messages each.
   Saturating, each sender keeps at most `window` messages in flight: sent,
   but not yet seen by the last receiver to join, which sits at the far end
   of every broadcast. At a fixed rate, messages go out on schedule whatever
   the server does (so a slow server shows as latency, not as fewer messages).
4. **drain**: wait until every expected copy arrived or nothing has arrived
   for `QUIET` seconds.

Roles go by join order. The first and the last client to join are the probes:
they sit at the two ends of a broadcast, and they parse every line (send
times for the latency figures, full sequence numbers). The senders are the
clients after the first (wrapping round if everyone talks); with Redis they
publish on connections of their own. A sender's window is measured at the last
client to join (at the first, for the last one itself).

**Nodes**: the server may be several processes sharing one room (selchat's
``--bus``). Connections go to them in turn, in the order they are opened, so
the roles take the nodes in turn (the first to join on each node, then the
second, ...), so senders are spread over them too; the last client to join *on
each node* is a probe as well, so every node has one, and the latency figures
come apart into same-node and cross-node pairs. The probes' arrival orders must
agree (`tally.one_order`).

**Rooms** (``--rooms``, `rooms`): each client sends its /join lines with its
name and has joined once its last room answers; the ready marker goes to the
default room; senders /msg their rooms in turn; every receiver parses every
line and counts per (room, sender); a sender's window is measured in each of
its rooms, and a third probe hears the first sender.

**Modes** (`modes`): what a run does besides its messages, each its own
object the loop calls at a few points: a storm of long lines (``burst``,
`modes.storm`), listeners that reset and resume (``churn``, `modes.churn`),
the bus taken away (``outage``, `modes.outage`).
"""

import errno
import math
import selectors
import socket
import ssl
import struct
import time
from array import array
from dataclasses import dataclass
from itertools import zip_longest
from typing import TYPE_CHECKING, Callable, Dict, List, Optional, Sequence

import rooms
import sources
from conn import Conn, Sender, State
from message import READY, BodyFormat
from tally import Checker, Probe, Tally, losses, one_order
from tlsclient import TlsSocket
from wsclient import upgrade_request

if TYPE_CHECKING:
    from modes.base import Mode
    from modes.churn import Churn
    from modes.storm import Storm

EVENT_READ, EVENT_WRITE = selectors.EVENT_READ, selectors.EVENT_WRITE
#: The states the loop and the read path compare on every pass and read, bound
#: once: looking a member up on an Enum class costs about 0.3 µs on Python 3.11,
#: a module global 15 ns.
STATE_READY, STATE_CLOSED = State.READY, State.CLOSED
#: Connections opened but not yet joined. Each join is a notice to everyone, so
#: a server that batches the joins it finds in one pass sends N²/batch times,
#: not N²: measured with 10,000 clients, 256 here took 11 s to join, 1024 took
#: 4.6 s. It stays well inside Linux's default listen backlog (4096).
CONNECT_WINDOW = 1024
#: One read takes up to this much (asyncio reads 256 KiB too): the fewer reads
#: per delivery, the less the harness spends on each.
READ_SIZE = 256 * 1024
#: The drain ends once nothing has arrived for this long.
QUIET = 1.0
SETTLE = 0.25  # once every expected copy is counted: quiet this long, for stray extras
#: (a duplicate can complete the count while the copy it stands in for is late)
DRAIN_BUDGET = 10.0
#: Default budget of the connect phase, and again of the ready phase: generous,
#: since a server that writes each notice to each client separately (the
#: threaded baseline) needs about 11 ms per client at 2000 clients here.
BUDGET_BASE, BUDGET_PER_CLIENT = 10.0, 0.015


def budget_for(clients: int) -> float:
    return round(BUDGET_BASE + BUDGET_PER_CLIENT * clients, 1)
#: At a fixed rate, a sender whose unsent output passes this stops generating
#: (the server is not reading it); the summary then shows fewer messages sent.
OUT_CAP = 1 << 20
#: Records a receiver puts aside before settling them (see `tally`), and the
#: total the harness may hold for all receivers at once (a byte each).
BACKLOG, BACKLOG_TOTAL = 8192, 1 << 23
#: How often the tick callback runs, in seconds: it samples the server's RSS,
#: and a burst of a few thousand long lines can double it within a second.
TICK = 0.05


@dataclass
class Scenario:
    clients: int = 500
    senders: int = 10
    rate: float = 0.0  #: messages per second per sender; 0: saturate
    window: int = 8
    duration: float = 10.0
    payload: int = 64
    messages: Optional[int] = None  #: per sender; None: as many as the duration allows
    #: "tcp", "ws" (every client a WebSocket, on the server's web port) or
    #: "mixed" (every other client, in connect order, a WebSocket).
    transport: str = "tcp"
    #: Extra clients that each send one burst in the middle of the run (TCP), of
    #: `burst_lines` lines of `burst_bytes` bytes (selchat's --flood-burst, and
    #: the longest line under its --max-line).
    burst: int = 0
    burst_lines: int = 20
    burst_bytes: int = 4000
    #: Percent of the listeners that reset and resume every second (TCP, selchat).
    churn: float = 0.0
    #: Loopback source addresses the clients take in turn (`sources`); None:
    #: as many as the client count needs, 0: none (the kernel picks 127.0.0.1).
    source_addresses: Optional[int] = None
    #: Rooms the clients spread over (`rooms`), and rooms per client; 0: one
    #: room, the default, and plain lines.
    rooms: int = 0
    rooms_per_client: int = 1


class Swarm:
    """Every simulated client of one run, driven by one selector.

    `tick(now)` is called about every `TICK` seconds (for sampling the server
    and for progress). `budget` is the time allowed to the connect phase and
    again to the ready phase (default: `budget_for` the client count).
    `addresses` are the server's nodes (usually one), `web_addresses` where
    WebSocket clients connect on each (its web port); `modes`, what the run
    does besides its messages (`modes.make`); `connect_window`, how many
    connections may be opened and not yet joined at once.
    """

    def __init__(self, protocol, addresses: List[tuple], scenario: Scenario,
                 tick: Callable[[float], None] = lambda now: None,
                 budget: Optional[float] = None,
                 web_addresses: Optional[List[Optional[tuple]]] = None,
                 modes: Sequence["Mode"] = (), tls: Optional[ssl.SSLContext] = None,
                 connect_window: int = CONNECT_WINDOW) -> None:
        self.protocol, self.addresses, self.sc, self._tick = protocol, addresses, scenario, tick
        self.tls = tls  # TCP clients speak TLS (flood.py --tls): `tlsclient`
        self.connect_window = connect_window
        self.web_addresses = web_addresses or [None] * len(addresses)
        self.modes = list(modes)
        by_name = {mode.name: mode for mode in self.modes}
        # The two the read path asks about on every read that may concern them.
        self.storm: Optional["Storm"] = by_name.get("storm")  # type: ignore[assignment]
        self.churn: Optional["Churn"] = by_name.get("churn")  # type: ignore[assignment]
        self.tagged = self.churn is not None  # every client asks for /tags
        self.budget = budget if budget is not None else budget_for(
            scenario.clients + scenario.burst)
        self.fmt = BodyFormat(scenario.senders, scenario.payload)
        width = len(str(max(scenario.clients - 1, 0)))
        self.names = [f"c{i:0{width}d}" for i in range(scenario.clients)]
        self.number = {name: i for i, name in enumerate(self.names)}
        record = protocol.record(self.names[0], scenario.payload)
        storm = self.storm.record(protocol) if self.storm else None
        backlog = max(256, min(BACKLOG, BACKLOG_TOTAL // max(scenario.clients, 1)))
        self.checker = Checker(self.fmt, record, backlog, protocol.is_framing, storm,
                               protocol.body_mark)
        #: What the first client to join received up to its welcome: IRC's
        #: message layout is learnt from it (`protocols.Irc.record`).
        self.first_reply = b""
        self.sel = selectors.DefaultSelector()
        self._buf = bytearray(READ_SIZE)
        self._view = memoryview(self._buf)
        self._wire = memoryview(bytearray(READ_SIZE))  # a WebSocket read, before unframing
        self.sources = self._sources(scenario.clients + scenario.burst)
        self.conns: List[Conn] = []
        self.joined: List[Conn] = []  # receivers, in the order their welcome arrived
        self.publishers: List[Conn] = []
        self.senders: List[Sender] = []
        self.probes: List[Conn] = []
        self.listeners: List[Conn] = []  # neither a probe nor a sender
        self.problems: Dict[str, int] = {}  # what went wrong -> how many times
        self.ready_count = 0
        self.delivered = 0  # copies counted so far (for progress and the drain)
        self.bytes_in = 0
        self.closed_by_server = 0
        self.epoch = time.monotonic()
        self.phase = "connect"
        self.times = {}  # phase name -> seconds it took
        self.run_started = self.last_delivery = self._last_rx = 0.0
        self.bytes_before_run = 0
        self._joining = 0  # connections opened and not yet joined
        self._next_tick = 0.0
        self._wake = float("inf")  # the next scheduled send, at a fixed rate
        for mode in self.modes:
            mode.attach(self)

    # -- phases -----------------------------------------------------------------

    def connect(self) -> bool:
        """Open and join every client (and the Redis publishers)."""
        sc, start = self.sc, time.monotonic()
        budget = self.budget
        ws = {"tcp": lambda i: False, "ws": lambda i: True, "mixed": lambda i: i % 2 == 1,
              "irc": lambda i: False}
        websocket = ws[sc.transport]
        # A mode's clients first, so that the last client to join is still an ordinary one.
        pending = [(name, False, False, mode, i) for mode in self.modes
                   for i, name in enumerate(mode.client_names)]
        pending += [(name, True, websocket(i), None, -1) for i, name in enumerate(self.names)]
        publishers = max(sc.senders, 1) if self.protocol.separate_senders else 0
        pending += [(f"p{i}", False, False, None, -1) for i in range(publishers)]
        pending.reverse()

        def more() -> bool:
            while pending and self._joining < self.connect_window and not self.problems:
                self._open(*pending.pop())
            return not pending and not self._joining or bool(self.problems)

        ok = self._loop(more, start + budget)
        self.times["connect"] = time.monotonic() - start
        if not ok:
            self.problem(f"connect phase overran its {budget:g} s budget: "
                         f"{len(self.joined)} of {sc.clients} clients joined"
                         + "".join(f", {len(mode.members)} of {len(mode.client_names)} "
                                   f"{mode.what}" for mode in self.modes if mode.client_names))
        return ok and not self.problems

    def ready(self) -> bool:
        """Prove every receiver has joined, taken its notices, and is receiving."""
        self.phase, start = "ready", time.monotonic()
        budget = self.budget
        self.checker.layout(self.protocol.record(self.names[0], self.sc.payload,
                                                 self.first_reply))
        self._assign_roles()
        receivers = len(self.joined)
        if self.protocol.separate_senders:
            self.write(self.publishers[0], self._frame(self.publishers[0], READY))
        elif receivers == 1:
            self._set_ready(self.joined[0])
        else:
            for conn in self.joined[:2]:
                self.write(conn, self._ready_line(conn))
        ok = self._loop(lambda: self.ready_count >= receivers or bool(self.problems),
                        start + budget)
        self.times["ready"] = time.monotonic() - start
        if not ok:
            self.problem(f"ready phase overran its {budget:g} s budget: "
                          f"{self.ready_count} of {receivers} receivers ready")
        return ok and not self.problems

    def run(self) -> bool:
        """Send for `duration` seconds (or until every sender sent `messages`)."""
        sc = self.sc
        self.phase = "run"
        self.run_started = self.last_delivery = now = time.monotonic()
        self.bytes_before_run = self.bytes_in
        end = now + sc.duration
        cap = sc.messages
        for mode in self.modes:
            mode.begin_run(now)

        def done() -> bool:  # once per pass: refilling after a whole pass of reads
            now = time.monotonic()
            self._feed(now)  # lets the server batch (measured: faster)
            half = cap is not None and all(2 * s.sent >= cap for s in self.senders)
            sent = cap is not None and all(s.sent >= cap for s in self.senders)
            for mode in self.modes:
                mode.step(now, half)
            return sent and all(mode.finished() for mode in self.modes)

        self._loop(done, end, until_deadline_ok=True)
        self._wake = float("inf")
        for mode in self.modes:
            mode.end_run()
        self.times["run"] = time.monotonic() - self.run_started
        return True

    def drain(self) -> bool:
        """Wait for the rest: every expected copy, or a quiet stream."""
        self.phase, start = "drain", time.monotonic()
        self._last_rx = start
        expected = self.expected()
        patience = max([start] + [mode.patience(start) for mode in self.modes])
        for mode in self.modes:
            mode.begin_drain()

        def done() -> bool:
            # The count alone can be reached early (a duplicate stands in for a copy
            # still on its way), so even then wait for a moment of quiet.
            now = time.monotonic()
            quiet = now - self._last_rx
            return (quiet >= QUIET and now >= patience) or (
                self.delivered >= expected and quiet >= SETTLE
                and all(mode.drained() for mode in self.modes))

        budget = max(DRAIN_BUDGET, patience + QUIET - start)
        ok = self._loop(done, start + budget)
        self.times["drain"] = time.monotonic() - start
        if not ok:
            self.problem(f"drain overran its {budget:.0f} s budget")
        for conn in self.joined:
            self.checker.settle(conn.tally)
        return ok

    def close(self) -> None:
        """Close every connection at once: a reset, no TIME_WAIT left behind."""
        linger = struct.pack("ii", 1, 0)  # on, 0 s: reset at close
        for conn in self.conns:
            try:
                conn.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger)
            except OSError:
                pass
            conn.sock.close()
        self.sel.close()

    # -- the loop -----------------------------------------------------------------

    def _loop(self, done: Callable[[], bool], deadline: float,
              until_deadline_ok: bool = False) -> bool:
        """Run passes until `done()`; False if `deadline` came first."""
        sel, read, write = self.sel, self._read, self._flush
        while not done():
            now = time.monotonic()
            if now >= deadline:
                return until_deadline_ok
            if now >= self._next_tick:
                self._next_tick = now + TICK
                self._tick(now)
            wake = min(deadline, self._wake, self._next_tick)
            for mode in self.modes:
                if now >= mode.wake:
                    mode.wake_up(now)
                wake = min(wake, mode.wake)
            events = sel.select(max(0.0, wake - now))
            if events:
                self._last_rx = began = time.monotonic()
                # Probes first: their read times make the latency figures, which
                # should not include the harness reading every other client (a
                # probe with nothing to read costs one failed recv).
                for conn in self.probes:
                    if conn.state is STATE_READY:
                        read(conn)
            for key, mask in events:
                conn = key.data
                if mask & EVENT_READ:
                    read(conn)
                if mask & EVENT_WRITE and conn.state is not STATE_CLOSED:
                    write(conn)
            if events:
                for mode in self.modes:
                    mode.after_pass(began)
        return True

    # -- connecting and joining ---------------------------------------------------

    def _sources(self, clients: int) -> List[str]:
        """The source addresses to bind to (none: the kernel chooses); only
        when every server address is on IPv4 loopback."""
        count = self.sc.source_addresses
        if count is None:
            count = sources.needed(clients)
            count = count if count > 1 else 0
        hosts = [a[0] for a in self.addresses + [w for w in self.web_addresses if w]]
        if not count or not all(h.startswith("127.") for h in hosts):
            return []
        return sources.addresses(count)

    def new_socket(self, address: tuple, number: int = 0) -> socket.socket:
        """A non-blocking TCP socket for `address`, not yet connected; the
        `number`-th opened takes the source address its turn gives."""
        family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setblocking(False)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # Nagle + delayed ACK = 40 ms
        if self.sources and family == socket.AF_INET:
            sources.bind(sock, self.sources[number % len(self.sources)])
        return sock

    def _open(self, name: str, receives: bool, websocket: bool, mode: Optional["Mode"],
              number: int) -> None:
        node = len(self.conns) % len(self.addresses)
        address = (self.web_addresses if websocket else self.addresses)[node]
        sock = self.new_socket(address, len(self.conns))
        conn = Conn(sock, name, node, Tally(self.sc.senders) if receives else None, websocket,
                    mode, number)
        self.conns.append(conn)
        err = sock.connect_ex(address)
        if err not in (0, errno.EINPROGRESS):
            self.problem(f"connect to {address[0]}:{address[1]} failed: "
                          f"{errno.errorcode.get(err, err)}")
            return
        self._joining += 1
        self.sel.register(sock, EVENT_WRITE, conn)

    def _connected(self, conn: Conn) -> None:
        err = conn.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if err:
            self.problem(f"connect failed: {errno.errorcode.get(err, err)}")
            self.close_conn(conn)
            return
        if self.tls is not None and conn.ws is None:
            conn.sock = TlsSocket(conn.sock, self.tls)  # its ClientHello goes now
        self._set_events(conn, EVENT_READ)
        if conn.tally is None and conn.mode is None:  # a publisher: nothing to join
            conn.state = State.JOINED
            self.publishers.append(conn)
            self._joining -= 1
        elif conn.state is State.RECONNECTING and self.churn is not None:
            self.write(conn, self.churn.reconnected(conn))
        else:
            conn.state = State.JOINING
            conn.entered = self.protocol.registered is None
            if conn.ws is None:
                tags = b"/tags\n" if self.tagged else b""
                self.write(conn, tags + self.protocol.join(conn.name) + self._join_rooms(conn))
            else:  # the name follows the 101 (see _unframe)
                host, port = self.web_addresses[conn.node][:2]
                self.write(conn, upgrade_request(host, port, conn.ws.key))

    def _join_rooms(self, conn: Conn) -> bytes:
        """With --rooms, a receiving client's /join lines (sent with its name)."""
        sc = self.sc
        if not sc.rooms or conn.tally is None:
            return b""
        return rooms.join_lines(self.number[conn.name], sc.rooms, sc.rooms_per_client)

    def _joined_marker(self, conn: Conn) -> bytes:
        """What proves `conn` joined: the welcome, or with --rooms its last room's."""
        sc = self.sc
        if not sc.rooms:
            return self.protocol.joined
        return rooms.last_joined(self.number[conn.name], sc.rooms, sc.rooms_per_client)

    def _ready_line(self, conn: Conn) -> bytes:
        """The ready marker, to the default room (with --rooms, /join made another current)."""
        if self.sc.rooms:
            return self._frame(conn, b"/msg %s %s" % (rooms.DEFAULT_ROOM, READY))
        return self._frame(conn, READY)

    def _frame(self, conn: Conn, body: bytes) -> bytes:
        """One message as `conn` sends it: a line, or a WebSocket message."""
        if conn.masker is None:
            return self.protocol.frame(body)
        return conn.masker.frame(body)

    def _assign_roles(self) -> None:
        """Probes, senders and where their windows are measured (module docstring)."""
        joined, sc = self.joined, self.sc
        on_node: Dict[int, List[Conn]] = {}
        for conn in joined:
            on_node.setdefault(conn.node, []).append(conn)
        # Join order, but taking the nodes in turn: a node answers its joins in
        # batches, so the first few to join may all be on one node.
        spread = [c for turn in zip_longest(*on_node.values()) for c in turn if c]
        last_on = [group[-1] for group in on_node.values()]
        probes = {id(c): c for c in [*spread[:1], *last_on]}
        if self.protocol.separate_senders:
            talkers = self.publishers[:sc.senders]
        else:  # everyone but the first and the last, as far as they go
            talkers = (spread[1:] + spread[:1])[:sc.senders]
        if sc.rooms and talkers:  # a probe that hears the first sender, for the latencies
            near = self._hearer(talkers[0], {id(c) for c in talkers})
            if near is not None:
                probes[id(near)] = near
        self.probes = list(probes.values())
        for conn in self.probes:
            conn.probe = Probe()
        for index, conn in enumerate(talkers):
            tracker = joined[-1] if conn is not joined[-1] else joined[0]
            self.senders.append(Sender(index, conn, tracker.tally, index / max(sc.senders, 1)))
        if sc.rooms:
            self._watch_rooms()
        busy = {id(c) for c in self.probes} | {id(s.conn) for s in self.senders}
        self.listeners = [c for c in joined if id(c) not in busy]

    def _hearer(self, talker: Conn, talkers: set) -> Optional[Conn]:
        """With --rooms: the last client to join that shares a room with
        `talker` and is not a sender itself, if any."""
        sc = self.sc
        mine = set(rooms.rooms_of(self.number[talker.name], sc.rooms, sc.rooms_per_client))
        for conn in reversed(self.joined):
            if id(conn) not in talkers and mine.intersection(
                    rooms.rooms_of(self.number[conn.name], sc.rooms, sc.rooms_per_client)):
                return conn
        return None

    def _watch_rooms(self) -> None:
        """With --rooms: each sender's rooms, and in each the member that joined
        last (not itself), where its window is measured."""
        sc, last = self.sc, {}
        for conn in self.joined:
            for room in rooms.rooms_of(self.number[conn.name], sc.rooms, sc.rooms_per_client):
                last.setdefault(room, []).append(conn)
        for sender in self.senders:
            mine = rooms.rooms_of(self.number[sender.conn.name], sc.rooms, sc.rooms_per_client)
            sender.rooms = [rooms.room_name(r, sc.rooms) for r in mine]
            others = [[c for c in last.get(r, []) if c is not sender.conn] for r in mine]
            sender.watchers = [o[-1].tally.rooms if o else None for o in others]

    # -- reading --------------------------------------------------------------------

    def _read(self, conn: Conn) -> None:
        """One read; once ready, count it (the hot path: one per delivery batch)."""
        carry = conn.carry
        if carry:
            c = len(carry)
            self._buf[:c] = carry
            view = self._view[c:]
        else:
            c, view = 0, self._view
        try:
            n = conn.sock.recv_into(view if conn.ws is None else self._wire[:len(view)])
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            n = 0
        if not n:
            self._lost(conn)
            return
        self.bytes_in += n
        if conn.ws is not None:
            n = self._unframe(conn, n, view)
            if not n:
                return
        total = c + n
        storm = self.storm
        if conn.probe is not None and storm is not None and storm.storming():
            storm.probe_read(conn, time.monotonic())
        if conn.mode is not None:
            self._mode_read(conn, total)
            return
        if conn.state is not STATE_READY:
            if conn.state is State.RESUMING and self.churn is not None:
                self.churn.resuming(conn, self._buf, total)
            elif conn.tally is not None:  # (a publisher's ":N" replies are not needed)
                self._before_ready(conn, total)
            return
        if self.churn is not None:
            self.churn.take(conn, bytes(self._buf[:total]))
            return
        buf, checker, record = self._buf, self.checker, self.checker.storm_record
        end = total - total % checker.size
        if self.sc.rooms:  # every line parsed, counted per (room, sender)
            end = buf.rfind(b"\n", 0, total) + 1
            now_us = int((time.monotonic() - self.epoch) * 1e6) if conn.probe else 0
            counted = rooms.take_lines(checker, self.fmt.parse, bytes(buf[:end]), conn.tally,
                                       conn.tally.rooms, now_us, conn.probe)
            if total - end > READ_SIZE // 2:  # no line end in sight: not a line
                checker.other_lines += 1
                end = total
        elif conn.probe is None and end and checker.records(buf, end, conn.tally):
            counted = end // checker.size
        elif (record is not None and storm is not None and conn.probe is None
              and buf.find(b"\n", total - total % record.size, total) < 0  # no more lines
              and checker.storm_records(buf, total - total % record.size, conn.tally)):
            end, counted = total - total % record.size, 0  # storm lines and nothing else
            storm.arrived(end // record.size)
        else:  # a probe (which parses every line), or not a clean run of records
            end = buf.rfind(b"\n", 0, total) + 1
            data, tally, stormy = bytes(buf[:end]), conn.tally, 0
            if self.protocol.pings and self.protocol.pings in data:  # IRC: answer, or be dropped
                self.write(conn, self.protocol.pongs(data))
            if storm is not None:
                stormy = tally.storm
                data = checker.storm(data, tally)
                stormy = tally.storm - stormy
                if stormy:
                    storm.arrived(stormy)
            if (stormy and conn.probe is None and data and len(data) % checker.size == 0
                    and checker.records(data, len(data), tally)):
                counted = len(data) // checker.size  # the messages between storm lines
            else:
                now_us = int((time.monotonic() - self.epoch) * 1e6)
                counted = checker.lines(data, tally, now_us, conn.probe)
            if total - end > READ_SIZE // 2:  # no line end in sight: not a line
                checker.other_lines += 1
                end = total
        conn.carry = buf[end:total] if end < total else b""
        if counted:
            self.delivered += counted
            self.last_delivery = time.monotonic()

    def _unframe(self, conn: Conn, n: int, view: memoryview) -> int:
        """Peel the WebSocket framing off a read of `n` bytes; put the payload
        where a TCP read would be (`view`); its length (0: nothing to count)."""
        ws = conn.ws
        shaking = ws.handshaking
        payload, replies, closed = ws.feed(bytes(self._wire[:n]))
        if closed:
            if ws.error:
                self.problem(f"{conn.name}: WebSocket upgrade refused: {ws.error[:120]}")
            self._lost(conn)
            return 0
        if shaking and not ws.handshaking:
            replies = conn.masker.frame(self.protocol.join(conn.name).rstrip(b"\n")) + replies
        if replies:
            self.write(conn, replies)
        view[:len(payload)] = payload
        return len(payload)

    def _refused(self, conn: Conn, end: int) -> bool:
        """True (and the connection closed) if the server refused it."""
        buf, refused = self._buf, self.protocol.refused
        if buf.startswith(refused) or buf.find(b"\n" + refused, 0, end) >= 0:
            line = bytes(buf[:end]).strip().splitlines()[-1][:120]
            self.problem(f"{conn.name} was refused: {line.decode(errors='replace')}")
            self.close_conn(conn)
            return True
        return False

    def _before_ready(self, conn: Conn, total: int) -> None:
        """Look for the welcome, then the ready marker; skip everything else."""
        buf = self._buf
        end = buf.rfind(b"\n", 0, total) + 1
        start = 0
        if conn.state is State.JOINING:
            if self._refused(conn, end):
                return
            if not conn.entered:  # IRC: registered (001) first, then JOIN the channel
                if buf.find(self.protocol.registered, 0, end) < 0:
                    conn.carry = buf[end:total]
                    return
                conn.entered = True
                self.write(conn, self.protocol.enter())
            start = buf.find(self._joined_marker(conn), 0, end)
            if start < 0:
                conn.carry = buf[end:total]
                return
            conn.state = State.JOINED
            if not self.joined:
                self.first_reply = bytes(buf[:end])
            self.joined.append(conn)
            self._joining -= 1
            if self.churn is not None:
                self.churn.welcomed(conn, bytes(buf[buf.rfind(b"\n", 0, start) + 1:start]))
        at = buf.find(READY, start, end)
        if at < 0:
            if self.churn is not None:
                self.churn.note_seq(conn, bytes(buf[:end]))
            conn.carry = buf[end:total]
            return
        after = buf.find(b"\n", at, end) + 1
        if self.churn is not None:
            self.churn.note_seq(conn, bytes(buf[:after]))
        self._set_ready(conn)
        conn.carry = buf[after:total]  # what followed the marker: messages

    def _mode_read(self, conn: Conn, total: int) -> None:
        """A mode's own client looks for its welcome, then reads only to keep up."""
        if conn.state is State.JOINING:
            end = self._buf.rfind(b"\n", 0, total) + 1
            if self._refused(conn, end):
                return
            if self._buf.find(self.protocol.joined, 0, end) < 0:
                conn.carry = self._buf[end:total]
                return
            conn.state = State.JOINED
            conn.mode.members.append(conn)
            self._joining -= 1
        conn.carry = b""

    def count_lines(self, conn: Conn, plain: bytes) -> None:
        """Count complete lines taken apart from their read (tags stripped)."""
        checker, storm = self.checker, self.storm
        if storm is not None:  # with --burst: storm lines counted apart
            stormy = conn.tally.storm
            plain = checker.storm(plain, conn.tally)
            if conn.tally.storm > stormy:
                storm.arrived(conn.tally.storm - stormy)
        n = len(plain)
        if (conn.probe is None and n and n % checker.size == 0
                and checker.records(plain, n, conn.tally)):
            counted = n // checker.size
        else:
            now_us = int((time.monotonic() - self.epoch) * 1e6)
            counted = checker.lines(plain, conn.tally, now_us, conn.probe)
        if counted:
            self.delivered += counted
            self.last_delivery = time.monotonic()

    def problem(self, text: str) -> None:
        self.problems[text] = self.problems.get(text, 0) + 1

    def _set_ready(self, conn: Conn) -> None:
        conn.state = State.READY
        self.ready_count += 1

    def _lost(self, conn: Conn) -> None:
        """The server closed a connection (or reset it)."""
        if conn.state is State.JOINING or conn.state is State.CONNECTING:
            self.problem(f"the server closed {conn.name} before it joined")
        elif conn.mode is not None:
            conn.mode.lost(conn)
        elif conn.state is State.RECONNECTING or conn.state is State.RESUMING:
            self.problem(f"the server closed {conn.name} while it resumed")
        else:
            self.closed_by_server += 1
        self.close_conn(conn)

    def close_conn(self, conn: Conn) -> None:
        if conn.state is State.JOINING or conn.state is State.CONNECTING:
            self._joining -= 1
        conn.state = State.CLOSED
        if conn.events:
            self.sel.unregister(conn.sock)
            conn.events = 0

    # -- writing --------------------------------------------------------------------

    def _feed(self, now: float) -> None:
        """Give each sender the messages it may send now."""
        sc = self.sc
        cap = sc.messages if sc.messages is not None else float("inf")
        if sc.rate <= 0:
            for sender in self.senders:
                room = min(sc.window - (sender.sent - sender.seen()),
                           cap - sender.sent)
                if room > 0 and sender.conn.state is not STATE_CLOSED:
                    self._send(sender, int(room), now)
            return
        elapsed, wake = now - self.run_started, float("inf")
        for sender in self.senders:
            due = math.floor(elapsed * sc.rate - sender.phase) + 1  # message i: (i + phase) / rate
            count = min(due, cap) - sender.sent
            if (count > 0 and len(sender.conn.out) < OUT_CAP
                    and sender.conn.state is not STATE_CLOSED):
                self._send(sender, int(count), now)
            if sender.sent < cap:
                wake = min(wake, self.run_started + (sender.sent + sender.phase) / sc.rate)
        self._wake = wake

    def _send(self, sender: Sender, count: int, now: float) -> None:
        """Queue `count` messages, stamped with the time they were made: when due,
        or as soon after as the pass in progress ends. Output the server does not
        take waits in the harness, stamped, so a slow server shows as latency."""
        body, s, first = self.fmt.body, sender.index, sender.sent
        frame = self.protocol.frame if sender.conn.masker is None else sender.conn.masker.frame
        stamp = int((now - self.epoch) * 1e6)
        names = sender.rooms
        if names:  # with --rooms: its rooms in turn
            k = len(names)
            lines = [frame(b"/msg %s %s" % (names[seq % k], body(s, seq, stamp)))
                     for seq in range(first, first + count)]
        else:
            lines = [frame(body(s, seq, stamp)) for seq in range(first, first + count)]
        self.write(sender.conn, b"".join(lines))
        sender.sent += count

    def write(self, conn: Conn, data: bytes) -> None:
        if conn.out:
            conn.out += data
            return
        try:
            sent = conn.sock.send(data)
        except (BlockingIOError, InterruptedError):
            sent = 0
        except OSError:
            self._lost(conn)
            return
        if sent < len(data) or getattr(conn.sock, "backlog", None):  # TLS: ciphertext waits
            conn.out += data[sent:]
            self._set_events(conn, EVENT_READ | EVENT_WRITE)

    def _flush(self, conn: Conn) -> None:
        if conn.state is State.CONNECTING or conn.state is State.RECONNECTING:
            self._connected(conn)
            return
        try:
            sent = conn.sock.send(conn.out)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            self._lost(conn)
            return
        del conn.out[:sent]
        if not conn.out and not getattr(conn.sock, "backlog", None):
            self._set_events(conn, EVENT_READ)

    def _set_events(self, conn: Conn, events: int) -> None:
        if events != conn.events:
            self.sel.modify(conn.sock, events, conn)
            conn.events = events

    # -- results --------------------------------------------------------------------

    def expected(self) -> int:
        """Copies the server should deliver for the messages sent so far."""
        if self.sc.rooms:
            return sum(sum(want.values()) for want in self._room_expected().values())
        per_message = len(self.joined) - (0 if self.protocol.echoes else 1)
        return sum(s.sent for s in self.senders) * per_message

    def _room_expected(self) -> Dict[int, Dict[rooms.Key, int]]:
        """With --rooms: per client number, its copies due per (room, sender)."""
        sc = self.sc
        return rooms.expected({s.index: s.sent for s in self.senders},
                              {s.index: self.number[s.conn.name] for s in self.senders},
                              sc.clients, sc.rooms, sc.rooms_per_client)

    def _losses(self) -> Dict[str, List[int]]:
        tallies = [conn.tally for conn in self.joined]
        if not self.sc.rooms:
            return losses(tallies, self.expected_per_receiver(), self.sc.senders)
        due = self._room_expected()
        return rooms.losses([t.rooms for t in tallies],
                            [due[self.number[c.name]] for c in self.joined], self.sc.senders)

    def expected_per_receiver(self) -> List[List[int]]:
        sent = [0] * self.sc.senders
        for s in self.senders:
            sent[s.index] = s.sent
        own = {id(s.conn): s.index for s in self.senders}
        table = []
        for conn in self.joined:
            row = list(sent)
            if not self.protocol.echoes and id(conn) in own:
                row[own[id(conn)]] = 0
            table.append(row)
        return table

    def result(self) -> dict:
        """Every raw figure of the run (`report` derives the rest)."""
        checker = self.checker
        tallies = [conn.tally for conn in self.joined]
        lost = self._losses()
        received = [sum(t.received[s] for t in tallies) for s in range(self.sc.senders)]
        sent = [0] * self.sc.senders
        for s in self.senders:
            sent[s.index] = s.sent
        latencies = array("q")
        unordered = set().union(*[mode.unordered() for mode in self.modes])
        order = one_order([c.probe.heard for c in self.probes], unordered)
        for conn in self.probes:
            latencies.extend(conn.probe.latencies)
        return {
            "times": dict(self.times),
            "connections": len(self.conns),
            "receivers": len(self.joined),
            "per_sender": [
                {"sent": sent[s], "received": received[s], "lost": lost["lost"][s],
                 "duplicated": lost["duplicated"][s], "out_of_order": checker.disorder[s]}
                for s in range(self.sc.senders)],
            "expected": self.expected(),
            "garbled": checker.garbled,
            "other_lines": checker.other_lines,
            "bus_notices": checker.bus_notices,
            "other_samples": [s.decode(errors="replace") for s in checker.samples],
            "closed_by_server": self.closed_by_server,
            "last_delivery_s": self.last_delivery - self.run_started if self.run_started else 0.0,
            "node_received": self._node_received(),
            "latencies_us": latencies,
            **self._pairs(),
            "probes": len(self.probes),
            "one_order": order[0], "order_compared": order[1],
            "bytes_in_before_run": self.bytes_before_run if self.run_started else self.bytes_in,
            "problems": [p if n == 1 else f"{p} ({n} times)" for p, n in self.problems.items()],
            "joined": len(self.joined),
            **{mode.name: mode.result() for mode in self.modes},
        }

    def since_run(self, moment: Optional[float]) -> Optional[float]:
        return None if moment is None else moment - self.run_started

    def _node_received(self) -> List[int]:
        """Copies received by each node's clients: what each node delivered."""
        counts = [0] * len(self.addresses)
        for conn in self.joined:
            counts[conn.node] += sum(conn.tally.received)
        return counts

    def _pairs(self) -> Dict[str, array]:
        """The probes' latencies apart: sender and probe on one node, or not."""
        node = {s.index: s.conn.node for s in self.senders}
        senders = max(self.sc.senders, 1)
        same, cross = array("q"), array("q")
        for conn in self.probes:
            for heard, delay in zip(conn.probe.heard, conn.probe.latencies):
                (same if node[heard % senders] == conn.node else cross).append(delay)
        return {"same_node_us": same, "cross_node_us": cross}
