"""The wire protocol: client lines to commands, server lines to bytes and back.

This is the only module that knows the text of the protocol: the ``/command``
syntax, the prefix of each kind of server line, and the sentences a client
acts on (welcome, rename, shutdown...), each built by one function here and
read back by `decode`, so the room that says them and the client that reads
them share one definition. It neither decides anything nor touches a socket;
`selchat.room` decides, `selchat.server` moves bytes, `selchat.session` reacts.

Client lines (already decoded and sanitised): a line starting with ``/`` is a
command, ``//text`` is the chat message ``/text``, anything else is chat.

Server lines, one per ``\\n``-terminated line::

    <name> text     chat            *** text     notice
    * name text     action (/me)    !!! text     error
    *name* text     private message (/msg)
"""
import enum
import re
from typing import NamedTuple, Optional, Union


class Say(NamedTuple):
    text: str


class Quit(NamedTuple):
    reason: str = ""


class Nick(NamedTuple):
    name: str


class Msg(NamedTuple):
    target: str
    text: str


class Me(NamedTuple):
    text: str


class Who(NamedTuple):
    """``/who [PATTERN]``: the names online, or those containing PATTERN."""

    pattern: str = ""


class Help(NamedTuple):
    pass


class Unknown(NamedTuple):
    """A ``/word`` that is no command."""

    word: str


class BadUsage(NamedTuple):
    """A known command with missing or extra arguments."""

    command: str


Command = Union[Say, Quit, Nick, Msg, Me, Who, Help, Unknown, BadUsage]

#: Usage and one-line description of every command, in /help order.
COMMANDS = {
    "who": ("/who [PATTERN]", "list who is online (names containing PATTERN)"),
    "nick": ("/nick NEW", "change your name"),
    "msg": ("/msg NAME text", "send text to NAME only"),
    "me": ("/me text", "describe an action: * you text"),
    "help": ("/help", "show this list"),
    "quit": ("/quit [reason]", "leave the chat room (also /q)"),
}


def parse(line: str) -> Command:
    """The command a line from a joined client asks for."""
    if not line.startswith("/"):
        return Say(line)
    if line.startswith("//"):
        return Say(line[1:])
    word, _, rest = line[1:].partition(" ")
    word = word.lower()
    rest = rest.strip(" \t")  # not str.strip(): it would eat controls from a /nick name
    if word in ("quit", "q"):
        return Quit(rest)
    if word == "me":
        return Me(rest) if rest else BadUsage(word)
    if word == "msg":
        target, _, text = rest.partition(" ")
        text = text.strip()
        return Msg(target, text) if target and text else BadUsage(word)
    if word == "nick":
        return Nick(rest) if rest and " " not in rest else BadUsage(word)
    if word == "who":
        return Who(rest) if " " not in rest else BadUsage(word)
    if word == "help":
        return BadUsage(word) if rest else Help()
    return Unknown(word)


class Kind(enum.Enum):
    """What a server line is; each kind has its own prefix."""

    CHAT = "chat"
    NOTICE = "notice"
    ERROR = "error"
    ACTION = "action"
    PRIVATE = "private"


class ServerLine(NamedTuple):
    kind: Kind
    text: str
    name: Optional[str] = None  # who spoke, for CHAT, ACTION and PRIVATE


def chat(name: str, text: str) -> ServerLine:
    return ServerLine(Kind.CHAT, text, name)


def notice(text: str) -> ServerLine:
    return ServerLine(Kind.NOTICE, text)


def error(text: str) -> ServerLine:
    return ServerLine(Kind.ERROR, text)


def action(name: str, text: str) -> ServerLine:
    return ServerLine(Kind.ACTION, text, name)


def private(name: str, text: str) -> ServerLine:
    return ServerLine(Kind.PRIVATE, text, name)


_TEMPLATES = {
    Kind.CHAT: "<{name}> {text}\n",
    Kind.NOTICE: "*** {text}\n",
    Kind.ERROR: "!!! {text}\n",
    Kind.ACTION: "* {name} {text}\n",
    Kind.PRIVATE: "*{name}* {text}\n",
}


def encode(line: ServerLine) -> bytes:
    """The bytes of one server line, newline included."""
    kind, text, name = line
    if kind is Kind.CHAT:  # the hot path: skip the template lookup
        return f"<{name}> {text}\n".encode()
    return _TEMPLATES[kind].format(name=name, text=text).encode()


def text_of(line: ServerLine) -> str:
    """One server line as text, without its newline (what a client shows)."""
    return _TEMPLATES[line.kind].format(name=line.name, text=line.text)[:-1]


