"""Accounts and moderation over the IRC port, through raw sockets: an IRC
client meets the same rules as a terminal user (mutes, +m, +t, bans, +i,
+k, +l, registered names, the server password), answered with IRC's
numerics. A terminal user registers and operates the room (the line
protocol is what makes accounts here)."""
import base64

import pytest

from support.clients import LineClient, read_until
from support.constants import TIMEOUT
from support.irc import IrcClient
from support.servers import selchat
from support.waiting import wait_for

CHEAP = ("--scrypt-n", "1024")  # tests need the rules, not the strength
IRC = ("--flood-rate", "0", "--irc-port", "0", "--server-name", "irc.test")


@pytest.fixture
def data(tmp_path):
    return str(tmp_path / "data")


@pytest.fixture
def server(chat_server, data):
    return chat_server("--data", data, *CHEAP, *IRC)


def irc(server, nick=None):
    return IrcClient((server.host, server.irc_port), nick)


def operator_of_class(server):
    """`teach`, registered, operator of #class (the room it made)."""
    teach = LineClient(server.address, "teach")
    teach.send("/register teacher-secret")
    teach.expect_prefix("*** teach is registered to you")
    teach.send("/join #class")
    read_until(teach, "*** You are the operator of #class (/help lists the operators' "
                      "commands).")
    return teach


def test_mute_moderated_and_topic_rules_hold_for_irc_clients(server):
    teach = operator_of_class(server)
    bob = irc(server, "bob")
    bob.send("JOIN #class")
    bob.until("366")
    teach.send("/mute #class bob", "/mode #class +t")
    read_until(teach, "#class *** teach set mode +t on #class")
    bob.send("PRIVMSG #class :let me speak")  # the hot path
    got = bob.until("404")[-1]
    assert got.params[1:] == ["#class", "you are muted in #class until lifted"]
    bob.send("PRIVMSG #class :\x01ACTION waves\x01")  # the session's path
    assert bob.until("404")[-1].params[1] == "#class"
    bob.send("TOPIC #class :mine now")
    got = bob.until("482")[-1]
    assert got.params[1:] == ["#class", "only operators set the topic of #class (+t)"]
    teach.send("/topic #class lesson one")
    bob.until("TOPIC")
    bob.send("TOPIC #class :")  # clearing is setting it too
    assert bob.until("482")[-1].params[1] == "#class"
    teach.send("/unmute #class bob", "/mode #class +m")
    read_until(teach, "#class *** teach set mode +m on #class")
    bob.send("PRIVMSG #class :now?")
    assert "moderated" in bob.until("404")[-1].params[2]
    teach.send("/mode #class -m")
    read_until(teach, "#class *** teach set mode -m on #class")
    bob.send("PRIVMSG #class :at last")
    read_until(teach, "#class <bob> at last")
    teach.close()
    bob.close()


def test_room_bans_and_modes_refuse_an_irc_join_with_their_numerics(server):
    teach = operator_of_class(server)
    teach.send("/ban #class bob", "/mode #class +k sesame")
    read_until(teach, "#class *** teach set mode +k sesame on #class")
    bob = irc(server, "bob")
    bob.send("JOIN #class")
    assert bob.until("474")[-1].params[1] == "#class"
    teach.send("/unban #class bob")
    read_until(teach, "#class *** teach lifted the ban on bob in #class")
    bob.send("JOIN #class")
    assert bob.until("475")[-1].params[1] == "#class"
    bob.send("JOIN #class,#other wrong,x")
    assert bob.until("475")[-1].params[1] == "#class"
    bob.send("JOIN #class sesame")
    assert bob.until("366")[0].command == "JOIN"
    bob.send("PART #class")
    bob.until("PART")
    teach.send("/mode #class -k", "/mode #class +i")
    read_until(teach, "#class *** teach set mode +i on #class")
    bob.send("JOIN #class")
    assert bob.until("473")[-1].params[1] == "#class"
    teach.send("/mode #class -i", "/mode #class +l 1")
    read_until(teach, "#class *** teach set mode +l 1 on #class")
    bob.send("JOIN #class")
    assert bob.until("471")[-1].params[1] == "#class"
    teach.close()
    bob.close()


def test_a_registered_name_is_in_use_for_irc_clients_and_a_server_ban_holds(server, data):
    teach = operator_of_class(server)
    teach.close()
    thief = irc(server)
    thief.send("NICK teach", "USER t 0 * :thief")
    got = thief.until("433")[-1]
    assert got.params[1] == "teach" and "registered" in got.params[2]
    thief.send("NICK Teach")  # a look-alike of it: in use too
    assert thief.until("433")[-1].params[1] == "Teach"
    thief.send("NICK thief")
    thief.until("376")
    boss = LineClient(server.address)
    boss.line()  # the hello
    boss.send("teach")
    boss.expect("*** teach is registered: send its password")
    boss.send("teacher-secret")
    boss.expect_prefix("*** Welcome, teach!")
    assert selchat("admin", "op", "teach", "--data", data).returncode == 0

    def banned() -> bool:  # from the server: the name and the address (read within 2 s)
        boss.send("/ban thief spamming")
        return boss.line().startswith("*** thief was banned from #lobby by teach")

    wait_for(banned, timeout=TIMEOUT)
    assert thief.until("ERROR")[-1].command == "ERROR"
    again = irc(server)
    again.send("NICK thief", "USER t 0 * :thief")
    got = again.until("465")[-1]
    assert got.params[1].startswith("you are banned from this server")
    assert again.until("ERROR")[-1].command == "ERROR"
    again.expect_closed()
    boss.close()


