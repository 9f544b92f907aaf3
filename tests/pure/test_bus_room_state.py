"""Rooms across nodes as Redis keeps them: each member's rooms (``joined``), the
topics, presence no line says, and a node's view rebuilt from a snapshot.
Fake sessions, exact values."""
from selchat import wire
from selchat.bus.protocol import (
    Moved, Outbox, Told, decode, rooms_snapshot, topics_snapshot,
)
from selchat.effect_types import INSIDE, OUTSIDE, Broadcast, Presence, Unannounced
from selchat.room import ChatRoom
from selchat.topics import Topic

A, B = 1, 2


def joined_room():
    room = ChatRoom(default_room="#lobby")
    room.connect(A)
    room.receive(A, "alice")
    return room


def rooms_shown(room, session):
    return [effect.line.text for effect in room.receive(session, "/rooms")]


def test_a_members_rooms_are_one_field_current_first_and_none_for_the_default_room_alone():
    room = joined_room()
    rooms = room.rooms
    assert rooms.joined_field(A) == ""
    room.receive(A, "/join #dev")
    room.receive(A, "/join #ops")
    assert rooms.joined_field(A) == "#ops\t#lobby\t#dev\t#ops"
    room.receive(A, "/part #lobby")
    room.receive(A, "/join #dev")  # current again
    assert rooms.joined_field(A) == "#dev\t#dev\t#ops"
    room.receive(A, "/part #dev")
    room.receive(A, "/part #ops")
    assert rooms.joined_field(A) == "\t"  # in no room at all
    room.remote_presence("N2", Presence("+", "bob"))
    rooms.remote_set("bob", "\t")
    assert rooms.remote_in_default(1) == 0


def test_a_snapshot_lists_other_nodes_members_in_their_rooms_and_outside_the_default_room():
    room = joined_room()
    room.remote_synced({"bob": ("bob", "N2"), "carol": ("carol", "N2")}, "N1",
                       {"bob": "#dev\t#dev", "carol": "#dev\t#lobby\t#Dev"},
                       [("#dev", Topic("ship it", "bob", 7_000))])
    assert rooms_shown(room, A) == ["Rooms (2):", "  #dev (2): ship it", "  #lobby (2)"]
    dev = room.rooms.get("#dev")
    assert dev is not None and (dev.topic_by, dev.topic_at) == ("bob", 7_000)
    assert room.receive(A, "/who #dev")[0].line.text == "Online in #dev (2): bob, carol"
    room.remote_synced({"carol": ("carol", "N2")}, "N1", {}, [])  # bob gone, carol back
    assert rooms_shown(room, A) == ["Rooms (1):", "  #lobby (2)"]


def test_leaving_and_joining_the_default_room_again_is_told_to_the_other_nodes():
    room = joined_room()
    effects = room.receive(A, "/part #lobby")
    assert Broadcast(wire.left_room("alice", "#lobby", ""), A, Presence(OUTSIDE, "alice")) \
        in effects
    effects = room.receive(A, "/join #lobby")
    assert effects[-1] == Broadcast(wire.joined_room("alice", "#lobby"), A,
                                    Presence(INSIDE, "alice"))
    room.remote_presence("N2", Presence("+", "bob"))
    room.remote_presence("N2", Presence(OUTSIDE, "bob"))
    assert rooms_shown(room, A)[-1] == "  #lobby (1)"
    room.remote_presence("N2", Presence("=", "bob", "rob"))
    room.remote_presence("N2", Presence(INSIDE, "rob"))
    assert rooms_shown(room, A)[-1] == "  #lobby (2)"


def test_a_join_past_the_announce_limit_is_told_to_the_other_nodes_without_a_line():
    room = ChatRoom(announce_limit=1)
    room.connect(A)
    room.receive(A, "alice")
    room.remote_presence("N2", Presence("+", "bob"))
    room.connect(B)
    effects = room.receive(B, "carol")  # three in #lobby, counting bob
    assert Unannounced(Presence("+", "carol")) in effects
    assert not [effect for effect in effects if isinstance(effect, Broadcast)]
    assert room.receive(B, "/quit")[-1] == Unannounced(Presence("-", "carol"))


def test_a_reaped_node_announces_its_members_rooms_again():
    room = joined_room()
    room.receive(A, "/join #dev")
    room.receive(A, "/part #lobby")
    effects = room.announce_all()
    dev = room.rooms.get("#dev")
    assert effects == [
        Broadcast(wire.joined("alice"), None, Presence("+", "alice", OUTSIDE),  # out of #lobby
                  elsewhere=True),
        Broadcast(wire.joined_room("alice", "#dev"), None, Presence("+", "alice"),
                  elsewhere=True, room=dev),
        Unannounced(Presence(OUTSIDE, "alice"))]


def test_the_outbox_carries_rooms_topics_and_presence_and_the_stream_gives_them_back():
    box = Outbox("N1", retention_ms=1000, lease_ms=1000)
    box.rooms("alice", "#dev\t#dev")
    box.topic("#dev", "#Dev\tship it", only_new=True)
    box.presence("+bob", "#dev")
    batch = box.seal(5)
    assert batch is not None and batch.ops == ["S", "alice", "#dev\t#dev",
                                               "T", "#dev", "#Dev\tship it", 1,
                                               "P", "+bob", "#dev"]
    assert decode([b"n", b"N2", b"p", b"+bob", b"r", b"#dev"]) == Told("N2", "+bob", "#dev")
    assert decode([b"n", b"N2", b"v", b"th\tN1\tbob\t7\tbob", b"j", b"#dev\t#dev"]) == \
        Moved("th", "N1", "bob", 7, "bob", "N2", "#dev\t#dev")
    assert rooms_snapshot([b"N1\talice", b"#dev\t#dev", b"N2\tbob", b""], "N1") == {"bob": ""}
    # Who set it and when; a value an older selchat wrote has neither (its tabs kept).
    assert topics_snapshot([b"#dev", b"#Dev\tship it\talice\t1765000000000",
                            b"#ops", b"#ops\tmid\ttab"]) == [
        ("#Dev", Topic("ship it", "alice", 1765000000000)), ("#ops", Topic("mid\ttab"))]
