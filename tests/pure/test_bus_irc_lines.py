"""IRC over a bus, in the pure parts. An IRC client's arrival is told as
``+NAME<TAB><`` (arrived outside the default room): every node lists it out
of #lobby, and IRC clients are shown no JOIN for it (the bridge's note says
so to the renders). An IRC client's own tags go with its line on the stream
(op ``G``, field ``g``) and come back in the note, for message-tags clients."""
from selchat import wire
from selchat.bus.protocol import Outbox, RoomLine, decode
from selchat.effect_types import OUTSIDE, Broadcast, Presence
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


def test_a_lines_own_tags_cross_the_stream_with_it():
    render = renderer()
    effect = Broadcast(wire.chat("bob", "hi"))
    render.carries(effect, {"+draft/reply": "e1-5", "+x": "a b;c"})
    assert effect.tags == "+draft/reply=e1-5;+x=a\\sb\\:c"
    box = Outbox("N1", retention_ms=60_000, lease_ms=15_000)
    box.line(b"<bob> hi\n", None, "", False, tags=effect.tags)
    box.line(b"<bob> there\n", None, "", False, room="#dev", tags="+typing=active")
    box.line(b"<bob> plain\n", None, "", False)
    ops = box.command(box.seal(1))
    at = ops.index("G")
    assert ops[at:at + 5] == ["G", b"<bob> hi\n", "", "", effect.tags]
    assert ops[at + 5:at + 10] == ["G", b"<bob> there\n", "", "#dev", "+typing=active"]
    assert ops[at + 10:] == ["L", b"<bob> plain\n", ""]
    entry = decode([b"n", b"N2", b"i", b"1", b"s", b"9", b"t", b"5", b"d", b"<bob> hi\n",
                    b"g", effect.tags.encode()])
    assert entry == RoomLine(9, 5, b"<bob> hi\n", "", "N2", None, 1, "", effect.tags)


def test_a_line_from_the_bus_shows_its_own_tags_to_message_tags_clients_only():
    render = renderer()
    note = (9, 1_700_000_000_000, "+draft/reply=e1-5")
    tagged = render.with_tags(b"<bob> hi\n", note, None)
    assert tagged.startswith(b"@time=") and b";msgid=ep0ch-9;+draft/reply=e1-5 :bob!" in tagged
    assert b"draft" not in render.with_time(b"<bob> hi\n", note, None)
    assert b"draft" not in render.plain(b"<bob> hi\n", note, None)
