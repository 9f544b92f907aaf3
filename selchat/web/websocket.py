"""The chat line protocol over a WebSocket, after the HTTP upgrade.

Incoming, `WebSocketLines` has the reading shape of `selchat.framing.LineBuffer`,
so the server loop can treat a browser like a terminal: `feed` whatever
``recv`` returned (``b""`` at end of stream), then take lines with
`next_line` while the flood budget lasts. Frames are decoded by wsproto's
frame-level `Connection` (unmasking, fragments, control frames, UTF-8); this
module turns messages into lines and decides how the session ends.

* One text message is one line; a message holding newlines is several
  (``\\n`` or ``\\r\\n``; an empty part after the last newline is no line).
* A line longer than ``max_line`` bytes is not reported (as
  ``LINE_TOO_LONG`` is for TCP): the browser's own page never sends one, so the
  peer is broken or hostile, and the connection is closed with 1009.
* Binary messages are closed with 1003, frame errors with 1002 (or the code
  wsproto gives, such as 1007 for invalid UTF-8), end of stream is 1006, and a
  close from the peer is answered with a close carrying its code.

Once the session is over, `next_line` returns `END_OF_STREAM` (after the lines that
came before it) and `close_code` says why; whatever `data_to_send` returns
must still be sent before the socket is closed. Work happens in `next_line`,
not in `feed`: a throttled client's input waits here undecoded, and the
server stops reading its socket, as it does for TCP.

Frames that complete no line (pings, pongs, empty messages, pieces of a
message) are not free: every `selchat.flood.FRAMES_PER_TOKEN` of them,
`next_line` returns `IDLE_FRAMES`, which the caller charges as one token
before it asks again. So one call decodes at most that many frames without
answering, and a client whose budget is spent has the rest of its frames
wait here undecoded, like its lines. Pongs are queued as pieces and joined
once by `data_to_send`: linear in the pings, however many a read brought.

Outgoing, selchat frames its own messages (`text_frame`, `close_frame`):
no compression is ever negotiated, so a broadcast is framed once and the same
bytes go to every browser. Server frames are never masked (RFC 6455 §5.1).
"""
import struct
from typing import List, Optional, Sequence, Union

from wsproto.connection import Connection, ConnectionState, ConnectionType
from wsproto.events import BytesMessage, CloseConnection, Ping, TextMessage

from selchat.flood import FRAMES_PER_TOKEN
from selchat.framing import END_OF_STREAM, EndOfStream

# RFC 6455 §5.2 opcodes, and the FIN bit of a frame's first byte.
_FIN = 0x80
_TEXT, _CLOSE, _PONG = 0x1, 0x8, 0xA
#: RFC 6455 §7.4.1 close codes this module sends or reports.
NORMAL, GOING_AWAY, NO_STATUS, ABNORMAL = 1000, 1001, 1005, 1006
PROTOCOL_ERROR, UNSUPPORTED_DATA, TOO_BIG = 1002, 1003, 1009
#: Control frame payloads are at most 125 bytes (§5.5); a close's reason gets
#: what its 2-byte code leaves.
_MAX_REASON = 123


class _IdleFrames:
    """Sentinel: `FRAMES_PER_TOKEN` frames were decoded that completed no line."""

    def __repr__(self) -> str:
        return "IDLE_FRAMES"


IDLE_FRAMES = _IdleFrames()

WsLine = Union[bytes, EndOfStream, _IdleFrames]


def text_frame(payload: bytes) -> bytes:
    """One unmasked, final text frame carrying `payload` (whole UTF-8 lines).

    RFC 6455 §5.2: the length takes 7 bits, or 126 then 16 bits, or 127 then
    64 bits, whichever is the shortest that fits.
    """
    return _header(_TEXT, len(payload)) + payload


def text_frame_pieces(pieces: Sequence[Union[bytes, memoryview]],
                      ) -> List[Union[bytes, memoryview]]:
    """`text_frame` of `pieces` joined, without joining them: the header, then
    the pieces as they are (a replay's are the history's own bytes)."""
    return [_header(_TEXT, sum(map(len, pieces))), *pieces]


def close_frame(code: int, reason: str = "") -> bytes:
    """A close frame with `code` and `reason` (cut to fit 125 bytes, on a
    character boundary)."""
    encoded = reason.encode()[:_MAX_REASON].decode("utf-8", "ignore").encode()
    payload = struct.pack("!H", code) + encoded
    return _header(_CLOSE, len(payload)) + payload


def _header(opcode: int, length: int) -> bytes:
    if length < 126:
        return bytes((_FIN | opcode, length))
    if length < 1 << 16:
        return struct.pack("!BBH", _FIN | opcode, 126, length)
    return struct.pack("!BBQ", _FIN | opcode, 127, length)


