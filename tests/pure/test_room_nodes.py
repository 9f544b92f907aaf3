"""One room over several nodes: names held elsewhere, presence changes from the bus,
lost names, sessions moving between nodes, and a node stopping. Fake sessions, exact effects."""
import itertools

import pytest

from selchat import wire
from selchat.wire import HELP_HINT
from selchat.history import NotKept, MemoryHistory
from selchat.resume import token_hash
from selchat.effect_types import (
    Broadcast, Claim, Close, Hold, Joined, Keep, Left, Presence, Relay, Release, Send, Tag,
    Unhold,
)
from selchat.names import name_key
from selchat.room import ChatRoom


A, B, C, D = 1, 2, 3, 4
HERE = "N1"


@pytest.fixture
def linked_room():
    """A room linked to another node: alice (A) here, C unnamed, bob on node N2."""
    room = ChatRoom()
    room.connect(A)
    room.receive(A, "alice")
    room.connect(C)
    room.remote_presence("N2", Presence("+", "bob"))
    return room


@pytest.fixture
def resumable():
    """alice (A, tagged) held after her connection dropped; bob (B) connected; C unnamed."""
    tokens = (f"e.{n}" for n in itertools.count(1))
    room = ChatRoom(resume_window=60, new_token=lambda: next(tokens))
    for session, name in ((A, "alice"), (B, "bob")):
        room.connect(session)
        room.receive(session, "/tags")
        room.receive(session, name)
    assert room.disconnect(A, now=0) == [Left(A), Hold(A, 60)]
    room.connect(C)
    return room


def who(room, session):
    return room.receive(session, "/who")[0].line.text


def joins(room, session, name):
    effects = room.receive(session, name)
    return bool(effects) and effects[0] == Joined(session)


# -- names held on other nodes -------------------------------------------------------

@pytest.mark.parametrize("name", ["bob", "BOB", "ｂｏｂ"])
def test_a_name_held_on_another_node_is_taken(name):
    room = ChatRoom()
    room.remote_synced({"bob": ("bob", "N2"), "carol": ("carol", HERE)}, HERE)
    room.connect(C)
    assert room.receive(C, name) == [Send(C, wire.error(f"name taken: {name}"))]
    assert joins(room, C, "carol")  # our own node's names in the list are ignored


def test_a_sync_replaces_what_was_known_of_the_other_nodes(linked_room):
    linked_room.remote_synced({"dave": ("Dave", "N3")}, HERE)
    assert linked_room.receive(C, "dave") == [Send(C, wire.error("name taken: dave"))]
    assert joins(linked_room, C, "bob")


def test_nick_to_a_name_held_elsewhere_is_refused(linked_room):
    assert linked_room.receive(A, "/nick BOB") == [Send(A, wire.error("name taken: BOB"))]


# -- presence changes read from the bus ------------------------------------------------

def test_who_lists_local_and_remote_names_together_sorted(linked_room):
    linked_room.remote_presence("N3", Presence("+", "Zed"))
    linked_room.receive(C, "carol")
    assert who(linked_room, A) == "Online (4): alice, bob, carol, Zed"
    assert linked_room.receive(A, "/who OB") \
        == [Send(A, wire.notice("Online matching 'OB' (1): bob"))]


def test_the_welcome_counts_remote_members(linked_room):
    text = linked_room.receive(C, "carol")[2].line.text
    assert text.startswith("Welcome, carol! Online (3): ")
    shown = text.removeprefix("Welcome, carol! Online (3): ").removesuffix(
        " (type /help for commands)")
    assert sorted(shown.split(", ")) == ["alice", "bob", "carol"]


def test_a_leave_from_another_node_does_not_remove_a_name_it_does_not_hold(linked_room):
    linked_room.remote_presence("N3", Presence("-", "bob"))
    assert who(linked_room, A) == "Online (2): alice, bob"
    linked_room.remote_presence("N3", Presence("-", "bob", "N2"))  # N3 announces N2's bob gone
    assert who(linked_room, A) == "Online (1): alice"
    assert joins(linked_room, C, "bob")


