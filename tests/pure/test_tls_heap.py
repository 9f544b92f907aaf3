"""After a burst of TLS handshakes the heap's free pages go back to the kernel:
once per burst, never while one is under way, and nothing (no error) where
there is no glibc ``malloc_trim``."""
import platform

import pytest

from selchat import tls_heap
from selchat.tls_heap import TRIM_AFTER, HeapTrimmer, find_malloc_trim


def test_a_burst_trims_once_it_is_over():
    trims = []
    heap = HeapTrimmer(trims.append)
    for under_way in range(TRIM_AFTER + 10, 0, -1):  # the last ones end one by one
        assert not heap.ended(under_way)
    assert heap.ended(0)
    assert trims == [0]


def test_a_trickle_trims_every_so_many_handshakes():
    trims = []
    heap = HeapTrimmer(trims.append)
    done = [heap.ended(0) for _ in range(2 * TRIM_AFTER)]
    assert trims == [0, 0]
    assert [n for n, trimmed in enumerate(done, 1) if trimmed] == [TRIM_AFTER, 2 * TRIM_AFTER]


def test_without_malloc_trim_nothing_is_trimmed():
    heap = HeapTrimmer(None)
    assert not any(heap.ended(0) for _ in range(2 * TRIM_AFTER))


class NotGlibc:
    """A C library without ``malloc_trim`` (musl, macOS)."""


def no_library():
    raise OSError("cannot load")


@pytest.mark.parametrize("load", [NotGlibc, no_library])
def test_no_malloc_trim_is_none_not_an_error(load, caplog):
    caplog.set_level("DEBUG", logger=tls_heap.__name__)
    assert find_malloc_trim(load) is None
    assert "no malloc_trim" in caplog.text


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="malloc_trim is glibc's")
def test_glibc_has_malloc_trim():
    trim = find_malloc_trim()
    assert trim is not None
    assert trim(0) in (0, 1)
