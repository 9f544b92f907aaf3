"""Signals as bytes on a pipe that ``select()`` watches.

By default Ctrl-C raises KeyboardInterrupt wherever the program happens to be,
perhaps halfway through a send or a broadcast. Here a signal only writes its
number to a pipe (`signal.set_wakeup_fd`), which wakes the event loop, and the
loop acts on it between two steps. Shared by the server and the client.
"""
import contextlib
import os
import signal
from typing import Iterator, Sequence


@contextlib.contextmanager
def signals_as_input(names: Sequence[str]) -> Iterator[int]:
    """While inside, the signals named arrive as bytes (their numbers) on the
    file descriptor yielded. Signals already ignored (nohup) stay ignored."""
    read_end, write_end = os.pipe()
    os.set_blocking(read_end, False)
    os.set_blocking(write_end, False)
    old_wakeup_fd = signal.set_wakeup_fd(write_end)
    signums = [getattr(signal, name) for name in names]
    old_handlers = {
        signum: signal.signal(signum, _wake_only)
        for signum in signums
        if signal.getsignal(signum) is not signal.SIG_IGN
    }
    try:
        yield read_end
    finally:
        for signum, handler in old_handlers.items():
            signal.signal(signum, handler)
        signal.set_wakeup_fd(old_wakeup_fd)
        os.close(read_end)
        os.close(write_end)


def read_signals(fd: int) -> bytes:
    """The signal numbers that arrived, as bytes (empty if none)."""
    try:
        return os.read(fd, 512)
    except (BlockingIOError, InterruptedError):
        return b""


def _wake_only(signum: int, frame: object) -> None:
    """Python needs a handler for the wake-up fd to be written; the loop does the rest."""
