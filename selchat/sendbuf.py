"""Output queued for one connection, sent in one piece per loop pass.

A list of ``bytes`` plus one ``b"".join`` per send measured faster here than a
growing ``bytearray`` or ``sendmsg`` over the list: most chunks are the same
broadcast object shared by every recipient, so appending costs no copy, and
the one join per send replaces many small syscalls. The list exists only
while something is queued: an idle connection holds none.
"""
from typing import List, Optional


class SendBuffer:
    __slots__ = ("_chunks", "pending")

    def __init__(self) -> None:
        self._chunks: Optional[List[bytes]] = None
        self.pending = 0  #: bytes queued and not yet sent

    def append(self, data: bytes) -> None:
        if self._chunks is None:
            self._chunks = [data]
        else:
            self._chunks.append(data)
        self.pending += len(data)

    def view(self) -> bytes:
        """Everything queued, as one object to hand to ``send``."""
        chunks = self._chunks
        if chunks is None:
            return b""
        if len(chunks) > 1:
            chunks[:] = [b"".join(chunks)]
        return chunks[0]

    def advance(self, sent: int) -> None:
        """Forget the first `sent` bytes, which the kernel accepted."""
        if sent >= self.pending:
            self._chunks = None
            self.pending = 0
        elif sent:
            self._chunks = [self.view()[sent:]]
            self.pending -= sent
