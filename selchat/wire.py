"""The wire protocol: server lines to bytes and back (client lines to
commands: `selchat.commands`).

This is the only module that knows the text of the server's lines: the prefix
of each kind of server line, and the sentences a client
acts on (welcome, rename, shutdown...), each built by one function here and
read back by `decode`, so the room that says them and the client that reads
them share one definition. It neither decides anything nor touches a socket;
`selchat.room` decides, `selchat.server` moves bytes, `selchat.session` reacts.

Server lines, one per ``\\n``-terminated line::

    <name> text     chat            *** text     notice
    * name text     action (/me)    !!! text     error
    *name* text     private message (/msg)
    -> *name* text  your private message, delivered (to a tagged client only)

A line of a room but the default one starts with the room and a space
(``#dev <bob> hi``, ``#dev *** bob has left #dev.``): `selchat.rooms.Room.prefix`,
put in front of the encoded line by the driver.

A client that sent ``/tags`` gets every line with IRCv3-style message tags in
front (``@seq=1041;time=2026-12-02T05:31:33.929Z <bob> hi``): `selchat.tags`
builds them and takes them off again.
"""
import enum
import re
from typing import NamedTuple, Optional, Tuple, Union



class LineType(enum.Enum):
    """What a server line is; each kind has its own prefix."""

    CHAT = "chat"
    NOTICE = "notice"
    ERROR = "error"
    ACTION = "action"
    PRIVATE = "private"
    SENT = "sent"  # a /msg of yours, delivered: `name` is whom to


class ServerLine(NamedTuple):
    kind: LineType
    text: str
    name: Optional[str] = None  # who spoke, for CHAT, ACTION and PRIVATE


def chat(name: str, text: str) -> ServerLine:
    return ServerLine(LineType.CHAT, text, name)


def notice(text: str) -> ServerLine:
    return ServerLine(LineType.NOTICE, text)


def error(text: str) -> ServerLine:
    return ServerLine(LineType.ERROR, text)


def action(name: str, text: str) -> ServerLine:
    return ServerLine(LineType.ACTION, text, name)


def private(name: str, text: str) -> ServerLine:
    return ServerLine(LineType.PRIVATE, text, name)


def sent(target: str, text: str) -> ServerLine:
    """The sender's confirmation of a /msg that reached `target` (or is kept
    for it): a client echoing its own lines shows this, and nothing before."""
    return ServerLine(LineType.SENT, text, target)


_TEMPLATES = {
    LineType.CHAT: "<{name}> {text}\n",
    LineType.NOTICE: "*** {text}\n",
    LineType.ERROR: "!!! {text}\n",
    LineType.ACTION: "* {name} {text}\n",
    LineType.PRIVATE: "*{name}* {text}\n",
    LineType.SENT: "-> *{name}* {text}\n",
}


def encode(line: ServerLine) -> bytes:
    """The bytes of one server line, newline included."""
    kind, text, name = line
    if kind is LineType.CHAT:  # the hot path: skip the template lookup
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
#: To a tagged member when the server keeps sessions across its restart (--data).
_SHUTTING_DOWN_KEPT = "Server is restarting: reconnect to resume your session."
_HELLO = "Hello! Please enter your name."
_SERVER_FULL = "server full"
_WELCOME_BACK = re.compile(r"Welcome back, (\S+)\.")
_HISTORY_START = re.compile(r"Last (\d+) lines?:")
_HISTORY_END = "End of history."
_UNKNOWN_COUNT = "an unknown number of"
_PASSWORD_WANTED = re.compile(r"(\S+) is registered: send its password")
_SERVER_PASSWORD = "This server needs a password: send it first."
_HISTORY_GAP = re.compile(r"history gap: (\d+|" + _UNKNOWN_COUNT + r") lines? missed(?: \((.*)\))?")


def hello() -> ServerLine:
    return notice(_HELLO)


def password_wanted(name: str) -> ServerLine:
    """A registered name was sent: the next line is its password (docs/accounts.rst)."""
    return notice(f"{name} is registered: send its password")


def server_password_wanted() -> ServerLine:
    """With --server-password, in place of the hello: the first line is that password."""
    return notice(_SERVER_PASSWORD)


def welcome(name: str, online: int, shown: str) -> ServerLine:
    """`shown`: the names listed, already cut short ("a, b and 9 more")."""
    return notice(f"Welcome, {name}! Online ({online}): {shown} {HELP_HINT}")