def test_a_remote_rename_frees_the_old_name_and_takes_the_new(linked_room):
    linked_room.remote_presence("N2", Presence("=", "bob", "bobby"))
    assert who(linked_room, A) == "Online (2): alice, bobby"
    assert linked_room.receive(C, "Bobby") == [Send(C, wire.error("name taken: Bobby"))]
    assert joins(linked_room, C, "bob")


def test_msg_to_a_remote_member_is_relayed(linked_room):
    assert linked_room.receive(A, "/msg BOB hi") == [Relay("bob", wire.private("alice", "hi"))]
    assert linked_room.receive(A, "/msg nobody hi") == [Send(A, wire.error("no such user: nobody"))]


def test_members_of_a_lost_node_are_announced_gone_and_their_names_freed(linked_room):
    assert linked_room.remote_gone(["bob"]) == [
        Broadcast(wire.left("bob", "server lost"), None, Presence("-", "bob", "N2"))]
    assert who(linked_room, A) == "Online (1): alice"
    assert joins(linked_room, C, "bob")


# -- a name given out on two nodes -----------------------------------------------------

def test_a_lost_name_renames_the_member_and_tells_it(linked_room):
    assert linked_room.name_lost(name_key("alice")) == [
        Release(A, "alice", final=False), Claim(A, "alice-2"),
        Broadcast(wire.renamed("alice", "alice-2"), None, Presence("=", "alice", "alice-2")),
        Send(A, wire.notice("The name alice was taken on another server first; "
                            "you are now known as alice-2.")),
    ]
    assert linked_room.receive(A, "hi") == [Broadcast(wire.chat("alice-2", "hi"), A)]
    assert linked_room.name_lost(name_key("alice")) == []  # no longer ours


@pytest.mark.parametrize("where", ["here", "remote"])
def test_a_lost_name_skips_suffixes_taken_anywhere(linked_room, where):
    if where == "here":
        assert joins(linked_room, C, "ALICE-2")
    else:
        linked_room.remote_presence("N3", Presence("+", "Alice-2"))
    effects = linked_room.name_lost(name_key("alice"))
    assert effects[:2] == [Release(A, "alice", final=False), Claim(A, "alice-3")]
    assert linked_room.name_of(A) == "alice-3"


def test_a_held_member_that_lost_its_name_is_renamed_and_resumes_as_it(resumable):
    room = resumable
    effects = room.name_lost(name_key("alice"))
    assert effects[:3] == [
        Release(A, "alice", final=False), Claim(A, "alice-2"),
        Broadcast(wire.renamed("alice", "alice-2"), None, Presence("=", "alice", "alice-2"))]
    assert room.is_held(A) and room.holder(name_key("alice-2")) == A
    assert who(room, B) == "Online (2): alice-2 (away), bob"  # held: away
    assert joins(room, C, "alice")
    room.connect(D)
    assert room.resumed(room.sessions.by_token("e.1"), D) == [Unhold(A), Joined(D), Tag(D)]
    assert room.name_of(D) == "alice-2"


def test_a_held_member_that_lost_its_name_is_told_when_it_resumes(resumable):
    notice = wire.notice("The name alice was taken on another server first; "
                         "you are now known as alice-2.")
    assert resumable.name_lost(name_key("alice"))[3] == Keep(A, notice)


# -- sessions moving between nodes -----------------------------------------------------

def test_a_held_session_resumed_elsewhere_vanishes_silently(resumable):
    room = resumable
    member = room.sessions.get(A)
    assert room.moved_away(member, "N2") == [Unhold(A)]  # its timer is cancelled
    assert room.sessions.get(A) is None and room.sessions.by_hash(token_hash("e.1")) is None
    assert not room.is_held(A) and room.holder(name_key("alice")) is None
    assert who(room, B) == "Online (2): alice, bob"  # alice is on N2 now
    assert room.receive(C, "alice") == [Send(C, wire.error("name taken: alice"))]
    assert room.receive(B, "/msg alice hi") == [Relay("alice", wire.private("bob", "hi")),
                                                Send(B, wire.sent("alice", "hi"))]  # B: tagged
    assert room.expire(A) == []  # its hold ending later says nothing


def test_a_connected_session_resumed_elsewhere_is_closed_without_a_word(resumable):
    room = resumable
    assert room.moved_away(room.sessions.get(B), "N2") == [Left(B), Close(B)]
    assert B not in room.members
    assert room.disconnect(B) == []  # its connection closing says nothing either
    assert room.receive(C, "bob") == [Send(C, wire.error("name taken: bob"))]


