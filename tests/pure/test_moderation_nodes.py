"""Moderation of members on other nodes (``--bus``), in the chat rules and on
the bus: the moderator's node answers with an ``Expel`` before its
announcement, the member's node removes it (`ChatRoom.expelled`) with the
lines a local member gets, and the op crosses the stream as an ``o`` entry.
A /op of an unregistered name there is a role entry its node acts on
(`ChatRoom.role_told`); invitations end on every node at their use or their
member's leave."""
import pytest

from selchat import wire
from selchat.accounts.authority import Account, RoomRules, Sanction
from selchat.bus.protocol import Expelled, Outbox, decode
from selchat.effect_types import (
    Audit, Broadcast, Close, Exited, Expel, Left, Persist, Presence, Relay, Release, Send,
    Unannounced,
)
from selchat.member_status import ROLE
from support.accounts import Clock, room_with_accounts, say, texts

T, S, M = 1, 2, 3  # teach (here), sam, mia


@pytest.fixture
def here():
    """The moderator's node: teach (registered) made #class; sam and mia are
    members of node N2, sam in #class too."""
    room = room_with_accounts(Clock())
    room.connect(T, "10.0.0.1")
    say(room, T, "teach")
    say(room, T, "/register teacher-secret")
    say(room, T, "/join #class")
    for name in ("sam", "mia"):
        room.remote_presence("N2", Presence("+", name))
    room.remote_room_presence("#class", Presence("+", "sam"))
    return room


@pytest.fixture
def there():
    """The members' node: sam and mia here, sam in #class."""
    room = room_with_accounts(Clock())
    for session, name in ((S, "sam"), (M, "mia")):
        room.connect(session, f"10.0.0.{session}")
        say(room, session, name)
    say(room, S, "/join #class")
    return room


def in_class(room):
    return say(room, T, "/who #class")[0].line.text


def test_a_kick_of_another_nodes_member_goes_to_its_node_before_the_announcement(here):
    effects = say(here, T, "/kick #class sam too loud")
    room = here.rooms.get("#class")
    assert effects[:2] == [
        Expel("sam", room, "you were kicked from #class by teach (too loud)"),
        Broadcast(wire.notice("sam was kicked from #class by teach (too loud)"),
                  presence=Presence("-", "sam", "N2"), room=room)]
    assert isinstance(effects[2], Persist) and isinstance(effects[3], Audit)
    assert in_class(here) == "Online in #class (1): @teach"  # dropped here at once


def test_a_member_of_another_node_not_in_the_room_is_not_kicked(here):
    assert texts(say(here, T, "/kick #class mia")) == ["!!! mia is not in #class"]
    assert texts(say(here, T, "/kick #class nobody")) == ["!!! nobody is not in #class"]


def test_a_room_ban_of_another_nodes_member_bans_and_puts_it_out(here):
    effects = say(here, T, "/ban #class sam 1h spam")
    assert isinstance(effects[0], Expel) and effects[0].told.startswith(
        "you were banned from #class by teach until ")
    assert effects[0].told.endswith(" (spam)")
    assert "sam" in here.authority.rooms["#class"].bans


def test_off_the_server_its_node_closes_it_and_its_leave_says_so(here):
    here.authority.accounts["teach"] = Account("teach", "", operator=True)
    effects = say(here, T, "/kick #lobby sam bye")
    assert effects[0] == Expel("sam", None, "you were kicked from this server by teach (bye)",
                               "kicked by teach")
    assert effects[1] == Broadcast(wire.notice("sam was kicked from #lobby by teach (bye)"))


def test_the_members_node_removes_it_with_a_local_members_lines(there):
    room = there.rooms.get("#class")
    assert there.expelled("sam", "#class", "you were kicked from #class by teach", "") == [
        Send(S, wire.error("you were kicked from #class by teach")), Exited(S, room)]
    assert not room.has(S)
    assert there.expelled("sam", "#class", "again", "") == []  # gone meanwhile: nothing
    assert there.expelled("mia", "#class", "not in it", "") == []
    assert there.expelled("nobody", "", "not here", "") == []


def test_off_the_server_the_members_node_closes_it(there):
    effects = there.expelled("mia", "", "you were kicked from this server by teach",
                             "kicked by teach")
    assert effects[:3] == [Send(M, wire.error("you were kicked from this server by teach")),
                           Close(M), Left(M)]
    assert Broadcast(wire.left("mia", "kicked by teach"), None, Presence("-", "mia"),
                     room=None) in effects
    assert any(isinstance(each, Release) for each in effects)


def test_a_local_kick_out_of_a_room_tells_the_other_nodes_the_leave(there):
    say(there, M, "/register mia-secret")
    there.authority.accounts["mia"] = Account("mia", "", operator=True)
    room = there.rooms.get("#class")
    effects = say(there, M, "/kick #class sam")
    assert effects[0] == Broadcast(wire.notice("sam was kicked from #class by mia"),
                                   presence=Presence("-", "sam"), room=room)
    assert effects[-2:] == [Send(S, wire.error("you were kicked from #class by mia")),
                            Exited(S, room)]
    assert Expel not in {type(each) for each in effects}


