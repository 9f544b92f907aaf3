"""The room's recent lines, numbered, for replay on join and on resume.

Theory of operation. Every line broadcast to the room (chat, /me, join, leave
and rename notices) gets the next sequence number, counting from 1 for each
*epoch*; the epoch is random per server start, so a number from before a
restart is never mistaken for one after it. `History` is what the room needs
of the lines kept: `append` a pass's lines, `after(seq)` for a resume,
`last(n)` for a newcomer, `epoch`, `last_seq`. `MemoryHistory` keeps them in
this process; a Redis Stream shared by several processes can stand behind the
same interface later (its entry ids play the sequence numbers).

Storage follows the loop: each pass joins its broadcasts into one ``bytes``
payload that every member is sent. The history keeps a reference to that very
object and where its lines end, not a copy per line, so keeping 1000 lines
costs the lines' bytes once (they are already alive in the members' send
queues) plus a few ints. Lines come back as memoryview slices of it, each
with its tags (``@seq=N;time=T ``) in front for a tagged member: both are made
once per line, on first demand, and kept with the pass, so a replay is a list
of references to them (`replay`), sent by scatter/gather. A thousand members
resuming from the oldest line share the same bytes; each holds a list of
pointers (16 bytes a line), not a copy of the history. A newcomer without
tags needs no line objects at all: its replay is the passes' payloads
themselves, a piece a pass (`last_bytes`), and nothing is made or kept.

The capacity counts lines. When it is exceeded, the oldest lines are dropped,
from the oldest pass first; a pass partly dropped stays alive as a whole
object until its last line goes, so memory is bounded by the capacity's lines
plus one pass's payload.

Rooms share one sequence (`number`): a line of ``#dev`` takes the next
number, so the default room's history has a hole there and ``#dev``'s
history (made with ``numbered_elsewhere``) holds lines whose numbers skip the
other rooms'. A hole is no gap: a gap is a line of *this* room trimmed after
the number asked for (`after`). With one sequence a resume names one number
and gets every room's lines after it, merged in the order they were said.

No clock and no randomness here: the caller passes the pass's time and the
epoch (e.g. ``secrets.token_hex(8)``).
"""
import collections
from typing import (
    List, Mapping, MutableSequence, NamedTuple, Optional, Protocol, Sequence, Tuple, Union,
)

from selchat.sendbuf import Buffer

from selchat.tags import line_ends, tag_prefix

#: Lines kept by default (``serve --history``): 1000 lines of 100 bytes are
#: 100 KB, and a minute of a busy room.
DEFAULT_CAPACITY = 1000
#: Lines replayed to a newcomer by default (``serve --replay``): one screen.
DEFAULT_REPLAY = 20


class Line(NamedTuple):
    """One room line as kept: its number, its pass's time, its bytes (newline
    included) and its tags for a tagged member (``@seq=N;time=T ``)."""

    seq: int
    time_ms: int
    data: Buffer
    tags: bytes


class NotKept(NamedTuple):
    """The lines asked for are not all kept."""

    #: How many lines are lost; None when that is not known (a number from the future).
    missing: Optional[int]


class History(Protocol):
    """What the room needs of its recent lines, however they are stored."""

    @property
    def epoch(self) -> str:
        """Which numbering `last_seq` and every seq belong to."""

    @property
    def last_seq(self) -> int:
        """The number of the latest line (0 before the first)."""

    def append(self, payload: bytes, time_ms: int,
               ends: Optional[Sequence[int]] = None, first: Optional[int] = None) -> int:
        """Keep a pass's room lines; returns the number of the first of them
        (`first`, when someone else numbers them: a shared bus)."""

    def after(self, seq: int) -> Union[List[Line], NotKept]:
        """Every line after number `seq`, oldest first, or the NotKept if some are gone."""

    def last(self, count: int) -> List[Line]:
        """The last `count` lines kept (fewer if fewer are kept), oldest first."""


class Journal(Protocol):
    """Who writes a history's lines down (`selchat.archive.Journal`)."""

    def kept(self, first: int, time_ms: int, payload: bytes, ends: Sequence[int]) -> None:
        """A pass's lines of this history, numbered from `first`."""


