"""Other nodes' members of a room (``--bus``): listed and counted here, sent
nothing, gone with their part, their leaving the server or their node; a
topic set elsewhere is set here."""
from selchat.effect_types import TOPIC, Presence
from selchat.room import ChatRoom

A = 1


def chat_room() -> ChatRoom:
    room: ChatRoom = ChatRoom()
    room.connect(A)
    room.receive(A, "alice")
    room.receive(A, "/join #dev")
    return room


def test_another_nodes_member_is_listed_and_counted_and_not_sent_to():
    room = chat_room()
    room.remote_presence("N2", Presence("+", "bob"))
    room.remote_room_presence("#DEV", Presence("+", "bob"))
    dev = room.rooms.get("#dev")
    assert dev.first(10) == (["alice", "bob"], 2)
    assert list(dev.members) == [A]
    room.remote_room_presence("#ops", Presence("+", "bob"))  # a room with no member here
    assert room.rooms.get("#ops").first(10) == (["bob"], 1)
    room.remote_room_presence("#ops", Presence("-", "bob"))
    assert room.rooms.get("#ops") is None  # gone with its last member


def test_leaving_the_server_or_a_rename_reaches_every_room():
    room = chat_room()
    room.remote_presence("N2", Presence("+", "bob"))
    for name in ("#dev", "#ops"):
        room.remote_room_presence(name, Presence("+", "bob"))
    room.remote_presence("N2", Presence("=", "bob", "bobby"))
    assert room.rooms.get("#dev").first(10) == (["alice", "bobby"], 2)
    assert room.rooms.get("#ops").first(10) == (["bobby"], 1)
    room.remote_presence("N2", Presence("-", "bobby"))
    assert room.rooms.get("#dev").first(10) == (["alice"], 1)
    assert room.rooms.get("#ops") is None


def test_a_node_gone_takes_its_members_out_of_the_rooms():
    room = chat_room()
    room.remote_presence("N2", Presence("+", "bob"))
    room.remote_room_presence("#dev", Presence("+", "bob"))
    room.remote_gone(["bob"])
    assert room.rooms.get("#dev").first(10) == (["alice"], 1)


def test_a_topic_set_on_another_node_is_set_here_and_rooms_shows_it():
    room = chat_room()
    before = room.rooms.version
    room.remote_room_presence("#dev", Presence(TOPIC, "ship it"))
    room.remote_presence("N2", Presence(TOPIC, "welcome"))  # the default room's
    assert (room.rooms.get("#dev").topic, room.rooms.default.topic) == ("ship it", "welcome")
    assert room.rooms.version > before
    room.remote_room_presence("#nowhere", Presence(TOPIC, "x"))  # no such room: nothing
    assert room.rooms.get("#nowhere") is None


def test_a_topic_from_another_node_keeps_who_set_it_and_when():
    room = chat_room()
    room.remote_room_presence("#dev", Presence(TOPIC, "ship it", "bob"), 1_765_000_000_000)
    dev = room.rooms.get("#dev")
    assert (dev.topic, dev.topic_by, dev.topic_at) == ("ship it", "bob", 1_765_000_000_000)
    room.remote_presence("N2", Presence(TOPIC, "", "bob"), 1_765_000_001_000)  # cleared
    lobby = room.rooms.default
    assert (lobby.topic, lobby.topic_by, lobby.topic_at) == ("", "", 0)
