"""History, tags and resume against a real `selchat serve`, over real sockets.

Every wait has a deadline (support.waiting); a drop is a reset (SO_LINGER 0), as a
network change or a killed process gives. Holds are short (--resume-window)
where a test waits for one to end.
"""
import re
import time
from typing import List

import pytest

from selchat.tags import split_tags
from support.clients import LineClient
from support.constants import TIMEOUT
from support.resume import RESTARTED, TIME, UNKNOWN, Tagged, resume, wait_held


@pytest.fixture
def track():
    """track(client) -> client, closed at teardown."""
    made: List[LineClient] = []

    def keep(client):
        made.append(client)
        return client

    yield keep
    for client in made:
        client.close()


# -- replay on join ------------------------------------------------------------------

def test_a_newcomer_gets_the_last_lines_then_live_traffic(chat_server, track):
    server = chat_server("--flood-rate", "0", "--replay", "3")
    alice = track(LineClient(server.address, "alice"))
    witness = track(LineClient(server.address, "witness"))
    assert witness.lines(3) == ["*** Last 1 line:", "*** alice has joined the chat room.",
                                "*** End of history."]
    alice.expect("*** witness has joined the chat room.")
    for n in range(1, 6):
        alice.send(f"line {n}")
    assert witness.lines(5) == [f"<alice> line {n}" for n in range(1, 6)]
    bob = track(LineClient(server.address, "bob"))
    assert bob.lines(5) == ["*** Last 3 lines:", "<alice> line 3", "<alice> line 4",
                            "<alice> line 5", "*** End of history."]
    alice.send("live")
    assert bob.line() == "<alice> live"
    bob.assert_quiet()


def test_a_line_said_as_someone_joins_is_had_exactly_once(chat_server, track):
    server = chat_server("--flood-rate", "0", "--replay", "3")
    alice = track(LineClient(server.address, "alice"))
    alice.send("old")
    for attempt in range(20):  # the line and the name race: same pass or not, once
        bob = track(LineClient(server.address))
        bob.expect("*** Hello! Please enter your name.")
        alice.send(f"race {attempt}")
        bob.send(f"bob{attempt}")
        alice.send(f"after {attempt}")
        got = [bob.line()]
        assert got[0].startswith(f"*** Welcome, bob{attempt}!")
        while got[-1] != "*** End of history.":
            got.append(bob.line())
        assert got[1] == "*** Last 3 lines:", got
        while f"<alice> after {attempt}" not in got:
            got.append(bob.line())  # replayed or live: said after the replay
        said = [line for line in got if line.startswith("<alice>")]
        # the race line is either replayed or live, never both, never neither
        assert said[-2:] == [f"<alice> race {attempt}", f"<alice> after {attempt}"], got
        assert len(said) == len(set(said)), got
        end = got.index("*** End of history.")
        assert all(not line.startswith("*** ") for line in got[end + 1:]), got
        bob.assert_quiet(0.05)
        alice.expect(f"*** bob{attempt} has joined the chat room.")
        bob.close()
        alice.expect(f"*** bob{attempt} has left the chat room.")


# -- tags ----------------------------------------------------------------------------

def test_untagged_lines_are_unchanged_and_tagged_ones_numbered(server, track):
    plain = track(LineClient(server.address, "plain"))
    carol = track(Tagged(server.address, "carol"))
    assert carol.token and re.fullmatch(r"[0-9a-f]+\.[0-9a-f]{32}", carol.token)
    alice = track(Tagged(server.address, "alice"))
    assert plain.line() == "*** carol has joined the chat room."
    assert plain.line() == "*** alice has joined the chat room."
    carol.expect_prefix("@")  # alice's join, tagged
    for n in range(3):
        alice.send(f"a{n}")
        plain.send(f"p{n}")
    carol_seen = [carol.tagged_line() for _ in range(6)]
    seqs = [int(tags["seq"]) for tags, _ in carol_seen]
    assert seqs == list(range(seqs[0], seqs[0] + 6))  # one by one, no hole
    assert [rest for _, rest in carol_seen if rest.startswith("<plain>")] == \
        ["<plain> p0", "<plain> p1", "<plain> p2"]
    assert plain.lines(3) == ["<alice> a0", "<alice> a1", "<alice> a2"]  # untagged, as ever
    alice_seen = [alice.tagged_line() for _ in range(3)]
    assert [rest for _, rest in alice_seen] == ["<plain> p0", "<plain> p1", "<plain> p2"]
    # alice's holes are exactly her own lines (not echoed to her)
    own = {int(tags["seq"]) for tags, rest in carol_seen if rest.startswith("<alice>")}
    assert {int(tags["seq"]) for tags, _ in alice_seen} == set(seqs) - own
    alice.send("/who")
    tags, rest = alice.tagged_line()
    assert "seq" not in tags and rest.startswith("*** ")  # an answer is not a room line


