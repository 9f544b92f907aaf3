"""The IRC port over real sockets: registration, both ways with the line
protocol in the same rooms, one namespace of names, error numerics, CAP and
tags. Each test starts its own server (port 0 everywhere, --no-web)."""
import socket
import subprocess
import sys

import pytest

from support.clients import read_until
from support.constants import TIMEOUT
from support.irc import IrcClient
from support.topics import about_now, set_by


@pytest.fixture
def irc_server(chat_server):
    return chat_server("--flood-rate", "0", "--irc-port", "0", "--server-name", "irc.test")


@pytest.fixture
def irc(irc_server):
    made = []

    def connect(nick=None, caps=""):
        client = IrcClient((irc_server.host, irc_server.irc_port), nick, caps)
        made.append(client)
        return client
    yield connect
    for client in made:
        client.close()


def test_registration_numerics_name_the_server(irc):
    client = irc()
    client.send("NICK alice", "USER al 0 * :Alice Liddell")
    got = client.until("376")  # the end of the MOTD
    assert [msg.command for msg in got[:5]] == ["001", "002", "003", "004", "005"]
    assert client.source == "irc.test"
    assert got[0].params[0] == "alice"
    assert "JOIN" not in [msg.command for msg in got]  # in no channel, as IRC clients begin
    client.send("JOIN #lobby")  # the default room
    got = client.until("366")
    assert got[0].command == "JOIN" and got[0].params == ["#lobby"]
    assert got[1].params[-2:] == ["#lobby", "alice"]


def test_terminal_and_irc_users_talk_both_ways(irc, irc_server, clients):
    alice = irc("alice")
    alice.send("JOIN #lobby")
    alice.until("366")
    bob = clients(irc_server, "bob")
    assert alice.until("JOIN")[-1].params == ["#lobby"] and alice.source.startswith("bob!")
    bob.send("hi from the terminal")
    msg = alice.until("PRIVMSG")[-1]
    assert alice.source == "bob!bob@irc.test"
    assert msg.params == ["#lobby", "hi from the terminal"]
    alice.send("PRIVMSG #lobby :hi from IRC", "PRIVMSG #lobby :\x01ACTION waves\x01")
    bob.expect("<alice> hi from IRC")
    bob.expect("* alice waves")
    alice.send("NOTICE #lobby :hear ye")
    bob.expect("*** -alice- hear ye")
    # A room: joined from both sides, a line each way, a part.
    bob.send("/join #dev")
    bob.expect_prefix("*** You joined #dev.")
    alice.send("JOIN #dev")
    got = alice.until("366")
    assert got[0].command == "JOIN" and got[0].params == ["#dev"]
    assert set(got[1].params[-1].split()) == {"alice", "@bob"}  # its maker
    bob.expect_prefix("*** You are the operator of #dev")
    bob.expect("#dev *** alice has joined #dev.")
    alice.send("PRIVMSG #dev :hello dev")
    bob.expect("#dev <alice> hello dev")
    bob.send("/msg #dev back to you")
    assert alice.until("PRIVMSG")[-1].params == ["#dev", "back to you"]
    # Private lines both ways.
    alice.send("PRIVMSG bob :psst")
    bob.expect("*alice* psst")
    bob.send("/msg alice psst back")
    assert alice.until("PRIVMSG")[-1].params == ["alice", "psst back"]
    # Topic, nick, part, quit.
    alice.send("TOPIC #dev :the topic")
    assert alice.until("TOPIC")[-1].params == ["#dev", "the topic"]
    bob.expect("#dev *** alice set the topic: the topic")
    bob.send("/nick robert")
    bob.expect("*** bob is now known as robert")
    assert alice.until("NICK")[-1].params == ["robert"] and alice.source.startswith("bob!")
    alice.send("PART #dev :see you")
    assert alice.until("PART")[-1].params == ["#dev", "see you"]
    bob.expect("#dev *** alice has left #dev (see you).")
    bob.send("/quit bye all")
    quit_ = alice.until("QUIT")[-1]
    assert quit_.params == ["bye all"] and alice.source.startswith("robert!")
    alice.send("JOIN #made-here", "WHO #made-here")
    names = alice.until("366")[-2]
    assert names.params[-1] == "@alice"  # who made a room is shown as its founder
    assert alice.until("352")[-1].params[6] == "H@"
    alice.send("QUIT :done")
    assert alice.until("ERROR")[-1].params == ["Closing link: done"]
    alice.expect_closed()


