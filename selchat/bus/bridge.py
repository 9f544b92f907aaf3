"""The bus bridge: the server's side of the rooms shared with other nodes.

`BusBridge` is the `selchat.bus.driver.BusHost` of a server started with
``--bus``. Outwards, it puts the pass's room lines, the names this node's
members claim and release, and direct lines for other nodes' members into the
`Bus`'s outbox. Inwards, it acts on what the bus read: every room line (this
node's own included, numbered by Redis) joins the pass's batch and the
history (a line of a room but the default one, named in the line: that room's
history, on every node, and its batch, if this node has members in it; its
number is Redis', one sequence for every room), presence changes (joins,
parts, topics) update the room's list of remote members and topic, direct
lines reach their member, and a name lost to another node renames its member
here. Each change of a member's rooms is also written to Redis with the line
that says it (`selchat.bus.protocol.Outbox.rooms`, ``topic``), so a node
starting later reads every room's members and topic at once (`bus_synced`).
Accounts, room rules and server bans go to every node the same way
(`selchat.accounts.shared`). It also carries a resume across nodes: a token
this node does not know may be another node's session, which Redis moves
here (`take_over`) with its rooms, and a session resumed elsewhere is let go
here.

While the bus is down, room lines are delivered here at once and kept for it.
"""
import logging
from typing import TYPE_CHECKING, Dict, List, NamedTuple, Optional, Sequence, Tuple, Union, cast

from selchat import member_status, resume, wire
from selchat.bus.address import BusAddress
from selchat.bus.driver import Bus
from selchat.bus.protocol import (
    Arg, DirectLine, Entry, Expelled, Lost, Moved, NameLost, Own, RoomLine, Ruled, Told,
)
from selchat.connection import Connection, State
from selchat.history import History, MemoryHistory
from selchat.names import name_key
from selchat.effect_types import (
    OUTSIDE, TOPIC, Broadcast, Claim, Effect, Entered, Expel, Left, Presence, Relay, Release, Send,
    Unannounced,
)
from selchat.resume import TaggedSessions
from selchat.rooms import Room, room_key
from selchat.topics import Topic, hash_value as topic_value
from selchat.wire import ServerLine, encode
from selchat.tags import tag_line

if TYPE_CHECKING:
    from selchat.server import Server

log = logging.getLogger(__name__)


class NameClaim(NamedTuple):
    """A name this node leases in Redis for one of its sessions; its fields
    are the arguments of `selchat.bus.protocol.Outbox.claim`."""

    key: str
    name: str
    #: When, to the microsecond: of two nodes that gave a name out during an
    #: outage, the earlier keeps it (a tie goes by node id).
    since_us: int
    token_hash: str


class WaitingResume(NamedTuple):
    """A ``/resume`` of another node's session, waiting for Redis to move it here."""

    conn: Connection
    token: str
    last_seq: int


