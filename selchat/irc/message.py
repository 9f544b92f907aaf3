"""IRC lines to messages and back (RFC 1459 section 2.3.1, IRCv3 message tags).

Pure. `parse` takes one line without its line end (`selchat.framing.LineBuffer`
splits the stream: CR LF or LF, split anywhere) and answers a `Message`, or
a `TooLong` when a part is over its cap; `encode` builds one line. Bytes
that are not UTF-8 are decoded leniently (each bad byte becomes U+FFFD), so
a client in Latin-1 is read, not refused.
"""
from typing import Dict, List, NamedTuple, Optional, Sequence, Union

#: The tags part of a line at most, "@" and its space included (IRCv3
#: message-tags: 8191 bytes in all, of which a client may send 4094: the
#: server adds its own to what it relays).
MAX_TAGS = 8191
MAX_CLIENT_TAGS = 4094 + 2
#: The rest of a line at most, without CR LF (RFC 1459: 512 with them).
MAX_REST = 510
#: A line as `selchat.framing.LineBuffer` may hold it: both parts.
MAX_LINE = MAX_TAGS + MAX_REST + 2
#: Parameters at most (RFC 1459: 15); more are joined into the last.
MAX_PARAMS = 15

_UNESCAPE = {":": ";", "s": " ", "\\": "\\", "r": "\r", "n": "\n"}
_ESCAPE = str.maketrans({";": "\\:", " ": "\\s", "\\": "\\\\", "\r": "\\r", "\n": "\\n"})


class Message(NamedTuple):
    command: str  # upper case
    params: List[str]
    tags: Dict[str, str] = {}

    def param(self, index: int, default: str = "") -> str:
        return self.params[index] if index < len(self.params) else default


class TooLong(NamedTuple):
    """A line whose tags or rest is over its cap (ERR_INPUTTOOLONG)."""

    tags: bool  # which part


def unescape(value: str) -> str:
    """A tag value as sent, unescaped (a lone trailing backslash is dropped)."""
    if "\\" not in value:
        return value
    out, chars = [], iter(value)
    for char in chars:
        if char == "\\":
            char = next(chars, "")
            out.append(_UNESCAPE.get(char, char))
        else:
            out.append(char)
    return "".join(out)


def escape(value: str) -> str:
    return value.translate(_ESCAPE)


def parse(line: bytes) -> Union[Message, TooLong, None]:
    """One line (no line end); None for an empty one (ignored, as servers do)."""
    tags: Dict[str, str] = {}
    if line.startswith(b"@"):
        head, _, line = line.partition(b" ")
        if len(head) + 1 > MAX_CLIENT_TAGS:
            return TooLong(tags=True)
        for tag in head[1:].decode("utf-8", "replace").split(";"):
            key, _, value = tag.partition("=")
            if key:
                tags[key] = unescape(value)
        line = line.lstrip(b" ")
    if len(line) > MAX_REST:
        return TooLong(tags=False)
    text = line.decode("utf-8", "replace")
    if text.startswith(":"):  # a client's source is ignored (RFC 2812 2.3)
        text = text.partition(" ")[2]
    text, colon, trailing = text.partition(" :")
    words = [word for word in text.split(" ") if word]  # spaces only: not str.split()
    if not words:
        return None
    if words[0].startswith(":"):  # no params before the trailing one: "CMD :x" split as such
        return None
    params = words[1:]
    if colon:
        params.append(trailing)
    if len(params) > MAX_PARAMS:
        params[MAX_PARAMS - 1:] = [" ".join(params[MAX_PARAMS - 1:])]
    return Message(words[0].upper(), params, tags)


def encode(source: Optional[str], command: str, params: Sequence[str] = (),
           tags: Optional[Dict[str, str]] = None, trailing: bool = False) -> bytes:
    """One line with CR LF; the last parameter is trailing when it must be
    (empty, a space in it, or a leading ":") or when `trailing` says (a
    message's text, a reason: as clients expect them)."""
    parts = []
    if tags:
        parts.append("@" + ";".join(f"{key}={escape(value)}" if value else key
                                    for key, value in tags.items()))
    if source:
        parts.append(":" + source)
    parts.append(command)
    if params:
        *middle, last = params
        parts += middle
        colon = trailing or not last or " " in last or last.startswith(":")
        parts.append(":" + last if colon else last)
    return (" ".join(parts) + "\r\n").encode()
