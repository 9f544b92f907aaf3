"""Room history on disk, in the loop: written once a pass, read back on restart.

Theory of operation. Every room line is already kept in memory as the pass's
own bytes (`selchat.history.MemoryHistory`); with a data directory each
history also has a `Journal`, which notes each pass's lines as one row. Nothing is
written per line: `Archive.commit` writes every row noted since the last
commit in one transaction, and `selchat.output.Output.deliver` calls it once
per delivery, *before* the pass's lines are sent. So a line is in the
database's write-ahead log before any member can have read it: a crash of the
process (kill -9) loses no line anyone was sent. With ``synchronous=NORMAL``
the log is not fsynced per commit, so a crash of the machine (power) may lose
the commits since the last checkpoint (at most the last ~1000 pages written),
never the database.

A write that fails (a full disk, a database locked by another program) does
not stop the chat: the passes wait in memory (at most `MAX_WAITING` lines, the oldest
are lost past it and counted), the log says history is not being kept,
``/metrics`` shows ``selchat_history_failing 1``, and the write is tried again
every `RETRY_SECONDS` until it works, when the log says so.

Restart: the epoch and the numbering go on from the database (a tagged
client's resume token and LASTSEQ stay good); the default room's last lines
and topic are read at startup; another room's when it is made again
(`recall`, called by `selchat.rooms.Rooms` for a room made anew, after a
restart or after it emptied). A resume can be given what the memory history
holds; older lines are for ``/history``. At a clean stop (`close`) every
resumable session is kept (its token's hash, name and rooms: never the token,
never its private lines); at the next start each is held again for the resume
window (`restore_sessions`, an `Absent` standing where its connection will be),
so a tagged client resumes across the restart with no gap. After a crash no
session is kept: its resume is refused with a gap and it joins anew.

Retention (``--retention-days``, ``--history-max-mb``) deletes at most
`PRUNE_BATCH` passes per timer run, again soon while there is more, so no pass
pays for more than a batch; the full-text index follows the writes in
batches too (`INDEX_BATCH`). ``/search`` walks the lines newest first in
slices of numbers, each bounded by time (a progress handler interrupts a
slice after `SLICE_SECONDS`, and the next is smaller), one slice per pass, and
answers with the newest `SEARCH_RESULTS` matches, or what it found by
`SEARCH_SECONDS` with a line saying how far back it looked.
"""
import logging
import sqlite3
import time
from typing import TYPE_CHECKING, Dict, List, Optional, Sequence, Tuple, cast

from selchat import rooms, store, topics, wire
from selchat.connection import State
from selchat.effect_types import Lookup, Send
from selchat.history import Line, MemoryHistory
from selchat.rooms import Room
from selchat.storage import Storage
from selchat.topics import Topic
from selchat.tags import tag_prefix
from selchat.timers import Timer

if TYPE_CHECKING:
    from selchat.connection import Connection
    from selchat.server import Server

log = logging.getLogger(__name__)

#: Lines waiting while the disk fails: 100,000 lines of ~100 bytes are ~10 MB
#: of memory, minutes of a busy room; a longer outage loses the oldest.
MAX_WAITING = 100_000
#: Seconds between attempts to write while the disk fails: often enough to
#: notice space coming back, seldom enough that a failing disk costs nothing.
RETRY_SECONDS = 1.0
#: Passes deleted per pruning run (each at most a pass's read budget of
#: lines): a few milliseconds of work at most.
PRUNE_BATCH = 200
#: Seconds between pruning runs when there was nothing more to delete; while
#: there is, the next run is in `PRUNE_AGAIN` (other passes run in between).
PRUNE_INTERVAL = 60.0
PRUNE_AGAIN = 0.05
#: Passes added to the full-text index per run, and how often it runs while
#: there is nothing more: FTS5 indexes a batch far cheaper than a pass at a
#: time, and a pass's write stays one row. Search scans what is not indexed yet.
INDEX_BATCH = 200
INDEX_INTERVAL = 0.5
#: Matches a search shows: the newest.
SEARCH_RESULTS = 20
#: A slice of a search may take this long before it is interrupted: a pass
#: with a search in it is a few milliseconds longer, no more.
SLICE_SECONDS = 0.004
#: Line numbers a search slice looks at first (halved after an interrupted one).
SLICE_LINES = 200_000
MIN_SLICE_LINES = 500
#: Seconds after which a search gives up and says how far back it looked.
SEARCH_SECONDS = 2.0
#: VM instructions between the progress handler's looks at the clock.
PROGRESS_STEPS = 2000
#: Lines one ``/history`` shows by default, and at most.
HISTORY_LINES = 20
MAX_HISTORY_LINES = 200
#: (connection, room) pairs whose ``/history`` position is remembered, at most.
MAX_POSITIONS = 10_000


