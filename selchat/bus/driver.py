"""A node's link to the bus: two Redis connections in the server's selector.

Theory of operation. One connection publishes: once per loop pass, the
pass's batch (`selchat.bus.protocol.Outbox`) as one EVALSHA; the heartbeat
and resume takeovers go there too. The other reads the stream with a
blocking ``XREAD`` (blocking Redis, not us: the socket is non-blocking and
the reply is just a readable event), issued again as soon as each reply
comes, from the last entry read. Both are `RedisLink`s: non-blocking
connects, replies parsed by hiredis, no threads.

States: DOWN (no connection: the node's room goes on, lines are delivered
here and kept) -> SYNCING (connected: scripts loaded, the epoch, the names
and, on the first connect, the history read) -> UP (batches flow; every
unconfirmed batch is sent again first, a window at a time: see
`selchat.bus.protocol.Outbox.to_send`). A link that fails, an error reply,
or Redis silent for `TIMEOUT` seconds (stopped, or too slow) means DOWN;
reconnects back off exponentially, with jitter so that nodes do not retry in
step. What the server must act on comes through `BusHost`, a few methods.

A new epoch after the first (a Redis that lost its data) is read from the
start of its stream: whatever another node published there before this one
reconnected (the lines it kept during the outage) is read too; and the node
publishes again its lines Redis had confirmed but it had not read back. Each
node's lines are numbered, and a `Tally` of those numbers skips a line read
twice and turns numbers never read into `Lost` entries: the members are told.
"""
import enum
import logging
import random
import secrets
import selectors
from typing import Any, Callable, Dict, List, Optional, Protocol, Sequence, Tuple

from hiredis import ReplyError

from selchat.bus import scripts
from selchat.bus.address import BusAddress
from selchat.bus.link import RedisLink
from selchat.bus.protocol import (
    HEARTBEAT_KEYS, MAX_STREAM_BYTES, STREAM, SYNC_KEYS, TAKEOVER_KEYS, Arg, Publication, Entry,
    Lost, Mark, Outbox, RoomLine, Tally, decode, line_counts, names_snapshot, rooms_snapshot, sha1,
    rules_snapshot, topics_snapshot, xread_entries,
)
from selchat.timers import Timer, Timers
from selchat.topics import Topic

log = logging.getLogger(__name__)

#: Seconds Redis may leave a command unanswered before the bus counts as
#: down: a stopped or overloaded Redis must not hold the room's lines back.
TIMEOUT = 1.0
#: XREAD waits this long for news before it answers "nothing" (ms).
BLOCK_MS = 1000
#: Entries one XREAD may return: one pass's worth of a busy room.
READ_COUNT = 2000
#: Reconnect back-off: first delay, then doubling up to the last (seconds).
FIRST_BACKOFF = 0.1
MAX_BACKOFF = 2.0
#: How often the watchdog checks that Redis answers.
WATCH_EVERY = 0.25


class BusState(enum.Enum):
    DOWN = "down"  #: no connection: the room is this node's alone for now
    SYNCING = "syncing"  #: connected: reading where the room is
    UP = "up"  #: one room with every node


