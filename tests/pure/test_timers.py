"""The timer heap against a model: which callbacks run, in what order, and its books.

White box where the books are the point: ``_cancelled`` must always equal the
cancelled entries still on ``_heap`` (never negative), whatever callbacks do to
the heap while `run_due` runs them.
"""
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple
from unittest import mock

from hypothesis import given, settings
from hypothesis import strategies as st

from selchat import timers as timers_module
from selchat.timers import Timer, Timers


def assert_books_balance(timers: Timers) -> None:
    on_heap = [timer for _, _, timer in timers._heap]
    dead = sum(1 for timer in on_heap if timer.callback is None)
    assert timers._cancelled == dead >= 0
    assert all(timer.scheduled for timer in on_heap)


# -- examples -----------------------------------------------------------------------------


def test_due_callbacks_run_earliest_first_with_their_argument():
    timers, ran = Timers(), []
    timers.call_at(3.0, ran.append, "c")
    timers.call_at(1.0, ran.append, "a")
    timers.call_at(2.0, ran.append, "b")
    timers.call_at(9.0, ran.append, "later")
    timers.run_due(3.0)
    assert ran == ["a", "b", "c"]
    assert len(timers) == 1
    assert timers.timeout(3.0) == 6.0


def test_equal_deadlines_run_in_the_order_they_were_set():
    timers, ran = Timers(), []
    for label in "qwerty":
        timers.call_at(5.0, ran.append, label)
    timers.run_due(5.0)
    assert ran == list("qwerty")


def test_timeout_is_none_when_empty_zero_when_due_and_skips_cancelled_heads():
    timers = Timers()
    assert timers.timeout(0.0) is None
    first = timers.call_at(1.0, print)
    timers.call_at(4.0, print)
    assert timers.timeout(2.0) == 0.0
    timers.cancel(first)
    assert timers.timeout(2.0) == 2.0
    assert_books_balance(timers)


def test_cancel_of_none_a_ran_or_a_cancelled_timer_changes_nothing():
    timers, ran = Timers(), []
    gone = timers.call_at(1.0, ran.append, "gone")
    timers.run_due(1.0)
    kept = timers.call_at(2.0, ran.append, "kept")
    timers.cancel(None)
    timers.cancel(gone)
    timers.cancel(kept)
    timers.cancel(kept)
    assert timers._cancelled == 1 and len(timers) == 0
    timers.run_due(2.0)
    assert ran == ["gone"]
    assert_books_balance(timers)


def test_a_timer_set_by_a_callback_for_now_waits_for_the_next_run():
    timers, ran = Timers(), []

    def again(count: int) -> None:
        ran.append(count)
        timers.call_at(0.0, again, count + 1)

    timers.call_at(0.0, again, 0)
    timers.run_due(0.0)
    timers.run_due(0.0)
    assert ran == [0, 1]


def test_a_callback_cancelling_a_due_timer_off_the_heap_keeps_the_books():
    """The bug this module had: A and B are due together; A cancels B (already off
    the heap, waiting its turn) and enough later timers for a rebuild; the count
    went to -1 once run_due reached B."""
    timers, ran = Timers(), []
    later = [timers.call_at(10.0, ran.append, i) for i in range(200)]
    handles: Dict[str, Timer] = {}

    def a(_: Any) -> None:
        ran.append("a")
        timers.cancel(handles["b"])
        for timer in later[:150]:
            timers.cancel(timer)
        assert_books_balance(timers)

    handles["a"] = timers.call_at(1.0, a)
    handles["b"] = timers.call_at(1.0, ran.append, "b")
    timers.run_due(1.0)
    assert ran == ["a"]
    assert_books_balance(timers)
    assert len(timers) == 50
    timers.run_due(1.0)  # the next pass rebuilds: 150 of 200 dead
    assert len(timers._heap) == 50 and timers._cancelled == 0
    timers.run_due(10.0)
    assert ran == ["a", *range(150, 200)]


def test_many_cancelled_timers_are_dropped_at_the_next_run():
    timers = Timers()
    made = [timers.call_at(100.0 + i, print) for i in range(300)]
    for timer in made[:250]:
        timers.cancel(timer)
    assert len(timers._heap) == 300  # cancel() never rebuilds
    timers.run_due(0.0)
    assert len(timers._heap) == len(timers) == 50
    assert not any(timer.scheduled for timer in made[:250])
    assert_books_balance(timers)


