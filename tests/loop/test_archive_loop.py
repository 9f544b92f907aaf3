"""History on disk in the loop (`selchat.archive`): one transaction per
delivery, written before the lines are sent, read back after a restart (lines,
topics, numbering, epoch, sessions), pruned a batch at a time on the timer
heap, and a failing disk that the chat does not notice."""
import logging
import os
import sqlite3

import pytest

from selchat import archive, store
from selchat.storage import Storage
from selchat.tags import split_tags
from support.fake_loop import Loop
from support.history_v1 import VERSION_1

DAY = 86400.0


class WallClock:
    """The server's wall clock (line times, retention), moved by hand."""

    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def data(tmp_path):
    return str(tmp_path / "data")


def serve(data: str, wall=None, fts=None, **limits) -> Loop:
    storage = Storage.open(data, False, fts=fts)
    return Loop(storage=storage, wall_clock=wall or WallClock(), **limits)


def rows(data: str):
    """(seq, room, text) of every line on disk."""
    db = sqlite3.connect(f"{data}/{store.FILE}")
    try:
        return [(row.seq, row.room, row.line) for row in store.every_line(db)]
    finally:
        db.close()


def stop(loop: Loop) -> None:
    """A clean stop (SIGTERM's path): everyone told, then closed."""
    loop.server.stop()
    loop.until(loop.server.finished)
    loop.close()


def test_a_pass_of_lines_is_one_write_made_before_anyone_is_sent_them(data, monkeypatch):
    loop = serve(data)
    alice, bob = loop.peer("alice"), loop.peer("bob")
    writes = []
    real_write = store.write

    def write(db, passes, topics=()):
        writes.append((len(passes), len(bob.lines)))  # what bob had been sent by then
        real_write(db, passes, topics)
    monkeypatch.setattr(store, "write", write)
    seen = len(bob.lines)
    alice.send("one", "two", "three")
    loop.until(lambda: len(bob.lines) == seen + 3)
    assert writes == [(1, seen)]  # one transaction, one row, before bob was sent anything
    assert [line for _, _, line in rows(data)][-3:] == ["<alice> one", "<alice> two",
                                                         "<alice> three"]
    loop.close()


def test_private_lines_are_never_written(data):
    loop = serve(data)
    alice, bob = loop.peer("alice"), loop.peer("bob")
    alice.send("/msg bob a secret", "in the open")
    loop.until(lambda: any("in the open" in line for line in bob.lines))
    assert not any("secret" in line for _, _, line in rows(data))
    loop.close()


def test_a_restart_keeps_lines_topics_numbering_and_epoch(data):
    loop = serve(data, replay=3)
    alice = loop.peer("alice")
    alice.send("/topic the lobby", "/join #dev", "/topic dev things", "said in dev", "/part #dev")
    loop.until(lambda: any("left #dev" in line for line in alice.lines))
    epoch, last = loop.server._history.epoch, loop.server._history.last_seq
    stop(loop)

    loop = serve(data, replay=3)
    assert loop.server._history.epoch == epoch
    assert loop.server._history.last_seq == last
    bob = loop.peer("bob")
    loop.run()
    assert "*** alice set the topic: the lobby" in bob.lines
    bob.send("/topic", "/join #dev")
    loop.until(lambda: "*** End of history." in bob.lines[-1:])
    # Who set each topic, and when (the wall clock's 1,700,000,000 s), kept too.
    assert "*** Topic of #lobby: the lobby (set by alice, 2023-11-14 22:13 UTC)" in bob.lines
    assert "*** Topic for #dev: dev things" in bob.lines  # the join's line: the topic alone
    bob.send("/topic #dev")
    loop.until(lambda: "*** Topic of #dev: dev things (set by alice, 2023-11-14 22:13 UTC)"
               in bob.lines)
    assert "#dev <alice> said in dev" in bob.lines
    bob.send("after")
    loop.run()
    assert rows(data)[-1][0] > last  # the numbering goes on
    loop.close()


