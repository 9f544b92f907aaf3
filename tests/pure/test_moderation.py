"""Moderation in the chat rules: room operators, kick, ban, mute, invite and
modes, by operators and refused to others; every action told to the room."""
import pytest

from selchat import wire
from selchat.accounts.authority import Account
from selchat.effect_types import Audit, Broadcast, Close, Exited, Persist
from support.accounts import Clock, room_with_accounts, say, texts

T, S, M, X = 1, 2, 3, 4  # teacher, student, another student, someone else


@pytest.fixture
def room():
    """teach (registered) made #class; sam and mia are in it (the clock: a Clock)."""
    room = room_with_accounts(Clock())
    for session, name in ((T, "teach"), (S, "sam"), (M, "mia")):
        room.connect(session, f"10.0.0.{session}")
        say(room, session, name)
    say(room, T, "/register teacher-secret")
    made = texts(say(room, T, "/join #class"), T)
    assert "#class *** You are the operator of #class" not in made  # the prefix is the driver's
    assert "*** You are the operator of #class (/help lists the operators' commands)." in made
    say(room, S, "/join #class")
    say(room, M, "/join #class")
    return room


def told(effects):
    return [wire.text_of(each.line) for each in effects if isinstance(each, Broadcast)]


def test_the_registered_maker_is_the_rooms_operator_and_others_are_refused(room):
    assert texts(say(room, S, "/kick #class mia")) == ["!!! you are not an operator of #class"]
    assert texts(say(room, S, "/mode #class +m")) == ["!!! you are not an operator of #class"]
    assert room.authority.rooms["#class"].ops == {"teach"}


def test_a_topic_only_operators_may_set(room):
    say(room, T, "/mode #class +t")
    assert texts(say(room, S, "/topic #class hacked")) == [
        "!!! only operators set the topic of #class (+t)"]
    assert "*** teach set the topic: fractions" in texts(say(room, T, "/topic #class fractions"))


def test_mute_is_told_to_the_room_and_the_member_who_gets_a_clear_line(room):
    effects = say(room, T, "/mute #class sam 10m")
    assert told(effects) == ["*** teach muted sam in #class until 2027-01-15 08:10 UTC"]
    assert "!!! you are muted in #class until 2027-01-15 08:10 UTC by teach" in texts(effects, S)
    assert Audit("teach", "muted", "sam", "#class", "") in effects
    assert any(isinstance(each, Persist) and each.table == "room" for each in effects)
    refused = say(room, S, "hello?")
    assert texts(refused) == ["!!! you are muted in #class until 2027-01-15 08:10 UTC"]
    assert told(say(room, M, "hi")) == ["<mia> hi"]  # others still speak
    room.authority.clock.now += 600
    assert told(say(room, S, "back")) == ["<sam> back"]


def test_moderated_rooms_let_operators_and_voiced_members_speak(room):
    say(room, T, "/mode #class +m")
    assert texts(say(room, S, "hi"))[0].startswith("!!! #class is moderated")
    assert told(say(room, T, "quiet please")) == ["<teach> quiet please"]
    say(room, T, "/mode #class +v sam")
    assert told(say(room, S, "a question")) == ["<sam> a question"]
    assert texts(say(room, M, "me too"))[0].startswith("!!! #class is moderated")


def test_kick_puts_the_member_out_of_the_room_with_a_reason(room):
    effects = say(room, T, "/kick #class mia talking over others")
    assert told(effects) == ["*** mia was kicked from #class by teach (talking over others)"]
    assert "!!! you were kicked from #class by teach (talking over others)" in texts(effects, M)
    assert any(isinstance(each, Exited) and each.session == M for each in effects)
    assert not room.rooms.get("#class").has(M)
    assert texts(say(room, T, "/kick #class mia")) == ["!!! mia is not in #class"]


def test_a_ban_keeps_the_name_and_its_look_alikes_out_until_lifted(room):
    say(room, T, "/ban #class Mia 1h spamming")  # any spelling of the name
    assert texts(say(room, M, "/join #class"))[0].startswith(
        "!!! you are banned from #class until 2027-01-15 09:00 UTC (spamming)")
    say(room, M, "/nick MIA")  # a look-alike is the same name
    assert texts(say(room, M, "/join #class"))[0].startswith("!!! you are banned from #class")
    say(room, T, "/unban #class mia")
    assert texts(say(room, M, "/join #class"), M)[0].startswith("*** You joined")


