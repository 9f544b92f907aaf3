"""IRC clients on two `selchat serve --bus` nodes through a real Redis. An IRC
client starts in no channel (it JOINs #lobby itself), so its arrival, which
every node reads from the stream to learn its name, is no JOIN of #lobby for
the IRC clients there, on its own node or another; NAMES #lobby lists only
those in it; its JOIN, when it comes, is seen once.
"""
import pytest

from support.clients import LineClient
from support.irc import IrcClient

pytestmark = pytest.mark.redis

IRC = ("--flood-rate", "0", "--irc-port", "0", "--server-name", "irc.test")


def test_an_irc_clients_arrival_is_no_join_of_the_lobby_on_any_node(chat_server, start_redis):
    redis = start_redis()
    first, second = [chat_server(*IRC, "--bus", redis.url) for _ in range(2)]
    alice = IrcClient((first.host, first.irc_port), "alice")
    alice.send("JOIN #lobby")
    alice.until("366")
    bob = IrcClient((second.host, second.irc_port), "bob")  # another node's IRC client
    IrcClient((first.host, first.irc_port), "dan")  # this node's
    carol = LineClient(second.address, "carol")  # a terminal user: in #lobby

    got = alice.until(lambda msg: msg.command == "JOIN" and alice.source.startswith("carol!"))
    assert [msg for msg in got if msg.command == "JOIN"] == got[-1:]
    alice.send("NAMES #lobby")
    assert sorted(alice.until("353")[-1].params[-1].split()) == ["alice", "carol"]

    bob.send("JOIN #lobby")
    bob.until("366")
    got = alice.until(lambda msg: msg.command == "JOIN")
    assert alice.source.startswith("bob!") and got[-1].params == ["#lobby"]
    carol.send("done")
    got = alice.until("PRIVMSG")
    assert [msg.command for msg in got] == ["PRIVMSG"]  # one JOIN, not two


def test_an_irc_clients_own_tags_reach_every_node(chat_server, start_redis):
    redis = start_redis()
    first, second = [chat_server(*IRC, "--bus", redis.url) for _ in range(2)]
    alice = IrcClient((first.host, first.irc_port), "alice", caps="message-tags")
    bob = IrcClient((second.host, second.irc_port), "bob", caps="message-tags")
    dan = IrcClient((second.host, second.irc_port), "dan", caps="message-tags")
    for client in (alice, bob, dan):
        client.send("JOIN #lobby,#dev")
        client.until(lambda msg: msg.command == "366" and msg.params[1] == "#dev")
    dan.send("PRIVMSG #lobby :ready")  # every node knows who is where once it is read
    alice.until("PRIVMSG")
    bob.until("PRIVMSG")
    bob.send("@+draft/reply=e1-5;+example.org/x=a\\sb PRIVMSG #lobby :replying",
             "@+typing=active PRIVMSG #dev :in dev")
    for reader in (alice, dan):  # another node's client, and one of bob's own node
        said = reader.until("PRIVMSG")[-1]
        assert said.params == ["#lobby", "replying"]
        assert said.tags["+draft/reply"] == "e1-5" and said.tags["+example.org/x"] == "a b"
        said = reader.until("PRIVMSG")[-1]
        assert said.params == ["#dev", "in dev"] and said.tags["+typing"] == "active"