# -- the sentences clients act on ----------------------------------------------
#
# Each builder has a pattern beside it that `decode` reads it back with; the
# tests check every builder round-trips. Names never hold spaces, "!" or "(",
# so the patterns can split on them.

#: Appended to the welcome, so newcomers learn where the commands are.
HELP_HINT = "(type /help for commands)"

_WELCOME = re.compile(r"Welcome, (\S+)! Online \((\d+)\): (.*) " + re.escape(HELP_HINT))
_JOINED = re.compile(r"(\S+) has joined the chat room\.")
_LEFT = re.compile(r"(\S+) has left the chat room(?: \((.*)\))?\.")
_RENAMED = re.compile(r"(\S+) is now known as (\S+)")
_GOODBYE = re.compile(r"Goodbye, (\S+)\.")
_SLOW_DOWN = re.compile(r"slow down: at most ([\d.e+-]+) lines a second; your lines are queued")
_SHUTTING_DOWN = "Server is shutting down."
_HELLO = "Hello! Please enter your name."
_SERVER_FULL = "server full"


def hello() -> ServerLine:
    return notice(_HELLO)


def welcome(name: str, online: int, shown: str) -> ServerLine:
    """`shown`: the names listed, already cut short ("a, b and 9 more")."""
    return notice(f"Welcome, {name}! Online ({online}): {shown} {HELP_HINT}")


def joined(name: str) -> ServerLine:
    return notice(f"{name} has joined the chat room.")


def left(name: str, reason: str = "") -> ServerLine:
    return notice(f"{name} has left the chat room{f' ({reason})' if reason else ''}.")


def renamed(old: str, new: str) -> ServerLine:
    return notice(f"{old} is now known as {new}")


def goodbye(name: str) -> ServerLine:
    return notice(f"Goodbye, {name}.")


def shutting_down() -> ServerLine:
    return notice(_SHUTTING_DOWN)


def slow_down(rate: float) -> ServerLine:
    """Sent once per throttling episode: the client's lines wait, none is lost."""
    return notice(f"slow down: at most {rate:g} lines a second; your lines are queued")


def server_full() -> ServerLine:
    return error(_SERVER_FULL)


# -- decoding: what a client makes of a server line ------------------------------


class Hello(NamedTuple):
    pass


class Welcome(NamedTuple):
    name: str
    online: int
    shown: str


class Joined(NamedTuple):
    name: str


class Left(NamedTuple):
    name: str
    reason: str = ""


class Renamed(NamedTuple):
    old: str
    new: str


class Goodbye(NamedTuple):
    name: str


class ShuttingDown(NamedTuple):
    pass


class SlowDown(NamedTuple):
    rate: float


class ServerFull(NamedTuple):
    pass


class Unrecognized(NamedTuple):
    """A line with no known prefix: a newer or a foreign server."""

    text: str


#: What `decode` returns: a sentence of its own, else the plain ServerLine
#: (chat, action, private, and every other notice or error).
Incoming = Union[Hello, Welcome, Joined, Left, Renamed, Goodbye, ShuttingDown, SlowDown,
                 ServerFull, ServerLine, Unrecognized]

_SENTENCES = (
    (_WELCOME, lambda m: Welcome(m[1], int(m[2]), m[3])),
    (_JOINED, lambda m: Joined(m[1])),
    (_LEFT, lambda m: Left(m[1], m[2] or "")),
    (_RENAMED, lambda m: Renamed(m[1], m[2])),
    (_GOODBYE, lambda m: Goodbye(m[1])),
    (_SLOW_DOWN, lambda m: SlowDown(float(m[1]))),
)


def decode(line: str) -> Incoming:
    """What a server line (decoded, sanitised, without its newline) says."""
    if line.startswith("*** "):
        return _decode_notice(line[4:])
    if line.startswith("!!! "):
        text = line[4:]
        return ServerFull() if text == _SERVER_FULL else error(text)
    if line.startswith("<"):
        name, found, text = line[1:].partition("> ")
        if found and " " not in name:
            return chat(name, text)
    elif line.startswith("* "):
        name, found, text = line[2:].partition(" ")
        if found and name:
            return action(name, text)
    elif line.startswith("*"):
        name, found, text = line[1:].partition("* ")
        if found and name and " " not in name:
            return private(name, text)
    return Unrecognized(line)


def _decode_notice(text: str) -> Incoming:
    if text == _HELLO:
        return Hello()
    if text == _SHUTTING_DOWN:
        return ShuttingDown()
    for pattern, build in _SENTENCES:
        match = pattern.fullmatch(text)
        if match:
            return build(match)
    return notice(text)
