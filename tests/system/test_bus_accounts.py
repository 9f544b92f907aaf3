"""Accounts, room rules and bans across `selchat serve --bus` nodes, each with
its own data directory, through a real Redis: a name registered on one node
needs its password on the other, a mute or mode set on one holds on the
other (a node started later reads them from Redis), and an operator made
with ``selchat admin op`` on one node's data directory is one on every node.
"""
import pytest

from support.clients import LineClient, read_until
from support.constants import TIMEOUT
from support.servers import selchat
from support.waiting import wait_for

pytestmark = pytest.mark.redis

CHEAP = ("--scrypt-n", "1024")  # tests need the rules, not the strength
HELLO = "*** Hello! Please enter your name."


def node(chat_server, redis, tmp_path, label: str):
    return chat_server("--flood-rate", "0", "--bus", redis.url,
                       "--data", str(tmp_path / label), *CHEAP)


def registered(server, name, password):
    client = LineClient(server.address, name)
    client.send(f"/register {password}")
    while not client.line().startswith(f"*** {name} is registered to you"):
        pass  # room lines said before it came may reach it first (through the bus)
    return client


def log_in(server, name, password):
    client = LineClient(server.address)
    client.expect(HELLO)
    client.send(name)
    assert client.line() == f"*** {name} is registered: send its password"
    client.send(password)
    client.expect_prefix(f"*** Welcome, {name}!")
    return client


def test_accounts_rules_and_operators_hold_on_every_node(chat_server, start_redis, tmp_path):
    redis = start_redis()
    first = node(chat_server, redis, tmp_path, "a")
    teach = registered(first, "teach", "teacher-secret")
    teach.send("/join #class")
    read_until(teach, "*** You are the operator of #class (/help lists the operators' "
                      "commands).")
    teach.send("/mode #class +t", "/mute #class sam")
    teach.expect("#class *** teach set mode +t on #class")
    teach.expect("#class *** teach muted sam in #class until lifted")

    second = node(chat_server, redis, tmp_path, "b")  # started later: reads Redis' rules
    intruder = LineClient(second.address)
    intruder.expect(HELLO)
    intruder.send("Teach")  # a look-alike, registered on the other node
    intruder.expect("*** teach is registered: send its password")
    intruder.send("wrong-password")
    intruder.expect("!!! wrong password")
    sam = LineClient(second.address, "sam")
    sam.send("/join #class", "/topic #class mine now")
    read_until(sam, "*** Modes of #class: +nt; operators: teach; muted: sam (until lifted)")
    sam.expect("!!! you are muted in #class until lifted")
    sam.expect("!!! only operators set the topic of #class (+t)")

    # Changes while both run: on the first node, heard on the second.
    teach.send("/unmute #class sam", "/mode #class +m")
    read_until(teach, "#class *** teach unmuted sam in #class")
    teach.expect("#class *** teach set mode +m on #class")
    teach.send("/msg #lobby settled")
    read_until(sam, "<teach> settled")
    sam.send("/msg #class hello")
    sam.expect("!!! #class is moderated: only its operators and voiced members speak "
               "(ask an operator for +v)")

    # An operator made on the first node's data directory bans on the second.
    boss = registered(first, "boss", "boss-secret")
    boss.send("/quit")
    read_until(teach, "*** boss has left the chat room.")
    troll = LineClient(second.address, "troll")
    troll2 = LineClient(first.address, "troll2")
    boss_there = log_in(second, "boss", "boss-secret")  # registered on the other node
    done = selchat("admin", "op", "boss", "--data", str(tmp_path / "a"))
    assert done.returncode == 0, done.stderr

    def banned() -> bool:  # the first node reads its data directory, then tells Redis
        boss_there.send("/ban troll 1h trolling")
        return boss_there.line().startswith("*** troll was banned from #lobby by boss until")

    wait_for(banned, timeout=TIMEOUT)
    assert b"!!! you were banned from this server by boss until" in troll.expect_closed()
    boss_there.send("/msg #lobby banned")
    read_until(teach, "<boss> banned")
    boss_there.send("/ban troll2 1h")  # a member of the other node: put out there
    assert b"!!! you were banned from this server by boss until" in troll2.expect_closed()
    again = LineClient(first.address)  # the server ban holds on the first node too
    again.expect(HELLO)
    again.send("TROLL")
    assert again.expect_closed().startswith(b"!!! you are banned from this server until")
    listed = selchat("admin", "list", "--data", str(tmp_path / "b"))  # kept on each node
    assert listed.stdout.strip() == "boss"
