"""What web-port input costs, decided without sockets: WebSocket frames that
carry no line, HTTP requests (keep-alive cap, Host), and shared /metrics renders."""
import pytest
from wsproto.connection import Connection, ConnectionType
from wsproto.events import Ping, TextMessage

from selchat.flood import FRAMES_PER_TOKEN, REQUEST_COST, TokenBucket
from selchat.framing import END_OF_STREAM
from selchat.web.http import (
    CLOSE, MAX_REQUESTS, NEED_DATA, HttpConnection, Respond, Upgrade, host_allowed,
    served_names,
)
from selchat.web.metrics import RENDER_INTERVAL, Counters, Exposition
from selchat.web.websocket import IDLE_FRAMES, WebSocketLines

MASK = b"\x01\x02\x03\x04"
EMPTY_PONG = b"\x8a\x00"


def empty_frame(opcode: int, fin: bool = True) -> bytes:
    """A masked client frame with no payload."""
    return bytes(((0x80 if fin else 0) | opcode, 0x80)) + MASK


PING, TEXT, CONTINUATION = empty_frame(0x9), empty_frame(0x1), empty_frame(0x0, fin=False)
#: Each kind of frame that carries no line, as the attack sends it.
ATTACKS = {
    "ping": PING * 10_000,
    "empty text": TEXT * 10_000,
    "empty continuation": empty_frame(0x1, fin=False) + CONTINUATION * 9_999,
}


def browser() -> Connection:
    return Connection(ConnectionType.CLIENT)


# -- WebSocket frames ------------------------------------------------------------------

