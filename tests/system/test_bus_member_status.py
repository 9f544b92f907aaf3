"""A member's login and room roles on every `selchat serve --bus` node,
through a real Redis (`selchat.member_status`): a room's maker and a name
given /op while it stays are marked "@" in /who, join lines and IRC NAMES
on the other node too, until they leave the room; an IRC client of one node
logged in with SASL under another account than its nick is shown logged in
to it on the other (extended-join, account-tag, WHOIS 330), and a login
there reaches the other node's account-notify clients (``ACCOUNT``).

A node learns what another did by reading the one stream, so a test that
needs node B to know of something first waits for a later line on B.
"""
import pytest

from support.clients import LineClient, read_until
from support.irc import IrcClient, plain, sasl_client

pytestmark = pytest.mark.redis

CHEAP = ("--scrypt-n", "1024")  # tests need the rules, not the strength
IRC = ("--flood-rate", "0", "--irc-port", "0", "--server-name", "irc.test")
WATCHING = "account-tag extended-join account-notify"


@pytest.fixture
def two_nodes(chat_server, start_redis, tmp_path) -> list:
    redis = start_redis()
    return [chat_server("--bus", redis.url, "--data", str(tmp_path / label), *CHEAP, *IRC)
            for label in "ab"]


def settled(client: LineClient, said_by: LineClient, name: str, marker: str) -> list:
    """`said_by` says `marker` in #lobby and `client` reads up to it: its
    node has read everything said before (one stream, one order)."""
    said_by.send(f"/msg #lobby {marker}")
    return read_until(client, f"<{name}> {marker}")[:-1]


def test_a_makers_and_an_opd_names_role_is_marked_on_every_node_while_they_stay(two_nodes):
    first, second = two_nodes
    alice, dave = LineClient(first.address, "alice"), LineClient(first.address, "dave")
    bob = LineClient(second.address, "bob")
    read_until(alice, "*** bob has joined the chat room.")
    alice.send("/join #dev")
    read_until(alice, "*** You joined #dev. Online (1): @alice")
    settled(bob, alice, "alice", "made")
    bob.send("/join #dev")
    read_until(bob, "*** You joined #dev. Online (2): @alice, bob")
    dave.send("/join #dev")
    read_until(alice, "#dev *** dave has joined #dev.")
    alice.send("/op #dev dave")  # not registered: while it stays
    read_until(bob, "#dev *** alice made dave an operator of #dev")
    settled(bob, alice, "alice", "opped")
    bob.send("/who #dev")
    read_until(bob, "*** Online in #dev (3): @alice, bob, @dave")
    irc = IrcClient((second.host, second.irc_port), "ivy")
    irc.send("JOIN #dev")
    names = irc.until("353")[-1].params[-1].split()
    assert sorted(names) == ["@alice", "@dave", "bob", "ivy"]

    # A maker on one node kicks a member of the other (its role is its node's).
    alice.send("/kick #dev bob")
    read_until(bob, "!!! you were kicked from #dev by alice")

    # Leaving ends the role on every node: back in, it is not marked.
    dave.send("/part #dev", "/join #dev")
    read_until(alice, "#dev *** dave has joined #dev.")
    alice.send("/part #dev", "/join #dev")
    read_until(alice, "*** You joined #dev. Online (3): alice, dave, ivy")
    settled(bob, alice, "alice", "back")
    bob.send("/who #dev")
    read_until(bob, "*** Online in #dev (3): alice, dave, ivy")
    irc.send("NAMES #dev")
    assert sorted(irc.until("353")[-1].params[-1].split()) == ["alice", "dave", "ivy"]


def test_a_login_shows_on_every_node(two_nodes):
    first, second = two_nodes
    for name, password in (("jilles", "open-sesame"), ("kimacct", "kims-secret")):
        person = LineClient(first.address, name)
        person.send(f"/register {password}")
        while not person.line().startswith(f"*** {name} is registered to you"):
            pass  # lines of the room may come first
        person.send("/quit")
    ann = IrcClient((first.host, first.irc_port), "ann", WATCHING)
    ann.send("JOIN #lobby")
    ann.until("366")
    carol = LineClient(second.address, "carol")  # the other node has read the accounts
    ann.until(lambda msg: msg.command == "JOIN" and ann.source.startswith("carol!"))

    # SASL as another account than the nick, on the other node.
    bar = sasl_client((second.host, second.irc_port), "bar", "jilles", "open-sesame")
    got = ann.until(lambda msg: msg.command == "JOIN" and ann.source.startswith("bar!"))[-1]
    assert got.params == ["#lobby", "jilles", "selchat user"]
    bar.send("PRIVMSG #lobby :hi all")
    got = ann.until("PRIVMSG")[-1]
    assert got.params == ["#lobby", "hi all"] and got.tags["account"] == "jilles"
    ann.send("WHOIS bar")
    whois = ann.until("318")
    assert [msg.params[1:] for msg in whois if msg.command == "330"] == [
        ["bar", "jilles", "is logged in as"]]

    # A login after registering, on the other node: ACCOUNT here.
    kim = IrcClient((second.host, second.irc_port), "kim")
    kim.send("JOIN #lobby")
    kim.until("366")
    kim.send("CAP REQ :sasl", "AUTHENTICATE PLAIN")
    kim.until("AUTHENTICATE")
    kim.send(f"AUTHENTICATE {plain('kimacct', 'kims-secret')}")
    kim.until("903")
    got = ann.until("ACCOUNT")[-1]
    assert (ann.source, got.params) == ("kim!kim@irc.test", ["kimacct"])
    carol.send("/quit")