def test_nicks_and_names_are_one_namespace(irc, irc_server, clients):
    clients(irc_server, "bob")
    client = irc()
    for nick in ("bob", "BOB", "ｂｏｂ"):  # case and compatibility forms are one name
        client.send(f"NICK {nick}")
        msg = client.message()
        assert msg.command == "433" and msg.params[1] == nick
    client.send("NICK b[o]b")
    assert client.message().command == "432"
    client.register("alice")
    line = clients(irc_server)
    line.expect("*** Hello! Please enter your name.")
    line.send("Alice")
    line.expect("!!! name taken: Alice")
    client.send("NICK bob")
    assert client.until("433")[-1].params[:2] == ["alice", "bob"]


def test_error_numerics(irc):
    client = irc()
    client.send("JOIN #dev")
    assert client.message().command == "451"
    client.register("alice")
    client.send("FROB", "JOIN", "PRIVMSG nobody :x", "PRIVMSG #nowhere :x", "PART #nowhere",
                "WHOIS nobody", "PRIVMSG", "PRIVMSG alice", "PRIVMSG #lobby :" + "x" * 600)
    got = [client.message().command for _ in range(10)]
    assert got == ["421", "461", "401", "403", "403", "401", "318", "411", "412", "417"]


def test_caps_tags_and_echo_message(irc):
    alice = irc("alice", caps="server-time message-tags echo-message")
    bob = irc("bob", caps="server-time")
    carl = irc("carl")
    for client in (alice, bob, carl):
        client.send("JOIN #lobby")
        client.until("366")
    alice.send("CAP LIST")
    assert set(alice.until("CAP")[-1].params[-1].split()) == {
        "cap-notify", "echo-message", "message-tags", "server-time"}
    alice.send("PRIVMSG #lobby :tagged")
    echo = alice.until("PRIVMSG")[-1]
    assert echo.params == ["#lobby", "tagged"] and alice.source.startswith("alice!")
    heard = bob.until("PRIVMSG")[-1]
    assert set(heard.tags) == {"time"}  # server-time alone: no msgid
    assert set(echo.tags) == {"time", "msgid"} and echo.tags["time"] == heard.tags["time"]
    assert carl.until("PRIVMSG")[-1].tags == {}
    alice.send("PRIVMSG #lobby :again")
    assert alice.until("PRIVMSG")[-1].tags["msgid"] != echo.tags["msgid"]
    alice.send("NOTICE #lobby :noted")
    assert alice.until("NOTICE")[-1].params == ["#lobby", "noted"]  # echoed as a NOTICE
    assert carl.until("NOTICE")[-1].params == ["#lobby", "noted"]
    alice.send("@+draft/reply=abc PRIVMSG #lobby :tagged reply")
    assert alice.until("PRIVMSG")[-1].tags["+draft/reply"] == "abc"
    assert "+draft/reply" not in bob.until("PRIVMSG")[-1].tags  # server-time alone
    assert carl.until("PRIVMSG")[-1].tags == {}
    alice.send("@+typing=active TAGMSG #lobby")
    assert alice.until("TAGMSG")[-1].tags["+typing"] == "active"  # the echo, with a msgid
    alice.send("PRIVMSG alice :to myself")
    assert alice.until("PRIVMSG")[-1].params == ["alice", "to myself"]  # the delivery
    assert alice.until("PRIVMSG")[-1].params == ["alice", "to myself"]  # the echo


def test_a_chosen_busy_irc_port_is_exit_1_with_one_line(monkeypatch):
    monkeypatch.delenv("SELCHAT_NO_IRC")  # the test run's: no IRC unless asked
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            [sys.executable, "-m", "selchat", "serve", "--host", "127.0.0.1", "--port", "0",
             "--no-web", "--irc-port", str(port)],
            capture_output=True, text=True, timeout=TIMEOUT)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        f"selchat: cannot listen on 127.0.0.1 IRC port {port}: address already in use "
        "(try --irc-port PORT, or --no-irc)"]


