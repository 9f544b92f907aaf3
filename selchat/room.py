"""The chat room: who is here, under which name, and who receives what.

``ChatRoom`` is the chat logic and nothing else. It is told about sessions
(any hashable the caller chooses: the server uses its connection objects) and
the sanitised lines they send, and it answers with *effects*, plain values the
I/O driver carries out:

* ``Send(to, line)``: one line to one session;
* ``Broadcast(line, exclude)``: one line to every joined session but ``exclude``;
* ``Close(session)``: flush that session's output, then close it;
* ``Joined(session)`` / ``Left(session)``: it became / stopped being a member
  (receives broadcasts), decided here so the driver never compares the
  membership before and after a call;
* ``Claim`` / ``Release``: a name became / stopped being a session's, and
  ``Relay``: a direct line for a member on another node (see below);
* ``Hold`` / ``Unhold``: a session is held until a deadline / its hold ended
  before it (resumed, or given way to a newer hold: see `selchat.resume`);
* ``Charge``: tokens a command cost beyond its line (an uncached /who search).
* ``Entered`` / ``Exited``: a member joined / left a room other than the
  default one (its lines are for it from here on / no longer).

Rooms (`selchat.rooms`): every member is in the default room, whose lines
carry no prefix, and may join others with ``/join #room``. A line for a room
but the default one is a ``Broadcast`` (or ``Send``) with that ``room``: the
driver puts the room's prefix in front and delivers it to the room's members.

With a bus (several nodes, one room) the room also knows the *remote*
members, by name and node: a name is refused if anyone anywhere holds it,
``/who`` lists everyone, ``/msg`` reaches anyone. It learns them from the
presence change each join, leave and rename line carries (``Broadcast.
presence``, read back by every node with the line) and from the bus's list
of names when it connects.

It never sees bytes or sockets, so every rule here is tested directly.
A session starts unnamed; its first line is its name; once a name is accepted it
is a member, and only members receive broadcasts.
"""
import itertools
import logging
from dataclasses import dataclass
from typing import (
    Callable, Collection, Dict, Generic, Hashable, List, Mapping, NamedTuple, Optional, Set,
    Tuple, TypeVar, Union,
)

from selchat import wire
from selchat.names import MAX_NAME, name_key, name_problem
from selchat.resume import TaggedSession, TaggedSessions
from selchat.roster import Roster
from selchat.rooms import ANNOUNCE_LIMIT, MAX_ROOMS, MAX_ROOMS_PER_MEMBER, Room, Rooms, room_problem
from selchat.sanitize import clean
from selchat.wire import ServerLine

log = logging.getLogger(__name__)

#: Whatever the caller names its sessions by (the server: its connections).
Session = TypeVar("Session", bound=Hashable)

#: Names shown in the welcome notice; a 10,000-person room is summed up as a count.
WELCOME_NAMES = 50
#: Names one /who answer lists. The whole list of a 10,000-person room is a
#: 340 KB line: 50 askers' bursts would queue gigabytes. /who PATTERN searches.
WHO_NAMES = 100
#: Names a /who PATTERN search compares per flood token it costs, beyond its
#: line's own token (whole thousands: free in a room under 1,000). A search
#: compares every name (at C speed, about 0.04 us a name here); in a room of
#: 10,000 it costs 10 tokens more, so a member at the sustained flood rate
#: searches about once a second: under 0.1 % of a core, where unpriced
#: searches (3.8 ms each in a room of 10,000) let 15 members take most of one.
SEARCH_NAMES_PER_TOKEN = 1000
#: /who PATTERN answers kept until membership changes: a burst of the same
#: search is answered once (and costs only its lines). Each is at most a
#: pattern and WHO_NAMES names, a few KB; past this the oldest goes.
WHO_CACHED = 64

#: Characters of a room topic kept: a topic is shown on every join, so a
#: line's worth (IRC networks allow 300-390).
MAX_TOPIC = 300

HELLO = wire.hello()
SERVER_FULL = wire.server_full()
TOO_MANY_FROM_ADDRESS = wire.error("too many connections from your address")
SHUTTING_DOWN = wire.shutting_down()