def test_a_version_1_data_directory_starts_keeps_its_topics_and_then_their_setters(data):
    os.makedirs(data)
    db = sqlite3.connect(f"{data}/{store.FILE}")
    db.executescript(VERSION_1)
    db.close()
    loop = serve(data)
    assert loop.server._history.epoch == "old" and loop.server._history.last_seq == 1
    alice = loop.peer("alice")
    alice.send("/topic", "/join #dev")
    loop.until(lambda: "*** Topic for #dev: old topic" in alice.lines)
    assert "*** Topic of #lobby: lobby topic" in alice.lines  # its setter: not known
    alice.send("/topic #dev new topic")
    loop.until(lambda: "#dev *** alice set the topic: new topic" in alice.lines)
    stop(loop)
    loop = serve(data)
    bob = loop.peer("bob")
    bob.send("/join #dev", "/topic #dev")  # made again: its topic read back, with who set it
    loop.until(lambda: "*** Topic of #dev: new topic (set by alice, 2023-11-14 22:13 UTC)"
               in bob.lines)
    loop.close()


def test_a_tagged_member_resumes_across_a_clean_restart_with_no_gap(data):
    loop = serve(data)
    alice = loop.peer()
    alice.send("/tags", "alice", "/join #dev")
    loop.until(lambda: any("You joined #dev" in line for line in alice.lines))
    bob = loop.peer("bob")
    bob.send("/join #dev", "before the stop")
    loop.until(lambda: any("before the stop" in line for line in alice.lines))
    tags = [split_tags(line)[0] for line in alice.lines]
    token = next(tag["resume"] for tag in tags if "resume" in tag)
    last = max(int(tag["seq"]) for tag in tags if "seq" in tag)
    bob.send("missed while away", "/msg alice private, kept in memory only")
    loop.run()
    stop(loop)
    assert any("Server is restarting: reconnect to resume" in line for line in alice.lines)

    loop = serve(data)
    carol = loop.peer("carol")
    carol.send("/who", "/join #dev", "missed in dev")
    loop.until(lambda: any("Online (2)" in line and "alice (away)" in line
                           for line in carol.lines))
    loop.run()
    back = loop.peer()
    back.send(f"/resume {token} {last}")
    loop.until(lambda: any("missed in dev" in line for line in back.lines))
    texts = [split_tags(line)[1] for line in back.lines]
    assert "*** Welcome back, alice." in texts
    assert not any("history gap" in text for text in texts)
    missed = texts[texts.index("*** Welcome back, alice.") + 1:]
    assert missed[0] == "#dev <bob> missed while away"
    assert "*** carol has joined the chat room." in missed
    assert "#dev <carol> missed in dev" in missed
    assert "before the stop" not in " ".join(missed)
    loop.close()


def test_an_untagged_member_is_told_the_server_shuts_down(data):
    loop = serve(data)
    alice = loop.peer("alice")
    loop.server.stop()
    loop.until(loop.server.finished)
    assert "*** Server is shutting down." in alice.lines
    loop.close()


def test_old_passes_are_pruned_a_batch_per_timer_run(data, monkeypatch):
    monkeypatch.setattr(archive, "PRUNE_BATCH", 4)
    wall = WallClock()
    loop = serve(data, wall=wall, flood_rate=0)
    alice = loop.peer("alice")
    for n in range(10):  # ten passes, a row each
        alice.send(f"line {n}")
        loop.until(lambda n=n: len(rows(data)) == n + 2)
    kept = len(rows(data))
    assert kept == 11  # the join and ten lines
    wall.now += 29 * DAY
    loop.at(loop.clock.now + archive.PRUNE_INTERVAL + 1)
    assert len(rows(data)) == kept  # not old enough yet
    wall.now += 2 * DAY
    loop.at(loop.clock.now + archive.PRUNE_INTERVAL + 1)
    assert len(rows(data)) == kept - 4  # one batch per run, never all at once
    loop.at(loop.clock.now + archive.PRUNE_AGAIN)
    assert len(rows(data)) == kept - 8
    loop.at(loop.clock.now + archive.PRUNE_AGAIN)
    assert len(rows(data)) == 0
    alice.send("new")
    loop.until(lambda: rows(data))
    assert [line for _, _, line in rows(data)] == ["<alice> new"]
    loop.close()


