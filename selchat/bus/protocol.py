"""What a node sends to the bus and what it reads back, without sockets.

Theory of operation. A node's room lines go to Redis, not straight to its
members: Redis numbers them in the one order every node delivers (see
`selchat.bus.scripts`), and the node delivers its own lines when it reads
them back from the stream like everyone else's. `Outbox` is the bookkeeping
that makes this exact:

* each pass's operations (room lines, direct lines, name claims and
  releases) are *sealed* into one numbered batch: one ``EVALSHA`` per pass;
* a batch stays in the outbox until Redis confirms it; after a broken
  connection every unconfirmed batch is sent again, in order, and the script
  skips those already published (their numbers), so nothing is lost or
  published twice. Batches go out in a bounded window (`to_send`): at most
  `MAX_IN_FLIGHT_BATCHES` or about `MAX_IN_FLIGHT_BYTES` unconfirmed at a
  time, the next as the oldest are confirmed, so a long outage's backlog
  drains in chunks that Redis answers at once instead of one send the
  watchdog would take for silence;
* every room line the node published waits in `pending` until it is read
  back, with the member it must not be echoed to, and whether it was already
  delivered here: during an outage the node delivers its lines at once and
  skips them when they come back.

Every room line gets the node's next number (field ``i``), kept or not. The
outbox is bounded (`max_bytes`, counting the memory a kept line really
holds: `LINE_COST` besides its bytes): past it, lines made during an outage
are still delivered here but no longer kept for the other nodes, and counted
in `unpublished`; their numbers are skipped, so the other nodes see the jump
and tell their members a gap. A batch also says how far the numbering went
(a mark, ``h``) when its lines do not: after every reconnect, and after
refused lines that no kept line follows.

`Tally` is the reading side of those numbers: how far this node has read
each node's lines. A line read twice (a batch published again after Redis
lost its data) is skipped; numbers jumped over are lines lost (refused by a
full outbox, lost with Redis' data, trimmed before they were read) and come
out as `Lost`, which the server says to its members as a gap line.

`decode` turns stream entries into the values the server acts on. No clock,
no randomness: times are the caller's.
"""
import collections
import hashlib
from typing import Any, Deque, Dict, Hashable, List, NamedTuple, Optional, Sequence, Tuple, Union

from selchat.bus import scripts
from selchat.topics import Topic, from_hash

PREFIX = "selchat:"
STREAM = PREFIX + "stream"
#: The keys each script is given, in its KEYS order.
#: ``lines``: node -> the number of its last room line in the stream, so a
#: node starting up knows which numbers came before its time.
LINES = PREFIX + "lines"
#: ``joined``: "node<TAB>name" -> a member's rooms; ``topics``: room key ->
#: "name<TAB>topic<TAB>setter<TAB>ms" (see `selchat.bus.scripts`): what a node starting up
#: reads to know every room at once.
JOINED = PREFIX + "joined"
TOPICS = PREFIX + "topics"
#: ``rules``: "table<TAB>key" -> an account's, a room's rules' or a server
#: ban's JSON ("": deleted), shared by every node (`selchat.accounts.shared`).
RULES = PREFIX + "rules"
PUBLISH_KEYS = [STREAM, PREFIX + "seq", PREFIX + "names", PREFIX + "tokens", PREFIX + "nodes",
                LINES, JOINED, TOPICS]
SYNC_KEYS = [STREAM, PREFIX + "epoch", PREFIX + "names", PREFIX + "nodes", LINES, JOINED,
             TOPICS, RULES]