def away(name: str) -> str:
    """A name in a listing (welcome, /who) whose session is held: its connection
    dropped and may come back. Names never hold "(", so the mark cannot be one."""
    return f"{name} (away)"


def joined(name: str) -> ServerLine:
    return notice(f"{name} has joined the chat room.")


def left(name: str, reason: str = "") -> ServerLine:
    return notice(f"{name} has left the chat room{f' ({reason})' if reason else ''}.")


# -- rooms: lines of a room but the default one start with the room ("#dev ")
# (`selchat.rooms.Room.prefix`, put in front of the encoded line, so these
# builders say only the rest).


def joined_room(name: str, room: str) -> ServerLine:
    return notice(f"{name} has joined {room}.")


def left_room(name: str, room: str, reason: str = "") -> ServerLine:
    return notice(f"{name} has left {room}{f' ({reason})' if reason else ''}.")


def you_joined(room: str, online: int, shown: str) -> ServerLine:
    """To the joiner: `shown` is the names listed, cut short as the welcome's."""
    return notice(f"You joined {room}. Online ({online}): {shown}")


def now_talking(room: str) -> ServerLine:
    return notice(f"Now talking in {room}.")


def topic_is(room: str, topic: str) -> ServerLine:
    return notice(f"Topic for {room}: {topic}" if topic else f"No topic for {room}.")


def topic_set(name: str, topic: str) -> ServerLine:
    return notice(f"{name} set the topic: {topic}")


def in_no_room() -> ServerLine:
    return error("you are in no room: /join #ROOM")


def renamed(old: str, new: str) -> ServerLine:
    return notice(f"{old} is now known as {new}")


def goodbye(name: str) -> ServerLine:
    return notice(f"Goodbye, {name}.")


def shutting_down(kept: bool = False) -> ServerLine:
    """The server stops; `kept`: it keeps the session for a resume after its restart."""
    return notice(_SHUTTING_DOWN_KEPT if kept else _SHUTTING_DOWN)


def slow_down(rate: float) -> ServerLine:
    """Sent once per throttling episode: the client's lines wait, none is lost."""
    return notice(f"slow down: at most {rate:g} lines a second; your lines are queued")


def server_full() -> ServerLine:
    return error(_SERVER_FULL)


def welcome_back(name: str) -> ServerLine:
    """The answer to a /resume that worked: the room lines missed follow."""
    return notice(f"Welcome back, {name}.")


def history_start(count: int) -> ServerLine:
    """Before the lines replayed to a newcomer."""
    return notice(f"Last {count} line{'' if count == 1 else 's'}:")


def history_end() -> ServerLine:
    return notice(_HISTORY_END)


def history_gap(missing: Optional[int], reason: str) -> ServerLine:
    """Lines that cannot be replayed: said, never silent. `missing` None: unknown."""
    count = _UNKNOWN_COUNT if missing is None else str(missing)
    return error(f"history gap: {count} line{'' if missing == 1 else 's'} missed ({reason})")


# -- decoding: what a client makes of a server line ------------------------------


class Hello(NamedTuple):
    pass


class PasswordWanted(NamedTuple):
    name: str


class ServerPasswordWanted(NamedTuple):
    pass


class Welcome(NamedTuple):
    name: str
    online: int
    shown: str


class JoinNotice(NamedTuple):
    name: str


class LeaveNotice(NamedTuple):
    name: str
    reason: str = ""


class Renamed(NamedTuple):
    old: str
    new: str


class Goodbye(NamedTuple):
    name: str


class ShuttingDown(NamedTuple):
    #: The session is kept: a resume after the restart takes it back.
    kept: bool = False


class SlowDown(NamedTuple):
    rate: float


class ServerFull(NamedTuple):
    pass


class WelcomeBack(NamedTuple):
    name: str


class HistoryStart(NamedTuple):
    lines: int  # how many follow


class HistoryEnd(NamedTuple):
    pass


class HistoryGap(NamedTuple):
    missing: Optional[int]  # None: unknown
    reason: str = ""


class Unrecognized(NamedTuple):
    """A line with no known prefix: a newer or a foreign server."""

    text: str


class RoomWelcome(NamedTuple):
    """"You joined #room. Online (N): ...": your own /join of `room` worked."""

    room: str
    online: int
    shown: str


class NowTalking(NamedTuple):
    """"Now talking in #room.": a /join of a room you are in made it current."""

    room: str


class RoomJoinNotice(NamedTuple):
    """"NAME has joined #room." (its line, prefixed with the room but for the default one)."""

    name: str
    room: str


