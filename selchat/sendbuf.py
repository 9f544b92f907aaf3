"""Output queued for one connection, sent in one piece per loop pass.

A list of ``bytes`` plus one ``b"".join`` per send measured faster here than a
growing ``bytearray`` or ``sendmsg`` over the list: most chunks are the same
broadcast object shared by every recipient, so appending costs no copy, and
the one join per send replaces many small syscalls.
"""
from typing import List


class SendBuffer:
    __slots__ = ("_chunks", "pending")

    def __init__(self) -> None:
        self._chunks: List[bytes] = []
        self.pending = 0  #: bytes queued and not yet sent

    def append(self, data: bytes) -> None:
        self._chunks.append(data)
        self.pending += len(data)

    def view(self) -> bytes:
        """Everything queued, as one object to hand to ``send``."""
        chunks = self._chunks
        if len(chunks) > 1:
            chunks[:] = [b"".join(chunks)]
        return chunks[0] if chunks else b""

    def advance(self, sent: int) -> None:
        """Forget the first `sent` bytes, which the kernel accepted."""
        if sent >= self.pending:
            self._chunks.clear()
            self.pending = 0
        elif sent:
            self._chunks[:] = [self.view()[sent:]]
            self.pending -= sent