HEARTBEAT_KEYS = [STREAM, PREFIX + "names", PREFIX + "tokens", PREFIX + "nodes", LINES, JOINED]
TAKEOVER_KEYS = [STREAM, PREFIX + "names", PREFIX + "tokens", JOINED]
#: Bytes of lines kept for the bus during an outage by default: about a
#: million chat lines, or many minutes of the busiest room.
MAX_OUTBOX_BYTES = 64 * 1024 * 1024
#: Memory a kept room line holds besides its bytes, measured with tracemalloc
#: on CPython 3.11 (187 bytes in batches of 50 lines;
#: tests/pure/test_bus_recovery_protocol.py checks it): the bytes object's
#: header, its `Own` record (with its tags slot) and number, three slots of its
#: batch's operations and one of `pending`, with the containers' spare room.
LINE_COST = 188
#: The same for a direct line (its name key is a new string) and for a name
#: claim or release (key, name, time, token hash).
DIRECT_COST = 120
NAME_COST = 200
#: A sealed batch's own record and operations list (measured: 265-280).
BATCH_COST = 280
#: Batches sent and not yet confirmed, at most: re-sending an outage's
#: backlog goes in windows Redis answers within milliseconds, so the
#: watchdog never takes a long backlog for a silent Redis, and the link's
#: output buffer holds one window, not the whole outbox, encoded.
MAX_IN_FLIGHT_BATCHES = 64
#: And about this many bytes of them (the outbox's counting; one batch
#: always goes, however large: a pass's lines are bounded by its read budget).
MAX_IN_FLIGHT_BYTES = 1024 * 1024
#: Bytes of the stream Redis keeps by default, beside the time retention
#: (the caller's, see `selchat.bus.scripts.PUBLISH`): about 4 M short lines at
#: Redis' 60-70 bytes an entry, or 10 minutes of a room at 7,000 lines a second.
MAX_STREAM_BYTES = 256 * 1024 * 1024

Arg = Union[bytes, str, int]


def sha1(script: str) -> str:
    """A script's name for EVALSHA."""
    return hashlib.sha1(script.encode()).hexdigest()


_PUBLISH_SHA = sha1(scripts.PUBLISH)


class Own:
    """A room line this node published, until it is read back from the stream."""

    __slots__ = ("number", "payload", "exclude", "delivered", "presence", "room", "tags")

    def __init__(self, number: int, payload: bytes, exclude: Optional[Hashable],
                 delivered: bool, presence: str = "", room: str = "", tags: str = "") -> None:
        self.number = number  # the node's own count of its lines: field ``i``
        self.payload = payload
        self.exclude = exclude  # who said it: no echo
        self.delivered = delivered  # delivered here already (during an outage)
        self.presence = presence  # to publish it again (see `Outbox.recover`)
        self.room = room  # "": the default room's
        self.tags = tags  # an IRC client's own tags, as IRC writes them (``+draft/reply=1``)


class Publication(NamedTuple):
    """One pass's sealed operations for Redis, numbered so Redis skips a repeat."""

    number: int
    time_ms: int
    first_line: int  # number of its first room line (0: none)
    ops: List[Arg]  # its operations, for `Outbox.command`
    size: int  # memory it holds (see `LINE_COST`)
    lines: int  # room and direct lines in it


