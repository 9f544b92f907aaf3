"""The other nodes' members, as `selchat.room.ChatRoom` knows them (``--bus``).

With a bus (several nodes, one room) the room knows every other node's member
by name and node: a name is refused if anyone anywhere holds it, ``/who``
lists everyone, ``/msg`` reaches anyone. It learns them from the presence
change each join, leave and rename line carries (``Broadcast.presence``, read
back by every node with the line), from the bus's list of names when it
connects, and from the status entries of `selchat.member_status`. This part
also says this node's members again to the others (`announce_all`), gives way
when another node claimed a name first (`name_lost`), and lets go of a session
resumed elsewhere (`moved_away`). Pure: no I/O, no clock.
"""
import itertools
import logging
from typing import (
    TYPE_CHECKING, Collection, Dict, Generic, List, Mapping, Optional, Set, Tuple,
)

from selchat import wire
from selchat.effect_types import (
    INSIDE, OUTSIDE, TOPIC, Broadcast, Close, Effect, Keep, Left, Presence, Send, Session,
    Unannounced, Unhold,
)
from selchat.accounts.authority import Authority
from selchat.member_status import RemoteStatus, parse as parse_status
from selchat.names import MAX_NAME, name_key
from selchat.resume import TaggedSession, TaggedSessions
from selchat.rooms import Room, Rooms
from selchat.topics import Topic, restore as restore_topic


#: The chat logic's logger, as before the split: log filters by name still apply.
log = logging.getLogger("selchat.room")


