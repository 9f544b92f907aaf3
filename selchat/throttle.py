"""Flood control in the loop: what a client sends is paid for from its budget.

`ThrottledKind` is the `selchat.connection.Kind` base of every kind whose
clients spend a flood budget (a `selchat.flood.TokenBucket` per connection):
the chat port's lines, a WebSocket's lines and frames, the web port's HTTP
requests. A subclass says how to take a connection's input (`take_input`:
lines to the room, requests answered) while the budget lasts; this base
charges a read that brought nothing to take, and holds an empty-handed
client back: its socket is not read until a timer says the budget refilled,
so the rest waits in the protocol object, then in the kernel (TCP
backpressure), and nothing is dropped.
"""
import logging
from typing import TYPE_CHECKING, Optional

from selchat.connection import Connection, Kind, State
from selchat.flood import READ_COST, TokenBucket
from selchat.effect_types import Send
from selchat.wire import slow_down

if TYPE_CHECKING:
    from selchat.server import Server

log = logging.getLogger(__name__)

OPEN = State.OPEN


class ThrottledKind(Kind):
    """A kind whose clients' input costs flood tokens."""

    #: A client held back is told to slow down, once per episode, in a chat
    #: line; an HTTP client would take it for a response: it is just answered later.
    says_slow_down = True

    def __init__(self, server: "Server") -> None:
        self._server = server

    def new_bucket(self) -> Optional[TokenBucket]:
        """A full budget for a new client, or None when flood control is off."""
        server, limits = self._server, self._server.limits
        if limits.flood_rate > 0:
            return TokenBucket(limits.flood_burst, limits.flood_rate, server._now)
        return None

    def take_input(self, conn: Connection) -> int:
        """Act on what `conn` sent while its budget lasts (calling `_hold_back`
        when it runs out with input left); returns how much it took."""
        raise NotImplementedError

    def received(self, conn: Connection) -> None:
        if not self.take_input(conn) and conn.reading and conn.bucket is not None:
            self._charge_read(conn, conn.bucket)

    def resume_reading(self, conn: Connection) -> None:
        if conn.state is OPEN:
            conn.reading = True
            self.take_input(conn)
            self._server._update_interest(conn)

    def _charge_read(self, conn: Connection, bucket: TokenBucket) -> None:
        """A read that completed nothing still costs a fraction of a line, so a
        client trickling bytes is read rarely, not per segment."""
        now = self._server._now
        bucket.take(now, READ_COST)
        if not bucket.ready(now):
            self._hold_back(conn)

    def _hold_back(self, conn: Connection) -> None:
        """Out of flood budget: stop reading until a timer says it refilled."""
        server, bucket = self._server, conn.bucket
        assert bucket is not None
        conn.reading = False
        server._update_interest(conn)
        server._timers.call_at(server._now + bucket.wait(server._now), self.resume_reading, conn)
        server.counters.flood_throttled += 1
        if bucket.new_episode():
            log.debug("%r: held back by flood control", conn)
            if self.says_slow_down:
                server._apply([Send(conn, slow_down(bucket.rate))])