class Outbox:
    """A node's operations from their pass until Redis has them."""

    def __init__(self, node: str, retention_ms: int, lease_ms: int,
                 max_bytes: int = MAX_OUTBOX_BYTES,
                 max_stream_bytes: int = MAX_STREAM_BYTES) -> None:
        self.node = node
        self.retention_ms = retention_ms
        self.lease_ms = lease_ms
        self.max_bytes = max_bytes
        self.max_stream_bytes = max_stream_bytes
        self._keys = [*PUBLISH_KEYS, f"{PREFIX}batch:{node}", RULES]
        self._ops: List[Arg] = []
        self._ops_size = 0
        self._ops_lines = 0
        self._first_line = 0  # number of the pass's first kept line, if any
        self._next_line = 0  # the number the pass's next kept line follows on from
        self._batches: Deque[Publication] = collections.deque()  # sealed, not confirmed
        self.pending: Deque[Own] = collections.deque()
        self._lines = 0  # lines numbered so far, kept or not
        self._said = 0  # the last number the sealed batches tell the stream
        self._batch_numbers = 0
        self._sent = 0  # the last batch sent on this connection
        self._flight = 0  # the size of those sent and not confirmed
        self.size = 0  # memory held by unconfirmed batches
        self.waiting_lines = 0  # lines in them, and in the pass's operations
        self.unpublished = 0  # lines not kept: over max_bytes

    def __len__(self) -> int:
        """Room lines published and not yet read back."""
        return len(self.pending)

    def _full(self, cost: int) -> bool:
        return self.size + self._ops_size + BATCH_COST + cost > self.max_bytes

    def line(self, payload: bytes, exclude: Optional[Hashable], presence: str,
             delivered: bool, room: str = "", tags: str = "") -> bool:
        """A line of `room` ("": the default room), with its IRC client's own
        `tags`, if any; False when the outbox is full (deliver it, it is not
        kept: its number is skipped, which the other nodes tell as a gap)."""
        self._lines += 1
        number = self._lines
        cost = len(payload) + len(tags) + LINE_COST
        if self._full(cost):
            self.unpublished += 1
            return False
        if not self._first_line:
            self._first_line = number
        elif number != self._next_line:  # refused lines between: the script jumps too
            self._ops += ("H", number - 1)
        self._next_line = number + 1
        self._ops += _line_op(payload, presence, room, tags)
        self._ops_size += cost
        self._ops_lines += 1
        self.waiting_lines += 1
        self.pending.append(Own(number, payload, exclude, delivered, presence, room, tags))
        return True

    def direct(self, key: str, payload: bytes) -> None:
        """A direct line for the member named `key`, on whichever node it is
        (dropped, and counted, when the outbox is full)."""
        cost = len(payload) + DIRECT_COST
        if self._full(cost):
            self.unpublished += 1
            return
        self._ops += ("M", key, payload)
        self._ops_size += cost
        self._ops_lines += 1
        self.waiting_lines += 1

    def claim(self, key: str, name: str, since_us: int, token_hash: str) -> None:
        """Never refused (names must agree across nodes), but counted."""
        self._ops += ("C", key, name, since_us, token_hash)
        self._ops_size += NAME_COST

    def release(self, key: str, token_hash: str = "") -> None:
        self._ops += ("R", key, token_hash)
        self._ops_size += NAME_COST

    def presence(self, presence: str, room: str) -> None:
        """A change of presence no line announces (a room past the announce
        limit; `room` "": the default room): the other nodes' lists learn it."""
        self._ops += ("P", presence, room)
        self._ops_size += NAME_COST

    def rooms(self, name: str, rooms: str) -> None:
        """This node's member `name` is in `rooms` ("current<TAB>room...", see
        `selchat.bus.scripts`; "": the default room only, or gone)."""
        self._ops += ("S", name, rooms)
        self._ops_size += NAME_COST + len(rooms)

    def topic(self, key: str, value: str, only_new: bool = False) -> None:
        """Room `key`'s topic (`selchat.topics.hash_value`; "": none, the room is gone)."""
        self._ops += ("T", key, value, int(only_new))
        self._ops_size += NAME_COST + len(value)

    def rule(self, field: str, value: str, only_new: bool = False) -> None:
        """An account, room rules or server ban changed (`selchat.accounts.shared`):
        "table<TAB>key" -> its JSON ("": deleted); `only_new`: unless Redis has one."""
        self._ops += ("A", field, value, int(only_new))
        self._ops_size += NAME_COST + len(value)

    def expel(self, name: str, room: str, told: str, reason: str) -> None:
        """The member named `name`, on whichever node it is, is put out of
        `room` ("": off the server), told `told` (`selchat.moderation_nodes`)."""
        self._ops += ("O", name, room, told, reason)
        self._ops_size += NAME_COST + len(told) + len(reason)

    def seal(self, time_ms: int) -> Optional[Publication]:
        """The pass's operations as one numbered batch (None if there are none).
        When the numbering went further than the stream is told (refused
        lines at the end, or a reconnect), a mark says how far: in this batch,
        or, with nothing else to send, alone once every batch is confirmed."""
        ops = self._ops
        said = max(self._said, self._next_line - 1)
        if self._lines > said and (ops or not self._batches):
            ops += ("H", self._lines)
            said = self._lines
        self._said = said
        if not ops:
            return None
        self._batch_numbers += 1
        batch = Publication(self._batch_numbers, time_ms, self._first_line, ops,
                      self._ops_size + BATCH_COST, self._ops_lines)
        self._batches.append(batch)
        self.size += batch.size
        self._ops, self._ops_size, self._ops_lines = [], 0, 0
        self._first_line = self._next_line = 0
        return batch

    def command(self, batch: Publication) -> List[Arg]:
        """The EVALSHA that publishes `batch`."""
        return ["EVALSHA", _PUBLISH_SHA, len(self._keys), *self._keys,
                self.node, batch.number, batch.time_ms, self.retention_ms, self.lease_ms,
                self.max_stream_bytes, batch.first_line, *batch.ops]

    def settled(self) -> bool:
        """Everything made so far is in Redis."""
        return not self._batches and not self._ops

    def recover(self, time_ms: int) -> None:
        """Redis lost its data: our lines it had confirmed but we never read
        back may not have reached the other nodes either. They go again,
        before the unconfirmed batches (the other nodes' tallies skip those
        they did read); the numbers between them, read back here, are told
        as a mark, a gap to the nodes that had not read them."""
        limit = next((batch.first_line for batch in self._batches if batch.first_line),
                     self._first_line)
        lost = [own for own in self.pending if not limit or own.number < limit]
        if not lost:
            return
        ops: List[Arg] = []
        previous = lost[0].number - 1
        for own in lost:
            if own.number != previous + 1:
                ops += ("H", own.number - 1)
            ops += _line_op(own.payload, own.presence, own.room, own.tags)
            previous = own.number
        number = self._batches[0].number - 1 if self._batches else self._batch_numbers + 1
        self._batch_numbers = max(self._batch_numbers, number)
        # Redis forgot every batch number: one of the confirmed ones is free.
        batch = Publication(number, time_ms, lost[0].number, ops,
                      len(lost) * LINE_COST + BATCH_COST, len(lost))
        self._batches.appendleft(batch)
        self.size += batch.size
        self.waiting_lines += batch.lines

    def rewind(self) -> None:
        """A new connection: nothing is in flight, the oldest unconfirmed batch
        goes first, and the next batches tell how far the numbering went
        (what the stream said may be lost with Redis' data)."""
        self._sent = self._flight = self._said = 0

    def to_send(self) -> List[Publication]:
        """The batches to send now, oldest first: those not sent on this
        connection yet, while the window (`MAX_IN_FLIGHT_BATCHES`,
        `MAX_IN_FLIGHT_BYTES`) has room; always one if none is in flight."""
        batches = self._batches
        if not batches:
            return []
        oldest = batches[0].number
        in_flight = max(0, self._sent - oldest + 1)
        chosen: List[Publication] = []
        for index in range(in_flight, len(batches)):
            if in_flight and (in_flight >= MAX_IN_FLIGHT_BATCHES
                              or self._flight >= MAX_IN_FLIGHT_BYTES):
                break
            batch = batches[index]
            chosen.append(batch)
            in_flight += 1
            self._flight += batch.size
            self._sent = batch.number
        return chosen

    def confirmed(self, number: int) -> None:
        """Redis has batch `number` (and every one before it)."""
        batches = self._batches
        while batches and batches[0].number <= number:
            batch = batches.popleft()
            self.size -= batch.size
            self.waiting_lines -= batch.lines
            if batch.number <= self._sent:
                self._flight -= batch.size

    def read_back(self, number: int) -> Optional[Own]:
        """Our line `number` came back from the stream: who it skips, if it
        still must be delivered. Lines before it that never came back (a
        stream trimmed during a long outage) are forgotten."""
        pending = self.pending
        while pending and pending[0].number < number:
            pending.popleft()
        if pending and pending[0].number == number:
            return pending.popleft()
        return None

    def deliver_here(self) -> List[Own]:
        """The lines published but not read back nor delivered: the bus is
        down, so they are delivered here now (and skipped when they come back)."""
        waiting = [own for own in self.pending if not own.delivered]
        for own in waiting:
            own.delivered = True
        return waiting