def test_tags_before_or_after_the_name(server, track):
    late = track(LineClient(server.address, "late"))
    late.send("/tags")
    early = track(Tagged(server.address, "early"))
    tags, rest = split_tags(late.line())
    assert rest == "*** early has joined the chat room." and TIME.fullmatch(tags["time"])
    assert int(tags["seq"]) >= 1
    assert early.token  # /tags before the name: the welcome carries a token


def member_then_alice(chat_server, track, name: str, *args: str):
    """A server that holds dropped sessions 30 s (then `args`), a plain member
    `name`, then alice with tags; the member has seen her join."""
    server = chat_server("--flood-rate", "0", "--resume-window", "30", *args)
    member = track(LineClient(server.address, name))
    alice = track(Tagged(server.address, "alice"))
    member.expect("*** alice has joined the chat room.")
    return server, member, alice


# -- drop and resume -----------------------------------------------------------------

def test_a_dropped_member_resumes_with_exactly_the_lines_missed(chat_server, track):
    server = chat_server("--flood-rate", "0", "--resume-window", "30")
    witness = track(Tagged(server.address, "witness"))
    alice = track(Tagged(server.address, "alice"))
    bob = track(LineClient(server.address, "bob"))
    witness.until("*** bob has joined the chat room.")
    alice.until("*** bob has joined the chat room.")
    bob.send("before")
    assert alice.text() == "<bob> before"
    assert witness.text() == "<bob> before"
    last = alice.last_seq
    alice.drop()
    for n in range(5):
        bob.send(f"missed {n}")
    missed = witness.texts(5)
    back = track(resume(server.address, alice.token, last))
    assert back.text() == "*** Welcome back, alice."
    assert back.texts(5) == missed
    bob.send("live")
    assert back.text() == "<bob> live"
    assert witness.text() == "<bob> live"  # no leave, no join in between
    back.send("I am back")
    assert bob.line() == "<alice> I am back"
    assert witness.text() == "<alice> I am back"
    witness.assert_quiet()
    back.assert_quiet()
    bob.send("/who")
    assert "alice" in bob.line()


def test_resume_twice_from_the_same_token(chat_server, track):
    server, bob, alice = member_then_alice(chat_server, track, "bob")
    bob.send("zero")
    assert alice.text() == "<bob> zero"
    token = alice.token
    alice.drop()
    first = track(resume(server.address, token, alice.last_seq))
    assert first.text() == "*** Welcome back, alice."
    bob.send("one")
    assert first.text() == "<bob> one"
    first.drop()
    bob.send("two")
    second = track(resume(server.address, token, first.last_seq))
    assert second.texts(2) == ["*** Welcome back, alice.", "<bob> two"]
    bob.assert_quiet()


def test_resume_while_the_old_connection_is_open_closes_it(chat_server, track):
    server, witness, alice = member_then_alice(chat_server, track, "witness")
    witness.send("seen")
    assert alice.text() == "<witness> seen"
    witness.send("not seen")  # alice's old connection gets it too; the resume as well
    back = track(resume(server.address, alice.token, alice.last_seq))
    assert back.texts(2) == ["*** Welcome back, alice.", "<witness> not seen"]
    rest = alice.expect_closed()  # the ghost is closed, with nothing said to it
    assert b"!!!" not in rest and b"left" not in rest, rest
    witness.send("after")
    assert back.text() == "<witness> after"
    back.send("hi")
    assert witness.line() == "<alice> hi"
    witness.assert_quiet()


def test_a_held_member_expires_with_connection_lost_and_frees_the_name(chat_server, track):
    server, witness, alice = member_then_alice(chat_server, track, "witness",
                                               "--resume-window", "0.5")  # the last one counts
    token, last = alice.token, alice.last_seq
    started = time.monotonic()
    alice.drop()
    assert witness.line() == "*** alice has left the chat room (connection lost)."
    assert time.monotonic() - started >= 0.4
    late = track(resume(server.address, token, last))
    assert late.line() == UNKNOWN
    late.send("alice")  # the gap leaves the connection new: it may take the name
    assert late.line().startswith("*** Welcome, alice!")
    assert witness.line() == "*** alice has joined the chat room."


