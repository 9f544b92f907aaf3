"""The history database: its schema and every statement, as functions of a
``sqlite3.Connection`` (no loop, no clock, no policy: `selchat.archive` decides
when each runs and how much it may do).

Tables. ``meta`` (key, value): the ``epoch`` of the numbering and the schema
``version``. ``lines`` (seq, room, time_ms, line): every room line kept, by its
number (the rowid, so appending is cheap and the newest are found at once),
``room`` the room's key ("" for the default room, whatever its name), ``line``
its text as every member was sent it (a room's with its ``#room`` prefix),
without the newline. ``topics`` (room, topic). With FTS5, ``lines_fts``
indexes ``line`` (an external-content table kept by triggers: the text is
stored once).

Private lines are never given to this module: only room lines are.
"""
import sqlite3
from typing import Iterable, Iterator, List, NamedTuple, Optional, Sequence, Tuple

#: The schema this code writes; a database of a later version is refused.
VERSION = 1
#: The database's file name in the data directory.
FILE = "history.db"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS lines(
    seq INTEGER PRIMARY KEY,
    room TEXT NOT NULL,
    time_ms INTEGER NOT NULL,
    line TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS lines_by_room ON lines(room, seq);
CREATE TABLE IF NOT EXISTS topics(room TEXT PRIMARY KEY, topic TEXT NOT NULL);
"""
_FTS = """
CREATE VIRTUAL TABLE IF NOT EXISTS lines_fts USING fts5(
    line, content='lines', content_rowid='seq');
CREATE TRIGGER IF NOT EXISTS lines_indexed AFTER INSERT ON lines BEGIN
    INSERT INTO lines_fts(rowid, line) VALUES (new.seq, new.line);
END;
CREATE TRIGGER IF NOT EXISTS lines_unindexed AFTER DELETE ON lines BEGIN
    INSERT INTO lines_fts(lines_fts, rowid, line) VALUES ('delete', old.seq, old.line);
END;
"""


class Row(NamedTuple):
    """One room line as stored."""

    seq: int
    room: str
    time_ms: int
    line: str


class SchemaProblem(Exception):
    """The database is of a version this code does not know."""


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
    return db.execute("SELECT 1 FROM sqlite_master WHERE name = 'lines_fts'").fetchone() is not None


def migrate(db: sqlite3.Connection, epoch: str, fts: bool) -> str:
    """Make the tables (with the full-text index if `fts`) if missing; returns
    the database's epoch (`epoch` if it is new). Raises SchemaProblem for an
    unknown version."""
    db.execute("BEGIN IMMEDIATE")
    try:
        _run(db, _SCHEMA)
        found = dict(db.execute("SELECT key, value FROM meta").fetchall())
        version = int(found.get("version", VERSION))
        if version > VERSION:
            raise SchemaProblem(f"its schema is version {version}, newer than this "
                                f"selchat's {VERSION}: upgrade selchat")
        if fts and not has_fts(db):
            _run(db, _FTS)
            db.execute("INSERT INTO lines_fts(lines_fts) VALUES ('rebuild')")
        db.executemany("INSERT OR IGNORE INTO meta(key, value) VALUES (?, ?)",
                       [("version", str(VERSION)), ("epoch", epoch)])
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise
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


def write(db: sqlite3.Connection, rows: Sequence[Row],
          topics: Iterable[Tuple[str, str]] = ()) -> None:
    """One pass's rows and topic changes, in one transaction (all or none)."""
    db.execute("BEGIN")
    try:
        db.executemany("INSERT OR REPLACE INTO lines(seq, room, time_ms, line) VALUES (?, ?, ?, ?)",
                       rows)
        db.executemany("INSERT OR REPLACE INTO topics(room, topic) VALUES (?, ?)", topics)
        db.execute("COMMIT")
    except BaseException:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise


def last_seq(db: sqlite3.Connection) -> int:
    """The newest line's number (0 if none)."""
    return int(db.execute("SELECT coalesce(max(seq), 0) FROM lines").fetchone()[0])


def last_lines(db: sqlite3.Connection, room: str, count: int,
               before: Optional[int] = None) -> List[Row]:
    """A room's `count` newest lines (older than number `before`, if given), oldest first."""
    if count <= 0:
        return []
    rows = db.execute(
        "SELECT seq, room, time_ms, line FROM lines WHERE room = ? AND seq < ? "
        "ORDER BY seq DESC LIMIT ?", (room, before or (1 << 62), count)).fetchall()
    return [Row(*row) for row in reversed(rows)]


def topics(db: sqlite3.Connection) -> List[Tuple[str, str]]:
    """Every room's topic kept: (room key, topic)."""
    return [(str(room), str(topic)) for room, topic in db.execute(
        "SELECT room, topic FROM topics WHERE topic != ''")]


def topic(db: sqlite3.Connection, room: str) -> str:
    found = db.execute("SELECT topic FROM topics WHERE room = ?", (room,)).fetchone()
    return "" if found is None else str(found[0])


def prune_older(db: sqlite3.Connection, before_ms: int, limit: int) -> int:
    """Delete at most `limit` of the oldest lines said before `before_ms`; how many went."""
    return _delete_oldest(db, "WHERE time_ms < ?", (before_ms,), limit)


def prune_oldest(db: sqlite3.Connection, limit: int) -> int:
    """Delete the `limit` oldest lines (a size cap); how many went."""
    return _delete_oldest(db, "", (), limit)


def _delete_oldest(db: sqlite3.Connection, where: str, args: Tuple, limit: int) -> int:
    db.execute("BEGIN")
    try:
        cursor = db.execute(f"DELETE FROM lines WHERE seq IN (SELECT seq FROM lines {where} "
                            "ORDER BY seq LIMIT ?)", (*args, limit))
        db.execute("COMMIT")
    except BaseException:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise
    return cursor.rowcount


def size(db: sqlite3.Connection) -> int:
    """Bytes the database's pages in use take (free pages are reused, not counted)."""
    pages = db.execute("PRAGMA page_count").fetchone()[0]
    free = db.execute("PRAGMA freelist_count").fetchone()[0]
    return int((pages - free) * db.execute("PRAGMA page_size").fetchone()[0])


def fts_query(words: Sequence[str]) -> str:
    """Words as an FTS5 query: each a quoted string (no operators), all of them."""
    return " ".join('"' + word.replace('"', '""') + '"' for word in words)


def search(db: sqlite3.Connection, words: Sequence[str], room: Optional[str],
           fts: bool) -> Iterator[Row]:
    """The lines holding every word (any case), newest first, lazily: the
    caller stops reading when it has enough (or its time is up)."""
    where, args = ("", ()) if room is None else (" AND room = ?", (room,))
    if fts:
        # FTS5 walks its matches newest first itself (ORDER BY rowid DESC):
        # nothing is sorted, and the caller's LIMIT stops the walk.
        where = where.replace("room", "lines.room")
        cursor = db.execute(
            "SELECT lines.seq, lines.room, lines.time_ms, lines.line FROM lines_fts "
            "JOIN lines ON lines.seq = lines_fts.rowid WHERE lines_fts MATCH ?" + where +
            " ORDER BY lines_fts.rowid DESC", (fts_query(words), *args))
    else:
        clauses = " AND ".join("instr(lower(line), ?) > 0" for _ in words)
        cursor = db.execute(
            f"SELECT seq, room, time_ms, line FROM lines WHERE {clauses}{where} "
            "ORDER BY seq DESC", (*(word.lower() for word in words), *args))
    for row in cursor:
        yield Row(*row)
