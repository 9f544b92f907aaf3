"""Held sessions (a member whose connection dropped, kept for a resume) are
counted alike by the welcome and /who, and listed as "NAME (away)" by both
(issue 25, item 8): the rules directly, then over real sockets."""
import re
import socket
import urllib.request

import pytest

from conftest import TIMEOUT, LineClient, wait_for
from selchat import wire
from selchat.wire import HELP_HINT
from test_room_nodes import A, B, C, D, resumable, who  # noqa: F401 (a fixture)


@pytest.mark.pure
def test_the_welcome_counts_and_lists_a_held_member_as_away(resumable):  # noqa: F811
    room = resumable  # alice held, bob connected
    welcome = room.receive(C, "carol")[2].line.text
    assert welcome == f"Welcome, carol! Online (3): bob, carol, alice (away) {HELP_HINT}"
    assert who(room, B) == "Online (3): alice (away), bob, carol"
    assert who(room, C) == who(room, B)


@pytest.mark.pure
def test_a_resumed_or_expired_member_is_no_longer_away(resumable):  # noqa: F811
    room = resumable
    room.resumed(room.sessions.get(A), D)
    assert who(room, B) == "Online (2): alice, bob"  # the answer is cached now
    room.disconnect(D, now=1)
    assert who(room, B) == "Online (2): alice (away), bob"  # and dropped by the hold
    room.expire(D)
    assert who(room, B) == "Online (1): bob"


@pytest.mark.pure
def test_a_search_marks_held_members_too(resumable):  # noqa: F811
    assert resumable.receive(B, "/who al")[0].line.text == "Online matching 'al' (1): alice (away)"


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
