"""LineBuffer: every input checked whole, byte by byte, and with trailing data (h11's habit)."""
import pytest

from selchat.framing import END_OF_STREAM, LINE_TOO_LONG, LineBuffer


def frame(chunks, max_line=16):
    buffer = LineBuffer(max_line)
    out = []
    for chunk in chunks:
        buffer.feed(chunk)
        while (line := buffer.next_line()) is not None:
            out.append(line)
    return out, buffer


TRAILING = b"tail"


def three_ways(data, max_line=16):
    """Frame `data` whole, one byte at a time, and followed by the start of a
    next line, which must stay in the buffer; all three must agree."""
    whole, _ = frame([data], max_line)
    trickled, _ = frame([data[i:i + 1] for i in range(len(data))], max_line)
    assert trickled == whole
    followed, buffer = frame([data + TRAILING], max_line)
    assert followed == whole
    assert buffer.pending == len(TRAILING)
    buffer.feed(b"")
    assert [buffer.next_line(), buffer.next_line()] == [TRAILING, END_OF_STREAM]
    return whole


@pytest.mark.parametrize("data, lines", [
    (b"hello\n", [b"hello"]),
    (b"a\r\nb\n", [b"a", b"b"]),
    (b"a\rb\n", [b"a\rb"]),            # a lone CR is data, not a line end
    (b"\n\r\n", [b"", b""]),
    (b"one\ntwo\nthree\n", [b"one", b"two", b"three"]),
    (b"\xff\xfe\n", [b"\xff\xfe"]),    # bytes pass through; decoding is not framing's job
])
def test_lines(data, lines):
    assert three_ways(data) == lines


def test_partial_line_waits_and_trailing_data_stays():
    lines, buffer = frame([b"complete\npart"])
    assert lines == [b"complete"]
    assert buffer.pending == 4
    buffer.feed(b"ial\n")
    assert buffer.next_line() == b"partial"
    assert buffer.next_line() is None


def test_exactly_max_line_is_accepted_with_or_without_cr():
    assert three_ways(b"x" * 16 + b"\n" + b"y" * 16 + b"\r\n") == [b"x" * 16, b"y" * 16]


def test_overlong_line_is_reported_once_and_skipped_to_its_newline():
    assert three_ways(b"x" * 17 + b"\nok\n") == [LINE_TOO_LONG, b"ok"]
    assert three_ways(b"x" * 100 + b"\r\nok\n") == [LINE_TOO_LONG, b"ok"]


def test_held_partial_line_never_outgrows_the_cap():
    buffer = LineBuffer(16)
    for _ in range(1000):
        buffer.feed(b"z" * 100)
        buffer.next_line()
        assert buffer.pending <= 17
    buffer.feed(b"tail\nnext\n")
    assert buffer.next_line() == b"next"


def test_lines_can_be_taken_later_in_order():
    """Flood control leaves lines in the buffer; they come out in order after more data."""
    buffer = LineBuffer(16)
    buffer.feed(b"1\n2\n3\n")
    assert buffer.next_line() == b"1"
    buffer.feed(b"4\n")
    assert [buffer.next_line() for _ in range(4)] == [b"2", b"3", b"4", None]


def test_end_of_stream_ends_the_last_line_then_says_end():
    buffer = LineBuffer(16)
    buffer.feed(b"done\nno newline")
    buffer.feed(b"")
    assert buffer.next_line() == b"done"
    assert buffer.next_line() == b"no newline"
    assert buffer.pending == 0
    assert [buffer.next_line(), buffer.next_line()] == [END_OF_STREAM, END_OF_STREAM]


def test_end_of_stream_with_nothing_held_is_just_end():
    buffer = LineBuffer(16)
    buffer.feed(b"whole\n")
    buffer.feed(b"")
    assert [buffer.next_line(), buffer.next_line()] == [b"whole", END_OF_STREAM]


def test_end_of_stream_drops_an_overlong_fragment_already_reported():
    buffer = LineBuffer(4)
    buffer.feed(b"abcdefgh")
    assert buffer.next_line() is LINE_TOO_LONG
    buffer.feed(b"")
    assert buffer.next_line() is END_OF_STREAM


def test_end_of_stream_reports_an_overlong_last_line_once():
    buffer = LineBuffer(4)
    buffer.feed(b"abcde")  # max_line + 1 may still be a line ending in "\r"
    assert buffer.next_line() is None
    buffer.feed(b"")
    assert [buffer.next_line(), buffer.next_line()] == [LINE_TOO_LONG, END_OF_STREAM]
