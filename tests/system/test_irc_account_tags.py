"""Who is logged in, as IRC clients are told it, over raw sockets:
account-tag (``account=`` on a logged-in member's lines, a terminal user's
too), extended-join (``JOIN #room ACCOUNT :realname``) and account-notify
(``ACCOUNT`` when a member of a shared room registers, unregisters or logs
in with SASL after registering). A client that asked for none of these
sees the lines as before."""
import base64

import pytest

from support.clients import LineClient, read_until
from support.irc import IrcClient

CHEAP = ("--scrypt-n", "1024")  # tests need the rules, not the strength
IRC = ("--flood-rate", "0", "--irc-port", "0", "--server-name", "irc.test")
#: What the watching client asks for.
WATCHING = "account-tag extended-join account-notify"


@pytest.fixture
def server(chat_server, tmp_path):
    return chat_server("--data", str(tmp_path / "data"), *CHEAP, *IRC)


def plain(account: str, password: str) -> str:
    return base64.b64encode(f"\0{account}\0{password}".encode()).decode()


def registered_name(server, name: str, password: str) -> None:
    """`name` registered by a terminal user, who then leaves."""
    person = LineClient(server.address, name)
    person.send(f"/register {password}")
    person.expect_prefix(f"*** {name} is registered to you")
    person.send("/quit")
    person.close()


def in_lobby(server, nick: str, caps: str = "") -> IrcClient:
    client = IrcClient((server.host, server.irc_port), nick, caps)
    client.send("JOIN #lobby")
    client.until("366")
    return client


def test_accounts_in_tags_joins_and_account_lines(server):
    registered_name(server, "jilles", "open-sesame")
    registered_name(server, "kimacct", "kims-secret")
    watcher = in_lobby(server, "ann", WATCHING)
    bystander = in_lobby(server, "zed")  # no caps: lines as they always were
    assert watcher.until("JOIN")[-1].params == ["#lobby", "*", "zed R"]

    # A terminal user who registers: ACCOUNT, then its lines carry its account.
    terminal = LineClient(server.address, "teach")
    assert watcher.until("JOIN")[-1].params == ["#lobby", "*", "selchat user"]
    terminal.send("/register teacher-secret")
    terminal.expect_prefix("*** teach is registered to you")
    got = watcher.until("ACCOUNT")[-1]
    assert (watcher.source, got.params) == ("teach!teach@irc.test", ["teach"])
    terminal.send("hello from a terminal")
    got = watcher.until("PRIVMSG")[-1]
    assert got.params == ["#lobby", "hello from a terminal"] and got.tags == {"account": "teach"}
    got = bystander.until("PRIVMSG")[-1]
    assert got.params == ["#lobby", "hello from a terminal"] and got.tags == {}

    # SASL as another account than the nick: the JOIN and the lines say the account.
    bar = IrcClient((server.host, server.irc_port))
    bar.send("CAP LS 302", "NICK bar", "USER b 0 * :Bar B.", "CAP REQ :sasl",
             "AUTHENTICATE PLAIN", f"AUTHENTICATE {plain('jilles', 'open-sesame')}")
    bar.until("903")
    bar.send("CAP END", "JOIN #lobby")
    bar.until("366")
    got = watcher.until("JOIN")[-1]
    assert (watcher.source, got.params) == ("bar!bar@irc.test", ["#lobby", "jilles", "Bar B."])
    assert bystander.until("JOIN")[-1].params == ["#lobby"]
    bar.send("PRIVMSG #lobby :hi all", "PRIVMSG ann :hi you")
    got = watcher.until("PRIVMSG")[-1]
    assert got.params == ["#lobby", "hi all"] and got.tags == {"account": "jilles"}
    got = watcher.until("PRIVMSG")[-1]
    assert got.params == ["ann", "hi you"] and got.tags == {"account": "jilles"}
    read_until(terminal, "<bar> hi all")  # the line protocol's lines are unchanged

    # SASL after registering: the room's account-notify clients hear of it.
    kim = in_lobby(server, "kim")
    assert watcher.until("JOIN")[-1].params == ["#lobby", "*", "kim R"]
    kim.send("CAP REQ :sasl account-notify", "AUTHENTICATE PLAIN")
    assert kim.until("AUTHENTICATE")[-1].params == ["+"]
    kim.send(f"AUTHENTICATE {plain('kimacct', 'kims-secret')}")
    assert kim.until("903")[-2].params[2] == "kimacct"
    assert kim.until("ACCOUNT")[-1].params == ["kimacct"]  # itself too, as it asked
    got = watcher.until("ACCOUNT")[-1]
    assert (watcher.source, got.params) == ("kim!kim@irc.test", ["kimacct"])
    kim.send("PRIVMSG #lobby :logged in now")
    assert watcher.until("PRIVMSG")[-1].tags == {"account": "kimacct"}

    # Unregistering: ACCOUNT *, and the lines are plain again.
    terminal.send("/unregister teacher-secret")
    read_until(terminal, "*** teach is not registered any more.")
    got = watcher.until("ACCOUNT")[-1]
    assert (watcher.source, got.params) == ("teach!teach@irc.test", ["*"])
    terminal.send("just teach")
    got = watcher.until("PRIVMSG")[-1]
    assert got.params == ["#lobby", "just teach"] and got.tags == {}
    assert not any(msg.command == "ACCOUNT" for msg in bystander.until(
        lambda msg: msg.command == "PRIVMSG" and msg.params[1] == "just teach"))
    for client in (watcher, bystander, terminal, bar, kim):
        client.close()