class OtherNodes(Generic[Session]):
    """The other nodes' part of `selchat.room.ChatRoom`, which sets these up."""

    rooms: Rooms[Session]
    authority: Authority[Session]
    #: Other nodes' members: name key -> (name, node).
    _remote: Dict[str, Tuple[str, str]]
    #: Other nodes' members' logins and roles.
    remote_status: RemoteStatus
    sessions: TaggedSessions[Session]
    members: Dict[Session, str]
    _held: Dict[Session, str]
    _tagged: Set[Session]
    _unseen: Set[Session]
    _owners: Dict[str, Session]

    if TYPE_CHECKING:  # ChatRoom's and RoomCommands', used here
        def _listed(self, key: str) -> None:
            ...

        def _name_for(self, key: str) -> str:
            ...

        def _name_refusal(self, session: Session, name: str) -> Optional[str]:
            ...

        def _rename(self, session: Session, name: str, new: str) -> List[Effect]:
            ...

        def _quiet(self, room: Room) -> bool:
            ...

        def _invitations_follow(self, name: str, new: str = "") -> List[Effect]:
            ...

    def remote_name(self, key: str) -> Optional[str]:
        """The name of another node's member by name key, if there is one."""
        held = self._remote.get(key)
        return None if held is None else held[0]

    def remote_names(self) -> List[str]:
        return [name for name, _ in self._remote.values()]

    def remote_synced(self, names: Mapping[str, Tuple[str, str]], node: str,
                      rooms: Mapping[str, str] = {},
                      topics: Collection[Tuple[str, Topic]] = ()) -> None:
        """The bus's list of every name (key -> (name, node)); `node` is ours;
        the other nodes' members' rooms (name -> "current<TAB>room...", see
        `selchat.rooms.Rooms.remote_set`) and the rooms' topics, all as of
        one moment: what this node knew of the others is replaced."""
        before, self._remote = self._remote, {
            key: held for key, held in names.items() if held[1] != node}
        for key in before.keys() | self._remote.keys():
            self._listed(key)
        self.rooms.remote_reset()
        for name, joined in rooms.items():
            if name_key(name) in self._remote:
                self.rooms.remote_set(name, joined)
        self.remote_status.synced(rooms)
        for room_name, topic in topics:
            room = self.rooms.get(room_name)
            if room is not None:
                self._set_topic(room, topic)

    def remote_presence(self, node: str, presence: Presence, at_ms: int = 0) -> None:
        """Another node's join, leave or rename (`Broadcast.presence`), read
        from the bus (or a topic set, at `at_ms`)."""
        change, name, other = presence
        if change == "+":
            self._remote[name_key(name)] = (name, node)
            self._listed(name_key(name))
            self.rooms.remote_inside(name, other != OUTSIDE)  # "+NAME<TAB><": out of it
        elif change == "-":
            self._forget_remote(name, other or node)
        elif change == "=":
            self.rooms.remote_rename(name, other)  # first: forgetting `name` leaves its rooms
            self._forget_remote(name, node)
            self._remote[name_key(other)] = (other, node)
            self._listed(name_key(other))
        elif change == TOPIC:
            self._set_topic(self.rooms.default, Topic(name, other, at_ms))
        elif change == OUTSIDE or change == INSIDE:
            self.rooms.remote_inside(name, change == INSIDE)

    def remote_room_presence(self, room_name: str, presence: Presence, at_ms: int = 0) -> None:
        """Another node's join, part or topic (set at `at_ms`) in a room but the default one."""
        change, name, other = presence
        if change == "+":
            self.rooms.remote_enter(name, room_name)
        elif change == "-":
            self.rooms.remote_exit(name, room_name)
        elif change == TOPIC:
            room = self.rooms.get(room_name)
            if room is not None:
                self._set_topic(room, Topic(name, other, at_ms))

    def _set_topic(self, room: Room[Session], topic: Topic) -> None:
        restore_topic(room, topic)
        self.rooms.version += 1

    def _forget_remote(self, name: str, node: str) -> None:
        key = name_key(name)
        if self._remote.get(key, ("", ""))[1] == node:
            del self._remote[key]
            self._listed(key)
            self.rooms.remote_forget(name)
            self.remote_status.forget(name)

    def remote_gone(self, names: Collection[str]) -> List[Effect]:
        """Members of a node that stopped: this node announces them gone, once."""
        effects: List[Effect] = []
        for name in names:
            held = self._remote.pop(name_key(name), None)
            self._listed(name_key(name))
            self.rooms.remote_forget(name)
            self.remote_status.forget(name)
            node = held[1] if held else ""
            log.info("%s left (server lost)", name)
            effects += [*self._invitations_follow(name),
                        Broadcast(wire.left(name, "server lost"),
                                  presence=Presence("-", name, node))]
        return effects

    def announce_all(self) -> List[Effect]:
        """The other nodes took this one for gone and said its members left
        (its lease ran out while it was cut off): they are here, say so."""
        effects: List[Effect] = []
        for session, name in [*self.members.items(), *self._held.items()]:
            inside = self.rooms.default.has(session)  # (an IRC client may be out of it)
            presence = Presence("+", name, "" if inside else OUTSIDE)
            effects.append(Unannounced(presence) if session in self._unseen else
                           Broadcast(wire.joined(name), None, presence, elsewhere=True))
            for room in self.rooms.rooms_of(session) if session in self.rooms.of else ():
                if room.default:
                    continue
                if self._quiet(room):
                    effects.append(Unannounced(Presence("+", name), room))
                else:
                    effects.append(Broadcast(wire.joined_room(name, room.name), None,
                                             Presence("+", name), elsewhere=True, room=room))
            if not inside:
                effects.append(Unannounced(Presence(OUTSIDE, name)))
        return effects

    def name_lost(self, key: str) -> List[Effect]:
        """Another node gave out name key `key` before this one did (two nodes
        that could not see each other): the later claim, ours, is renamed."""
        session = self._owners.get(key)
        if session is None:
            return []
        name = self._name_for(key)
        candidates = (f"{name[:MAX_NAME - 3]}-{n}" for n in itertools.count(2))
        new = next(each for each in candidates if self._name_refusal(session, each) is None)
        log.warning("%s was claimed first on another server: now %s", name, new)
        notice = wire.notice(f"The name {name} was taken on another server first; "
                             f"you are now known as {new}.")
        told = Keep(session, notice) if session in self._held else Send(session, notice)
        return [*self._rename(session, name, new), told]

    def role_told(self, name: str, room_name: str, given: bool) -> bool:
        """Another node's operator gave (`given`) or took the role of the
        member named `name` while it stays in room `room_name`
        (`selchat.moderation`): this node's member has it (True: its status
        changed, to be said), another node's is counted so until its status
        comes."""
        room = self.rooms.get(room_name)
        if room is None or room.default:
            return False
        key = name_key(name)
        member = self._owners.get(key)
        if member is None:
            if key in room.remote:
                self.remote_status.role(name, room.key, given)
            return False
        if not room.has(member) or (member in room.operators) == given:
            return False
        (room.operators.add if given else room.operators.discard)(member)
        return True

    def status_moved(self, session: Session, status: str) -> None:
        """`session` was resumed here from another node (in its rooms again):
        its login and its roles while it stays come with it, as its former
        node last said them (`selchat.member_status`; an account deleted
        meanwhile is no login)."""
        moved = parse_status(status)
        key = name_key(moved.account)
        if moved.account and key in self.authority.accounts:
            self.authority.identified[session] = key
        for room in self.rooms.rooms_of(session):
            if room.key in moved.operates and not room.default:
                room.operators.add(session)

    def moved_away(self, member: TaggedSession, node: str) -> List[Effect]:
        """`member`'s session was resumed on `node`: let it go here without a
        word (closing its old connection if still open); the name is there now."""
        session, name = member.session, member.name
        self.sessions.remove(session)
        effects: List[Effect] = []
        if self._held.pop(session, None) is not None:
            effects.append(Unhold(session))
        if self.members.pop(session, None) is not None:
            self._tagged.discard(session)
            effects += [Left(session), Close(session)]
        self.rooms.forget(session)
        key = name_key(name)
        if self._owners.get(key) == session:
            del self._owners[key]
        self._remote[key] = (name, node)
        self._listed(key)
        log.info("%s resumed on another server", name)
        return effects
