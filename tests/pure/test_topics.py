"""Who set a room's topic and when (`selchat.topics`): set and cleared as one,
shown by ``/topic #room``, kept in Redis' topics hash and read back; the room's
``/topic`` command and its clearing (``-``)."""
from selchat import topics, wire
from selchat.effect_types import TOPIC, Broadcast, Presence, Send
from selchat.room import ChatRoom
from selchat.rooms import Room
from selchat.topics import Topic

A, B = 1, 2
#: 2026-12-07 20:58:31.250 UTC.
AT = 1_796_677_111_250


def test_set_and_clear_go_together():
    room: Room = Room("#dev")
    topics.set_topic(room, "ship it", "alice", AT)
    assert topics.of(room) == Topic("ship it", "alice", AT)
    topics.set_topic(room, "", "bob", AT + 1)  # none: set by nobody, at no time
    assert topics.of(room) == Topic("")


def test_shown_says_who_and_when_as_much_as_is_known():
    room: Room = Room("#dev")
    assert topics.shown(room) == wire.notice("No topic for #dev.")
    topics.restore(room, Topic("ship it", "alice", AT))
    assert topics.shown(room).text == "Topic of #dev: ship it (set by alice, 2026-12-07 20:58 UTC)"
    topics.restore(room, Topic("ship it", "alice"))
    assert topics.shown(room).text == "Topic of #dev: ship it (set by alice)"
    topics.restore(room, Topic("ship it"))  # kept by an older selchat
    assert topics.shown(room).text == "Topic of #dev: ship it"


def test_the_topics_hash_value_goes_and_comes_back():
    room: Room = Room("#Dev")
    topics.set_topic(room, "ship it: (v2)", "alice", AT)
    value = topics.hash_value(room)
    assert value == f"#Dev\tship it: (v2)\talice\t{AT}"
    assert topics.from_hash(value) == ("#Dev", Topic("ship it: (v2)", "alice", AT))
    assert topics.from_hash("#Dev\tolder\twith a tab") == ("#Dev", Topic("older\twith a tab"))
    assert topics.from_hash("#Dev\t") == ("#Dev", Topic(""))


def test_a_topic_has_no_tab_nor_control():
    assert topics.cleaned("one\ttwo\x07") == "one two"


def joined() -> ChatRoom:
    room: ChatRoom = ChatRoom()
    for session, name in ((A, "alice"), (B, "bob")):
        room.connect(session)
        room.receive(session, name)
        room.receive(session, "/join #dev")
    return room


def test_the_setter_goes_with_the_topic_and_a_dash_clears_it():
    room = joined()
    dev = room.rooms.get("#dev")
    room.receive(A, "/topic ship\tit")
    assert (dev.topic, dev.topic_by) == ("ship it", "alice")
    line = wire.topic_set("bob", "")
    assert room.receive(B, "/topic #dev -") == [
        Send(B, line, room=dev), Broadcast(line, B, Presence(TOPIC, "", "bob"), room=dev)]
    assert (dev.topic, dev.topic_by, dev.topic_at) == ("", "", 0)
    assert room.receive(B, "/topic #dev -") == [Send(B, wire.notice("No topic for #dev."))]
    assert room.receive(B, "/topic") == [Send(B, wire.notice("No topic for #dev."))]
