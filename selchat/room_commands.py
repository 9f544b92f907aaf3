"""The room commands: /join, /part, /topic and /rooms, how a line reaches a
room (``/msg #room``, a member's current room), and when a room is too big
for its joins and leaves to be announced (``--announce-limit``).

`RoomCommands` is a part of `selchat.room.ChatRoom` (which picks a command's
``_do_`` method by its class name, `selchat.wire`); it decides over the room
index (`selchat.rooms`) and answers with effects (`selchat.effect_types`),
as the rest of the chat logic does. Pure: no I/O, no clock.
"""
import logging
from typing import TYPE_CHECKING, Dict, Generic, List, Optional, Set, Tuple, Union

from selchat import commands
from selchat import topics
from selchat import wire
from selchat.effect_types import (
    INSIDE, OUTSIDE, TOPIC, Broadcast, Charge, Effect, Entered, Exited, Left, Lookup, Presence,
    Replay, Send, Session, Unannounced,
)
from selchat.names import name_key
from selchat.rooms import Room, Rooms, room_key, room_problem
from selchat.roster import SEARCH_NAMES_PER_TOKEN, WHO_CACHED, WHO_NAMES, Roster
from selchat.sanitize import clean
from selchat.wire import ServerLine

if TYPE_CHECKING:
    from selchat.accounts.authority import Authority

#: The chat logic's logger, as before the split: log filters by name still apply.
log = logging.getLogger("selchat.room")

#: Characters of a room topic kept: a topic is shown on every join, so a
#: line's worth (IRC networks allow 300-390).
MAX_TOPIC = 300