class _Pass:
    """One pass's payload and where its lines end; `start` is its first line still kept."""

    __slots__ = ("first_seq", "payload", "ends", "time_ms", "start", "_lines", "_tags")

    def __init__(self, first_seq: int, payload: bytes, ends: Sequence[int], time_ms: int,
                 tags: Mapping[str, str]) -> None:
        self.first_seq = first_seq
        self._tags = tags
        self.payload = payload
        #: A tuple: a list from the caller would keep its spare slots (40 bytes
        #: more for a one-line pass, the join notices of every small room).
        self.ends: Tuple[int, ...] = ends if isinstance(ends, tuple) else tuple(ends)
        self.time_ms = time_ms
        self.start = 0  # index in `ends` of the first line kept
        self._lines: Optional[List[Line]] = None  # made on first demand, then shared

    def lines(self, skip: int = 0) -> List[Line]:
        """Its kept lines, leaving out the first `skip` of them."""
        lines = self._lines
        if lines is None:
            # A pass of one line is that line: the payload itself, no memoryview
            # (184 bytes a line, most of a joining crowd's history).
            whole = len(self.ends) == 1
            view = self.payload if whole else memoryview(self.payload)
            seq, time_ms, begin = self.first_seq, self.time_ms, 0
            lines = []
            for end in self.ends:
                data = view if whole else view[begin:end]
                lines.append(Line(seq, time_ms, data, tag_prefix(seq, time_ms, self._tags)))
                seq, begin = seq + 1, end
            self._lines = lines
        return lines[self.start + skip:]


#: Passes a history keeps in a list before it moves them to a deque. A deque
#: costs about 600 bytes however few it holds (a block of 64 slots), a list 8
#: a pass; most rooms are small and quiet (10 members' join notices), while
#: a busy room trims its oldest pass on every append, which only a deque does
#: in O(1) whatever ``--history`` is.
SMALL_HISTORY = 64


