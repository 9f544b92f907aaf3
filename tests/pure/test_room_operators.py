"""Who operates a room, one rule for every front: its maker while it stays in
it (a registered maker for good), a member given /op, the server operators
(their accounts, or OPER: an operator's name and password); and secret rooms."""
from selchat.accounts import passwords
from selchat.accounts.authority import Account
from selchat.effect_types import Authenticated, Persist
from support.accounts import CHEAP_N, Clock, room_with_accounts, say, texts, worked

A, B, C = 1, 2, 3


def room_of_three():
    room = room_with_accounts(Clock())
    for session, name in ((A, "ann"), (B, "bob"), (C, "cat")):
        room.connect(session, f"10.0.0.{session}")
        say(room, session, name)
    return room


def test_the_maker_of_a_room_operates_it_while_it_stays_in_it():
    room = room_of_three()
    made = texts(say(room, A, "/join #dev"), A)
    assert "*** You are the operator of #dev while you stay in it (/help lists the " \
           "operators' commands)." in made
    assert made[0] == "*** You joined #dev. Online (1): @ann"
    say(room, B, "/join #dev")
    assert texts(say(room, B, "/mode #dev +t")) == ["!!! you are not an operator of #dev"]
    assert "*** ann set mode +t on #dev" in texts(say(room, A, "/mode #dev +t"))
    assert texts(say(room, B, "/topic #dev mine")) == [
        "!!! only operators set the topic of #dev (+t)"]
    assert "*** bob was kicked from #dev by ann" in texts(say(room, A, "/kick #dev bob"))
    say(room, A, "/part #dev")  # gone: its role with it, nothing was kept of it
    say(room, C, "/join #dev")  # (the room, emptied, was made anew)
    say(room, A, "/join #dev")
    assert texts(say(room, A, "/kick #dev cat")) == ["!!! you are not an operator of #dev"]
    assert room.authority.rooms["#dev"].ops == set()


def test_the_default_room_has_no_maker():
    room = room_of_three()
    assert texts(say(room, A, "/mode +m")) == ["!!! you are not an operator of #lobby"]


def test_a_registered_maker_is_kept_and_a_room_with_kept_operators_is_theirs():
    room = room_of_three()
    say(room, A, "/register ann-secret")
    effects = say(room, A, "/join #dev")
    assert any(isinstance(each, Persist) and each.key == "#dev" for each in effects)
    assert "*** You are the operator of #dev (/help lists the operators' commands)." in \
        texts(effects, A)
    say(room, A, "/part #dev")
    made = texts(say(room, B, "/join #dev"), B)  # made anew: its kept rules name ann
    assert not any("You are the operator" in line for line in made)
    assert texts(say(room, B, "/mode #dev +m")) == ["!!! you are not an operator of #dev"]
    say(room, A, "/join #dev")
    assert "*** ann set mode +m on #dev" in texts(say(room, A, "/mode #dev +m"))


def test_deop_takes_the_makers_role():
    room = room_of_three()
    say(room, A, "/join #dev")
    say(room, B, "/join #dev")
    say(room, A, "/op #dev bob")
    assert "*** bob took ann's operator role in #dev" in texts(say(room, B, "/deop #dev ann"))
    assert texts(say(room, A, "/mode #dev +m")) == ["!!! you are not an operator of #dev"]
    assert texts(say(room, A, "/who #dev")) == ["*** Online in #dev (2): ann, @bob"]


def test_a_resumed_maker_keeps_its_role():
    room = room_of_three()
    say(room, A, "/join #dev")
    room.rooms.move(A, 9, "ann")
    assert room.authority.room_operator(9, "#dev")
    assert not room.authority.room_operator(A, "#dev")


def oper_room():
    room = room_of_three()
    hashed = passwords.make_hash("boss-password", b"0123456789abcdef", CHEAP_N)
    room.authority.accounts["boss"] = Account("boss", hashed, operator=True)
    room.authority.accounts["plain"] = Account("plain", hashed)
    return room


def test_oper_gives_a_member_the_server_operators_powers():
    room = oper_room()
    say(room, B, "/join #dev")
    assert texts(say(room, C, "/kick #dev bob")) == ["!!! you are not an operator of #dev"]
    assert worked(room, room.check_operator(C, "BOSS", "boss-password")) == [
        Authenticated(C, "boss", oper=True)]
    assert room.authority.operator(C)
    assert "*** bob was kicked from #dev by cat" in texts(say(room, C, "/kick #dev bob"))
    room.authority.accounts["boss"].operator = False  # selchat admin deop boss
    assert not room.authority.operator(C)
    room.disconnect(C)
    assert C not in room.authority.opered


def test_oper_refusals_and_wrong_passwords_count_as_guesses():
    room = oper_room()
    assert worked(room, room.check_operator(C, "plain", "boss-password")) == [
        Authenticated(C, None, "plain is not a server operator", oper=True)]
    assert worked(room, room.check_operator(C, "nobody", "x")) == [
        Authenticated(C, None, "nobody is not a server operator", oper=True)]
    for _ in range(5):  # GUESSES_PER_NAME's burst
        assert worked(room, room.check_operator(C, "boss", "wrong-one")) == [
            Authenticated(C, None, "wrong password", oper=True)]
    refused = worked(room, room.check_operator(C, "boss", "boss-password"))
    assert refused[0].account is None and refused[0].why.startswith("too many wrong passwords")
    assert not room.authority.operator(C)


def test_a_secret_room_is_listed_to_its_members_only():
    room = room_of_three()
    say(room, A, "/join #hush")
    say(room, A, "/mode #hush +s")
    say(room, B, "/join #open")
    assert texts(say(room, C, "/rooms")) == ["*** Rooms (2):", "***   #lobby (3)",
                                             "***   #open (1)"]
    assert texts(say(room, A, "/rooms")) == ["*** Rooms (3):", "***   #hush (1)",
                                             "***   #lobby (3)", "***   #open (1)"]
    assert texts(say(room, C, "/who #hush")) == ["!!! you are not in #hush: /join #hush"]
    assert texts(say(room, C, "/rooms")) == ["*** Rooms (2):", "***   #lobby (3)",
                                             "***   #open (1)"]  # the shared answer again
    say(room, A, "/mode #hush -s")
    assert "***   #hush (1)" in texts(say(room, C, "/rooms"))