def test_join_once_private_msgids_topic_clearing_and_invisible_users(irc, irc_server, clients):
    alice = irc("alice", caps="message-tags echo-message labeled-response batch")
    alice.send("JOIN #lobby")
    alice.until("366")
    bob = irc("bob", caps="message-tags")
    bob.send("JOIN #lobby", "PING sync")
    alice.send("PING sync")
    got = alice.until("PONG")
    assert [msg.command for msg in got] == ["JOIN", "PONG"]  # bob's one JOIN, not two
    # A private line and its labelled echo share one msgid.
    alice.send("@label=l1 PRIVMSG bob :psst")
    echo = alice.until("PRIVMSG")[-1]
    delivery = bob.until("PRIVMSG")[-1]
    assert echo.tags["label"] == "l1" and echo.tags["msgid"] == delivery.tags["msgid"]
    # A labelled NICK: its own NICK line carries the label.
    alice.send("@label=l2 NICK alicia")
    nick = alice.until("NICK")[-1]
    assert nick.tags["label"] == "l2" and nick.params == ["alicia"]
    # A topic cleared: told as a topic set to nothing; then there is none.
    term = clients(irc_server, "carol")
    alice.send("TOPIC #lobby :something", "TOPIC #lobby :")
    assert alice.until(lambda msg: msg.command == "TOPIC" and msg.params == ["#lobby", ""])
    assert bob.until(lambda msg: msg.command == "TOPIC" and msg.params == ["#lobby", ""])
    alice.send("TOPIC #lobby")
    assert alice.until("331")
    term.send("/topic")
    assert read_until(term, "*** No topic for #lobby.")[-2] == "*** alicia set the topic: "
    # An invisible user is found by a WHO mask only from a channel it shares.
    eve = irc("eve")
    eve.send("MODE eve +i")
    eve.until("MODE")
    bob.send("WHO ev*")
    assert [msg.command for msg in bob.until("315")] == ["315"]
    eve.send("JOIN #lobby")
    eve.until("366")
    bob.send("WHO ev*")
    assert [msg.command for msg in bob.until("315")][-2:] == ["352", "315"]


def test_away_notify_and_userhost_in_names(irc):
    alice = irc("alice", caps="away-notify userhost-in-names")
    bob = irc("bob")
    for client in (alice, bob):
        client.send("JOIN #dev")
        names = client.until("366")[-2]
    assert set(names.params[-1].split()) == {"@alice", "bob"}  # bob: no userhost asked
    alice.send("NAMES #dev")
    assert set(alice.until("353")[-1].params[-1].split()) == {
        "@alice!alice@irc.test", "bob!bob@irc.test"}
    bob.send("AWAY :lunch")
    assert bob.until("306")
    away = alice.until("AWAY")[-1]
    assert away.params == ["lunch"] and alice.source.startswith("bob!")
    bob.send("AWAY")
    assert alice.until("AWAY")[-1].params == []
    alice.send("WHOIS bob")
    assert "301" not in [msg.command for msg in alice.until("318")]


def test_shutdown_is_an_error_line_then_the_end(irc, irc_server):
    alice = irc("alice")
    irc_server.stop()
    rest = alice.expect_closed()
    assert rest.endswith(b"ERROR :Closing link: the server is shutting down\r\n")


def test_an_irc_client_is_announced_once_when_it_joins_the_default_room(irc, irc_server,
                                                                         clients):
    bob = clients(irc_server, "bob")
    carol = irc("carol")  # registered: in no channel, nobody told yet
    carol.send("JOIN #lobby")
    carol.until("366")
    carol.send("PRIVMSG #lobby :hello")
    assert read_until(bob, "<carol> hello") == ["*** carol has joined the chat room.",
                                                "<carol> hello"]
    bob.send("/who")
    read_until(bob, "*** Online (2): bob, carol")
    carol.send("QUIT :bye")
    assert read_until(bob, "*** carol has left the chat room (bye).") == [
        "*** carol has left the chat room (bye)."]


def test_an_irc_client_never_in_the_default_room_is_online_and_its_quit_told_to_its_rooms(
        irc, irc_server, clients):
    bob = clients(irc_server, "bob")  # in the default room only
    dave = clients(irc_server, "dave")
    dave.send("/join #dev")
    read_until(dave, "*** You joined #dev. Online (1): @dave")
    carol = irc("carol")
    carol.send("JOIN #dev")
    carol.until("366")
    read_until(dave, "#dev *** carol has joined #dev.")
    bob.send("/who")  # online all the same, and reachable
    read_until(bob, "*** Online (3): bob, carol, dave")
    bob.send("/msg carol psst")
    assert carol.until("PRIVMSG")[-1].params == ["carol", "psst"]
    carol.send("QUIT :bye")
    read_until(dave, "*** carol has left the chat room (bye).")
    dave.send("/msg #lobby after carol")
    assert read_until(bob, "<dave> after carol") == ["<dave> after carol"]  # bob: no word


