"""The commands that only answer, changing nothing: ``/who`` (who is online,
in the chat or in a room, or whose name holds a pattern), ``/help``, and the
answers to an unknown command or a wrong usage; a part of
`selchat.room.ChatRoom`.

The plain ``/who`` answer and each pattern's are built once and shared until
membership changes (`ChatRoom` forgets them then): a thousand ``/who``s cost
one listing. Pure, as the room is.
"""
import logging
from typing import TYPE_CHECKING, Dict, Generic, List, Optional, Union

from selchat import commands, wire
from selchat.effect_types import Charge, Effect, Send, Session
from selchat.names import name_key
from selchat.rooms import Room, Rooms
from selchat.roster import SEARCH_NAMES_PER_TOKEN, WHO_CACHED, WHO_NAMES, Roster
from selchat.sanitize import clean
from selchat.wire import ServerLine

#: The room's logger: these lines are the room's, as before they moved here.
log = logging.getLogger("selchat.room")


class Answers(Generic[Session]):
    """The answering commands of `selchat.room.ChatRoom`, which sets these up."""

    rooms: Rooms[Session]
    #: Members past which a room's joins and leaves are not announced (0: never).
    announce_limit: int
    #: Every name, in /who order.
    _roster: Roster
    #: The plain /who answer, while membership does not change (None: to build).
    _who_answer: Optional[ServerLine]
    #: Answers by pattern, at most WHO_CACHED, while membership does not change.
    _who_found: Dict[str, ServerLine]

    if TYPE_CHECKING:  # ChatRoom's other parts'
        def _room_of(self, session: Session, name: str, member: bool = True,
                     ) -> Union[Room, List[Effect]]:
            ...

        def _marked(self, room: Room, shown: List[str]) -> List[str]:
            ...

        def listed(self, session: Session, room: Room) -> bool:
            ...

    def _do_who(self, session: Session, name: str, command: commands.Who) -> List[Effect]:
        room: Union[None, Room, List[Effect]] = None
        if command.pattern.startswith("#"):  # names never hold "#": a room
            room = self._room_of(session, command.pattern, member=False)
        elif not command.pattern and session in self.rooms.of:
            room = self.rooms.current(session)
        if isinstance(room, list):
            return room
        if room is not None and not room.default:
            if not self.listed(session, room):  # secret (+s): its members only
                return [Send(session, wire.error(f"you are not in {room.name}: "
                                                 f"/join {room.name}"))]
            shown, count = room.first(WHO_NAMES)
            return [Send(session, self._listing(f"Online in {room.name}",
                                                self._marked(room, shown), count))]
        if command.pattern and not command.pattern.startswith("#"):
            return self._who_matching(session, clean(command.pattern))
        if self._who_answer is None:
            roster = self._roster
            self._who_answer = self._listing("Online", roster.first(WHO_NAMES), len(roster))
        return [Send(session, self._who_answer)]

    def _who_matching(self, session: Session, pattern: str) -> List[Effect]:
        """Members whose name contains `pattern`, compared as names are: a
        search compares every name, so it is charged for them, and its answer
        is shared until membership changes (a repeat costs nothing more)."""
        found = self._who_found.get(pattern)
        if found is not None:
            return [Send(session, found)]
        shown, count = self._roster.search(name_key(pattern), WHO_NAMES)
        found = self._listing(f"Online matching {pattern!r}", shown, count)
        if len(self._who_found) >= WHO_CACHED:
            del self._who_found[next(iter(self._who_found))]
        self._who_found[pattern] = found
        tokens = len(self._roster) // SEARCH_NAMES_PER_TOKEN  # in a small room, nothing
        return [Send(session, found), Charge(session, tokens)] if tokens else [Send(session, found)]

    @staticmethod
    def _listing(title: str, shown: List[str], count: int) -> ServerLine:
        """"Title (N): a, b, ..." with the first WHO_NAMES names (the roster's
        order: alphabetical, ignoring case), then a count."""
        text = f"{title} ({count}): {', '.join(shown)}" if shown else f"{title} (0)"
        if count > WHO_NAMES:
            text += f" and {count - WHO_NAMES} more (/who PATTERN to search)"
        return wire.notice(text)

    def _do_help(self, session: Session, name: str, command: commands.Help) -> List[Effect]:
        lines = [f"{usage:<16} {what}" for usage, what in commands.COMMANDS.values()]
        lines.append(f"{'//text':<16} send a message that starts with /")
        if self.announce_limit:
            lines.append(f"In a room of more than {self.announce_limit} members, joins and "
                         "leaves are not announced (/who still counts everyone).")
        return [Send(session, wire.notice(line)) for line in ["Commands:", *lines]]

    def _do_unknown(self, session: Session, name: str, command: commands.Unknown) -> List[Effect]:
        log.debug("%r (%s): unknown command /%s", session, name, clean(command.word))
        return [Send(session, wire.error(f"unknown command: /{clean(command.word)} (try /help)"))]

    def _do_badusage(self, session: Session, name: str, command: commands.BadUsage) -> List[Effect]:
        return [Send(session, wire.error(f"usage: {commands.usage(command.command)}"))]
