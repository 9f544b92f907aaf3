"""The IRC port in the loop: `IrcKind`, a `selchat.connection.Kind`.

An IRC client is a chat session like a terminal's (`selchat.lines.LineKind`,
whose flood control, name timeout, per-address limits, output limits and
bus it shares): its lines come from a `selchat.framing.LineBuffer` (CR LF or
LF, a cap of `selchat.irc.message.MAX_LINE`), each is parsed and handed to
its `selchat.irc.session.IrcSession`, and the session's room commands go to
the room through `selchat.irc.view.RoomView`, which keeps the room's answers to this client
(the session turns them into IRC replies) and carries out the rest. The
replies join the pass's batch as they are (`selchat.irc.render.RAW`), so a
client's pass is still one send.

Room lines reach IRC clients rendered: every IRC connection is *tagged*
with a render function (``Connection.render``) of the kind's
`selchat.irc.render.Renderer`, one per variant (its tags, account-tag,
extended-join: `selchat.irc.caps.Caps.variant`), so `selchat.output` renders
each pass's lines once per variant and hands every IRC client of that
variant the same bytes. A speaker's account (account-tag, extended-join) is
looked up by the renderer once per line and variant (`account_of`).

An idle client is pinged after `PING_IDLE` seconds and dropped when nothing
came `PING_TIMEOUT` seconds after the ping: one timer per client on the
server's heap, moved on only when it fires (input just notes the time).
"""
import logging
from functools import partial
from typing import TYPE_CHECKING, List, Optional, Set, cast

from selchat.connection import Connection, State
from selchat.effect_types import (
    AccountChanged, Authenticated, Close,
)
from selchat.irc import numerics as N
from selchat.irc.caps import Caps
from selchat.irc.events import Events
from selchat.irc.message import MAX_REST, TooLong, encode, parse
from selchat.irc.render import RAW, Renderer, mask
from selchat.irc.nodes import remote_account
from selchat.irc.session import IrcSession
from selchat.irc.view import IrcLines, RoomView
from selchat.lines import LineKind
from selchat.names import name_key
from selchat.sanitize import clean

if TYPE_CHECKING:
    from selchat.server import Server

log = logging.getLogger(__name__)

OPEN = State.OPEN
#: Seconds of silence before the server pings a client (ngIRCd's and
#: InspIRCd's defaults are 120 s: long enough that a quiet client costs
#: nothing, short enough that a dead one is noticed).
PING_IDLE = 120.0
#: Seconds a pinged client has to say anything (a PONG): then it is dropped.
PING_TIMEOUT = 60.0