def test_joining_a_channel_replays_what_was_said_there(chat_server, clients):
    server = chat_server("--flood-rate", "0", "--irc-port", "0", "--server-name", "irc.test",
                         "--replay", "5")
    bob = clients(server, "bob")
    bob.send("/join #dev", "first", "second")
    read_until(bob, "*** You joined #dev. Online (1): @bob")
    plain = IrcClient((server.host, server.irc_port), "plain")
    tagged = IrcClient((server.host, server.irc_port), "tagged",
                       caps="batch message-tags server-time")
    try:
        plain.send("JOIN #dev")
        got = plain.until(lambda msg: msg.command == "NOTICE" and "End of history" in msg.params[1])
        assert [msg.command for msg in got] == ["JOIN", "353", "366", "NOTICE", "PRIVMSG",
                                                "PRIVMSG", "NOTICE"]
        assert [msg.params for msg in got[4:6]] == [["#dev", "first"], ["#dev", "second"]]
        tagged.send("JOIN #dev")
        got = tagged.until(lambda msg: msg.command == "BATCH" and msg.params[0].startswith("-"))
        assert [msg.command for msg in got[3:]] == ["BATCH", "PRIVMSG", "PRIVMSG", "BATCH"]
        assert got[3].params[1:] == ["chathistory", "#dev"]
        first = got[4]
        assert first.params == ["#dev", "first"] and set(first.tags) == {"batch", "time", "msgid"}
        # The msgid is the one a live client got for that line: the next is one more.
        bob.send("third")
        live = tagged.until("PRIVMSG")[-1]
        epoch, _, seq = first.tags["msgid"].rpartition("-")
        assert live.tags["msgid"].rpartition("-")[0] == epoch
        assert int(live.tags["msgid"].rpartition("-")[2]) > int(seq)
    finally:
        plain.close()
        tagged.close()


def test_a_topic_says_who_set_it_and_when_on_join_and_asked(irc, irc_server, clients):
    """332 then 333 (setter as a mask, Unix seconds), on JOIN and on TOPIC #chan."""
    carol = clients(irc_server, "carol")
    carol.send("/join #dev", "/topic the plan")
    read_until(carol, "#dev *** carol set the topic: the plan")
    alice = irc("alice")
    alice.send("JOIN #dev")
    got = alice.until("366")
    assert [msg.command for msg in got[:3]] == ["JOIN", "332", "333"]
    assert got[1].params == ["alice", "#dev", "the plan"]
    assert got[2].params[:3] == ["alice", "#dev", "carol!carol@irc.test"]
    assert about_now(got[2].params[3])
    alice.send("TOPIC #dev :our plan")
    alice.until(lambda msg: msg.command == "TOPIC" and msg.params == ["#dev", "our plan"])
    alice.send("TOPIC #dev")
    topic, who = alice.until("333")[-2:]
    assert topic.command == "332" and topic.params == ["alice", "#dev", "our plan"]
    assert who.params[:3] == ["alice", "#dev", "alice!alice@irc.test"]
    assert about_now(who.params[3])
    read_until(carol, "#dev *** alice set the topic: our plan")
    carol.send("/topic")  # the line protocol's answer names the IRC setter too
    assert set_by(carol.line(), "#dev", "our plan") == "alice"


def test_a_channel_takes_lines_from_outside_only_once_set_minus_n(irc, irc_server, clients):
    alice = irc("alice")  # makes #dev: its operator
    alice.send("JOIN #dev")
    alice.until("366")
    carol = irc("carol", caps="echo-message")  # in no channel
    carol.send("PRIVMSG #dev :knock knock")
    refused = carol.until("404")[-1]
    assert refused.params[1] == "#dev" and "not in #dev" in refused.params[-1]
    alice.send("MODE #dev")
    assert alice.until("324")[-1].params[2:] == ["+n"]
    alice.send("MODE #dev -n")
    assert alice.until("MODE")[-1].params == ["#dev", "-n"]
    carol.send("PRIVMSG #dev :hi from outside")
    assert carol.until("PRIVMSG")[-1].params == ["#dev", "hi from outside"]  # its echo
    heard = alice.until("PRIVMSG")[-1]
    assert heard.params == ["#dev", "hi from outside"] and alice.source.startswith("carol!")
    dave = clients(irc_server, "dave")  # a terminal user, not in #dev either
    dave.send("/msg #dev and from a terminal")
    assert alice.until("PRIVMSG")[-1].params == ["#dev", "and from a terminal"]
    alice.send("MODE #dev +n")
    alice.until("MODE")
    carol.send("PRIVMSG #dev :again?")
    assert carol.until("404")[-1].params[1] == "#dev"
