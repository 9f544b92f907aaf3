"""The room index: which rooms exist, who is in each, and each member's rooms.

Two ways round, so that neither question walks the other side: a `Room`
knows its members (``members``: connected, in join order, what its lines are
delivered to; ``away``: held for /resume, listed but sent nothing) and
`Rooms.of` knows a member's rooms in the order it joined them, with its
current room (where a plain line goes). A member that never used a room
command has no entry in `Rooms.of` at all: it is in the default room only,
which is current, and costs nothing here but its place in the default room.

The default room (``serve --default-room``) is a room like the others but
for three things: it always exists, its lines carry no prefix, and every
member joins it on naming. Rooms are found by key: ``#`` and the name key of
the rest, under the same case, NFKC and look-alike rules as people's names
(`selchat.names`), so ``#Dev`` is ``#dev`` and a Cyrillic ``#dеv`` is too.

Pure: no I/O, no clock. The room's history (``Room.history``) is the
driver's to fill (`selchat.effects`); it goes when the room does.
"""
from typing import Callable, Dict, Generic, Hashable, Iterator, List, Optional, Set, Tuple, TypeVar

from selchat import wire
from selchat.history import MemoryHistory
from selchat.names import MAX_NAME, name_key, name_problem
from selchat.roster import Roster

Session = TypeVar("Session", bound=Hashable)

#: Rooms on one server by default (``serve --max-rooms``). An empty room costs
#: a few hundred bytes, a busy one its history (``--history`` lines); 10,000
#: is more rooms than a server of 10,000 people uses, and bounds what one
#: person creating rooms in a loop can make (they also pay their flood budget).
MAX_ROOMS = 10_000
#: Rooms one member may be in (``serve --max-rooms-per-member``): IRC networks
#: allow 20-120 channels per user (Libera: 120, EFnet: 50).
MAX_ROOMS_PER_MEMBER = 50
#: Members past which a room's joins and leaves are not announced
#: (``serve --announce-limit``; 0: always announce): each join told to every
#: member is O(n^2) for a room filling up (Ergo's maintainers put the
#: practical channel size near 2,000 for that reason).
ANNOUNCE_LIMIT = 1000
#: Members past which a room keeps its names sorted for /who (a `Roster`, as
#: the server does for everyone) rather than sorting them when asked. A
#: roster entry costs about 80 bytes a member (250 before it kept no sort
#: key per name), as much as the membership itself; a
#: sort of 200 names costs about 0.1 ms, paid by a /join or /who of a room
#: that small, while a sort per /join in a room of 10,000 would be 5 ms.
SORTED_FROM = 200
ROOM_RULE = (f"room names are # then 1-{MAX_NAME} letters or digits, '_', '-' or '.', "
             "with at least one letter or digit")


def room_problem(name: str) -> Optional[str]:
    """Why `name` cannot name a room, or None if it can."""
    if not name.startswith("#"):
        return f"invalid room: {ROOM_RULE}"
    problem = name_problem(name[1:])
    if problem is None:
        return None
    return "invalid room: " + (ROOM_RULE if "1-" in problem else problem.partition(": ")[2])


def room_key(name: str) -> str:
    """The form two room names are compared in (``#`` + the name key)."""
    return "#" + name_key(name[1:])


class Room(Generic[Session]):
    """One room: its name as first spelled, its members, topic and (a big
    room's) roster."""

    __slots__ = ("name", "key", "prefix", "default", "members", "away", "remote", "topic",
                 "topic_by", "topic_at", "roster", "history", "operators", "__weakref__")

    def __init__(self, name: str, default: bool = False) -> None:
        self.name = name
        self.key = room_key(name)
        self.default = default
        #: What its lines start with: nothing for the default room.
        self.prefix = b"" if default else f"{name} ".encode()
        #: Connected members -> their names, in join order: who its lines go to.
        self.members: Dict[Session, str] = {}
        #: Held members (their connection dropped, /resume may bring them back).
        self.away: Dict[Session, str] = {}
        #: Members on other nodes (with ``--bus``): name key -> name. Listed
        #: and counted, sent nothing from here (their node delivers to them).
        self.remote: Dict[str, str] = {}
        self.topic = ""
        #: Who set the topic and when (ms; 0: not known), `selchat.topics`.
        self.topic_by = ""
        self.topic_at = 0
        #: Its names in /who order, once it has more than SORTED_FROM members
        #: (never for the default room: the server's is).
        self.roster: Optional[Roster] = None
        #: Its last lines, the driver's (`selchat.effects`); None until its first line.
        self.history: Optional[MemoryHistory] = None
        #: Members here that operate it while they stay in it: its maker, and
        #: a name that is not registered given /op (IRC's channel operators).
        #: A registered name's role is kept in its rules instead
        #: (`selchat.accounts.authority.RoomRules.ops`); leaving ends this one.
        self.operators: Set[Session] = set()

    def __len__(self) -> int:
        return len(self.members) + len(self.away) + len(self.remote)

    def __repr__(self) -> str:
        return f"<Room {self.name} ({len(self)})>"

    def __lt__(self, other: "Room") -> bool:  # effects naming rooms sort, as tuples would
        return self.key < other.key

    def has(self, session: Session) -> bool:
        return session in self.members or session in self.away

    def first(self, count: int) -> Tuple[List[str], int]:
        """(its first `count` names in /who order, held ones marked away; how
        many it has). Not for the default room (its names are the server's)."""
        roster = self.roster
        if roster is None:
            if len(self) <= SORTED_FROM:
                names = sorted([*((_order(name), name) for name in self.members.values()),
                                *((_order(name), wire.away(name)) for name in self.away.values()),
                                *((_order(name), name) for name in self.remote.values())])
                return [shown for _, shown in names[:count]], len(names)
            roster = self.roster = Roster()
            for name in self.members.values():
                roster.set(name_key(name), name)
            for name in self.away.values():
                roster.set(name_key(name), name, wire.away(name))
            for name in self.remote.values():
                roster.set(name_key(name), name)
        return roster.first(count), len(roster)


