"""Over TLS the page's own origin is https://HOST: its WebSocket (wss) is
allowed, and the clear-text origin of the same host is not."""
import pytest

from selchat.web.http import NEED_DATA, HttpConnection, Respond, Upgrade

KEY = "dGhlIHNhbXBsZSBub25jZQ=="


def first_action(origin: str, scheme: str):
    conn = HttpConnection(lambda: b"", scheme=scheme)
    conn.feed(("GET /ws HTTP/1.1\r\nHost: chat.example:4080\r\nUpgrade: websocket\r\n"
               f"Connection: Upgrade\r\nSec-WebSocket-Key: {KEY}\r\n"
               f"Sec-WebSocket-Version: 13\r\nOrigin: {origin}\r\n\r\n").encode())
    action = conn.next_action()
    assert action is not NEED_DATA
    return action


@pytest.mark.parametrize("scheme, origin, allowed", [
    ("https", "https://chat.example:4080", True),
    ("https", "http://chat.example:4080", False),
    ("http", "http://chat.example:4080", True),
    ("http", "https://chat.example:4080", False),
])
def test_the_pages_own_origin_has_the_ports_scheme(scheme, origin, allowed):
    action = first_action(origin, scheme)
    if allowed:
        assert isinstance(action, Upgrade), action
    else:
        assert isinstance(action, Respond) and action.data.startswith(b"HTTP/1.1 403"), action
