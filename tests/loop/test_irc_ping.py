"""The IRC port's idle pings on the fake clock: a silent client is pinged
after PING_IDLE seconds and dropped PING_TIMEOUT seconds later unless it
answers; a client that talks is never pinged; registration has its timeout."""
import pytest

from selchat.irc.kind import PING_IDLE, PING_TIMEOUT
from support.fake_loop import START, Loop


@pytest.fixture
def loop():
    made = Loop(irc=True)
    yield made
    made.close()


def test_a_silent_client_is_pinged_then_dropped_to_the_instant(loop):
    peer = loop.irc_peer("quiet")
    peer.sock.sendall(b"JOIN #lobby\r\n")  # at START: where the watcher hears it leave
    watcher = loop.peer("watcher")
    loop.until(lambda: any(" 366 " in line for line in peer.lines))
    loop.at(START + PING_IDLE - 0.5)
    assert not any(line.startswith("PING") for line in peer.lines)
    loop.at(START + PING_IDLE)
    assert any(line.startswith("PING") for line in peer.lines)
    loop.at(START + PING_IDLE + PING_TIMEOUT - 0.5)
    assert not peer.closed
    loop.at(START + PING_IDLE + PING_TIMEOUT)
    loop.until(lambda: peer.closed)
    assert any(line.startswith("ERROR :Closing link: ping timeout") for line in peer.lines)
    loop.until(lambda: any("quiet has left the chat room (ping timeout)" in line
                           for line in watcher.lines))


def test_a_pong_keeps_a_pinged_client(loop):
    peer = loop.irc_peer("answers")
    loop.at(START + PING_IDLE)
    assert any(line.startswith("PING") for line in peer.lines)
    peer.sock.sendall(b"PONG :irc.test\r\n")
    loop.run()
    loop.at(START + PING_IDLE + PING_TIMEOUT + 1)
    assert not peer.closed
    # Silent again: pinged again, a full idle period after its answer.
    loop.at(START + 2 * PING_IDLE + 1)
    assert sum(line.startswith("PING") for line in peer.lines) == 2


def test_a_client_that_talks_is_never_pinged(loop):
    peer = loop.irc_peer("chatty")
    for step in range(1, 6):
        loop.at(START + step * PING_IDLE / 2)
        peer.sock.sendall(b"PRIVMSG #lobby :still here\r\n")
        loop.run()
    assert not any(line.startswith("PING") for line in peer.lines)
    assert not peer.closed


def test_registration_times_out_like_a_name(loop):
    peer = loop.irc_peer()
    peer.sock.sendall(b"NICK slow\r\n")
    loop.run()  # accepted at START
    loop.at(START + 30 - 0.5)
    assert not peer.closed
    loop.at(START + 30)
    loop.until(lambda: peer.closed)
    assert any("registration timed out" in line for line in peer.lines)
