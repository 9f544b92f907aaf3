"""Moderation across two `selchat serve --bus` nodes through a real Redis: an
operator on one node kicks, bans, invites and mutes members of the other at
once. The member is put out on its own node with the lines a member of the
operator's node gets, every node's members read the announcement once (IRC
clients as KICK), and /who agrees everywhere.

A node learns what another did by reading the one stream, so a test that
needs node B to know of something first waits for a later line on B.
"""
import pytest

from support.clients import LineClient, read_until
from support.constants import TIMEOUT
from support.irc import IrcClient
from support.servers import selchat
from support.waiting import wait_for

pytestmark = pytest.mark.redis

CHEAP = ("--scrypt-n", "1024")  # tests need the rules, not the strength
IRC = ("--irc-port", "0", "--server-name", "irc.test")
OPERATOR = "*** You are the operator of #class (/help lists the operators' commands)."


@pytest.fixture
def two_nodes(chat_server, start_redis, tmp_path) -> list:
    redis = start_redis()
    return [chat_server("--flood-rate", "0", "--bus", redis.url, "--data",
                        str(tmp_path / label), *CHEAP, *IRC) for label in "ab"]


def settled(client: LineClient, said_by: LineClient, name: str, marker: str) -> list:
    """`said_by` says `marker` in #lobby; `client` reads up to it (its node has
    read everything said before: one stream, one order). The lines before it."""
    said_by.send(f"/msg #lobby {marker}")
    return read_until(client, f"<{name}> {marker}")[:-1]


def line_from(client: LineClient, prefix: str) -> str:
    """The first line starting with `prefix`, skipping the rest."""
    while not (line := client.line()).startswith(prefix):
        pass
    return line


def teach_on(server) -> LineClient:
    """`teach`, registered, operator of #class (the room it made)."""
    teach = LineClient(server.address, "teach")
    teach.send("/register teacher-secret")
    while not teach.line().startswith("*** teach is registered to you"):
        pass
    teach.send("/join #class")
    read_until(teach, OPERATOR)
    return teach


def joined(client: LineClient, room: str = "#class") -> None:
    client.send(f"/join {room}")
    line_from(client, f"*** You joined {room}.")


def test_a_kick_and_a_ban_put_a_member_of_the_other_node_out_at_once(two_nodes):
    first, second = two_nodes
    teach = teach_on(first)
    sam, mia = LineClient(second.address, "sam"), LineClient(second.address, "mia")
    joined(sam)
    joined(mia)
    irc = IrcClient((second.host, second.irc_port), "ivy")
    irc.send("JOIN #class")
    irc.until("366")
    settled(teach, mia, "mia", "all in")  # the first node knows who is in #class

    teach.send("/kick #class sam too loud")
    seen = read_until(teach, "#class *** sam was kicked from #class by teach (too loud)")
    assert not [line for line in seen if line.startswith("!!!")]
    assert read_until(sam, "!!! you were kicked from #class by teach (too loud)")[-1:] == [
        "!!! you were kicked from #class by teach (too loud)"]
    said = settled(sam, mia, "mia", "after the kick")
    assert not [line for line in said if "kicked" in line]  # the announcement is not its
    said = settled(mia, teach, "teach", "after the kick too")
    assert said.count("#class *** sam was kicked from #class by teach (too loud)") == 1
    kick = irc.until("KICK")[-1]
    assert irc.source.startswith("teach!") and kick.params == ["#class", "sam", "too loud"]

    for client, other, name in ((mia, teach, "teach"), (teach, mia, "mia")):
        settled(client, other, name, "who now")
        client.send("/who #class")
        assert client.expect_prefix("*** Online in #class (3): ") == \
            "*** Online in #class (3): ivy, mia, @teach"
    sam.send("/msg #class still here?")
    assert line_from(sam, "!!!") == "!!! you are not in #class: /join #class"

    joined(sam)  # a kick is no ban
    settled(teach, sam, "sam", "back")
    teach.send("/ban #class sam 1h")
    line_from(sam, "!!! you were banned from #class by teach until")
    line_from(mia, "#class *** sam was banned from #class by teach until")
    sam.send("/join #class")
    assert line_from(sam, "!!!").startswith("!!! you are banned from #class until")

    lee = LineClient(first.address, "lee")  # a member of the operator's own node
    joined(lee)
    settled(mia, lee, "lee", "lee in")
    teach.send("/kick #class lee")
    line_from(lee, "!!! you were kicked from #class by teach")
    line_from(mia, "#class *** lee was kicked from #class by teach")
    mia.send("/who #class")  # the second node dropped lee at the announcement
    assert line_from(mia, "*** Online in #class") == "*** Online in #class (3): ivy, mia, @teach"


