"""Attacks on the web port (issue 26), priced exactly: the server in this
process on a fake clock, and what one pass and one second may decode or answer
for empty WebSocket frames and pipelined HTTP requests."""
import sys
from typing import Iterator, List

import pytest

from selchat.flood import FRAMES_PER_TOKEN, REQUEST_COST
from selchat.limits import Limits
from selchat.web.http import MAX_REQUESTS, REQUESTS_PER_PASS
from support.constants import BENCH
from support.fake_loop import Peer, WebLoop

sys.path.insert(0, str(BENCH))
from wsclient import accept_for, new_key, upgrade_request  # noqa: E402

BURST, RATE = Limits().flood_burst, Limits().flood_rate
EMPTY_PING = b"\x89\x80\x01\x02\x03\x04"
EMPTY_PONG = b"\x8a\x00"
HEALTHZ = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
OK = b"HTTP/1.1 200 OK"


@pytest.fixture
def web_loop() -> Iterator:
    """web_loop(**limits) -> WebLoop on a FakeClock; closed at teardown."""
    made: List[WebLoop] = []

    def make(**limits) -> WebLoop:
        made.append(WebLoop(**limits))
        return made[-1]

    yield make
    for each in made:
        each.close()


def websocket(loop: WebLoop) -> Peer:
    """A web peer that upgraded (its 101 read)."""
    peer, key = loop.web_peer(), new_key()
    peer.sock.sendall(upgrade_request(*loop.web, key))
    loop.until(lambda: b"\r\n\r\n" in peer.data)
    assert peer.data.startswith(b"HTTP/1.1 101") and accept_for(key) in peer.data
    return peer


def test_empty_pings_are_decoded_as_the_bucket_allows(web_loop):
    loop = web_loop(name_timeout=1000.0)  # the peer stays unnamed all along
    ws = websocket(loop)
    ws.data.clear()
    ws.sock.sendall(EMPTY_PING * 10_000)  # 60 KB: one read
    pongs = lambda: ws.data.count(EMPTY_PONG)  # noqa: E731
    assert loop.settle(pongs) == BURST * FRAMES_PER_TOKEN  # the burst, then nothing
    loop.clock.advance(1.0)
    assert loop.settle(pongs) == (BURST + RATE) * FRAMES_PER_TOKEN  # a second's refill
    for _ in range(10_000 // (BURST * FRAMES_PER_TOKEN)):  # a full bucket at a time
        loop.clock.advance(BURST / RATE)
        loop.settle(pongs)
    assert pongs() == 10_000  # every ping answered in the end


def test_pipelined_requests_are_answered_as_the_bucket_allows(web_loop):
    loop = web_loop()
    http = loop.web_peer()
    http.sock.sendall(HEALTHZ * 200)
    answered = lambda: http.data.count(OK)  # noqa: E731
    loop.until(answered)
    # The first pass that answers: REQUESTS_PER_PASS, and as many again from
    # the timer due at once that its hold-back set; the rest wait for a later pass.
    assert answered() <= 2 * REQUESTS_PER_PASS
    burst = int(BURST // REQUEST_COST)
    assert loop.settle(answered) == burst
    loop.clock.advance(1.0)
    assert loop.settle(answered) == burst + int(RATE // REQUEST_COST)


def test_a_keep_alive_connection_closes_after_its_requests(web_loop):
    loop = web_loop(flood_rate=0)  # no bucket: only the keep-alive cap
    http = loop.web_peer()
    http.sock.sendall(HEALTHZ * (MAX_REQUESTS + 50))
    loop.until(lambda: http.closed)
    assert http.data.count(OK) == MAX_REQUESTS
    assert http.data.count(b"Connection: close") == 1


def test_http_clients_are_not_told_to_slow_down(web_loop):
    loop = web_loop()
    http = loop.web_peer()
    http.sock.sendall(HEALTHZ * 30)
    for _ in range(3):
        loop.settle(lambda: http.data.count(OK))
        loop.clock.advance(BURST / RATE)
    assert http.data.count(OK) == 30
    responses = bytes(http.data).split(OK)
    assert responses[0] == b"" and len(set(responses[1:])) == 1  # nothing among them
