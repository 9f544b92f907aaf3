"""Accounts, the server password and moderation through real sockets:
what is kept in the data directory survives a restart, and ``selchat admin``
reaches a running server."""
import signal
import subprocess

import pytest

from support.clients import LineClient
from support.join_client import ENV, join_command
from support.constants import TIMEOUT
from support.servers import selchat
from support.waiting import wait_for

CHEAP = ("--scrypt-n", "1024")  # tests need the rules, not the strength
HELLO = "*** Hello! Please enter your name."


@pytest.fixture
def data(tmp_path):
    return str(tmp_path / "data")


def log_in(server, name, password):
    client = LineClient(server.address)
    client.expect(HELLO)
    client.send(name)
    assert client.line().endswith(" is registered: send its password")
    client.send(password)
    return client


def registered(server, name, password):
    """A client joined as `name`, which it has just registered."""
    client = LineClient(server.address, name)
    client.send(f"/register {password}")
    client.expect_prefix(f"*** {name} is registered to you")
    return client


def test_register_restart_log_in_and_wrong_password(chat_server, data):
    server = chat_server("--data", data, *CHEAP)
    alice = registered(server, "alice", "alices-secret")
    alice.send("/quit")
    server.stop(signal.SIGTERM)

    server = chat_server("--data", data, *CHEAP)
    intruder = log_in(server, "ALICE", "guess-guess")  # a look-alike is the same name
    intruder.expect("!!! wrong password")
    intruder.send("mallory")  # back at the name prompt
    intruder.expect_prefix("*** Welcome, mallory!")
    owner = log_in(server, "alice", "alices-secret")
    owner.expect_prefix("*** Welcome, alice!")
    assert "alices-secret" not in server.log()


def test_the_owner_takes_over_a_ghost_session(chat_server, data):
    server = chat_server("--data", data, *CHEAP)
    ghost = registered(server, "alice", "alices-secret")
    owner = log_in(server, "alice", "alices-secret")
    assert ghost.expect_closed().startswith(b"!!! your name was taken over by its owner")
    owner.expect_prefix("*** Welcome, alice!")


def test_the_server_password_comes_before_the_name(chat_server):
    server = chat_server("--no-data", env={"SELCHAT_SERVER_PASSWORD": "open sesame"})
    wrong = LineClient(server.address)
    wrong.expect("*** This server needs a password: send it first.")
    wrong.send("alice")
    assert wrong.expect_closed() == b"!!! wrong server password\n"
    right = LineClient(server.address)
    right.line()
    right.send("open sesame", "alice")
    right.expect(HELLO)
    right.expect_prefix("*** Welcome, alice!")


def test_admin_op_reaches_a_running_server_and_bans_survive_a_restart(chat_server, data):
    server = chat_server("--data", data, *CHEAP)
    boss = registered(server, "boss", "boss-secret")
    troll = LineClient(server.address, "troll")
    boss.expect("*** troll has joined the chat room.")
    done = selchat("admin", "op", "boss", "--data", data)
    assert done.returncode == 0 and "boss is a server operator now" in done.stdout

    def banned() -> bool:  # the server reads the change within a few seconds
        boss.send("/ban troll 1h trolling")
        answer = boss.line()
        return answer.startswith("*** troll was banned from #lobby by boss until")

    wait_for(banned, timeout=TIMEOUT)
    assert b"\n!!! you were banned from this server by boss until" in troll.expect_closed()
    assert "moderation: boss banned troll" in server.log()
    server.stop(signal.SIGTERM)

    server = chat_server("--data", data, *CHEAP)
    again = LineClient(server.address)
    again.expect(HELLO)
    again.send("Troll")
    assert again.expect_closed().startswith(b"!!! you are banned from this server until")
    listed = selchat("admin", "list", "--data", data)
    assert listed.stdout.strip() == "boss"


def test_a_room_made_by_a_registered_name_keeps_its_rules_across_a_restart(chat_server, data):
    server = chat_server("--data", data, *CHEAP)
    teach = registered(server, "teach", "teacher-secret")
    teach.send("/join #class")
    teach.expect_prefix("*** You joined #class.")
    teach.expect("*** You are the operator of #class (/help lists the operators' "
                 "commands).")
    teach.send("/mode #class +t", "/mute #class sam")
    teach.expect("#class *** teach set mode +t on #class")
    teach.expect("#class *** teach muted sam in #class until lifted")
    server.stop(signal.SIGTERM)

    server = chat_server("--data", data, *CHEAP)
    sam = LineClient(server.address, "sam")
    sam.send("/join #class", "/topic #class mine now")
    sam.expect_prefix("*** You joined #class.")
    sam.expect("*** Modes of #class: +nt; operators: teach; muted: sam (until lifted)")
    sam.expect("!!! you are muted in #class until lifted")
    sam.expect("!!! only operators set the topic of #class (+t)")
    sam.send("/msg #class hello")
    sam.expect("!!! you are muted in #class until lifted")