def _forgotten(room: Room) -> None:
    """A room made anew, with nothing kept of it (no data directory)."""


class Joined(Generic[Session]):
    """A member's rooms in the order joined, and its current room."""

    __slots__ = ("rooms", "current")

    def __init__(self) -> None:
        #: A list, not a dict: 104 bytes for 6 rooms against a dict's 352 (a
        #: member is in at most ``max_per_member``, so a removal's scan is short).
        self.rooms: List[Room[Session]] = []
        self.current: Optional[Room[Session]] = None


class Rooms(Generic[Session]):
    """Every room, by key, and every member's rooms (see the module doc)."""

    def __init__(self, default: str, max_rooms: int = MAX_ROOMS,
                 max_per_member: int = MAX_ROOMS_PER_MEMBER) -> None:
        self.default: Room[Session] = Room(default, default=True)
        self.max_rooms = max_rooms
        self.max_per_member = max_per_member
        self._rooms: Dict[str, Room[Session]] = {self.default.key: self.default}
        #: Every room by its name as first spelled, the way its members type it
        #: (``/msg #dev``): found by one dict lookup, with no name rules or
        #: key to work out again for every line (`spelled`).
        self._spelled: Dict[str, Room[Session]] = {self.default.name: self.default}
        #: Members that used a room command -> their rooms (the others: the default only).
        self.of: Dict[Session, Joined[Session]] = {}
        #: Bumped on every change /rooms shows (a room made or gone, a count, a topic).
        self.version = 0
        #: Other nodes' members (name key) -> their rooms here but the default one.
        self.remote_of: Dict[str, Dict[Room[Session], None]] = {}
        #: Other nodes' members (name keys) that left the default room (``/part``).
        self.remote_outside: Set[str] = set()
        #: Called with each room that goes when a member here leaves it last:
        #: with a bus, its topic goes from Redis too.
        self.on_drop: Optional[Callable[[Room[Session]], None]] = None
        #: Called with a room made anew: what was kept of it (its topic, its
        #: lines) put back by whoever keeps rooms on disk (`selchat.archive`).
        self.recall: Callable[[Room[Session]], None] = _forgotten

    def __len__(self) -> int:
        return len(self._rooms)

    def __iter__(self) -> Iterator[Room[Session]]:
        return iter(self._rooms.values())

    def get(self, name: str) -> Optional[Room[Session]]:
        room = self._spelled.get(name)
        return self._rooms.get(room_key(name)) if room is None else room

    def spelled(self, name: str) -> Optional[Room[Session]]:
        """The room named exactly `name` as it was first spelled, or None
        (another spelling of it too: ask `get`). A room found so has a valid
        name: it was judged when the room was made."""
        return self._spelled.get(name)

    def _make(self, name: str) -> Room[Session]:
        room = self._rooms[room_key(name)] = self._spelled[name] = Room(name)
        return room

    def _drop_if_empty(self, room: Room[Session], local: bool = False) -> None:
        """An empty room goes; if a member here left it last, `on_drop` is told."""
        if not len(room) and not room.default and self._rooms.get(room.key) is room:
            del self._rooms[room.key]
            del self._spelled[room.name]
            if local and self.on_drop is not None:
                self.on_drop(room)

    def operates(self, session: Session, key: str) -> bool:
        """Whether `session` operates the room whose key is `key` while it
        stays in it (`Room.operators`)."""
        room = self._rooms.get(key)
        return room is not None and session in room.operators

    def by_key(self, key: str) -> Optional[Room[Session]]:
        """The room whose `room_key` is `key` (a caller that keeps keys: the bus)."""
        return self._rooms.get(key)

    def rooms_of(self, session: Session) -> List[Room[Session]]:
        """`session`'s rooms, in the order it joined them."""
        joined = self.of.get(session)
        if joined is None:
            return [self.default] if self.default.has(session) else []
        return list(joined.rooms)

    def current(self, session: Session) -> Optional[Room[Session]]:
        joined = self.of.get(session)
        return self.default if joined is None else joined.current

    def _joined(self, session: Session) -> Joined[Session]:
        joined = self.of.get(session)
        if joined is None:
            joined = self.of[session] = Joined()
            if self.default.has(session):
                joined.rooms.append(self.default)
                joined.current = self.default
        return joined

    def refusal(self, session: Session, name: str) -> Optional[str]:
        """Why `session` may not join `name` (a valid name), or None."""
        room = self.get(name)
        if room is not None and room.has(session):
            return None
        if len(self.rooms_of(session)) >= self.max_per_member:
            return (f"too many rooms: you are in {self.max_per_member}, the most one member "
                    "may be in (/part one first)")
        if room is None and len(self._rooms) >= self.max_rooms:
            return f"too many rooms: the server has {self.max_rooms}, its most"
        return None

    def enter(self, session: Session, name: str, as_name: str) -> Room[Session]:
        """`session` (named `as_name`) joins room `name`, made if new; it is current.
        The caller checked `refusal`."""
        room = self.get(name)
        if room is None:
            room = self._make(name)
            self.recall(room)
        joined = self._joined(session)
        if not room.has(session):
            room.members[session] = as_name
            _list(room, as_name)
            joined.rooms.append(room)
            self.version += 1
        joined.current = room
        return room

    def enter_default(self, session: Session, as_name: str) -> None:
        """A new member joins the default room (no entry in `of`: the cheap case;
        its roster is the server's, `selchat.room.ChatRoom`)."""
        self.default.members[session] = as_name

    def exit(self, session: Session, room: Room[Session]) -> None:
        """`session` leaves `room`; an empty room but the default one goes.
        Its current room becomes the one it joined most recently."""
        _list(room, room.members.pop(session, None) or room.away.pop(session, None), gone=True)
        room.operators.discard(session)
        self.version += 1
        self._drop_if_empty(room, local=True)
        joined = self._joined(session)
        if room in joined.rooms:
            joined.rooms.remove(room)
        if joined.current is room:
            joined.current = joined.rooms[-1] if joined.rooms else None

    def forget(self, session: Session) -> List[Room[Session]]:
        """`session` leaves the server: out of every room; returns them."""
        rooms = self.rooms_of(session)
        for room in rooms:
            _list(room, room.members.pop(session, None) or room.away.pop(session, None), gone=True)
            room.operators.discard(session)
            self._drop_if_empty(room, local=True)
        self.of.pop(session, None)
        if rooms:
            self.version += 1
        return rooms

    def hold(self, session: Session) -> List[Room[Session]]:
        """`session`'s connection dropped and it is held: away in its rooms."""
        rooms = self.rooms_of(session)
        for room in rooms:
            name = room.members.pop(session, None)
            if name is not None:
                room.away[session] = name
                _list(room, name, wire.away(name))
        return rooms

    def move(self, old: Session, new: Session, name: str) -> List[Room[Session]]:
        """`old`'s memberships are `new`'s (a resume), connected; returns its rooms."""
        rooms = self.rooms_of(old)
        for room in rooms:
            room.members.pop(old, None)
            room.away.pop(old, None)
            room.members[new] = name
            _list(room, name)
            if old in room.operators:
                room.operators.discard(old)
                room.operators.add(new)
        joined = self.of.pop(old, None)
        if joined is not None:
            self.of[new] = joined
        return rooms

    def rename(self, session: Session, name: str) -> None:
        for room in self.rooms_of(session):
            held = session in room.away
            old = (room.away if held else room.members)[session]
            (room.away if held else room.members)[session] = name
            _list(room, old, gone=True)
            _list(room, name, wire.away(name) if held else name)

    # -- other nodes' members (``--bus``) -----------------------------------------------

    def remote_enter(self, name: str, room_name: str) -> None:
        """Another node's member `name` joined `room_name` (made here if new:
        /rooms and /who agree on every node). Not bound by ``max_rooms``: the
        other node counted it against its own."""
        room = self.get(room_name)
        if room is None:
            room = self._make(room_name)
        key = name_key(name)
        if key not in room.remote:
            room.remote[key] = name
            _list(room, name)
            self.remote_of.setdefault(key, {})[room] = None
            self.version += 1

    def remote_exit(self, name: str, room_name: str) -> None:
        """Another node's member `name` left `room_name`."""
        room = self.get(room_name)
        key = name_key(name)
        if room is None or room.remote.pop(key, None) is None:
            return
        # (A session that moved here from that node is listed still.)
        if room.roster is not None and name not in (*room.members.values(), *room.away.values()):
            _list(room, name, gone=True)
        rooms = self.remote_of.get(key)
        if rooms is not None:
            rooms.pop(room, None)
            if not rooms:
                del self.remote_of[key]
        self._drop_if_empty(room)
        self.version += 1

    def remote_forget(self, name: str) -> None:
        """Another node's member `name` left the server: out of its rooms here."""
        self.remote_outside.discard(name_key(name))
        for room in list(self.remote_of.get(name_key(name), ())):
            self.remote_exit(name, room.name)

    def remote_relist(self, name: str) -> None:
        """Another node's member `name` was this node's a moment ago (a resume
        moved it): listed in its rooms as theirs."""
        key = name_key(name)
        for room in self.remote_of.get(key, ()):
            _list(room, room.remote[key])

    def remote_inside(self, name: str, inside: bool) -> None:
        """Another node's member `name` joined (`inside`) or left the default room."""
        key = name_key(name)
        if inside != (key not in self.remote_outside):
            (self.remote_outside.discard if inside else self.remote_outside.add)(key)
            self.version += 1

    def remote_in_default(self, remote_names: int) -> int:
        """How many of the other nodes' `remote_names` members are in the default room."""
        return remote_names - len(self.remote_outside)

    def remote_set(self, name: str, joined: str) -> None:
        """Another node's member `name` is in the rooms `joined` says, as its
        node keeps them in Redis: "current<TAB>room<TAB>room..." (the default
        room listed if it is in it; "": the default room only)."""
        rooms = list(filter(None, joined.split("\t")[1:])) if joined else [self.default.name]
        keys = {room_key(room) for room in rooms}
        for room in list(self.remote_of.get(name_key(name), ())):
            if room.key not in keys:
                self.remote_exit(name, room.name)
        for room_name in rooms:
            if room_key(room_name) != self.default.key and not room_problem(room_name):
                self.remote_enter(name, room_name)
        self.remote_inside(name, self.default.key in keys)

    def remote_reset(self) -> None:
        """Forget every other node's member's rooms (a new view follows)."""
        for key, rooms in list(self.remote_of.items()):
            for room in list(rooms):
                self.remote_exit(room.remote.get(key, key), room.name)
        self.remote_of.clear()
        self.remote_outside.clear()
        self.version += 1

    def joined_field(self, session: Session) -> str:
        """`session`'s rooms as `remote_set` reads them ("": the default room only)."""
        joined = self.of.get(session)
        if joined is None:
            return "" if self.default.has(session) else "\t"
        current = joined.current
        if current is self.default and list(joined.rooms) == [self.default]:
            return ""
        # In no room at all: "<TAB>" (no current room, none listed), not "".
        return "\t".join([current.name if current is not None else "",
                           *(room.name for room in joined.rooms)]) or "\t"

    def remote_rename(self, old: str, new: str) -> None:
        """Another node's member `old` is `new` now, in its rooms here too."""
        if name_key(old) in self.remote_outside:
            self.remote_outside.discard(name_key(old))
            self.remote_outside.add(name_key(new))
        rooms = self.remote_of.pop(name_key(old), None)
        if rooms is None:
            return
        for room in rooms:
            room.remote.pop(name_key(old), None)
            _list(room, old, gone=True)
            room.remote[name_key(new)] = new
            _list(room, new)
        self.remote_of[name_key(new)] = rooms
        self.version += 1

    def sharing(self, session: Session, announce_limit: int,
                default_untold: bool = False) -> Dict[Session, None]:
        """Connected members sharing a room but the default one with `session`,
        not in the default room themselves (that room is told by one shared
        line; unless `default_untold`), each once: who is told its rename or
        its leaving. Rooms over `announce_limit` members (0: none is) are not
        told its leaving, so this walks at most that many members a room."""
        told: Dict[Session, None] = {}
        default = {} if default_untold else self.default.members
        for room in self.rooms_of(session):
            if room.default or (announce_limit and len(room) > announce_limit):
                continue
            for member in room.members:
                if member not in default:
                    told[member] = None
        told.pop(session, None)
        return told


def _list(room: Room, name: Optional[str], shown: Optional[str] = None, gone: bool = False,
          ) -> None:
    """Keep a room's roster, if it has one, in step."""
    if name is not None and room.roster is not None:
        room.roster.set(name_key(name), None if gone else name, shown)


def _order(name: str) -> Tuple[str, str]:
    """/who order, as `selchat.roster.Roster` keeps it: ignoring case, then exact."""
    return (name.casefold(), name)
