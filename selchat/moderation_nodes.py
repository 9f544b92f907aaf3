"""Putting a member out, on whichever node it is: a part of
`selchat.moderation.Moderation`.

With ``--bus`` a moderator's node knows the other nodes' members only by
name, node and rooms. A ``/kick`` or a room ``/ban`` of one of them is
decided here as for a member of this node (the same checks, the same
announcement, the same rules written) and carried out by the member's node:
this node answers with an ``Expel`` effect, which the bus carries (op ``O``,
`selchat.bus.scripts`) to every node in the stream's order, *before* the
announcement; the node that holds the member (`expelled`) removes it with
the lines a member of the moderator's node gets (`remove`), so it never
reads its own announcement, which every node's members read once. The
announcement of a kick out of a room carries the leave (``-NAME``, with
the member's node), so every node's lists drop the member at that line,
as they do at a ``/part``'s. A server ban travels as the rules do
(`selchat.accounts.shared`); the member's node adds the address group it
came from, which only it knows (`_ban_address`).

Pure, like the rest of the room: lines, names and effects only.
"""
from typing import TYPE_CHECKING, Dict, Generic, List, Optional, Tuple

from selchat import wire
from selchat.accounts.authority import Authority, Sanction
from selchat.effect_types import (
    Close, Effect, Exited, Expel, Persist, Presence, Relay, Send, Session,
)
from selchat.names import name_key
from selchat.rooms import Room, Rooms


class PuttingOut(Generic[Session]):
    """Members put out of a room or off the server, here or on another node."""

    authority: Authority[Session]
    rooms: Rooms[Session]
    _owners: Dict[str, Session]
    _held: Dict[Session, str]
    #: Members of the other nodes: name key -> (name, node) (`selchat.room.ChatRoom`).
    _remote: Dict[str, Tuple[str, str]]

    if TYPE_CHECKING:  # ChatRoom's and Moderation's, used here
        def release(self, session: Session) -> List[Effect]:
            ...

        def disconnect(self, session: Session, reason: str = "", now: float = 0.0,
                       quitting: bool = False) -> List[Effect]:
            ...

        def _announce(self, by: str, room: Room, action: str, target: str, text: str,
                      detail: str = "", presence: Optional[Presence] = None) -> List[Effect]:
            ...

    @staticmethod
    def _put_out_lines(by: str, room: Room, shown: str, how: str, reason: str,
                       until: str) -> Tuple[str, str]:
        """(what the member is told, what the room is told) when `shown` is
        `how` ("kicked", "banned") out of `room` by `by`."""
        why = f" ({reason})" if reason else ""
        where = "this server" if room.default else room.name
        return (f"you were {how} from {where} by {by}{until}{why}",
                f"{shown} was {how} from {room.name} by {by}{until}{why}")

    def remove(self, member: Session, room: Optional[Room], told: str,
               reason: str) -> List[Effect]:
        """`member` (of this node) out of `room` (None or the default room:
        off the server, leaving with `reason`), told `told`; a held member
        without a word (off the server: its hold ends)."""
        if room is None or room.default:
            if member in self._held:
                return self.release(member)
            return [Send(member, wire.error(told)), Close(member),
                    *self.disconnect(member, reason, quitting=True)]
        self.rooms.exit(member, room)
        if member in self._held:
            return []
        return [Send(member, wire.error(told)), Exited(member, room)]

    def _put_out_elsewhere(self, by: str, room: Room, target: str, how: str, reason: str,
                           until: str) -> List[Effect]:
        """`target`, a member of another node, out of `room` ([] if it is not
        there): its node removes it, then every node reads the announcement."""
        key = name_key(target)
        remote = self._remote.get(key)
        if remote is None or not (room.default or key in room.remote):
            return []
        shown, node = remote
        told, text = self._put_out_lines(by, room, shown, how, reason, until)
        if room.default:  # its leave line, from its node, says it is gone
            return [Expel(shown, None, told, f"{how} by {by}"),
                    *self._announce(by, room, how, shown, text, reason)]
        self.rooms.remote_exit(shown, room.name)
        return [Expel(shown, room, told),
                *self._announce(by, room, how, shown, text, reason, Presence("-", shown, node))]

    def expelled(self, name: str, room_name: str, told: str, reason: str) -> List[Effect]:
        """Another node's moderator put the member named `name` out of room
        `room_name` ("": off the server): if it is this node's and still
        there, it goes (`remove`); else nothing."""
        member = self._owners.get(name_key(name))
        if member is None:
            return []
        if not room_name:
            return self.remove(member, None, told, reason)
        room = self.rooms.get(room_name)
        if room is None or room.default or not room.has(member):
            return []
        return self.remove(member, room, told, reason)

    def _ban_address(self, key: str, member: Session, ban: Sanction) -> List[Effect]:
        """A server ban of this node's `member` made on another node, which
        knew its name only: the address group it came from is banned too, and
        the ban, with it, goes to every node again."""
        address = self.authority.groups.get(member, "")
        if ban.address or not address:
            return []
        ban.address = address
        return [Persist("ban", key, ban)]

    def _told_elsewhere(self, name: str, line: wire.ServerLine) -> List[Effect]:
        """A line for the member named `name` on another node (a direct line
        through the bus), if another node has it."""
        remote = self._remote.get(name_key(name))
        return [] if remote is None else [Relay(remote[0], line)]
