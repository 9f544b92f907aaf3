"""One room over several nodes: names held elsewhere, presence changes from the bus,
lost names, sessions moving between nodes, and a node stopping. Fake sessions, exact effects."""
import itertools

import pytest

from selchat import wire
from selchat.history import Gap, MemoryHistory
from selchat.resume import token_hash
from selchat.room import (
    Broadcast, ChatRoom, Claim, Close, Hold, Joined, Keep, Left, Relay, Release, Send, Tag, Unhold,
    name_key,
)

pytestmark = pytest.mark.pure

A, B, C, D = 1, 2, 3, 4
HERE = "N1"


@pytest.fixture
def room():
    """alice (A) here, C unnamed, bob on node N2."""
    room = ChatRoom()
    room.connect(A)
    room.receive(A, "alice")
    room.connect(C)
    room.remote_presence("N2", "+bob")
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


def test_a_sync_replaces_what_was_known_of_the_other_nodes(room):
    room.remote_synced({"dave": ("Dave", "N3")}, HERE)
    assert room.receive(C, "dave") == [Send(C, wire.error("name taken: dave"))]
    assert joins(room, C, "bob")


def test_nick_to_a_name_held_elsewhere_is_refused(room):
    assert room.receive(A, "/nick BOB") == [Send(A, wire.error("name taken: BOB"))]


# -- presence changes read from the bus ------------------------------------------------

def test_who_lists_local_and_remote_names_together_sorted(room):
    room.remote_presence("N3", "+Zed")
    room.receive(C, "carol")
    assert who(room, A) == "Online (4): alice, bob, carol, Zed"
    assert room.receive(A, "/who OB") == [Send(A, wire.notice("Online matching 'OB' (1): bob"))]


def test_the_welcome_counts_remote_members(room):
    text = room.receive(C, "carol")[2].line.text
    assert text.startswith("Welcome, carol! Online (3): ")
    shown = text.removeprefix("Welcome, carol! Online (3): ").removesuffix(
        " (type /help for commands)")
    assert sorted(shown.split(", ")) == ["alice", "bob", "carol"]


def test_a_leave_from_another_node_does_not_remove_a_name_it_does_not_hold(room):
    room.remote_presence("N3", "-bob")
    assert who(room, A) == "Online (2): alice, bob"
    room.remote_presence("N3", "-bob\tN2")  # N3 announces N2's bob gone
    assert who(room, A) == "Online (1): alice"
    assert joins(room, C, "bob")


def test_a_remote_rename_frees_the_old_name_and_takes_the_new(room):
    room.remote_presence("N2", "=bob\tbobby")
    assert who(room, A) == "Online (2): alice, bobby"
    assert room.receive(C, "Bobby") == [Send(C, wire.error("name taken: Bobby"))]
    assert joins(room, C, "bob")


def test_msg_to_a_remote_member_is_relayed(room):
    assert room.receive(A, "/msg BOB hi") == [Relay("bob", wire.private("alice", "hi"))]
    assert room.receive(A, "/msg nobody hi") == [Send(A, wire.error("no such user: nobody"))]


def test_members_of_a_lost_node_are_announced_gone_and_their_names_freed(room):
    assert room.remote_gone(["bob"]) == [
        Broadcast(wire.left("bob", "server lost"), None, "-bob\tN2")]
    assert who(room, A) == "Online (1): alice"
    assert joins(room, C, "bob")


# -- a name given out on two nodes -----------------------------------------------------

def test_a_lost_name_renames_the_member_and_tells_it(room):
    assert room.name_lost(name_key("alice")) == [
        Release(A, "alice", final=False), Claim(A, "alice-2"),
        Broadcast(wire.renamed("alice", "alice-2"), None, "=alice\talice-2"),
        Send(A, wire.notice("The name alice was taken on another server first; "
                            "you are now known as alice-2.")),
    ]
    assert room.receive(A, "hi") == [Broadcast(wire.chat("alice-2", "hi"), A)]
    assert room.name_lost(name_key("alice")) == []  # no longer ours


@pytest.mark.parametrize("where", ["here", "remote"])
def test_a_lost_name_skips_suffixes_taken_anywhere(room, where):
    if where == "here":
        assert joins(room, C, "ALICE-2")
    else:
        room.remote_presence("N3", "+Alice-2")
    effects = room.name_lost(name_key("alice"))
    assert effects[:2] == [Release(A, "alice", final=False), Claim(A, "alice-3")]
    assert room.name_of(A) == "alice-3"


def test_a_held_member_that_lost_its_name_is_renamed_and_resumes_as_it(resumable):
    room = resumable
    effects = room.name_lost(name_key("alice"))
    assert effects[:3] == [
        Release(A, "alice", final=False), Claim(A, "alice-2"),
        Broadcast(wire.renamed("alice", "alice-2"), None, "=alice\talice-2")]
    assert room.is_held(A) and room.holder(name_key("alice-2")) == A
    assert who(room, B) == "Online (2): alice-2, bob"
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
    assert room.receive(B, "/msg alice hi") == [Relay("alice", wire.private("bob", "hi"))]
    assert room.expire(A) == []  # its hold ending later says nothing


def test_a_connected_session_resumed_elsewhere_is_closed_without_a_word(resumable):
    room = resumable
    assert room.moved_away(room.sessions.get(B), "N2") == [Left(B), Close(B)]
    assert B not in room.members
    assert room.disconnect(B) == []  # its connection closing says nothing either
    assert room.receive(C, "bob") == [Send(C, wire.error("name taken: bob"))]


def test_a_session_moved_here_is_a_tagged_member_known_by_its_token(room):
    assert room.adopt(D, "bob", "e.9") == [Joined(D), Tag(D)]
    assert room.name_of(D) == "bob" and room.holder(name_key("bob")) == D
    member = room.sessions.by_token("e.9")
    assert member.session == D and member.name == "bob"
    assert room.sessions.by_hash(token_hash("e.9")) is member
    assert who(room, A) == "Online (2): alice, bob"
    assert room.receive(A, "/msg bob hi") == [Send(D, wire.private("alice", "hi"))]
    room.receive(D, "/quit")
    assert joins(room, C, "bob")  # no remote bob left behind


# -- the node stopping -----------------------------------------------------------------

def test_a_stopping_node_announces_every_member_and_held_session_gone(resumable):
    room = resumable
    effects = [e for e in room.depart_all("server shutting down")
               if isinstance(e, (Release, Broadcast))]
    assert effects == [
        Release(B, "bob"),
        Broadcast(wire.left("bob", "server shutting down"), None, "-bob"),
        Release(A, "alice"),
        Broadcast(wire.left("alice", "server shutting down"), None, "-alice"),
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
    assert history.after(0) == Gap(9) and history.after(3) == Gap(6)
    assert [(line.seq, bytes(line.data)) for line in history.after(9)] == [(10, b"d\n")]
    assert history.append(b"e\n", 6, first=11) == 11
    assert history.append(b"f\n", 7) == 12  # numbering continues from the jump
    assert [line.seq for line in history.after(9)] == [10, 11, 12]


def test_a_node_taken_for_gone_announces_its_members_to_the_others_only(resumable):
    assert resumable.announce_all() == [
        Broadcast(wire.joined("bob"), None, "+bob", elsewhere=True),
        Broadcast(wire.joined("alice"), None, "+alice", elsewhere=True),  # held: still hers
    ]