def test_invite_only_key_and_limit(room):
    say(room, T, "/part #class")  # (operators pass every mode: test with others)
    say(room, S, "/part #class")
    room.connect(X, "10.0.0.4")
    say(room, X, "xavi")
    say(room, T, "/join #class")
    say(room, T, "/mode #class +i")
    assert texts(say(room, X, "/join #class"))[0].startswith("!!! #class is invite-only")
    effects = say(room, T, "/invite xavi #class")
    assert "*** teach invites you to #class: /join #class" in texts(effects, X)
    assert texts(say(room, X, "/join #class"), X)[0].startswith("*** You joined #class")
    say(room, T, "/mode #class -i")
    say(room, T, "/mode #class +k sesame")
    assert texts(say(room, S, "/join #class"))[0] == "!!! #class needs its key: /join #class KEY"
    assert texts(say(room, S, "/join #class sesame"), S)[0].startswith("*** You joined")
    say(room, T, "/mode #class -k")
    say(room, X, "/part #class")
    say(room, T, "/mode #class +l 3")
    assert texts(say(room, T, "/mode #class")) == ["*** Modes of #class: +nl 3; operators: teach"]
    say(room, X, "/join #class")  # the third
    room.connect(5, "10.0.0.5")
    say(room, 5, "zoe")
    assert texts(say(room, 5, "/join #class")) == ["!!! #class is full (3 members at most)"]


def test_op_of_a_name_not_registered_lasts_while_it_stays_in_the_room(room):
    assert told(say(room, T, "/op #class sam")) == ["*** teach made sam an operator of #class"]
    assert told(say(room, S, "/mute #class mia")) == ["*** sam muted mia in #class until lifted"]
    assert room.authority.rooms["#class"].ops == {"teach"}  # nothing kept of sam's role
    say(room, S, "/part #class")
    say(room, S, "/join #class")
    assert texts(say(room, S, "/unmute #class mia")) == ["!!! you are not an operator of #class"]
    assert texts(say(room, T, "/op #class nobody")) == ["!!! no such user: nobody"]
    room.connect(X, "10.0.0.4")
    say(room, X, "xavi")
    assert texts(say(room, T, "/op #class xavi")) == ["!!! xavi is not in #class"]


def test_op_of_a_registered_name_is_kept_and_deop_takes_it(room):
    say(room, S, "/register sams-secret")
    assert told(say(room, T, "/op #class sam")) == ["*** teach made sam an operator of #class"]
    assert room.authority.rooms["#class"].ops == {"teach", "sam"}
    assert told(say(room, S, "/mute #class mia")) == [
        "*** sam muted mia in #class until lifted"]
    say(room, T, "/deop #class sam")
    assert texts(say(room, S, "/unmute #class mia")) == ["!!! you are not an operator of #class"]


def test_a_server_operator_may_act_anywhere_and_a_server_ban_holds_name_and_address(room):
    room.authority.accounts["boss"] = Account("boss", "x", operator=True)
    room.connect(X, "10.0.0.4")
    say(room, X, "boss")  # registered: the password is asked for
    room.authority.identified[X] = "boss"  # (as if it had been given)
    room._logged_in(X, "boss")
    assert told(say(room, X, "/mute #class teach")) == [
        "*** boss muted teach in #class until lifted"]
    effects = say(room, X, "/ban mia 1d trolling")  # in the default room: the server
    assert Close(M) in effects
    assert "!!! you were banned from this server by boss until 2027-01-16 08:00 UTC (trolling)" \
        in texts(effects, M)
    room.connect(9, "10.0.0.3")  # mia's address, any name
    assert texts(say(room, 9, "someone-new")) == [
        "!!! you are banned from this server until 2027-01-16 08:00 UTC (trolling)"]
    room.connect(10, "10.0.0.10")
    assert texts(say(room, 10, "Mia"))[0].startswith("!!! you are banned from this server")


def test_a_joiner_is_told_the_rooms_rules_and_its_own_mute(room):
    say(room, T, "/mode #class +m")
    say(room, T, "/mode #class +v mia")
    say(room, T, "/mute #class sam 10m")
    say(room, S, "/part #class")
    said = texts(say(room, S, "/join #class"), S)
    assert said[1:] == [
        "*** Modes of #class: +mn; operators: teach; voiced: mia; "
        "muted: sam (until 2027-01-15 08:10 UTC)",
        "!!! you are muted in #class until 2027-01-15 08:10 UTC"]


