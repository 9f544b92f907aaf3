"""Held sessions and resume decisions: window, token, gaps, takeover; no sockets, no clock."""

from selchat import wire
from selchat.history import MemoryHistory
from selchat.resume import (
    MAX_KEPT, Direct, GapKind, Refused, Resumed, TaggedSessions, decide, gap_line, new_token,
    token_epoch, welcome_back,
)


EPOCH = "e1"


def counting_bytes():
    """A fake random source: 00.., 01.., 02.. (each call a new value)."""
    calls = iter(range(256))
    return lambda n: bytes([next(calls)]) * n


def room(capacity=10, lines=5):
    history = MemoryHistory(EPOCH, capacity)
    history.append(b"".join(b"<bob> %d\n" % n for n in range(1, lines + 1)), 1000)
    sessions = TaggedSessions()
    return history, sessions


def test_tokens_are_128_random_bits_under_the_epoch():
    random = counting_bytes()
    first, second = new_token(EPOCH, random), new_token(EPOCH, random)
    assert first == "e1." + "00" * 16 and second == "e1." + "01" * 16
    assert token_epoch(first) == "e1"
    assert token_epoch("a.b.c") == "a.b" and token_epoch("nodot") == ""


def test_a_member_connected_is_not_held_and_keeps_nothing():
    _, sessions = room()
    member = sessions.add("c1", "ann", "e1.t")
    assert not member.held and sessions.get("c1") is member and sessions.by_token("e1.t") is member
    assert not sessions.keep("c1", 0, b"*bob* psst\n")  # sent as usual
    assert not sessions.keep("stranger", 0, b"x\n")
    assert "e1.t" not in repr(member)


def test_hold_then_end():
    _, sessions = room()
    sessions.add("c1", "ann", "e1.a")
    sessions.add("c2", "bob", "e1.b")
    assert sessions.hold("c3", 50.0) is None  # not resumable: leaves at once
    assert sessions.hold("c1", 120.0).held
    sessions.hold("c2", 130.0)
    assert sessions.remove("c1").name == "ann"  # the room's timer ends a hold
    assert sessions.by_token("e1.a") is None and sessions.get("c1") is None
    assert len(sessions) == 1


def test_remove_and_rename():
    _, sessions = room()
    sessions.add("c1", "ann", "e1.a")
    sessions.rename("c1", "anna")
    sessions.rename("nobody", "x")
    assert sessions.get("c1").name == "anna"
    assert sessions.remove("c1").name == "anna"
    assert sessions.remove("c1") is None and sessions.by_token("e1.a") is None


def test_direct_lines_are_kept_while_held_and_the_oldest_dropped_past_the_bound():
    sessions = TaggedSessions(max_kept=3)
    sessions.add("c1", "ann", "e1.a")
    sessions.hold("c1", 100.0)
    for n in range(5):
        assert sessions.keep("c1", n, b"*bob* %d\n" % n)
    member = sessions.get("c1")
    assert list(member.kept) == [Direct(n, b"*bob* %d\n" % n) for n in (2, 3, 4)]
    assert member.dropped == 2


def test_the_default_bound_is_max_kept():
    sessions = TaggedSessions()
    sessions.add("c1", "ann", "e1.a")
    assert sessions.get("c1").kept.maxlen == MAX_KEPT == 100


def test_resume_gives_the_lines_after_lastseq_and_the_kept_directs():
    history, sessions = room()
    member = sessions.add("c1", "ann", "e1.a")
    sessions.hold("c1", 120.0)
    sessions.keep("c1", 1500, b"*bob* psst\n")
    decision = decide(history, sessions, "e1.a", 3, now=60.0)
    assert isinstance(decision, Resumed)
    assert decision.member is member and not decision.takeover and decision.dropped == 0
    assert [line.seq for line in decision.lines] == [4, 5]
    assert decision.kept == [Direct(1500, b"*bob* psst\n")]
    # decide changes nothing; resume moves the session to its new connection
    assert sessions.get("c1") is member and member.held
    sessions.resume(member, "c9")
    assert sessions.get("c1") is None and sessions.get("c9") is member
    assert not member.held and not member.kept and sessions.by_token("e1.a") is member


def test_resume_when_up_to_date_gives_no_lines():
    history, sessions = room()
    sessions.add("c1", "ann", "e1.a")
    sessions.hold("c1", 120.0)
    decision = decide(history, sessions, "e1.a", 5, now=0.0)
    assert isinstance(decision, Resumed) and decision.lines == [] and decision.kept == []


