"""The harness's WebSocket side: its frames against wsproto and selchat's own."""
import sys

from wsproto.connection import Connection, ConnectionType
from wsproto.events import Ping, TextMessage

from selchat.web.http import HttpConnection, Upgrade
from selchat.web.websocket import WebSocketLines, close_frame, text_frame
from support.constants import BENCH

sys.path.insert(0, str(BENCH))
from wsclient import Masker, Unframer, new_key, upgrade_request  # noqa: E402


def test_handshake_and_frames_against_selchat_web_modules():
    key = new_key()
    http = HttpConnection(lambda: b"")
    masker = Masker()
    http.feed(upgrade_request("127.0.0.1", 8080, key) + masker.frame(b"alice"))
    action = http.next_action()
    assert isinstance(action, Upgrade)
    ws = WebSocketLines(4096, action.trailing)
    ws.feed(masker.frame(b"x" * 200) + masker.frame(b"y" * 70000))
    assert [ws.next_line(), ws.next_line()] == [b"alice", b"x" * 200]

    unframer = Unframer(key)
    stream = action.data + text_frame(b"<bob> hi\n") + text_frame(b"z" * 70000 + b"\n")
    got = b""
    for i in range(0, len(stream), 7):  # in pieces that cut headers and payloads
        payload, replies, closed = unframer.feed(stream[i:i + 7])
        assert not closed and replies == b""
        got += payload
    assert got == b"<bob> hi\n" + b"z" * 70000 + b"\n"
    assert unframer.feed(close_frame(1001))[2]


def test_ping_gets_a_masked_pong_and_refusal_is_reported():
    unframer = Unframer(b"k")
    unframer.handshaking = False
    ping = Connection(ConnectionType.SERVER).send(Ping(b"hb"))
    payload, replies, closed = unframer.feed(ping + text_frame(b"a\n"))
    assert (payload, closed) == (b"a\n", False)
    server = Connection(ConnectionType.SERVER)
    server.receive_data(replies)
    assert [type(e).__name__ for e in server.events()] == ["Pong"]

    refused = Unframer(new_key())
    assert refused.feed(b"HTTP/1.1 403 Forbidden\r\n\r\n")[2]
    assert refused.error == "HTTP/1.1 403 Forbidden"


def test_masked_frames_decode_in_wsproto():
    server = Connection(ConnectionType.SERVER)
    m = Masker()
    server.receive_data(m.frame(b"") + m.frame("héllo".encode()) + m.frame(b"q" * 300))
    assert [e.data for e in server.events() if isinstance(e, TextMessage)] == [
        "", "héllo", "q" * 300]
