"""Waiting on a condition or a pipe with a deadline: a test never sleeps a fixed time,
so it is as fast as what it waits for and fails (never hangs) when that never comes."""
import selectors
import time

from support.constants import TIMEOUT


def wait_for(condition, timeout: float = TIMEOUT, interval: float = 0.01):
    """Poll `condition` until it is truthy; fail after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(interval)


def readline_with_deadline(pipe, timeout: float) -> bytes:
    """A line from `pipe` once it is readable, or b"" if nothing comes within `timeout`."""
    sel = selectors.DefaultSelector()
    sel.register(pipe, selectors.EVENT_READ)
    try:
        if not sel.select(timeout):
            return b""
        return pipe.readline()
    finally:
        sel.close()

