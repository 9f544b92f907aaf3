"""The history database's statements (`selchat.store`), on an in-memory SQLite."""
import sqlite3

import pytest

from selchat import store
from selchat.store import Pass
from selchat.topics import Topic
from support.history_v1 import VERSION_1


class Database:
    """An in-memory database, with or without its full-text index."""

    def __init__(self, fts: bool) -> None:
        self.connection = sqlite3.connect(":memory:", isolation_level=None)
        self.fts = fts

    def __getattr__(self, name):
        return getattr(self.connection, name)


@pytest.fixture(params=[True, False], ids=["fts5", "scan"])
def db(request):
    database = Database(request.param)
    if request.param and not store.fts_available(database.connection):
        pytest.skip("this SQLite has no FTS5")
    assert store.migrate(database.connection, "e1", database.fts) == "e1"
    yield database
    database.close()


def lines(db):
    return [row.seq for row in store.every_line(db)]


def one(seq, room, time_ms, line):
    """A pass of one line."""
    return Pass(seq, seq, room, time_ms, line)


def test_the_epoch_is_kept_and_a_newer_schema_refused(db):
    assert store.migrate(db, "e2", db.fts) == "e1"
    db.execute("UPDATE meta SET value = '99' WHERE key = 'version'")
    with pytest.raises(store.SchemaProblem, match="version 99, newer"):
        store.migrate(db, "e3", db.fts)


def test_a_pass_is_written_all_or_nothing(db):
    store.write(db, [one(1, "", 10, "<a> one"), one(2, "#dev", 10, "#dev <a> two")],
                [("#dev", Topic("a topic", "alice", 1_765_000_000_000))])
    with pytest.raises(sqlite3.IntegrityError):
        store.write(db, [one(3, "", 11, "<a> three"), one(4, "", 11, None)])  # type: ignore
    assert lines(db) == [1, 2]
    assert store.last_seq(db) == 2
    assert store.topic(db, "#dev") == Topic("a topic", "alice", 1_765_000_000_000)
    assert store.topic(db, "") == Topic("")
    assert store.topics(db) == [("#dev", Topic("a topic", "alice", 1_765_000_000_000))]


def test_a_version_1_database_is_brought_up_to_date_keeping_everything():
    db = sqlite3.connect(":memory:", isolation_level=None)
    db.executescript(VERSION_1)
    assert store.migrate(db, "new", fts=False) == "old"
    assert db.execute("SELECT value FROM meta WHERE key = 'version'").fetchone() == (
        str(store.VERSION),)
    assert lines(db) == [1]
    assert store.topic(db, "#dev") == Topic("old topic")  # who set it: not known
    assert store.topic(db, "") == Topic("lobby topic")
    store.write(db, [], [("#dev", Topic("new topic", "bob", 9))])
    assert store.topic(db, "#dev") == Topic("new topic", "bob", 9)
    assert store.migrate(db, "new", fts=False) == "old"  # and again: nothing to do


def test_a_failed_upgrade_leaves_the_database_as_it_was(monkeypatch):
    db = sqlite3.connect(":memory:", isolation_level=None)
    db.executescript(VERSION_1)
    monkeypatch.setitem(store._UPGRADES, 1, store._UPGRADES[1] + "SELECT nonsense;\n")
    with pytest.raises(sqlite3.OperationalError):
        store.migrate(db, "new", fts=False)
    assert db.execute("SELECT value FROM meta WHERE key = 'version'").fetchone() == ("1",)
    assert [row[1] for row in db.execute("PRAGMA table_info(topics)")] == ["room", "topic"]


def test_last_lines_of_a_room_oldest_first_and_before_a_number(db):
    store.write(db, [one(n, "#dev" if n % 2 else "", n, f"line {n}") for n in range(1, 11)])
    assert [row.seq for row in store.last_lines(db, "", 3)] == [6, 8, 10]
    assert [row.seq for row in store.last_lines(db, "#dev", 2, before=7)] == [3, 5]
    assert store.last_lines(db, "#none", 5) == [] and store.last_lines(db, "", 0) == []


def test_pruning_deletes_at_most_a_batch_of_the_oldest(db):
    store.write(db, [one(n, "", n * 1000, f"line {n}") for n in range(1, 11)])
    assert store.prune_older(db, 6000, 3) == 3
    assert lines(db) == [4, 5, 6, 7, 8, 9, 10]
    assert store.prune_older(db, 6000, 3) == 2
    assert store.prune_older(db, 6000, 3) == 0
    assert store.prune_oldest(db, 4) == 4
    assert lines(db) == [10]


def test_search_newest_first_within_a_slice_any_case_every_word(db):
    store.write(db, [one(1, "", 1, "<a> Apple pie"), one(2, "#dev", 2, "#dev <b> apple tart"),
                     one(3, "", 3, "<a> pie only"), one(4, "", 4, "<c> APPLE PIE again")])
    assert store.index_more(db, 100) == (4 if db.fts else 0)
    found = store.search_slice(db, ["apple", "pie"], None, db.fts, 0, 10, 20)
    assert [row.seq for row in found] == [4, 1]
    assert [row.seq for row in store.search_slice(db, ["apple"], "#dev", db.fts, 0, 10, 20)] == [2]
    assert [row.seq for row in store.search_slice(db, ["apple"], None, db.fts, 0, 4, 1)] == [2]
    assert store.search_slice(db, ['"quoted"', "*"], None, db.fts, 0, 10, 20) == []


def test_pruned_lines_are_not_found(db):
    store.write(db, [one(1, "", 1, "<a> old words"), one(2, "", 2000, "<a> new words")])
    store.index_more(db, 100)
    store.prune_older(db, 1000, 10)
    assert [row.seq for row in store.search_slice(db, ["words"], None, db.fts, 0, 9, 20)] == [2]


def test_sessions_are_kept_once(db):
    store.keep_sessions(db, [("h1", "ann", "#dev #ops"), ("h2", "bob", "")])
    assert store.take_sessions(db) == [("h1", "ann", ["#dev", "#ops"]), ("h2", "bob", [])]
    assert store.take_sessions(db) == []


def test_the_size_counts_pages_in_use(db):
    empty = store.size(db)
    store.write(db, [one(n, "", n, "x" * 1000) for n in range(1, 200)])
    assert store.size(db) > empty + 190 * 1000


def test_the_index_follows_the_writes_a_batch_at_a_time(db):
    store.write(db, [Pass(n * 10, n * 10 + 1, "", n, f"<a> word {n}\n<b> other") for n in
                     range(1, 6)])
    if not db.fts:
        assert store.index_more(db, 2) == 0  # no index: nothing to do
        return
    assert store.indexed(db) == 0
    assert store.index_more(db, 2) == 2 and store.indexed(db) == 20
    with pytest.raises(ValueError, match="not all indexed"):
        store.search_slice(db, ["word"], None, True, 0, 60, 20)
    assert [row.seq for row in store.search_slice(db, ["word"], None, True, 0, 30, 20)] \
        == [20, 10]
    assert store.index_more(db, 10) == 3 and store.index_more(db, 10) == 0
    found = store.search_slice(db, ["word"], None, db.fts, 0, 60, 20)
    assert [row.line for row in found] == [f"<a> word {n}" for n in range(5, 0, -1)]
