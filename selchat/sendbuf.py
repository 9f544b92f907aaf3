"""Output queued for one connection, sent by scatter/gather, never copied.

Most chunks are the same broadcast object shared by every member, and a
sender's own piece is a few memoryview slices of it; the queue keeps those
references as they are and hands them to ``sendmsg`` (asyncio's
``_write_sendmsg`` shape), so a backlog costs its recipients a list of
pointers, not a copy each. The unsent tail of a partly sent chunk is a
memoryview slice of it, again not a copy. The list exists only while something
is queued, and goes when the queue drains: an idle connection holds none.
"""
import os
from typing import List, Optional, Sequence, Union

Buffer = Union[bytes, memoryview]

#: Buffers one ``sendmsg`` may carry (the kernel's IOV_MAX, 1024 on Linux).
try:
    IOV_MAX = max(16, os.sysconf("SC_IOV_MAX"))
except (AttributeError, ValueError, OSError):
    IOV_MAX = 16


class SendBuffer:
    __slots__ = ("_chunks", "pending")

    def __init__(self) -> None:
        self._chunks: Optional[List[Buffer]] = None
        self.pending = 0  #: bytes queued and not yet sent

    def append(self, data: Buffer) -> None:
        if self._chunks is None:
            self._chunks = [data]
        else:
            self._chunks.append(data)
        self.pending += len(data)

    def extend(self, pieces: Sequence[Buffer], size: int) -> None:
        """Queue `pieces`, `size` bytes in all."""
        if self._chunks is None:
            self._chunks = list(pieces)
        else:
            self._chunks.extend(pieces)
        self.pending += size

    def buffers(self) -> List[Buffer]:
        """The head of the queue, as many buffers as one ``sendmsg`` takes."""
        chunks = self._chunks
        if chunks is None:
            return []
        return chunks if len(chunks) <= IOV_MAX else chunks[:IOV_MAX]

    def advance(self, sent: int) -> None:
        """Forget the first `sent` bytes, which the kernel accepted."""
        if sent >= self.pending:
            self._chunks = None
            self.pending = 0
            return
        if not sent:
            return
        chunks = self._chunks
        assert chunks is not None
        self.pending -= sent
        done = 0
        for index, chunk in enumerate(chunks):
            size = len(chunk)
            if sent < size:
                done = index
                break
            sent -= size
        if sent:
            chunks[done] = memoryview(chunks[done])[sent:]
        del chunks[:done]