class BusBridge:
    """The `BusHost` of one server; it owns the `Bus` (``bridge.bus``)."""

    def __init__(self, server: "Server", address: BusAddress, retention: float,
                 lease: float, max_stream_bytes: int) -> None:
        self._server = server
        self.bus = Bus(address, server._selector, server._timers, self, lambda: server._now,
                       lambda: server._time_ms, server.limits.history, retention, lease,
                       max_stream_bytes=max_stream_bytes)
        self._claims: Dict[Connection, NameClaim] = {}  # renewed by every heartbeat
        self._moving: Dict[str, WaitingResume] = {}  # by token hash
        self._trouble_told = False
        server._room.rooms.on_drop = self._room_gone
        self._shared = server.accounts.share(self.bus.outbox.rule)
        #: Room names as lines spell them -> their keys: a key costs 2.6 µs
        #: (NFKC, look-alikes), more than the rest of a line's keeping.
        self._room_keys: Dict[str, str] = {}
        #: Name keys of this node's members -> the status last told of them
        #: (`selchat.member_status`; none told: "").
        self._said_status: Dict[str, str] = {}

    # -- what this node's room does, for the others -------------------------------------

    def publish(self, payload: bytes, effect: Broadcast[Connection]) -> None:
        """A room line (of any room: one stream, its name in field ``r``, the
        default room's without): Redis numbers it and every node reads it back."""
        outbox, up = self.bus.outbox, self.bus.up
        presence = effect.presence.field() if effect.presence is not None else ""
        name = effect.room.name if effect.room is not None else ""
        if effect.elsewhere:
            outbox.line(payload, None, presence, delivered=True, room=name)
        elif not outbox.line(payload, effect.exclude, presence, delivered=not up,
                             room=name, tags=effect.tags) or not up:
            self._here(name, payload, effect.exclude)  # no bus: here, at once
        if effect.presence is not None:
            self._rooms_changed(effect.presence, effect.room)

    def unannounced(self, effect: Unannounced) -> None:
        """A change no line says (a big room's join; a member's status): for
        the other nodes' lists."""
        if effect.presence.change == member_status.STATUS:
            self._share_status(effect.presence.name)
            return
        self.bus.outbox.presence(effect.presence.field(),
                                 effect.room.name if effect.room is not None else "")
        if effect.presence.change != member_status.ROLE:  # another node's member's
            self._rooms_changed(effect.presence, effect.room)

    def _rooms_changed(self, presence: Presence, room: Optional[Room]) -> None:
        """Write to Redis what a change of presence did to this node's member's
        rooms (or to a room's topic): what a node starting later reads."""
        outbox, chat = self.bus.outbox, self._server._room
        change, name, other = presence
        if change == TOPIC:
            where = room if room is not None else chat.rooms.default
            outbox.topic(where.key, topic_value(where))
            return
        if change == "-" and other:
            return  # another node's members gone
        if change == "=":
            outbox.rooms(name, "")
            self._share_status(name)
            name = other
        if change == "+" and room is None:  # a newcomer is in the default room only
            self._share_status(name)
            return
        session = chat.holder(name_key(name))
        outbox.rooms(name, self._rooms_field(session) if session is not None else "")
        self._share_status(name, rooms_told=True)

    def _rooms_field(self, session: Connection) -> str:
        """`session`'s rooms and status, as Redis keeps them (`Outbox.rooms`)."""
        chat = self._server._room
        return member_status.with_rooms(chat.rooms.joined_field(session),
                                        self._status_of(session), chat.rooms.default.name)

    def _status_of(self, session: Connection) -> str:
        """This node's member's status (`selchat.member_status`)."""
        chat = self._server._room
        key = chat.authority.identified.get(session)
        account = None if key is None else chat.authority.accounts.get(key)
        return member_status.field(account.name if account is not None else "",
                                   [room.name for room in chat.rooms.rooms_of(session)
                                    if session in room.operators])

    def _share_status(self, name: str, rooms_told: bool = False) -> None:
        """Tell the other nodes member `name`'s status if it changed (after
        the line of the change), and keep it in Redis with its rooms (unless
        `rooms_told`: written just now)."""
        key = name_key(name)
        session = self._server._room.holder(key)
        if session is None:  # gone: the other nodes forget it with its leave
            self._said_status.pop(key, None)
            return
        status = self._status_of(session)
        if self._said_status.get(key, "") == status:
            return
        if status:
            self._said_status[key] = status
        else:
            del self._said_status[key]
        self.bus.outbox.presence(member_status.presence(name, status), "")
        if not rooms_told:
            self.bus.outbox.rooms(name, self._rooms_field(session))

    def account_changed(self, session: Connection) -> None:
        """This node's member logged in or out: the other nodes learn it."""
        name = self._server._room.name_of(session)
        if name is not None:
            self._share_status(name)

    def _room_gone(self, room: Room) -> None:
        """The last member of `room` left it here: its topic goes."""
        if room.topic:
            self.bus.outbox.topic(room.key, "")

    def _here(self, room_name: str, payload: bytes, exclude: Optional[Connection],
              seq: Optional[Tuple[int, int]] = None) -> None:
        """A line of room `room_name` ("": the default) for this node's members
        of it (not numbered: the bus is down; numbered lines: `_room_entry`)."""
        if not room_name:
            self._server._batch.broadcast(payload, exclude, seq)
            return
        room = self._server._room.rooms.get(room_name)
        if room is not None and room.members:
            self._server._output.room_batch(room).broadcast(room.prefix + payload, exclude)

    def names(self, effect: Union[Claim[Connection], Release[Connection], Relay]) -> None:
        """Names and direct lines the other nodes must know of."""
        outbox = self.bus.outbox
        if isinstance(effect, Relay):
            outbox.direct(name_key(effect.name), encode(effect.line))
        elif isinstance(effect, Claim):
            member = self._server._room.sessions.get(effect.session)
            hashed = member.token_hash if member is not None else ""
            claim = NameClaim(name_key(effect.name), effect.name,
                              int(self._server._wall_clock() * 1_000_000), hashed)
            self._claims[effect.session] = claim
            outbox.claim(*claim)
        else:
            held = self._claims.pop(effect.session, None)
            outbox.release(name_key(effect.name),
                           held.token_hash if held and effect.final else "")

    def expel(self, effect: Expel) -> None:
        """A moderator here put out another node's member: to its node, in
        the stream's order (before the announcement: `selchat.moderation_nodes`)."""
        self.bus.outbox.expel(effect.name, effect.room.name if effect.room is not None else "",
                              effect.told, effect.reason)

    def _expelled(self, entry: Expelled) -> None:
        """Another node's moderator put a member out: ours goes (if still
        there), and Redis keeps its rooms without that one."""
        server = self._server
        chat = server._room
        server._apply(chat.expelled(entry.name, entry.room, entry.told, entry.reason))
        member = chat.holder(name_key(entry.name)) if entry.room else None
        name = None if member is None else chat.name_of(member) or chat.held_name(member)
        if member is not None and name is not None:
            self.bus.outbox.rooms(name, self._rooms_field(member))
            self._share_status(name, rooms_told=True)

    def claim_moves(self, former: Connection, conn: Connection) -> None:
        """A session resumed on `conn`: its name's claim is `conn`'s now."""
        claim = self._claims.pop(former, None)
        if claim is not None:
            self._claims[conn] = claim

    def bus_claims(self) -> List[Arg]:
        return [part for claim in self._claims.values() for part in claim]

    # -- resumes across nodes -----------------------------------------------------------

    def take_over(self, conn: Connection, token: str, last_seq: int) -> bool:
        """A resume with a token of this room's epoch that no session here
        holds may be another node's: ask Redis to move it here. False when it
        is not that, or the bus is down (then it is resumed, or refused, here)."""
        server = self._server
        if server._room.sessions.by_token(token) is not None \
                or resume.token_epoch(token) != server._history.epoch:
            return False
        hashed = resume.token_hash(token)  # perhaps a session of another node
        if not self.bus.takeover(hashed, lambda reply: self._taken_over(hashed, reply)):
            return False
        # The former node lets the session go when it reads the move from the
        # stream; so does this node, and by then its history holds every line
        # the former node could have sent: the resume is completed there
        # (`_moved_here`), whichever comes first, Redis' answer or the move.
        self._moving[hashed] = WaitingResume(conn, token, last_seq)
        conn.reading = False  # until then its lines wait in the kernel
        server._update_interest(conn)
        return True

    def _taken_over(self, hashed: str, reply: Optional[Sequence[bytes]]) -> None:
        """Redis answered a resume with a token this node does not know: no
        session (a gap), or one of this node's; else the move completes it."""
        if reply is not None and reply[0].decode() != self.bus.node:
            return
        waiting = self._moving.pop(hashed, None)
        if waiting is not None and waiting.conn.state is State.OPEN:
            conn = waiting.conn
            self._server._effects._resume_here(conn, waiting.token, waiting.last_seq)
            conn.kind.resume_reading(conn)  # and the lines it sent after the /resume

    def _moved_here(self, move: Moved) -> None:
        """Our own move read back: the session is this node's, in every room
        it was in (`Moved.rooms`); fill its gap in each."""
        server, room = self._server, self._server._room
        conn, token, last_seq = self._moving.pop(move.token_hash)
        if conn.state is not State.OPEN:  # moved here for nobody: let the name go
            room.remote_presence(move.former, Presence("-", move.name))
            self._let_go(move.name, move.token_hash)
            return
        current, names = _joined(move.rooms, room.rooms.default.name)
        histories = self._histories(names)
        one = TaggedSessions[Connection]()  # decide's view: this session alone
        one.add(conn, move.name, token)
        outcome = resume.decide(server._history, one, token, last_seq, server._now,
                                lambda member: histories)
        if isinstance(outcome, resume.Resumed):
            server._apply(room.adopt(conn, move.name, token))
            server._apply(self._enter(conn, move.name, current, names))
            room.rooms.remote_forget(move.name)  # ours now: after entering, no room empties
            status = member_status.split(move.rooms)[1]  # what every node read with the move
            room.status_moved(conn, status)
            if status:
                self._said_status[move.key] = status
            self.bus.outbox.rooms(move.name, self._rooms_field(conn))
            self._share_status(move.name, rooms_told=True)  # if it is not all ours
            # Redis moved the name's claim here already; heartbeats renew it.
            self._claims[conn] = NameClaim(move.key, move.name, move.since, move.token_hash)
            member = room.sessions.get(conn)
            assert member is not None
            pieces = resume.welcome_back(outcome._replace(member=member, takeover=False),
                                         server._time_ms)
            server._batch.send(pieces, conn)
        else:
            room.remote_presence(move.former, Presence("-", move.name))
            log.debug("%r: resume refused: %s", conn, outcome.kind.value)
            server._apply([Send(conn, resume.gap_line(outcome._replace(ends=None)))])
            self._let_go(move.name, move.token_hash)
        conn.kind.resume_reading(conn)  # and the lines it sent after the /resume

    def _histories(self, names: List[str]) -> List[Tuple[str, History]]:
        """What a resume into rooms `names` reads: each room's history here
        (every node keeps every room's), the default room's named only beside others."""
        server, rooms = self._server, self._server._room.rooms
        if [room_key(name) for name in names] == [rooms.default.key]:
            return [("", server._history)]
        histories: List[Tuple[str, History]] = []
        for name in names:
            room = rooms.get(name)
            if room is not None and room.default:
                histories.append((room.name, server._history))
            elif room is not None and room.history is not None:
                histories.append((room.name, room.history))
        return histories

    def _enter(self, conn: Connection, name: str, current: str, names: List[str],
               ) -> List[Effect]:
        """A session moved here joins its rooms again, here, without a word."""
        rooms = self._server._room.rooms
        effects: List[Effect] = []
        for room_name in names:
            room = rooms.get(room_name)
            if room is None or not room.default:
                effects.append(Entered(conn, rooms.enter(conn, room_name, name), resumed=True))
        if rooms.default.key not in {room_key(each) for each in names}:
            rooms.exit(conn, rooms.default)
            effects.append(Left(conn))
        joined = rooms.of.get(conn)
        if joined is not None:
            joined.current = rooms.get(current) if current else None
        return effects

    def _let_go(self, name: str, hashed: str) -> None:
        """A session moved here ended before it was resumed: its name is free."""
        self.bus.outbox.release(name_key(name), hashed)
        self._server._apply([Broadcast(wire.left(name, "connection lost"),
                                       presence=Presence("-", name))])

    # -- what the other nodes did (the BusHost methods) ----------------------------------

    def bus_rules(self, rules: Dict[str, str]) -> None:
        self._shared.synced(rules)

    def bus_synced(self, epoch: str, lines: List[RoomLine],
                   names: Dict[str, Tuple[str, str]], new_epoch: bool,
                   rooms: Dict[str, str], topics: List[Tuple[str, Topic]]) -> None:
        server = self._server
        server._room.rooms.on_drop = None  # rooms emptied by the new view are not gone
        server._room.remote_synced(names, self.bus.node, rooms, topics)
        server._room.rooms.on_drop = self._room_gone
        if not server._listeners.started:
            server._listeners.start()
        if new_epoch:  # every room's numbering is Redis' from now on
            server._history = MemoryHistory(epoch, server.limits.history)
            # Lines before the first read are unknown here: each room's
            # history starts there (a resume from before is a gap).
            start = lines[0].seq - 1 if lines else 0
            for room in server._room.rooms:
                if not room.default:
                    room.history = None
                    server._output.history_of(room).begin(start)
            for line in lines:
                self._keep(line)

    def _keep(self, line: RoomLine) -> Optional[Tuple[Room, bytes]]:
        """`line` into its room's history (numbered by Redis; one sequence: a
        line of another room is a hole in the default room's); its room and
        its bytes as delivered (None: gone, or the default room)."""
        server = self._server
        history = server._history
        if not line.room:
            history.append(line.data, line.time_ms, (len(line.data),), line.seq)
            return None
        if line.seq > history.last_seq + 1:  # lines between never came: a gap, as for its own
            history.append(b"", line.time_ms, (), line.seq)
        if line.seq > history.last_seq:
            history.number(line.seq - history.last_seq)
        rooms = server._room.rooms
        key = self._room_keys.get(line.room)
        if key is None:
            if len(self._room_keys) > 2 * rooms.max_rooms:  # bounded: spellings come and go
                self._room_keys.clear()
            key = self._room_keys[line.room] = room_key(line.room)
        room = rooms.by_key(key)
        if room is None:
            return None
        payload = room.prefix + line.data
        server._output.history_of(room).append(payload, line.time_ms, (len(payload),), line.seq)
        return room, payload

    def bus_entries(self, entries: List[Entry]) -> None:
        server = self._server
        node, room, batch, history = self.bus.node, server._room, server._batch, server._history
        for entry in entries:
            if isinstance(entry, RoomLine) and entry.room:  # a room but the default one
                self._room_entry(entry, node)
            elif isinstance(entry, RoomLine):  # the hot path (an exact type: a quick check)
                seq = history.append(entry.data, entry.time_ms, (len(entry.data),), entry.seq)
                note = _note(seq, entry) if entry.presence or entry.tags \
                    else (seq, entry.time_ms)
                own = entry.own
                if own is None:
                    presence = Presence.parse(entry.presence) if entry.node != node else None
                    if presence is not None:
                        if presence.change == "-" and presence.other == node:  # ours "gone":
                            continue  # our members know better (see `bus_reaped_us`)
                        room.remote_presence(entry.node, presence, entry.time_ms)
                    batch.broadcast(entry.data, None, note)
                elif not own.delivered:
                    batch.broadcast(entry.data, _excluded(own), note)
            elif isinstance(entry, DirectLine):
                self._direct_from_bus(entry)
            elif isinstance(entry, NameLost):
                if entry.node == node:
                    server._apply(room.name_lost(entry.key))
            elif isinstance(entry, Moved):
                self._bus_moved(entry, node)
            elif isinstance(entry, Lost):  # never silent: lost on the way here
                self._tell_members(wire.history_gap(entry.lines, "other servers' lines "
                                                                 "lost by the bus"))
            elif isinstance(entry, Expelled):
                self._expelled(entry)
            elif isinstance(entry, Told) and entry.node != node:
                self._told(entry)
            elif isinstance(entry, Ruled) and entry.node == node:
                self._shared.read_back(entry.field, entry.value)
            elif isinstance(entry, Ruled):
                ban = self._shared.arrived(entry.field, entry.value)
                if ban is not None:  # a server ban made elsewhere: ours under that name goes
                    server._apply(room.banned_elsewhere(entry.field.partition("\t")[2], ban))

    def _told(self, told: Told) -> None:
        """Another node's change of presence that no line said."""
        status = member_status.told(told.presence)
        if status is not None:
            self._status_arrived(*status)
            return
        role = member_status.role_told(told.presence)
        if role is not None:  # ours: its status says it to every node
            if self._server._room.role_told(role[0], told.room, role[1]):
                self._share_status(role[0])
            return
        presence = Presence.parse(told.presence)
        if presence is None:
            return
        if told.room:
            self._server._room.remote_room_presence(told.room, presence)
        else:
            self._server._room.remote_presence(told.node, presence)

    def _status_arrived(self, name: str, status: str) -> None:
        """Another node's member's status: kept; a new login told (account-notify)."""
        server = self._server
        if server._room.remote_name(name_key(name)) is None:
            return  # gone meanwhile
        account = server._room.remote_status.set(name, status)
        if account is not None:
            server._effects.remote_account(name, account)

    def _room_entry(self, entry: RoomLine, node: str) -> None:
        """A line of a room but the default one: its presence (a join, part or
        topic of another node's) updates the room here; it is kept in the
        room's history (on every node: a /join or a resume here replays it),
        and goes to this node's members of it, in the stream's order, with
        Redis' number."""
        own = entry.own
        if own is None and entry.node != node:
            presence = Presence.parse(entry.presence)
            if presence is not None:
                self._server._room.remote_room_presence(entry.room, presence, entry.time_ms)
        kept = self._keep(entry)
        if kept is None or (own is not None and own.delivered):
            return
        room, payload = kept
        output = self._server._output
        if room.members or room in output.rooms:  # members here, or had this pass
            note = _note(entry.seq, entry) if entry.tags else (entry.seq, entry.time_ms)
            output.room_batch(room).broadcast(payload,
                                              _excluded(own) if own is not None else None, note)

    def _direct_from_bus(self, line: DirectLine) -> None:
        room = self._server._room
        session = room.holder(line.key)
        if session is None:
            return  # gone meanwhile: like a line to someone who just left
        if room.is_held(session):
            room.sessions.keep(session, line.time_ms, line.data)
        else:
            self._server._batch.send(line.data, session, tag_line(line.data, line.time_ms))

    def _bus_moved(self, move: Moved, node: str) -> None:
        if move.node == node:
            if move.token_hash in self._moving:
                self._moved_here(move)
            return
        room = self._server._room
        member = room.sessions.by_hash(move.token_hash) if move.former == node else None
        if member is None:
            room.remote_presence(move.node, Presence("+", move.name))
            room.rooms.remote_set(move.name, move.rooms)  # the same rooms, on another node
        else:
            kept = list(member.kept)
            self._claims.pop(member.session, None)  # the name is the other node's now
            self._said_status.pop(move.key, None)
            # Listed in its rooms as the other node's first, so no room empties here.
            room.rooms.remote_set(move.name, move.rooms)
            self._server._apply(room.moved_away(member, move.node))
            room.rooms.remote_relist(move.name)
            for direct in kept:  # they follow it there
                self.bus.outbox.direct(move.key, direct.data)
        # Its login and roles go with it (no news to its rooms: the same as before).
        room.remote_status.set(move.name, member_status.split(move.rooms)[1])

    def bus_lost(self, keys: List[str]) -> None:
        for key in keys:
            self._server._apply(self._server._room.name_lost(key))

    def bus_reaped(self, names: List[str]) -> None:
        self._server._apply(self._server._room.remote_gone(names))

    def bus_reaped_us(self) -> None:
        """Announced again, with their rooms; the topics of our rooms go back
        to Redis unless another node set one meanwhile (Redis lost them)."""
        self._said_status.clear()  # forgotten with our members: told again
        self._server._apply(self._server._room.announce_all())
        for room in self._server._room.rooms:
            if room.topic and (room.members or room.away):
                self.bus.outbox.topic(room.key, topic_value(room), only_new=True)

    def bus_state(self, up: bool, why: str) -> None:
        server, outbox = self._server, self.bus.outbox
        if not server._listeners.started:  # no bus at startup: start in an outage
            server._listeners.start()
        if up:
            if outbox.waiting_lines:
                log.info("bus back: publishing %d lines kept meanwhile", outbox.waiting_lines)
            if outbox.unpublished:
                log.warning("bus back: %d lines made during the outage were over the bound "
                            "and reached this node's members only", outbox.unpublished)
                outbox.unpublished = 0
            if self._trouble_told:
                self._trouble_told = False
                self._tell_members(wire.notice("other servers reachable again"))
            return
        for own in outbox.deliver_here():  # published, not read back: here, now
            self._here(own.room, own.payload, _excluded(own))
        if not self._trouble_told:
            self._trouble_told = True
            self._tell_members(wire.notice("other servers unreachable; messages may be delayed"))

    def _tell_members(self, line: ServerLine) -> None:
        """A notice from this node to its own members alone (not a room line)."""
        self._server._batch.broadcast(encode(line))


