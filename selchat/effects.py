"""Carrying out the room's decisions: one handler per effect type.

`selchat.room.ChatRoom` answers everything with effects; `Effects.apply` looks
each one's type up in a table and runs its handler. An effect type with no
handler is a bug and raises `UnknownEffect` (a new effect must get a handler
here, never fall into another's). Nothing is sent from here: lines join the
pass's `selchat.batch.Batch` (step 5 of a pass), and closing is the server's
`_set_state`.

The history and resume glue lives here too, as the handlers of ``Replay``
and ``ResumeAsked``: a newcomer's replay of the last room lines, and a
``/resume`` that takes a held session over with every line it missed, or says
the gap (never a silent one). A token that may be another node's goes to the
bus bridge first (`selchat.bus.bridge.BusBridge.take_over`).
"""
import logging
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Optional, Sequence, Tuple

from selchat import resume, topics, wire
from selchat.connection import Connection, State
from selchat.history import History, Line, last_bytes, replay
from selchat.effect_types import (
    TOPIC, AccountChanged, Broadcast, Charge, Claim, Close, Effect, Entered, Exited, Expel, Hold,
    Joined, Keep, Left, Lookup, Presence, Relay, Release, Replay, ResumeAsked, Send, Tag,
    Unannounced, Unhold,
)
from selchat.rooms import Room
from selchat.sendbuf import Buffer
from selchat.timers import Timer
from selchat.wire import ServerLine, encode
from selchat.tags import tag_line

if TYPE_CHECKING:
    from selchat.server import Server

log = logging.getLogger(__name__)


class UnknownEffect(TypeError):
    """An effect type with no handler in `Effects`: a bug, never ignored."""


