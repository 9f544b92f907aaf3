"""Who set a room's topic and when: kept with the topic, everywhere it goes.

A room's topic is three values (`selchat.rooms.Room`): its text, who set it
(``topic_by``, a name) and when (``topic_at``, wall-clock ms; 0: not known, a
topic kept by a selchat before this one). The chat logic decides the text and
the setter (`selchat.room_commands`); the time is the driver's, stamped where
the topic's line is carried out (`selchat.effects`), or the bus entry's time
on the other nodes (`selchat.bus.bridge`). The same three go to the data
directory (`selchat.store`), to Redis' topics hash (`hash_value`) and to IRC
(``333``, `selchat.irc.topic`). A topic set to nothing clears all three: a
room with no topic has no setter.

Pure: no clock, no I/O.
"""
import time
from typing import NamedTuple, Tuple

from selchat import wire
from selchat.rooms import Room
from selchat.sanitize import clean
from selchat.wire import ServerLine

#: What ``/topic #room CLEAR`` sets a room's topic to: none (IRC's ``TOPIC #room :``).
CLEAR = "-"


class Topic(NamedTuple):
    """A room's topic as kept outside the room: on disk, in Redis."""

    text: str
    by: str = ""
    at_ms: int = 0


def cleaned(text: str) -> str:
    """A topic as set: sanitised, and a tab a space (a topic is one field of
    the bus's "TOPIC<TAB>SETTER" and of the topics hash's value)."""
    return clean(text).replace("\t", " ")


def set_topic(room: Room, text: str, by: str = "", at_ms: int = 0) -> None:
    """`room`'s topic is `text`, set by `by` at `at_ms` (nothing: none, by nobody)."""
    room.topic = text
    room.topic_by = by if text else ""
    room.topic_at = at_ms if text else 0


def restore(room: Room, kept: Topic) -> None:
    set_topic(room, kept.text, kept.by, kept.at_ms)


def of(room: Room) -> Topic:
    return Topic(room.topic, room.topic_by, room.topic_at)


def utc(at_ms: int) -> str:
    """A time as people read it: ``2026-12-07 20:58 UTC``."""
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(at_ms // 1000))


def shown(room: Room) -> ServerLine:
    """The answer to ``/topic #room``: the topic, who set it and when (what
    is known of it). The join's line is ``Topic for``, the topic alone
    (`selchat.wire.topic_is`): the page and clients read it as the topic."""
    if not room.topic:
        return wire.topic_is(room.name, "")
    who = f"set by {room.topic_by}" if room.topic_by else ""
    if room.topic_at:
        who = f"{who or 'set'}, {utc(room.topic_at)}"
    return wire.notice(f"Topic of {room.name}: {room.topic}" + (f" ({who})" if who else ""))


def hash_value(room: Room) -> str:
    """Redis' topics hash's value for `room`: "name<TAB>topic<TAB>setter<TAB>ms"
    (a topic, cleaned, has no tab; a name has none either)."""
    return f"{room.name}\t{room.topic}\t{room.topic_by}\t{room.topic_at}"


def from_hash(value: str) -> Tuple[str, Topic]:
    """A topics hash value read back: the room's name and its topic. A value
    written by a selchat before this one ("name<TAB>topic", whose topic may
    hold a tab) has no setter."""
    name, _, rest = value.partition("\t")
    fields = rest.rsplit("\t", 2)
    if len(fields) == 3 and fields[2].isdecimal():
        return name, Topic(fields[0], fields[1], int(fields[2]))
    return name, Topic(rest)