def test_retention_zero_keeps_lines_forever(data):
    wall = WallClock()
    storage = Storage.open(data, False, retention_days=0)
    loop = Loop(storage=storage, wall_clock=wall)
    loop.peer("alice").send("old")
    loop.run()
    wall.now += 3650 * DAY
    loop.at(loop.clock.now + archive.PRUNE_INTERVAL + 1)
    assert [line for _, _, line in rows(data)][-1] == "<alice> old"
    loop.close()


def test_a_size_cap_deletes_the_oldest_lines(data, monkeypatch):
    monkeypatch.setattr(archive, "PRUNE_BATCH", 1)
    storage = Storage.open(data, False, max_mb=0.1)  # 100 KiB
    loop = Loop(storage=storage, wall_clock=WallClock(), flood_rate=0)
    alice = loop.peer("alice")
    for burst in range(20):
        alice.send(*[f"{burst} {n} " + "x" * 400 for n in range(20)])
    loop.until(lambda: loop.server.counters.history_lines_written == 401)
    assert store.size(storage.db) > 100 * 1024
    for _ in range(40):
        loop.at(loop.clock.now + archive.PRUNE_INTERVAL + 1)
    assert store.size(storage.db) <= 100 * 1024
    assert rows(data) and rows(data)[-1][2].startswith("<alice> 19 19 ")  # the newest stay
    loop.close()


def test_a_failing_disk_loses_no_chat_and_recovers(data, monkeypatch, caplog):
    loop = serve(data)
    alice, bob = loop.peer("alice"), loop.peer("bob")
    real_write = store.write
    full = [True]

    def write(db, passes, topics=()):
        if full[0]:
            raise sqlite3.OperationalError("database or disk is full")
        real_write(db, passes, topics)
    monkeypatch.setattr(store, "write", write)
    counters = loop.server.counters
    with caplog.at_level(logging.WARNING, logger="selchat.archive"):
        alice.send("while full")
        loop.until(lambda: "<alice> while full" in bob.lines)  # the chat goes on
        assert counters.history_failing == 1 and counters.history_waiting_lines == 1
        assert "history is not being kept on disk: database or disk is full" in caplog.text
        alice.send("still full")
        loop.until(lambda: "<alice> still full" in bob.lines)
        loop.at(loop.clock.now + archive.RETRY_SECONDS)
        assert counters.history_failing == 1 and counters.history_waiting_lines == 2
        full[0] = False  # space came back
        loop.at(loop.clock.now + archive.RETRY_SECONDS)
        assert "history is kept on disk again" in caplog.text
    assert counters.history_failing == 0 and counters.history_waiting_lines == 0
    assert [line for _, _, line in rows(data)][-2:] == ["<alice> while full",
                                                         "<alice> still full"]
    loop.close()


def test_lines_waiting_for_a_failing_disk_are_capped(data, monkeypatch):
    monkeypatch.setattr(archive, "MAX_WAITING", 3)
    loop = serve(data, flood_rate=0)
    alice = loop.peer("alice")

    def write(db, passes, topics=()):
        raise sqlite3.OperationalError("disk I/O error")
    monkeypatch.setattr(store, "write", write)
    counters, kept = loop.server.counters, loop.server.archive
    for n in range(5):  # a pass each
        alice.send(f"l{n}")
        loop.until(lambda n=n: counters.history_lines_lost + kept.waiting == n + 1)
    assert loop.server.counters.history_lines_lost == 2
    assert [each.lines for each in loop.server.archive.passes] == ["<alice> l2", "<alice> l3",
                                                                  "<alice> l4"]
    loop.close()