def test_an_invite_and_a_mute_reach_another_nodes_member_through_the_bus(here):
    effects = say(here, T, "/invite mia #class")
    assert effects[-1] == Relay("mia", wire.notice("teach invites you to #class: /join #class"))
    assert "mia" in here.authority.rooms["#class"].invited
    effects = say(here, T, "/mute #class sam")
    assert effects[-1] == Relay("sam", wire.error("you are muted in #class until lifted by teach"))


def test_an_expel_crosses_the_stream_in_the_batchs_order():
    box = Outbox("N1", retention_ms=60_000, lease_ms=15_000)
    box.expel("sam", "#class", "you were kicked from #class by teach", "")
    box.line(b"*** sam was kicked from #class by teach\n", None, "-sam\tN2", False, "#class")
    ops = box.command(box.seal(1))
    at = ops.index("O")
    assert ops[at:at + 5] == ["O", "sam", "#class", "you were kicked from #class by teach", ""]
    assert ops.index("K") > at
    fields = [b"n", b"N1", b"o", b"sam", b"r", b"#class",
              b"d", b"you were kicked from #class by teach", b"w", b""]
    assert decode(fields) == Expelled("N1", "sam", "#class",
                                      "you were kicked from #class by teach", "")
    assert decode([b"n", b"N1", b"o", b"mia", b"r", b"", b"d", b"off", b"w", b"kicked by t"]) == \
        Expelled("N1", "mia", "", "off", "kicked by t")


def test_a_server_ban_made_elsewhere_bans_the_address_its_member_came_from(there):
    ban = Sanction("mia", None, "spam", "teach")
    there.authority.bans["mia"] = ban  # as the rules from the bus put it
    effects = there.banned_elsewhere("mia", ban)
    assert effects[0] == Persist("ban", "mia", ban) and ban.address == "10.0.0.3"
    assert effects[1] == Send(M, wire.error(
        "you were banned from this server by teach until lifted (spam)"))
    assert Close(M) in effects
    assert there.banned_elsewhere("sam", Sanction("sam", None, "", "teach", "10.9.9.9"))[0] \
        == Send(S, wire.error("you were banned from this server by teach until lifted"))


def test_an_op_of_another_nodes_unregistered_member_goes_to_its_node_first(here):
    room = here.rooms.get("#class")
    effects = say(here, T, "/op #class sam")
    assert effects[:2] == [
        Unannounced(Presence(ROLE, "sam", "+"), room),
        Broadcast(wire.notice("teach made sam an operator of #class"), room=room)]
    assert in_class(here) == "Online in #class (2): @sam, @teach"  # counted here at once
    assert texts(say(here, T, "/op #class sam")) == ["!!! sam is already an operator of #class"]
    effects = say(here, T, "/deop #class sam")
    assert effects[0] == Unannounced(Presence(ROLE, "sam", "-"), room)
    assert in_class(here) == "Online in #class (2): sam, @teach"
    assert texts(say(here, T, "/op #class mia")) == ["!!! mia is not in #class"]
    assert texts(say(here, T, "/op #class nobody")) == ["!!! no such user: nobody"]


def test_the_members_node_gives_the_role_and_a_third_node_counts_it(here, there):
    room = there.rooms.get("#class")
    assert there.role_told("mia", "#class", True) is False  # not in it
    say(there, M, "/join #class")
    assert there.role_told("mia", "#class", True) is True  # its status is to be said
    assert M in room.operators and there.authority.room_operator(M, "#class")
    assert there.role_told("mia", "#class", True) is False  # nothing new
    assert there.role_told("mia", "#nowhere", True) is False
    assert there.role_told("mia", "#class", False) is True and M not in room.operators
    assert there.role_told("sam", "#class", False) is True  # its maker's role, too
    third = here  # a node that neither gave it nor holds sam
    third.role_told("sam", "#class", True)
    assert in_class(third) == "Online in #class (2): @sam, @teach"


def test_an_invitation_from_another_node_is_used_on_the_members_node(there):
    rules = RoomRules("#class", invite_only=True, invited={"mia"})
    there.authority.rooms["#class"] = rules  # as the rules from the bus put them
    there.authority.restrict(rules)
    effects = say(there, M, "/join #class")
    assert [each.value["invited"] for each in effects if isinstance(each, Persist)] == [[]]


def test_a_lost_nodes_members_invitations_end_with_them(here):
    say(here, T, "/invite mia #class")
    effects = here.remote_gone(["mia"])
    assert isinstance(effects[0], Persist) and effects[0].value["invited"] == []
    assert isinstance(effects[1], Broadcast)


def test_a_deop_of_a_registered_name_elsewhere_takes_its_makers_role_there_too(here):
    here.authority.accounts["sam"] = Account("sam", "")
    here.authority.rooms["#class"].ops.add("sam")
    here.remote_status.set("sam", "%=sam\t%@#class")  # it made #class again, there
    room = here.rooms.get("#class")
    effects = say(here, T, "/deop #class sam")
    assert effects[0] == Unannounced(Presence(ROLE, "sam", "-"), room)
    assert "sam" not in here.authority.rooms["#class"].ops
    assert in_class(here) == "Online in #class (2): sam, @teach"
    effects = say(here, T, "/op #class sam")  # kept in the rules: nothing for its node
    assert not [each for each in effects if isinstance(each, Unannounced)]