def test_another_front_asks_whether_a_member_may_speak(room):
    dev = room.rooms.get("#class")
    assert room.may_speak(S, dev) is None
    say(room, T, "/mute #class sam")
    assert room.may_speak(S, dev) == "you are muted in #class until lifted"
    assert room.may_speak(M, dev) is None


def test_no_lines_from_outside_unless_minus_n_and_then_bans_and_mutes_still_hold(room):
    room.connect(X, "10.0.0.4")
    say(room, X, "xavi")  # in the default room, not in #class
    assert texts(say(room, T, "/mode #class")) == ["*** Modes of #class: +n; operators: teach"]
    assert texts(say(room, X, "/msg #class hello")) == ["!!! you are not in #class: /join #class"]
    effects = say(room, T, "/mode #class -n")
    assert told(effects) == ["*** teach set mode -n on #class"]
    assert room.authority.rooms["#class"].modes() == "none"
    heard = say(room, X, "/msg #class hello from outside")
    assert told(heard) == ["<xavi> hello from outside"]
    assert [each.room.name for each in heard if isinstance(each, Broadcast)] == ["#class"]
    say(room, T, "/mute #class xavi")
    assert texts(say(room, X, "/msg #class again")) == ["!!! you are muted in #class until lifted"]
    say(room, T, "/unmute #class xavi")
    say(room, T, "/mode #class +m")
    assert texts(say(room, X, "/msg #class again"))[0].startswith("!!! #class is moderated")
    say(room, T, "/mode #class -m")
    say(room, T, "/ban #class xavi")
    assert texts(say(room, X, "/msg #class again")) == [
        "!!! you are banned from #class until lifted"]
    say(room, T, "/mode #class +imnt")  # several at once, told as one change
    assert room.authority.rooms["#class"].modes() == "+imnt"


def test_the_outside_rule_travels_with_the_rooms_rules():
    from selchat.accounts.authority import RoomRules
    rules = RoomRules("#dev", outside=True)
    assert RoomRules.from_value(rules.value()).outside
    older = rules.value()
    del older["outside"]  # kept before the mode existed: +n, as every room then
    assert RoomRules.from_value(older).modes() == "+n"
def invited_to_class(room):
    """#class invite-only (teach alone in it: operators pass every mode),
    xavi invited: the invitations kept, as every node reads them."""
    say(room, S, "/part #class")
    say(room, M, "/part #class")
    say(room, T, "/mode #class +i")
    room.connect(X, "10.0.0.4")
    say(room, X, "xavi")
    say(room, T, "/invite xavi #class")
    assert room.authority.rooms["#class"].invited == {"xavi"}


def kept_invitations(effects):
    """The invitations of #class as the Persist effects write them (to the
    data directory and, with a bus, to every node)."""
    return [each.value["invited"] for each in effects
            if isinstance(each, Persist) and each.key == "#class"]


def test_an_invitation_is_used_by_the_join_and_written_so(room):
    invited_to_class(room)
    effects = say(room, X, "/join #class")
    assert texts(effects, X)[0].startswith("*** You joined #class")
    assert kept_invitations(effects) == [[]]
    say(room, X, "/part #class")
    assert texts(say(room, X, "/join #class"))[0].startswith("!!! #class is invite-only")


def test_an_invitation_ends_when_its_member_leaves_the_server(room):
    invited_to_class(room)
    effects = say(room, X, "/quit")
    assert kept_invitations(effects) == [[]]
    assert not room.authority.inviting  # a leave asks no room from here on
    room.connect(5, "10.0.0.5")
    say(room, 5, "xavi")  # a newcomer under the name is not the one invited
    assert texts(say(room, 5, "/join #class"))[0].startswith("!!! #class is invite-only")


def test_an_invitation_follows_its_member_to_its_new_name(room):
    invited_to_class(room)
    effects = say(room, X, "/nick xander")
    assert kept_invitations(effects) == [["xander"]]
    assert kept_invitations(say(room, X, "/nick Xander")) == []  # the same name
    room.connect(5, "10.0.0.5")
    say(room, 5, "xavi")
    assert texts(say(room, 5, "/join #class"))[0].startswith("!!! #class is invite-only")
    assert texts(say(room, X, "/join #class"), X)[0].startswith("*** You joined #class")


def test_a_leave_without_invitations_writes_nothing(room):
    assert not [each for each in say(room, M, "/quit") if isinstance(each, Persist)]
