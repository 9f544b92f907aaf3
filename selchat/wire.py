"""The wire protocol: client lines to commands, server lines to bytes.

This is the only module that knows the text of the protocol: the ``/command``
syntax and the prefix of each kind of server line. It neither decides anything
nor touches a socket; `selchat.room` decides, `selchat.server` moves bytes.

Client lines (already decoded and sanitised): a line starting with ``/`` is a
command, ``//text`` is the chat message ``/text``, anything else is chat.

Server lines, one per ``\\n``-terminated line::

    <name> text     chat            *** text     notice
    * name text     action (/me)    !!! text     error
    *name* text     private message (/msg)
"""
import enum
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


def slow_down(rate: float) -> ServerLine:
    """Told once per flood-control episode: nothing is lost, it just waits."""
    return notice(f"slow down: at most {rate:g} lines a second; your lines are queued")


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
