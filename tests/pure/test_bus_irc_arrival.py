"""An IRC client's arrival over a bus: told as ``+NAME<TAB><`` (arrived outside
the default room), every node lists it out of #lobby, and IRC clients are
shown no JOIN for it (the bridge's note says so to the renders)."""
from selchat.effect_types import OUTSIDE, Presence
from selchat.irc.render import Renderer
from selchat.room import ChatRoom

JOINED = b"*** bob has joined the chat room.\n"


def renderer():
    return Renderer("irc.test", "h", "#lobby", lambda: "ep0ch", lambda: 1_700_000_000_000,
                    lambda target: None)


def test_an_arrival_outside_the_lobby_is_no_join_in_any_variant():
    render = renderer()
    for variant in (render.plain, render.with_time, render.with_tags):
        assert variant(JOINED, (7, 1_700_000_000_000, OUTSIDE), None) == b""
        assert b" JOIN #lobby" in variant(JOINED, (7, 1_700_000_000_000), None)


def test_another_nodes_member_that_arrived_outside_the_lobby_is_listed_out_of_it():
    room = ChatRoom()
    room.remote_presence("N2", Presence("+", "bob", OUTSIDE))
    room.remote_presence("N2", Presence("+", "carol"))
    assert room.remote_names() == ["bob", "carol"]  # on the server: /who lists both
    assert room.rooms.remote_outside == {"bob"}
    assert Presence.parse(Presence("+", "bob", OUTSIDE).field()) == \
        Presence("+", "bob", OUTSIDE)
    room.remote_presence("N2", Presence(">", "bob"))  # its JOIN #lobby
    assert room.rooms.remote_outside == set()
