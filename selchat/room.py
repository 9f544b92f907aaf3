"""The chat room: who is here, under which name, and who receives what.

``ChatRoom`` is the chat logic and nothing else. It is told about sessions
(any hashable the caller chooses: the server uses its connection objects) and
the sanitised lines they send, and it answers with *effects*, plain values the
I/O driver carries out (`selchat.effect_types` lists them). The room commands
(/join, /part, /topic, /rooms) are its part `selchat.room_commands`.

Rooms (`selchat.rooms`): every member is in the default room, whose lines
carry no prefix, and may join others with ``/join #room``. A line for a room
but the default one is a ``Broadcast`` (or ``Send``) with that ``room``: the
driver puts the room's prefix in front and delivers it to the room's members.

With a bus (several nodes, one room) the room also knows the *remote*
members, by name and node (its part `selchat.room_nodes`): a name is refused
if anyone anywhere holds it, ``/who`` lists everyone, ``/msg`` reaches anyone.

It never sees bytes or sockets, so every rule here is tested directly.
A session starts unnamed; its first line is its name; once a name is accepted it
is a member, and only members receive broadcasts.
"""
import itertools
import logging
from typing import (
    Callable, Dict, List, Optional, Sequence, Set, Tuple,
)

from selchat import commands
from selchat import wire
from selchat.names import name_key, name_problem
from selchat.resume import TaggedSession, TaggedSessions
from selchat.effect_types import (
    Broadcast, Claim, Close, Effect, Entered, Hold, Joined, Keep,
    Left, Presence, Relay, Release, Replay, ResumeAsked, Send, Session, Tag, Unannounced, Unhold,
)
from selchat.room_commands import RoomCommands
from selchat.room_nodes import OtherNodes
from selchat.answers import Answers
from selchat.accounts.authority import Authority
from selchat.accounts.login import Login
from selchat.member_status import RemoteStatus
from selchat.moderation import Moderation
from selchat.rooms import (
    ANNOUNCE_LIMIT, MAX_ROOMS, MAX_ROOMS_PER_MEMBER, Rooms, room_problem,
)
from selchat.roster import Roster
from selchat.sanitize import clean
from selchat.wire import ServerLine

log = logging.getLogger(__name__)

#: Names shown in the welcome notice; a 10,000-person room is summed up as a count.
WELCOME_NAMES = 50
HELLO = wire.hello()
SERVER_FULL = wire.server_full()
TOO_MANY_FROM_ADDRESS = wire.error("too many connections from your address")
SHUTTING_DOWN = wire.shutting_down()
SHUTTING_DOWN_KEPT = wire.shutting_down(kept=True)