@pytest.mark.parametrize("data", ATTACKS.values(), ids=ATTACKS)
def test_frames_without_lines_cost_a_token_per_few(data):
    ws = WebSocketLines(4096)
    ws.feed(data)
    answers = []
    while (line := ws.next_line()) is not None:
        answers.append(line)
    assert answers == [IDLE_FRAMES] * (10_000 // FRAMES_PER_TOKEN)


def test_one_call_decodes_at_most_a_token_of_frames_without_answering():
    ws = WebSocketLines(4096)
    ws.feed(ATTACKS["ping"])
    assert ws.next_line() is IDLE_FRAMES
    assert ws.data_to_send() == EMPTY_PONG * FRAMES_PER_TOKEN  # the rest is not decoded yet
    assert ws.has_line()


def test_an_empty_bucket_leaves_the_frames_undecoded():
    """The server's loop, as `LineKind.take_input` runs it: ask while the bucket lasts."""
    bucket, now = TokenBucket(20, 10.0, now=0.0), 0.0
    ws = WebSocketLines(4096)
    ws.feed(ATTACKS["ping"])

    def decode_while_the_budget_lasts() -> int:
        while bucket.ready(now):
            line = ws.next_line()
            if line is None:
                break
            assert line is IDLE_FRAMES
            bucket.take(now, 1.0)
        return len(ws.data_to_send()) // len(EMPTY_PONG)

    assert decode_while_the_budget_lasts() == 20 * FRAMES_PER_TOKEN  # the burst
    assert ws.has_line()  # the rest waits here, undecoded
    assert decode_while_the_budget_lasts() == 0
    now = 1.0
    assert decode_while_the_budget_lasts() == 10 * FRAMES_PER_TOKEN  # a second's refill


def test_frames_that_complete_lines_are_paid_for_by_their_lines():
    c = browser()
    ws = WebSocketLines(4096)
    ws.feed(b"".join(c.send(TextMessage(f"line {n}")) for n in range(100)))
    lines = []
    while (line := ws.next_line()) is not None:
        lines.append(line)
    assert lines == [b"line %d" % n for n in range(100)]  # no IDLE_FRAMES among them


def test_a_line_in_pieces_costs_only_its_line():
    """A long message split over several reads is no frame without a line."""
    c = browser()
    data = c.send(TextMessage("x" * 3000))
    ws = WebSocketLines(4096)
    answers = []
    for at in range(0, len(data), 10):
        ws.feed(data[at:at + 10])
        while (line := ws.next_line()) is not None:
            answers.append(line)
    assert answers == [b"x" * 3000]


def test_pings_between_pieces_of_a_message_count_and_are_answered():
    c = browser()
    data = c.send(TextMessage("hel", message_finished=False))
    pings = FRAMES_PER_TOKEN + 3
    data += c.send(Ping(b"p")) * pings + c.send(TextMessage("lo"))
    ws = WebSocketLines(4096)
    ws.feed(data)
    answers = [ws.next_line(), ws.next_line(), ws.next_line()]
    assert answers == [IDLE_FRAMES, b"hello", None]  # one token, 4 frames owed
    assert ws.data_to_send() == b"\x8a\x01p" * pings


def test_every_ping_of_a_read_gets_its_pong_in_order():
    c = browser()
    ws = WebSocketLines(4096)
    ws.feed(b"".join(c.send(Ping(b"%d" % n)) for n in range(1000)))
    while ws.next_line() is not None:
        pass
    expected = b"".join(bytes((0x8A, len(b"%d" % n))) + b"%d" % n for n in range(1000))
    assert ws.data_to_send() == expected
    assert ws.data_to_send() == b""


def test_the_session_still_ends_after_idle_frames():
    ws = WebSocketLines(4096)
    ws.feed(PING * (2 * FRAMES_PER_TOKEN + 3))
    ws.feed(b"")
    answers = []
    while (line := ws.next_line()) is not None and line is not END_OF_STREAM:
        answers.append(line)
    assert answers == [IDLE_FRAMES, IDLE_FRAMES] and line is END_OF_STREAM


# -- HTTP requests --------------------------------------------------------------------

def get(path: str = "/healthz", host: bytes = b"127.0.0.1:4080", *extra: bytes) -> bytes:
    return b"\r\n".join([b"GET %s HTTP/1.1" % path.encode(), b"Host: " + host, *extra, b"", b""])


def actions(conn: HttpConnection) -> list:
    got = []
    while True:
        action = conn.next_action()
        if action is NEED_DATA:
            return got
        got.append(action)
        if action is CLOSE or isinstance(action, Upgrade):
            return got


def status(action) -> bytes:
    return action.data.split(b"\r\n", 1)[0]


def test_has_request_says_whether_bytes_wait():
    conn = HttpConnection(lambda: b"")
    assert not conn.has_request()
    conn.feed(get() * 3)
    assert conn.has_request()
    conn.next_action()
    assert conn.has_request()  # two more are waiting, unparsed
    assert len(actions(conn)) == 2
    assert not conn.has_request()
    conn.feed(b"GET / HT")
    assert conn.has_request() and conn.next_action() is NEED_DATA and not conn.has_request()


def test_a_keep_alive_connection_is_closed_after_its_requests():
    conn = HttpConnection(lambda: b"", max_requests=3)
    conn.feed(get() * 5)
    got = actions(conn)
    assert [status(a) for a in got[:3]] == [b"HTTP/1.1 200 OK"] * 3
    assert [a.close for a in got[:3]] == [False, False, True]
    assert b"Connection: close" in got[2].data
    assert got[3:] == [CLOSE]  # the two after it are never answered


def test_the_default_keep_alive_cap():
    conn = HttpConnection(lambda: b"")
    conn.feed(get() * (MAX_REQUESTS + 1))
    got = actions(conn)
    assert len(got) == MAX_REQUESTS + 1 and got[-1] is CLOSE
    assert [a.close for a in got[:-1]] == [False] * (MAX_REQUESTS - 1) + [True]


def test_request_price_at_the_default_rate():
    """Five requests a second, ten at once: a page load is two."""
    bucket = TokenBucket(20, 10.0, now=0.0)
    answered = 0
    while bucket.ready(0.0):
        bucket.take(0.0, REQUEST_COST)
        answered += 1
    assert answered == 10
    assert bucket.wait(0.0) == pytest.approx(0.1)


# -- Host: DNS rebinding ----------------------------------------------------------------

@pytest.mark.parametrize("bound, hostname, names", [
    ("127.0.0.1", "box", {"localhost"}),
    ("::1", "box", {"localhost"}),
    ("0.0.0.0", "Box.Lan", {"localhost", "box.lan"}),
    ("::", "box", {"localhost", "box"}),
    ("192.0.2.7", "box", set()),
    ("::ffff:127.0.0.1", "box", {"localhost"}),
])
def test_served_names_follow_the_bound_address(bound, hostname, names):
    assert served_names(bound, (), hostname) == names


def test_web_hosts_are_split_and_lose_their_ports():
    names = served_names("192.0.2.7", ["chat.example.org, Other.Example:8080", "third. fourth"])
    assert names == {"chat.example.org", "other.example", "third", "fourth"}


@pytest.mark.parametrize("host, allowed", [
    (b"localhost:4080", True),
    (b"LOCALHOST.:4080", True),
    (b"localhost", True),
    (b"chat.example.org", True),
    (b"127.0.0.1:4080", True),
    (b"10.1.2.3", True),  # an address cannot be rebound: any is fine
    (b"[::1]:4080", True),
    (b"[2001:db8::1]", True),
    (None, True),  # HTTP/1.0 without Host: no browser
    (b"rebind.attacker.example:4080", False),
    (b"localhost.attacker.example", False),
    (b"chat.example.org.evil", False),
    (b"2130706433", False),  # browsers send 127.0.0.1 for that
    (b"", False),
    (b"localhost, evil.example", False),  # two Host headers
])
def test_host_allowed(host, allowed):
    assert host_allowed(host, {"localhost", "chat.example.org"}) is allowed


@pytest.mark.parametrize("path", ["/", "/metrics", "/healthz", "/ws"])
def test_a_foreign_host_gets_403_everywhere(path):
    conn = HttpConnection(lambda: b"m", hosts={"localhost"})
    conn.feed(get(path, b"rebind.example:4080", b"Upgrade: websocket", b"Connection: Upgrade",
                  b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==", b"Sec-WebSocket-Version: 13"))
    got = actions(conn)
    assert isinstance(got[0], Respond) and status(got[0]) == b"HTTP/1.1 403 Forbidden"
    assert got[0].data.endswith(b"host not allowed\n")


@pytest.mark.parametrize("host", [b"localhost:4080", b"127.0.0.1:4080", b"chat.example.org"])
def test_served_hosts_get_the_page_and_the_upgrade(host):
    conn = HttpConnection(lambda: b"m", hosts={"localhost", "chat.example.org"})
    conn.feed(get("/", host) + get("/ws", host, b"Upgrade: websocket", b"Connection: Upgrade",
                                   b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
                                   b"Sec-WebSocket-Version: 13"))
    page, upgrade = actions(conn)
    assert status(page) == b"HTTP/1.1 200 OK"
    assert isinstance(upgrade, Upgrade) and status(upgrade) == b"HTTP/1.1 101 Switching Protocols"


# -- /metrics -----------------------------------------------------------------------------

def test_metrics_are_rendered_once_per_interval_and_shared():
    counters = Counters(started=0.0)
    refreshed = []
    exposition = Exposition(counters)
    first = exposition.body(10.0, refreshed.append)
    counters.http_requests += 5
    assert exposition.body(10.0 + RENDER_INTERVAL / 2, refreshed.append) is first
    assert len(refreshed) == 1
    later = exposition.body(10.0 + RENDER_INTERVAL, refreshed.append)
    assert b"selchat_http_requests_total 5.0" in later and len(refreshed) == 2
    assert exposition.body(5.0, refreshed.append) is not later  # the clock went back
