"""One join or leave costs the room the same whatever its size (counted, not timed).

A reconnect storm is thousands of leaves and joins in a room of thousands: any
work per member in one of them (a list rebuilt, a roster copied, every member
walked) would make the storm quadratic. So the room's work for one leave and
one join is counted in a small room and a big one: the bytecode instructions
it runs (a loop over members would add thousands; the roster's sorted insert
and delete add a few, logarithmically) and the most memory it holds at once (a
copy of the members or of the roster, made in C, would add tens of KB).
"""
import math
import sys
import tracemalloc
from types import FrameType
from typing import Callable, Tuple

import pytest

from selchat.room import ChatRoom

SMALL, BIG = 50, 2000
#: Instructions a doubling of the room may add (the roster's bisect: a key call per step).
STEPS_PER_DOUBLING = 60
#: Bytes a leave or join may hold at once beyond the small room's (no copy of anything).
SLACK_BYTES = 1024


def room_of(members: int, announce_limit: int) -> ChatRoom:
    room = ChatRoom(announce_limit=announce_limit)
    for number in range(members):
        room.connect(number)
        room.receive(number, f"user{number:05d}")
    return room


def cost(action: Callable[[], object]) -> Tuple[int, int]:
    """(bytecode instructions `action` ran, the most bytes it held at once)."""
    steps = 0

    def count(frame: FrameType, event: str, arg: object) -> Callable:
        nonlocal steps
        frame.f_trace_opcodes = True
        steps += event == "opcode"
        return count
    tracemalloc.start()
    sys.settrace(count)
    try:
        action()
    finally:
        sys.settrace(None)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return steps, peak


def leave_and_join(members: int, announce_limit: int) -> Tuple[Tuple[int, int], Tuple[int, int]]:
    room = room_of(members, announce_limit)
    cost(lambda: room.disconnect(0))  # warm up: first-time caches are not the room's cost
    cost(lambda: (room.connect("warm"), room.receive("warm", "warm")))
    leave = cost(lambda: room.disconnect(members // 2, "connection reset"))
    join = cost(lambda: (room.connect("new"), room.receive("new", "newcomer")))
    return leave, join


@pytest.mark.parametrize("announce_limit", [0, 20], ids=["announced", "over-the-limit"])
def test_a_leave_and_a_join_cost_the_same_in_a_room_of_50_and_of_2000(announce_limit):
    small, big = leave_and_join(SMALL, announce_limit), leave_and_join(BIG, announce_limit)
    allowed = STEPS_PER_DOUBLING * math.log2(BIG / SMALL)
    for (small_steps, small_peak), (big_steps, big_peak) in zip(small, big):
        assert big_steps <= small_steps + allowed
        assert big_peak <= small_peak + SLACK_BYTES