def room_key(room: Optional[Room]) -> str:
    """A room's key in the database: "" for the default room, whatever its name."""
    return "" if room is None or room.default else room.key


class Journal:
    """Notes one room's lines for the archive (`MemoryHistory`'s ``journal``)."""

    __slots__ = ("_archive", "_room")

    def __init__(self, archive: "Archive", room: str) -> None:
        self._archive, self._room = archive, room

    def kept(self, first: int, time_ms: int, payload: bytes, ends: Sequence[int]) -> None:
        """Lines of a pass, their text as it was sent (less the last newline):
        one row with the lines just before them (the default room's lines
        come one by one, numbered as they are said)."""
        self._archive.note(first, first + len(ends) - 1, self._room, time_ms,
                           payload[:ends[-1] - 1].decode("utf-8", "replace"))


class Absent:
    """A session kept across a restart, held until a resume brings its
    connection (it stands where a connection would: never open)."""

    __slots__ = ("name",)
    state = State.CLOSED
    tagged = True

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"<kept session {self.name}>"


class _Search:
    """A search under way: what is asked, what is found, where it goes on."""

    __slots__ = ("conn", "words", "room", "shown", "found", "below", "slice", "started")

    def __init__(self, conn: "Connection", words: Sequence[str], room: Optional[str],
                 shown: str, below: int, started: float) -> None:
        self.conn, self.words, self.room, self.shown = conn, words, room, shown
        self.found: List[store.Row] = []
        self.below = below  # numbers below this one are still to look at
        self.slice = SLICE_LINES
        self.started = started


