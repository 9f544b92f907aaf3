"""Every deadline of the server in one heap; ``select()`` sleeps until the first.

As in asyncio's ``_scheduled`` and Redis' ae.c timers: the loop asks `timeout`
before it sleeps and calls `run_due` after it wakes, so nothing scans every
connection per pass, whatever the number of deadlines (name timeouts, close
graces, flood refills, output-limit checks, accept back-off, shutdown).

A timer is a small list ``[when, sequence, callback, argument]``: lists compare
by their first items, and the sequence number is unique, so the heap never
compares callbacks, and equal deadlines keep the order they were set in.
Cancelling only clears the callback (O(1)); the dead entry is popped when it
reaches the head, and the heap is rebuilt without the dead ones when they are
more than half of it, as asyncio does, so memory stays proportional to live
timers. The clock is a parameter, never read here.
"""
import heapq
import itertools
from typing import Any, Callable, List, Optional

#: A timer handle: keep it to cancel the timer.
Timer = List[Any]

#: Rebuild the heap once this many entries, and more than half, are cancelled.
_MIN_CANCELLED_TO_REBUILD = 100


class Timers:
    __slots__ = ("_heap", "_sequence", "_cancelled")

    def __init__(self) -> None:
        self._heap: List[Timer] = []
        self._sequence = itertools.count()
        self._cancelled = 0

    def __len__(self) -> int:
        """Live (not cancelled) timers."""
        return len(self._heap) - self._cancelled

    def call_at(self, when: float, callback: Callable[[Any], None], argument: Any = None) -> Timer:
        """Run ``callback(argument)`` from the first `run_due` at or after `when`."""
        timer = [when, next(self._sequence), callback, argument]
        heapq.heappush(self._heap, timer)
        return timer

    def cancel(self, timer: Optional[Timer]) -> None:
        """Forget `timer` (None, or one already run or cancelled, is fine)."""
        if timer is None or timer[2] is None:
            return
        timer[2] = timer[3] = None
        self._cancelled += 1
        heap = self._heap
        if self._cancelled > _MIN_CANCELLED_TO_REBUILD and self._cancelled * 2 > len(heap):
            self._heap = [t for t in heap if t[2] is not None]
            heapq.heapify(self._heap)
            self._cancelled = 0

    def timeout(self, now: float) -> Optional[float]:
        """Seconds from `now` to the first deadline (0 if due), None if there is none."""
        heap = self._heap
        while heap and heap[0][2] is None:
            heapq.heappop(heap)
            self._cancelled -= 1
        if not heap:
            return None
        return max(0.0, heap[0][0] - now)

    def run_due(self, now: float) -> None:
        """Run every timer whose deadline has come, earliest first.

        A timer that a callback sets for `now` or earlier waits for the next
        call, so a callback that reschedules itself cannot loop here forever.
        """
        heap = self._heap
        due = []
        while heap and heap[0][0] <= now:
            timer = heapq.heappop(heap)
            if timer[2] is None:
                self._cancelled -= 1
            else:
                due.append(timer)
        for timer in due:
            callback, argument = timer[2], timer[3]
            if callback is None:  # cancelled by an earlier callback, after leaving the heap
                self._cancelled -= 1
                continue
            timer[2] = timer[3] = None  # ran: a late cancel() is a no-op
            callback(argument)