# -- property: random schedules, cancels and runs, against a model ------------------------
#
# A script is a list of steps. "set" adds a timer at a deadline with a list of actions its
# callback will do when it runs (cancel a timer by index, set a new one); "cancel" cancels
# a timer by index (any timer ever set: pending, ran or cancelled); "run" moves the clock
# forward and calls run_due. Indexes wrap around the timers set so far.


@dataclass
class Entry:
    when: float
    actions: List[Tuple[str, int]]
    state: str = "pending"  # then "ran" or "cancelled"


@dataclass
class Model:
    """What the heap should do, the slow and obvious way."""

    entries: List[Entry] = field(default_factory=list)

    def pending(self) -> List[int]:
        return [i for i, entry in enumerate(self.entries) if entry.state == "pending"]

    def next_deadline(self) -> Optional[float]:
        return min((self.entries[i].when for i in self.pending()), default=None)


deadlines = st.integers(0, 6).map(float)
callback_actions = st.lists(st.tuples(st.sampled_from(["cancel", "set"]), st.integers(0, 60)),
                            max_size=3)
steps = st.one_of(
    st.tuples(st.just("set"), deadlines, callback_actions),
    st.tuples(st.just("cancel"), st.integers(0, 60), st.just([])),
    st.tuples(st.just("run"), st.integers(0, 2).map(float), st.just([])),
)


class Run:
    """A script played on real `Timers` and on the `Model` side by side."""

    def __init__(self) -> None:
        self.timers = Timers()
        self.model = Model()
        self.handles: List[Timer] = []
        self.ran: List[int] = []
        self.now = 0.0

    def set(self, when: float, actions: List[Tuple[str, int]]) -> None:
        index = len(self.handles)
        self.model.entries.append(Entry(when, actions))
        self.handles.append(self.timers.call_at(when, self.fire, index))

    def cancel(self, index: int) -> None:
        if not self.handles:
            return
        index %= len(self.handles)
        entry = self.model.entries[index]
        if entry.state == "pending":
            entry.state = "cancelled"
        self.timers.cancel(self.handles[index])

    def fire(self, index: int) -> None:
        """The callback: record, check the books mid-run, play the timer's actions."""
        assert_books_balance(self.timers)
        assert self.model.entries[index].state == "pending"
        self.model.entries[index].state = "ran"
        self.ran.append(index)
        for action, value in self.model.entries[index].actions:
            if action == "cancel":
                self.cancel(value)
            else:  # a new timer from a callback, possibly already due: it waits a run
                self.set(self.now + value % 3, [])

    def run(self, advance: float) -> None:
        self.now += advance
        expected = sorted(self.model.pending(), key=lambda i: (self.model.entries[i].when, i))
        expected = [i for i in expected if self.model.entries[i].when <= self.now]
        self.ran = []
        self.timers.run_due(self.now)
        # Exactly the due timers ran, in deadline order, less those cancelled by an
        # earlier callback of the same run (fire() refuses one not pending).
        assert self.ran == [i for i in expected if self.model.entries[i].state == "ran"]
        skipped = set(expected) - set(self.ran)
        assert all(self.model.entries[i].state == "cancelled" for i in skipped)

    def check(self) -> None:
        assert_books_balance(self.timers)
        assert len(self.timers) == len(self.model.pending())
        deadline = self.model.next_deadline()
        expected = None if deadline is None else max(0.0, deadline - self.now)
        assert self.timers.timeout(self.now) == expected
        assert_books_balance(self.timers)


@settings(max_examples=300, deadline=None)
@given(script=st.lists(steps, max_size=60), rebuild_at=st.sampled_from([0, 1, 3, 100]))
def test_the_heap_runs_what_the_model_runs_and_keeps_its_books(script, rebuild_at):
    """`rebuild_at` lowers the rebuild threshold so short scripts rebuild often."""
    with mock.patch.object(timers_module, "_MIN_CANCELLED_TO_REBUILD", rebuild_at):
        run = Run()
        for step, value, actions in script:
            if step == "set":
                run.set(run.now + value, actions)
            elif step == "cancel":
                run.cancel(value)
            else:
                run.run(value)
            run.check()
        run.run(100.0)  # everything left runs, in order
        run.run(100.0)  # and the timers those callbacks set
        run.check()
        assert len(run.timers) == 0
