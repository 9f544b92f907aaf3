"""Reading who set a topic and when from what a server answers (its clock is
real: the time is checked to be about now, not exactly)."""
import calendar
import re
import time

#: How far from now a topic's time may be (seconds): a minute's rounding,
#: a slow machine.
SLACK = 150


def set_by(line: str, room: str, text: str) -> str:
    """The setter that ``/topic #room``'s answer `line` names; its time must
    be about now (the answer's ``YYYY-MM-DD HH:MM UTC``)."""
    found = re.fullmatch(rf"\*\*\* Topic of {re.escape(room)}: {re.escape(text)} "
                         r"\(set by (\S+), (\d{4}-\d\d-\d\d \d\d:\d\d) UTC\)", line)
    assert found, line
    shown = calendar.timegm(time.strptime(found[2], "%Y-%m-%d %H:%M"))
    assert abs(shown - time.time()) < SLACK, line
    return found[1]


def about_now(seconds: str) -> bool:
    """IRC's ``333`` time (Unix seconds) is about now."""
    return abs(int(seconds) - time.time()) < SLACK
