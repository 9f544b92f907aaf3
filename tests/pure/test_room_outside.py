"""A session named outside the default room (an IRC client: it begins in no
channel): the default room hears of it once, when it first joins it, with its
usual "has joined the chat room", and hears it leave or change its name only
then; before, only those sharing a room with it are told, and the other
nodes' lists learn every change (Unannounced)."""
import pytest

from selchat import wire
from selchat.effect_types import (
    INSIDE, OUTSIDE, Broadcast, Claim, Entered, Joined, Left, Presence, Release, Send,
    Unannounced,
)
from selchat.room import ChatRoom

LINE, IRC = 1, 2


@pytest.fixture
def room():
    room = ChatRoom()
    room.connect(LINE)
    room.receive(LINE, "bob")
    room.connect(IRC, outside=True)
    return room


def told(effects):
    """The lines of `effects` as (recipient or "room", text)."""
    return [("room" if type(each) is Broadcast else each.to, each.line.text)
            for each in effects if type(each) in (Broadcast, Send)]


def test_named_outside_nobody_is_told_but_the_other_nodes_lists(room):
    effects = room.receive(IRC, "carol")
    assert effects[:2] == [Joined(IRC), Claim(IRC, "carol")]
    assert effects[3:] == [Left(IRC), Unannounced(Presence("+", "carol")),
                           Unannounced(Presence(OUTSIDE, "carol"))]
    assert told(effects) == [(IRC, effects[2].line.text)]  # its welcome alone
    assert room.rooms.rooms_of(IRC) == []
    assert not room.rooms.default.has(IRC)
    # Online all the same: /who lists it, a /msg reaches it.
    assert "carol" in told(room.receive(LINE, "/who"))[0][1]
    assert room.receive(LINE, "/msg carol hi") == [Send(IRC, wire.private("bob", "hi"))]


def test_its_first_join_of_the_default_room_is_the_usual_join_line(room):
    room.receive(IRC, "carol")
    effects = room.receive(IRC, "/join #lobby")
    assert Entered(IRC, room.rooms.default) in effects
    assert effects[-1] == Broadcast(wire.joined("carol"), IRC, Presence(INSIDE, "carol"))
    # Told once: from here on it is any member that joins and leaves the room.
    room.receive(IRC, "/part #lobby")
    assert room.receive(IRC, "/join #lobby")[-1] == Broadcast(
        wire.joined_room("carol", "#lobby"), IRC, Presence(INSIDE, "carol"))
    assert told(room.disconnect(IRC, "bye")) == [("room", wire.left("carol", "bye").text)]


def test_never_in_the_default_room_its_leaving_is_told_to_those_sharing_a_room(room):
    room.connect(3)
    room.receive(3, "dave")  # in the default room only: never told of carol
    room.receive(IRC, "carol")
    room.receive(IRC, "/join #dev")
    room.receive(LINE, "/join #dev")  # bob: in #dev and in the default room
    effects = room.disconnect(IRC, "bye")
    assert Release(IRC, "carol") in effects
    assert Unannounced(Presence("-", "carol")) in effects
    assert told(effects) == [(LINE, wire.left("carol", "bye").text)]
    assert not room._unseen


def test_never_in_the_default_room_its_rename_is_told_to_those_sharing_a_room(room):
    room.receive(IRC, "carol")
    room.receive(IRC, "/join #dev")
    room.receive(LINE, "/join #dev")
    effects = room.receive(IRC, "/nick carla")
    assert Unannounced(Presence("=", "carol", "carla")) in effects
    assert told(effects) == [(LINE, wire.renamed("carol", "carla").text)]


def test_a_connection_that_goes_before_its_name_is_forgotten(room):
    assert room.disconnect(IRC) == []
    assert not room._unseen


def test_an_ordinary_session_is_told_at_once_as_before(room):
    room.connect(3)
    assert room.receive(3, "dave")[-1] == Broadcast(wire.joined("dave"), 3,
                                                     Presence("+", "dave"))


def test_said_again_to_the_other_nodes_it_is_still_not_announced(room):
    """A node taken for gone says its members again (`announce_all`)."""
    room.receive(IRC, "carol")
    effects = room.announce_all()
    assert Unannounced(Presence("+", "carol", OUTSIDE)) in effects  # an arrival outside #lobby
    assert Unannounced(Presence(OUTSIDE, "carol")) in effects
    assert [each.line.text for each in effects if type(each) is Broadcast] == [
        wire.joined("bob").text]
