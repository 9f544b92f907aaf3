"""Attacks on the web port (issue 26) on a real server: empty WebSocket frames
and pipelined HTTP requests at full speed (`bench/attack_web.py`'s attackers
and chatter), and a foreign Host (DNS rebinding).

Under attack, the server's CPU stays low (psutil, with a wide margin on a
shared machine) and the chat goes on; the exact prices are tested in-process
(tests/loop/test_web_attack_prices.py).
"""
import socket
import sys
from typing import Iterator, Optional

import pytest

from selchat.flood import FRAMES_PER_TOKEN, REQUEST_COST
from selchat.limits import Limits
from support.constants import BENCH, TIMEOUT

sys.path.insert(0, str(BENCH))
import attack_web  # noqa: E402
from wsclient import new_key  # noqa: E402

BURST, RATE = Limits().flood_burst, Limits().flood_rate
OK = b"HTTP/1.1 200 OK"
FORBIDDEN = b"HTTP/1.1 403 Forbidden"


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
def web_server(chat_server) -> Iterator:
    """web_server(*serve_args, env=None) -> the web port of a new server."""
    def start(*args: str, env: Optional[dict] = None) -> int:
        port = chat_server(*args, web=True, env=env).web_port
        assert port is not None
        return port

    yield start


def test_a_foreign_host_is_refused_page_upgrade_and_metrics(web_server):
    port = web_server()
    for path, upgrade in (("/", False), ("/ws", True), ("/metrics", False), ("/healthz", False)):
        assert ask(port, f"rebind.example:{port}", path, upgrade) == FORBIDDEN


def test_the_served_names_and_addresses_are_answered(web_server):
    port = web_server()
    for host in (f"localhost:{port}", f"127.0.0.1:{port}", "127.0.0.1"):
        assert ask(port, host) == OK
        assert ask(port, host, "/ws", upgrade=True) == b"HTTP/1.1 101 Switching Protocols"


def test_web_host_adds_names(web_server):
    port = web_server("--web-host", "chat.example.org", "--web-host", "other.example")
    assert ask(port, "chat.example.org") == OK
    assert ask(port, f"other.example:{port}", "/ws", upgrade=True).startswith(b"HTTP/1.1 101")
    assert ask(port, "third.example") == FORBIDDEN


def test_web_host_from_the_environment(web_server):
    port = web_server(env={"SELCHAT_WEB_HOST": "a.example, b.example c.example"})
    for host in ("a.example", "b.example", "c.example"):
        assert ask(port, host) == OK
    assert ask(port, "d.example") == FORBIDDEN


def test_web_host_from_the_config_file(web_server, tmp_path):
    config = tmp_path / "selchat.toml"
    config.write_text('web-host = ["a.example", "b.example"]\n')
    port = web_server("--config", str(config))
    assert ask(port, "b.example") == OK
    assert ask(port, "c.example") == FORBIDDEN