class MemoryHistory:
    """The last `capacity` room lines, in this process (0: none kept, numbers still counted).

    `tags`: tags of its own every line carries for a tagged member (a room's
    ``room``); `numbered_elsewhere`: its lines come numbered from the shared
    sequence (`number` of the default room's history), with holes between."""

    __slots__ = ("_epoch", "capacity", "_tags", "_elsewhere", "_passes", "_kept", "_last_seq",
                 "_trimmed", "_holes", "journal")

    def __init__(self, epoch: str, capacity: int = DEFAULT_CAPACITY,
                 tags: Mapping[str, str] = {}, numbered_elsewhere: bool = False,
                 journal: Optional["Journal"] = None) -> None:
        if capacity < 0:
            raise ValueError(f"capacity must be 0 or more, not {capacity}")
        self._epoch = epoch
        self.capacity = capacity
        self._tags = tags
        self._elsewhere = numbered_elsewhere
        #: Oldest first: a list while small, then a deque (SMALL_HISTORY).
        self._passes: MutableSequence[_Pass] = []
        self._kept = 0  # lines held, over all passes
        self._last_seq = 0
        self._trimmed = 0  # the number of the newest line dropped (0: none)
        self._holes = False  # numbers skipped (other rooms' lines): a gap's size is unknown
        #: Notes every line appended (to write it down: `selchat.archive`).
        self.journal = journal

    @property
    def epoch(self) -> str:
        return self._epoch

    @property
    def last_seq(self) -> int:
        return self._last_seq

    @property
    def first_seq(self) -> int:
        """The number of the oldest line kept (last_seq + 1 when none is)."""
        if not self._passes:
            return self._last_seq + 1
        return self._passes[0].first_seq + self._passes[0].start

    def number(self, count: int = 1) -> int:
        """The next `count` numbers, for lines of another room (one sequence
        across rooms): a hole here, not a gap. Returns the first."""
        self._last_seq += count
        self._holes = True
        return self._last_seq - count + 1

    def __len__(self) -> int:
        return self._kept

    def begin(self, seq: int) -> None:
        """Lines up to number `seq` are not known here (a room's history made
        by a node that started after the room did): a resume from before is
        a gap, not a silent hole."""
        self._trimmed = max(self._trimmed, seq)
        self._last_seq = max(self._last_seq, seq)
        self._holes = self._holes or self._elsewhere

    def append(self, payload: bytes, time_ms: int,
               ends: Optional[Sequence[int]] = None, first: Optional[int] = None) -> int:
        """Keep `payload`'s lines (newline-terminated; `ends` where each ends, if
        the caller knows, else found here); returns the first one's number.

        `first` numbers them when they come numbered (from a bus); if it is
        not the next number, the lines between are missing, so everything
        kept before is dropped: what is kept always follows without a hole."""
        if ends is None:
            ends = line_ends(payload)
        if first is not None and first != self._last_seq + 1:
            if self._elsewhere:  # other rooms' lines between: holes
                self._holes = True
            else:
                self._passes.clear()
                self._kept = 0
                self._trimmed = first - 1
            self._last_seq = first - 1
        first = self._last_seq + 1
        count = len(ends)
        self._last_seq += count
        if self.journal is not None and count:
            self.journal.kept(first, time_ms, payload, ends)
        if count and self.capacity:
            passes = self._passes
            passes.append(_Pass(first, payload, ends, time_ms, self._tags))
            if isinstance(passes, list) and len(passes) > SMALL_HISTORY:
                self._passes = collections.deque(passes)
            self._kept += count
            self._trim()
        elif count:
            self._trimmed = self._last_seq
        return first

    def _trim(self) -> None:
        """Drop the oldest lines over capacity: whole passes, then the head of one."""
        over = self._kept - self.capacity
        passes = self._passes
        while over > 0:
            oldest = passes[0]
            count = len(oldest.ends)
            left = count - oldest.start
            if left <= over:
                del passes[0]  # a deque's popleft; a list's is short (SMALL_HISTORY)
                over -= left
                self._kept -= left
                self._trimmed = oldest.first_seq + count - 1
            else:
                oldest.start += over
                self._kept -= over
                over = 0
                self._trimmed = oldest.first_seq + oldest.start - 1

    def restore(self, lines: Sequence[Tuple[int, int, bytes]], last_seq: int,
                older: bool) -> None:
        """Lines an earlier run of this epoch kept, as (seq, time_ms, bytes),
        oldest first, not written down again; the numbering goes on after
        `last_seq`. `older`: lines before them were kept too (a resume from
        before them is a gap, never a silent hole)."""
        journal, self.journal = self.journal, None
        for seq, time_ms, data in lines:
            if seq != self._last_seq + 1:
                self._holes = True
            self._last_seq = seq - 1
            self.append(data, time_ms, (len(data),))
        self.journal = journal
        if lines and older:
            self._trimmed = max(self._trimmed, lines[0][0] - 1)
        if last_seq > self._last_seq:
            self._holes = True
            self._last_seq = last_seq

    def after(self, seq: int) -> Union[List[Line], NotKept]:
        if seq < 0 or (seq > self._last_seq and not self._elsewhere):
            return NotKept(None)  # not a number this epoch gave out (its owner checks)
        if seq < self._trimmed:  # lines of this room after `seq` were dropped
            return NotKept(None if self._holes else self._trimmed - seq)
        lines: List[Line] = []
        # Newest passes first, until the one holding seq + 1: a resume asks for
        # the last few lines, so this walks few passes whatever the capacity.
        wanted: List[_Pass] = []
        for held in reversed(self._passes):
            wanted.append(held)
            if held.first_seq + held.start <= seq + 1:
                break
        for held in reversed(wanted):
            lines += held.lines(max(0, seq + 1 - held.first_seq - held.start))
        return lines

    def last(self, count: int) -> List[Line]:
        if count <= 0:
            return []
        chunks: List[List[Line]] = []  # newest pass first
        found = 0
        for held in reversed(self._passes):
            chunks.append(held.lines())
            found += len(chunks[-1])
            if found >= count:
                break
        lines = [line for chunk in reversed(chunks) for line in chunk]
        return lines[-count:]

    def last_bytes(self, count: int) -> Tuple[int, List[Buffer]]:
        """The bytes of the last `count` lines kept, and the first one's number:
        one piece per pass, the newest passes' payloads (the oldest one's tail
        only if not all of it is wanted), shared, never copied (`last_bytes`)."""
        pieces: List[Buffer] = []  # newest pass first
        first_seq = 0
        for held in reversed(self._passes):
            if count <= 0:
                break
            ends, payload = held.ends, held.payload
            kept = len(ends) - held.start
            first = len(ends) - min(kept, count)  # its first line sent
            if not first and ends[-1] == len(payload):
                pieces.append(payload)
            else:  # its last lines: from the end of the line before them
                pieces.append(memoryview(payload)[ends[first - 1] if first else 0:ends[-1]])
            first_seq = held.first_seq + first
            count -= kept
        pieces.reverse()
        return first_seq, pieces


def last_bytes(history: History, count: int) -> Tuple[int, int, List[Buffer]]:
    """The last `count` lines kept, as a member that did not ask for tags is
    replayed them: (how many there are, the first one's number, their bytes
    as pieces to send as they are). From a `MemoryHistory`, one piece per
    pass (its payload, or the tail of it), and no `Line` made or kept for it
    (a crowd of newcomers would otherwise pin a ``Line`` and a tag prefix to
    every line replayed); from another `History`, its lines' bytes."""
    if isinstance(history, MemoryHistory):
        return (min(max(count, 0), len(history)), *history.last_bytes(count))
    lines = history.last(count)
    return len(lines), lines[0].seq if lines else 0, replay(lines, tagged=False)


def replay(lines: Sequence[Line], tagged: bool) -> List[Buffer]:
    """Lines as one member is sent them, as pieces to send as they are (never
    joined: they are the history's own bytes): each line's bytes, with its
    original ``seq`` and ``time`` tags in front when that member asked for tags."""
    if not tagged:
        return [line.data for line in lines]
    parts: List[Buffer] = []
    for line in lines:
        parts += (line.tags, line.data)
    return parts