def _line_op(payload: bytes, presence: str, room: str, tags: str = "") -> Tuple[Arg, ...]:
    """A room line's operation: ``L`` for the default room, ``K`` (one more
    argument, the room's name: the entry's field ``r``) for the others, ``G``
    (room, then tags: field ``g``) for a line with its IRC client's own tags."""
    if tags:
        return ("G", payload, presence, room, tags)
    return ("K", payload, presence, room) if room else ("L", payload, presence)


#: `Tally`'s "read nothing of it yet, and it said lines before our time".
_UNKNOWN = -1


class Tally:
    """How far this node has read each node's room lines, by their numbers."""

    def __init__(self) -> None:
        self._read: Dict[str, int] = {}

    def seed(self, counts: Dict[str, int], live: Sequence[str] = ()) -> None:
        """At the first connect: each node's last number in the stream then;
        lines up to it came before this node's time, not missed. A `live`
        node without a count (a version that keeps none) starts from
        whatever is read of it first; any other node started later, and
        every one of its lines is this node's to read."""
        for node in live:
            self._read.setdefault(node, _UNKNOWN)
        for node, count in counts.items():
            self._read[node] = max(count, self._read.get(node, 0))

    def line(self, node: str, number: int) -> Optional[int]:
        """`node`'s line `number` was read: None if it was read before (skip
        it), else how many of that node's lines before it were never read."""
        last = self._read.get(node, 0)
        if number <= last:
            return None
        self._read[node] = number
        return 0 if last == _UNKNOWN else number - last - 1

    def mark(self, node: str, number: int) -> int:
        """`node` says its lines go up to `number`: how many were never read."""
        last = self._read.get(node, 0)
        if number <= last:
            return 0
        self._read[node] = number
        return 0 if last == _UNKNOWN else number - last


