"""The output path: a pass's lines to every recipient, sends, output limits.

Steps 5 and 6 of a pass (see `selchat.server`). `Output.deliver` hands each
recipient of the pass's `selchat.batch.Batch` one piece: the shared payload,
framed once per kind and rendered once per *variant* (a tagged connection's
``render``: the line protocol's tags, or the IRC kind's plain, server-time
and message-tags forms), or a few slices of it (of its variant) for the
members with something particular. A connection
with nothing queued is sent its piece at once (one ``send``); one with output
queued waits for the selector to say it is writable and is then sent
everything queued in one ``sendmsg`` (`flush`). Write interest exists only
while output is queued.

Rooms: each room but the default one that had a line this pass has its own
batch (`rooms`, `room_batch`: the pass's dirty rooms; an idle room costs
nothing), split once like the default room's and rendered once for tagged
members (with its ``room`` tag). A member with lines from several rooms in
one pass still gets one send: its pieces from every room go in one
``sendmsg`` (`_write_own`), and `Counters.sends` counts sends so that shows.

Every member gets a pass's lines in one order: the default room's, then
each dirty room's in turn. The rooms' lines are numbered here, as they are
delivered, from the one sequence the default room's history keeps (its were
numbered as they were said, earlier in the pass), so each member sees the
numbers rise: the last number a tagged client saw is all a resume needs. A
room's pass goes into its history here too, one payload per pass (with a
bus, Redis numbers every room's lines and the bridge keeps them as it reads
them), unless it holds membership notices only (`notice`).

A TLS connection holds a small piece for one pass (`selchat.tls_port`,
``HOLD_BYTES``): it tells `hold`, and what the next pass did not join is
sealed at that pass's end (`release`, from `flush`); while some is held the
loop does not wait for input (``Server.run_once``), so a pass that finds none
sends it at once. Held bytes are counted as sent
when handed over (a held piece is under a record: no limit comes near).

The output limits are judged here, whenever a queue grows: over the hard limit
(``--max-output``) a connection is dropped at once; over the soft limit
(``--soft-output``) for longer than its time it is dropped by a timer. A
reader that catches up in time stays.
"""
import functools
import logging
import selectors
from typing import TYPE_CHECKING, Collection, Dict, List, Optional, Set, Tuple

from selchat.batch import Batch, Piece, Render
from selchat.connection import GONE, Connection, State
from selchat.history import MemoryHistory
from selchat.limits import Limits
from selchat.rooms import Room
from selchat.web.metrics import Counters
from selchat.tags import tag_prefix

if TYPE_CHECKING:
    from selchat.server import Server

log = logging.getLogger(__name__)

EVENT_WRITE = selectors.EVENT_WRITE
OPEN, DRAINING, DROPPING, CLOSED = State.OPEN, State.DRAINING, State.DROPPING, State.CLOSED