class Effects:
    """The server's effect handlers; `apply` is the server's ``_apply``."""

    def __init__(self, server: "Server") -> None:
        self._server = server
        self._encoded: Tuple[Optional[ServerLine], bytes] = (None, b"")  # last shared line
        self._holds: Dict[Connection, Timer] = {}  # held sessions' deadlines
        #: Effect type -> handler. Each handler takes the effect of its own type.
        self._handlers: Dict[type, Callable[[Any], None]] = {
            Broadcast: self._broadcast,
            Send: self._send,
            Joined: self._joined,
            Left: self._left,
            Tag: self._tag,
            Replay: self._replay,
            Hold: self._hold,
            Unhold: self._unhold,
            Charge: self._charge,
            Keep: self._keep,
            ResumeAsked: self._resume,
            Claim: self._names,
            Release: self._names,
            Relay: self._names,
            Unannounced: self._unannounced,
            Expel: self._expel,
            Close: self._close,
            Entered: self._entered,
            Exited: self._exited,
            Lookup: self._lookup,
            AccountChanged: self._account_changed,
        }
        #: Who tells a login or logout (IRC's account-notify hangs its own here).
        self.account_told: Callable[[AccountChanged[Connection]], None] = _untold
        #: The same for another node's member: its name and account ("": logged out).
        self.remote_account: Callable[[str, str], None] = lambda name, account: None

    def apply(self, effects: List[Effect]) -> None:
        handlers = self._handlers
        for effect in effects:
            handler = handlers.get(effect.__class__)
            if handler is None:
                raise UnknownEffect(f"no handler for the effect {effect!r}")
            handler(effect)

    def _encode(self, line: ServerLine) -> bytes:
        """A line's bytes; the same line object twice in a row (a /who answer
        asked for by many) is encoded once and its bytes shared."""
        last, payload = self._encoded
        if line is not last:
            payload = encode(line)
            self._encoded = (line, payload)
        return payload

    # -- lines, and names the other nodes must know -----------------------------------

    def _broadcast(self, effect: Broadcast[Connection]) -> None:
        """A room line: numbered, kept in the history (with a bus, by Redis)."""
        room = effect.room
        if room is not None:
            self._room_line(effect, room)
            return
        server = self._server
        payload = self._encode(effect.line)
        if effect.presence is not None and effect.presence.change == TOPIC:
            self._topic_set(effect.presence, server._room.rooms.default)
        if server._bridge is None:
            seq = server._history.append(payload, server._time_ms, (len(payload),))
            server._batch.broadcast(payload, effect.exclude, seq)
        else:
            server._bridge.publish(payload, effect)

    def _room_line(self, effect: Broadcast[Connection], room: Room) -> None:
        """A line of a room but the default one: its name in front, for its
        members (this pass's batch of that room: `Output.room_batch`, which
        numbers it and keeps it in the room's history as it delivers it)."""
        if effect.presence is not None and effect.presence.change == TOPIC:
            self._topic_set(effect.presence, room)
        if self._server._bridge is not None:  # its name goes with it, its prefix is added
            self._server._bridge.publish(self._encode(effect.line), effect)  # as it is read back
            return
        payload = room.prefix + self._encode(effect.line)
        output = self._server._output
        output.room_batch(room).broadcast(payload, effect.exclude)
        if effect.presence is not None and effect.presence.change != TOPIC:
            output.notice(room)

    def _topic_set(self, presence: Presence, room: Room) -> None:
        """A topic's line: set now (this pass's time: the chat logic has no
        clock), and kept in the data directory (`selchat.topics`)."""
        topics.set_topic(room, presence.name, presence.other, self._server._time_ms)
        if self._server.archive is not None:
            self._server.archive.topic(room, topics.of(room))

    def _send(self, effect: Send[Connection]) -> None:
        server = self._server
        payload = self._encode(effect.line)
        if effect.room is not None:  # a room's line for one member (the leaver of a big room)
            payload = effect.room.prefix + payload
            server._batch.send(payload, effect.to,
                               tag_line(payload, server._time_ms, {"room": effect.room.name}))
            return
        tagged: Optional[bytes] = None
        if effect.tags is not None:  # a tagged welcome, with its resume token
            # Its seq is its own join notice's, the room line that follows it
            # (and that it is not sent): a resume from here on misses nothing
            # and repeats nothing, even if no room line came first. With a bus
            # the join notice is numbered later, by Redis.
            seq = server._history.last_seq + (server._bridge is None)
            tagged = tag_line(payload, server._time_ms, effect.tags, seq)
        server._batch.send(payload, effect.to, tagged)

    def _keep(self, effect: Keep[Connection]) -> None:
        server = self._server
        server._room.sessions.keep(effect.session, server._time_ms, encode(effect.line))

    def _names(self, effect: Claim[Connection] | Release[Connection] | Relay) -> None:
        if self._server._bridge is not None:
            self._server._bridge.names(effect)

    def _unannounced(self, effect: Unannounced) -> None:
        """Nobody here is told; with a bus, the other nodes' lists are."""
        if self._server._bridge is not None:
            self._server._bridge.unannounced(effect)

    def _expel(self, effect: Expel) -> None:
        """A member of another node put out: its node does it (only a bus
        shows other nodes' members)."""
        if self._server._bridge is not None:
            self._server._bridge.expel(effect)

    # -- sessions ---------------------------------------------------------------------

    def _joined(self, effect: Joined[Connection]) -> None:
        server, conn = self._server, effect.session
        server._batch.joined(conn)
        server._timers.cancel(conn.timer)
        conn.timer = None
        server._listeners.count_named(conn)

    def _left(self, effect: Left[Connection]) -> None:
        self._server._batch.left(effect.session)

    def _entered(self, effect: Entered[Connection]) -> None:
        room = effect.room
        if room.default:
            self._server._batch.joined(effect.session)
        else:
            # With a bus the pass's lines read so far are in the history already.
            whole_pass = effect.resumed and self._server._bridge is None
            self._server._output.room_batch(room).joined(effect.session, whole_pass)

    def _exited(self, effect: Exited[Connection]) -> None:
        self._server._output.room_batch(effect.room).left(effect.session)

    def _tag(self, effect: Tag[Connection]) -> None:
        effect.session.tagged = True

    def _hold(self, effect: Hold[Connection]) -> None:
        self._holds[effect.session] = self._server._timers.call_at(
            effect.deadline, self._hold_over, effect.session)

    def _unhold(self, effect: Unhold[Connection]) -> None:
        """A hold ended early: its timer would keep its connection alive."""
        self._server._timers.cancel(self._holds.pop(effect.session, None))

    def _hold_over(self, session: Connection) -> None:
        self._holds.pop(session, None)
        self._server._apply(self._server._room.expire(session))

    def _charge(self, effect: Charge[Connection]) -> None:
        """A command that cost more than its line (a /who search in a big room)."""
        bucket = effect.session.bucket
        if bucket is not None:  # flood control is on
            bucket.take(self._server._now, effect.tokens)

    def _account_changed(self, effect: AccountChanged[Connection]) -> None:
        """Only IRC's account-notify tells it (`account_told`); without an
        IRC port nobody is told. With a bus, the other nodes learn it."""
        if self._server._bridge is not None:
            self._server._bridge.account_changed(effect.session)
        self.account_told(effect)

    def _close(self, effect: Close[Connection]) -> None:
        """A goodbye said, a name timeout, a session taken over."""
        conn = effect.session
        if conn.state is State.OPEN:
            self._server._set_state(conn, State.DRAINING)

    # -- history and resume -----------------------------------------------------------

    def _replay(self, effect: Replay[Connection]) -> None:
        """The last lines of a room for a newcomer, right after its welcome
        (or its ``You joined``)."""
        room = effect.room
        history = self._server._history if room is None else room.history
        if history is None:
            return
        conn = effect.session
        if conn.tagged:
            lines = history.last(effect.lines)
            count, first = len(lines), lines[0].seq if lines else 0
            pieces = replay(lines, tagged=True)
        else:  # the history's bytes, a piece a pass (no `Line` made or kept for it)
            count, first, pieces = last_bytes(history, effect.lines)
        if count:
            self._send_history(conn, count, pieces, room)
            if self._server.archive is not None:  # what /history goes on from
                self._server.archive.shown(conn, room, first)

    def send_lines(self, conn: Connection, lines: List[Line], room: Optional[Room],
                   older: bool = False) -> None:
        """Kept lines of a room (None: the default room) for one member,
        between ``Last N lines:`` and ``End of history.``: a replay, or
        (`older`) ``/history``'s answer, whose end says the newest number too."""
        self._send_history(conn, len(lines), replay(lines, conn.tagged), room, older)

    def _send_history(self, conn: Connection, count: int, pieces: List[Buffer],
                      room: Optional[Room], older: bool = False) -> None:
        """`send_lines` for `count` lines already made into `pieces`."""
        server = self._server
        start, end = encode(wire.history_start(count)), encode(wire.history_end())
        if conn.tagged:
            # A room's replay (on /join) holds numbers older than the member has
            # seen: its end carries the newest number said so far, so a client
            # that keeps the last number it saw resumes from there, not from
            # the replay's last line (a pass's room lines are numbered later).
            last = None if room is None and not older else server._history.last_seq
            start = tag_line(start, server._time_ms)
            end = tag_line(end, server._time_ms, seq=last)
        # The history's own bytes, not a copy per newcomer (`replay`).
        server._batch.send([start, *pieces, end], conn)

    def _lookup(self, effect: Lookup[Connection]) -> None:
        """``/search`` and ``/history``: read from disk, if there is history there."""
        archive = self._server.archive
        if archive is None:
            why = "the server keeps no history on disk" if self._server._bridge is None \
                else "this node keeps no history on disk (--bus)"
            what = "/search" if effect.words else "/history"
            self._server._apply([Send(effect.session, wire.error(f"{what}: {why}"))])
        elif effect.words:
            archive.search(effect.session, effect)
        else:
            archive.older(effect.session, effect)

    def _histories(self, member: resume.TaggedSession) -> Sequence[Tuple[str, History]]:
        """The histories a resume of `member` reads: one per room of its, named
        (the default room named only beside others)."""
        server = self._server
        rooms = server._room.rooms.rooms_of(member.session)
        if rooms == [server._room.rooms.default]:
            return [("", server._history)]
        histories: List[Tuple[str, History]] = []
        for room in rooms:
            history = server._history if room.default else room.history
            if history is not None:  # a room that never had a line has nothing to miss
                histories.append((room.name, history))
        return histories

    def _resume(self, effect: ResumeAsked[Connection]) -> None:
        """``/resume``: take the held session over with every line it missed,
        or say the gap (never a silent one)."""
        conn, bridge = effect.session, self._server._bridge
        if bridge is not None and bridge.take_over(conn, effect.token, effect.last_seq):
            return  # the bus moves it here first
        self._resume_here(conn, effect.token, effect.last_seq)

    def _resume_here(self, conn: Connection, token: str, last_seq: int) -> None:
        server = self._server
        outcome = resume.decide(server._history, server._room.sessions, token, last_seq,
                                server._now, self._histories)
        if isinstance(outcome, resume.Resumed):
            if server._bridge is not None:  # the name is claimed by the session, now on `conn`
                server._bridge.claim_moves(outcome.member.session, conn)
            server._apply(server._room.resumed(outcome.member, conn))
            server._batch.send(resume.welcome_back(outcome, server._time_ms), conn)
            return
        # Debug, not info: one address refused at its flood rate would log GBs a day.
        log.debug("%r: resume refused: %s", conn, outcome.kind.value)
        server._apply([Send(conn, resume.gap_line(outcome))])
        if outcome.ends is not None:
            server._apply(server._room.release(outcome.ends.session))


def _untold(effect: AccountChanged[Connection]) -> None:
    """No front tells logins (no IRC port)."""
