"""Hypothesis properties of the two pure guards every byte from a client passes.

`LineBuffer` must frame a stream the same however ``recv`` happened to cut it,
and however late the caller takes its lines (flood control leaves them waiting);
`clean` must never let a control character reach another person's terminal.
"""
import re

from hypothesis import given, settings
from hypothesis import strategies as st

from selchat.framing import END_OF_STREAM, LINE_TOO_LONG, LineBuffer
from selchat.sanitize import clean


# A few hundred examples each: the file runs in a few seconds.
FAST = settings(max_examples=200, deadline=None, database=None)

# Streams rich in what framing cares about: line ends, lone CRs, runs long enough to
# pass a small cap, and arbitrary bytes.
_PIECES = st.one_of(
    st.sampled_from([b"\n", b"\r", b"\r\n", b"a", b"xxxxxxxxxxxx", b"\xff", b"\r\r\n"]),
    st.binary(max_size=24),
)
streams = st.lists(_PIECES, max_size=40).map(b"".join)
max_lines = st.integers(min_value=1, max_value=24)


def _cuts(data: bytes, points) -> list:
    """`data` split at the given offsets (no empty chunk: b"" is the end of the stream)."""
    bounds = [0, *sorted(p % (len(data) + 1) for p in points), len(data)]
    return [data[a:b] for a, b in zip(bounds, bounds[1:]) if b > a]


def _drain(buffer: LineBuffer, out: list, limit: int = -1) -> None:
    """Take up to `limit` lines (all when negative)."""
    while limit != 0:
        line = buffer.next_line()
        if line is None or line is END_OF_STREAM:
            return
        out.append(line)
        limit -= 1


def _rest(buffer: LineBuffer) -> list:
    """What the end of the stream still brings out of `buffer`, up to END_OF_STREAM."""
    buffer.feed(b"")
    out: list = []
    _drain(buffer, out)
    assert buffer.next_line() is END_OF_STREAM
    return out


def _frame_whole(data: bytes, max_line: int):
    buffer = LineBuffer(max_line)
    buffer.feed(data)
    out: list = []
    _drain(buffer, out)
    return out, _rest(buffer)


@FAST
@given(data=streams, max_line=max_lines, points=st.lists(st.integers(min_value=0), max_size=12))
def test_any_chunking_frames_like_the_whole_stream(data, max_line, points):
    whole, whole_rest = _frame_whole(data, max_line)
    buffer = LineBuffer(max_line)
    out: list = []
    for chunk in _cuts(data, points):
        buffer.feed(chunk)
        _drain(buffer, out)
        # The partial line held between reads never outgrows the cap (+ a possible "\r").
        assert buffer.pending <= max_line + 1
    assert out == whole
    assert _rest(buffer) == whole_rest


@FAST
@given(data=streams, max_line=max_lines, points=st.lists(st.integers(min_value=0), max_size=12),
       choices=st.data())
def test_lines_taken_late_come_out_the_same(data, max_line, points, choices):
    """Flood control takes only some lines per read; the rest must keep their order."""
    whole, whole_rest = _frame_whole(data, max_line)
    buffer = LineBuffer(max_line)
    out: list = []
    for chunk in _cuts(data, points):
        buffer.feed(chunk)
        _drain(buffer, out, choices.draw(st.integers(min_value=0, max_value=3), label="take"))
    _drain(buffer, out)
    assert out == whole
    assert _rest(buffer) == whole_rest


@FAST
@given(data=streams, max_line=max_lines)
def test_framing_matches_a_plain_split(data, max_line):
    """Each complete line is its bytes (one trailing CR dropped) or LINE_TOO_LONG; an
    unterminated tail already past the cap (and a CR) is reported before its newline."""
    *complete, tail = data.split(b"\n")
    expected = []
    for raw in complete:
        line = raw[:-1] if raw.endswith(b"\r") else raw
        expected.append(LINE_TOO_LONG if len(line) > max_line else line)
    if len(tail) > max_line + 1:
        expected.append(LINE_TOO_LONG)
    lines, rest = _frame_whole(data, max_line)
    assert lines == expected
    assert len(rest) <= 1
    if rest and rest[0] is not LINE_TOO_LONG:  # at EOF: the unterminated tail, within the cap
        assert len(rest[0]) <= max_line and b"\n" not in rest[0]
        assert tail.startswith(rest[0])


# -- the sanitizer ---------------------------------------------------------------

# C0 except tab, DEL, C1: what a terminal may obey. ESC (0x1b) and CSI (0x9b) are among them.
FORBIDDEN = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f]")

_NASTY = st.sampled_from([
    "\x1b", "\x1b[", "\x1b[31m", "\x1b]0;title\x07", "\x1b]8;;http://x\x1b\\", "\x1bP", "\x9b",
    "\x9d", "\x9c", "\x07", "\x00", "\r", "\n", "\x7f", "\x85", "\t", "[31m", ";", "m", "é",
    "\ufffd",
])
texts = st.lists(st.one_of(_NASTY, st.text(max_size=8)), max_size=30).map("".join)
# Printable text: nothing a terminal treats as a control (category Cc), no surrogates,
# and no format characters (Cf: the byte order mark, bidi overrides, zero-width ones),
# which clean() removes on purpose as invisible.
printable = st.text(st.characters(blacklist_categories=("Cc", "Cs", "Cf")), max_size=20)


@settings(max_examples=300, deadline=None, database=None)
@given(raw=st.one_of(st.binary(max_size=200), texts.map(lambda t: t.encode("utf-8", "replace"))))
def test_clean_never_lets_a_control_character_through_bytes(raw):
    cleaned = clean(raw)
    assert not FORBIDDEN.search(cleaned), ascii(cleaned)


@settings(max_examples=300, deadline=None, database=None)
@given(text=texts)
def test_clean_never_lets_a_control_character_through_text(text):
    cleaned = clean(text)
    assert not FORBIDDEN.search(cleaned), ascii(cleaned)
    assert clean(cleaned) == cleaned  # cleaning twice changes nothing


@FAST
@given(text=printable)
def test_clean_leaves_printable_text_alone(text):
    assert clean(text) == text
    assert clean(text.encode()) == text


@FAST
@given(
    before=printable, after=printable,
    sequence=st.one_of(
        # CSI, 7- and 8-bit: parameters, intermediates, final byte.
        st.from_regex(r"\A(\x1b\[|\x9b)[0-?]{0,6}[ -/]{0,2}[@-~]\Z"),
        # OSC / DCS / APC strings, ended by BEL or ST.
        st.builds(lambda intro, body, end: intro + body + end,
                  st.sampled_from(["\x1b]", "\x1bP", "\x1b_", "\x9d"]),
                  printable, st.sampled_from(["\x07", "\x1b\\", "\x9c"])),
        # Two-byte escapes (ESC 7, ESC c, ...): any final but the CSI/string introducers.
        st.from_regex(r"\A\x1b[0-OQ-WYZ\\`-~]\Z"),
    ),
)
def test_clean_removes_a_whole_escape_sequence_and_nothing_around_it(before, sequence, after):
    assert clean(before + sequence + after) == before + after