# -- reading the stream --------------------------------------------------------

class RoomLine(NamedTuple):
    seq: int
    time_ms: int
    data: bytes
    presence: str
    node: str
    #: Set for this node's own lines by the reader: who is not echoed, and
    #: whether it was already delivered here.
    own: Optional[Own] = None
    #: This node's number for its own lines (field ``i``), 0 for others'.
    number: int = 0
    #: The room's name (field ``r``); "" for the default room's lines.
    room: str = ""
    #: Its IRC client's own tags (field ``g``), as IRC writes them; "" mostly.
    tags: str = ""


class DirectLine(NamedTuple):
    key: str
    time_ms: int
    data: bytes
    node: str


class Mark(NamedTuple):
    """`node`'s room lines go up to `number` (what the stream does not show was lost)."""

    node: str
    number: int


class Lost(NamedTuple):
    """`lines` room lines of other nodes never reached this node: the
    reader's finding (not a stream entry), said to the members as a gap."""

    lines: int


class NameLost(NamedTuple):
    """`node`'s member named `key` claimed it after someone else: rename it."""

    node: str
    key: str


class Moved(NamedTuple):
    """The session with `token_hash` was resumed on `node`; `former` lets it go.
    `since` is when its name was first claimed (the claim moves with it), and
    `rooms` its rooms (as `Outbox.rooms` wrote them: they move with it too)."""

    token_hash: str
    former: str
    key: str
    since: int
    name: str
    node: str
    rooms: str = ""


class Told(NamedTuple):
    """`node`'s change of presence that no line announced (`Outbox.presence`)."""

    node: str
    presence: str
    room: str


class Ruled(NamedTuple):
    """`node` changed an account, a room's rules or a server ban (`Outbox.rule`)."""

    node: str
    field: str
    value: str


class Expelled(NamedTuple):
    """`node`'s moderator put the member named `name` out of `room` ("": off
    the server): its node removes it, telling it `told` (`Outbox.expel`)."""

    node: str
    name: str
    room: str
    told: str
    reason: str


