"""The output path: a pass's lines to every recipient, sends, output limits.

Steps 5 and 6 of a pass (see `selchat.server`). `Output.deliver` hands each
recipient of the pass's `selchat.batch.Batch` one piece: the shared payload,
framed once per kind and tagged once for the members that asked for tags, or
a few slices of it for the members with something particular. A connection
with nothing queued is sent its piece at once (one ``send``); one with output
queued waits for the selector to say it is writable and is then sent
everything queued in one ``sendmsg`` (`flush`). Write interest exists only
while output is queued.

The output limits are judged here, whenever a queue grows: over the hard limit
(``--max-output``) a connection is dropped at once; over the soft limit
(``--soft-output``) for longer than its time it is dropped by a timer. A
reader that catches up in time stays.
"""
import logging
import selectors
from typing import TYPE_CHECKING, Dict, List, Optional, Set, Tuple

from selchat.batch import Batch, Piece
from selchat.connection import GONE, Connection, State
from selchat.limits import Limits
from selchat.web.metrics import Counters
from selchat import wire

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

    # -- delivery ---------------------------------------------------------------------

    def deliver(self) -> None:
        """Queue the pass's lines for every recipient: one piece each."""
        server = self._server
        if not server._batch:
            return
        members = server._room.members
        batch, server._batch = server._batch, Batch()
        self._counters.deliveries += batch.deliveries(len(members))
        shared, own = batch.split(members)
        tagged: Optional[Tuple[bytes, Dict[Connection, List[Piece]]]] = None  # made if needed
        framed: Dict[Tuple[object, bool], bytes] = {}  # shared, once per kind and tagging
        if shared:
            for conn in list(members):  # a send may fail: a copy
                if conn in own:
                    continue
                if conn.frame is None and not conn.tagged:  # the hot path
                    self.write(conn, shared)
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
                self.write(conn, data)
        for conn, pieces in own.items():
            if conn.tagged:
                if tagged is None:
                    tagged = batch.split(members, self._render_tagged)
                pieces = tagged[1][conn]
            if pieces and conn.state is not DROPPING and conn.state is not CLOSED:
                self._write_own(conn, pieces)

    def _render_tagged(self, payload: bytes, note: object) -> bytes:
        """A batch item as a tagged member gets it: a room line with its seq and
        time; a direct line with its time, or the tagged bytes made for it."""
        time_ms = self._server._time_ms
        if isinstance(note, int):
            return wire.tag_prefix(note, time_ms) + payload
        if isinstance(note, tuple):  # a line from the bus: its seq, and when it was said
            return wire.tag_prefix(note[0], note[1]) + payload
        if isinstance(note, bytes):
            return note
        return wire.tag_prefix(None, time_ms) + payload

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
        else:
            queued = conn.out.pending + size
            self._sent(conn, self._count_sent(queued, conn.write_pieces(pieces)))

    def _count_sent(self, before: int, after: int) -> int:
        """Count what one send took (`before` - `after` bytes queued); pass `after` on."""
        if after >= 0:
            self._counters.bytes_sent += before - after
        return after

    def flush(self) -> None:
        """One send for each connection the selector found writable (or draining)."""
        dirty = list(self.dirty)
        self.dirty.clear()
        for conn in dirty:
            if conn.state is OPEN or conn.state is DRAINING:
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
                server._set_state(conn, DROPPING, "connection lost while sending")
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
