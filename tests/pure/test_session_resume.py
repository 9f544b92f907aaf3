"""The client session's tags, reconnection and resume, against scripted server bytes.

No sockets and no clock: the server's side is written out as the bytes a server
with history and resume sends (built with `selchat.wire`, so the sentences are
the protocol's own), and the driver's part is played by calling `connected`
and `give_up` as `selchat.client` does.
"""
import itertools

import pytest

from selchat import wire
from selchat.effect_types import Send
from selchat.room import ChatRoom
from selchat.decisions import Finish, Reconnect, Show, State, Style
from selchat.session import (
    EXIT_FAILED,
    EXIT_LEFT,
    EXIT_REFUSED,
    RECONNECTED_TEXT,
    RECONNECTING_TEXT,
    ClientSession,
    backoff,
)
from selchat.tags import tag_line


T = 1796189493929  # 2026-12-02T05:31:33.929Z
TOKEN = "e1.00112233445566778899aabbccddeeff"


def tagged(line, seq=None, time_ms=T, **extra):
    """A server line as a tagged client gets it."""
    return tag_line(wire.encode(line), time_ms, extra, seq)


def joined(name="ann", window=120.0):
    """A session welcomed by a server that knows tags, with a resume token."""
    session = ClientSession(name, interactive=True, resume_window=window)
    assert session.data_to_send() == f"/tags\n{name}\n".encode()
    session.receive_data(wire.encode(wire.hello()) + tagged(
        wire.welcome(name, 2, f"bob, {name}"), resume=TOKEN))
    assert session.state is State.JOINED and session.token == TOKEN
    return session


def shown(decisions):
    return [(d.text, d.style) for d in decisions if isinstance(d, Show)]


def lose(session):
    """The connection drops; returns the decisions."""
    return session.receive_data(b"")


def test_tags_are_stripped_and_seq_and_time_remembered():
    session = joined()
    decisions = session.receive_data(tagged(wire.chat("bob", "hi"), seq=41)
                                     + tagged(wire.private("bob", "psst")))
    assert decisions == [Show("<bob> hi", Style.CHAT, T), Show("*bob* psst", Style.PRIVATE, T)]
    assert session.last_seq == 41  # a direct line has no seq: the last one stays


def test_the_replay_on_join_is_shown_with_its_markers_and_times():
    session = ClientSession("ann", interactive=False)
    session.data_to_send()
    data = (tagged(wire.welcome("ann", 2, "bob, ann"), resume=TOKEN)
            + tagged(wire.history_start(1))
            + tagged(wire.chat("bob", "earlier"), seq=7, time_ms=T - 60000)
            + tagged(wire.history_end()))
    assert shown(session.receive_data(data))[1:] == [
        ("*** Last 1 line:", Style.NOTICE), ("<bob> earlier", Style.CHAT),
        ("*** End of history.", Style.NOTICE)]
    assert session.last_seq == 7


def test_a_lost_connection_reconnects_and_resumes_after_the_last_seq():
    session = joined()
    session.receive_data(tagged(wire.chat("bob", "one"), seq=10))
    assert session.submit("typed before") == [Show("<ann> typed before", Style.OWN)]
    session.data_to_send()
    decisions = lose(session)
    assert decisions == [Show(RECONNECTING_TEXT, Style.NOTICE), Reconnect(120.0)]
    assert session.state is State.RECONNECTING and not session.wants_input
    assert session.submit("while away") == [] and session.data_to_send() == b""
    session.connected()
    assert session.state is State.RESUMING
    assert session.data_to_send() == f"/resume {TOKEN} 10\n".encode()
    decisions = session.receive_data(
        wire.encode(wire.hello())
        + tagged(wire.welcome_back("ann"))
        + tagged(wire.chat("ann", "typed before"), seq=11)  # own line: already shown
        + tagged(wire.chat("bob", "two"), seq=12)
        + tagged(wire.private("bob", "kept for you"), time_ms=T - 5000)
        + tagged(wire.chat("bob", "live"), seq=13))
    assert shown(decisions) == [
        (RECONNECTED_TEXT, Style.NOTICE), ("<bob> two", Style.CHAT),
        ("*bob* kept for you", Style.PRIVATE), ("<bob> live", Style.CHAT)]
    assert session.state is State.JOINED and session.last_seq == 13 and session.wants_input


def test_a_partial_line_from_the_lost_connection_is_dropped():
    session = joined()
    session.receive_data(b"@seq=3;time=x <bob> half a li")
    lose(session)
    session.connected()
    decisions = session.receive_data(tagged(wire.welcome_back("ann")))
    assert shown(decisions) == [(RECONNECTED_TEXT, Style.NOTICE)]


def test_a_new_connection_lost_before_the_welcome_back_reconnects_again():
    session = joined()
    lose(session)
    session.connected()
    session.data_to_send()
    assert session.receive_data(wire.encode(wire.server_full()) + b"") == []
    assert lose(session) == [Reconnect(120.0)]  # no second "connection lost" line
    assert session.state is State.RECONNECTING
    session.connected()
    assert session.data_to_send() == f"/resume {TOKEN} 0\n".encode()


