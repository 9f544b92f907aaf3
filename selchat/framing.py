"""Splitting a byte stream into lines, with a hard cap on what is held.

``LineBuffer`` is sans-I/O: the caller feeds it whatever ``recv`` returned and
asks for complete lines one at a time, so a caller that must stop early (flood
control) leaves the rest waiting here, in order. Lines end in ``\\n``; a
``\\r`` just before it is dropped, a lone ``\\r`` is ordinary data.

End of stream is ``feed(b"")``, as in h11's ``receive_data(b"")``: the
unterminated last line, if any, comes out as a line (an end of stream ends a
line as a newline does), then `next_line` answers ``END_OF_STREAM`` from then on.

Memory: the partial line held between reads never exceeds ``max_line`` bytes
(plus the ``\\r`` that may precede its newline). A line that outgrows the cap is
reported once as ``LINE_TOO_LONG`` and its bytes are thrown away up to and
including its newline; what follows is framed normally.

The buffer is an immutable ``bytes`` plus a read offset, and it is the shared
empty ``b""`` whenever everything was consumed: an idle connection, which is
most of them, holds no buffer at all, and a line comes out with one copy. The
price is a copy of the held partial line on each feed, bounded by the cap.
Like h11's receive buffer, it remembers how far it already searched, so a line
trickling in byte by byte is scanned once, not once per byte.
"""
from typing import Optional, Union


class _LineTooLong:
    """Sentinel for an overlong line (its repr is its name, as h11's sentinels)."""

    def __repr__(self) -> str:
        return "LINE_TOO_LONG"


LINE_TOO_LONG = _LineTooLong()


class EndOfStream:
    """Sentinel for the end of the stream: no line will ever come again."""

    def __repr__(self) -> str:
        return "END_OF_STREAM"


END_OF_STREAM = EndOfStream()

Line = Union[bytes, _LineTooLong]


class LineBuffer:
    __slots__ = ("max_line", "_buf", "_pos", "_searched", "_discarding", "_ended")

    def __init__(self, max_line: int) -> None:
        self.max_line = max_line
        self._buf = b""
        self._pos = 0  # start of the first line not yet returned
        self._searched = 0  # no newline in _buf[_pos:_searched]; never below _pos
        self._discarding = False  # inside an overlong line, dropping to its newline
        self._ended = False  # fed b"": the stream is over

    def feed(self, data: Union[bytes, memoryview]) -> None:
        """Store bytes from the peer (``b""``: the end of the stream); lines
        come out of `next_line`."""
        if not data:
            self._ended = True
            return
        if self._pos < len(self._buf):
            self._buf = self._buf[self._pos :] + data
            self._searched -= self._pos
        else:
            self._buf = bytes(data)
            self._searched = 0
        self._pos = 0

    def next_line(self) -> Union[Line, EndOfStream, None]:
        """The next complete line without its line end, LINE_TOO_LONG, None
        (more bytes needed), or END_OF_STREAM (the stream is over and every line out)."""
        buf = self._buf
        while True:
            end = buf.find(b"\n", self._searched)
            if end < 0:
                if self._ended:
                    return self._last_line()
                return self._hold_partial()
            start, self._pos = self._pos, end + 1
            self._searched = self._pos
            if self._discarding:
                self._discarding = False
                continue
            if end > start and buf[end - 1] == 13:  # b"\r"
                end -= 1
            if end - start > self.max_line:
                return LINE_TOO_LONG
            return buf[start:end]

    def _last_line(self) -> Union[Line, EndOfStream]:
        """At the end of the stream: the unterminated last line once, then END_OF_STREAM."""
        rest = b"" if self._discarding else self._buf[self._pos :]
        self._buf = b""
        self._pos = self._searched = 0
        self._discarding = False
        if not rest:
            return END_OF_STREAM
        return LINE_TOO_LONG if len(rest) > self.max_line else rest

    def has_line(self) -> bool:
        """True if `next_line` has something other than None to answer."""
        return self._ended or self._buf.find(b"\n", self._searched) >= 0

    @property
    def pending(self) -> int:
        """Bytes held that have not been returned as lines."""
        return len(self._buf) - self._pos

    def _hold_partial(self) -> Optional[Line]:
        """No newline yet: drop what was consumed, cut a partial line past the cap."""
        if self._pos >= len(self._buf):
            self._buf = b""  # all consumed: hold nothing
            self._pos = self._searched = 0
            return None
        self._searched = len(self._buf)
        if self.pending <= self.max_line + 1:  # room for a trailing b"\r"
            return None
        self._buf = b""
        self._pos = self._searched = 0
        if self._discarding:
            return None
        self._discarding = True
        return LINE_TOO_LONG
