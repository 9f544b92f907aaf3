"""Channel TAGMSGs kept for CHATHISTORY (``draft/event-playback``). Pure.

A TAGMSG (tags and no text: a reaction, a typing notice) is an IRC event,
not a line of the room's. A room's kept lines are the very bytes its
members were sent (`selchat.history`), shared by every terminal and page
of the room: a TAGMSG among them would be shown to all of them. So it is
kept beside them: each room's last `EVENTS_KEPT` TAGMSGs, numbered in the
server's one sequence (a hole in the room's lines, as another room's line
is), so a TAGMSG's msgid is a room line's (``EPOCH-SEQ``), and a
CHATHISTORY query walks both in one order (`WithEvents`).

Only TAGMSGs worth a look later are kept (`worth_keeping`): reactions and
those their sender asks to keep, as Ergo's ``tagmsg-storage`` whitelist; a
typing notice is news only while it is sent, and a chatty client's would
push the reactions out. Kept in memory, on this node, while the room exists:
not on disk, not read back after a restart, not across ``--bus`` nodes
(docs/irc.rst, "Not kept").
"""
import collections
import weakref
from typing import Deque, List, Mapping, Optional

from selchat.history import Line
from selchat.room_lines import MemoryLines, RoomLines

#: TAGMSGs kept per room: a screenful of reactions around the last lines.
#: At about 150 bytes each, 15 KB for a busy room; a quiet room keeps none.
EVENTS_KEPT = 100

#: Client tags that make a TAGMSG worth keeping: a reaction, or the sender's
#: request (``+draft/persist``, which irctest's Ergo configuration keeps too).
KEPT_TAGS = frozenset({"+draft/react", "+react", "+draft/persist", "+persist"})


def worth_keeping(tags: Mapping[str, str]) -> bool:
    """Whether a TAGMSG with these client tags is kept for CHATHISTORY."""
    return not KEPT_TAGS.isdisjoint(tags)


class Event(Line):
    """A TAGMSG kept: `data` its IRC line without tags (``:SOURCE TAGMSG
    #room``), `tags` the sender's own tags as IRC writes them (``+react=x``)."""

    __slots__ = ()


def with_tags(tags: str, event: Line) -> bytes:
    """`event` with `tags` (``@time=...;msgid=... `` or "") and its own tags in front."""
    own = bytes(event.tags)
    if not own:
        return tags.encode() + bytes(event.data)
    front = tags[:-1] + ";" if tags else "@"
    return front.encode() + own + b" " + bytes(event.data)


class Events:
    """The TAGMSGs of each room, made with its first and gone with the room."""

    __slots__ = ("_rooms",)

    def __init__(self) -> None:
        self._rooms: "weakref.WeakKeyDictionary[object, Deque[Event]]" = \
            weakref.WeakKeyDictionary()

    def add(self, room: object, seq: int, time_ms: int, line: bytes, tags: str) -> None:
        kept = self._rooms.get(room)
        if kept is None:
            kept = self._rooms[room] = collections.deque(maxlen=EVENTS_KEPT)
        kept.append(Event(seq, time_ms, line, tags.encode()))

    def of(self, room: object) -> Optional[MemoryLines]:
        """`room`'s TAGMSGs kept, oldest first (None: none)."""
        kept = self._rooms.get(room)
        return None if not kept else MemoryLines(list(kept))


class WithEvents:
    """A room's lines and its TAGMSGs as one `RoomLines`, in number order."""

    __slots__ = ("_lines", "_events")

    def __init__(self, lines: RoomLines, events: MemoryLines) -> None:
        self._lines, self._events = lines, events

    def before(self, seq: int, count: int) -> List[Line]:
        both = sorted(self._lines.before(seq, count) + self._events.before(seq, count))
        return both[-count:] if count > 0 else []

    def after(self, seq: int, count: int) -> List[Line]:
        both = sorted(self._lines.after(seq, count) + self._events.after(seq, count))
        return both[:count]

    def seq_at(self, time_ms: int) -> Optional[int]:
        found = [seq for seq in (self._lines.seq_at(time_ms), self._events.seq_at(time_ms))
                 if seq is not None]
        return min(found) if found else None
