"""Every deadline of the server in one heap; ``select()`` sleeps until the first.

As in asyncio's ``_scheduled`` and Redis' ae.c timers: the loop asks `timeout`
before it sleeps and calls `run_due` after it wakes, so nothing scans every
connection per pass, whatever the number of deadlines (name timeouts, close
graces, flood refills, output-limit checks, accept back-off, shutdown).

The discipline is asyncio's (``base_events.py``): a `Timer` knows whether it is
still on the heap (`Timer.scheduled`). Cancelling only clears its callback
(O(1)) and counts it among the heap's dead entries only if it is on the heap,
so a timer that `run_due` has already taken off the heap, and a callback
cancels, is never counted. Dead entries are popped when they reach the head,
and the heap is rebuilt without them when they are more than half of it, at
the start of `run_due` (never inside `cancel`, which a callback may call while
`run_due` works), so memory stays proportional to live timers. The clock is a
parameter, never read here.
"""
import heapq
import itertools
from typing import Any, Callable, List, Optional, Tuple

#: Rebuild the heap once this many entries, and more than half, are cancelled:
#: below it a rebuild costs more than the dead entries it frees.
_MIN_CANCELLED_TO_REBUILD = 100


class Timer:
    """A handle from `Timers.call_at`: keep it to cancel the timer."""

    __slots__ = ("callback", "argument", "scheduled")

    def __init__(self, callback: Callable[[Any], None], argument: Any) -> None:
        self.callback: Optional[Callable[[Any], None]] = callback  # None once cancelled or run
        self.argument = argument
        self.scheduled = True  # on the heap (cancelled or not)


#: What the heap holds: tuples compare in C, by deadline, then by the order timers
#: were set in (the sequence number is unique), so the heap never compares handles
#: and equal deadlines keep their order.
_Entry = Tuple[float, int, Timer]


class Timers:
    __slots__ = ("_heap", "_sequence", "_cancelled")

    def __init__(self) -> None:
        self._heap: List[_Entry] = []
        self._sequence = itertools.count()
        self._cancelled = 0  # cancelled timers still on the heap

    def __len__(self) -> int:
        """Live (not cancelled) timers on the heap."""
        return len(self._heap) - self._cancelled

    def call_at(self, when: float, callback: Callable[[Any], None], argument: Any = None) -> Timer:
        """Run ``callback(argument)`` from the first `run_due` at or after `when`."""
        timer = Timer(callback, argument)
        heapq.heappush(self._heap, (when, next(self._sequence), timer))
        return timer

    def cancel(self, timer: Optional[Timer]) -> None:
        """Forget `timer` (None, or one already run or cancelled, is fine)."""
        if timer is None or timer.callback is None:
            return
        timer.callback = timer.argument = None
        if timer.scheduled:
            self._cancelled += 1

    def timeout(self, now: float) -> Optional[float]:
        """Seconds from `now` to the first deadline (0 if due), None if there is none."""
        heap = self._heap
        while heap and heap[0][2].callback is None:
            self._pop()
        if not heap:
            return None
        return max(0.0, heap[0][0] - now)

    def run_due(self, now: float) -> None:
        """Run every timer whose deadline has come, earliest first.

        A timer that a callback sets for `now` or earlier waits for the next
        call, so a callback that reschedules itself cannot loop here forever;
        one that a callback cancels before its turn does not run.
        """
        self._drop_cancelled_if_many()
        heap = self._heap
        due = []
        while heap and heap[0][0] <= now:
            timer = self._pop()
            if timer.callback is not None:
                due.append(timer)
        for timer in due:
            callback, argument = timer.callback, timer.argument
            if callback is None:  # cancelled by an earlier callback: off the heap, never counted
                continue
            timer.callback = timer.argument = None  # ran: a late cancel() is a no-op
            callback(argument)

    def _pop(self) -> Timer:
        """Take the head off the heap, keeping the count of dead entries exact."""
        timer = heapq.heappop(self._heap)[2]
        timer.scheduled = False
        if timer.callback is None:
            self._cancelled -= 1
        return timer

    def _drop_cancelled_if_many(self) -> None:
        heap = self._heap
        if self._cancelled > _MIN_CANCELLED_TO_REBUILD and self._cancelled * 2 > len(heap):
            live = []
            for entry in heap:
                if entry[2].callback is None:
                    entry[2].scheduled = False
                else:
                    live.append(entry)
            heapq.heapify(live)
            self._heap = live
            self._cancelled = 0