Entry = Union[RoomLine, DirectLine, NameLost, Moved, Mark, Lost, Told, Ruled, Expelled]


def decode(fields: Sequence[bytes]) -> Optional[Entry]:
    """One stream entry's flat field list; None for a kind this version does not know."""
    entry: Dict[bytes, bytes] = dict(zip(fields[::2], fields[1::2]))
    node = entry.get(b"n", b"").decode()
    if b"s" in entry:
        return RoomLine(int(entry[b"s"]), int(entry.get(b"t", 0)), entry.get(b"d", b""),
                        entry.get(b"p", b"").decode("utf-8", "replace"), node,
                        None, int(entry.get(b"i", 0)),
                        entry.get(b"r", b"").decode("utf-8", "replace"),
                        entry.get(b"g", b"").decode("utf-8", "replace"))
    if b"m" in entry:
        return DirectLine(entry[b"m"].decode("utf-8", "replace"), int(entry.get(b"t", 0)),
                          entry.get(b"d", b""), node)
    if b"a" in entry:
        return Ruled(node, entry[b"a"].decode("utf-8", "replace"),
                     entry.get(b"d", b"").decode("utf-8", "replace"))
    if b"h" in entry:
        return Mark(node, int(entry[b"h"]))
    if b"x" in entry:
        owner, _, key = entry[b"x"].decode("utf-8", "replace").partition("\t")
        return NameLost(owner, key)
    if b"v" in entry:
        parts = entry[b"v"].decode("utf-8", "replace").split("\t", 4)
        if len(parts) == 5 and parts[3].isdecimal():
            return Moved(parts[0], parts[1], parts[2], int(parts[3]), parts[4], node,
                         entry.get(b"j", b"").decode("utf-8", "replace"))
    if b"o" in entry:
        return Expelled(node, *(entry.get(field, b"").decode("utf-8", "replace")
                                for field in (b"o", b"r", b"d", b"w")))
    if b"p" in entry:
        return Told(node, entry[b"p"].decode("utf-8", "replace"),
                    entry.get(b"r", b"").decode("utf-8", "replace"))
    return None


def xread_entries(reply: Any) -> List[Tuple[bytes, Sequence[bytes]]]:
    """(id, fields) of each entry of an XREAD reply on one stream (None: nothing new)."""
    return [] if reply is None else reply[0][1]


def line_counts(flat: Sequence[bytes]) -> Dict[str, int]:
    """The lines hash as node -> its last number."""
    return {node.decode(): int(count) for node, count in zip(flat[::2], flat[1::2])}


def rooms_snapshot(flat: Sequence[bytes], node: str) -> Dict[str, str]:
    """The joined hash as name -> rooms, of the members of nodes but `node`."""
    joined = {}
    for field, rooms in zip(flat[::2], flat[1::2]):
        owner, _, name = field.decode("utf-8", "replace").partition("\t")
        if owner != node:
            joined[name] = rooms.decode("utf-8", "replace")
    return joined


def topics_snapshot(flat: Sequence[bytes]) -> List[Tuple[str, Topic]]:
    """The topics hash as (room name, topic) pairs (`selchat.topics.from_hash`)."""
    return [from_hash(value.decode("utf-8", "replace")) for value in flat[1::2]]


def rules_snapshot(flat: Sequence[bytes]) -> Dict[str, str]:
    """The rules hash as "table<TAB>key" -> JSON ("": deleted)."""
    return {field.decode("utf-8", "replace"): value.decode("utf-8", "replace")
            for field, value in zip(flat[::2], flat[1::2])}


def names_snapshot(flat: Sequence[bytes]) -> Dict[str, Tuple[str, str]]:
    """The names hash as key -> (name, node)."""
    names = {}
    for key, value in zip(flat[::2], flat[1::2]):
        node, _, rest = value.decode("utf-8", "replace").partition("\t")
        names[key.decode("utf-8", "replace")] = (rest.partition("\t")[2], node)
    return names
