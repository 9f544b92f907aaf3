"""The web port's HTTP: routes, errors, keep-alive, pipelining and the WebSocket handshake.

Every request is fed whole and one byte at a time, and must give the same
actions; responses are checked by their exact status line and headers.
"""
import base64
import hashlib
import re

import pytest
from wsproto.connection import Connection, ConnectionType
from wsproto.events import TextMessage

from selchat.web.http import (
    CLOSE, MAX_HEAD, NEED_DATA, HttpConnection, Respond, Upgrade, normalize_origin,
)
from selchat.web.page import CSP, PAGE
from selchat.web.websocket import WebSocketLines


KEY = b"dGhlIHNhbXBsZSBub25jZQ=="  # RFC 6455 §1.3's example
ACCEPT = b"s3pPLMBiTxaQ9kYGzzhZRbK+xOo="


def metrics() -> bytes:
    return b"# metrics\nselchat_members 3.0\n"


def run(data: bytes, eof: bool = False, **kwargs) -> list:
    """Every action until NEED_DATA or CLOSE, fed whole and byte by byte (equal)."""
    results = []
    for chunks in ([data], [data[i:i + 1] for i in range(len(data))]):
        conn = HttpConnection(metrics, **kwargs)
        actions = []
        for chunk in chunks + ([b""] if eof else []):
            conn.feed(chunk)
            while not actions or actions[-1] is not CLOSE and not isinstance(actions[-1], Upgrade):
                action = conn.next_action()
                if action is NEED_DATA:
                    break
                actions.append(action)
        results.append(actions)
    assert results[0] == results[1]
    return results[0]


def parse(response: bytes) -> tuple:
    """(status line, {lower-case header: value}, body)."""
    head, _, body = response.partition(b"\r\n\r\n")
    status, *lines = head.split(b"\r\n")
    headers = {}
    for line in lines:
        name, _, value = line.partition(b":")
        headers[name.strip().lower()] = value.strip()
    return status, headers, body


def get(path: str, *headers: str, method: str = "GET", host: str = "chat.example:8080") -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}", *headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def one(data: bytes, **kwargs) -> tuple:
    actions = run(data, **kwargs)
    assert isinstance(actions[0], Respond), actions
    return (*parse(actions[0].data), actions[0].close)


def upgrade_request(*extra: str, key: bytes = KEY, version: str = "13") -> bytes:
    return get("/ws", "Upgrade: websocket", "Connection: Upgrade",
               f"Sec-WebSocket-Key: {key.decode()}", f"Sec-WebSocket-Version: {version}", *extra)


# -- routes ----------------------------------------------------------------------

def test_page():
    status, headers, body, close = one(get("/"))
    assert status == b"HTTP/1.1 200 OK" and not close
    assert body == PAGE
    assert headers[b"content-type"] == b"text/html; charset=utf-8"
    assert headers[b"content-length"] == b"%d" % len(PAGE)
    assert headers[b"content-security-policy"] == CSP.encode()
    assert headers[b"x-content-type-options"] == b"nosniff"


def test_page_ignores_query_string():
    assert one(get("/?from=qr"))[0] == b"HTTP/1.1 200 OK"


def test_head_of_page_has_length_but_no_body():
    status, headers, body, close = one(get("/", method="HEAD"))
    assert status == b"HTTP/1.1 200 OK" and body == b""
    assert headers[b"content-length"] == b"%d" % len(PAGE)


def test_csp_hashes_match_the_inline_script_and_style():
    for tag, directive in ((b"script", "script-src"), (b"style", "style-src")):
        content = re.search(rb"<%s>(.*?)</%s>" % (tag, tag), PAGE, re.DOTALL).group(1)
        digest = base64.b64encode(hashlib.sha256(content).digest()).decode()
        assert f"{directive} 'sha256-{digest}'" in CSP
    assert "unsafe-inline" not in CSP and "default-src 'none'" in CSP


def test_healthz():
    status, headers, body, close = one(get("/healthz"))
    assert (status, body) == (b"HTTP/1.1 200 OK", b"ok\n")
    assert headers[b"cache-control"] == b"no-store"


