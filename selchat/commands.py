"""Client lines to commands: the ``/command`` syntax, parsed.

A line starting with ``/`` is a command, ``//text`` is the chat message
``/text``, anything else is chat (`parse`); the first line of a connection may
be a client program's command in place of a name (`before_name`). Pure: the
room (`selchat.room`) decides what a command does; `selchat.wire` writes what
the server says back.
"""
from typing import NamedTuple, Optional, Tuple, Union

from selchat.accounts import commands as account_commands


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
    """``/who [PATTERN]``: the names online, or those containing PATTERN;
    ``/who #ROOM``: that room's members (names never hold "#")."""

    pattern: str = ""


class Join(NamedTuple):
    """``/join #ROOM [KEY]``: join it (made on first join) and talk in it
    (KEY: a room with a key, +k)."""

    room: str
    key: str = ""


class Part(NamedTuple):
    """``/part [#ROOM] [REASON]``: leave it (the current room if none is named)."""

    room: str = ""
    reason: str = ""


class ListRooms(NamedTuple):
    """``/rooms [PATTERN]``: the rooms, or those whose name contains PATTERN."""

    pattern: str = ""


class Topic(NamedTuple):
    """``/topic [#ROOM] [TEXT]``: show a room's topic, or set it to TEXT."""

    room: str = ""
    text: str = ""


class Search(NamedTuple):
    """``/search [#ROOM] WORDS``: the newest lines holding every word."""

    room: str
    words: Tuple[str, ...]


class History(NamedTuple):
    """``/history [#ROOM] [N] [SEQ]``: N lines said before those you have
    (before line SEQ, if given: what the page sends)."""

    room: str = ""
    lines: int = 0
    before: Optional[int] = None


class Help(NamedTuple):
    pass


class Unknown(NamedTuple):
    """A ``/word`` that is no command."""

    word: str


class BadUsage(NamedTuple):
    """A known command with missing or extra arguments."""

    command: str


class Tags(NamedTuple):
    """``/tags``: send me every line with its tags (seq, time, resume)."""


class Resume(NamedTuple):
    """``/resume TOKEN LASTSEQ``: take my held session back, with the room lines
    after LASTSEQ (the first line of a new connection, in place of a name)."""

    token: str
    last_seq: int


Command = Union[Say, Quit, Nick, Msg, Me, Who, Help, Unknown, BadUsage, Tags, Resume, Join, Part,
                ListRooms, Topic, Search, History, account_commands.AccountCommand]

#: Usage and one-line description of every command, in /help order.
COMMANDS = {
    "who": ("/who [PATTERN]", "list who is online (names containing PATTERN)"),
    "nick": ("/nick NEW", "change your name"),
    "msg": ("/msg NAME text", "send text to NAME only (/msg #ROOM text: to a room of yours)"),
    "me": ("/me text", "describe an action: * you text"),
    "join": ("/join #ROOM [KEY]", "join a room (made if new) and talk in it"),
    "part": ("/part [#ROOM] [reason]", "leave a room (the one you talk in if none)"),
    "rooms": ("/rooms [PATTERN]", "list the rooms (names containing PATTERN)"),
    "topic": ("/topic [#ROOM] [text|-]",
              "show a room's topic (who set it, when), set it, or clear it (-)"),
    "search": ("/search [#ROOM] words", "the newest lines holding every word"),
    "history": ("/history [#ROOM] [N]", "N lines said before those you have"),
    "help": ("/help", "show this list"),
    "quit": ("/quit [reason]", "leave the chat room (also /q)"),
    **account_commands.COMMANDS,
}
#: Commands a client program sends, not a person: usable before a name, and not
#: listed by /help. `usage` covers both tables.
CLIENT_COMMANDS = {
    "tags": ("/tags", "send every line with its tags: @seq=N;time=... line"),
    "resume": ("/resume TOKEN LASTSEQ", "take a lost session back after line LASTSEQ"),
}


def usage(command: str) -> str:
    """The usage text of a known command (for ``!!! usage: ...``)."""
    return (COMMANDS.get(command) or CLIENT_COMMANDS[command])[0]


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
    if word == "join":
        room, _, key = rest.partition(" ")
        key = key.strip(" ")  # a room's key (+k): one word, never a second room
        return Join(room, key) if room and " " not in key and key[:1] != "#" else BadUsage(word)
    if word == "part":
        return Part(*_room_then(rest))
    if word == "rooms":
        return ListRooms(rest) if " " not in rest else BadUsage(word)
    if word == "topic":
        return Topic(*_room_then(rest))
    if word == "search":
        room, words = ("", rest.split()) if not rest.startswith("#") else (
            rest.split()[0], rest.split()[1:])
        return Search(room, tuple(words)) if words else BadUsage(word)
    if word == "history":
        return _history(rest)
    if word == "tags":
        return BadUsage(word) if rest else Tags()
    if word == "resume":
        return _resume(rest)
    try:
        return account_commands.parse(word, rest) or Unknown(word)
    except ValueError:
        return BadUsage(word)


def before_name(line: str) -> Optional[Command]:
    """What a line from a connection that has no name yet asks for: `Tags`,
    `Resume` (or `BadUsage` of one of them); None when the line is a name."""
    word = line[1:].partition(" ")[0].lower() if line.startswith("/") else ""
    return parse(line) if word in CLIENT_COMMANDS else None


def _history(rest: str) -> Command:
    words = rest.split()
    room = words.pop(0) if words and words[0].startswith("#") else ""
    if len(words) > 2 or not all(word.isdecimal() and word.isascii() for word in words):
        return BadUsage("history")
    numbers = [int(word) for word in words]
    return History(room, numbers[0] if numbers else 0, numbers[1] if len(numbers) > 1 else None)


def _resume(rest: str) -> Command:
    token, _, last_seq = rest.partition(" ")
    last_seq = last_seq.strip(" ")
    # isascii() too: isdecimal() and int() also take other scripts' digits ("٣").
    if token and last_seq.isdecimal() and last_seq.isascii() and " " not in last_seq:
        return Resume(token, int(last_seq))
    return BadUsage("resume")


def _room_then(rest: str) -> Tuple[str, str]:
    """``[#room] TEXT`` -> (room or "", text): /part's reason, /topic's text."""
    if not rest.startswith("#"):
        return "", rest
    room, _, text = rest.partition(" ")
    return room, text.strip(" ")
