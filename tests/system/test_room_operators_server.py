"""Who operates a room, over real sockets and on both fronts: the maker of a
room operates it while it stays in it, whether it speaks the line protocol or
IRC; IRC's OPER gives a server operator's powers; a secret room is hidden."""
import pytest

from support.clients import LineClient, read_until
from support.irc import ACCOUNTS_OVER_IRC, IrcClient
from support.servers import selchat
from support.waiting import wait_for


@pytest.fixture
def data(tmp_path):
    """The server's data directory (``selchat admin`` writes it too)."""
    return str(tmp_path / "data")


@pytest.fixture
def server(chat_server, data):
    return chat_server("--data", data, *ACCOUNTS_OVER_IRC)


def irc(server, nick):
    """An IRC client, registered as `nick`."""
    return IrcClient((server.host, server.irc_port), nick)


def test_the_maker_of_a_room_operates_it_on_both_fronts(server):
    ann = LineClient(server.address, "ann")  # not registered
    ann.send("/join #dev")
    assert ann.line() == "*** You joined #dev. Online (1): @ann"
    ann.expect("*** You are the operator of #dev while you stay in it (/help lists the "
               "operators' commands).")
    bob = irc(server, "bob")
    bob.send("JOIN #dev")
    names = bob.until("366")[-2]
    assert names.command == "353" and names.params[1:] == ["=", "#dev", "@ann bob"]
    ann.send("/mode #dev +t")
    read_until(ann, "#dev *** ann set mode +t on #dev")
    assert bob.until("MODE")[-1].params == ["#dev", "+t"]
    bob.send("TOPIC #dev :mine")
    assert bob.until("482")[-1].params[1] == "#dev"

    bob.send("JOIN #irc")  # an IRC client makes a room: its operator too
    assert bob.until("353")[-1].params[1:] == ["=", "#irc", "@bob"]
    ann.send("/join #irc")
    read_until(ann, "*** You joined #irc. Online (2): ann, @bob")
    ann.send("/kick #irc bob")
    ann.expect("!!! you are not an operator of #irc")
    bob.send("MODE #irc +o ann")  # not registered: ann's while it stays
    read_until(ann, "#irc *** bob made ann an operator of #irc")
    bob.send("KICK #irc ann :enough")
    kicked = bob.until("KICK")[-1]
    assert kicked.params == ["#irc", "ann", "enough"]
    read_until(ann, "#irc *** ann was kicked from #irc by bob (enough)")
    ann.send("/join #irc", "/mode #irc +m")
    read_until(ann, "!!! you are not an operator of #irc")  # its role went when it left
    ann.close()
    bob.close()


def test_oper_gives_an_irc_client_the_server_operators_powers(server, data):
    boss = LineClient(server.address, "boss")
    boss.send("/register boss-password")
    boss.expect_prefix("*** boss is registered to you")
    boss.close()
    assert selchat("admin", "op", "boss", "--data", data).returncode == 0
    ann = LineClient(server.address, "ann")
    ann.send("/join #dev")
    ann.expect_prefix("*** You joined #dev.")
    eve = irc(server, "eve")
    eve.send("OPER nobody any-password")
    assert eve.until("491")[-1].params[0] == "eve"

    def checked() -> bool:  # the server reads `selchat admin`'s change within 2 s:
        eve.send("OPER boss not-the-password")  # till then boss is no operator (491)
        return eve.until(lambda msg: msg.command in ("464", "491"))[-1].command == "464"

    wait_for(checked, interval=0.2)
    eve.send("OPER boss boss-password")
    eve.until("381")
    assert eve.until("MODE")[-1].params == ["eve", "+o"]
    eve.send("WHO eve", "WHOIS eve")
    assert eve.until("352")[-1].params[6] == "H*"
    assert "313" in [msg.command for msg in eve.until("318")]
    eve.send("KICK #dev ann :server says")  # anywhere, a room of its or not
    read_until(ann, "!!! you were kicked from #dev by eve (server says)")
    eve.close()
    ann.close()


def test_a_secret_room_is_hidden_from_lists_on_both_fronts(server):
    ann = LineClient(server.address, "ann")
    ann.send("/join #hush", "/mode #hush +s")
    read_until(ann, "#hush *** ann set mode +s on #hush")
    bob = irc(server, "bob")
    bob.send("LIST", "NAMES #hush")
    assert [msg.params[1] for msg in bob.until("323") if msg.command == "322"] == ["#lobby"]
    assert [msg.command for msg in bob.until("366")] == ["366"]
    carol = LineClient(server.address, "carol")
    carol.send("/rooms")
    assert read_until(carol, "***   #lobby (2)")[-2:] == ["*** Rooms (1):", "***   #lobby (2)"]
    bob.send("JOIN #hush")
    assert bob.until("353")[-1].params[1:] == ["@", "#hush", "@ann bob"]
    ann.close()
    bob.close()
    carol.close()