def test_metrics_come_from_the_driver():
    status, headers, body, close = one(get("/metrics"))
    assert (status, body) == (b"HTTP/1.1 200 OK", metrics())
    assert headers[b"content-type"].startswith(b"text/plain; version=0.0.4")
    assert headers[b"cache-control"] == b"no-store"


def test_unknown_path_is_404():
    status, headers, body, close = one(get("/etc/passwd"))
    assert status == b"HTTP/1.1 404 Not Found" and not close
    assert headers[b"content-length"] == b"%d" % len(body)


@pytest.mark.parametrize("path, method, allow", [
    ("/", "DELETE", b"GET, HEAD"),
    ("/metrics", "PUT", b"GET, HEAD"),
    ("/ws", "HEAD", b"GET"),
])
def test_wrong_method_is_405_with_allow(path, method, allow):
    status, headers, body, close = one(get(path, method=method))
    assert status == b"HTTP/1.1 405 Method Not Allowed"
    assert headers[b"allow"] == allow


def test_request_with_a_body_is_answered_then_closed():
    data = get("/", "Content-Length: 5", method="POST") + b"hello"
    actions = run(data)
    assert isinstance(actions[0], Respond) and actions[0].close
    status, headers, _ = parse(actions[0].data)
    assert status == b"HTTP/1.1 405 Method Not Allowed"
    assert headers[b"connection"] == b"close"
    assert actions[1:] == [CLOSE]


# -- errors ----------------------------------------------------------------------

@pytest.mark.parametrize("data", [
    b"NOT HTTP\r\n\r\n",
    b"GET / HTTP/1.1\r\n\r\n",  # HTTP/1.1 without Host
    b"GET / HTTP/1.1\r\nHost: a\r\nbad header\r\n\r\n",
])
def test_malformed_request_is_400_then_close(data):
    actions = run(data)
    status, headers, _ = parse(actions[0].data)
    assert status == b"HTTP/1.1 400 Bad Request" and actions[0].close
    assert headers[b"connection"] == b"close"
    assert actions[1:] == [CLOSE]


def test_head_over_8k_is_431_then_close():
    data = get("/", "X-Big: " + "a" * MAX_HEAD)[:-4]  # never finished
    conn = HttpConnection(metrics)
    conn.feed(data)
    action = conn.next_action()
    assert parse(action.data)[0] == b"HTTP/1.1 431 Request Header Fields Too Large"
    assert action.close and conn.next_action() is CLOSE


def test_whole_head_over_8k_in_one_read_is_431_too():
    action = HttpConnection(metrics)
    action.feed(get("/", "X-Big: " + "a" * MAX_HEAD))
    assert parse(action.next_action().data)[0].startswith(b"HTTP/1.1 431 ")


def test_eof_when_idle_closes():
    assert run(b"", eof=True) == [CLOSE]


def test_eof_in_the_middle_of_a_request_closes_without_answer():
    assert run(b"GET / HTTP/1.1\r\nHo", eof=True) == [CLOSE]


# -- keep-alive and pipelining -----------------------------------------------------

def test_keep_alive_several_requests_one_connection():
    conn = HttpConnection(metrics)
    for path in ("/healthz", "/", "/nope", "/metrics"):
        conn.feed(get(path))
        action = conn.next_action()
        assert isinstance(action, Respond) and not action.close
        assert conn.next_action() is NEED_DATA


def test_pipelined_requests_answered_in_order():
    actions = run(get("/healthz") + get("/nope") + get("/metrics") + get("/", "Connection: close"))
    statuses = [parse(a.data)[0] for a in actions[:4]]
    bodies = [parse(a.data)[2] for a in actions[:3]]
    assert statuses == [b"HTTP/1.1 200 OK", b"HTTP/1.1 404 Not Found", b"HTTP/1.1 200 OK",
                        b"HTTP/1.1 200 OK"]
    assert bodies[0] == b"ok\n" and bodies[2] == metrics()
    assert [a.close for a in actions[:4]] == [False, False, False, True]
    assert actions[4:] == [CLOSE]


def test_http10_closes_after_the_response():
    action, = run(b"GET /healthz HTTP/1.0\r\n\r\n")[:1]
    assert action.close