def test_a_history_gap_is_shown_and_the_name_sent_again():
    session = joined()
    session.receive_data(tagged(wire.chat("bob", "x"), seq=5))
    lose(session)
    session.connected()
    session.data_to_send()
    gap = wire.history_gap(None, "the server restarted")
    decisions = session.receive_data(wire.encode(wire.hello()) + wire.encode(gap))
    assert shown(decisions) == [(wire.text_of(gap), Style.ERROR)]
    assert session.state is State.JOINING and session.token is None
    assert session.data_to_send() == b"/tags\nann\n"
    decisions = session.receive_data(tagged(wire.welcome("ann", 1, "ann"), resume="e2.ff"))
    assert session.state is State.JOINED and session.token == "e2.ff"
    assert shown(decisions)[-1][0].startswith("*** Welcome, ann!")


def test_after_a_gap_a_taken_name_is_refused_as_on_a_first_join():
    session = joined()
    lose(session)
    session.connected()
    session.receive_data(wire.encode(wire.history_gap(3, "older than the history kept")))
    decisions = session.receive_data(tagged(wire.error("name taken: ann")))
    assert decisions[-1] == Finish(EXIT_REFUSED, "name taken: ann")


def test_a_gap_after_the_welcome_back_is_shown_and_the_session_goes_on():
    session = joined()
    lose(session)
    session.connected()
    gap = wire.history_gap(2, "private lines over the 100 kept")
    decisions = session.receive_data(tagged(wire.welcome_back("ann")) + tagged(gap))
    assert shown(decisions)[-1] == (wire.text_of(gap), Style.ERROR)
    assert session.state is State.JOINED


def test_the_window_ending_gives_up_with_status_1():
    session = joined(window=30)
    lose(session)
    assert session.give_up() == Finish(
        EXIT_FAILED, "connection to server lost; could not reconnect within 30 s")
    assert session.state is State.CLOSED


def test_ctrl_c_while_reconnecting_finishes_0_and_sends_nothing():
    session = joined()
    lose(session)
    assert session.interrupt() == Finish(EXIT_LEFT)
    assert session.data_to_send() == b""


def test_without_a_token_a_lost_connection_ends_as_before():
    session = ClientSession("ann", interactive=False)
    session.receive_data(wire.encode(wire.welcome("ann", 1, "ann")))
    assert lose(session) == [Finish(EXIT_FAILED, "connection to server lost")]


def test_window_0_never_reconnects():
    session = joined(window=0)
    assert lose(session) == [Finish(EXIT_FAILED, "connection to server lost")]


def test_a_shutdown_notice_then_a_close_never_reconnects():
    session = joined()
    session.receive_data(tagged(wire.shutting_down()))
    assert lose(session) == [Finish(EXIT_FAILED, "the server shut down")]


def test_a_close_after_quit_never_reconnects():
    session = joined()
    session.submit("/quit")
    session.receive_data(tagged(wire.goodbye("ann")))
    assert lose(session) == [Finish(EXIT_LEFT)]


def test_connected_only_while_reconnecting():
    session = joined()
    with pytest.raises(RuntimeError):
        session.connected()


def test_against_a_room_without_tags_the_refused_tags_line_is_set_aside():
    """Today's room takes "/tags" for a name: the session joins all the same."""
    room = ChatRoom()
    session = ClientSession("ann", interactive=False)
    effects = room.connect("me")
    for line in session.data_to_send().decode().splitlines():
        effects += room.receive("me", line)
    data = b"".join(wire.encode(e.line) for e in effects if isinstance(e, Send))
    decisions = session.receive_data(data)
    assert session.state is State.JOINED, decisions
    assert shown(decisions) == [("*** Welcome, ann! Online (1): ann (type /help for commands)",
                                 Style.NOTICE)]
    assert session.token is None


def test_an_untagged_error_and_a_close_before_the_welcome_is_the_refusal():
    """A server without tags sending "too many connections" then closing: as before."""
    session = ClientSession("ann", interactive=False)
    decisions = session.receive_data(wire.encode(wire.error("too many connections")) + b"")
    decisions += session.receive_data(b"")
    assert decisions == [Finish(EXIT_REFUSED, "too many connections")]


def test_a_tagged_error_before_the_welcome_is_the_answer_to_the_name():
    session = ClientSession("ann", interactive=False)
    decisions = session.receive_data(tagged(wire.error("name taken: ann")))
    assert decisions == [Finish(EXIT_REFUSED, "name taken: ann")]


def test_backoff_doubles_to_5_seconds_with_jitter():
    assert list(itertools.islice(backoff(lambda: 1.0), 7)) == pytest.approx(
        [0.2, 0.4, 0.8, 1.6, 3.2, 5.0, 5.0])
    assert list(itertools.islice(backoff(lambda: 0.0), 3)) == pytest.approx([0.1, 0.2, 0.4])


def test_a_restart_that_keeps_the_session_is_resumed_after_it():
    session = joined()
    session.receive_data(tagged(wire.chat("bob", "one"), seq=10))
    decisions = session.receive_data(tagged(wire.shutting_down(kept=True)))
    assert shown(decisions) == [
        ("*** Server is restarting: reconnect to resume your session.", Style.NOTICE)]
    assert lose(session) == [Show(RECONNECTING_TEXT, Style.NOTICE), Reconnect(120.0)]
    session.connected()
    assert session.data_to_send() == f"/resume {TOKEN} 10\n".encode()
