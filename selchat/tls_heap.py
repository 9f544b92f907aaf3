"""Handing the heap's free pages back to the kernel after a burst of TLS handshakes.

A TLS handshake needs OpenSSL's 17 KB record buffers, the handshake messages
and the key exchange for a few round trips; a connection that shook hands
keeps about 13 KB (docs/benchmarks.rst, "TLS", measured). When hundreds of
newcomers shake hands at once, their temporary memory and the connections'
lasting memory are interleaved in the heap: once the handshakes end, glibc
keeps the freed gaps (between live blocks, it cannot shrink the heap from the
top), and the server's RSS stays at the burst's peak: 5-9 KB per connection
more than it uses. ``malloc_trim(0)`` gives the whole free pages inside those
gaps back (``madvise``), 2-25 ms for thousands of connections' worth; so a
TLS port calls it once no handshake is under way and at least `TRIM_AFTER`
have ended since the last time, not after each.

Only glibc has ``malloc_trim``: elsewhere (musl, macOS) or without ``ctypes``
nothing is trimmed, and a debug line says so.
"""
import functools
import logging
from typing import Callable, Optional

log = logging.getLogger(__name__)

#: Handshakes ended (done or given up) between two trims, at least: a trim
#: walks the heap's free blocks (2-25 ms measured after 2,000-4,000
#: handshakes), and 256 handshakes cost the server about 0.2 s of CPU, so the
#: trim adds at most a few per cent to a burst, and a trickle of newcomers
#: trims rarely.
TRIM_AFTER = 256

Trim = Callable[[int], int]


def find_malloc_trim(load: Optional[Callable[[], object]] = None) -> Optional[Trim]:
    """glibc's ``malloc_trim``, or None where there is none. `load` gives the
    library to look in (the process's own symbols by default)."""
    try:
        import ctypes
        library = load() if load is not None else ctypes.CDLL(None)
        trim = library.malloc_trim  # type: ignore[attr-defined]
        trim.argtypes = [ctypes.c_size_t]
        trim.restype = ctypes.c_int
    except (ImportError, OSError, AttributeError, TypeError) as exc:
        log.debug("no malloc_trim (%s): memory freed after TLS handshakes stays in the heap",
                  exc)
        return None
    return trim  # type: ignore[no-any-return]


@functools.lru_cache(maxsize=None)
def malloc_trim() -> Optional[Trim]:
    """`find_malloc_trim`'s answer for this process, looked up once."""
    return find_malloc_trim()


class HeapTrimmer:
    """Counts the handshakes that end and trims the heap after a burst of them."""

    __slots__ = ("_trim", "_ended")

    def __init__(self, trim: Optional[Trim]) -> None:
        self._trim = trim
        self._ended = 0

    def ended(self, under_way: int) -> bool:
        """A handshake ended (done or given up) and `under_way` others have
        not: whether this one trimmed the heap."""
        self._ended += 1
        if self._trim is None or under_way or self._ended < TRIM_AFTER:
            return False
        self._ended = 0
        self._trim(0)
        return True