class Output:
    """The server's sending side: `write` is how bytes go to a connection."""

    def __init__(self, server: "Server") -> None:
        self._server = server
        self._limits: Limits = server.limits
        self._counters: Counters = server.counters
        #: Writable, or draining: flushed once at the end of this pass.
        self.dirty: Set[Connection] = set()
        #: This pass's lines of rooms but the default one, by room: the dirty rooms.
        self.rooms: Dict[Room, Batch[Connection]] = {}
        #: This pass's membership notices (joins, leaves, renames) by room: a
        #: room's pass of nothing else is numbered but not kept (`notice`).
        self._notices: Dict[Room, int] = {}
        #: Connections holding a piece for one pass, with the pass it came in.
        self.held: List[Tuple[Connection, int]] = []

    def room_batch(self, room: Room) -> Batch[Connection]:
        """`room`'s batch for this pass, made on its first line (or membership change)."""
        batch = self.rooms.get(room)
        if batch is None:
            batch = self.rooms[room] = Batch()
        return batch

    def notice(self, room: Room) -> None:
        """A membership notice of `room` is in this pass's batch. A pass of a
        room with notices only is not kept in its history: in a small, quiet
        room they are all it would keep (about 270 bytes a membership, most
        of what one costs), and who is there now is ``/who``'s to say."""
        self._notices[room] = self._notices.get(room, 0) + 1

    # -- delivery ---------------------------------------------------------------------

    def deliver(self) -> None:
        """Queue the pass's lines for every recipient: one piece each."""
        server = self._server
        # Other rooms' pieces by member, to go out in the same send as the default room's.
        rooms = self._room_pieces() if self.rooms else {}
        if not server._batch and not rooms:
            return
        if server.archive is not None:  # on disk before anyone is sent a line of it
            server.archive.commit()
        members = server._room.rooms.default.members
        batch, server._batch = server._batch, Batch()
        self._counters.deliveries += batch.deliveries(len(members))
        shared, own = batch.split(members)
        # The pass's other variants (tagged lines, IRC lines), each made once, when needed.
        variants: Dict[Render, Tuple[bytes, Dict[Connection, List[Piece]]]] = {}

        def variant(conn: Connection) -> Tuple[bytes, Dict[Connection, List[Piece]]]:
            render = conn.render or self._render_tagged
            made = variants.get(render)
            if made is None:
                made = variants[render] = batch.split(members, render)
            return made
        framed: Dict[object, bytes] = {}  # shared, once per kind and variant
        if shared:
            # Who gets more than the shared bytes: the same dict when no room spoke.
            particular = own if not rooms else own.keys() | rooms.keys()
            everyone = list(members)  # a send may fail: a copy
            skipped = sent = 0
            for conn in everyone:
                if conn in particular:
                    skipped += 1
                    continue
                data: Optional[bytes]
                if conn.frame is None:
                    if not conn.tagged:  # the hot path of the line protocol
                        data = shared
                    else:  # of IRC: its variant (render None: the line protocol's tags)
                        data = framed.get(conn.render)
                        if data is None:
                            data = framed[conn.render] = variant(conn)[0]
                else:
                    key = (conn.frame, conn.tagged)
                    data = framed.get(key)
                    if data is None:
                        data = framed[key] = conn.frame(variant(conn)[0] if conn.tagged
                                                        else shared)
                # `write` inline (a call less per recipient): sent at once, or queued
                if conn.events & EVENT_WRITE:
                    self.write(conn, data)
                    continue
                queued = conn.write(data)
                if queued == 0 and conn.state is OPEN:  # all went, nothing to decide
                    sent += len(data)
                else:
                    self._sent(conn, self._count_sent(len(data), queued))
            self._counters.bytes_sent += sent  # counted here, not per write
            self._counters.sends += len(everyone) - skipped
        for conn, pieces in own.items():
            if conn.tagged:
                pieces = variant(conn)[1][conn]
            if conn in rooms:
                pieces = pieces + rooms.pop(conn)
            if pieces and conn.state is not DROPPING and conn.state is not CLOSED:
                self._write_own(conn, pieces)
        for conn, pieces in rooms.items():  # members with other rooms' lines, one send each
            if shared and conn in members:
                pieces.insert(0, variant(conn)[0] if conn.tagged else shared)
            if conn.state is DROPPING or conn.state is CLOSED:
                continue
            piece = pieces[0] if len(pieces) == 1 else None
            if isinstance(piece, bytes) and conn.frame is None:
                # The hot path of many small rooms: one room's shared bytes,
                # a plain ``send`` of that one object (no list, no sendmsg).
                self._counters.sends += 1
                self.write(conn, piece)
            else:
                self._write_own(conn, pieces)

    def _room_pieces(self) -> Dict[Connection, List[Piece]]:
        """Each member's pieces of this pass's lines of rooms but the default
        one: each room's lines joined once (`Batch.split`), tagged once for
        its tagged members; a member of several gets a piece of each."""
        rooms, self.rooms = self.rooms, {}
        notices, self._notices = self._notices, {}
        pieces: Dict[Connection, List[Piece]] = {}
        history, counters = self._server._history, self._counters
        for room, batch in rooms.items():
            if not batch:
                continue
            members = room.members
            counters.deliveries += batch.deliveries(len(members))
            if self._server._bridge is None:
                ends = batch.number(history.last_seq + 1)
                first = history.number(len(ends))
            else:  # numbered by Redis, kept as read (`selchat.bus.bridge`)
                ends = []
            shared, own = batch.split(members)
            if ends and notices.get(room) != len(ends):  # (notices only: a hole, see `notice`)
                self.history_of(room).append(shared, self._server._time_ms, ends, first)
            # Tagged lines, IRC lines: each variant made once, when needed.
            variants: Dict[Optional[Render], Tuple[bytes, Dict[Connection, List[Piece]]]] = {}
            variant = functools.partial(self._room_variant, variants, batch, members, room)
            for conn in members:
                if conn.tagged or conn in own:
                    _add(pieces, conn, _mine(conn, shared, own, variant(conn) if conn.tagged
                                             else None))
                elif shared:  # the hot path: the room's one shared object
                    mine = pieces.get(conn)
                    if mine is None:
                        pieces[conn] = [shared]
                    else:
                        mine.append(shared)
            for conn in own:  # who left during the pass: what came before
                if conn not in members:
                    _add(pieces, conn, _mine(conn, shared, own, variant(conn) if conn.tagged
                                             else None))
        return pieces

    def _room_variant(self, variants: Dict[Optional[Render], Tuple[bytes, Dict[Connection,
                                                                           List[Piece]]]],
                      batch: Batch, members: Collection[Connection], room: Room,
                      conn: Connection) -> Tuple[bytes, Dict[Connection, List[Piece]]]:
        """A room's pass as `conn`'s variant gets it (tagged, IRC...), made once."""
        made = variants.get(conn.render)
        if made is None:
            made = variants[conn.render] = batch.split(
                members, conn.render or self._room_renderer(room))
        return made

    def history_of(self, room: Room) -> MemoryHistory:
        """A room's history, made with its first line (it goes with the room)."""
        history = room.history
        if history is None:
            server = self._server
            history = room.history = MemoryHistory(
                server._history.epoch, server.limits.history, {"room": room.name},
                numbered_elsewhere=True,
                journal=None if server.archive is None else server.archive.journal(room))
        return history

    def _room_renderer(self, room: Room) -> Render:
        """A room's line as a tagged member gets it: seq, time and ``room``."""
        time_ms, tags = self._server._time_ms, {"room": room.name}

        def render(payload: bytes, seq: object, target: object) -> bytes:
            if isinstance(seq, tuple):  # from the bus: its seq, and when it was said
                return tag_prefix(seq[0], seq[1], tags) + payload
            return tag_prefix(seq if isinstance(seq, int) else None, time_ms, tags) + payload
        return render

    def _render_tagged(self, payload: bytes, note: object, target: object) -> bytes:
        """A batch item as a tagged member gets it: a room line with its seq and
        time; a direct line with its time, or the tagged bytes made for it."""
        time_ms = self._server._time_ms
        if isinstance(note, int):
            return tag_prefix(note, time_ms) + payload
        if isinstance(note, tuple):  # a line from the bus: its seq, and when it was said
            return tag_prefix(note[0], note[1]) + payload
        if isinstance(note, bytes):
            return note
        return tag_prefix(None, time_ms) + payload

    # -- sending ------------------------------------------------------------------------

    def write(self, conn: Connection, data: bytes) -> None:
        """Send `data` to `conn` now, or queue it behind what waits already."""
        if conn.events & EVENT_WRITE:  # waiting for the selector: queue, don't retry
            conn.out.append(data)
            self._check_output(conn)
            return
        queued = conn.write(data)
        if queued == 0 and conn.state is OPEN:  # the hot path: all went, nothing to decide
            self._counters.bytes_sent += len(data)
        else:
            self._sent(conn, self._count_sent(len(data), queued))

    def _write_own(self, conn: Connection, pieces: List[Piece]) -> None:
        pieces = conn.kind.frame_pieces(pieces)  # a WebSocket's: one text frame, not joined
        size = sum(map(len, pieces))
        if conn.events & EVENT_WRITE:
            conn.out.extend(pieces, size)
            self._check_output(conn)
            return
        counters = self._counters
        counters.sends += 1
        before = conn.out.pending + size
        queued = conn.write_pieces(pieces)
        if queued == 0 and conn.state is OPEN:  # all went, nothing to decide (as in `write`)
            counters.bytes_sent += before
        else:
            self._sent(conn, self._count_sent(before, queued))

    def _count_sent(self, before: int, after: int) -> int:
        """Count what one send took (`before` - `after` bytes queued); pass `after` on."""
        if after >= 0:  # (over TLS a queue of ciphertext may outgrow the plaintext: never < 0)
            self._counters.bytes_sent += max(0, before - after)
        return after

    def hold(self, conn: Connection) -> None:
        """`conn` holds this pass's piece for the next pass (`release`)."""
        self.held.append((conn, self._counters.loop_passes))

    def release(self) -> None:
        """Send what was held since an earlier pass and not joined by this
        one's piece (a send each)."""
        held, self.held = self.held, []
        now = self._counters.loop_passes
        for conn, since in held:
            if since == now:
                self.held.append((conn, since))
            elif (conn.out.pending and not conn.events & EVENT_WRITE
                  and (conn.state is OPEN or conn.state is DRAINING)):
                queued = conn.flush()
                if queued > 0:  # counted as sent when held: counted again when it goes
                    self._counters.bytes_sent -= queued
                self._sent(conn, queued)

    def flush(self) -> None:
        """One send for each connection the selector found writable (or
        draining), and for those holding a piece since the last pass."""
        if self.held:
            self.release()
        dirty = list(self.dirty)
        self.dirty.clear()
        for conn in dirty:
            if conn.state is OPEN or conn.state is DRAINING:
                self._counters.sends += 1
                self._sent(conn, self._count_sent(conn.out.pending, conn.flush()))

    def _sent(self, conn: Connection, queued: int) -> None:
        """After a send: close, drop, or ask for write readiness as it turned out."""
        server = self._server
        if queued == 0:  # the common case: everything went
            conn.over_soft_since = 0.0
            if conn.state is DRAINING:
                server._doomed.add(conn)
                return
            conn.kind.drained(conn)
            if conn.events & EVENT_WRITE and conn.state is OPEN:
                server._update_interest(conn)
        elif queued == GONE:
            if conn.state is not DROPPING:
                server.lost(conn, "connection lost while sending")
        else:
            if queued <= self._limits.soft_output:
                conn.over_soft_since = 0.0
            self._check_output(conn)
            if conn.state is not DROPPING:
                server._update_interest(conn)

    # -- output limits ------------------------------------------------------------------

    def _check_output(self, conn: Connection) -> None:
        """Apply the output limits to a connection whose queue just grew."""
        queued, limits, now = conn.out.pending, self._limits, self._server._now
        if queued > limits.max_output:
            self._drop_slow(conn, f"{queued} bytes of output queued, over the hard limit "
                                  f"of {limits.max_output}")
        elif queued > limits.soft_output and not conn.over_soft_since:
            conn.over_soft_since = now
            self._server._timers.call_at(now + limits.soft_output_seconds,
                                         self._check_soft_limit, conn)

    def _check_soft_limit(self, conn: Connection) -> None:
        limits = self._limits
        since = conn.over_soft_since
        if (conn.state is OPEN or conn.state is DRAINING) and since \
                and self._server._now - since >= limits.soft_output_seconds \
                and conn.out.pending > limits.soft_output:
            self._drop_slow(conn, f"output queue over {limits.soft_output} bytes for "
                                  f"{limits.soft_output_seconds:g} s")

    def _drop_slow(self, conn: Connection, why: str) -> None:
        server = self._server
        log.warning("%r (%s) is not reading: %s", conn,
                    server._room.name_of(conn) or "unnamed", why)
        self._counters.slow_readers_dropped += 1
        server._set_state(conn, DROPPING, "too slow")


def _mine(conn: Connection, shared: bytes, own: Dict[Connection, List[Piece]],
          tagged: Optional[Tuple[bytes, Dict[Connection, List[Piece]]]]) -> List[Piece]:
    """`conn`'s pieces of a room's pass: its own if it has some, else the
    shared bytes (the tagged forms for a tagged member)."""
    if conn.tagged and tagged is not None:
        shared, own = tagged
    return own[conn] if conn in own else [shared]


def _add(pieces: Dict[Connection, List[Piece]], conn: Connection, mine: List[Piece]) -> None:
    if mine and mine != [b""]:
        pieces.setdefault(conn, []).extend(mine)
