"""The account and moderation command lines, parsed (`selchat.commands.parse`
asks here for a word it does not know).

Each command is a NamedTuple whose class name picks its ``_do_`` method in
`selchat.room.ChatRoom` (`selchat.accounts.login`, `selchat.moderation`).
A room argument is optional and comes first when given (``#room``: names
never hold "#"). Pure.
"""
from typing import NamedTuple, Optional, Tuple, Union


class Register(NamedTuple):
    password: str


class Password(NamedTuple):
    old: str
    new: str


class Unregister(NamedTuple):
    password: str


class Op(NamedTuple):
    room: str
    name: str


class Deop(NamedTuple):
    room: str
    name: str


class Kick(NamedTuple):
    room: str
    name: str
    reason: str = ""


class Ban(NamedTuple):
    room: str
    name: str
    duration: Optional[float] = None  # seconds; None: until /unban
    reason: str = ""


class Unban(NamedTuple):
    room: str
    name: str


class Mute(NamedTuple):
    room: str
    name: str
    duration: Optional[float] = None


class Unmute(NamedTuple):
    room: str
    name: str


class Invite(NamedTuple):
    name: str
    room: str = ""


#: The room modes without an argument (`Mode`): several may be changed at once.
FLAGS = "imnst"


class Mode(NamedTuple):
    """``/mode [#room] [+i|-i|+m|-m|+n|-n|+s|-s|+t|-t|+k KEY|-k|+l N|-l|+v NAME|-v NAME]``;
    the flags without an argument may come several at once: ``+imt``, ``-int``."""

    room: str
    change: str = ""
    argument: str = ""


AccountCommand = Union[Register, Password, Unregister, Op, Deop, Kick, Ban, Unban, Mute, Unmute,
                       Invite, Mode]

#: Usage and one line for /help, in its order.
COMMANDS = {
    "register": ("/register PASSWORD", "make your name yours (a long password: keep it safe)"),
    "password": ("/password OLD NEW", "change your name's password"),
    "unregister": ("/unregister PASSWORD", "give your name up"),
    "op": ("/op [#ROOM] NAME", "make NAME an operator of the room (kept if registered)"),
    "deop": ("/deop [#ROOM] NAME", "take NAME's operator role away"),
    "kick": ("/kick [#ROOM] NAME [reason]", "put NAME out of the room (operators)"),
    "ban": ("/ban [#ROOM] NAME [TIME] [reason]",
            "keep NAME out (TIME: 30m, 2h, 7d; in the default room: the server)"),
    "unban": ("/unban [#ROOM] NAME", "lift a ban"),
    "mute": ("/mute [#ROOM] NAME [TIME]", "NAME's lines are refused in the room"),
    "unmute": ("/unmute [#ROOM] NAME", "lift a mute"),
    "invite": ("/invite NAME [#ROOM]", "let NAME into an invite-only room"),
    "mode": ("/mode [#ROOM] [+i|+m|+n|+s|+t|+k KEY|+l N|+v NAME]",
             "show or set a room's modes (- to unset)"),
}

_DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str) -> Optional[float]:
    """"30s", "10m", "2h", "7d" or plain seconds -> seconds; None if not one."""
    number, unit = (text[:-1], text[-1]) if text[-1:] in _DURATION_UNITS else (text, "s")
    if not (number.isdecimal() and number.isascii()) or int(number) == 0:
        return None
    return float(int(number) * _DURATION_UNITS[unit])


def _room_first(rest: str) -> Tuple[str, str]:
    """("#room", the rest) when the arguments start with a room, else ("", all)."""
    if rest.startswith("#"):
        room, _, rest = rest.partition(" ")
        return room, rest.strip(" ")
    return "", rest


def parse(word: str, rest: str) -> Optional[AccountCommand]:
    """The command `/word rest` is, None if `word` is none of these; raises
    ValueError when it is one, used wrongly."""
    if word not in COMMANDS:
        return None
    if word in ("register", "unregister"):
        if not rest:
            raise ValueError(word)
        return Register(rest) if word == "register" else Unregister(rest)
    if word == "password":
        old, _, new = rest.partition(" ")
        if not old or not new.strip(" "):
            raise ValueError(word)
        return Password(old, new.strip(" "))
    if word == "invite":
        name, _, room = rest.partition(" ")
        if not name or " " in room.strip(" "):
            raise ValueError(word)
        return Invite(name, room.strip(" "))
    room, rest = _room_first(rest)
    if word == "mode":
        change, _, argument = rest.partition(" ")
        if change and not (change[0] in "+-" and (
                (len(change) == 2 and change[1] in "klv") or
                (len(change) > 1 and all(flag in FLAGS for flag in change[1:])))):
            raise ValueError(word)
        return Mode(room, change, argument.strip(" "))
    name, _, more = rest.partition(" ")
    more = more.strip(" ")
    if not name:
        raise ValueError(word)
    if word == "kick":
        return Kick(room, name, more)
    if word == "ban":
        first, _, reason = more.partition(" ")
        duration = parse_duration(first) if first else None
        if duration is None:  # no TIME: all of it is the reason
            return Ban(room, name, None, more)
        return Ban(room, name, duration, reason.strip(" "))
    if more and word != "mute":
        raise ValueError(word)
    if word == "mute":
        duration = parse_duration(more) if more else None
        if more and duration is None:
            raise ValueError(word)
        return Mute(room, name, duration)
    if word == "op":
        return Op(room, name)
    if word == "deop":
        return Deop(room, name)
    return Unban(room, name) if word == "unban" else Unmute(room, name)
