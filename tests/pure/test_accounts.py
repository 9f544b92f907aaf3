"""Accounts in the chat rules: register, log in, wrong passwords and their
rate, taking over one's own ghost, look-alikes, the server password."""
import pytest

from selchat import commands
from selchat import wire
from selchat.accounts import passwords
from selchat.accounts.authority import GUESSES_PER_NAME
from selchat.accounts.commands import Ban, Mode, Mute, Password, Register, parse_duration
from selchat.effect_types import CheckPassword, Close, HashPassword, Persist, Send
from support.accounts import CHEAP_N, Clock, room_with_accounts, say, texts

A, B, C, D = 1, 2, 3, 4
SECRET = "correct-horse"


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def room(clock):
    """alice is registered (and online, logged in); bob is online, not registered."""
    room = room_with_accounts(clock)
    for session, name in ((A, "alice"), (B, "bob")):
        room.connect(session, f"10.0.0.{session}")
        say(room, session, name)
    assert "alice is registered to you" in texts(say(room, A, f"/register {SECRET}"), A)[0]
    return room


def test_hashes_are_scrypt_with_their_parameters_and_check_in_constant_time():
    stored = passwords.make_hash("pw", b"s" * 16, CHEAP_N)
    assert stored.startswith(f"scrypt${CHEAP_N}$8$1$")
    assert passwords.check("pw", stored) and not passwords.check("pW", stored)
    assert not passwords.check("pw", "scrypt$broken")


def test_the_worker_lines_round_trip_and_keep_spaces_in_a_password():
    request = passwords.Request(7, "check", "scrypt$x", "two words ")
    assert passwords.Request.parse(request.line()) == request
    assert b"two words" not in request.line()  # base64: one word on the pipe
    assert passwords.parse_answer(b"7 1\n") == (7, "1")


def test_a_password_never_shows_in_an_effects_repr():
    assert SECRET not in repr(CheckPassword(A, SECRET, "h")) + repr(HashPassword(A, SECRET))


def test_register_keeps_only_a_hash(room):
    account = room.authority.accounts["alice"]
    assert account.hash.startswith("scrypt$") and SECRET not in account.hash
    assert room.authority.identified[A] == "alice"


def test_a_registered_name_asks_for_its_password_then_the_owner_takes_over_the_ghost(room):
    room.connect(C, "10.0.0.3")
    assert texts(say(room, C, "alice")) == ["*** alice is registered: send its password"]
    effects = say(room, C, SECRET)
    # The old connection (a ghost) is told and closed; the owner is welcomed.
    assert Send(A, wire.error("your name was taken over by its owner")) in effects
    assert Close(A) in effects
    assert room.members[C] == "alice" and A not in room.members


def test_a_wrong_password_goes_back_to_the_name_prompt(room):
    room.connect(C, "10.0.0.3")
    say(room, C, "alice")
    assert texts(say(room, C, "guess")) == ["!!! wrong password"]
    assert C not in room.members
    assert texts(say(room, C, "carol"))[0].startswith("*** Welcome, carol!")


def test_a_look_alike_of_a_registered_name_is_that_name(room):
    room.connect(C, "10.0.0.3")
    assert texts(say(room, C, "ALICE")) == ["*** alice is registered: send its password"]
    say(room, A, "/quit")  # free, but still hers
    assert texts(say(room, B, "/nick ａｌｉｃｅ"))[0].startswith("!!! ａｌｉｃｅ is registered")


def test_wrong_passwords_are_limited_per_name(room, clock):
    burst, rate = GUESSES_PER_NAME
    for attempt in range(burst):
        session = 100 + attempt
        room.connect(session, f"10.1.{attempt}.1")  # each from another address
        say(room, session, "alice")
        assert texts(say(room, session, "wrong guess")) == ["!!! wrong password"]
    room.connect(C, "10.0.0.3")
    say(room, C, "alice")
    refused = texts(say(room, C, SECRET))  # even the right one waits: no check at all
    assert refused == [f"!!! too many wrong passwords for alice: try again in {int(1 / rate)} s"]
    clock.now += 1 / rate
    say(room, C, "alice")
    assert "*** Welcome, alice!" in texts(say(room, C, SECRET), C)[0]


