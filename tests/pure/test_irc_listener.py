"""The IRC listener's rules (selchat.irc.port), with a fake bind: a busy
default port is a warning line, a chosen one a failure."""
import pytest

from support.listening import Failed, busy, fail

from selchat.irc.port import listen, server_name




def test_a_busy_default_port_is_a_startup_line():
    listening = listen("127.0.0.1", 6667, True, None, busy, fail)
    assert listening.ports == []
    assert listening.lines == ["selchat IRC: port 6667 is in use; no IRC "
                               "(use --irc-port PORT, or --irc-port 0 for a free one)"]


def test_a_busy_chosen_port_fails():
    with pytest.raises(Failed, match="cannot listen on 127.0.0.1 IRC port 7000"):
        listen("127.0.0.1", 7000, False, None, busy, fail)


def test_no_irc_is_nothing():
    assert listen("127.0.0.1", None, True, None, busy, fail) == ([], [], None)


def test_the_port_listened_on_is_told_for_the_workers():
    """--workers' parent holds the port (port 0: the one picked), its workers listen on it."""
    class Bound:  # what a bind answers, as far as listen looks
        def getsockname(self):
            return ("127.0.0.1", 6123)
    listening = listen("127.0.0.1", 0, False, "irc.test", lambda host, port: Bound(), fail)
    assert listening.port == 6123
    assert listening.lines == ["selchat IRC on 127.0.0.1:6123"]


def test_the_server_name_has_no_spaces():
    assert server_name("irc example . net") == "ircexample.net"
    assert server_name("irc.test") == "irc.test"
    assert server_name(None)
