"""WebSocket lines in, frames out: against wsproto's client side, and byte-exact.

Every input goes through `lines_of` three ways, as h11's tests do: whole, one
byte at a time, and split at every point.
"""
import struct

import pytest
from wsproto.connection import Connection, ConnectionType
from wsproto.events import (
    BytesMessage, CloseConnection, Message, Ping, Pong, TextMessage,
)

from selchat.web.websocket import END_OF_STREAM, WebSocketLines, close_frame, text_frame


MAX_LINE = 64


def client() -> Connection:
    return Connection(ConnectionType.CLIENT)


def frames(*events) -> bytes:
    """What a browser (a wsproto client: masked frames) sends for `events`."""
    c = client()
    return b"".join(c.send(e) for e in events)


def drain(ws: WebSocketLines) -> list:
    out = []
    while True:
        line = ws.next_line()
        if line is None:
            return out
        out.append(line)
        if line is END_OF_STREAM:
            return out


def lines_of(data: bytes, eof: bool = False, max_line: int = MAX_LINE) -> tuple:
    """(lines, data_to_send, close_code), checked equal for every way of feeding."""
    results = []
    for chunks in (
        [data],
        [data[i:i + 1] for i in range(len(data))],
        *([data[:i], data[i:]] for i in range(1, len(data), max(1, len(data) // 7))),
    ):
        ws = WebSocketLines(max_line)
        got, sent = [], b""
        for chunk in chunks:
            ws.feed(chunk)
            if END_OF_STREAM not in got:
                got += drain(ws)
            sent += ws.data_to_send()
        if eof:
            ws.feed(b"")
            got += drain(ws)
            sent += ws.data_to_send()
        results.append((got, sent, ws.close_code))
    assert all(r == results[0] for r in results), results
    return results[0]


def decode(data: bytes) -> list:
    """The events a browser gets from our bytes."""
    c = client()
    c.receive_data(data)
    return list(c.events())


# -- incoming --------------------------------------------------------------------

def test_one_message_is_one_line():
    assert lines_of(frames(TextMessage("hello"), TextMessage("/who"))) == (
        [b"hello", b"/who"], b"", None)


def test_message_with_newlines_is_several_lines():
    data = frames(TextMessage("a\nb\r\nc"), TextMessage("d\n"), TextMessage("e\n\nf\n"))
    assert lines_of(data)[0] == [b"a", b"b", b"c", b"d", b"e", b"", b"f"]


def test_empty_message_is_no_line():
    assert lines_of(frames(TextMessage(""), TextMessage("x")))[0] == [b"x"]


def test_utf8_text_comes_out_as_utf8_bytes():
    assert lines_of(frames(TextMessage("héllo ✓")))[0] == ["héllo ✓".encode()]


def test_fragmented_message_is_one_line():
    data = frames(
        TextMessage("hel", message_finished=False),
        Ping(b"p"),  # a control frame may come between fragments
        TextMessage("lo\nwor", message_finished=False),
        TextMessage("ld"),
    )
    lines, sent, code = lines_of(data)
    assert lines == [b"hello", b"world"]
    assert decode(sent) == [Pong(b"p")]


def test_ping_is_answered_with_pong_of_same_payload():
    lines, sent, code = lines_of(frames(Ping(b"abc"), TextMessage("x")))
    assert lines == [b"x"] and code is None
    assert sent == b"\x8a\x03abc"
    assert decode(sent) == [Pong(b"abc")]


def test_pong_needs_nothing():
    assert lines_of(frames(Pong(b"z"), TextMessage("x"))) == ([b"x"], b"", None)


def test_client_close_is_echoed_and_ends():
    data = frames(TextMessage("bye"), CloseConnection(1001, "going")) + b"ignored"
    lines, sent, code = lines_of(data)
    assert lines == [b"bye", END_OF_STREAM] and code == 1001
    assert sent == close_frame(1001) == b"\x88\x02\x03\xe9"


def test_client_close_without_code_is_answered_without_one():
    data = bytes([0x88, 0x80]) + b"\0\0\0\0"  # masked, empty close
    assert lines_of(data) == ([END_OF_STREAM], b"\x88\x00", 1005)


def test_binary_message_closes_with_1003():
    data = frames(TextMessage("ok"), BytesMessage(b"\x00\x01"), TextMessage("later"))
    lines, sent, code = lines_of(data)
    assert lines == [b"ok", END_OF_STREAM] and code == 1003
    assert decode(sent) == [CloseConnection(1003, "text messages only")]


def test_unmasked_frame_closes_with_1002():
    data = b"\x81\x02hi"  # a server-style frame from a client
    lines, sent, code = lines_of(data)
    assert lines == [END_OF_STREAM] and code == 1002
    assert decode(sent)[0].code == 1002


def test_bad_opcode_and_reserved_bits_close_with_1002():
    for first in (0x83, 0xC1):  # opcode 3; RSV1 set with no extension
        lines, sent, code = lines_of(bytes([first, 0x80]) + b"\0\0\0\0")
        assert (lines, code) == ([END_OF_STREAM], 1002)


def test_invalid_utf8_closes_with_1007():
    mask = b"\0\0\0\0"
    data = bytes([0x81, 0x82]) + mask + b"\xff\xfe"
    lines, sent, code = lines_of(data)
    assert (lines, code) == ([END_OF_STREAM], 1007)
    assert decode(sent)[0].code == 1007


def test_line_over_max_closes_with_1009():
    ok = "x" * MAX_LINE
    data = frames(TextMessage(ok), TextMessage(ok + "y"), TextMessage("after"))
    lines, sent, code = lines_of(data)
    assert lines == [ok.encode(), END_OF_STREAM] and code == 1009
    assert decode(sent)[0].code == 1009


def test_overlong_line_is_refused_before_its_message_ends():
    ws = WebSocketLines(MAX_LINE)
    c = client()
    ws.feed(c.send(TextMessage("y" * (MAX_LINE + 2), message_finished=False)))
    assert drain(ws) == [END_OF_STREAM] and ws.close_code == 1009


def test_max_line_counts_the_line_not_its_cr():
    assert lines_of(frames(TextMessage("x" * MAX_LINE + "\r\n")))[0] == [b"x" * MAX_LINE]


def test_end_of_stream_without_close_is_1006():
    lines, sent, code = lines_of(frames(TextMessage("last")), eof=True)
    assert (lines, sent, code) == ([b"last", END_OF_STREAM], b"", 1006)


def test_trailing_bytes_from_the_upgrade_are_the_first_frames():
    ws = WebSocketLines(MAX_LINE, trailing=frames(TextMessage("alice")))
    assert ws.next_line() == b"alice" and ws.next_line() is None


def test_lines_wait_until_asked():
    """A throttled client's lines stay queued, in order, until the loop asks."""
    ws = WebSocketLines(MAX_LINE)
    ws.feed(frames(TextMessage("1\n2"), TextMessage("3")))
    assert ws.next_line() == b"1"
    ws.feed(frames(TextMessage("4")))
    assert drain(ws) == [b"2", b"3", b"4"]


def test_after_the_end_everything_is_ignored():
    ws = WebSocketLines(MAX_LINE)
    ws.feed(b"")
    assert ws.next_line() is END_OF_STREAM and ws.next_line() is END_OF_STREAM
    ws.feed(frames(TextMessage("late")))
    assert ws.next_line() is END_OF_STREAM and ws.data_to_send() == b""


def test_idle_instance_is_small():
    """The 3 KB per idle WebSocket budget: the wsproto parser is most of it."""
    import tracemalloc
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        many = [WebSocketLines(4096) for _ in range(1000)]
        for ws in many:
            ws.feed(frames(TextMessage("alice")))
            assert ws.next_line() == b"alice" and ws.next_line() is None
        per = (tracemalloc.get_traced_memory()[0] - before) / len(many)
    finally:
        tracemalloc.stop()
    assert per < 2500, per


# -- outgoing --------------------------------------------------------------------

@pytest.mark.parametrize("size, header", [
    (0, b"\x81\x00"),
    (5, b"\x81\x05"),
    (125, b"\x81\x7d"),
    (126, b"\x81\x7e\x00\x7e"),
    (65535, b"\x81\x7e\xff\xff"),
    (65536, b"\x81\x7f" + struct.pack("!Q", 65536)),
])
def test_text_frame_lengths(size, header):
    payload = b"x" * size
    frame = text_frame(payload)
    assert frame == header + payload
    events = decode(frame)
    assert [type(e) for e in events] == [TextMessage] and events[0].data == payload.decode()


def test_text_frame_small_case_byte_exact():
    assert text_frame(b"<alice> hi\n") == b"\x81\x0b<alice> hi\n"


def test_broadcast_frame_decodes_as_several_lines():
    payload = "<alice> hi\n*** bob has joined the chat room.\n* alice waves ✓\n".encode()
    (event,) = decode(text_frame(payload))
    assert isinstance(event, Message) and event.message_finished
    assert event.data.split("\n") == ["<alice> hi", "*** bob has joined the chat room.",
                                      "* alice waves ✓", ""]


def test_close_frame():
    assert close_frame(1000) == b"\x88\x02\x03\xe8"
    assert close_frame(1001, "bye") == b"\x88\x05\x03\xe9bye"
    assert decode(close_frame(1011, "oops")) == [CloseConnection(1011, "oops")]


def test_close_frame_reason_is_cut_on_a_character_boundary():
    frame = close_frame(1000, "é" * 100)
    assert len(frame) == 2 + 125 - 1  # 61 two-byte characters fit in 123 bytes
    (event,) = decode(frame)
    assert event.reason == "é" * 61