def test_the_server_password_comes_first_over_irc(chat_server):
    server = chat_server("--no-data", *IRC, env={"SELCHAT_SERVER_PASSWORD": "open sesame"})
    right = irc(server)
    right.send("PASS :open sesame", "NICK alice", "USER a 0 * :Alice")
    assert right.until("376")[0].command == "001"
    right.send("JOIN #lobby")
    right.until("366")
    for passing in ([], ["PASS :wrong"]):
        wrong = irc(server)
        wrong.send(*passing, "NICK mallory", "USER m 0 * :M")
        assert wrong.until("464")[-1].command == "464"
        assert wrong.until("ERROR")[-1].command == "ERROR"
        wrong.expect_closed()
    right.close()


def plain(account: str, password: str) -> str:
    return base64.b64encode(f"\0{account}\0{password}".encode()).decode()


def test_sasl_plain_logs_a_registered_name_in(server):
    operator_of_class(server).close()
    wrong = irc(server)
    wrong.send("CAP LS 302", "NICK teach", "USER t 0 * :T", "CAP REQ :sasl")
    assert "sasl=PLAIN" in wrong.until("CAP")[-1].params[-1].split()
    assert wrong.until("CAP")[-1].params[1] == "ACK"
    wrong.send("AUTHENTICATE PLAIN")
    assert wrong.until("AUTHENTICATE")[-1].params == ["+"]
    wrong.send(f"AUTHENTICATE {plain('teach', 'not-the-one')}")
    assert wrong.until("904")[-1].params[-1].endswith("wrong password")
    wrong.send("CAP END")
    assert wrong.until("433")[-1].params[1] == "teach"  # not without its password
    wrong.close()

    right = irc(server)
    right.send("CAP LS 302", "NICK teach", "USER t 0 * :T", "CAP REQ :sasl",
               "AUTHENTICATE PLAIN", f"AUTHENTICATE {plain('teach', 'teacher-secret')}")
    got = right.until("903")
    assert got[-2].command == "900" and got[-2].params[2] == "teach"
    right.send("AUTHENTICATE PLAIN")
    right.until("907")  # once is enough
    right.send("CAP END")
    assert right.until("376")[0].params[0] == "teach"
    right.close()


def sasl_client(server, account, password):
    client = irc(server)
    client.send("CAP LS 302", f"NICK {account}", f"USER {account} 0 * :{account}",
                "CAP REQ :sasl multi-prefix", "AUTHENTICATE PLAIN",
                f"AUTHENTICATE {plain(account, password)}")
    client.until("903")
    client.send("CAP END")
    client.until("376")
    return client


def test_kick_invite_and_channel_modes_over_irc(server):
    operator_of_class(server).close()
    teach = sasl_client(server, "teach", "teacher-secret")
    teach.send("JOIN #class")
    teach.until("366")
    bob = irc(server, "bob")
    bob.send("JOIN #class")
    bob.until("366")
    teach.send("MODE #class +t")
    got = bob.until("MODE")[-1]
    assert got.params == ["#class", "+t"] and bob.source.startswith("teach!")
    bob.send("MODE #class", "MODE #class +m")
    assert bob.until("324")[-1].params[1:] == ["#class", "+nt"]
    assert bob.until("482")[-1].params[1] == "#class"
    teach.send("MODE #class +v bob")
    assert bob.until("MODE")[-1].params == ["#class", "+v", "bob"]
    teach.send("NAMES #class")
    assert set(teach.until("353")[-1].params[-1].split()) == {"@teach", "+bob"}
    bob.send("KICK #class teach")
    assert bob.until("482")[-1].params[1] == "#class"
    teach.send("KICK #class bob :bye now")
    assert bob.until("KICK")[-1].params == ["#class", "bob", "bye now"]
    assert teach.until("KICK")[-1].params == ["#class", "bob", "bye now"]
    teach.send("MODE #class +i")
    teach.until("MODE")
    bob.send("JOIN #class")
    bob.until("473")
    teach.send("INVITE bob #class")
    assert teach.until("341")[-1].params[1:] == ["bob", "#class"]
    assert bob.until("INVITE")[-1].params == ["bob", "#class"]
    bob.send("JOIN #class")
    bob.until("366")
    teach.send("MODE #class +b bob!*@*")
    assert bob.until("KICK")[-1].params[:2] == ["#class", "bob"]
    teach.send("MODE #class b")
    assert teach.until("367")[-1].params[1:3] == ["#class", "bob!*@*"]
    teach.until("368")
    teach.send("MODE #class +x")
    assert teach.until("472")[-1].params[1] == "x"
    teach.close()
    bob.close()
