"""Real IRC clients against selchat's IRC port (issue 21, "Conformance and real
clients"): Debian's ``ii`` in a room with a terminal user and a browser user,
and a bot written with the ``irc`` library from PyPI.

Both fail, never skip, when the server has no IRC port. Without ``ii`` (or
Chromium) the first is skipped, unless SELCHAT_REQUIRE_IRC_CLIENTS=1 (or
SELCHAT_REQUIRE_BROWSER=1), as in CI.
"""
import irc.client
import pytest

from support.browser import LineClient, join, type_into, wait_line
from support.constants import REPO
from support.irc_clients import Ii, pump
from support.page_rooms import join_from_form
from support.servers import ServerProcess


@pytest.fixture
def irc_web_server():
    server = ServerProcess("--web-port", "0", "--irc-port", "0", "--flood-rate", "0",
                           web=True, log_level="info", env={"PYTHONPATH": str(REPO)})
    yield server
    server.stop()


@pytest.mark.browser
def test_ii_chats_in_a_room_with_a_terminal_and_a_browser_user(irc_web_server, browser,
                                                              tmp_path):
    server = irc_web_server
    tom = LineClient(server.port, "tom")
    ii = None
    try:
        tom.send("/join #dev")
        tom.expect(r"^\*\*\* You joined #dev\.")
        join(browser, server.url, "ann")
        join_from_form(browser, "dev")
        wait_line(browser, "#log .line.notice", "You joined #dev.")

        ii = Ii(tmp_path, server.irc_port, "irv")
        ii.expect("", r"End of /MOTD")
        ii.write("", "/j #dev")
        ii.expect("#dev", r"irv\S* has joined #dev")
        tom.expect(r"^#dev \*\*\* irv has joined #dev\.$")
        wait_line(browser, "#log .line.notice", "irv has joined #dev.")

        ii.write("#dev", "hello from ii")
        tom.expect(r"^#dev <irv> hello from ii$")
        wait_line(browser, "#log .line.chat", "<irv> hello from ii")
        tom.send("/msg #dev hi irv")
        ii.expect("#dev", r"^<tom> hi irv$")
        type_into(browser, "input", "hi from the page")
        ii.expect("#dev", r"^<ann> hi from the page$")
        ii.write("#dev", "\x01ACTION waves\x01")
        tom.expect(r"^#dev \* irv waves$")

        ii.write("#dev", "/l off now")
        tom.expect(r"^#dev \*\*\* irv has left #dev \(off now\)\.$")
        wait_line(browser, "#log .line.notice", "irv has left #dev")
        assert ii.quit() == 0
    finally:
        if ii is not None:
            ii.close()
        tom.close()


def test_a_bot_through_the_irc_library(irc_web_server):
    server = irc_web_server
    events = []
    reactor = irc.client.Reactor()
    reactor.add_global_handler("all_events", lambda conn, event: events.append(event), -10)

    def seen(kind: str, *arguments: str):
        return next((e for e in events if e.type == kind
                     and list(e.arguments[:len(arguments)]) == list(arguments)), None)

    bob = LineClient(server.port, "bob")
    bot = reactor.server().connect("127.0.0.1", server.irc_port, "robo")
    try:
        pump(reactor, lambda: seen("welcome"))
        assert seen("featurelist") and bot.features.network == "selchat"
        bot.join("#lobby")  # the default room hears of it now, once
        bob.expect(r"^\*\*\* robo has joined the chat room\.$")
        bob.send("/join #dev")
        bob.expect(r"^\*\*\* You joined #dev\.")
        bot.join("#dev")
        pump(reactor, lambda: seen("endofnames", "#dev"))
        names = [e.arguments[-1].split() for e in events
                 if e.type == "namreply" and e.arguments[1] == "#dev"]
        assert sorted(name.lstrip("@") for group in names for name in group) == ["bob", "robo"]
        bob.expect(r"^#dev \*\*\* robo has joined #dev\.$")

        bot.privmsg("#dev", "beep")
        bob.expect(r"^#dev <robo> beep$")
        bob.send("/msg #dev boop")
        heard = pump(reactor, lambda: seen("pubmsg", "boop"))
        assert heard.target == "#dev" and heard.source.nick == "bob"
        bob.send("/msg robo psst")
        assert pump(reactor, lambda: seen("privmsg", "psst")).source.nick == "bob"
        bot.privmsg("bob", "psst back")
        bob.expect(r"^\*robo\* psst back$")
        bot.action("#dev", "blinks")
        bob.expect(r"^#dev \* robo blinks$")

        bot.topic("#dev", "robots welcome")
        bob.expect(r"^#dev \*\*\* robo set the topic: robots welcome$")
        bot.nick("robot")
        pump(reactor, lambda: seen("nick"))
        bob.expect(r"^\*\*\* robo is now known as robot$")
        bot.part("#dev", "done")  # (the library sends the reason without a colon: one word)
        pump(reactor, lambda: seen("part"))
        bob.expect(r"^#dev \*\*\* robot has left #dev \(done\)\.$")
        bot.quit("bye")
        pump(reactor, lambda: seen("error") or not bot.is_connected())
        bob.expect(r"^\*\*\* robot has left the chat room \(bye\)\.$")
    finally:
        bot.close()
        bob.close()
