"""A member's login and room roles, told to the other nodes (``--bus``).

Theory of operation. A node knows another node's members by name, node and
rooms (`selchat.rooms.Rooms.remote_set`). Two more facts about a member live
only on its own node: the account it is logged in to (a SASL login may name
another account than its nick) and the rooms it operates while it stays in
them (a room's maker, a name that is not registered given ``/op``; a
registered name's role is in the room's shared rules already). Together they
are its *status*, one string of tab-separated items::

    %=ACCOUNT    logged in to ACCOUNT (as its account spells it)
    %@#ROOM      operates #ROOM while it stays in it

Its node says a member's status whenever it changes, as a presence entry no
line announces (``%NAME<TAB>STATUS``: an older node reads a change it does
not know, and skips it), after the line of the change that made it (a join,
a part, a login, an ``/op``); and keeps it in Redis after the member's rooms
in its ``joined`` hash value, where a node starting up reads it (the items
start with ``%``: never a room name, so an older node skips them too).

The other nodes keep the statuses in `RemoteStatus`, by name key, and forget
one when its member leaves the server or is renamed; a role counts while its
member is listed in the room (`operators`), so a part read before its status
already ends it.

Two changes come from elsewhere than the member's node. An operator's
``/op`` (``/deop``) of another node's member whose name is not registered
is a presence entry of its own (`role`: ``@NAME<TAB>+``, the room in the
entry's room field), before the announcement: the member's node gives it
the role (and says its status, as after any change), every other node
counts it at once (`RemoteStatus.role`), so the marks agree from the
announcement on. And a session resumed on another node takes its status
along: Redis moves its ``joined`` value, status included, to the new node,
which keeps the login and the roles (`selchat.room_nodes`), and every node
reads the status there (``Moved.rooms``). Pure: strings in, decisions out.
"""
from typing import Dict, FrozenSet, Iterable, List, Mapping, NamedTuple, Optional, Set, Tuple

from selchat.names import name_key
from selchat.rooms import Room, room_key

#: Presence change of a status (`selchat.effect_types.Presence`); every item starts with it.
STATUS = "%"
ACCOUNT = STATUS + "="
OPERATES = STATUS + "@"
#: Presence change of a role given (taken) by another node's operator: never
#: a change an older node knows (it skips it), never a status item.
ROLE = "@"


class Status(NamedTuple):
    account: str  # "": not logged in
    operates: FrozenSet[str]  # room keys


NONE = Status("", frozenset())


def field(account: str, operated: Iterable[str]) -> str:
    """A status as the bus carries it: `account` ("": none), the names of
    the rooms operated."""
    items = [ACCOUNT + account] if account else []
    items += [OPERATES + name for name in operated]
    return "\t".join(items)


def parse(status: str) -> Status:
    """A status read from the bus (unknown items skipped)."""
    account, operates = "", set()
    for item in status.split("\t"):
        if item.startswith(ACCOUNT):
            account = item[len(ACCOUNT):]
        elif item.startswith(OPERATES) and item[len(OPERATES):].startswith("#"):
            operates.add(room_key(item[len(OPERATES):]))
    return Status(account, frozenset(operates))


def with_rooms(joined: str, status: str, default: str) -> str:
    """A member's ``joined`` hash value: its rooms ("": the default room
    only; see `selchat.rooms.Rooms.joined_field`) and then its status."""
    if not status:
        return joined
    return f"{joined or default + chr(9) + default}\t{status}"


def split(joined: str) -> Tuple[str, str]:
    """A ``joined`` hash value -> (its rooms, as `with_rooms` had them; its status)."""
    rooms: List[str] = []
    status: List[str] = []
    for item in joined.split("\t"):
        (status if item.startswith(STATUS) else rooms).append(item)
    return "\t".join(rooms), "\t".join(status)


def presence(name: str, status: str) -> str:
    """The presence field that tells member `name`'s status."""
    return f"{STATUS}{name}\t{status}"


def told(presence_field: str) -> Optional[Tuple[str, str]]:
    """(name, status) of a status presence field; None for another change."""
    if not presence_field.startswith(STATUS):
        return None
    name, _, status = presence_field[1:].partition("\t")
    return (name, status) if name else None


def role_told(presence_field: str) -> Optional[Tuple[str, bool]]:
    """(name, given) of a role presence field (``@NAME<TAB>+`` or ``-``);
    None for another change."""
    if not presence_field.startswith(ROLE):
        return None
    name, _, how = presence_field[1:].partition("\t")
    return (name, how == "+") if name and how in ("+", "-") else None


class RemoteStatus:
    """Other nodes' members' statuses, by name key."""

    def __init__(self) -> None:
        self._of: Dict[str, Status] = {}
        #: Room key -> name keys that operate it (`operators` reads this, not every member).
        self._operators: Dict[str, Set[str]] = {}

    def __len__(self) -> int:
        return len(self._of)

    def set(self, name: str, status: str) -> Optional[str]:
        """Member `name`'s status is `status`: its account if that changed
        (None: unchanged; "": logged out), for account-notify."""
        key = name_key(name)
        old, new = self._of.get(key, NONE), parse(status)
        self._put(key, old, new)
        return None if new.account == old.account else new.account

    def role(self, name: str, room_key: str, given: bool) -> None:
        """Another node's member `name` was given (or lost) the role of the
        room `room_key` while it stays, by an operator: counted until its
        node says its status."""
        key = name_key(name)
        old = self._of.get(key, NONE)
        operates = old.operates | {room_key} if given else old.operates - {room_key}
        self._put(key, old, old._replace(operates=operates))

    def _put(self, key: str, old: Status, new: Status) -> None:
        self._index(key, old, new)
        if new == NONE:
            self._of.pop(key, None)
        else:
            self._of[key] = new

    def _index(self, key: str, old: Status, new: Status) -> None:
        for room in old.operates - new.operates:
            keys = self._operators.get(room)
            if keys is not None:
                keys.discard(key)
                if not keys:
                    del self._operators[room]
        for room in new.operates - old.operates:
            self._operators.setdefault(room, set()).add(key)

    def forget(self, name: str) -> None:
        """Member `name` left the server (or its name is another's now)."""
        key = name_key(name)
        old = self._of.pop(key, None)
        if old is not None:
            self._index(key, old, NONE)

    def synced(self, joined: Mapping[str, str]) -> None:
        """A new view: every member's ``joined`` value (`with_rooms`)."""
        self._of.clear()
        self._operators.clear()
        for name, value in joined.items():
            status = split(value)[1]
            if status:
                self.set(name, status)

    def account(self, key: str) -> str:
        """The account the member with name key `key` is logged in to ("": none told)."""
        return self._of.get(key, NONE).account

    def operators(self, room: Room) -> Set[str]:
        """Name keys of `room`'s members on other nodes that operate it now."""
        keys = self._operators.get(room.key)
        return {key for key in keys if key in room.remote} if keys else set()
