"""Every core of one machine: ``selchat serve --workers N``.

A selchat server is one thread and one loop, so it uses one core. To use more,
the parent forks N workers before any client arrives (pre-fork, as nginx and
gunicorn do). Each worker is an ordinary server with its own listening sockets
on the same ports: SO_REUSEPORT lets them share a port, and the kernel spreads
new connections over them (by a hash of the addresses), so no worker accepts
for another and no lock is needed. They share one room only through the bus
(``--bus``); without it, each worker would be a separate room.

The parent serves nobody; it only supervises. It holds the ports (bound, never
listening, so that port 0 picks one port for all), and prints the startup lines
once, when every worker has said on a pipe that it listens. It restarts a
worker that dies, at most once a second per worker, so a crash loop does not
spin. It passes SIGINT and SIGTERM on to the workers, which shut down as a lone
server does, and exits when they all have; one still running after
STOP_DEADLINE is killed. Its loop is selchat's loop in small: a selector over
the signal pipe (SIGCHLD included) and the readiness pipe. There are no
threads, so forking is safe.

A new worker keeps SIGINT and SIGTERM (and SIGHUP) blocked until its server
handles them: one sent meanwhile waits, and then stops the server gracefully,
instead of killing a worker that is still starting.

With TLS every worker has the certificate the parent read (inherited at the
fork), and SIGHUP to the parent reads the files again in the parent (for
workers started later) and in every worker (for their new connections).
"""
import logging
import os
import selectors
import signal
import sys
import time
from dataclasses import dataclass
from typing import Callable, Dict, NoReturn, Optional, Set

from selchat.addresses import os_problem
from selchat.wakeup import read_signals, signals_as_input

log = logging.getLogger(__name__)

#: A worker that ended is started again at most this often (per worker).
RESTART_INTERVAL = 1.0
#: After SIGINT or SIGTERM, workers have this long to finish (a server's own
#: shutdown takes at most SHUTDOWN_GRACE, 2 s, in server.py).
STOP_DEADLINE = 10.0

#: Signals the parent passes on to its workers, which stop.
FORWARDED = {signal.SIGINT, signal.SIGTERM}
#: Signals a new worker holds back until its server handles them (with TLS the
#: parent passes SIGHUP on too: each worker reads its certificate again).
HELD_AT_START = FORWARDED | {signal.SIGHUP}

#: run_worker(number, ready): serve as worker `number` (1..N) until stopped,
#: calling ready() once listening, with its signal handlers in place.
RunWorker = Callable[[int, Callable[[], None]], None]


class WorkersFailed(Exception):
    """The workers did not start, or did not all finish cleanly: one line for people."""


def supervise(count: int, run_worker: RunWorker, announce: Callable[[], None],
              on_hangup: Optional[Callable[[], None]] = None) -> None:
    """Run `count` workers until SIGINT or SIGTERM, and until they have all finished.

    `announce` is called once, when every worker listens. With `on_hangup`
    (TLS), SIGHUP calls it in the parent (so that a worker started later
    inherits what it reloaded) and is passed on to every worker. Raises
    WorkersFailed.
    """
    _Supervisor(count, run_worker, announce, on_hangup).run()


@dataclass
class _Slot:
    """One worker's place: when its process started, and when to start the next."""

    number: int
    started: float = float("-inf")
    restart_at: Optional[float] = None


