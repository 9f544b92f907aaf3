"""The hashing worker's pipes in the server's selector: scrypt off the loop,
without threads.

`Hasher` starts `selchat.accounts.worker` as a child process and keeps both
ends of its pipes non-blocking in the loop's selector (as a listener or a bus
link is: the selector's ``key.data`` is a callable). A request is a line
queued for the worker's stdin (written when the pipe takes it, write interest
only while some is left); its answer arrives as a readable stdout in a later
pass and runs the request's callback there. The loop never waits on the
worker: a pass costs a write and a read of a few dozen bytes.

Bounded: at most MAX_PENDING requests wait; past that `submit` says no and
the caller answers "busy" (a burst of logins cannot queue without end). A
worker that dies is started again; the requests it had are answered None.
"""
import logging
import os
import selectors
import subprocess
import sys
from typing import Callable, Dict, Optional

from selchat.accounts.passwords import DEFAULT_N, Request, parse_answer

log = logging.getLogger(__name__)

#: Requests waiting for the worker at once. At ~60 ms each, 512 is half a
#: minute of logins: past that a newcomer is told to try again, not queued.
MAX_PENDING = 512
#: Bytes of answers read per readable pass (answers are ~100 bytes).
READ_SIZE = 64 * 1024

Callback = Callable[[Optional[str]], None]


class Hasher:
    """Hash and check passwords in a worker process; `n` is scrypt's cost for
    new hashes. Callbacks run from the loop's pass that read their answer."""

    def __init__(self, selector: selectors.BaseSelector, n: int = DEFAULT_N) -> None:
        self._selector = selector
        self.n = n
        self._numbers = 0
        self._pending: Dict[int, Callback] = {}
        self._out = bytearray()  # request lines the pipe has not taken yet
        self._in = bytearray()  # a partial answer line
        self._worker: Optional[subprocess.Popen] = None
        self._writing = False
        self._start()

    def _start(self) -> None:
        worker = subprocess.Popen(
            [sys.executable, "-m", "selchat.accounts.worker"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, close_fds=True)
        assert worker.stdin is not None and worker.stdout is not None
        os.set_blocking(worker.stdin.fileno(), False)
        os.set_blocking(worker.stdout.fileno(), False)
        self._selector.register(worker.stdout.fileno(), selectors.EVENT_READ, self._readable)
        self._worker = worker
        self._writing = False

    @property
    def pending(self) -> int:
        return len(self._pending)

    def hash(self, password: str, callback: Callback) -> bool:
        """A new hash of `password` for `callback`; False if too many wait."""
        return self._submit("hash", str(self.n), password, callback)

    def check(self, password: str, stored: str, callback: Callback) -> bool:
        """Whether `password` matches `stored`: `callback("1")` or ``("0")``."""
        return self._submit("check", stored, password, callback)

    def _submit(self, op: str, argument: str, password: str, callback: Callback) -> bool:
        if len(self._pending) >= MAX_PENDING or self._worker is None:
            return False
        self._numbers += 1
        self._pending[self._numbers] = callback
        self._out += Request(self._numbers, op, argument, password).line()
        self._write()
        return True

    def _write(self, mask: int = 0) -> None:
        worker = self._worker
        assert worker is not None and worker.stdin is not None
        fd = worker.stdin.fileno()
        try:
            sent = os.write(fd, self._out) if self._out else 0
        except BlockingIOError:
            sent = 0
        except OSError:  # the worker is gone: its stdout's end of file restarts it
            sent = len(self._out)
        del self._out[:sent]
        if self._out and not self._writing:
            self._selector.register(fd, selectors.EVENT_WRITE, self._write)
            self._writing = True
        elif not self._out and self._writing:
            self._selector.unregister(fd)
            self._writing = False

    def _readable(self, mask: int) -> None:
        worker = self._worker
        assert worker is not None and worker.stdout is not None
        try:
            data = os.read(worker.stdout.fileno(), READ_SIZE)
        except BlockingIOError:
            return
        if not data:
            self._lost()
            return
        self._in += data
        *lines, rest = self._in.split(b"\n")
        self._in = bytearray(rest)
        for line in lines:
            parsed = parse_answer(bytes(line))
            if parsed is not None and parsed[0] in self._pending:
                self._pending.pop(parsed[0])(parsed[1])

    def _lost(self) -> None:
        """The worker died: its requests fail, and a new one starts."""
        log.error("password worker exited; starting another (%d checks failed)",
                  len(self._pending))
        self.close()
        pending, self._pending = self._pending, {}
        self._out.clear()
        self._in.clear()
        self._start()
        for callback in pending.values():
            callback(None)

    def close(self) -> None:
        worker, self._worker = self._worker, None
        if worker is None:
            return
        assert worker.stdin is not None and worker.stdout is not None
        if self._writing:
            self._selector.unregister(worker.stdin.fileno())
        self._selector.unregister(worker.stdout.fileno())
        worker.stdin.close()
        worker.stdout.close()
        worker.kill()
        worker.wait()
