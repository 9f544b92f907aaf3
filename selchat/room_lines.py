"""A room's lines by number, from memory and from the database: what a
history query (IRC's CHATHISTORY, `selchat.irc.chathistory`) reads.

Every room line has a number in the server's one sequence and its pass's
time (`selchat.history`). A query asks three things of a room's lines, and
`RoomLines` is those three: the newest few below a number (`before`), the
oldest few above one (`after`), and where a moment falls in the numbering
(`seq_at`: the first line said at or after it). Times only ever grow with
the numbers (a pass is numbered and timed once), so a moment is a number,
and every query is a walk along the numbers.

`MemoryLines` reads a room's `selchat.history.MemoryHistory` (its last
``--history`` lines); `StoredLines` the database (`selchat.store`: indexed
by room and number, so each read walks about as many rows as it returns);
`Combined` the memory first and the database for what memory no longer
holds. Nothing here decides how much to read: the caller asks for at most a
few hundred lines at a time.
"""
import bisect
import sqlite3
from typing import List, Optional, Protocol, Sequence

from selchat import store
from selchat.history import Line, MemoryHistory


class RoomLines(Protocol):
    """One room's lines, oldest first, by number."""

    def before(self, seq: int, count: int) -> List[Line]:
        """The newest `count` lines numbered below `seq`, oldest first."""

    def after(self, seq: int, count: int) -> List[Line]:
        """The oldest `count` lines numbered above `seq`, oldest first."""

    def seq_at(self, time_ms: int) -> Optional[int]:
        """The number of the first line said at or after `time_ms` (None: none was)."""


class MemoryLines:
    """The lines a room's memory history holds (a list made once per query)."""

    __slots__ = ("lines", "_seqs")

    def __init__(self, lines: Sequence[Line]) -> None:
        self.lines = lines
        self._seqs = [line.seq for line in lines]

    @property
    def first_seq(self) -> Optional[int]:
        """The oldest line's number held (None: none)."""
        return self._seqs[0] if self._seqs else None

    def before(self, seq: int, count: int) -> List[Line]:
        end = bisect.bisect_left(self._seqs, seq)
        return list(self.lines[max(0, end - count):end]) if count > 0 else []

    def after(self, seq: int, count: int) -> List[Line]:
        start = bisect.bisect_right(self._seqs, seq)
        return list(self.lines[start:start + count]) if count > 0 else []

    def seq_at(self, time_ms: int) -> Optional[int]:
        index = bisect.bisect_left(self.lines, time_ms, key=lambda line: line.time_ms)
        return self.lines[index].seq if index < len(self.lines) else None


def _line(row: store.Row) -> Line:
    return Line(row.seq, row.time_ms, (row.line + "\n").encode(), b"")


class StoredLines:
    """A room's lines in the history database (`room`: its key, "" for the default room)."""

    __slots__ = ("_db", "_room")

    def __init__(self, db: sqlite3.Connection, room: str) -> None:
        self._db, self._room = db, room

    def before(self, seq: int, count: int) -> List[Line]:
        return [_line(row) for row in store.last_lines(self._db, self._room, count, seq)]

    def after(self, seq: int, count: int) -> List[Line]:
        return [_line(row) for row in store.next_lines(self._db, self._room, count, seq)]

    def seq_at(self, time_ms: int) -> Optional[int]:
        return store.seq_at(self._db, time_ms)


class Combined:
    """A room's memory history, and the database for the older lines it no
    longer holds (the database holds the newer ones too: memory saves reading them)."""

    __slots__ = ("memory", "stored")

    def __init__(self, memory: MemoryLines, stored: StoredLines) -> None:
        self.memory, self.stored = memory, stored

    def before(self, seq: int, count: int) -> List[Line]:
        found = self.memory.before(seq, count)
        if len(found) < count:
            first = self.memory.first_seq
            below = seq if first is None else min(seq, first)
            found[:0] = self.stored.before(below, count - len(found))
        return found

    def after(self, seq: int, count: int) -> List[Line]:
        first = self.memory.first_seq
        if first is not None and seq >= first - 1:
            return self.memory.after(seq, count)
        older = self.stored.after(seq, count)
        if first is None:
            return older
        older = [line for line in older if line.seq < first]
        return older + self.memory.after(first - 1, count - len(older))

    def seq_at(self, time_ms: int) -> Optional[int]:
        memory = self.memory
        if memory.lines and memory.lines[0].time_ms < time_ms:
            return memory.seq_at(time_ms)  # within what memory holds, or after it
        found = self.stored.seq_at(time_ms)
        return memory.seq_at(time_ms) if found is None else found


def of_room(history: Optional[MemoryHistory], db: Optional[sqlite3.Connection],
            key: str, tail: Optional[int] = None) -> RoomLines:
    """A room's lines: its memory `history` (None: it has said nothing yet;
    `tail`: only its last lines, for a question about the newest), and the
    database `db` (None: ``--no-data``, or ``--bus``) under its `key`."""
    kept = 0 if history is None else len(history) if tail is None else min(tail, len(history))
    memory = MemoryLines(history.last(kept) if history is not None else [])
    return memory if db is None else Combined(memory, StoredLines(db, key))
