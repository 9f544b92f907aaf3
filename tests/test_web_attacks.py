"""Attacks on the web port (issue 26): empty WebSocket frames, pipelined HTTP
requests, and a foreign Host (DNS rebinding).

The prices are checked exactly in-process with a fake clock (what one pass and
one second may decode or answer), then under a real attack on a real server
(`bench/attack_web.py`'s attackers and chatter): the server's CPU stays low
(psutil, with a wide margin on a shared machine) and the chat goes on.
"""
import socket
import sys
from pathlib import Path
from typing import List, Optional

import pytest

from conftest import TIMEOUT, FakeClock, Loop, Peer, ServerProcess
from selchat.flood import FRAMES_PER_TOKEN, REQUEST_COST
from selchat.limits import Limits
from selchat.server import Server, open_listener
from selchat.web.http import MAX_REQUESTS, REQUESTS_PER_PASS

BENCH = Path(__file__).resolve().parent.parent / "bench"
sys.path.insert(0, str(BENCH))
import attack_web  # noqa: E402
from wsclient import accept_for, new_key, upgrade_request  # noqa: E402

BURST, RATE = Limits().flood_burst, Limits().flood_rate
EMPTY_PING = b"\x89\x80\x01\x02\x03\x04"
EMPTY_PONG = b"\x8a\x00"
HEALTHZ = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
OK = b"HTTP/1.1 200 OK"


# -- in process, on a fake clock: the prices, exactly ----------------------------------

class WebLoop(Loop):
    """`Loop` with a web port: its peers (`web_peer`) talk HTTP and WebSocket."""

    def __init__(self, **limits) -> None:  # Loop's, with a web listener
        self.clock = FakeClock()
        web = open_listener("127.0.0.1", 0)
        self.web = web.getsockname()[:2]
        self.server = Server(open_listener("127.0.0.1", 0), Limits(**limits), self.clock,
                             web_listener=web)
        self.peers: List[Peer] = []
        self.made: List[Peer] = []

    def web_peer(self) -> Peer:
        peer = Peer(self.web)
        self.peers.append(peer)
        self.made.append(peer)
        return peer

    def websocket(self) -> Peer:
        peer, key = self.web_peer(), new_key()
        peer.sock.sendall(upgrade_request(*self.web, key))
        self.until(lambda: b"\r\n\r\n" in peer.data)
        assert peer.data.startswith(b"HTTP/1.1 101") and accept_for(key) in peer.data
        return peer

    def settle(self, count, passes: int = 20) -> int:
        """Run passes until `count()` stops growing for a few; its value."""
        last, still = count(), 0
        while still < 3 and passes:
            self.run(1)
            now = count()
            still, last, passes = (still + 1 if now == last else 0), now, passes - 1
        return last


@pytest.fixture
def web_loop():
    made: List[WebLoop] = []

    def make(**limits) -> WebLoop:
        made.append(WebLoop(**limits))
        return made[-1]

    yield make
    for each in made:
        each.close()


def test_empty_pings_are_decoded_as_the_bucket_allows(web_loop):
    loop = web_loop(name_timeout=1000.0)  # the peer stays unnamed all along
    ws = loop.websocket()
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
    loop.run(1)
    # A request due at once waits for the timers of the pass, then for the next pass.
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
    assert all(line.startswith((b"HTTP/1.1", b"X-", b"Content-", b"Cache-", b"ok", b""))
               for line in http.data.split(b"\r\n"))


# -- a real server under a real attack: CPU and chat ------------------------------------

def attack(*args: str) -> dict:
    figures = attack_web.run_once(attack_web.parse_args(["--seconds", "3", *args]))
    print(figures)  # shown when the test fails
    assert figures["chat_missing"] == 0
    assert figures["chat_p50_ms"] < 100  # 0.4 ms idle; the attack took it to 88 ms-2.5 s
    # One attacker within its limits: about 1 % of a core here. Without the
    # prices, 99.8 % (25-50 % on this shared machine).
    assert figures["server_cpu_percent"] < 20
    return figures


@pytest.mark.parametrize("kind", attack_web.FRAME_KINDS)
def test_empty_frames_at_full_speed_cost_little(kind):
    figures = attack("--attack", "frames", "--frames", kind)
    assert figures["attack_answers"] > 0  # the attacker gets its pongs
    allowed = (BURST + RATE * figures["attack_seconds"]) * FRAMES_PER_TOKEN
    assert allowed / 2 < figures["frames_decoded"] <= allowed * 1.25 + 100


def test_pipelined_scrapes_at_full_speed_cost_little():
    figures = attack("--attack", "pipeline", "--attackers", "3")
    per_connection = (BURST + RATE * figures["attack_seconds"]) / REQUEST_COST
    assert 0 < figures["attack_answers"] <= 3 * per_connection * 1.25 + 10


# -- Host --------------------------------------------------------------------------------

def ask(port: int, host: Optional[str], path: str = "/", upgrade: bool = False) -> bytes:
    """The status line of one request with this Host."""
    lines = [f"GET {path} HTTP/1.1", *([f"Host: {host}"] if host is not None else [])]
    if upgrade:
        lines += ["Upgrade: websocket", "Connection: Upgrade", "Sec-WebSocket-Version: 13",
                  f"Sec-WebSocket-Key: {new_key().decode()}"]
    else:
        lines.append("Connection: close")
    with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as sock:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        data = b""
        while b"\r\n" not in data:
            chunk = sock.recv(4096)
            assert chunk, f"closed without an answer: {data!r}"
            data += chunk
    return data.split(b"\r\n", 1)[0]


@pytest.fixture
def web_server():
    made: List[ServerProcess] = []

    def start(*args: str, env: Optional[dict] = None) -> int:
        made.append(ServerProcess(*args, web=True, env=env))
        port = made[-1].web_port
        assert port is not None
        return port

    yield start
    for server in made:
        server.stop()


def test_a_foreign_host_is_refused_page_upgrade_and_metrics(web_server):
    port = web_server()
    for path, upgrade in (("/", False), ("/ws", True), ("/metrics", False), ("/healthz", False)):
        assert ask(port, f"rebind.example:{port}", path, upgrade) == b"HTTP/1.1 403 Forbidden"


def test_the_served_names_and_addresses_are_answered(web_server):
    port = web_server()
    for host in (f"localhost:{port}", f"127.0.0.1:{port}", "127.0.0.1"):
        assert ask(port, host) == OK
        assert ask(port, host, "/ws", upgrade=True) == b"HTTP/1.1 101 Switching Protocols"


def test_web_host_adds_names(web_server):
    port = web_server("--web-host", "chat.example.org", "--web-host", "other.example")
    assert ask(port, "chat.example.org") == OK
    assert ask(port, f"other.example:{port}", "/ws", upgrade=True).startswith(b"HTTP/1.1 101")
    assert ask(port, "third.example") == b"HTTP/1.1 403 Forbidden"


def test_web_host_from_the_environment(web_server):
    port = web_server(env={"SELCHAT_WEB_HOST": "a.example, b.example c.example"})
    for host in ("a.example", "b.example", "c.example"):
        assert ask(port, host) == OK
    assert ask(port, "d.example") == b"HTTP/1.1 403 Forbidden"
