"""What a member's node used to keep to itself, on every `selchat serve --bus`
node through a real Redis: an invitation used, or ended by its member's
leave, is gone on every node; a session resumed on the other node keeps its
login and its role while it stays (account-tag, WHOIS 330, ``@``, and its
node lets it act as the operator); a /op of the other node's unregistered
member gives it the role there.

One Redis and one pair of nodes serve the whole module (a pair costs more
than these tests): each test has names and rooms of its own. A node learns
what the other did by reading the one stream, so a test that needs node B to
know of something first waits for a later line on B.
"""
import signal
from typing import Iterator, List

import pytest

from support.clients import LineClient, read_until
from support.irc import IrcClient
from support.redis_server import RedisServer, require_redis
from support.resume import Tagged, resume, wait_held
from support.servers import ServerProcess

pytestmark = pytest.mark.redis

CHEAP = ("--scrypt-n", "1024")  # tests need the rules, not the strength
IRC = ("--irc-port", "0", "--server-name", "irc.test")
WATCHING = "account-tag extended-join account-notify multi-prefix"


@pytest.fixture(scope="module")
def nodes(tmp_path_factory) -> Iterator[List[ServerProcess]]:
    require_redis()
    with RedisServer() as redis:
        started: List[ServerProcess] = []
        try:
            for label in "ab":
                data = str(tmp_path_factory.mktemp(f"node-{label}"))
                started.append(ServerProcess("--flood-rate", "0", "--bus", redis.url,
                                             "--data", data, *CHEAP, *IRC))
            yield started
        finally:
            for node in started:
                node.stop(signal.SIGKILL)


def settled(client: LineClient, said_by: LineClient, name: str, marker: str) -> None:
    """`said_by` says `marker` in #lobby and `client` reads up to it: its
    node has read everything said before (one stream, one order)."""
    said_by.send(f"/msg #lobby {marker}")
    read_until(client, f"<{name}> {marker}")


def maker(node: ServerProcess, name: str, room: str) -> LineClient:
    """`name` (not registered) on `node`, operator of `room`, which it made."""
    client = LineClient(node.address, name)
    client.send(f"/join {room}")
    read_until(client, f"*** You are the operator of {room} while you stay in it "
                       "(/help lists the operators' commands).")
    return client


def said(client: Tagged, prefix: str) -> str:
    """The first line of a tagged client starting with `prefix` (tags off)."""
    while not (line := client.text()).startswith(prefix):
        pass
    return line


def test_an_invitation_used_or_ended_on_one_node_is_gone_on_both(nodes):
    first, second = nodes
    teach = maker(first, "teach", "#inv")
    teach.send("/mode #inv +i")
    read_until(teach, "#inv *** teach set mode +i on #inv")
    xavi, yan = Tagged(second.address, "xavi"), LineClient(second.address, "yan")
    settled(teach, yan, "yan", "both here")
    teach.send("/invite xavi #inv", "/invite yan #inv")
    said(xavi, "*** teach invites you to #inv")
    xavi.send("/join #inv")  # used on the second node...
    said(xavi, "*** You joined #inv.")
    xavi.send("/part #inv")
    said(xavi, "#inv *** xavi has left #inv")
    xavi.drop()
    wait_held(second, "xavi")
    back = resume(first.address, xavi.token, xavi.last_seq)  # ...and on the first
    said(back, "*** Welcome back, xavi.")
    back.send("/join #inv")
    assert said(back, "!!! ") == "!!! #inv is invite-only: ask one of its operators for /invite"

    # An invitation is its member's: it ends when the member leaves the server.
    yan.send("/quit")
    read_until(teach, "*** yan has left the chat room.")
    newcomer = LineClient(first.address, "yan")
    newcomer.send("/join #inv")
    read_until(newcomer, "!!! #inv is invite-only: ask one of its operators for /invite")


def test_a_login_and_a_role_while_staying_move_with_a_session_resumed_elsewhere(nodes):
    first, second = nodes
    alice, carl = Tagged(first.address, "alice"), Tagged(first.address, "carl")
    alice.send("/register alice-secret")
    said(alice, "*** alice is registered to you")
    carl.send("/join #rm")
    said(carl, "*** You are the operator of #rm while you stay in it")
    alice.send("/join #rm")
    said(alice, "*** You joined #rm.")
    ann = IrcClient((first.host, first.irc_port), "ann", WATCHING)  # stays on the first node
    ann.send("JOIN #rm")
    ann.until("366")
    ivy = IrcClient((second.host, second.irc_port), "ivy", WATCHING)  # where they go
    ivy.send("JOIN #lobby")
    ivy.until("366")
    alice.send("/msg #lobby all in")  # then the second node knows #rm: ivy does not make it
    ivy.until("PRIVMSG")
    ivy.send("JOIN #rm")
    ivy.until("366")
    alice.drop()
    carl.drop()
    wait_held(first, "alice")
    wait_held(first, "carl")
    alice = resume(second.address, alice.token, alice.last_seq)
    said(alice, "*** Welcome back, alice.")
    carl = resume(second.address, carl.token, carl.last_seq)
    said(carl, "*** Welcome back, carl.")

    carl.send("/mode #rm +t")  # its new node lets it act as the operator
    said(carl, "#rm *** carl set mode +t on #rm")
    alice.send("/msg #rm back")
    for irc in (ann, ivy):  # her login, on both nodes
        got = irc.until("PRIVMSG")[-1]
        assert (irc.source, got.params, got.tags.get("account")) == (
            "alice!alice@irc.test", ["#rm", "back"], "alice")
        irc.send("WHOIS alice", "NAMES #rm")
        assert [msg.params[1:] for msg in irc.until("318") if msg.command == "330"] == [
            ["alice", "alice", "is logged in as"]]
        names = irc.until("353")[-1].params[-1].split()
        assert sorted(names) == ["@carl", "alice", "ann", "ivy"]


def test_an_op_of_the_other_nodes_unregistered_member_gives_it_the_role_there(nodes):
    first, second = nodes
    olga = maker(first, "olga", "#op3")
    sam = LineClient(second.address, "sam")
    settled(sam, olga, "olga", "made")  # sam's node knows #op3: sam does not make it
    sam.send("/join #op3")
    read_until(olga, "#op3 *** sam has joined #op3.")
    irc = IrcClient((second.host, second.irc_port), "irv", WATCHING)
    irc.send("JOIN #op3")
    irc.until("366")
    read_until(olga, "#op3 *** irv has joined #op3.")

    olga.send("/op #op3 sam")
    read_until(olga, "#op3 *** olga made sam an operator of #op3")
    read_until(sam, "#op3 *** olga made sam an operator of #op3")
    got = irc.until("MODE")[-1]
    assert got.params == ["#op3", "+o", "sam"]
    sam.send("/mode #op3 +t")  # its node gives it the role
    read_until(sam, "#op3 *** sam set mode +t on #op3")
    read_until(olga, "#op3 *** sam set mode +t on #op3")
    for client in (olga, sam):
        client.send("/who #op3")
        read_until(client, "*** Online in #op3 (3): irv, @olga, @sam")
    irc.send("NAMES #op3")
    assert sorted(irc.until("353")[-1].params[-1].split()) == ["@olga", "@sam", "irv"]

    olga.send("/deop #op3 sam")
    read_until(sam, "#op3 *** olga took sam's operator role in #op3")
    sam.send("/mode #op3 -t")
    read_until(sam, "!!! you are not an operator of #op3")
    settled(olga, sam, "sam", "no longer")
    olga.send("/who #op3")
    read_until(olga, "*** Online in #op3 (3): irv, @olga, sam")