def test_the_name_of_a_held_member_stays_taken(chat_server, track):
    server, witness, alice = member_then_alice(chat_server, track, "witness")
    alice.drop()
    impostor = track(LineClient(server.address))
    impostor.expect("*** Hello! Please enter your name.")
    deadline = time.monotonic() + TIMEOUT
    impostor.send("alice")
    assert impostor.line() == "!!! name taken: alice"
    assert time.monotonic() < deadline
    witness.assert_quiet()


def test_private_lines_to_a_held_member_come_after_the_resume_in_order(chat_server, track):
    server, bob, alice = member_then_alice(chat_server, track, "bob")
    bob.send("seen")
    assert alice.text() == "<bob> seen"
    last = alice.last_seq
    alice.drop()
    wait_held(server, "alice")  # else a /msg may go to the dead connection: lost with it
    bob.send("room 1", "/msg alice private 1", "room 2", "/msg alice private 2")
    back = track(resume(server.address, alice.token, last))
    got = back.until("*bob* private 2")
    assert got[0] == "*** Welcome back, alice."
    assert [line for line in got if line.startswith("<bob>")] == ["<bob> room 1", "<bob> room 2"]
    assert [line for line in got if line.startswith("*bob*")] == \
        ["*bob* private 1", "*bob* private 2"]
    bob.send("/msg alice live")
    assert back.text() == "*bob* live"


def test_private_lines_kept_while_held_are_sent_after_the_room_lines(chat_server, track):
    server = chat_server("--flood-rate", "0", "--resume-window", "30")
    witness = track(Tagged(server.address, "witness"))
    bob = track(LineClient(server.address, "bob"))
    alice = track(Tagged(server.address, "alice"))
    witness.until("*** alice has joined the chat room.")
    bob.expect("*** alice has joined the chat room.")
    bob.send("seen")
    assert alice.text() == "<bob> seen"
    assert witness.text() == "<bob> seen"
    last = alice.last_seq
    alice.drop()
    wait_held(server, "alice")
    bob.send("/msg alice p1", "r1", "/msg alice p2", "r2")
    assert witness.texts(2) == ["<bob> r1", "<bob> r2"]
    back = track(resume(server.address, alice.token, last))
    assert back.texts(5) == ["*** Welcome back, alice.", "<bob> r1", "<bob> r2",
                             "*bob* p1", "*bob* p2"]  # room lines, then the kept ones
    back.assert_quiet()


# -- gaps ----------------------------------------------------------------------------

def test_a_restarted_server_says_so_and_the_connection_may_join(chat_server, track):
    first = chat_server("--flood-rate", "0", "--resume-window", "30")
    alice = track(Tagged(first.address, "alice"))
    token, last = alice.token, alice.last_seq
    alice.drop()
    first.stop()
    second = chat_server("--flood-rate", "0", "--resume-window", "30")
    back = track(resume(second.address, token, last))
    assert back.line() == RESTARTED
    back.send("alice")  # a new connection again: untagged until it sends /tags
    assert back.line().startswith("*** Welcome, alice!")


@pytest.mark.parametrize("token, gap", [
    # This run's epoch, no such session.
    ("{epoch}.00112233445566778899aabbccddeeff", UNKNOWN),
    # No "EPOCH." at all: it names no run, so it is not this run's (as `decide` rules,
    # pure/test_resume.py): the same answer as a token from before a restart.
    ("{epoch}", RESTARTED),
], ids=["no-such-session", "no-epoch"])
def test_an_unknown_token_is_refused_with_the_gap(chat_server, track, token, gap):
    server = chat_server("--flood-rate", "0", "--resume-window", "30")
    alice = track(Tagged(server.address, "alice"))
    epoch = alice.token.rpartition(".")[0]
    back = track(resume(server.address, token.format(epoch=epoch), alice.last_seq))
    assert back.line() == gap
    back.send("bob")
    assert back.line().startswith("*** Welcome, bob!")
    assert alice.text() == "*** bob has joined the chat room."