def test_selchat_join_sends_both_passwords_from_the_environment(chat_server, data):
    server = chat_server("--data", data, *CHEAP, env={"SELCHAT_SERVER_PASSWORD": "sesame"})
    owner = LineClient(server.address)
    owner.line()
    owner.send("sesame", "alice", "/register alices-secret")
    owner.expect(HELLO)
    owner.expect_prefix("*** Welcome, alice!")
    owner.expect_prefix("*** alice is registered to you")
    owner.send("/quit")
    owner.expect_closed()
    env = {"SELCHAT_SERVER_PASSWORD": "sesame", "SELCHAT_PASSWORD": "alices-secret"}
    joined = subprocess.run(join_command("alice", server.port), input=b"hi\n",
                            capture_output=True, timeout=TIMEOUT, env={**ENV, **env})
    assert joined.returncode == 0, joined.stderr
    assert b"Welcome, alice!" in joined.stdout
    env["SELCHAT_PASSWORD"] = "wrong-one"
    refused = subprocess.run(join_command("alice", server.port), input=b"",
                             capture_output=True, timeout=TIMEOUT, env={**ENV, **env})
    assert refused.returncode == 2 and refused.stderr.strip().endswith(b"wrong password")


def test_a_burst_of_logins_loses_no_one_elses_line(chat_server):
    """100 logins at once while 10 members chat: every login is welcomed and
    every chat line arrives (what it costs their latency: bench/logins.py)."""
    server = chat_server("--no-data", *CHEAP, "--flood-rate", "0", "--max-per-ip", "0")
    owners = [LineClient(server.address) for _ in range(100)]
    for number, owner in enumerate(owners):
        owner.send(f"user{number}", f"/register password-{number}")
    for owner in owners:
        while "is registered to you" not in owner.line():
            pass
        owner.close()
    chatters = [LineClient(server.address, f"chat{number}") for number in range(10)]
    logins = [LineClient(server.address) for _ in range(100)]
    for number, client in enumerate(logins):
        client.send(f"user{number}", f"password-{number}")
    for number, chatter in enumerate(chatters):
        chatter.send(*(f"line {number}.{each}" for each in range(20)))
    for number, client in enumerate(logins):
        while not client.line().startswith(f"*** Welcome, user{number}!"):
            pass
    for number, chatter in enumerate(chatters):
        heard = set()
        while len(heard) < 9 * 20:
            line = chatter.line()
            if line.startswith("<chat") and not line.startswith(f"<chat{number}>"):
                heard.add(line)


def test_at_a_terminal_the_password_is_asked_for_without_echo(chat_server, terminal):
    server = chat_server("--no-data", *CHEAP)
    owner = registered(server, "alice", "alices-secret")
    owner.send("/quit")
    owner.expect_closed()
    bob = LineClient(server.address, "bob")
    term = terminal("alice", server.port)
    term.output.expect(b"Password for alice: ")
    term.type(b"alices-secret\r")
    bob.expect("*** alice has joined the chat room.")
    term.output.expect(b"alice> ")
    assert b"alices-secret" not in term.output.data  # not echoed


def test_the_terminal_client_shows_who_is_an_operator_voiced_or_muted(chat_server, data, piped):
    server = chat_server("--data", data, *CHEAP)
    teach = registered(server, "teach", "teacher-secret")
    teach.send("/join #class")
    teach.expect_prefix("*** You joined #class.")
    sam = piped("sam", server.port)
    sam.output.expect(b"*** Welcome, sam!")
    sam.stdin.write(b"/join #class\n")
    sam.stdin.flush()
    sam.output.expect(b"*** You joined #class. Online (2): sam, @teach\n")
    teach.send("/mute #class sam", "/mode #class +v sam")
    sam.output.expect(b"*** teach gave sam a voice in #class\n")
    sam.stdin.write(b"/who #class\n")
    sam.stdin.flush()
    sam.output.expect(b"*** Online in #class (2): +sam (muted), @teach\n")