# -- the WebSocket handshake ---------------------------------------------------------

def test_upgrade_101_with_accept_and_no_extension():
    data = upgrade_request("Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits",
                           "Sec-WebSocket-Protocol: chat")
    actions = run(data)
    assert len(actions) == 1 and isinstance(actions[0], Upgrade)
    status, headers, rest = parse(actions[0].data)
    assert status == b"HTTP/1.1 101 Switching Protocols" and rest == b""
    assert headers[b"upgrade"] == b"websocket"
    assert headers[b"connection"].lower() == b"upgrade"
    assert headers[b"sec-websocket-accept"] == ACCEPT  # RFC 6455 §1.3's example
    assert b"sec-websocket-extensions" not in headers
    assert b"sec-websocket-protocol" not in headers
    assert actions[0].trailing == b""


def test_bytes_after_the_upgrade_head_belong_to_the_websocket():
    frame = Connection(ConnectionType.CLIENT).send(TextMessage("alice"))
    conn = HttpConnection(metrics)
    conn.feed(upgrade_request() + frame)
    action = conn.next_action()
    assert isinstance(action, Upgrade) and action.trailing == frame
    ws = WebSocketLines(4096, action.trailing)
    assert ws.next_line() == b"alice"
    with pytest.raises(RuntimeError):
        conn.next_action()


def test_upgrade_after_keep_alive_requests():
    actions = run(get("/") + upgrade_request())
    assert isinstance(actions[0], Respond) and isinstance(actions[1], Upgrade)


def test_upgrade_with_eof_already_seen_just_closes():
    conn = HttpConnection(metrics)
    conn.feed(upgrade_request())
    conn.feed(b"")
    assert conn.next_action() is CLOSE


@pytest.mark.parametrize("origin", [
    "http://chat.example:8080", "HTTP://Chat.Example:8080", "https://other.example",
    "https://other.example:443",
])
def test_allowed_origins(origin):
    actions = run(upgrade_request(f"Origin: {origin}"), allowed_origins=["https://other.example/"])
    assert isinstance(actions[0], Upgrade), actions


def test_missing_origin_is_allowed():
    assert isinstance(run(upgrade_request())[0], Upgrade)


@pytest.mark.parametrize("origin", [
    "http://evil.example", "https://chat.example:8080", "http://chat.example:8081", "null",
])
def test_refused_origin_is_403(origin):
    status, headers, body, close = one(upgrade_request(f"Origin: {origin}"))
    assert status == b"HTTP/1.1 403 Forbidden" and not close


def test_default_port_in_host_matches_origin_without_one():
    data = get("/ws", "Upgrade: websocket", "Connection: keep-alive, Upgrade",
               f"Sec-WebSocket-Key: {KEY.decode()}", "Sec-WebSocket-Version: 13",
               "Origin: http://chat.example", host="chat.example:80")
    assert isinstance(run(data)[0], Upgrade)


def test_wrong_version_is_426_with_supported_version():
    status, headers, body, close = one(upgrade_request(version="8"))
    assert status == b"HTTP/1.1 426 Upgrade Required"
    assert headers[b"sec-websocket-version"] == b"13"


def test_plain_get_of_ws_is_426():
    status, headers, body, close = one(get("/ws"))
    assert status == b"HTTP/1.1 426 Upgrade Required" and headers[b"upgrade"] == b"websocket"


@pytest.mark.parametrize("key", [b"short", b"not base64 at all!!", base64.b64encode(b"x" * 15)])
def test_bad_key_is_400(key):
    status, headers, body, close = one(upgrade_request(key=key))
    assert status == b"HTTP/1.1 400 Bad Request"


def test_refused_upgrade_keeps_the_connection_usable():
    actions = run(upgrade_request("Origin: http://evil.example") + get("/healthz"))
    assert [parse(a.data)[0] for a in actions] == [b"HTTP/1.1 403 Forbidden",
                                                    b"HTTP/1.1 200 OK"]


def test_normalize_origin():
    assert normalize_origin("HTTPS://Chat.Example.org:443/") == "https://chat.example.org"
    assert normalize_origin("http://a:80") == "http://a"
    assert normalize_origin("http://a:8080") == "http://a:8080"