class _Supervisor:
    def __init__(self, count: int, run_worker: RunWorker, announce: Callable[[], None],
                 on_hangup: Optional[Callable[[], None]] = None) -> None:
        self._run_worker = run_worker
        self._announce = announce
        self._on_hangup = on_hangup
        self._caught = ("SIGINT", "SIGTERM", "SIGCHLD") + (("SIGHUP",) if on_hangup else ())
        self._slots = [_Slot(number) for number in range(1, count + 1)]
        self._running: Dict[int, _Slot] = {}  # by pid, until reaped
        self._ready: Set[int] = set()  # numbers of the workers listening, until all are
        self._announced = False
        self._stop_deadline: Optional[float] = None
        self._failure: Optional[str] = None  # why the exit status will not be 0
        self._selector = selectors.DefaultSelector()
        self._ready_read, self._ready_write = os.pipe()  # workers write "N\n" when listening
        self._unread = b""
        self._signal_fd = -1

    def run(self) -> None:
        try:
            with signals_as_input(self._caught) as self._signal_fd:
                self._selector.register(self._signal_fd, selectors.EVENT_READ, self._on_signals)
                self._selector.register(self._ready_read, selectors.EVENT_READ, self._on_ready)
                for slot in self._slots:
                    self._start(slot)
                while self._stop_deadline is None or self._running:
                    for key, _ in self._selector.select(self._timeout()):
                        key.data()
                    self._reap()
                    now = time.monotonic()
                    if self._stop_deadline is not None and now >= self._stop_deadline:
                        self._kill_stragglers()
                    for slot in self._slots:
                        if slot.restart_at is not None and now >= slot.restart_at:
                            self._start(slot)
        finally:
            self._selector.close()
            os.close(self._ready_read)
            os.close(self._ready_write)
        if self._failure:
            raise WorkersFailed(self._failure)

    def _timeout(self) -> Optional[float]:
        """Until the next restart or the stop deadline; None if neither is due."""
        due = [slot.restart_at for slot in self._slots if slot.restart_at is not None]
        if self._stop_deadline is not None:
            due.append(self._stop_deadline)
        return max(0.0, min(due) - time.monotonic()) if due else None

    def _start(self, slot: _Slot) -> None:
        slot.restart_at = None
        sys.stdout.flush()  # or the worker would write the parent's buffered lines again
        sys.stderr.flush()
        blocked = signal.pthread_sigmask(signal.SIG_BLOCK, HELD_AT_START)
        try:
            pid = os.fork()
            if pid == 0:
                self._be_worker(slot.number)
        except OSError as exc:
            self._lost(slot, f"could not be started: {os_problem(exc)}")
            return
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
        slot.started = time.monotonic()
        self._running[pid] = slot
        log.info("worker %d started: pid %d", slot.number, pid)

    def _be_worker(self, number: int) -> NoReturn:
        """In the child: drop the parent's loop, serve, and never return to it."""
        status = 1
        try:
            for name in self._caught:
                signal.signal(getattr(signal, name), signal.SIG_DFL)
            os.close(signal.set_wakeup_fd(-1))
            self._selector.close()
            os.close(self._signal_fd)
            os.close(self._ready_read)
            self._run_worker(number, lambda: self._report_ready(number))
            status = 0
        except SystemExit as exc:  # a one-line failure, already printed
            status = exc.code if isinstance(exc.code, int) else 1
        except BaseException:
            log.exception("worker %d failed", number)
        finally:
            os._exit(status)

    def _report_ready(self, number: int) -> None:
        """In the child, once its server listens and handles signals."""
        os.write(self._ready_write, b"%d\n" % number)
        os.close(self._ready_write)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, HELD_AT_START)

    def _on_ready(self) -> None:
        *lines, self._unread = (self._unread + os.read(self._ready_read, 4096)).split(b"\n")
        for line in lines:
            number = int(line)
            if self._announced:
                log.info("worker %d listening", number)
                continue
            self._ready.add(number)
            if len(self._ready) == len(self._slots) and self._stop_deadline is None:
                self._announced = True
                self._announce()

    def _on_signals(self) -> None:
        for signum in read_signals(self._signal_fd):
            if signum in FORWARDED:
                self._stop(signum)
            elif signum == signal.SIGHUP and self._on_hangup is not None:
                self._on_hangup()
                for pid in self._running:
                    os.kill(pid, signum)
        # SIGCHLD only wakes the loop, which reaps after every wake-up.

    def _stop(self, signum: int) -> None:
        """Pass the signal on to every worker, and start no more."""
        if self._stop_deadline is None:
            log.info("stopping %d workers", len(self._running))
            self._stop_deadline = time.monotonic() + STOP_DEADLINE
            for slot in self._slots:
                slot.restart_at = None
        for pid in self._running:
            os.kill(pid, signum)  # an unreaped worker cannot be gone: kill() cannot fail

    def _reap(self) -> None:
        while self._running:
            pid, status = os.waitpid(-1, os.WNOHANG)
            if pid == 0:
                return
            slot = self._running.pop(pid)
            code = os.waitstatus_to_exitcode(status)
            if code == 0 and self._stop_deadline is not None:
                log.info("worker %d (pid %d) finished", slot.number, pid)
            else:
                self._lost(slot, f"(pid {pid}) {_ending(code)}")

    def _lost(self, slot: _Slot, how: str) -> None:
        """A worker ended or could not start: restart it, or, if starting up
        or stopping, remember why the exit status will not be 0."""
        what = f"worker {slot.number} {how}"
        if self._stop_deadline is not None:
            log.warning("%s while stopping", what)
            self._failure = self._failure or f"{what} while stopping"
        elif not self._announced:
            self._failure = f"{what} before the server was ready"
            self._stop(signal.SIGTERM)
        else:
            slot.restart_at = max(time.monotonic(), slot.started + RESTART_INTERVAL)
            log.warning("%s; restarting it in %.1f s", what,
                        slot.restart_at - time.monotonic())

    def _kill_stragglers(self) -> None:
        late = []
        for pid, slot in self._running.items():
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)  # at once: SIGKILL cannot be caught or blocked
            log.warning("worker %d (pid %d) did not stop within %g s: killed",
                        slot.number, pid, STOP_DEADLINE)
            late.append(str(slot.number))
        self._running.clear()
        self._failure = (f"worker{'s' if len(late) > 1 else ''} {', '.join(late)} "
                         f"did not stop within {STOP_DEADLINE:g} s: killed")


def _ending(code: int) -> str:
    """How a process ended, from its exit code (negative: the signal that killed it)."""
    if code >= 0:
        return f"exited with status {code}"
    try:
        return f"was killed by {signal.Signals(-code).name}"
    except ValueError:
        return f"was killed by signal {-code}"
