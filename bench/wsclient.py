"""The harness's own WebSocket client side (RFC 6455), small enough for a hot loop.

A WebSocket client is a line client with a wrapper: it opens with an HTTP
upgrade request, sends each line as one masked text message, and receives
text frames whose payloads, laid end to end, are exactly the byte stream a
TCP client gets (the chat servers put whole ``\\n``-terminated lines in each
message). So `Unframer` only peels frame headers off what ``recv`` returned
and hands the payload bytes to the same record checks as TCP (`tally`):
nothing downstream knows which transport a client used.

Payloads are passed on as they arrive, without waiting for a frame to end,
so a large frame (a server that packs a whole loop pass into one) costs no
reassembly. Control frames are small (125 bytes at most) and are taken
whole: a ping is answered with a pong, a close ends the connection.

Client frames must be masked (§5.3). The key is drawn once per connection
(not per frame, as a browser would): the harness is the only sender and the
network is loopback, and it keeps masking to one big-integer XOR per frame.
"""
import base64
import hashlib
import os
import struct
from typing import List, Optional, Tuple

_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # RFC 6455 §1.3
_TEXT, _CLOSE, _PING, _PONG = 0x1, 0x8, 0x9, 0xA
_MAX_HANDSHAKE = 8192


def upgrade_request(host: str, port: int, key: bytes) -> bytes:
    """The opening handshake (§4.1); no Origin, as a non-browser client."""
    return (b"GET /ws HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\n"
            b"Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n"
            % (host.encode(), port, key))


def accept_for(key: bytes) -> bytes:
    return base64.b64encode(hashlib.sha1(key + _GUID).digest())


class Masker:
    """Masks client frames with one connection's key."""

    __slots__ = ("key", "_word")

    def __init__(self) -> None:
        self.key = os.urandom(4)
        self._word = self.key

    def frame(self, payload: bytes, opcode: int = _TEXT) -> bytes:
        size = len(payload)
        if size < 126:
            head = struct.pack("!BB", 0x80 | opcode, 0x80 | size)
        elif size < 1 << 16:
            head = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, size)
        else:
            head = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, size)
        if len(self._word) < size:
            self._word = self.key * (size // 4 + 1)
        mask = int.from_bytes(self._word[:size], "big")
        return head + self.key + (int.from_bytes(payload, "big") ^ mask).to_bytes(size, "big")


class Unframer:
    """One connection's incoming side: the 101 response, then frames.

    `feed(data)` returns (payload bytes, replies to send, closed).
    `error` is set (and ``closed`` returned) if the handshake was refused.
    """

    __slots__ = ("key", "handshaking", "head", "remaining", "error")

    def __init__(self, key: bytes) -> None:
        self.key = key
        self.handshaking = True
        self.head = b""  # an incomplete handshake, frame header or control frame
        self.remaining = 0  # payload bytes still due in the current text frame
        self.error: Optional[str] = None

    def feed(self, data: bytes) -> Tuple[bytes, bytes, bool]:
        if self.head:
            data = self.head + data
            self.head = b""
        at = 0
        if self.handshaking:
            end = data.find(b"\r\n\r\n")
            if end < 0:
                if len(data) > _MAX_HANDSHAKE:
                    self.error = "handshake response too long"
                    return b"", b"", True
                self.head = data
                return b"", b"", False
            if not self._accepted(data[:end]):
                return b"", b"", True
            self.handshaking = False
            at = end + 4
        pieces: List[bytes] = []
        replies = b""
        size = len(data)
        while at < size:
            if self.remaining:
                take = min(self.remaining, size - at)
                pieces.append(data[at:at + take])
                self.remaining -= take
                at += take
                continue
            parsed = _header(data, at)
            if parsed is None:
                self.head = data[at:]
                break
            opcode, length, start = parsed
            if opcode in (_TEXT, 0x0):  # a text frame or a continuation
                self.remaining = length
                at = start
                continue
            if start + length > size:  # a control frame: taken whole
                self.head = data[at:]
                break
            if opcode == _CLOSE:
                return b"".join(pieces), replies, True
            if opcode == _PING:
                replies += Masker().frame(data[start:start + length], _PONG)
            at = start + length  # a pong, or a binary frame: nothing to do
        return b"".join(pieces), replies, False

    def _accepted(self, head: bytes) -> bool:
        status, *lines = head.split(b"\r\n")
        if not status.startswith(b"HTTP/1.1 101"):
            self.error = status.decode(errors="replace")
            return False
        fields = dict(line.split(b":", 1) for line in lines if b":" in line)
        fields = {name.strip().lower(): value.strip() for name, value in fields.items()}
        if fields.get(b"sec-websocket-accept") != accept_for(self.key):
            self.error = "wrong Sec-WebSocket-Accept"
            return False
        return True


def _header(data: bytes, at: int) -> Optional[Tuple[int, int, int]]:
    """(opcode, payload length, payload start) of the frame at `at`, or None
    if its header is not all there. Server frames are never masked."""
    if len(data) - at < 2:
        return None
    opcode, length = data[at] & 0x0F, data[at + 1] & 0x7F
    if length < 126:
        return opcode, length, at + 2
    if length == 126:
        if len(data) - at < 4:
            return None
        return opcode, struct.unpack_from("!H", data, at + 2)[0], at + 4
    if len(data) - at < 10:
        return None
    return opcode, struct.unpack_from("!Q", data, at + 2)[0], at + 10


def new_key() -> bytes:
    return base64.b64encode(os.urandom(16))
