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
  published twice;
* every room line the node published waits in `pending` until it is read
  back, with the member it must not be echoed to, and whether it was already
  delivered here: during an outage the node delivers its lines at once and
  skips them when they come back.

The outbox is bounded (`max_bytes`): past it, lines made during an outage
are still delivered here but no longer kept for the other nodes, and counted
in `unpublished`. `decode` turns stream entries into the values the server
acts on. No clock, no randomness: times are the caller's.
"""
import collections
import hashlib
from typing import Any, Deque, Dict, Hashable, List, NamedTuple, Optional, Sequence, Tuple, Union

from selchat.bus import scripts

PREFIX = "selchat:"
STREAM = PREFIX + "stream"
#: The keys each script is given, in its KEYS order.
PUBLISH_KEYS = [STREAM, PREFIX + "seq", PREFIX + "names", PREFIX + "tokens", PREFIX + "nodes"]
SYNC_KEYS = [STREAM, PREFIX + "epoch", PREFIX + "names", PREFIX + "nodes"]
HEARTBEAT_KEYS = [STREAM, PREFIX + "names", PREFIX + "tokens", PREFIX + "nodes"]
TAKEOVER_KEYS = [STREAM, PREFIX + "names", PREFIX + "tokens"]
#: Bytes of lines kept for the bus during an outage by default: about a
#: million chat lines, or many minutes of the busiest room.
MAX_OUTBOX_BYTES = 64 * 1024 * 1024

Arg = Union[bytes, str, int]


def sha1(script: str) -> str:
    """A script's name for EVALSHA."""
    return hashlib.sha1(script.encode()).hexdigest()


class Own:
    """A room line this node published, until it is read back from the stream."""

    __slots__ = ("number", "payload", "exclude", "delivered")

    def __init__(self, number: int, payload: bytes, exclude: Optional[Hashable],
                 delivered: bool) -> None:
        self.number = number  # the node's own count of its lines: field ``i``
        self.payload = payload
        self.exclude = exclude  # who said it: no echo
        self.delivered = delivered  # delivered here already (during an outage)


class Batch(NamedTuple):
    number: int
    args: List[Arg]  # the whole EVALSHA command
    size: int  # bytes of lines in it
    lines: int  # room and direct lines in it


class Outbox:
    """A node's operations from their pass until Redis has them."""

    def __init__(self, node: str, retention_ms: int, lease_ms: int,
                 max_bytes: int = MAX_OUTBOX_BYTES) -> None:
        self.node = node
        self.retention_ms = retention_ms
        self.lease_ms = lease_ms
        self.max_bytes = max_bytes
        self._keys = [*PUBLISH_KEYS, f"{PREFIX}batch:{node}"]
        self._ops: List[Arg] = []
        self._ops_size = 0
        self._ops_lines = 0
        self._first_line = 0  # number of the pass's first line, if any
        self._batches: Deque[Batch] = collections.deque()  # sealed, not confirmed
        self.pending: Deque[Own] = collections.deque()
        self._lines = 0  # lines numbered so far
        self._batch_numbers = 0
        self.size = 0  # bytes of lines in unconfirmed batches
        self.waiting_lines = 0  # lines in them, and in the pass's operations
        self.unpublished = 0  # lines not kept: over max_bytes

    def __len__(self) -> int:
        """Room lines published and not yet read back."""
        return len(self.pending)

    def line(self, payload: bytes, exclude: Optional[Hashable], presence: str,
             delivered: bool) -> bool:
        """A room line; False when the outbox is full (deliver it, it is not kept)."""
        if self.size + self._ops_size + len(payload) > self.max_bytes:
            self.unpublished += 1
            return False
        self._lines += 1
        if not self._first_line:
            self._first_line = self._lines
        self._ops += ("L", payload, presence)
        self._ops_size += len(payload)
        self._ops_lines += 1
        self.waiting_lines += 1
        self.pending.append(Own(self._lines, payload, exclude, delivered))
        return True

    def direct(self, key: str, payload: bytes) -> None:
        """A direct line for the member named `key`, on whichever node it is
        (dropped, and counted, when the outbox is full)."""
        if self.size + self._ops_size + len(payload) > self.max_bytes:
            self.unpublished += 1
            return
        self._ops += ("M", key, payload)
        self._ops_size += len(payload)
        self._ops_lines += 1
        self.waiting_lines += 1

    def claim(self, key: str, name: str, since_us: int, token_hash: str) -> None:
        self._ops += ("C", key, name, since_us, token_hash)

    def release(self, key: str, token_hash: str = "") -> None:
        self._ops += ("R", key, token_hash)

    def seal(self, time_ms: int) -> Optional[Batch]:
        """The pass's operations as one numbered batch (None if there are none)."""
        if not self._ops:
            return None
        self._batch_numbers += 1
        args: List[Arg] = [
            "EVALSHA", sha1(scripts.PUBLISH), len(self._keys), *self._keys,
            self.node, self._batch_numbers, time_ms, self.retention_ms, self.lease_ms,
            self._first_line, *self._ops]
        batch = Batch(self._batch_numbers, args, self._ops_size, self._ops_lines)
        self._batches.append(batch)
        self.size += batch.size
        self._ops, self._ops_size, self._ops_lines, self._first_line = [], 0, 0, 0
        return batch

    def settled(self) -> bool:
        """Everything made so far is in Redis."""
        return not self._batches and not self._ops

    def unconfirmed(self) -> List[Batch]:
        """Batches Redis has not confirmed, oldest first: to send again."""
        return list(self._batches)

    def confirmed(self, number: int) -> None:
        """Redis has batch `number` (and every one before it)."""
        batches = self._batches
        while batches and batches[0].number <= number:
            batch = batches.popleft()
            self.size -= batch.size
            self.waiting_lines -= batch.lines

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


