"""A QUIT while SASL's password is being checked (the worker's answer not
come yet) closes the connection at once, not at the name timeout; the
worker's late answer finds nobody and changes nothing."""
import base64

import pytest

from selchat.accounts.authority import Account
from selchat.accounts.driver import AccountOptions
from selchat.accounts.passwords import make_hash
from support.fake_loop import START, Loop

#: A costly hash (16 MiB): the worker is still at it while the QUIT is read.
SLOW_N = 2 ** 14
#: The worker runs at nice 19: on a busy machine its answer may take long.
WORKER_WAIT = 60.0


@pytest.fixture
def loop():
    made = Loop(irc=True, flood_rate=0)
    made.server.accounts.options = AccountOptions(scrypt_n=SLOW_N)
    made.server.accounts.authority.accounts["jilles"] = Account(
        "jilles", make_hash("open sesame", b"0123456789abcdef", SLOW_N))
    yield made
    made.close()


def _checking(loop: Loop) -> int:
    hasher = loop.server.accounts._hasher
    return 0 if hasher is None else hasher.pending


def test_quit_during_a_sasl_check_closes_at_once_and_the_answer_is_ignored(loop):
    peer = loop.irc_peer()
    answer = base64.b64encode(b"jilles\0jilles\0open sesame").decode()
    peer.sock.sendall(f"CAP REQ :sasl\r\nNICK bar\r\nUSER b 0 * :B\r\n"
                      f"AUTHENTICATE PLAIN\r\nAUTHENTICATE {answer}\r\nQUIT :bye\r\n".encode())
    loop.until(lambda: peer.closed)
    assert loop.clock.now == START  # at once: not at the name timeout
    assert "ERROR :Closing link: bye\r" in peer.lines
    assert not any(" 900 " in line for line in peer.lines)
    assert _checking(loop) == 1  # the worker had not answered
    loop.until(lambda: _checking(loop) == 0, WORKER_WAIT)
    loop.run()
    authority = loop.server.accounts.authority
    assert not authority.identified and not authority.awaiting
    watcher = loop.peer("watcher")  # the room goes on, and bar was never in it
    assert not any("bar" in line for line in watcher.lines)



def test_quit_before_registering_closes_at_once(loop):
    peer = loop.irc_peer()
    peer.sock.sendall(b"NICK bar\r\nQUIT :changed my mind\r\n")
    loop.until(lambda: peer.closed)
    assert loop.clock.now == START
    assert peer.lines == ["ERROR :Closing link: changed my mind\r"]