def test_a_session_moved_here_is_a_tagged_member_known_by_its_token(linked_room):
    assert linked_room.adopt(D, "bob", "e.9") == [Joined(D), Tag(D)]
    assert linked_room.name_of(D) == "bob" and linked_room.holder(name_key("bob")) == D
    member = linked_room.sessions.by_token("e.9")
    assert member.session == D and member.name == "bob"
    assert linked_room.sessions.by_hash(token_hash("e.9")) is member
    assert who(linked_room, A) == "Online (2): alice, bob"
    assert linked_room.receive(A, "/msg bob hi") == [Send(D, wire.private("alice", "hi"))]
    linked_room.receive(D, "/quit")
    assert joins(linked_room, C, "bob")  # no remote bob left behind


# -- the node stopping -----------------------------------------------------------------

def test_a_stopping_node_announces_every_member_and_held_session_gone(resumable):
    room = resumable
    effects = [e for e in room.depart_all("server shutting down")
               if isinstance(e, (Release, Broadcast))]
    assert effects == [
        Release(B, "bob"),
        Broadcast(wire.left("bob", "server shutting down"), None, Presence("-", "bob")),
        Release(A, "alice"),
        Broadcast(wire.left("alice", "server shutting down"), None, Presence("-", "alice")),
    ]
    assert not room.members and len(room.sessions) == 0 and not room.is_held(A)
    assert room.expire(A) == [] and room.disconnect(B) == []
    assert joins(room, C, "alice")


# -- history numbered by the bus -------------------------------------------------------

def test_history_numbered_by_the_bus_keeps_consecutive_lines_and_drops_them_at_a_jump():
    history = MemoryHistory("e", capacity=10)
    assert history.append(b"a\n", 0, first=1) == 1
    assert history.append(b"b\nc\n", 0, first=2) == 2
    assert [line.seq for line in history.after(0)] == [1, 2, 3]
    assert history.append(b"d\n", 5, first=10) == 10  # 4..9 never came
    assert history.last_seq == 10 and len(history) == 1
    assert history.after(0) == NotKept(9) and history.after(3) == NotKept(6)
    assert [(line.seq, bytes(line.data)) for line in history.after(9)] == [(10, b"d\n")]
    assert history.append(b"e\n", 6, first=11) == 11
    assert history.append(b"f\n", 7) == 12  # numbering continues from the jump
    assert [line.seq for line in history.after(9)] == [10, 11, 12]


def test_a_node_taken_for_gone_announces_its_members_to_the_others_only(resumable):
    assert resumable.announce_all() == [
        Broadcast(wire.joined("bob"), None, Presence("+", "bob"), elsewhere=True),
        # held: still hers
        Broadcast(wire.joined("alice"), None, Presence("+", "alice"), elsewhere=True),
    ]


# Held members are counted alike by the welcome and /who, and listed "NAME (away)".

def test_the_welcome_counts_and_lists_a_held_member_as_away(resumable):
    room = resumable  # alice held, bob connected
    welcome = room.receive(C, "carol")[2].line.text
    assert welcome == f"Welcome, carol! Online (3): bob, carol, alice (away) {HELP_HINT}"
    assert who(room, B) == "Online (3): alice (away), bob, carol"
    assert who(room, C) == who(room, B)


def test_a_resumed_or_expired_member_is_no_longer_away(resumable):
    room = resumable
    room.resumed(room.sessions.get(A), D)
    assert who(room, B) == "Online (2): alice, bob"  # the answer is cached now
    room.disconnect(D, now=1)
    assert who(room, B) == "Online (2): alice (away), bob"  # and dropped by the hold
    room.expire(D)
    assert who(room, B) == "Online (1): bob"


def test_a_search_marks_held_members_too(resumable):
    assert resumable.receive(B, "/who al")[0].line.text == "Online matching 'al' (1): alice (away)"


def test_the_away_mark_reads_back_as_a_welcome():
    line = wire.welcome("carol", 2, f"carol, {wire.away('bob')}")
    assert wire.decode(wire.text_of(line)) == wire.Welcome("carol", 2, "carol, bob (away)")