class Presence(NamedTuple):
    """A change of membership the other nodes learn from the room line that
    says it (`Broadcast.presence`). On the bus it is one string (`field`)."""

    #: "+" joined, "-" left, "=" renamed.
    change: str
    name: str
    #: A rename's new name; for a leave, the node whose member left when it
    #: is not the node of the line (one node saying another's members are gone).
    other: str = ""

    def field(self) -> str:
        """As the bus carries it: "+NAME", "-NAME[<TAB>NODE]", "=OLD<TAB>NEW"."""
        return f"{self.change}{self.name}\t{self.other}" if self.other else self.change + self.name

    @classmethod
    def parse(cls, field: str) -> Optional["Presence"]:
        """`field` read back from the bus; None for "" (chat) or a change not known."""
        if not field or field[0] not in "+-=":
            return None
        name, _, other = field[1:].partition("\t")
        return cls(field[0], name, other)


# The effects that name a session are generic over its type, so the driver
# gets its own objects back typed; dataclasses, as a NamedTuple can be generic
# only from Python 3.11 (ordered as tuples were: callers sort them).


@dataclass(slots=True, order=True)
class Send(Generic[Session]):
    to: Session
    line: ServerLine
    #: Tags of its own for a tagged recipient (the welcome's ``resume``).
    tags: Optional[Mapping[str, str]] = None
    #: A room but the default one: the line starts with its name.
    room: Optional[Room] = None


@dataclass(slots=True, order=True)
class Broadcast(Generic[Session]):
    line: ServerLine
    exclude: Optional[Session] = None
    #: For the other nodes: who joined, left or was renamed (None for chat).
    presence: Optional["Presence"] = None
    #: For the other nodes' members only (what this node's members know already).
    elsewhere: bool = False
    #: For that room's members (None: the default room's), its name in front.
    room: Optional[Room] = None


@dataclass(slots=True)
class Entered(Generic[Session]):
    """`session` joined `room` (the default room: rejoined it): its lines are
    for `session` from here on (`resumed`: the whole pass's, which no
    history holds yet: see `selchat.output`)."""

    session: Session
    room: Room
    resumed: bool = False


@dataclass(slots=True)
class Exited(Generic[Session]):
    """`session` left `room` (not the default one: that is ``Left``): its
    lines from here on are not for `session`."""

    session: Session
    room: Room


@dataclass(slots=True, order=True)
class Claim(Generic[Session]):
    """`name` is `session`'s now (a join, a rename): the bus leases it."""

    session: Session
    name: str


@dataclass(slots=True, order=True)
class Release(Generic[Session]):
    """`name` is no longer `session`'s; `final`: the session is over too."""

    session: Session
    name: str
    final: bool = True


class Relay(NamedTuple):
    """A direct line for the member named `name` on another node."""

    name: str
    line: ServerLine


@dataclass(slots=True, order=True)
class Close(Generic[Session]):
    """Flush `session`'s output, then close it."""

    session: Session


@dataclass(slots=True, order=True)
class Joined(Generic[Session]):
    """`session` became a member: it receives broadcasts from here on."""

    session: Session


@dataclass(slots=True, order=True)
class Left(Generic[Session]):
    """`session` stopped being a member: broadcasts from here on are not for it."""

    session: Session


@dataclass(slots=True, order=True)
class Tag(Generic[Session]):
    """`session` asked for tags (``/tags``): its lines carry seq and time."""

    session: Session


@dataclass(slots=True, order=True)
class Replay(Generic[Session]):
    """Send `session` the last `lines` room lines, between two notices."""

    session: Session
    lines: int
    #: Whose lines: None for the default room's.
    room: Optional[Room] = None


@dataclass(slots=True, order=True)
class Hold(Generic[Session]):
    """`session`'s connection is gone but its session is held until `deadline`:
    call `ChatRoom.expire(session)` then."""

    session: Session
    deadline: float


@dataclass(slots=True, order=True)
class Unhold(Generic[Session]):
    """`session`'s hold ended before its deadline: its timer has nothing to do."""

    session: Session


@dataclass(slots=True, order=True)
class Charge(Generic[Session]):
    """`session` spends `tokens` of its flood budget beyond its line's."""

    session: Session
    tokens: float


@dataclass(slots=True, order=True)
class Keep(Generic[Session]):
    """A direct line for a held session: keep it for the resume."""

    session: Session
    line: ServerLine