class DirectLine(NamedTuple):
    key: str
    time_ms: int
    data: bytes
    node: str


class NameLost(NamedTuple):
    """`node`'s member named `key` claimed it after someone else: rename it."""

    node: str
    key: str


class Moved(NamedTuple):
    """The session with `token_hash` was resumed on `node`; `former` lets it go.
    `since` is when its name was first claimed (the claim moves with it)."""

    token_hash: str
    former: str
    key: str
    since: int
    name: str
    node: str


Entry = Union[RoomLine, DirectLine, NameLost, Moved]


def decode(fields: Sequence[bytes]) -> Optional[Entry]:
    """One stream entry's flat field list; None for a kind this version does not know."""
    entry: Dict[bytes, bytes] = dict(zip(fields[::2], fields[1::2]))
    node = entry.get(b"n", b"").decode()
    if b"s" in entry:
        return RoomLine(int(entry[b"s"]), int(entry.get(b"t", 0)), entry.get(b"d", b""),
                        entry.get(b"p", b"").decode("utf-8", "replace"), node,
                        None, int(entry.get(b"i", 0)))
    if b"m" in entry:
        return DirectLine(entry[b"m"].decode("utf-8", "replace"), int(entry.get(b"t", 0)),
                          entry.get(b"d", b""), node)
    if b"x" in entry:
        owner, _, key = entry[b"x"].decode("utf-8", "replace").partition("\t")
        return NameLost(owner, key)
    if b"v" in entry:
        parts = entry[b"v"].decode("utf-8", "replace").split("\t", 4)
        if len(parts) == 5 and parts[3].isdecimal():
            return Moved(parts[0], parts[1], parts[2], int(parts[3]), parts[4], node)
    return None


def xread_entries(reply: Any) -> List[Tuple[bytes, Sequence[bytes]]]:
    """(id, fields) of each entry of an XREAD reply on one stream (None: nothing new)."""
    return [] if reply is None else reply[0][1]


def names_snapshot(flat: Sequence[bytes]) -> Dict[str, Tuple[str, str]]:
    """The names hash as key -> (name, node)."""
    names = {}
    for key, value in zip(flat[::2], flat[1::2]):
        node, _, rest = value.decode("utf-8", "replace").partition("\t")
        names[key.decode("utf-8", "replace")] = (rest.partition("\t")[2], node)
    return names