class IrcKind(LineKind):
    """IRC clients on the IRC port (``--irc-port``)."""

    name = "irc"
    gauge = "connections_irc"
    accepted_note = " (IRC)"
    told_why_refused = False  # an IRC client reads numerics, not a chat line

    def __init__(self, server: "Server", server_name: str) -> None:
        super().__init__(server)
        self.server_name = server_name
        room = server._room
        self.default_room = room.rooms.default.name
        self.renderer = Renderer(server_name, server_name, self.default_room,
                                 lambda: server._history.epoch, lambda: server._time_ms,
                                 lambda target: room.name_of(cast(Connection, target)),
                                 self.account_of, self.realname_of)
        #: Direct lines and TAGMSGs given a msgid of their own (`direct_msgid`).
        self.msgids = 0
        #: Each room's last TAGMSGs, for CHATHISTORY (`selchat.irc.events`).
        self.events = Events()
        #: Clients that asked for away-notify.
        self.away_notify: Set[Connection] = set()
        #: Clients that asked for account-notify.
        self.account_notify: Set[Connection] = set()
        server._effects._handlers[Authenticated] = self._authenticated  # SASL's answers
        server._effects.account_told = self._account_changed  # account-notify
        server._effects.remote_account = partial(remote_account, self)  # another node's

    def protocol(self) -> IrcLines:
        return IrcLines()

    # -- a connection's life ------------------------------------------------------------

    def opened(self, conn: Connection) -> None:
        server, limits = self._server, self._server.limits
        proto = self._lines(conn)
        proto.session = IrcSession(
            RoomView(self, conn), self.server_name, self.server_name,
            default_room=self.default_room, channel_limit=limits.max_rooms_per_member)
        proto.heard = server._now
        conn.bucket = self.new_bucket()
        conn.timer = server._timers.call_at(server._now + limits.name_timeout, self._no_name, conn)
        conn.tagged = True  # never the line protocol's shared bytes: its own variant
        conn.render = self.renderer.variant(None)  # one object: `selchat.output` keys by it
        # Its hello is the line protocol's: unsaid. Named, it is in no room
        # (IRC's way): the default room hears of it when it joins #lobby.
        server._room.connect(conn, conn.group or "", outside=True)
        server._timers.call_at(server._now + PING_IDLE, self._idle, conn)

    def _no_name(self, conn: Connection) -> None:
        conn.timer = None
        if conn.state is OPEN:
            log.info("%r: not registered in time", conn)
            self.reply(conn, [encode(None, "ERROR", ["Closing link: registration timed out"],
                                     trailing=True)])
            self._server._apply([Close(conn)])

    def _idle(self, conn: Connection) -> None:
        """The ping timer: ping a silent client, drop one that did not answer."""
        if conn.state is not OPEN:
            return
        server, proto = self._server, self._lines(conn)
        now = server._now
        if proto.pinged and proto.heard < proto.pinged:
            if now - proto.pinged >= PING_TIMEOUT:
                log.info("%r: ping timeout", conn)
                self.reply(conn, [encode(None, "ERROR", [
                    f"Closing link: ping timeout ({PING_TIMEOUT:g} seconds)"], trailing=True)])
                server._apply(server._room.disconnect(conn, "ping timeout", now))
                server._set_state(conn, State.DRAINING, "ping timeout")
                return
            server._timers.call_at(proto.pinged + PING_TIMEOUT, self._idle, conn)
            return
        if now - proto.heard >= PING_IDLE:
            proto.pinged = now
            self.reply(conn, [encode(None, "PING", [self.server_name], trailing=True)])
            server._timers.call_at(now + PING_TIMEOUT, self._idle, conn)
            return
        proto.pinged = 0.0
        server._timers.call_at(proto.heard + PING_IDLE, self._idle, conn)

    def _authenticated(self, effect: "Authenticated[Connection]") -> None:
        """The room's answer to a SASL login or an OPER: the session's numerics."""
        conn = effect.session
        session = self._lines(conn).session if conn.state is OPEN else None
        if session is not None:
            answer = session.opered if effect.oper else session.authenticated
            self.reply(conn, answer(effect.account, effect.why))
        proto = self._lines(conn)
        if effect.oper and proto.opering:  # its next lines, in a pass of their own
            proto.opering = False
            self._server._timers.call_at(self._server._now, self.resume_reading, conn)

    def resume_reading(self, conn: Connection) -> None:
        if not self._lines(conn).opering:  # (flood control's timer) the OPER's answer first
            super().resume_reading(conn)

    def hold_for_oper(self, conn: Connection) -> None:
        """An OPER's password is being checked: read nothing more until the answer."""
        self._lines(conn).opering = True
        conn.reading = False
        self._server._update_interest(conn)

    def _account_changed(self, effect: "AccountChanged[Connection]") -> None:
        """account-notify: ``ACCOUNT NAME`` (``*``: logged out), made once, for
        the clients that asked and share a room with the member (itself too)."""
        conn = effect.session
        rooms = self._server._room.rooms.rooms_of(conn)
        name = self._server._room.name_of(conn)
        if name is None or not self.account_notify:
            return  # not a member yet: its JOINs will say it (extended-join)
        line = [encode(mask(name, self.server_name), "ACCOUNT", [effect.account or "*"])]
        for other in self.account_notify:
            if other is conn or any(room.has(other) for room in rooms):
                self.reply(other, line)

    def account_of(self, name: str) -> Optional[str]:
        """The account member `name` is logged in to (None: none). Another
        node's member holding a registered name is its owner (no one else
        may hold it)."""
        chat = self._server._room
        key = name_key(name)
        session = chat.holder(key)
        authority = chat.authority
        if session is not None:
            held = authority.identified.get(session)
        elif chat.remote_status.account(key):  # told by its node (`selchat.member_status`)
            return chat.remote_status.account(key)
        else:
            held = key if chat.remote_name(key) is not None else None
        account = None if held is None else authority.accounts.get(held)
        return None if account is None else account.name

    def realname_of(self, name: str) -> str:
        """What an IRC member gave USER as its realname; "selchat user" for the others."""
        session = self._server._room.holder(name_key(name))
        proto = None if session is None else session.proto
        if isinstance(proto, IrcLines) and proto.session is not None \
                and proto.session.user is not None:
            return proto.session.user[1]
        return "selchat user"

    def closing(self, conn: Connection) -> None:
        self.away_notify.discard(conn)
        self.account_notify.discard(conn)

    def after_batch(self) -> None:
        """The pass's lines went out: their client tags are done with."""
        renderer = self.renderer
        if renderer.client_tags:
            renderer.client_tags.clear()

    def direct_msgid(self) -> str:
        """A msgid for a direct line (not a room line: it has no seq)."""
        self.msgids += 1
        return f"{self._server._history.epoch}-d{self.msgids}"

    # -- reading ------------------------------------------------------------------------

    def take_line(self, conn: Connection, line: bytes) -> None:
        proto = cast(IrcLines, conn.proto)  # (not `_lines`: a call less a line)
        proto.heard = self._server._now
        session = proto.session
        assert session is not None
        if line.startswith(b"PRIVMSG #") and session.registered and self._chat(session, line):
            return
        msg = parse(line)
        if msg is None:
            return
        if isinstance(msg, TooLong):
            self.reply(conn, [session.reply_text(N.ERR_INPUTTOOLONG, "Input line was too long")])
            return
        replies = session.handle(msg)
        if replies:
            self.reply(conn, replies)
        if msg.command == "CAP":
            self._caps_changed(conn, session)

    @staticmethod
    def _chat(session: IrcSession, line: bytes) -> bool:
        """The hot path: ``PRIVMSG #room :text``, plain (no tags, one target,
        no CTCP), said at once; False when it is anything else (the session
        then reads it whole, errors and all)."""
        target, found, text = line[8:].partition(b" :")
        if not found or len(line) > MAX_REST or b" " in target or b"," in target \
                or text[:1] == b"\x01":
            return False
        said = clean(text)
        if not said.strip():
            return False
        echo = session.caps.has("echo-message")
        return session.world.say(target.decode("utf-8", "replace"), said, "chat", echo)[1]

    def line_too_long(self, conn: Connection) -> None:
        session = self._lines(conn).session
        assert session is not None
        self.reply(conn, [session.reply_text(N.ERR_INPUTTOOLONG, "Input line was too long")])

    def _caps_changed(self, conn: Connection, session: IrcSession) -> None:
        conn.render = self.renderer.variant(*session.caps.variant())
        for cap, clients in (("away-notify", self.away_notify),
                             ("account-notify", self.account_notify)):
            if session.caps.has(cap):
                clients.add(conn)
            else:
                clients.discard(conn)

    # -- writing ------------------------------------------------------------------------

    def reply(self, conn: Connection, lines: List[bytes]) -> None:
        """IRC lines for `conn`, in order with the pass's other lines for it."""
        self._server._batch.send(b"".join(lines), conn, RAW)

    @staticmethod
    def _lines(conn: Connection) -> IrcLines:
        return cast(IrcLines, conn.proto)

    @staticmethod
    def caps_of(conn: Connection) -> Optional[Caps]:
        """An IRC client's caps (None: not an IRC client)."""
        proto = conn.proto
        return proto.session.caps if isinstance(proto, IrcLines) and proto.session else None