class ChatRoom(Login[Session], Moderation[Session], RoomCommands[Session],
               Answers[Session], OtherNodes[Session]):
    """`resume_window` seconds a tagged member's session is held when its
    connection ends without /quit (0: never); `new_token` makes its resume
    token (randomness is the caller's); `replay` lines greet a newcomer;
    at most `max_held` sessions are held, `max_held_per_group` from one
    address group (0: no cap; the oldest hold gives way, `selchat.resume`).
    Rooms: `default_room` is everyone's; past `announce_limit` members
    (0: never) a room's joins and leaves are not announced. `authority`:
    accounts, operators, bans and room rules (`selchat.accounts`)."""

    def __init__(self, resume_window: float = 0.0, replay: int = 0,
                 new_token: Callable[[], str] = lambda: "", max_held: int = 0,
                 max_held_per_group: int = 0, default_room: str = "#lobby",
                 max_rooms: int = MAX_ROOMS, max_rooms_per_member: int = MAX_ROOMS_PER_MEMBER,
                 announce_limit: int = ANNOUNCE_LIMIT,
                 authority: Optional[Authority] = None) -> None:
        self.authority: Authority[Session] = authority if authority is not None else Authority()
        self.resume_window = resume_window
        #: Sessions outlive a restart (the driver keeps them on disk).
        self.keep_sessions = False
        self.rooms: Rooms[Session] = Rooms(default_room, max_rooms, max_rooms_per_member)
        self.authority.present_operator = self.rooms.operates  # makers, /op'd while there
        self.remote_status = RemoteStatus()  # other nodes' logins and roles
        self.announce_limit = announce_limit
        self._rooms_answers = (-1, None, {})
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
        self._unseen: Set[Session] = set()  # `RoomCommands._unseen`
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

    def connect(self, session: Session, group: str = "", outside: bool = False) -> List[Effect]:
        """A new connection, from address group `group` (what its hold will
        count against, `selchat.addresses.address_group`): ask for its name.
        `outside`: it joins the default room itself (`RoomCommands._unseen`)."""
        self._unnamed[session] = group
        if outside:
            self._unseen.add(session)
        return self._greeting(session, HELLO)

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
            auth = self.authority
            if auth.unpassed or auth.awaiting:  # a password line? (`selchat.accounts.login`)
                gated = self._login_line(session, text, HELLO)
                if gated is not None:
                    return gated
            early = commands.before_name(text)
            if early is not None:
                return self._before_name(session, early)
            return self._claim_name(session, text.strip(" \t"))  # not str.strip(): it eats controls
        command = commands.parse(text)
        if type(command) is commands.Say:  # the hot path first
            said = clean(command.text)
            if not said.strip():
                return []
            log.debug("<%s> %s", name, said)
            joined = self.rooms.of
            if joined and session in joined:  # it used a room command: its current room
                return self._say(session, joined[session].current, wire.chat(name, said))
            if self.authority.restricted:  # a mute or +m somewhere: is it here? (moderation)
                refused = self._speech_refusal(session, name, self.rooms.default)
                if refused:
                    return refused
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
        self.authority.forget(session, final=False)
        name = self.members.pop(session, None)
        if name is None:
            self._unseen.discard(session)
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
        self.authority.moved(old, session)
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
        self.authority.forget(session, final=True)
        reason = clean(reason)
        log.info("%s left%s", name, f" ({reason})" if reason else "")
        rooms = self.rooms
        connected = session in rooms.default.members
        unseen = self._never_told(session)
        told = rooms.sharing(session, self.announce_limit, unseen) if session in rooms.of else {}
        rooms.forget(session)
        line = wire.left(name, reason)
        effects: List[Effect] = [Left(session)] if connected else []
        effects += [Release(session, name), *self._invitations_follow(name)]
        # Everyone was told it joined the chat: everyone is told it left, in
        # the default room or not; one never told (an IRC client that never
        # joined #lobby), only those sharing a room with it.
        if not unseen and not self._quiet(rooms.default):
            effects.append(Broadcast(line, presence=Presence("-", name)))
        else:  # the other nodes' lists (with a bus) learn it all the same
            effects.append(Unannounced(Presence("-", name)))
        effects += [Send(member, line) for member in told]
        return effects

    def line_too_long(self, session: Session, max_line: int) -> List[Effect]:
        log.debug("%r: line over %d bytes discarded", session, max_line)
        return [Send(session, wire.error(f"line too long: over {max_line} bytes, discarded"))]

    def name_timeout(self, session: Session, seconds: float) -> List[Effect]:
        return [
            Send(session, wire.error(f"name timeout: no name received in {seconds:g} s")),
            Close(session),
        ]

    def _before_name(self, session: Session, command: commands.Command) -> List[Effect]:
        if isinstance(command, commands.Tags):
            self._tagged.add(session)
            return [Tag(session)]
        if isinstance(command, commands.Resume):
            return [ResumeAsked(session, command.token, command.last_seq)]
        assert isinstance(command, commands.BadUsage)
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
        """The server is stopping: tell every session, named or not (a tagged
        member that its session is kept, if `keep_sessions`)."""
        kept = SHUTTING_DOWN_KEPT if self.keep_sessions else SHUTTING_DOWN
        return [Send(session, kept if self.sessions.get(session) else SHUTTING_DOWN)
                for session in [*self._unnamed, *self.members]]

    def restore_held(self, session: Session, name: str, hashed: str, rooms: Sequence[str],
                     deadline: float) -> List[Effect]:
        """A session kept when the server last stopped, held again until
        `deadline` as if its connection had just dropped: its name taken, in
        its rooms, nobody told. Its token is known by `hashed` only."""
        key = name_key(name)
        if key in self._owners or name_problem(name):
            return []
        self._owners[key] = session
        self._held[session] = name
        self.rooms.enter_default(session, name)
        for room in rooms:
            if room_problem(room) is None and self.rooms.refusal(session, room) is None:
                self.rooms.enter(session, room, name)
        self.rooms.hold(session)
        self._listed(key)
        self.sessions.add(session, name, "", hashed=hashed)
        self.sessions.hold(session, deadline)
        return [Hold(session, deadline)]

    # -- names ----------------------------------------------------------------

    def _name_refusal(self, session: Session, name: str) -> Optional[str]:
        problem = name_problem(name)
        if problem:
            return problem
        key = name_key(name)
        owner = self._owners.get(key)
        if (owner is not None and owner != session) or (owner is None and key in self._remote):
            return f"name taken: {name}"
        return self._registered_refusal(session, name)

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
        if session in self._unseen:  # it joins the default room itself: not told yet
            return [*effects, *self._named_outside(session, name)]
        if self.replay:
            effects.append(Replay(session, self.replay))
        effects.append(self._told(wire.joined(name), session, Presence("+", name),
                                  self.rooms.default))
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
            self.rooms.version += 1  # the default room's count in /rooms

    # -- the other nodes (with a bus) -------------------------------------------

    def holder(self, key: str) -> Optional[Session]:
        """The session here holding name key `key` (connected or held), if any."""
        return self._owners.get(key)

    def is_held(self, session: Session) -> bool:
        return session in self._held

    # -- what another front (IRC) asks --------------------------------------------

    def name_refusal(self, session: Session, name: str) -> Optional[str]:
        """Why `session` may not take `name` now (None: it may)."""
        return self._name_refusal(session, name)

    def held_name(self, session: Session) -> Optional[str]:
        return self._held.get(session)

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

    def _do_quit(self, session: Session, name: str, command: commands.Quit) -> List[Effect]:
        return [Send(session, wire.goodbye(name)), Close(session),
                *self.disconnect(session, command.reason, quitting=True)]

    def _do_tags(self, session: Session, name: str, command: commands.Tags) -> List[Effect]:
        self._tagged.add(session)
        return [Tag(session)]

    def _do_resume(self, session: Session, name: str, command: commands.Resume) -> List[Effect]:
        return [Send(session, wire.error("/resume is for a new connection, before a name"))]

    def _do_nick(self, session: Session, name: str, command: commands.Nick) -> List[Effect]:
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
        effects: List[Effect] = [Release(session, name, final=False), Claim(session, new),
                                 *self._invitations_follow(name, new)]
        # Names are the server's: everyone is told (the other nodes too), in
        # the default room or not; of one never told it joined (IRC), only
        # those sharing a room with it, and the other nodes' lists.
        unseen = session in self._unseen
        effects.append(Unannounced(Presence("=", name, new)) if unseen else
                       Broadcast(line, presence=Presence("=", name, new)))
        if session in self.rooms.of:  # once to each member sharing another room
            effects += [Send(member, line) for member in self.rooms.sharing(session, 0, unseen)]
        return effects

    def _do_msg(self, session: Session, name: str, command: commands.Msg) -> List[Effect]:
        if command.target.startswith("#"):  # names never hold "#"
            room = self._room_of(session, command.target, member=False)
            if isinstance(room, list):
                return room
            if not room.has(session):  # from outside: a -n room takes it (`selchat.moderation`)
                refusal = self.outside_refusal(session, room)
                if refusal is not None:
                    return [Send(session, wire.error(refusal))]
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

    def _do_me(self, session: Session, name: str, command: commands.Me) -> List[Effect]:
        text = clean(command.text)
        log.debug("* %s %s", name, text)
        return self._say(session, self.rooms.current(session), wire.action(name, text))