def test_wrong_passwords_are_limited_per_address(room):
    say(room, B, "/register another-secret")  # bob too; one address tries both names
    for attempt in range(20):
        session = 200 + attempt
        room.connect(session, "10.9.9.9")
        say(room, session, ["alice", "bob"][attempt % 2])
        say(room, session, "wrong guess")
    room.connect(C, "10.9.9.9")
    say(room, C, "bob")
    assert "too many wrong passwords" in texts(say(room, C, "another-secret"))[0]


def test_password_and_unregister_need_the_old_password(room):
    assert texts(say(room, A, "/password nope new-secret-1")) == ["!!! wrong password"]
    assert texts(say(room, A, f"/password {SECRET} new-secret-1")) == [
        "*** Your password is changed."]
    assert passwords.check("new-secret-1", room.authority.accounts["alice"].hash)
    assert texts(say(room, A, "/unregister new-secret-1")) == [
        "*** alice is not registered any more."]
    assert "alice" not in room.authority.accounts


def test_short_passwords_and_registering_twice_are_refused(room):
    assert texts(say(room, B, "/register short")) == [
        "!!! a password is 8 to 1024 characters"]
    assert texts(say(room, A, "/register whatever-else"))[0].startswith(
        "!!! alice is registered already")


def test_the_minimum_length_is_the_servers_choice(room):
    room.authority.min_password = 6  # --min-password-length 6 (irctest's "sesame")
    assert texts(say(room, B, "/register short")) == [
        "!!! a password is 6 to 1024 characters"]
    assert "bob is registered to you" in texts(say(room, B, "/register sesame"))[0]


def test_changes_are_persisted(room):
    effects = room.receive(B, "/register bobs-secret")
    assert isinstance(effects[0], HashPassword)
    done = room.password_hashed(B, "scrypt$hash")
    assert isinstance(done[0], Persist) and done[0].table == "account" and done[0].key == "bob"


def test_the_server_password_comes_first(clock):
    room = room_with_accounts(clock, server_password="letmein")
    assert texts(room.connect(A, "10.0.0.1")) == [
        "*** This server needs a password: send it first."]
    assert texts(say(room, A, "letmein")) == ["*** Hello! Please enter your name."]
    assert texts(say(room, A, "alice"))[0].startswith("*** Welcome, alice!")
    room.connect(B, "10.0.0.2")
    wrong = say(room, B, "/tags")  # nothing else comes before it
    assert wrong == [Send(B, wire.error("wrong server password")), Close(B)]


def test_the_commands_parse():
    assert commands.parse("/register two words") == Register("two words")
    assert commands.parse("/password old new one") == Password("old", "new one")
    assert commands.parse("/password old") == commands.BadUsage("password")
    assert commands.parse("/ban #dev bob 2h spam") == Ban("#dev", "bob", 7200.0, "spam")
    assert commands.parse("/ban bob being rude") == Ban("", "bob", None, "being rude")
    assert commands.parse("/mute bob 10m") == Mute("", "bob", 600.0)
    assert commands.parse("/mute bob soon") == commands.BadUsage("mute")
    assert commands.parse("/mode #dev +k sesame") == Mode("#dev", "+k", "sesame")
    assert commands.parse("/mode +x") == commands.BadUsage("mode")
    assert commands.parse("/mode #dev -int") == Mode("#dev", "-int")  # flags without arguments
    assert commands.parse("/mode #dev +nk x") == commands.BadUsage("mode")  # k takes one: alone
    assert commands.parse("/join #dev sesame") == commands.Join("#dev", "sesame")
    assert parse_duration("7d") == 7 * 86400 and parse_duration("0") is None