class WebSocketLines:
    """Lines from one upgraded connection; see the module docstring.

    `trailing` is what followed the upgrade request on the socket: the first
    bytes of the WebSocket stream.
    """

    __slots__ = ("max_line", "close_code", "_ws", "_eof", "_lines", "_partial", "_out", "_unread",
                 "_idle")

    def __init__(self, max_line: int, trailing: bytes = b"") -> None:
        self.max_line = max_line
        #: Why the session ended (None while it lasts): the peer's close code,
        #: the code sent for its error, or 1006 for a plain end of stream.
        self.close_code: Optional[int] = None
        self._ws: Optional[Connection] = Connection(ConnectionType.SERVER)
        self._eof = False  # end of stream seen; reported after the frames before it
        # Decoded lines not yet returned, in reverse order (pop() takes the
        # first), and the unterminated tail of a message still arriving. Both
        # stay empty shared constants while idle: no per-connection list.
        self._lines: List[bytes] = _NO_LINES
        self._partial = b""
        self._out: List[bytes] = _NOTHING  # frames to send, joined by data_to_send
        self._unread = False  # fed bytes not yet decoded
        self._idle = 0  # frames that completed no line, not yet reported
        if trailing:
            self.feed(trailing)

    def feed(self, data: Union[bytes, memoryview]) -> None:
        """Store bytes from the peer (``b""``: end of stream); they are copied,
        so a buffer the caller reuses is fine."""
        if self._ws is None:  # over: anything more is ignored
            return
        self._unread = True
        if data:
            self._ws.receive_data(bytes(data))
        else:
            self._eof = True

    def next_line(self) -> Optional[WsLine]:
        """The next line (bytes, no newline), None for "need data", END_OF_STREAM, or
        IDLE_FRAMES (charge a token, then ask again)."""
        while not self._lines:
            if self._idle >= FRAMES_PER_TOKEN:
                self._idle -= FRAMES_PER_TOKEN
                return IDLE_FRAMES
            if self._ws is None:
                return END_OF_STREAM
            if not self._decode_one():
                self._unread = False
                return None
        line = self._lines.pop()
        if not self._lines:
            self._lines = _NO_LINES
        return line

    def has_line(self) -> bool:
        """True if `next_line` may have something other than None to answer
        (bytes not yet decoded may hold a line: they are decoded on demand)."""
        return bool(self._lines) or self._ws is None or self._unread

    def data_to_send(self) -> bytes:
        """Frames this side must send (pongs, close replies), then nothing."""
        out, self._out = self._out, _NOTHING
        return b"".join(out)

    def _send(self, frame: bytes) -> None:
        if self._out is _NOTHING:
            self._out = []
        self._out.append(frame)

    def _decode_one(self) -> bool:
        """Handle one wsproto event; False when it needs more data."""
        ws = self._ws
        assert ws is not None
        event = next(ws.events(), None)
        if event is None:
            if not self._eof:
                return False
            self._finish(ABNORMAL, reply=False)  # no close frame: RFC 6455 §7.1.5
            return True
        if isinstance(event, TextMessage):
            if self._take_text(event.data.encode(), event.message_finished) \
                    or not event.frame_finished:
                return True  # its lines pay for it; a frame's first pieces, their reads
        elif isinstance(event, Ping):
            self._send(_header(_PONG, len(event.payload)) + event.payload)
        elif isinstance(event, CloseConnection):
            # The peer's own close, or a frame wsproto could not parse (it
            # names the code: 1002, or 1007 for invalid UTF-8).
            peer_closed = ws.state is ConnectionState.REMOTE_CLOSING
            self._finish(event.code, reason="" if peer_closed else event.reason or "")
        elif isinstance(event, BytesMessage):
            self._finish(UNSUPPORTED_DATA, "text messages only")
        # A Pong (we never ping) needs nothing.
        self._idle += 1
        return True

    def _take_text(self, data: bytes, finished: bool) -> bool:
        """Add a piece of a text message; split off its complete lines (True
        if there were some)."""
        text = self._partial + data if self._partial else data
        parts = text.split(b"\n")
        rest = parts.pop()
        if finished:
            self._partial = b""
            if rest:
                parts.append(rest)
        else:
            self._partial = rest
        limit = self.max_line
        lines = []
        for part in parts:
            if part.endswith(b"\r"):
                part = part[:-1]
            if len(part) > limit:
                self._finish(TOO_BIG, f"line over {limit} bytes")
                return False
            lines.append(part)
        # A tail can still lose a "\r" when its newline comes: allow one more.
        if len(self._partial) > limit + 1:
            self._finish(TOO_BIG, f"line over {limit} bytes")
            return False
        if not lines:
            return False
        lines.reverse()
        self._lines = lines
        return True

    def _finish(self, code: int, reason: str = "", reply: bool = True) -> None:
        """End the session with `code`, answering with a close frame unless the
        stream is gone. Lines of earlier messages were returned already."""
        self.close_code = code
        if reply:
            # Echo the peer's code; a close without one (1005 is never on the
            # wire) is answered the same way.
            self._send(_header(_CLOSE, 0) if code == NO_STATUS else close_frame(code, reason))
        self._ws = None
        self._partial = b""


_NO_LINES: List[bytes] = []  # shared; never appended to, only replaced
_NOTHING: List[bytes] = []  # shared, as _NO_LINES: no frames to send