class BusHost(Protocol):
    """What the server does for the bus."""

    def bus_synced(self, epoch: str, lines: List[RoomLine],
                   names: Dict[str, Tuple[str, str]], new_epoch: bool,
                   rooms: Dict[str, str], topics: List[Tuple[str, Topic]]) -> None:
        """Connected. `names` (key -> (name, node)) is who holds which name,
        `rooms` the other nodes' members' rooms (name -> "current<TAB>room..."
        for those not in the default room only) and `topics` (room, topic)
        the rooms' topics (with who set them and when), as of the stream's
        end; on a `new_epoch` (first connect, or a Redis that lost the room),
        `lines` are the latest room lines, oldest first, for the histories."""

    def bus_rules(self, rules: Dict[str, str]) -> None:
        """Connected: the accounts, room rules and server bans every node
        shares ("table<TAB>key" -> JSON, "": deleted), just before `bus_synced`."""

    def bus_entries(self, entries: List[Entry]) -> None:
        """New stream entries, in the room's order; a `Lost` among them says
        how many room lines of other nodes never came: tell the members."""

    def bus_lost(self, keys: List[str]) -> None:
        """Names this node gave out that another node claimed first."""

    def bus_reaped(self, names: List[str]) -> None:
        """Members of nodes that stopped (their leases ran out): announce them gone."""

    def bus_state(self, up: bool, why: str) -> None:
        """The bus went down (why) or came back."""

    def bus_claims(self) -> List[Arg]:
        """Every name this node holds, as HEARTBEAT wants them: key name since th."""

    def bus_reaped_us(self) -> None:
        """The other nodes took this node for gone (its lease ran out while it
        was away) and said its members left: say they are here."""