@pytest.mark.parametrize("fts", [True, False], ids=["fts5", "scan"])
def test_search_finds_the_newest_matches(data, fts, monkeypatch):
    monkeypatch.setattr(archive, "SLICE_LINES", 7)  # several slices, one per pass
    loop = serve(data, fts=fts, flood_rate=0)
    assert loop.server.storage.fts is fts
    alice = loop.peer("alice")
    alice.send(*[f"apple number {n}" for n in range(12)])
    loop.until(lambda: loop.server.counters.history_lines_written == 13)
    loop.at(loop.clock.now + archive.INDEX_INTERVAL)  # these in the index (with FTS5)
    if fts:
        assert store.indexed(loop.server.storage.db) > 0
    alice.send(*[f"apple number {n}" for n in range(12, 25)], "/join #dev", "apple in dev",
               "Banana split")  # these not yet: scanned
    loop.run()
    alice.send("/search APPLE number")
    loop.until(lambda: any("matches" in line for line in alice.lines) and
               alice.lines[-1].endswith("apple number 24"))
    start = next(i for i, line in enumerate(alice.lines) if "Search for" in line)
    found = alice.lines[start:]
    assert found[0] == "*** Search for APPLE number: 20 matches, newest last:"
    assert [line.split(" ", 3)[3] for line in found[1:]] == [
        f"#lobby <alice> apple number {n}" for n in range(5, 25)]
    alice.send("/search #dev apple")
    loop.until(lambda: alice.lines[-1].endswith("#dev <alice> apple in dev"))
    alice.send("/search banana")
    loop.until(lambda: alice.lines[-1].endswith("#dev <alice> Banana split"))
    alice.send("/search cherry")
    loop.until(lambda: alice.lines[-1] == "*** No match.")
    loop.close()


def test_a_search_that_takes_too_long_stops_and_says_so(data, monkeypatch):
    monkeypatch.setattr(archive, "SLICE_SECONDS", 0.0)  # every slice interrupted
    monkeypatch.setattr(archive, "SEARCH_SECONDS", 0.0)
    monkeypatch.setattr(archive, "PROGRESS_STEPS", 1)
    loop = serve(data, fts=False)
    alice = loop.peer("alice")
    alice.send("hello", "/search hello")
    loop.until(lambda: "Search stopped" in alice.lines[-1])
    assert alice.lines[-1].startswith("*** Search stopped at line ")
    loop.close()


def test_history_shows_earlier_lines_a_page_at_a_time(data):
    loop = serve(data, replay=2, flood_rate=0)
    alice = loop.peer("alice")
    alice.send(*[f"line {n}" for n in range(10)])
    loop.run()
    bob = loop.peer("bob")
    loop.run()
    assert bob.lines[-3:-1] == ["<alice> line 8", "<alice> line 9"]  # the replay
    bob.send("/history 3")
    loop.until(lambda: bob.lines[-1] == "*** End of history.")
    assert bob.lines[-5:] == ["*** Last 3 lines:", "<alice> line 5", "<alice> line 6",
                              "<alice> line 7", "*** End of history."]
    bob.send("/history 100")
    loop.until(lambda: bob.lines[-2] == "<alice> line 4")
    assert bob.lines[-7] == "*** alice has joined the chat room."
    bob.send("/history")
    loop.until(lambda: bob.lines[-1] == "*** No earlier lines of #lobby.")
    loop.close()


def test_search_and_history_need_a_data_directory():
    loop = Loop()
    alice = loop.peer("alice")
    alice.send("/search x", "/history")
    loop.until(lambda: len([line for line in alice.lines if line.startswith("!!!")]) == 2)
    assert alice.lines[-2:] == ["!!! /search: the server keeps no history on disk",
                                "!!! /history: the server keeps no history on disk"]
    loop.close()