def _joined(rooms: str, default: str) -> Tuple[str, List[str]]:
    """A member's rooms as Redis keeps them: (current, rooms in join order)."""
    rooms = member_status.split(rooms)[0]
    if not rooms:
        return default, [default]
    current, *names = rooms.split("\t")
    return current, [name for name in names if name]


#: A presence field's end when a member arrived outside the default room
#: (an IRC client, `selchat.irc.kind`): "+NAME<TAB><".
_ARRIVED_OUTSIDE = "\t" + OUTSIDE


def _note(seq: int, line: RoomLine) -> Tuple[object, ...]:
    """A room line's note for the renders: its number and time, and (for
    `selchat.irc.render`) its IRC client's own tags, or `OUTSIDE` for a
    member's arrival outside the default room (no JOIN of it for IRC clients)."""
    if line.tags:
        return seq, line.time_ms, line.tags
    if line.presence.endswith(_ARRIVED_OUTSIDE):
        return seq, line.time_ms, OUTSIDE
    return seq, line.time_ms


def _excluded(own: Own) -> Optional[Connection]:
    """Who an own line is not for: the sender this server gave the outbox.
    The outbox types it Hashable, as the bus never looks at it; making the
    whole bus generic over the session type only for this is not worth it."""
    return cast(Optional[Connection], own.exclude)