def test_a_second_drop_resumes_like_the_first():
    history, sessions = room()
    member = sessions.add("c1", "ann", "e1.a")
    sessions.hold("c1", 120.0)
    sessions.resume(decide(history, sessions, "e1.a", 5, 1.0).member, "c2")
    sessions.hold("c2", 300.0)
    decision = decide(history, sessions, "e1.a", 5, 200.0)
    assert isinstance(decision, Resumed) and decision.member is member


def test_resume_of_a_connected_session_is_a_takeover():
    history, sessions = room()
    sessions.add("c1", "ann", "e1.a")  # the server has not noticed c1 is dead
    decision = decide(history, sessions, "e1.a", 4, now=0.0)
    assert isinstance(decision, Resumed) and decision.takeover
    assert [line.seq for line in decision.lines] == [5]


def test_a_token_from_another_epoch_is_an_epoch_gap():
    history, sessions = room()
    assert decide(history, sessions, "e0.a", 3, 0.0) == Refused(GapKind.EPOCH, None)
    assert decide(history, sessions, "garbage", 3, 0.0) == Refused(GapKind.EPOCH, None)


def test_an_unknown_or_expired_token_is_a_token_gap():
    history, sessions = room()
    sessions.add("c1", "ann", "e1.a")
    sessions.hold("c1", 120.0)
    assert decide(history, sessions, "e1.zzz", 3, 0.0) == Refused(GapKind.TOKEN, None)
    # past the deadline, even before the caller's timer ended it
    assert decide(history, sessions, "e1.a", 3, 120.0) == Refused(GapKind.TOKEN, None)
    sessions.remove("c1")
    assert decide(history, sessions, "e1.a", 3, 1.0) == Refused(GapKind.TOKEN, None)


def test_lines_older_than_history_are_a_gap_that_ends_the_session():
    history, sessions = room(capacity=3, lines=10)  # keeps 8, 9, 10
    member = sessions.add("c1", "ann", "e1.a")
    sessions.hold("c1", 120.0)
    assert decide(history, sessions, "e1.a", 4, 0.0) == Refused(GapKind.HISTORY, 3, member)
    assert decide(history, sessions, "e1.a", 11, 0.0) == Refused(GapKind.HISTORY, None, member)
    assert isinstance(decide(history, sessions, "e1.a", 7, 0.0), Resumed)


def test_what_a_resume_sends_and_what_a_gap_says():
    history, sessions = room(lines=2)
    sessions = TaggedSessions(max_kept=1)
    sessions.add("c1", "ann", "e1.a")
    sessions.hold("c1", 120.0)
    sessions.keep("c1", 1100, b"*bob* one\n")
    sessions.keep("c1", 1200, b"*bob* two\n")
    decision = decide(history, sessions, "e1.a", 1, 0.0)
    assert b"".join(welcome_back(decision, 2000)).decode().splitlines() == [
        "@time=1970-01-01T00:00:02.000Z *** Welcome back, ann.",
        "@seq=2;time=1970-01-01T00:00:01.000Z <bob> 2",
        "@time=1970-01-01T00:00:02.000Z !!! history gap: 1 line missed "
        "(private lines over the 1 kept)",
        "@time=1970-01-01T00:00:01.200Z *bob* two",
    ]
    assert wire.text_of(gap_line(Refused(GapKind.HISTORY, 3))) == (
        "!!! history gap: 3 lines missed (older than the history kept)")
    assert wire.decode(wire.text_of(gap_line(Refused(GapKind.EPOCH, None)))) == wire.HistoryGap(
        None, "the server restarted")


def test_a_resume_leaves_out_the_members_own_join_notice():
    """With a bus, the join notice is numbered after the welcome: a member that
    drops before the next room line asks for lines from before its own join."""
    history, sessions = room(lines=2)
    history.append(wire.encode(wire.joined("ann")) + b"<bob> 3\n", 2000)
    member = sessions.add("c1", "ann", "e1.t")
    sessions.hold("c1", 100.0)
    resumed = decide(history, sessions, "e1.t", 2, now=1.0)
    assert isinstance(resumed, Resumed) and resumed.member is member
    assert [bytes(line.data) for line in resumed.lines] == [b"<bob> 3\n"]