class Bus:
    def __init__(self, address: BusAddress, selector: selectors.BaseSelector, timers: Timers,
                 host: BusHost, clock: Callable[[], float], wall_ms: Callable[[], int],
                 history: int, retention: float, lease: float,
                 jitter: Callable[[], float] = random.random,
                 max_stream_bytes: int = MAX_STREAM_BYTES) -> None:
        self.address = address
        self.node = secrets.token_hex(4)
        self.state = BusState.DOWN
        self.epoch: Optional[str] = None
        self.outbox = Outbox(self.node, int(retention * 1000), int(lease * 1000),
                             max_stream_bytes=max_stream_bytes)
        self.tally = Tally()
        self.lag_ms = 0
        self.outages = 0
        self._selector = selector
        self._timers = timers
        self._host = host
        self._clock = clock
        self._wall_ms = wall_ms
        self._history = history
        self._lease = lease
        self._jitter = jitter
        self._links: List[RedisLink] = []
        self._heard: Dict[RedisLink, float] = {}  # last reply, or start of a wait
        self._last_id = b"0-0"
        self._attempts = 0
        self._up_since = 0.0
        self._timer: Optional[Timer] = None  # the reconnect or the watchdog
        self._heartbeat_timer: Optional[Timer] = None
        self._closed = False

    def __repr__(self) -> str:
        return f"<bus {self.address.display()} node {self.node} {self.state.value}>"

    @property
    def up(self) -> bool:
        return self.state is BusState.UP

    def settled(self) -> bool:
        """Nothing left to publish (or no way to: the bus is down)."""
        return not self.up or self.outbox.settled()

    # -- what the server calls ------------------------------------------------

    def start(self) -> None:
        self._connect()

    def end_pass(self, time_ms: int) -> None:
        """Seal the pass's operations into one batch; send it if the bus is up."""
        self.outbox.seal(time_ms)
        if self.up:
            self._send_batches()
        for link in self._links:
            link.flush()

    def takeover(self, token_hash: str, done: Callable[[Optional[Sequence[bytes]]], None]) -> bool:
        """Ask Redis for the session `token_hash` names, on whichever node:
        `done({former node, key, name})`, or done(None) if none; False
        (done never called) when the bus is not up."""
        if not self.up:
            return False

        def answer(reply: Any) -> None:
            done(None if reply is None or isinstance(reply, ReplyError) else reply)
        self._call(self._links[0], ["EVALSHA", sha1(scripts.TAKEOVER), len(TAKEOVER_KEYS),
                                    *TAKEOVER_KEYS, self.node, token_hash], answer)
        return True

    def close(self) -> None:
        self._closed = True
        self._drop_links()
        for timer in (self._timer, self._heartbeat_timer):
            self._timers.cancel(timer)

    # -- connecting -------------------------------------------------------------

    def _connect(self, _: object = None) -> None:
        self._timer = None
        self.state = BusState.SYNCING
        self._links = [
            RedisLink(self.address, self._selector, f"selchat-{self.node}-{role}",
                      on_failure=self._failed)
            for role in ("pub", "sub")]
        for link in self._links:
            link.connect()
        pub = self._links[0]
        for script in (scripts.PUBLISH, scripts.SYNC, scripts.HEARTBEAT, scripts.TAKEOVER):
            self._call(pub, ["SCRIPT", "LOAD", script], self._expect_ok)
        first = self.epoch is None
        self._call(pub, ["EVALSHA", sha1(scripts.SYNC), len(SYNC_KEYS), *SYNC_KEYS, self.node,
                         secrets.token_hex(4), self._history if first else 0], self._synced)
        self._watch()

    def _expect_ok(self, reply: Any) -> None:
        if isinstance(reply, ReplyError):
            self._failed(f"Redis refused a script: {reply}")

    def _synced(self, reply: Any) -> None:
        if isinstance(reply, ReplyError):
            self._failed(f"Redis refused to sync: {reply}")
            return
        epoch_bytes, last_id, entries, names, known, counts, live, joined, topics, rules = reply
        epoch = epoch_bytes.decode()
        first = self.epoch is None
        reaped = not known and not first
        new_epoch = epoch != self.epoch
        lines: List[RoomLine] = []
        if first:  # what the stream holds came before this node's time
            self._last_id = last_id
            self.tally.seed(line_counts(counts), [node.decode() for node in live])
        elif new_epoch:  # everything in the new stream is news, whoever sent it first
            log.warning("the bus lost the room's history (a new epoch): starting again")
            self._last_id = b"0-0"
            self.outbox.recover(self._wall_ms())
        if new_epoch:
            for _, fields in reversed(entries):
                entry = decode(fields)
                if isinstance(entry, RoomLine):
                    lines.append(entry)
        self.epoch = epoch
        self._attempts = 0
        self._up_since = self._clock()
        self.state = BusState.UP
        log.info("bus up: %s (node %s)", self.address.display(), self.node)
        self._host.bus_rules(rules_snapshot(rules))
        self._host.bus_synced(epoch, lines, names_snapshot(names), new_epoch,
                              rooms_snapshot(joined, self.node), topics_snapshot(topics))
        if reaped:
            self._reaped_us()
        self.outbox.rewind()
        self._send_batches()
        self._read()
        self._heartbeat()
        self._host.bus_state(True, "")

    def _failed(self, why: str) -> None:
        """A link failed or Redis went silent: down, and try again later."""
        if self.state is BusState.DOWN or self._closed:
            return
        was_up = self.state is BusState.UP
        self.state = BusState.DOWN
        self.outages += was_up
        self._drop_links()
        delay = min(MAX_BACKOFF, FIRST_BACKOFF * 2 ** self._attempts)
        delay *= 0.5 + self._jitter() / 2
        # Once per outage at warning level; every retry is only debug news.
        level = logging.DEBUG if self._attempts else logging.WARNING
        self._attempts += 1
        log.log(level, "bus %s: %s; retrying in %.1f s", "down" if was_up else "unreachable",
                why, delay)
        self._timers.cancel(self._timer)
        self._timer = self._timers.call_at(self._clock() + delay, self._connect)
        self._host.bus_state(False, why)

    def _drop_links(self) -> None:
        for link in self._links:
            link.close()
        self._links = []
        self._heard.clear()

    # -- calls and the watchdog -------------------------------------------------

    def _call(self, link: RedisLink, args: Sequence[Arg], callback: Callable[[Any], None]) -> None:
        if not link.waiting():
            self._heard[link] = self._clock()  # a wait starts now

        def heard(reply: Any) -> None:
            self._heard[link] = self._clock()
            try:
                callback(reply)
            except Exception:  # a bug must not stop the server: start the bus afresh
                log.exception("bus: unexpected error")
                self._failed("unexpected error")
        link.call(args, heard)

    def _watch(self, _: object = None) -> None:
        """Down if Redis leaves a command unanswered too long."""
        self._timer = None
        if self.state is BusState.DOWN or self._closed:
            return
        now = self._clock()
        for index, link in enumerate(self._links):
            patience = TIMEOUT + (BLOCK_MS / 1000 if index else 0)  # the reader blocks
            if link.waiting() and now - self._heard.get(link, now) > patience:
                self._failed(f"Redis did not answer in {patience:g} s")
                return
        self._timer = self._timers.call_at(now + WATCH_EVERY, self._watch)

    # -- publishing, reading, the heartbeat -------------------------------------

    def _send_batches(self) -> None:
        """The next batches the outbox's window allows."""
        for batch in self.outbox.to_send():
            self._publish(batch)

    def _publish(self, batch: Publication) -> None:
        number = batch.number

        def confirmed(reply: Any) -> None:
            if isinstance(reply, ReplyError):
                self._failed(f"Redis refused a batch: {reply}")
                return
            self.outbox.confirmed(number)
            self._send_batches()
            if len(reply) > 1:
                self._host.bus_lost([key.decode() for key in reply[1:]])
        self._call(self._links[0], self.outbox.command(batch), confirmed)

    def _read(self) -> None:
        self._call(self._links[1], ["XREAD", "COUNT", READ_COUNT, "BLOCK", BLOCK_MS,
                                    "STREAMS", STREAM, self._last_id], self._entries)

    def _entries(self, reply: Any) -> None:
        if isinstance(reply, ReplyError):
            self._failed(f"Redis refused to read the stream: {reply}")
            return
        entries: List[Entry] = []
        node, outbox, tally = self.node, self.outbox, self.tally
        read = xread_entries(reply)
        for _, fields in read:
            entry = decode(fields)
            if entry is None:
                continue
            if isinstance(entry, RoomLine):  # the hot path
                line = entry
                missed = tally.line(line.node, line.number) if line.number else 0
                if missed is None:
                    continue  # read before: published again after Redis lost its data
                if line.node == node:
                    entry = line._replace(own=outbox.read_back(line.number))
                elif missed:
                    entries.append(Lost(missed))
            elif isinstance(entry, Mark):
                missed = tally.mark(entry.node, entry.number)
                if missed and entry.node != node:
                    entries.append(Lost(missed))
                continue
            entries.append(entry)
        if read:
            self._last_id = read[-1][0]
            self.lag_ms = max(0, self._wall_ms() - int(self._last_id.partition(b"-")[0]))
        else:
            self.lag_ms = 0
        self._read()
        if entries:
            self._host.bus_entries(entries)

    def _reaped_us(self) -> None:
        log.warning("this node's lease ran out while it was away: the other nodes "
                    "announced its members gone; announcing them again")
        self._host.bus_reaped_us()

    def _heartbeat(self, _: object = None) -> None:
        """Renew this node's lease and names; reap nodes whose leases ran out."""
        self._timers.cancel(self._heartbeat_timer)
        self._heartbeat_timer = self._timers.call_at(self._clock() + self._lease / 3,
                                                     self._heartbeat)
        if not self.up:
            return

        def renewed(reply: Any) -> None:
            if isinstance(reply, ReplyError):
                self._failed(f"Redis refused the heartbeat: {reply}")
                return
            known, reaped, lost = reply
            if not known:
                self._reaped_us()
            if reaped:
                self._host.bus_reaped([name.decode() for name in reaped])
            if lost:
                self._host.bus_lost([key.decode() for key in lost])
        self._call(self._links[0], ["EVALSHA", sha1(scripts.HEARTBEAT), len(HEARTBEAT_KEYS),
                                    *HEARTBEAT_KEYS, self.node, int(self._lease * 1000),
                                    int(self._clock() - self._up_since >= self._lease),
                                    *self._host.bus_claims()], renewed)