def test_an_irc_member_of_the_other_node_kicked_reads_its_kick(two_nodes):
    first, second = two_nodes
    teach = teach_on(first)
    ivy = IrcClient((second.host, second.irc_port), "ivy")
    ivy.send("JOIN #class")
    ivy.until("366")
    watcher = IrcClient((first.host, first.irc_port), "wes")
    watcher.send("JOIN #class")
    watcher.until("366")
    read_until(teach, "#class *** wes has joined #class.")
    teach.send("/msg #class hello")
    ivy.until("PRIVMSG")  # the second node read everything before it
    teach.send("/kick #class ivy")
    kick = ivy.until("KICK")[-1]
    assert ivy.source.startswith("teach!") and kick.params == ["#class", "ivy", "teach"]
    kick = watcher.until("KICK")[-1]
    assert kick.params == ["#class", "ivy", "teach"]
    ivy.send("NAMES #class")
    names = ivy.until("366")
    assert not [msg for msg in names if msg.command == "KICK"]  # once, not twice
    watcher.send("NAMES #class")
    assert watcher.until("353")[-1].params[-1].split() == ["@teach", "wes"]


def test_an_invite_mute_and_server_kick_reach_the_other_node_at_once(two_nodes, tmp_path):
    first, second = two_nodes
    teach = teach_on(first)
    sam, troll = LineClient(second.address, "sam"), LineClient(second.address, "troll")
    teach.send("/mode #class +i")
    line_from(teach, "#class *** teach set mode +i on #class")
    settled(teach, troll, "troll", "here")
    teach.send("/invite sam #class")
    read_until(sam, "*** teach invites you to #class: /join #class")
    sam.send("/join #class")
    line_from(sam, "*** You joined #class.")  # the invitation made on the first node holds
    settled(teach, sam, "sam", "in")
    teach.send("/mute #class sam 10m")
    assert line_from(sam, "!!! you are muted in #class until").endswith(" by teach")
    done = selchat("admin", "op", "teach", "--data", str(tmp_path / "a"))
    assert done.returncode == 0, done.stderr

    def kicked() -> bool:  # once the first node has read its data directory again
        teach.send("/kick #lobby troll bye")
        while not (line := teach.line()).startswith(("!!!", "*** troll was kicked")):
            pass
        return line.startswith("*** troll was kicked from #lobby by teach (bye)")

    wait_for(kicked, timeout=TIMEOUT)
    assert b"!!! you were kicked from this server by teach (bye)" in troll.expect_closed()
    read_until(teach, "*** troll has left the chat room (kicked by teach).")


def test_minus_n_set_on_one_node_lets_an_outsider_of_the_other_speak(two_nodes):
    first, second = two_nodes
    teach = teach_on(first)
    sam = LineClient(second.address, "sam")  # in #lobby only
    ivy = IrcClient((second.host, second.irc_port), "ivy")  # in no channel
    settled(teach, sam, "sam", "here")  # the first node knows sam: one stream, one order
    ivy.send("PRIVMSG #class :knock")
    assert ivy.until("404")[-1].params[1] == "#class"  # +n, the default
    teach.send("/mode #class -n")
    read_until(teach, "#class *** teach set mode -n on #class")
    settled(sam, teach, "teach", "open now")  # the second node has read the change
    ivy.send("PRIVMSG #class :from the other node")
    read_until(teach, "#class <ivy> from the other node")
    sam.send("/msg #class and from a terminal there")
    read_until(teach, "#class <sam> and from a terminal there")
