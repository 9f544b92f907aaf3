"""The history database: its schema and every statement, as functions of a
``sqlite3.Connection`` (no loop, no clock, no policy: `selchat.archive` decides
when each runs and how much it may do).

Tables. ``meta`` (key, value): the ``epoch`` of the numbering and the schema
``version``. ``passes`` (first, last, room, time_ms, lines): one row per pass
and room, as the loop keeps its lines (`selchat.history`): the numbers of its
first and last lines (``first`` is the rowid, so appending is cheap and the
newest are found at once), ``room`` the room's key ("" for the default room,
whatever its name), and ``lines`` its lines' text as every member was sent them
(a room's with its ``#room`` prefix), joined by newlines. A row per pass, not
per line, is what makes a write cheap: a busy pass of 50 lines is one row, one
index entry and one full-text document. Lines of one pass are numbered
without holes (``first`` + index). ``topics`` (room, topic, setter, set_ms:
who set it and when, `selchat.topics`; version 2 added the last two, "" and 0
in a version 1 database's rows); ``sessions``
(token hash, name, rooms) while the server is stopped. With FTS5,
``passes_fts`` indexes ``lines`` (an external-content table: the text is stored
once); a match is a pass, whose lines are then checked one by one. The index
is not kept by the writes: it follows them (`index_more`, in batches, up to
``meta.indexed``), because FTS5 does best with big transactions and a pass's
write should cost one row; the passes not yet indexed are few and searched by
a plain scan.

Private lines are never given to this module: only room lines are.
"""
import contextlib
import sqlite3
from typing import Iterable, Iterator, List, NamedTuple, Optional, Sequence, Tuple

from selchat.topics import Topic

