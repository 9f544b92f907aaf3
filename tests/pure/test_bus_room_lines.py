"""A line of a room but the default one on the bus: the ``K`` operation with
the room's name, read back as a `RoomLine` with its ``room`` (field ``r``);
the default room's lines stay ``L`` with no room, as older nodes read them."""
from selchat.bus.protocol import Outbox, RoomLine, decode
from selchat.effect_types import TOPIC, Presence


def outbox() -> Outbox:
    return Outbox("N1", retention_ms=60_000, lease_ms=15_000)


def test_a_room_line_carries_its_room_and_a_default_line_does_not():
    box = outbox()
    box.line(b"<alice> hi\n", 1, "", delivered=False, room="#dev")
    box.line(b"*** bob has joined #dev.\n", 2, "+bob", delivered=False, room="#dev")
    box.line(b"<alice> lobby\n", 1, "", delivered=False)
    batch = box.seal(5)
    assert batch.ops == ["K", b"<alice> hi\n", "", "#dev",
                         "K", b"*** bob has joined #dev.\n", "+bob", "#dev",
                         "L", b"<alice> lobby\n", ""]
    assert [own.room for own in box.pending] == ["#dev", "#dev", ""]


def test_a_room_line_is_read_back_with_its_room_and_presence():
    fields = [b"n", b"N2", b"i", b"3", b"s", b"9", b"t", b"7", b"d", b"alice set the topic\n",
              b"p", Presence(TOPIC, "ship it").field().encode(), b"r", b"#Dev"]
    line = decode(fields)
    assert line == RoomLine(9, 7, b"alice set the topic\n", "^ship it", "N2", None, 3, "#Dev")
    assert Presence.parse(line.presence) == Presence(TOPIC, "ship it")
    plain = decode([b"n", b"N2", b"s", b"10", b"t", b"8", b"d", b"<bob> hi\n"])
    assert isinstance(plain, RoomLine) and plain.room == ""


def test_a_room_line_published_again_after_redis_lost_it_keeps_its_room():
    box = outbox()
    box.line(b"<alice> hi\n", 1, "", delivered=False, room="#dev")
    box.confirmed(box.seal(1).number)
    box.recover(5)
    box.rewind()
    (again,) = box.to_send()
    assert again.ops == ["K", b"<alice> hi\n", "", "#dev"]