@dataclass(slots=True, order=True)
class ResumeAsked(Generic[Session]):
    """``/resume TOKEN LASTSEQ`` from `session`: the driver, which holds the
    history, decides (`selchat.resume.decide`) and calls `resumed` or `release`."""

    session: Session
    token: str
    last_seq: int


Effect = Union[Send, Broadcast, Close, Joined, Left, Tag, Replay, Hold, Unhold, Keep, ResumeAsked,
               Claim, Release, Relay, Charge, Entered, Exited]


class ChatRoom(Generic[Session]):
    """`resume_window` seconds a tagged member's session is held when its
    connection ends without /quit (0: never); `new_token` makes its resume
    token (randomness is the caller's); `replay` lines greet a newcomer;
    at most `max_held` sessions are held, `max_held_per_group` from one
    address group (0: no cap; the oldest hold gives way, `selchat.resume`).
    Rooms: `default_room` is everyone's; `rooms` False refuses the room
    commands (a bus shares one room only); past `announce_limit` members
    (0: never) a room's joins and leaves are not announced."""

    def __init__(self, resume_window: float = 0.0, replay: int = 0,
                 new_token: Callable[[], str] = lambda: "", max_held: int = 0,
                 max_held_per_group: int = 0, default_room: str = "#lobby",
                 max_rooms: int = MAX_ROOMS, max_rooms_per_member: int = MAX_ROOMS_PER_MEMBER,
                 announce_limit: int = ANNOUNCE_LIMIT, rooms: bool = True) -> None:
        self.resume_window = resume_window
        self.rooms: Rooms[Session] = Rooms(default_room, max_rooms, max_rooms_per_member)
        self.rooms_enabled = rooms
        self.announce_limit = announce_limit
        #: /rooms answers: (rooms' version, plain answer, answers by pattern).
        self._rooms_answers: Tuple[int, Optional[List[ServerLine]], Dict[str, List[ServerLine]]] = (
            -1, None, {})
        self.replay = replay
        self._new_token = new_token
        #: Tagged members, connected or held: what a /resume may take over.
        self.sessions: TaggedSessions[Session] = TaggedSessions(
            max_held=max_held, max_held_per_group=max_held_per_group)
        self._tagged: Set[Session] = set()
        #: Held sessions -> their names: still owning them, receiving nothing.
        self._held: Dict[Session, str] = {}
        #: Sessions without a name yet -> their address groups (for their holds).
        self._unnamed: Dict[Session, str] = {}
        #: Joined sessions -> their names, in the order they joined. The driver
        #: iterates it for broadcasts; only this class changes it.
        self.members: Dict[Session, str] = {}
        self._owners: Dict[str, Session] = {}  # name_key -> member holding that name
        #: Members of the other nodes: name_key -> (name, node).
        self._remote: Dict[str, Tuple[str, str]] = {}
        #: Every name here, held and elsewhere, in /who order (`_listed` keeps it).
        self._roster = Roster()
        #: The answer to a plain /who, built once per change of membership and
        #: shared by every asker (the driver encodes it once too), and the
        #: answers to /who PATTERN by pattern, until membership changes.
        self._who_answer: Optional[ServerLine] = None
        self._who_found: Dict[str, ServerLine] = {}

    # -- what the driver asks -------------------------------------------------

    def name_of(self, session: Session) -> Optional[str]:
        return self.members.get(session)

    # -- events ---------------------------------------------------------------

    def connect(self, session: Session, group: str = "") -> List[Effect]:
        """A new connection, from address group `group` (what its hold will
        count against, `selchat.addresses.address_group`): ask for its name."""
        self._unnamed[session] = group
        return [Send(session, HELLO)]

    def receive(self, session: Session, text: str) -> List[Effect]:
        """A complete line from `session`, decoded but not yet sanitised.

        Names are judged as sent, so a control character makes a name invalid
        rather than vanishing from it; any text that is relayed or echoed back
        is sanitised first.
        """
        name = self.members.get(session)
        if name is None:
            if session not in self._unnamed:  # not connected (or already gone)
                return []
            early = wire.before_name(text)
            if early is not None:
                return self._before_name(session, early)
            return self._take_name(session, text.strip(" \t"))  # not str.strip(): it eats controls
        command = wire.parse(text)
        if type(command) is wire.Say:  # the hot path first
            said = clean(command.text)
            if not said.strip():
                return []
            log.debug("<%s> %s", name, said)
            joined = self.rooms.of
            if joined and session in joined:  # it used a room command: its current room
                return self._say(session, joined[session].current, wire.chat(name, said))
            return [Broadcast(wire.chat(name, said), session)]
        handler = getattr(self, "_do_" + type(command).__name__.lower())
        return handler(session, name, command)

    def disconnect(self, session: Session, reason: str = "", now: float = 0.0,
                   quitting: bool = False) -> List[Effect]:
        """The connection is gone (EOF, reset, timeout, /quit): forget it and
        tell the room, or, for a tagged member that did not quit, hold its
        session until `now` + `resume_window` (or its last hold's end, if that
        has not come: no renewal) and tell nobody yet. A hold past a cap ends
        the oldest hold of its address group, or of all."""
        self._unnamed.pop(session, None)
        self._tagged.discard(session)
        name = self.members.pop(session, None)
        if name is None:
            return []
        if not quitting and self.resume_window > 0 and self.sessions.get(session):
            member = self.sessions.hold(session, now + self.resume_window, now)
            assert member is not None and member.deadline is not None
            self._held[session] = name
            self._listed(name_key(name))  # it lists them as away now
            self.rooms.hold(session)
            log.info("%s held for %g s", name, member.deadline - now)
            effects: List[Effect] = [Left(session), Hold(session, member.deadline)]
            for older in self.sessions.give_way(member):
                log.info("%s: hold ended early, %d held from its address, %d in all",
                         older.name, self.sessions.held_from(older.group), self.sessions.held)
                effects += self.release(older.session)
            return effects
        self.sessions.remove(session)
        return self._leave(session, name, reason)

    def expire(self, session: Session) -> List[Effect]:
        """A hold's deadline: if nobody resumed it, the member has left."""
        member = self.sessions.get(session)
        if member is None or not member.held:  # resumed (or released) meanwhile
            return []
        return self.release(session)

    def release(self, session: Session) -> List[Effect]:
        """End a held session (its hold is over, or given way, or its history is gone)."""
        self.sessions.remove(session)
        name = self._held.pop(session, None)
        if name is not None:
            return [Unhold(session), *self._leave(session, name, "connection lost")]
        name = self.members.pop(session, None)  # its old connection is still open:
        if name is None:                         # close it, so the name is free again
            return []
        self._tagged.discard(session)
        return [Close(session), *self._leave(session, name, "connection lost")]

    def resumed(self, member: TaggedSession, session: Session) -> List[Effect]:
        """`session`, a new connection, takes `member`'s session over (the
        driver checked the token and the history: `selchat.resume.decide`).
        Nobody is told; an old connection still open is closed."""
        old = member.session
        held = old in self._held
        name = self._held.pop(old, None) or self.members.pop(old, None) or member.name
        effects: List[Effect] = [Unhold(old)] if held else [Left(old), Close(old)]
        self._tagged.discard(old)
        group = self._unnamed.pop(session, "")
        self._tagged.add(session)
        self.sessions.resume(member, session, group)
        self.members[session] = name
        self._owners[name_key(name)] = session
        self._listed(name_key(name))
        log.info("%s resumed", name)
        effects += [Entered(session, room, resumed=True)
                    for room in self.rooms.move(old, session, name)
                    if not room.default]  # the default room's: Joined
        return [*effects, Joined(session), Tag(session)]

    def _leave(self, session: Session, name: str, reason: str) -> List[Effect]:
        """`session` (connected or held) leaves the server: told once to each
        member sharing a room with it, without a room prefix."""
        del self._owners[name_key(name)]
        self._listed(name_key(name))
        reason = clean(reason)
        log.info("%s left%s", name, f" ({reason})" if reason else "")
        rooms = self.rooms
        connected = session in rooms.default.members
        told = rooms.sharing(session, self.announce_limit) if session in rooms.of else {}
        in_default = rooms.default.has(session)
        rooms.forget(session)
        line = wire.left(name, reason)
        effects: List[Effect] = [Left(session)] if connected else []
        effects.append(Release(session, name))
        if in_default and not self._quiet(rooms.default):
            effects.append(Broadcast(line, presence=Presence("-", name)))
        effects += [Send(member, line) for member in told]
        return effects

    def _quiet(self, room: Room) -> bool:
        """Whether `room` is too big for its joins and leaves to be announced."""
        return bool(self.announce_limit) and len(room) > self.announce_limit

    def line_too_long(self, session: Session, max_line: int) -> List[Effect]:
        log.debug("%r: line over %d bytes discarded", session, max_line)
        return [Send(session, wire.error(f"line too long: over {max_line} bytes, discarded"))]

    def name_timeout(self, session: Session, seconds: float) -> List[Effect]:
        return [
            Send(session, wire.error(f"name timeout: no name received in {seconds:g} s")),
            Close(session),
        ]

    def _before_name(self, session: Session, command: wire.Command) -> List[Effect]:
        if isinstance(command, wire.Tags):
            self._tagged.add(session)
            return [Tag(session)]
        if isinstance(command, wire.Resume):
            return [ResumeAsked(session, command.token, command.last_seq)]
        assert isinstance(command, wire.BadUsage)
        return self._do_badusage(session, "", command)

    def depart_all(self, reason: str) -> List[Effect]:  # a bus: everyone is in the default room
        """The node is stopping: with a bus, its members leave the shared room
        (held sessions too), so the other nodes hear it now, not at lease end."""
        effects: List[Effect] = []
        for session in [*self.members, *self._held]:
            if session in self._held:
                effects.append(Unhold(session))
            name = self.members.pop(session, None) or self._held.pop(session)
            self.sessions.remove(session)
            # Everyone hears every departure, as the node goes: no one leaves the batch.
            effects += [each for each in self._leave(session, name, reason)
                        if not isinstance(each, Left)]
        return effects

    def shutdown(self) -> List[Effect]:
        """The server is stopping: tell every session, named or not."""
        return [Send(session, SHUTTING_DOWN) for session in [*self._unnamed, *self.members]]

    # -- names ----------------------------------------------------------------

    def _name_refusal(self, session: Session, name: str) -> Optional[str]:
        problem = name_problem(name)
        if problem:
            return problem
        key = name_key(name)
        owner = self._owners.get(key)
        if (owner is not None and owner != session) or (owner is None and key in self._remote):
            return f"name taken: {name}"
        return None

    def _take_name(self, session: Session, name: str) -> List[Effect]:
        refusal = self._name_refusal(session, name)
        if refusal:
            return [Send(session, wire.error(refusal))]
        group = self._unnamed.pop(session, "")
        self.members[session] = name
        self.rooms.enter_default(session, name)
        self._owners[name_key(name)] = session
        self._listed(name_key(name))
        log.info("%r joined as %s", session, name)
        # Everyone /who counts: held sessions too (as away), or the two disagree.
        online = len(self._owners) + len(self._remote)
        everyone = itertools.chain(self.members.values(), map(wire.away, self._held.values()),
                                   (name for name, _ in self._remote.values()))
        shown = ", ".join(itertools.islice(everyone, WELCOME_NAMES))
        if online > WELCOME_NAMES:
            shown += f" and {online - WELCOME_NAMES} more"
        welcome = Send(session, wire.welcome(name, online, shown))
        if session in self._tagged and self.resume_window > 0:
            token = self._new_token()
            self.sessions.add(session, name, token, group)
            welcome = Send(session, welcome.line, {"resume": token})
        effects: List[Effect] = [Joined(session), Claim(session, name), welcome]
        if self.replay:
            effects.append(Replay(session, self.replay))
        if not self._quiet(self.rooms.default):
            effects.append(Broadcast(wire.joined(name), session, Presence("+", name)))
        return effects

    def _name_for(self, key: str) -> str:
        """The name shown for a name key held here (connected or held) or elsewhere."""
        owner = self._owners.get(key)
        if owner is None:
            return self._remote[key][0]
        return self.members.get(owner) or self._held[owner]

    def _listed(self, key: str) -> None:
        """Name key `key` may have come, gone, changed its name or been held
        (listed away): keep the roster in step, and forget the /who answers
        if it changed."""
        if key in self._owners or key in self._remote:
            name = self._name_for(key)
            away = self._owners.get(key) in self._held
            changed = self._roster.set(key, name, wire.away(name) if away else name)
        else:
            changed = self._roster.set(key, None)
        if changed:
            self._who_answer = None
            self._who_found.clear()

    # -- the other nodes (with a bus) -------------------------------------------

    def holder(self, key: str) -> Optional[Session]:
        """The session here holding name key `key` (connected or held), if any."""
        return self._owners.get(key)

    def is_held(self, session: Session) -> bool:
        return session in self._held

    def remote_synced(self, names: Mapping[str, Tuple[str, str]], node: str) -> None:
        """The bus's list of every name (key -> (name, node)); `node` is ours."""
        before, self._remote = self._remote, {
            key: held for key, held in names.items() if held[1] != node}
        for key in before.keys() | self._remote.keys():
            self._listed(key)

    def remote_presence(self, node: str, presence: Presence) -> None:
        """Another node's join, leave or rename (`Broadcast.presence`), read from the bus."""
        change, name, other = presence
        if change == "+":
            self._remote[name_key(name)] = (name, node)
            self._listed(name_key(name))
        elif change == "-":
            self._forget_remote(name, other or node)
        elif change == "=":
            self._forget_remote(name, node)
            self._remote[name_key(other)] = (other, node)
            self._listed(name_key(other))

    def _forget_remote(self, name: str, node: str) -> None:
        key = name_key(name)
        if self._remote.get(key, ("", ""))[1] == node:
            del self._remote[key]
            self._listed(key)

    def remote_gone(self, names: Collection[str]) -> List[Effect]:
        """Members of a node that stopped: this node announces them gone, once."""
        effects: List[Effect] = []
        for name in names:
            held = self._remote.pop(name_key(name), None)
            self._listed(name_key(name))
            node = held[1] if held else ""
            log.info("%s left (server lost)", name)
            effects.append(Broadcast(wire.left(name, "server lost"),
                                     presence=Presence("-", name, node)))
        return effects

    def announce_all(self) -> List[Effect]:
        """The other nodes took this one for gone and said its members left
        (its lease ran out while it was cut off): they are here, say so."""
        everyone = [*self.members.values(), *self._held.values()]
        return [Broadcast(wire.joined(name), None, Presence("+", name), elsewhere=True)
                for name in everyone]

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

    def adopt(self, session: Session, name: str, token: str) -> List[Effect]:
        """`session` resumed here a session another node held (the bus moved it)."""
        key = name_key(name)
        self._remote.pop(key, None)
        group = self._unnamed.pop(session, "")
        self._tagged.add(session)
        self.sessions.add(session, name, token, group)
        self.members[session] = name
        self.rooms.enter_default(session, name)
        self._owners[key] = session
        self._listed(key)
        log.info("%s resumed from another server", name)
        return [Joined(session), Tag(session)]

    # -- commands (one method per wire command, picked by class name) --------

    def _do_quit(self, session: Session, name: str, command: wire.Quit) -> List[Effect]:
        return [Send(session, wire.goodbye(name)), Close(session),
                *self.disconnect(session, command.reason, quitting=True)]

    def _do_tags(self, session: Session, name: str, command: wire.Tags) -> List[Effect]:
        self._tagged.add(session)
        return [Tag(session)]

    def _do_resume(self, session: Session, name: str, command: wire.Resume) -> List[Effect]:
        return [Send(session, wire.error("/resume is for a new connection, before a name"))]

    def _do_who(self, session: Session, name: str, command: wire.Who) -> List[Effect]:
        room: Union[None, Room, List[Effect]] = None
        if command.pattern.startswith("#"):  # names never hold "#": a room
            room = self._room_of(session, command.pattern, member=False)
        elif not command.pattern and session in self.rooms.of:
            room = self.rooms.current(session)
        if isinstance(room, list):
            return room
        if room is not None and not room.default:
            return [Send(session, self._listing(f"Online in {room.name}", *room.first(WHO_NAMES)))]
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

    def _do_nick(self, session: Session, name: str, command: wire.Nick) -> List[Effect]:
        new = command.name
        if new == name:
            return [Send(session, wire.notice(f"You are already known as {name}."))]
        refusal = self._name_refusal(session, new)
        if refusal:
            return [Send(session, wire.error(refusal))]
        return self._rename(session, name, new)

    def _rename(self, session: Session, name: str, new: str) -> List[Effect]:
        del self._owners[name_key(name)]
        self._owners[name_key(new)] = session
        if session in self._held:
            self._held[session] = new
        else:
            self.members[session] = new
        self.sessions.rename(session, new)
        self.rooms.rename(session, new)
        self._listed(name_key(name))
        self._listed(name_key(new))
        log.info("%s is now known as %s", name, new)
        line = wire.renamed(name, new)
        effects: List[Effect] = [Release(session, name, final=False), Claim(session, new)]
        if self.rooms.default.has(session):
            effects.append(Broadcast(line, presence=Presence("=", name, new)))
        if session in self.rooms.of:  # once to each member sharing another room
            effects += [Send(member, line) for member in self.rooms.sharing(session, 0)]
        return effects

    def _do_msg(self, session: Session, name: str, command: wire.Msg) -> List[Effect]:
        if command.target.startswith("#"):  # names never hold "#"
            room = self._room_of(session, command.target)
            if isinstance(room, list):
                return room
            return self._say(session, room, wire.chat(name, clean(command.text)))
        key = name_key(command.target)
        target = self._owners.get(key)
        if target is None and key not in self._remote:
            return [Send(session, wire.error(f"no such user: {clean(command.target)}"))]
        # Never logged: a private line is nobody else's business, at any level.
        text = clean(command.text)
        line = wire.private(name, text)
        if target is None:
            effects: List[Effect] = [Relay(self._remote[key][0], line)]
        else:
            effects = [Keep(target, line) if target in self._held else Send(target, line)]
        if session in self._tagged:  # a client program: it shows this, not its own echo
            effects.append(Send(session, wire.sent(self._name_for(key), text)))
        return effects

    def _do_me(self, session: Session, name: str, command: wire.Me) -> List[Effect]:
        text = clean(command.text)
        log.debug("* %s %s", name, text)
        return self._say(session, self.rooms.current(session), wire.action(name, text))

    def _do_help(self, session: Session, name: str, command: wire.Help) -> List[Effect]:
        lines = [f"{usage:<16} {what}" for usage, what in wire.COMMANDS.values()]
        lines.append(f"{'//text':<16} send a message that starts with /")
        if self.announce_limit:
            lines.append(f"In a room of more than {self.announce_limit} members, joins and "
                         "leaves are not announced (/who still counts everyone).")
        return [Send(session, wire.notice(line)) for line in ["Commands:", *lines]]

    # -- rooms --------------------------------------------------------------------

    def _say(self, session: Session, room: Optional[Room], line: ServerLine) -> List[Effect]:
        """A line of `session`'s for `room`'s members but itself."""
        if room is None:
            return [Send(session, wire.in_no_room())]
        return [Broadcast(line, session, room=None if room.default else room)]

    def _room_of(self, session: Session, name: str, member: bool = True,
                 ) -> Union[Room, List[Effect]]:
        """The room `name` (current if ""), or the error line to answer with:
        a bad name, no such room, or (`member`) not one of `session`'s."""
        if not name:
            room = self.rooms.current(session)
            return [Send(session, wire.in_no_room())] if room is None else room
        problem = room_problem(name)
        if problem:
            return [Send(session, wire.error(problem))]
        room = self.rooms.get(name)
        if room is None or (member and not room.has(session)):
            shown = room.name if room else name
            return [Send(session, wire.error(f"you are not in {shown}: /join {shown}"))]
        return room

    def _refused(self, session: Session) -> Optional[List[Effect]]:
        if self.rooms_enabled:
            return None
        return [Send(session, wire.error("rooms are off on a server sharing one room over a "
                                         "bus (--bus): this server has its default room only"))]

    def _do_join(self, session: Session, name: str, command: wire.Join) -> List[Effect]:
        refused = self._refused(session)
        if refused:
            return refused
        problem = room_problem(command.room)
        if problem:
            return [Send(session, wire.error(problem))]
        rooms = self.rooms
        room = rooms.get(command.room)
        if room is not None and room.has(session):
            rooms.enter(session, room.name, name)  # current now
            return [Send(session, wire.now_talking(room.name))]
        refusal = rooms.refusal(session, command.room)
        if refusal:
            return [Send(session, wire.error(refusal))]
        room = rooms.enter(session, command.room, name)
        names, count = ((self._roster.first(WHO_NAMES), len(self._roster)) if room.default
                        else room.first(WHO_NAMES))
        log.info("%s joined %s", name, room.name)
        shown = ", ".join(names)
        if count > WHO_NAMES:
            shown += f" and {count - WHO_NAMES} more"
        effects: List[Effect] = [Entered(session, room),
                                 Send(session, wire.you_joined(room.name, count, shown))]
        if room.topic:
            effects.append(Send(session, wire.topic_is(room.name, room.topic)))
        if self.replay:
            effects.append(Replay(session, self.replay, None if room.default else room))
        if not self._quiet(room):
            effects.append(Broadcast(wire.joined_room(name, room.name), session,
                                     room=None if room.default else room))
        return effects

    def _do_part(self, session: Session, name: str, command: wire.Part) -> List[Effect]:
        refused = self._refused(session)
        if refused:
            return refused
        room = self._room_of(session, command.room)
        if isinstance(room, list):
            return room
        line = wire.left_room(name, room.name, clean(command.reason))
        where = None if room.default else room
        log.info("%s left %s", name, room.name)
        # Its members are told (not in a room too big to announce it), and the
        # leaver, directly: in order with its other answers of the pass.
        effects: List[Effect] = [Send(session, line, room=where)]
        if not self._quiet(room):
            effects.append(Broadcast(line, session, room=where))
        self.rooms.exit(session, room)
        effects.append(Left(session) if room.default else Exited(session, room))
        return effects

    def _do_topic(self, session: Session, name: str, command: wire.Topic) -> List[Effect]:
        refused = self._refused(session)  # a topic here would be this node's only
        if refused:
            return refused
        room = self._room_of(session, command.room, member=bool(command.text))
        if isinstance(room, list):
            return room
        if not command.text:
            return [Send(session, wire.topic_is(room.name, room.topic))]
        room.topic = clean(command.text)[:MAX_TOPIC]
        self.rooms.version += 1
        log.info("%s set the topic of %s", name, room.name)
        line, where = wire.topic_set(name, room.topic), None if room.default else room
        # The setter directly, in order with its other answers of the pass.
        return [Send(session, line, room=where), Broadcast(line, session, room=where)]

    def _do_listrooms(self, session: Session, name: str, command: wire.ListRooms,
                      ) -> List[Effect]:
        """The rooms, sorted, with counts and topics: built once per change
        and shared; a search (or a rebuild) is charged as a /who search."""
        refused = self._refused(session)  # counts here would be this node's only
        if refused:
            return refused
        pattern = clean(command.pattern)
        version, plain, found = self._rooms_answers
        if version != self.rooms.version:
            plain, found = None, {}
            self._rooms_answers = (self.rooms.version, plain, found)
        answer = plain if not pattern else found.get(pattern)
        if answer is not None:
            return [Send(session, line) for line in answer]
        wanted = name_key(pattern.lstrip("#"))
        listed = sorted((room for room in self.rooms if wanted in room.key), key=_room_order)
        title = f"Rooms matching {pattern!r}" if pattern else "Rooms"
        answer = [wire.notice(f"{title} ({len(listed)}):")]
        for room in listed[:WHO_NAMES]:
            topic = f": {room.topic}" if room.topic else ""
            answer.append(wire.notice(f"  {room.name} ({len(room)}){topic}"))
        if len(listed) > WHO_NAMES:
            answer.append(wire.notice(f"and {len(listed) - WHO_NAMES} more "
                                      "(/rooms PATTERN to search)"))
        if pattern:
            if len(found) >= WHO_CACHED:
                del found[next(iter(found))]
            found[pattern] = answer
        else:
            self._rooms_answers = (self.rooms.version, answer, found)
        effects: List[Effect] = [Send(session, line) for line in answer]
        tokens = len(self.rooms) // SEARCH_NAMES_PER_TOKEN
        return [*effects, Charge(session, tokens)] if tokens else effects

    def _do_unknown(self, session: Session, name: str, command: wire.Unknown) -> List[Effect]:
        log.debug("%r (%s): unknown command /%s", session, name, clean(command.word))
        return [Send(session, wire.error(f"unknown command: /{clean(command.word)} (try /help)"))]

    def _do_badusage(self, session: Session, name: str, command: wire.BadUsage) -> List[Effect]:
        return [Send(session, wire.error(f"usage: {wire.usage(command.command)}"))]



def _room_order(room: Room) -> Tuple[str, str]:
    """/rooms order: alphabetical ignoring case, as /who orders names."""
    return (room.name.casefold(), room.name)