class RoomLeaveNotice(NamedTuple):
    """"NAME has left #room (REASON).": a /part, yours too."""

    name: str
    room: str
    reason: str = ""


class NoRoom(NamedTuple):
    """"!!! you are in no room: ...": a plain line when you have parted every room."""


#: What `decode` returns: a sentence of its own, else the plain ServerLine
#: (chat, action, private, and every other notice or error).
Incoming = Union[Hello, Welcome, JoinNotice, LeaveNotice, Renamed, Goodbye, ShuttingDown, SlowDown,
                 ServerFull, WelcomeBack, HistoryStart, HistoryEnd, HistoryGap, ServerLine,
                 Unrecognized, RoomWelcome, NowTalking, RoomJoinNotice, RoomLeaveNotice, NoRoom,
                 PasswordWanted, ServerPasswordWanted]

#: A room's name as the server writes it (in a line's prefix and in its
#: sentences): "#", then letters, digits, "_", "-" or "." (the server's rules
#: decide which; the client takes any such word).
_ROOM = r"#[\w.-]+"
_ROOM_PREFIX = re.compile(rf"({_ROOM}) ")
_ROOM_WELCOME = re.compile(rf"You joined ({_ROOM})\. Online \((\d+)\): (.*)")
_NOW_TALKING = re.compile(rf"Now talking in ({_ROOM})\.")
_JOINED_ROOM = re.compile(rf"(\S+) has joined ({_ROOM})\.")
_LEFT_ROOM = re.compile(rf"(\S+) has left ({_ROOM}?)(?: \((.*)\))?\.")
_NO_ROOM = "you are in no room"

_SENTENCES = (
    (_WELCOME, lambda m: Welcome(m[1], int(m[2]), m[3])),
    (_JOINED, lambda m: JoinNotice(m[1])),
    (_LEFT, lambda m: LeaveNotice(m[1], m[2] or "")),
    (_RENAMED, lambda m: Renamed(m[1], m[2])),
    (_GOODBYE, lambda m: Goodbye(m[1])),
    (_SLOW_DOWN, lambda m: SlowDown(float(m[1]))),
    (_WELCOME_BACK, lambda m: WelcomeBack(m[1])),
    (_HISTORY_START, lambda m: HistoryStart(int(m[1]))),
    (_ROOM_WELCOME, lambda m: RoomWelcome(m[1], int(m[2]), m[3])),
    (_PASSWORD_WANTED, lambda m: PasswordWanted(m[1])),
    (_NOW_TALKING, lambda m: NowTalking(m[1])),
    (_JOINED_ROOM, lambda m: RoomJoinNotice(m[1], m[2])),
    (_LEFT_ROOM, lambda m: RoomLeaveNotice(m[1], m[2], m[3] or "")),
)


def split_room(line: str) -> Tuple[Optional[str], str]:
    """(room, rest) of a server line: ``#dev <bob> hi`` -> ("#dev", "<bob> hi").

    A line of the default room has no prefix: (None, line). No other server
    line starts with "#", so the prefix cannot be mistaken."""
    match = _ROOM_PREFIX.match(line)
    return (match[1], line[match.end():]) if match else (None, line)


def decode(line: str) -> Incoming:
    """What a server line (decoded, sanitised, without its newline) says."""
    if line.startswith("*** "):
        return _decode_notice(line[4:])
    if line.startswith("!!! "):
        text = line[4:]
        if text == _SERVER_FULL:
            return ServerFull()
        if text.startswith(_NO_ROOM):
            return NoRoom()
        gap = _HISTORY_GAP.fullmatch(text)
        if gap:
            return HistoryGap(None if gap[1] == _UNKNOWN_COUNT else int(gap[1]), gap[2] or "")
        return error(text)
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
    elif line.startswith("-> *"):
        name, found, text = line[4:].partition("* ")
        if found and name and " " not in name:
            return sent(name, text)
    return Unrecognized(line)


def _decode_notice(text: str) -> Incoming:
    if text == _HELLO:
        return Hello()
    if text == _SHUTTING_DOWN or text == _SHUTTING_DOWN_KEPT:
        return ShuttingDown(text == _SHUTTING_DOWN_KEPT)
    if text == _HISTORY_END:
        return HistoryEnd()
    if text == _SERVER_PASSWORD:
        return ServerPasswordWanted()
    for pattern, build in _SENTENCES:
        match = pattern.fullmatch(text)
        if match:
            return build(match)
    return notice(text)