def test_a_token_from_another_session_is_refused(chat_server, track):
    server = chat_server("--flood-rate", "0", "--resume-window", "30")
    other = chat_server("--flood-rate", "0", "--resume-window", "30")
    stranger = track(Tagged(other.address, "alice"))
    alice = track(Tagged(server.address, "alice"))
    back = track(resume(server.address, stranger.token, alice.last_seq))
    assert back.line() == RESTARTED  # another run's epoch: told apart from a typo
    alice.assert_quiet()


def test_lines_older_than_the_history_are_a_counted_gap(chat_server, track):
    server, bob, alice = member_then_alice(chat_server, track, "bob", "--history", "5")
    bob.send("seen")
    assert alice.text() == "<bob> seen"
    last = alice.last_seq
    alice.drop()
    for n in range(20):
        bob.send(f"line {n}")
    # 20 lines after `last`, 5 kept: 15 missed
    back = track(resume(server.address, alice.token, last))
    assert back.line() == "!!! history gap: 15 lines missed (older than the history kept)"
    # the session is over: the room is told, and the name is free again
    assert bob.line() == "*** alice has left the chat room (connection lost)."
    back.send("alice")
    assert back.line().startswith("*** Welcome, alice!")
    assert bob.line() == "*** alice has joined the chat room."


def test_a_history_gap_while_the_old_connection_is_open_frees_the_name(chat_server, track):
    server, bob, alice = member_then_alice(chat_server, track, "bob", "--history", "2")
    bob.send("0")
    assert alice.text() == "<bob> 0"
    last = alice.last_seq
    bob.send("1", "2", "3", "4")
    assert alice.texts(4) == ["<bob> 1", "<bob> 2", "<bob> 3", "<bob> 4"]
    back = track(resume(server.address, alice.token, last))
    assert back.line() == "!!! history gap: 2 lines missed (older than the history kept)"
    alice.expect_closed()  # Refused.ends: "closing its old connection if still open"
    assert bob.line() == "*** alice has left the chat room (connection lost)."
    back.send("alice")
    assert back.line().startswith("*** Welcome, alice!")


def test_resume_after_a_name_is_refused(server, track):
    alice = track(Tagged(server.address, "alice"))
    alice.send(f"/resume {alice.token} 0")
    assert alice.text() == "!!! /resume is for a new connection, before a name"


# -- --history 0 ---------------------------------------------------------------------

def test_history_0_means_no_replay_no_hold_no_resume(chat_server, track):
    server = chat_server("--flood-rate", "0", "--history", "0", "--replay", "5")
    witness = track(LineClient(server.address, "witness"))
    witness.send("said before")
    alice = track(Tagged(server.address, "alice"))
    assert alice.token is None  # nothing to resume with
    alice.send("hi")  # after the welcome comes live traffic only: no replay
    witness.expect("*** alice has joined the chat room.")
    witness.expect("<alice> hi")
    alice.drop()
    assert witness.line() == "*** alice has left the chat room."
    epoch_less = track(resume(server.address, "whatever.00112233445566778899aabbccddeeff", 1))
    assert epoch_less.line().startswith("!!! history gap: an unknown number of lines missed")


def test_own_lines_said_before_the_drop_come_back_in_the_resume(chat_server, track):
    # As docs/protocol.rst says: *every* room line after LASTSEQ, own lines (never echoed
    # live) included; `selchat join` hides them (session._said_by_me), others must too.
    server, bob, alice = member_then_alice(chat_server, track, "bob")
    bob.send("seen")
    assert alice.text() == "<bob> seen"
    alice.send("mine")
    assert bob.line() == "<alice> mine"
    alice.drop()
    back = track(resume(server.address, alice.token, alice.last_seq))
    assert back.texts(2) == ["*** Welcome back, alice.", "<alice> mine"]


def test_a_member_that_saw_no_room_line_resumes_from_its_welcome(chat_server, track):
    server = chat_server("--flood-rate", "0", "--resume-window", "30", "--history", "3")
    bob = track(LineClient(server.address, "bob"))
    for n in range(5):
        bob.send(f"before {n}")
    alice = track(Tagged(server.address, "alice"))  # --replay 0: no line seen
    bob.expect("*** alice has joined the chat room.")
    alice.drop()
    wait_held(server, "alice")
    bob.send("missed")
    back = track(resume(server.address, alice.token, alice.last_seq))
    assert back.texts(2) == ["*** Welcome back, alice.", "<bob> missed"]
    bob.assert_quiet()
