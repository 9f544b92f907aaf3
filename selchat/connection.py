"""One client socket with its read and write buffers.

`Connection` is where socket errors are translated into three plain answers,
so the server loop never sees an exception from a peer:

* `read_once()` does a single ``recv_into``: the byte count, 0 for end of
  stream (an orderly FIN *or* a reset), or ``None`` for "nothing now"
  (``EAGAIN`` or ``EINTR``; the selector will say when to try again).
* `write(data)` sends at once when nothing is queued, else queues; `flush()`
  does a single ``send`` of everything queued: True if the buffer is now empty, False if bytes remain (the peer is slow: the server asks the
  selector for write readiness), and it marks the connection `failed` when
  the peer is gone (``EPIPE``, ``ECONNRESET``).

The flags are owned by the server: `reading` (read interest wanted), `closing`
(close once the output is drained), `failed` (close now, drop the output).
"""
import socket
from typing import Optional

from selchat.flood import TokenBucket
from selchat.framing import LineBuffer
from selchat.sendbuf import SendBuffer

#: Bytes asked of one ``recv``. asyncio reads 256 KiB, Redis 16 KiB; chat lines
#: are short, and 64 KiB drains a burst of them in one call.
RECV_SIZE = 64 * 1024


class Connection:
    __slots__ = (
        "sock", "session", "lines", "out", "bucket",
        "reading", "closing", "failed", "events", "deadline",
    )

    def __init__(
        self, sock: socket.socket, session: int, max_line: int, bucket: Optional[TokenBucket]
    ) -> None:
        self.sock = sock
        self.session = session
        self.lines = LineBuffer(max_line)
        self.out = SendBuffer()
        self.bucket = bucket  # None when flood control is off
        self.reading = True
        self.closing = False
        self.failed = False
        self.events = 0  # the selector mask currently registered (0: not registered)
        self.deadline = 0.0  # for a name while unnamed, for draining while closing

    def read_once(self, buffer: memoryview) -> Optional[int]:
        """One ``recv_into`` the caller's buffer: bytes read, 0 at end of stream,
        None if nothing is there. (One buffer shared by all connections spares a
        64 KiB allocation per read.)"""
        try:
            return self.sock.recv_into(buffer)
        except (BlockingIOError, InterruptedError):
            return None
        except OSError:  # ECONNRESET, ETIMEDOUT (keepalive gave up), ...
            self.failed = True
            return 0

    def write(self, data: bytes) -> bool:
        """Send `data` at once if nothing is queued before it, else queue it.

        asyncio's "try to send now": most writes cost one ``send`` and no
        bookkeeping. True if it all went; False if some is queued for `flush`
        (or the peer failed).
        """
        out = self.out
        if out.pending:
            out.append(data)
            return False
        sent = self._send(data)
        if sent == len(data):
            return True
        if not self.failed:
            out.append(data[sent:])
        return False

    def flush(self) -> bool:
        """One ``send`` of all queued output; True once nothing is left."""
        out = self.out
        if not out.pending:
            return True
        out.advance(self._send(out.view()))
        return not out.pending

    def _send(self, data: bytes) -> int:
        """Bytes the kernel took: 0 when it would block, or when the peer is gone
        (EPIPE, ECONNRESET), which marks the connection failed."""
        try:
            return self.sock.send(data)
        except (BlockingIOError, InterruptedError):
            return 0
        except OSError:
            self.failed = True
            return 0

    def peer(self) -> str:
        """The peer's address for log lines ("?" once the socket is gone)."""
        try:
            host, port = self.sock.getpeername()[:2]
        except OSError:
            return "?"
        return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
