r"""IRCv3 message tags on server lines, for clients that sent ``/tags``.

https://ircv3.net/specs/extensions/message-tags: "@" key=value pairs joined
by ";", then one space, then the line. In a value, ";" is "\:", a space
"\s", "\" "\\", CR "\r" and LF "\n"; any other "\x" reads as "x", and a
trailing lone "\" is dropped. The server's own values (numbers, times,
tokens) never need escaping; a value from elsewhere is escaped anyway.
"""
import calendar
import datetime
import functools
import re
import time
from typing import Dict, List, Mapping, Optional, Tuple

_ESCAPES = {";": "\\:", " ": "\\s", "\\": "\\\\", "\r": "\\r", "\n": "\\n"}
_ESCAPE = str.maketrans(_ESCAPES)
_UNESCAPES = {"\\:": ";", "\\s": " ", "\\\\": "\\", "\\r": "\r", "\\n": "\n"}
_ESCAPED = re.compile(r"\\(.?)", re.DOTALL)
_TIME = re.compile(r"(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.(\d{1,6}))?Z")


def escape_tag_value(value: str) -> str:
    return value.translate(_ESCAPE)


def unescape_tag_value(value: str) -> str:
    return _ESCAPED.sub(lambda m: _UNESCAPES.get(m[0], m[1]), value)


@functools.lru_cache(maxsize=8)
def format_time(ms: int) -> str:
    """Milliseconds since the Unix epoch as the ``time`` tag: UTC, ISO 8601,
    milliseconds (``2026-12-02T05:31:33.929Z``), as IRCv3 server-time has it.
    Cached: every line of a pass carries the same time, formatted once."""
    seconds, millis = divmod(ms, 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{millis:03d}Z"


def parse_time(text: str) -> Optional[int]:
    """A ``time`` tag back to milliseconds since the epoch; None if malformed."""
    match = _TIME.fullmatch(text)
    if not match:
        return None
    try:  # datetime, not calendar.timegm: it refuses a 13th month or a February 30th
        year, month, day, hour, minute, second = map(int, match.groups()[:6])
        moment = datetime.datetime(year, month, day, hour, minute, second)
    except ValueError:
        return None
    seconds = calendar.timegm(moment.timetuple())
    return seconds * 1000 + int((match[7] or "0").ljust(3, "0")[:3])


def tag_prefix(seq: Optional[int], time_ms: int, extra: Mapping[str, str] = {}) -> bytes:
    """``@seq=N;time=T;key=value `` (no seq for a line that is not a room line).

    `extra` keys are written as given (the server's own: ``resume``); values
    are escaped."""
    tags = [] if seq is None else [f"seq={seq}"]
    tags.append(f"time={format_time(time_ms)}")
    tags += [f"{key}={escape_tag_value(value)}" for key, value in extra.items()]
    return f"@{';'.join(tags)} ".encode()


def tag_line(payload: bytes, time_ms: int, extra: Mapping[str, str] = {},
             seq: Optional[int] = None) -> bytes:
    """One encoded line with its tags in front (a direct line: the welcome with
    its ``resume`` token, a private line, an answer)."""
    return tag_prefix(seq, time_ms, extra) + payload


def line_ends(payload: bytes) -> List[int]:
    """The offset just past each newline in `payload` (lines are newline-terminated)."""
    ends = []
    find = payload.find
    at = find(b"\n")
    while at >= 0:
        ends.append(at + 1)
        at = find(b"\n", at + 1)
    return ends


def split_tags(line: str) -> Tuple[Dict[str, str], str]:
    """(tags, rest) of a received line; ({}, line) when it has no tags.

    A tag without "=" has the value "" (as IRCv3 says); a repeated key keeps its
    last value."""
    if not line.startswith("@"):
        return {}, line
    head, _, rest = line[1:].partition(" ")
    tags: Dict[str, str] = {}
    for tag in head.split(";"):
        key, _, value = tag.partition("=")
        if key:
            tags[key] = unescape_tag_value(value)
    return tags, rest
