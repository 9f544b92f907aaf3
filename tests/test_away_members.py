"""Held sessions (a member whose connection dropped, kept for a resume) are
counted alike by the welcome and /who, and listed as "NAME (away)" by both
(issue 25, item 8): the rules directly, then over real sockets."""
import itertools
import re
import socket
import urllib.request

import pytest

from conftest import TIMEOUT, LineClient, wait_for
from selchat import wire
from selchat.room import ChatRoom, Hold, Left
from selchat.wire import HELP_HINT

A, B, C, D = 1, 2, 3, 4


@pytest.fixture
def room():
    """alice (A) and bob (B) tagged; bob's connection dropped: held. C unnamed."""
    tokens = (f"e.{n}" for n in itertools.count(1))
    room = ChatRoom(resume_window=60, new_token=lambda: next(tokens))
    for session, name in ((A, "alice"), (B, "bob")):
        room.connect(session)
        room.receive(session, "/tags")
        room.receive(session, name)
    room.connect(C)
    return room


def who(room, session):
    return room.receive(session, "/who")[0].line.text


@pytest.mark.pure
def test_the_welcome_counts_and_lists_a_held_member_as_away(room):
    assert who(room, A) == "Online (2): alice, bob"  # asked before: the cached answer
    assert room.disconnect(B, now=0) == [Left(B), Hold(B, 60)]
    assert who(room, A) == "Online (2): alice, bob (away)"  # the cache was dropped
    welcome = room.receive(C, "carol")[2].line.text
    assert welcome == f"Welcome, carol! Online (3): alice, carol, bob (away) {HELP_HINT}"
    assert who(room, A) == "Online (3): alice, bob (away), carol"
    assert who(room, C) == who(room, A)


@pytest.mark.pure
def test_a_resumed_or_expired_member_is_no_longer_away(room):
    room.disconnect(B, now=0)
    room.resumed(room.sessions.get(B), D)
    assert who(room, A) == "Online (2): alice, bob"
    room.disconnect(D, now=1)
    assert who(room, A) == "Online (2): alice, bob (away)"
    room.expire(D)
    assert who(room, A) == "Online (1): alice"


@pytest.mark.pure
def test_a_search_marks_held_members_too(room):
    room.disconnect(B, now=0)
    assert who(room, A) == "Online (2): alice, bob (away)"
    assert room.receive(A, "/who bo")[0].line.text == "Online matching 'bo' (1): bob (away)"


@pytest.mark.pure
def test_the_away_mark_reads_back_as_a_welcome():
    line = wire.welcome("carol", 2, f"carol, {wire.away('bob')}")
    assert wire.decode(wire.text_of(line)) == wire.Welcome("carol", 2, "carol, bob (away)")


def test_over_sockets_the_welcome_and_who_agree_on_a_held_member(chat_server):
    server = chat_server()
    alice = LineClient(server.address, "alice")
    dave = socket.create_connection(server.address, timeout=TIMEOUT)
    dave.sendall(b"/tags\ndave\n")
    alice.expect("*** dave has joined the chat room.")
    dave.close()  # no /quit: held for a resume, and nobody is told

    def held() -> bool:
        alice.send("/who")
        return alice.line() == "*** Online (2): alice, dave (away)"

    wait_for(held)
    bob = LineClient(server.address)
    bob.expect("*** Hello! Please enter your name.")
    bob.send("bob")
    bob.expect(f"*** Welcome, bob! Online (3): alice, bob, dave (away) {HELP_HINT}")
    bob.send("/who")
    bob.expect("*** Online (3): alice, bob, dave (away)")
    for client in (alice, bob):
        client.close()


def test_the_page_is_told_the_servers_limits(chat_server):
    server = chat_server("--web-port", "0", "--max-line", "100", "--flood-burst", "5",
                         "--flood-rate", "2.5")
    with urllib.request.urlopen(server.url, timeout=TIMEOUT) as response:
        page = response.read().decode()
    config = re.search(r'<meta name="selchat-config" content="([^"]*)">', page)
    assert config and config[1] == "max-line=100;flood-burst=5;flood-rate=2.5"