class Archive:
    """The history database of a running server (see the module doc)."""

    def __init__(self, server: "Server", storage: Storage) -> None:
        assert storage.db is not None
        self._server = server
        self._db = storage.db
        self._storage = storage
        self._counters = server.counters
        #: Passes noted and not yet written (and their lines); topics set, not yet written.
        self.passes: List[store.Pass] = []
        self.waiting = 0
        #: The row being noted: [first, last, room, time_ms, texts] (one per call).
        self._open: Optional[list] = None
        self._topics: Dict[str, Topic] = {}
        self.problem: Optional[str] = None  # why history is not being kept now
        self._retry: Optional[Timer] = None  # the next attempt, while failing
        self._positions: Dict[Tuple["Connection", str], int] = {}  # /history, by asker
        server._timers.call_at(server._now + PRUNE_AGAIN, self._prune)
        if storage.fts:
            server._timers.call_at(server._now + PRUNE_AGAIN, self._index)

    def _wall_ms(self) -> int:
        return int(self._server._wall_clock() * 1000)

    # -- what is restored -----------------------------------------------------------

    def journal(self, room: Optional[Room]) -> Journal:
        return Journal(self, room_key(room))

    def restore(self, history: MemoryHistory, room: Room) -> None:
        """The default room at startup: its topic, its last lines, and the
        numbering of every room (the newest number kept)."""
        db = self._db
        topics.restore(room, store.topic(db, ""))
        last = store.last_seq(db)
        self._fill(history, "", last)
        if last:
            log.info("history restored: %d lines of %s, numbering goes on after %d",
                     len(history), room.name, last)

    def recall(self, room: Room) -> None:
        """A room made (again): its topic and last lines from disk, and a
        history that notes its new ones."""
        if room.default:
            return
        server = self._server
        try:
            topics.restore(room, store.topic(self._db, room.key))
            history = MemoryHistory(server._history.epoch, server.limits.history,
                                    {"room": room.name}, numbered_elsewhere=True,
                                    journal=self.journal(room))
            self._fill(history, room.key, server._history.last_seq)
        except sqlite3.Error as exc:
            log.warning("cannot read the history of %s: %s", room.name, exc)
            return
        room.history = history

    def _fill(self, history: MemoryHistory, key: str, last: int) -> None:
        rows = store.last_lines(self._db, key, history.capacity)
        older = bool(rows) and bool(store.last_lines(self._db, key, 1, rows[0].seq))
        history.restore([(row.seq, row.time_ms, (row.line + "\n").encode()) for row in rows],
                        last, older)

    def restore_sessions(self) -> None:
        """The sessions kept when the server stopped, held again for the
        resume window, as if their connections had just dropped."""
        server = self._server
        room = server._room
        try:
            kept = store.take_sessions(self._db)
        except sqlite3.Error as exc:
            log.warning("cannot read the sessions kept: %s", exc)
            return
        deadline = server._now + room.resume_window
        for hashed, name, rooms_of in kept:
            absent = cast("Connection", Absent(name))  # a session, as a connection would be
            server._apply(room.restore_held(absent, name, hashed, rooms_of, deadline))
        if kept:
            log.info("%d sessions kept from before the restart, held for %g s", len(kept),
                     room.resume_window)

    def keep_sessions(self) -> None:
        """At shutdown: every resumable session (its token's hash, name and
        rooms), for `restore_sessions` after the restart."""
        room = self._server._room
        kept = [(member.token_hash, member.name,
                 " ".join(each.name for each in room.rooms.rooms_of(member.session)
                          if not each.default))
                for member in room.sessions]
        try:
            store.keep_sessions(self._db, kept)
        except sqlite3.Error as exc:
            log.warning("cannot keep the sessions for after the restart: %s", exc)

    # -- what is written -------------------------------------------------------------

    def topic(self, room: Optional[Room], topic: Topic) -> None:
        self._topics[room_key(room)] = topic

    def note(self, first: int, last: int, room: str, time_ms: int, text: str) -> None:
        """Lines `first` to `last` of `room`, to be written: with the open
        row if they follow it (same room, same pass), else in a new one."""
        row = self._open
        if row is not None and row[1] + 1 == first and row[2] == room and row[3] == time_ms:
            row[1] = last
            row[4].append(text)
        else:
            self._close_row()
            self._open = [first, last, room, time_ms, [text]]
        self.waiting += last - first + 1

    def _close_row(self) -> None:
        row, self._open = self._open, None
        if row is not None:
            self.passes.append(store.Pass(row[0], row[1], row[2], row[3], "\n".join(row[4])))

    def commit(self) -> None:
        """Write every pass and topic noted, in one transaction (or keep them
        for the next attempt if the disk fails)."""
        self._close_row()
        if not self.passes and not self._topics:
            return
        if self._retry is not None:  # failing: the timer tries again
            self._cap_waiting()
            return
        started = time.perf_counter()
        try:
            store.write(self._db, self.passes, self._topics.items())
        except sqlite3.Error as exc:
            self._failed(exc)
            return
        spent = time.perf_counter() - started
        if spent > self._counters.history_max_write_seconds:
            self._counters.history_max_write_seconds = spent
        self._counters.history_lines_written += self.waiting
        self.passes.clear()
        self._topics.clear()
        self.waiting = 0
        if self.problem is not None:
            log.warning("history is kept on disk again")
            self.problem = None
            self._counters.history_failing = self._counters.history_waiting_lines = 0

    def _failed(self, exc: sqlite3.Error) -> None:
        self._counters.history_write_failures += 1
        if self.problem is None:
            log.error("history is not being kept on disk: %s (the chat goes on; trying "
                      "again every %g s)", exc, RETRY_SECONDS)
        self.problem = str(exc)
        self._counters.history_failing = 1
        self._cap_waiting()
        server = self._server
        self._retry = server._timers.call_at(server._now + RETRY_SECONDS, self._try_again)

    def _cap_waiting(self) -> None:
        """Past MAX_WAITING lines waiting, the oldest passes are lost (and counted)."""
        while self.waiting > MAX_WAITING and len(self.passes) > 1:
            lost = self.passes.pop(0)
            self.waiting -= lost.last - lost.first + 1
            self._counters.history_lines_lost += lost.last - lost.first + 1
        self._counters.history_waiting_lines = self.waiting

    def _try_again(self, _: object) -> None:
        self._retry = None
        self.commit()

    def close(self) -> None:
        """At shutdown: what is noted is written (if it can be), the sessions
        kept if they can be resumed, and the files closed."""
        self._retry = None
        self.commit()
        if self._server._room.keep_sessions:
            self.keep_sessions()
        self._storage.close()

    # -- retention -------------------------------------------------------------------

    def _prune(self, _: object) -> None:
        """Delete a batch of lines past retention or over the size cap."""
        storage, deleted = self._storage, 0
        try:
            if storage.retention:
                cutoff = self._wall_ms() - int(storage.retention * 1000)
                deleted = store.prune_older(self._db, cutoff, PRUNE_BATCH)
            if storage.max_bytes and deleted < PRUNE_BATCH \
                    and store.size(self._db) > storage.max_bytes:
                deleted += store.prune_oldest(self._db, PRUNE_BATCH)
        except sqlite3.Error as exc:
            log.warning("cannot delete old history: %s", exc)
        if deleted:
            log.debug("history: %d old lines deleted", deleted)
        server = self._server
        wait = PRUNE_AGAIN if deleted >= PRUNE_BATCH else PRUNE_INTERVAL
        server._timers.call_at(server._now + wait, self._prune)

    def _index(self, _: object) -> None:
        """Add a batch of passes to the full-text index; soon again if more wait."""
        added = 0
        try:
            added = store.index_more(self._db, INDEX_BATCH)
        except sqlite3.Error as exc:
            log.warning("cannot index history for search: %s", exc)
        server = self._server
        wait = PRUNE_AGAIN if added >= INDEX_BATCH else INDEX_INTERVAL
        server._timers.call_at(server._now + wait, self._index)

    # -- what is read on demand ------------------------------------------------------

    def older(self, conn: "Connection", lookup: Lookup) -> None:
        """``/history``: lines of a room before number ``lookup.before`` (by
        default before the last ones this connection was shown)."""
        server = self._server
        key = "" if lookup.default else rooms.room_key(lookup.room)
        room = server._room.rooms.get(lookup.room)
        before = lookup.before or self._positions.get((conn, key))
        if before is None:  # nothing replayed: the newest lines are the earlier ones
            before = server._history.last_seq + 1
        self.commit()  # this pass's lines too
        try:
            rows = store.last_lines(self._db, key, min(lookup.count or HISTORY_LINES,
                                                       MAX_HISTORY_LINES), before)
        except sqlite3.Error as exc:
            server._apply([Send(conn, wire.error(f"cannot read the history: {exc}"))])
            return
        if not rows:
            server._apply([Send(conn, wire.notice(f"No earlier lines of {lookup.room}."))])
            return
        self.shown(conn, room, rows[0].seq, key)
        tags = {} if lookup.default else {"room": lookup.room}
        lines = [Line(row.seq, row.time_ms, (row.line + "\n").encode(),
                      tag_prefix(row.seq, row.time_ms, tags)) for row in rows]
        server._effects.send_lines(conn, lines, None if lookup.default else room, older=True)

    def shown(self, conn: "Connection", room: Optional[Room], seq: int,
              key: Optional[str] = None) -> None:
        """`conn` was shown `room`'s lines from number `seq` on (a replay, or
        ``/history``): its next ``/history`` shows the lines before."""
        if len(self._positions) >= MAX_POSITIONS:
            self._positions.pop(next(iter(self._positions)))
        self._positions[(conn, room_key(room) if key is None else key)] = seq

    def search(self, conn: "Connection", lookup: Lookup) -> None:
        """``/search``: the newest matches of the words (in a room, or every
        room), found a slice per pass."""
        try:
            below = store.last_seq(self._db) + 1
        except sqlite3.Error as exc:
            self._server._apply([Send(conn, wire.error(f"cannot search: {exc}"))])
            return
        below = max(below, self._server._history.last_seq + 1)
        key = None if not lookup.room else "" if lookup.default else rooms.room_key(lookup.room)
        shown = f" in {lookup.room}" if lookup.room else ""
        self._step(_Search(conn, lookup.words, key, shown, below, time.perf_counter()))

    def _step(self, search: _Search) -> None:
        """One slice of `search`: the numbers below `search.below`, newest first."""
        server = self._server
        if search.conn.state is not State.OPEN:
            return  # the asker has gone
        self.commit()  # this pass's lines too
        deadline = time.perf_counter() + SLICE_SECONDS
        low = max(0, search.below - search.slice)
        self._db.set_progress_handler(lambda: time.perf_counter() > deadline, PROGRESS_STEPS)
        rows = None
        try:
            fts = self._storage.fts
            if fts:  # the newest passes, not indexed yet, are scanned
                done = store.indexed(self._db)
                if search.below - 1 > done:
                    low, fts = max(low, done + 1), False
            rows = store.search_slice(self._db, search.words, search.room, fts,
                                      low, search.below, SEARCH_RESULTS - len(search.found))
        except sqlite3.OperationalError as exc:
            if "interrupt" not in str(exc):
                server._apply([Send(search.conn, wire.error(f"cannot search: {exc}"))])
                return
        finally:
            self._db.set_progress_handler(None, 0)
        if rows is None:  # interrupted: a smaller slice next pass
            search.slice = max(MIN_SLICE_LINES, search.slice // 2)
        else:
            search.found += rows
            search.below = low
        done = len(search.found) >= SEARCH_RESULTS or search.below <= 0
        if done or time.perf_counter() - search.started > SEARCH_SECONDS:
            self._answer(search, done)
            return
        server._timers.call_at(server._now, self._step, search)

    def _answer(self, search: _Search, complete: bool) -> None:
        server = self._server
        found = sorted(search.found)[-SEARCH_RESULTS:]
        default = server._room.rooms.default.name
        lines = [wire.notice(f"Search for {' '.join(search.words)}{search.shown}: "
                             f"{len(found)} match{'' if len(found) == 1 else 'es'}, "
                             "newest last:")] if found else []
        for row in found:
            when = time.strftime("%Y-%m-%d %H:%M", time.gmtime(row.time_ms / 1000))
            text = row.line if row.room else f"{default} {row.line}"
            lines.append(wire.notice(f"{when} {text}"))
        if not complete:
            lines.append(wire.notice(f"Search stopped at line {search.below}: it took too long "
                                     "(add words, or name a #room)."))
        elif not found:
            lines.append(wire.notice("No match."))
        server._apply([Send(search.conn, line) for line in lines])
