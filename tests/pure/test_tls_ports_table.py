"""The table of protocols over TLS (`selchat.tls_port.OVER_TLS`) and how one
row's port is opened: its startup line, a busy default port, a port that
cannot be had."""
import pytest

from support.listening import Failed, busy, fail

from selchat.tls_port import OVER_TLS, listen_over_tls


class Bound:
    def getsockname(self):
        return ("127.0.0.1", 6697)




def test_the_chat_and_irc_rows():
    assert OVER_TLS["chat"].option == "--tls-port" and OVER_TLS["chat"].default == 4443
    assert OVER_TLS["irc"].option == "--ircs-port" and OVER_TLS["irc"].default == 6697


def test_a_row_listens_and_says_where():
    sock, lines = listen_over_tls(OVER_TLS["irc"], "127.0.0.1", 6697, True,
                                  lambda host, port: Bound(), fail)
    assert isinstance(sock, Bound)
    assert lines == ["selchat IRC over TLS on 127.0.0.1:6697"]


def test_no_port_is_no_listener():
    assert listen_over_tls(OVER_TLS["irc"], "127.0.0.1", None, True, busy, fail) == (None, [])


def test_a_busy_default_port_is_a_line_not_a_failure():
    sock, lines = listen_over_tls(OVER_TLS["irc"], "127.0.0.1", 6697, True, busy, fail)
    assert sock is None
    assert lines == ["selchat IRC over TLS: cannot listen on port 6697: address already in "
                     "use (use --ircs-port PORT, or --ircs-port 0 for a free one)"]


def test_a_chosen_port_that_cannot_be_had_fails_naming_its_option():
    with pytest.raises(Failed, match=r"127.0.0.1 port 7000 \(selchat IRC over TLS\).*"
                                     r"try --ircs-port PORT"):
        listen_over_tls(OVER_TLS["irc"], "127.0.0.1", 7000, False, busy, fail)
