"""Reading a flood's answers with the time each was seen, and checking them
against flood control's token bucket."""
import time
from typing import List

from support.clients import LineClient


def times_of_lines(client: LineClient, count: int) -> List[tuple]:
    """The next `count` lines, each with the time it was seen."""
    return [(client.line(), time.monotonic()) for _ in range(count)]


def slow_down(rate: float) -> str:
    return f"*** slow down: at most {rate:g} lines a second; your lines are queued"


def times_of_answers(client: LineClient, count: int, rate: float) -> List[tuple]:
    """`count` answers to a flood (with their times), and the one slow-down notice
    a client held back by flood control gets among them, checked and left out."""
    seen = times_of_lines(client, count + 1)
    assert [line for line, _ in seen].count(slow_down(rate)) == 1, seen
    return [(line, at) for line, at in seen if line != slow_down(rate)]


def assert_rate_limited(stamps: List[float], started: float, burst: int, rate: float) -> None:
    """Line k (1-based) cannot have been handled before the bucket allowed it.

    A bucket holds at most `burst` tokens, so by time t at most burst + rate * (t - started)
    lines sent after `started` can have been handled; a line is seen after it is handled,
    so a slow test machine only makes this easier to meet. One line of slack for rounding.
    """
    for k, seen in enumerate(stamps, 1):
        allowed = burst + rate * (seen - started) + 1
        assert k <= allowed, f"line {k} seen {seen - started:.3f} s after the flood began"