#: The schema this code writes; a database of a later version is refused,
#: an earlier one brought up to it (`_UPGRADES`).
VERSION = 2
#: The database's file name in the data directory.
FILE = "history.db"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS passes(
    first INTEGER PRIMARY KEY,
    last INTEGER NOT NULL,
    room TEXT NOT NULL,
    time_ms INTEGER NOT NULL,
    lines TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS passes_by_room ON passes(room, first);
CREATE TABLE IF NOT EXISTS topics(room TEXT PRIMARY KEY, topic TEXT NOT NULL,
                                  setter TEXT NOT NULL DEFAULT '',
                                  set_ms INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS sessions(hash TEXT PRIMARY KEY, name TEXT NOT NULL,
                                    rooms TEXT NOT NULL);
"""
#: Version -> the statements that bring a database of it to the next one.
_UPGRADES = {
    1: """
ALTER TABLE topics ADD COLUMN setter TEXT NOT NULL DEFAULT '';
ALTER TABLE topics ADD COLUMN set_ms INTEGER NOT NULL DEFAULT 0;
""",
}
_FTS = """
CREATE VIRTUAL TABLE IF NOT EXISTS passes_fts USING fts5(
    lines, content='passes', content_rowid='first');
"""


class Pass(NamedTuple):
    """One pass's lines of one room, as written: numbers `first` to `last`."""

    first: int
    last: int
    room: str
    time_ms: int
    lines: str  # joined by newlines, no newline at the end


class Row(NamedTuple):
    """One room line as read back."""

    seq: int
    room: str
    time_ms: int
    line: str


def _rows(first: int, room: str, time_ms: int, lines: str) -> List[Row]:
    """A stored pass's lines."""
    return [Row(seq, room, time_ms, line)
            for seq, line in enumerate(lines.split("\n"), first)]


class SchemaProblem(Exception):
    """The database is of a version this code does not know."""


@contextlib.contextmanager
def _transaction(db: sqlite3.Connection, begin: str = "BEGIN") -> Iterator[None]:
    """A transaction: committed if the block ends, rolled back if it raises."""
    db.execute(begin)
    try:
        yield
        db.execute("COMMIT")
    except BaseException:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise


def fts_available(db: sqlite3.Connection) -> bool:
    """Whether this SQLite has FTS5 (compiled in, as in most builds)."""
    try:
        db.execute("CREATE VIRTUAL TABLE temp.fts_probe USING fts5(x)")
        db.execute("DROP TABLE temp.fts_probe")
        return True
    except sqlite3.OperationalError:
        return False


def has_fts(db: sqlite3.Connection) -> bool:
    """Whether this database has its full-text index."""
    found = db.execute("SELECT 1 FROM sqlite_master WHERE name = 'passes_fts'").fetchone()
    return found is not None


def migrate(db: sqlite3.Connection, epoch: str, fts: bool) -> str:
    """Make the tables (with the full-text index if `fts`) if missing; returns
    the database's epoch (`epoch` if it is new). An older version is brought
    up to this one in the same transaction (all of it, or nothing). Raises
    SchemaProblem for an unknown version."""
    with _transaction(db, "BEGIN IMMEDIATE"):
        has_meta = db.execute("SELECT 1 FROM sqlite_master WHERE name = 'meta'").fetchone()
        found = dict(db.execute("SELECT key, value FROM meta").fetchall()) if has_meta else {}
        version = int(found.get("version", VERSION))
        if version > VERSION:
            raise SchemaProblem(f"its schema is version {version}, newer than this "
                                f"selchat's {VERSION}: upgrade selchat")
        for older in range(version, VERSION):  # first: the schema may name what they add
            _run(db, _UPGRADES[older])
        _run(db, _SCHEMA)
        if version < VERSION:
            db.execute("UPDATE meta SET value = ? WHERE key = 'version'", (str(VERSION),))
        if fts and not has_fts(db):
            _run(db, _FTS)
            db.execute("DELETE FROM meta WHERE key = 'indexed'")  # all of it, from the start
        db.executemany("INSERT OR IGNORE INTO meta(key, value) VALUES (?, ?)",
                       [("version", str(VERSION)), ("epoch", epoch), ("indexed", "0")])
    return str(db.execute("SELECT value FROM meta WHERE key = 'epoch'").fetchone()[0])


def _run(db: sqlite3.Connection, script: str) -> None:
    """Each statement of `script` in the transaction open (``executescript``
    would commit it first)."""
    statement = ""
    for line in script.splitlines(keepends=True):
        statement += line
        if sqlite3.complete_statement(statement):
            db.execute(statement)
            statement = ""


def write(db: sqlite3.Connection, passes: Sequence[Pass],
          topics: Iterable[Tuple[str, Topic]] = ()) -> None:
    """Passes' lines and topic changes (room key -> topic), in one transaction
    (all or none)."""
    with _transaction(db):
        db.executemany("INSERT OR REPLACE INTO passes(first, last, room, time_ms, lines) "
                       "VALUES (?, ?, ?, ?, ?)", passes)
        db.executemany("INSERT OR REPLACE INTO topics(room, topic, setter, set_ms) "
                       "VALUES (?, ?, ?, ?)", [(room, *topic) for room, topic in topics])


def keep_sessions(db: sqlite3.Connection, sessions: Iterable[Tuple[str, str, str]]) -> None:
    """The resumable sessions when the server stops: (token hash, name, rooms
    but the default one, space-separated). Never a token: its hash only."""
    with _transaction(db):
        db.execute("DELETE FROM sessions")
        db.executemany("INSERT OR REPLACE INTO sessions(hash, name, rooms) VALUES (?, ?, ?)",
                       sessions)


def take_sessions(db: sqlite3.Connection) -> List[Tuple[str, str, List[str]]]:
    """The sessions kept at the last stop, forgotten as they are read (a
    session is restored once)."""
    with _transaction(db):
        rows = db.execute("SELECT hash, name, rooms FROM sessions").fetchall()
        db.execute("DELETE FROM sessions")
    return [(str(hashed), str(name), str(rooms).split()) for hashed, name, rooms in rows]


def last_seq(db: sqlite3.Connection) -> int:
    """The newest line's number (0 if none)."""
    found = db.execute("SELECT last FROM passes ORDER BY first DESC LIMIT 1").fetchone()
    return 0 if found is None else int(found[0])


def first_seq(db: sqlite3.Connection) -> int:
    """The oldest line's number kept (0 if none)."""
    found = db.execute("SELECT first FROM passes ORDER BY first LIMIT 1").fetchone()
    return 0 if found is None else int(found[0])


def last_lines(db: sqlite3.Connection, room: str, count: int,
               before: Optional[int] = None) -> List[Row]:
    """A room's `count` newest lines (older than number `before`, if given), oldest first."""
    found: List[Row] = []
    if count <= 0:
        return found
    cursor = db.execute("SELECT first, room, time_ms, lines FROM passes WHERE room = ? "
                        "AND first < ? ORDER BY first DESC", (room, before or (1 << 62)))
    try:
        for stored in cursor:  # newest pass first, until enough
            rows = [row for row in _rows(*stored) if before is None or row.seq < before]
            found[:0] = rows[-(count - len(found)):]
            if len(found) >= count:
                break
    finally:
        cursor.close()
    return found


def next_lines(db: sqlite3.Connection, room: str, count: int, after: int) -> List[Row]:
    """A room's `count` oldest lines newer than number `after`, oldest first
    (the pass holding `after` first: a pass's number is its first line's)."""
    found: List[Row] = []
    if count <= 0:
        return found
    holding = db.execute("SELECT first FROM passes WHERE room = ? AND first <= ? "
                         "ORDER BY first DESC LIMIT 1", (room, after)).fetchone()
    cursor = db.execute("SELECT first, room, time_ms, lines FROM passes WHERE room = ? "
                        "AND first >= ? ORDER BY first", (room, after + 1 if holding is None
                                                          else holding[0]))
    try:
        for stored in cursor:  # oldest pass first, until enough
            found += [row for row in _rows(*stored) if row.seq > after][:count - len(found)]
            if len(found) >= count:
                break
    finally:
        cursor.close()
    return found


def seq_at(db: sqlite3.Connection, time_ms: int) -> Optional[int]:
    """The number of the first line (of any room) said at or after `time_ms`
    (None: none was). Times grow with the numbers, so this is a binary search
    over the passes by number: a few dozen lookups of the primary key, never a scan."""
    probe = "SELECT first, time_ms FROM passes WHERE first >= ? ORDER BY first LIMIT 1"

    def reached(seq: int) -> Optional[Tuple[int, int]]:
        found = db.execute(probe, (seq,)).fetchone()
        return None if found is None else (int(found[0]), int(found[1]))

    oldest = reached(0)
    if oldest is None or oldest[1] >= time_ms:
        return None if oldest is None else oldest[0]
    # The first pass from `low` on was said before time_ms; from `high` on, not (or none is).
    low, high = oldest[0], last_seq(db) + 1
    while high - low > 1:
        middle = (low + high) // 2
        found = reached(middle)
        if found is None or found[1] >= time_ms:
            high = middle
        else:
            low = middle
    found = reached(high)
    return None if found is None else found[0]


def every_line(db: sqlite3.Connection) -> List[Row]:
    """Every line kept, oldest first (for tests and tools: the whole table)."""
    return [row for stored in db.execute(
        "SELECT first, room, time_ms, lines FROM passes ORDER BY first") for row in _rows(*stored)]


def topics(db: sqlite3.Connection) -> List[Tuple[str, Topic]]:
    """Every room's topic kept: (room key, topic)."""
    return [(str(room), Topic(str(text), str(by), int(at))) for room, text, by, at in db.execute(
        "SELECT room, topic, setter, set_ms FROM topics WHERE topic != ''")]


def topic(db: sqlite3.Connection, room: str) -> Topic:
    found = db.execute("SELECT topic, setter, set_ms FROM topics WHERE room = ?",
                       (room,)).fetchone()
    return Topic("") if found is None else Topic(str(found[0]), str(found[1]), int(found[2]))


def prune_older(db: sqlite3.Connection, before_ms: int, limit: int) -> int:
    """Delete at most `limit` of the oldest passes said before `before_ms`; how many went."""
    return _delete_oldest(db, "WHERE time_ms < ?", (before_ms,), limit)


def prune_oldest(db: sqlite3.Connection, limit: int) -> int:
    """Delete the `limit` oldest passes (a size cap); how many went."""
    return _delete_oldest(db, "", (), limit)


def _delete_oldest(db: sqlite3.Connection, where: str, args: Tuple, limit: int) -> int:
    doomed = f"SELECT first FROM passes {where} ORDER BY first LIMIT ?"
    with _transaction(db):
        if has_fts(db):  # out of the index first (it needs the text to forget it)
            db.execute("INSERT INTO passes_fts(passes_fts, rowid, lines) SELECT 'delete', "
                       f"first, lines FROM passes WHERE first IN ({doomed}) AND first <= ?",
                       (*args, limit, indexed(db)))
        cursor = db.execute(f"DELETE FROM passes WHERE first IN ({doomed})", (*args, limit))
    return cursor.rowcount


def indexed(db: sqlite3.Connection) -> int:
    """The newest pass (its first number) in the full-text index (0: none)."""
    found = db.execute("SELECT value FROM meta WHERE key = 'indexed'").fetchone()
    return 0 if found is None else int(found[0])


def index_more(db: sqlite3.Connection, limit: int) -> int:
    """Add the next `limit` passes not yet indexed to the full-text index, in
    one transaction; how many were added (0 without an index)."""
    if not has_fts(db):
        return 0
    with _transaction(db):
        done = indexed(db)
        newest = db.execute("SELECT max(first), count(*) FROM (SELECT first FROM passes "
                            "WHERE first > ? ORDER BY first LIMIT ?)", (done, limit)).fetchone()
        if not newest[1]:
            return 0
        db.execute("INSERT INTO passes_fts(rowid, lines) SELECT first, lines FROM passes "
                   "WHERE first > ? AND first <= ?", (done, newest[0]))
        db.execute("UPDATE meta SET value = ? WHERE key = 'indexed'", (str(newest[0]),))
    return int(newest[1])


def size(db: sqlite3.Connection) -> int:
    """Bytes the database's pages in use take (free pages are reused, not counted)."""
    pages = db.execute("PRAGMA page_count").fetchone()[0]
    free = db.execute("PRAGMA freelist_count").fetchone()[0]
    return int((pages - free) * db.execute("PRAGMA page_size").fetchone()[0])


def fts_query(words: Sequence[str]) -> str:
    """Words as an FTS5 query: each a quoted string (no operators) that a
    word of the text begins with, all of them."""
    return " ".join('"' + word.replace('"', '""') + '"*' for word in words)


def search_slice(db: sqlite3.Connection, words: Sequence[str], room: Optional[str], fts: bool,
                 low: int, high: int, limit: int) -> List[Row]:
    """The newest `limit` lines of the passes numbered from `low` up to (not
    including) `high` that hold every word (any case), in `room` (a key) or
    any room, newest first; with `fts`, through the full-text index (which
    must hold them: `indexed`). The caller bounds the time a slice takes."""
    where, args = ("", ()) if room is None else (" AND passes.room = ?", (room,))
    if fts and db.execute("SELECT 1 FROM passes WHERE first > ? AND first < ? LIMIT 1",
                          (indexed(db), high)).fetchone():
        raise ValueError(f"passes below {high} are not all indexed")
    if fts:
        # FTS5 walks its matching passes newest first itself, within the numbers asked.
        cursor = db.execute(
            "SELECT passes.first, passes.room, passes.time_ms, passes.lines FROM passes_fts "
            "JOIN passes ON passes.first = passes_fts.rowid WHERE passes_fts MATCH ? "
            "AND passes_fts.rowid >= ? AND passes_fts.rowid < ?" + where +
            " ORDER BY passes_fts.rowid DESC", (fts_query(words), low, high, *args))
    else:
        clauses = "".join(" AND instr(lower(lines), ?) > 0" for _ in words)
        cursor = db.execute(
            f"SELECT first, room, time_ms, lines FROM passes WHERE first >= ? AND first < ?"
            f"{clauses}{where} ORDER BY first DESC",
            (low, high, *(word.lower() for word in words), *args))
    wanted = [word.lower() for word in words]
    found: List[Row] = []
    try:
        for stored in cursor:  # a pass matches as a whole: its lines, one by one
            for row in reversed(_rows(*stored)):
                text = row.line.lower()
                if all(word in text for word in wanted):
                    found.append(row)
                    if len(found) >= limit:
                        return found
    finally:
        cursor.close()
    return found