class RoomCommands(Generic[Session]):
    """The room commands of `selchat.room.ChatRoom`, which sets these up."""

    rooms: Rooms[Session]
    #: Members past which a room's joins and leaves are not announced (0: never).
    announce_limit: int
    #: Lines replayed to a member joining a room.
    replay: int
    #: Every name, in /who order: a join into the default room lists it.
    _roster: Roster
    #: Other nodes' members (``--bus``): name key -> (name, node); counted in
    #: the default room.
    _remote: Dict[str, Tuple[str, str]]
    #: /rooms answers: (rooms' version, plain answer, answers by pattern).
    _rooms_answers: Tuple[int, Optional[List[ServerLine]], Dict[str, List[ServerLine]]]
    #: Members (and connections to be named) that never were in the default
    #: room: an IRC client begins in no channel (`ChatRoom.connect`'s
    #: ``outside``). The default room hears of one when it first joins it, as
    #: of anyone, "has joined the chat room", and hears it leave (or change
    #: its name) only then; until then only those sharing a room with it are
    #: told. /who lists it all the while, as it lists a member that left the
    #: default room: online, reachable by /msg.
    _unseen: Set[Session]
    #: Accounts and rules (`selchat.accounts.authority`), and the checks of
    #: `selchat.moderation.Moderation`, ChatRoom's other part.
    authority: "Authority[Session]"

    if TYPE_CHECKING:  # `selchat.moderation.Moderation`'s
        def _speech_refusal(self, session: Session, name: str, room: Room,
                            ) -> Optional[List[Effect]]:
            ...

        def _join_refusal(self, session: Session, name: str, room_name: str,
                          key: str) -> Optional[str]:
            ...

        def _room_entered(self, session: Session, name: str, room: Room,
                          made: bool) -> List[Effect]:
            ...

        def _topic_refusal(self, session: Session, room: Room) -> Optional[List[Effect]]:
            ...

        def _marked(self, room: Room, shown: List[str]) -> List[str]:
            ...

        def listed(self, session: Session, room: Room) -> bool:
            ...

    def _quiet(self, room: Room) -> bool:
        """Whether `room` is too big for its joins and leaves to be announced."""
        return bool(self.announce_limit) and self._count(room) > self.announce_limit

    def _count(self, room: Room) -> int:
        """`room`'s members, on every node (the default room's other nodes'
        members are the room's `_remote`, less those that left it)."""
        return len(room) + (self.rooms.remote_in_default(len(self._remote)) if room.default
                            else 0)

    def _told(self, line: ServerLine, session: Session, presence: Presence, room: Room,
              ) -> Effect:
        """A join or part of `room`: its line, or, in a room too big to
        announce it, only the change, for the other nodes' lists (``--bus``)."""
        where = None if room.default else room
        if self._quiet(room):
            return Unannounced(presence, where)
        return Broadcast(line, session, presence, room=where)

    def _named_outside(self, session: Session, name: str) -> List[Effect]:
        """`session`, just named, is in no room yet (`_unseen`): nobody here
        is told; the other nodes' lists learn its name, outside the default room."""
        self.rooms.exit(session, self.rooms.default)
        return [Left(session), Unannounced(Presence("+", name)),
                Unannounced(Presence(OUTSIDE, name))]

    def _never_told(self, session: Session) -> bool:
        """Whether the default room never heard of `session` (it is leaving: forgotten)."""
        if session in self._unseen:
            self._unseen.discard(session)
            return True
        return False

    def _say(self, session: Session, room: Optional[Room], line: ServerLine) -> List[Effect]:
        """A line of `session`'s for `room`'s members but itself."""
        if room is None:
            return [Send(session, wire.in_no_room())]
        if room.key in self.authority.restricted:  # a mute or +m here (`selchat.moderation`)
            refused = self._speech_refusal(session, line.name or "", room)
            if refused:
                return refused
        return [Broadcast(line, session, room=None if room.default else room)]

    def _room_of(self, session: Session, name: str, member: bool = True,
                 ) -> Union[Room, List[Effect]]:
        """The room `name` (current if ""), or the error line to answer with:
        a bad name, no such room, or (`member`) not one of `session`'s."""
        if not name:
            room = self.rooms.current(session)
            return [Send(session, wire.in_no_room())] if room is None else room
        room = self.rooms.spelled(name)  # the hot path: a /msg as its members type it
        if room is None:
            problem = room_problem(name)
            if problem:
                return [Send(session, wire.error(problem))]
            room = self.rooms.get(name)
        if room is None or (member and not room.has(session)):
            shown = room.name if room else name
            return [Send(session, wire.error(f"you are not in {shown}: /join {shown}"))]
        return room

    def _do_join(self, session: Session, name: str, command: commands.Join) -> List[Effect]:
        problem = None if self.rooms.spelled(command.room) else room_problem(command.room)
        if problem:
            return [Send(session, wire.error(problem))]
        rooms = self.rooms
        room = rooms.get(command.room)
        if room is not None and room.has(session):
            rooms.enter(session, room.name, name)  # current now
            return [Send(session, wire.now_talking(room.name))]
        refusal = rooms.refusal(session, command.room) or \
            self._join_refusal(session, name, command.room, command.key)
        if refusal:
            return [Send(session, wire.error(refusal))]
        made = room is None
        room = rooms.enter(session, command.room, name)
        # Its maker operates it (so is marked "@" below); rules, a mute are
        # said (`selchat.moderation`).
        entered = self._room_entered(session, name, room, made)
        names, count = ((self._roster.first(WHO_NAMES), len(self._roster)) if room.default
                        else room.first(WHO_NAMES))
        names = names if room.default else self._marked(room, names)  # @op +voiced
        log.info("%s joined %s", name, room.name)
        shown = ", ".join(names)
        if count > WHO_NAMES:
            shown += f" and {count - WHO_NAMES} more"
        effects: List[Effect] = [Entered(session, room),
                                 Send(session, wire.you_joined(room.name, count, shown))]
        effects += entered
        if room.topic:
            effects.append(Send(session, wire.topic_is(room.name, room.topic)))
        if self.replay:
            effects.append(Replay(session, self.replay, None if room.default else room))
        # With a bus the other nodes list the member in the room (in the
        # default room: counted in it again). The default room's first
        # hearing of a member is its usual line (`_unseen`).
        line = wire.joined_room(name, room.name)
        if room.default and session in self._unseen:
            self._unseen.discard(session)
            line = wire.joined(name)
        effects.append(self._told(line, session,
                                  Presence(INSIDE if room.default else "+", name), room))
        return effects

    def _do_part(self, session: Session, name: str, command: commands.Part) -> List[Effect]:
        room = self._room_of(session, command.room)
        if isinstance(room, list):
            return room
        line = wire.left_room(name, room.name, clean(command.reason))
        where = None if room.default else room
        log.info("%s left %s", name, room.name)
        # Its members are told (not in a room too big to announce it), and the
        # leaver, directly: in order with its other answers of the pass.
        effects: List[Effect] = [Send(session, line, room=where),
                                 self._told(line, session,
                                            Presence(OUTSIDE if room.default else "-", name), room)]
        self.rooms.exit(session, room)
        effects.append(Left(session) if room.default else Exited(session, room))
        return effects

    def _do_topic(self, session: Session, name: str, command: commands.Topic) -> List[Effect]:
        room = self._room_of(session, command.room, member=bool(command.text))
        if isinstance(room, list):
            return room
        if not command.text:
            return [Send(session, topics.shown(room))]
        refused = self._topic_refusal(session, room)  # +t (`selchat.moderation`)
        if refused:
            return refused
        text = "" if command.text == topics.CLEAR else topics.cleaned(command.text)[:MAX_TOPIC]
        if not text and not room.topic:
            return [Send(session, wire.topic_is(room.name, ""))]
        return self.topic_changed(session, name, room, text)

    def topic_changed(self, session: Session, name: str, room: Room, text: str,
                      echo: bool = True) -> List[Effect]:
        """`room`'s topic is `text` ("": none), set by `session` named `name`:
        its line, to the setter too if `echo`. Its time is the driver's
        (`selchat.topics`)."""
        topics.set_topic(room, text, name)
        self.rooms.version += 1
        log.info("%s set the topic of %s", name, room.name)
        line, where = wire.topic_set(name, room.topic), None if room.default else room
        # The setter directly, in order with its other answers of the pass.
        # The other nodes set it too: the line carries it, and who set it.
        told: Effect = Broadcast(line, session, Presence(TOPIC, room.topic, name), room=where)
        return [Send(session, line, room=where), told] if echo else [told]

    def _do_search(self, session: Session, name: str, command: commands.Search) -> List[Effect]:
        """Any room's lines, named or not: rooms are open to all."""
        if command.room:
            problem = room_problem(command.room)
            if problem:
                return [Send(session, wire.error(problem))]
        default = bool(command.room) and room_key(command.room) == self.rooms.default.key
        return [Lookup(session, command.room, default, words=command.words)]

    def _do_history(self, session: Session, name: str, command: commands.History) -> List[Effect]:
        """Earlier lines of a room of one's own."""
        room = self._room_of(session, command.room, member=True)
        if isinstance(room, list):
            return room
        return [Lookup(session, room.name, room.default, count=command.lines,
                       before=command.before)]

    def _do_listrooms(self, session: Session, name: str, command: commands.ListRooms,
                      ) -> List[Effect]:
        """The rooms, sorted, with counts and topics: built once per change
        and shared; a search (or a rebuild) is charged as a /who search."""
        pattern = clean(command.pattern)
        version, plain, found = self._rooms_answers
        if version != self.rooms.version:
            plain, found = None, {}
            self._rooms_answers = (self.rooms.version, plain, found)
        secret = self.authority.secret  # (+s) listed to their members only: not shared
        own = bool(secret) and (self.authority.operator(session) or any(
            room.key in secret for room in self.rooms.rooms_of(session)))
        answer = None if own else plain if not pattern else found.get(pattern)
        if answer is not None:
            return [Send(session, line) for line in answer]
        wanted = name_key(pattern.lstrip("#"))
        listed = sorted((room for room in self.rooms if wanted in room.key and (
            room.key not in secret or self.listed(session, room))), key=_room_order)
        title = f"Rooms matching {pattern!r}" if pattern else "Rooms"
        answer = [wire.notice(f"{title} ({len(listed)}):")]
        for room in listed[:WHO_NAMES]:
            topic = f": {room.topic}" if room.topic else ""
            answer.append(wire.notice(f"  {room.name} ({self._count(room)}){topic}"))
        if len(listed) > WHO_NAMES:
            answer.append(wire.notice(f"and {len(listed) - WHO_NAMES} more "
                                      "(/rooms PATTERN to search)"))
        if pattern and not own:
            if len(found) >= WHO_CACHED:
                del found[next(iter(found))]
            found[pattern] = answer
        elif not own:
            self._rooms_answers = (self.rooms.version, answer, found)
        effects: List[Effect] = [Send(session, line) for line in answer]
        tokens = len(self.rooms) // SEARCH_NAMES_PER_TOKEN
        return [*effects, Charge(session, tokens)] if tokens else effects


def _room_order(room: Room) -> Tuple[str, str]:
    """/rooms order: alphabetical ignoring case, as /who orders names."""
    return (room.name.casefold(), room.name)
