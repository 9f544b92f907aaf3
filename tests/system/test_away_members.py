"""Held sessions (a member whose connection dropped, kept for a resume) are
counted alike by the welcome and /who, and listed as "NAME (away)" by both
(issue 25, item 8), over real sockets (the rules: tests/pure/test_room_nodes.py)."""
import re
import socket
import urllib.request


from support.clients import LineClient
from support.constants import TIMEOUT
from support.waiting import wait_for
from selchat.wire import HELP_HINT


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
                         "--flood-rate", "2.5", "--default-room", "hall")
    with urllib.request.urlopen(server.url, timeout=TIMEOUT) as response:
        page = response.read().decode()
    config = re.search(r'<meta name="selchat-config" content="([^"]*)">', page)
    assert config and config[1] == "max-line=100;flood-burst=5;flood-rate=2.5;default-room=hall"
