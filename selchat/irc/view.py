"""The room as one IRC client sees it: `RoomView`, the `selchat.irc.world.World`
its session talks to, and `IrcLines`, the connection's protocol state.

`RoomView` hands the session's room commands to the chat logic
(`selchat.room.ChatRoom`) as the line protocol's commands, keeps the room's
answers to this client (the session turns them into IRC replies) and carries
out the rest; it also answers the session's questions (names, modes, users,
history) from the room, the rules and the history. `selchat.irc.kind.IrcKind`
makes one per client.
"""
from typing import TYPE_CHECKING, Dict, Iterable, List, Optional, Tuple, cast

from selchat.connection import Connection
from selchat.effect_types import Broadcast, Close, Effect, Relay, Replay, Send
from selchat.framing import LineBuffer
from selchat.accounts.authority import DEFAULT_MODES
from selchat.archive import room_key
from selchat.irc.events import WithEvents, worth_keeping
from selchat.irc.message import MAX_LINE, encode, escape
from selchat.irc.render import mask
from selchat.irc.replay import Said, said
from selchat.irc.session import IrcSession
from selchat.irc.world import User
from selchat.room_lines import RoomLines, of_room
from selchat.names import name_key
from selchat.rooms import Room
from selchat.tags import format_time
from selchat import topics
from selchat.topics import Topic
from selchat.wire import LineType, ServerLine, notice
from selchat.wire import action as wire_action, chat as wire_chat, encode as wire_encode

if TYPE_CHECKING:
    from selchat.irc.kind import IrcKind

PRIVATE = LineType.PRIVATE
#: Lines of each room CHATHISTORY TARGETS looks at in memory for the newest
#: message (the database, if any, for more): joins and parts rarely bury it deeper.
TARGETS_TAIL = 200
#: Channel names a connection keeps the room of (the hot path of its chat
#: skips the room's name rules); a client in more is just looked up again.
CHANNELS_KEPT = 64


class IrcLines(LineBuffer):
    """An IRC connection's protocol: its lines, its session, its liveness."""

    __slots__ = ("session", "heard", "pinged", "channels", "opering")

    def __init__(self) -> None:
        super().__init__(MAX_LINE)
        self.session: Optional[IrcSession] = None
        #: Channel names as this client writes them -> their rooms (`RoomView.say`).
        self.channels: Dict[str, Room[Connection]] = {}
        self.heard = 0.0  # when it last sent anything
        self.pinged = 0.0  # when the server pinged it (0: not waiting for an answer)
        #: An OPER's password is being checked: its later lines wait for the
        #: answer (not read meanwhile), so replies keep the order of commands.
        self.opering = False


class RoomView:
    """The room as one IRC client sees it (`selchat.irc.session.World`)."""

    __slots__ = ("_kind", "_conn", "_channels", "_stamp", "_replay")

    def __init__(self, kind: "IrcKind", conn: Connection) -> None:
        self._kind = kind
        self._conn = conn
        #: Its connection's `IrcLines.channels` (the same dict, kept at hand:
        #: `say` reads it for every line).
        self._channels = kind._lines(conn).channels
        self._stamp: Dict[str, str] = {}  # the last direct line's msgid and time
        #: The room's replay for this client's last command (a JOIN's), until
        #: the session asks for it (`replayed`) or the next command.
        self._replay: Optional[Replay[Connection]] = None

    def command(self, text: str, echo: bool = False,
                tags: Optional[Dict[str, str]] = None,
                exclude_self: bool = False) -> List[ServerLine]:
        server, conn = self._kind._server, self._conn
        mine: List[ServerLine] = []
        effects: List[Effect] = []
        self._replay = None
        for effect in server._room.receive(conn, text):
            kind = effect.__class__
            if kind is Send and (cast(Send, effect).to is not conn
                                 or cast(Send, effect).line.kind is PRIVATE):
                self._stamped(effect, tags)  # a direct line (to oneself too): a msgid of its own
            elif tags:
                self._kind.renderer.carries(effect, tags)
            if exclude_self and kind is Broadcast and cast(Broadcast, effect).exclude is None:
                cast(Broadcast, effect).exclude = conn  # the session says it to its client
            if kind is Send and cast(Send, effect).to is conn \
                    and cast(Send, effect).line.kind is not PRIVATE:  # a /msg to oneself goes
                mine.append(cast(Send, effect).line)
            elif kind is Replay and cast(Replay, effect).session is conn:
                self._replay = cast(Replay, effect)  # IRC lines, after the JOIN's names
            elif echo and kind is Broadcast and cast(Broadcast, effect).exclude is conn:
                cast(Broadcast, effect).exclude = None  # echo-message: its own line too
                effects.append(effect)
            else:
                effects.append(effect)
        server._apply(effects)
        return mine

    def _stamped(self, effect: Effect, tags: Optional[Dict[str, str]]) -> None:
        server = self._kind._server
        self._stamp = {"msgid": self._kind.direct_msgid(),
                       "time": format_time(server._time_ms)}
        self._kind.renderer.carries(effect, {"msgid": self._stamp["msgid"], **(tags or {})})
        if effect.__class__ is Send:
            self._keep_direct(cast(Send, effect))

    def _keep_direct(self, effect: "Send[Connection]") -> None:
        """A direct line, kept by both ends (IRC clients) for CHATHISTORY with
        a nick: in memory only, as the recipient was sent it."""
        kind, conn, to = self._kind, self._conn, effect.to
        chat = kind._server._room
        sender, recipient = chat.name_of(conn), chat.name_of(to)
        if sender is None or recipient is None:
            return
        text = wire_encode(effect.line).decode("utf-8", "replace").rstrip("\n")
        line = b"".join(kind.renderer.line(text, to))
        number, time_ms = kind.msgids, kind._server._time_ms
        for end, other in ((conn, recipient), (to, sender)):
            session = getattr(end.proto, "session", None)  # an IRC client's, else None
            if isinstance(session, IrcSession):
                session.keep_direct(number, time_ms, other, line)
            if to is conn:
                break  # to oneself: kept once

    def stamp(self) -> Dict[str, str]:
        return self._stamp

    def _room(self, channel: str):  # type: ignore[no-untyped-def]
        return self._kind._server._room.rooms.get(channel) if channel.startswith("#") else None

    def names(self, channel: str) -> Optional[Tuple[str, List[str]]]:
        room = self._room(channel)
        if room is None:
            return None
        chat = self._kind._server._room
        names = [*room.members.values(), *room.away.values(), *room.remote.values()]
        if room.default:  # the other nodes' members but those out of it
            outside = chat.rooms.remote_outside
            names += [each for each in chat.remote_names() if name_key(each) not in outside]
        mark = chat.marks(room)  # "@" and "+" (both: multi-prefix's), as the room's lists
        return room.name, names if mark is None else [mark(name_key(each)) + each
                                                      for each in names]

    def secret(self, channel: str) -> Optional[bool]:
        room = self._room(channel)
        if room is None:
            return None
        return room.key in self._kind._server._room.authority.secret

    def modes(self, channel: str) -> str:
        room = self._room(channel)
        rules = None if room is None else \
            self._kind._server._room.authority.rooms.get(room.key)
        shown = DEFAULT_MODES if rules is None else rules.modes()
        return "+" if shown == "none" else shown

    def bans(self, channel: str) -> List[str]:
        room = self._room(channel)
        authority = self._kind._server._room.authority
        if room is None:
            return []
        if room.default:
            return sorted(ban.name for ban in authority.bans.values())
        rules = authority.rooms.get(room.key)
        return [] if rules is None else sorted(ban.name for ban in rules.bans.values())

    def channels(self) -> List[str]:
        return [room.name for room in self._kind._server._room.rooms.rooms_of(self._conn)]

    def topic(self, channel: str) -> Optional[str]:
        room = self._room(channel)
        return None if room is None else room.topic

    def topic_who(self, channel: str) -> Optional[Topic]:
        room = self._room(channel)
        return None if room is None else topics.of(room)

    def rooms(self) -> List[Tuple[str, int, str]]:
        """The rooms this client may see (not another's secret room), but
        an empty default room: an IRC channel without users is none."""
        chat, conn = self._kind._server._room, self._conn
        counted = ((room, chat._count(room)) for room in chat.rooms)  # every node's members
        return [(room.name, count, room.topic) for room, count in counted
                if count and chat.listed(conn, room)]

    def user(self, nick: str) -> Optional[User]:
        found = self._user(nick)  # with its account (WHOIS's 330), on any node
        return found and found._replace(account=self._kind.account_of(found.nick) or "")

    def _user(self, nick: str) -> Optional[User]:
        chat = self._kind._server._room
        session = chat.holder(name_key(nick))
        if session is None:
            remote = chat.remote_name(name_key(nick))
            return None if remote is None else User(remote, remote, "on another node", "", [])
        name = chat.name_of(session)
        channels = [room.name for room in chat.rooms.rooms_of(session)]
        if name is None:  # held: its connection dropped and may come back
            held = chat.held_name(session) or nick
            return User(held, held, "selchat user", "connection lost", channels)
        proto = session.proto
        if isinstance(proto, IrcLines) and proto.session is not None:
            irc = proto.session
            user, realname = irc.user or (name, name)
            return User(name, user, realname, irc.away, channels, irc.invisible,
                        chat.authority.operator(session))
        return User(name, name, "selchat user", "", channels,
                    operator=chat.authority.operator(session))

    def say(self, channel: str, text: str, kind: str, echo: bool = False,
            tags: Optional[Dict[str, str]] = None) -> Tuple[Optional[str], bool]:
        """The hot path of an IRC client's chat: a room line, as the room's
        own chat line is (``Broadcast``), without a command to parse."""
        server, conn, channels = self._kind._server, self._conn, self._channels
        chat = server._room
        room = channels.get(channel)
        if room is None or not room.has(conn):  # (a room one is in exists: the cache holds)
            room = self._room(channel)
            if room is None:
                return None, False
            if not room.has(conn):
                return room.name, self._outside(room, text, kind, echo, tags)
            if len(channels) >= CHANNELS_KEPT:
                channels.clear()
            channels[channel] = room
        if chat.authority.restricted and chat.may_speak(conn, room) is not None:
            return room.name, False  # muted, or +m: the session answers 404 with why
        self._broadcast(room, text, kind, None if echo else conn, tags)
        return room.name, True

    def _broadcast(self, room: Room[Connection], text: str, kind: str,
                   exclude: Optional[Connection], tags: Optional[Dict[str, str]]) -> str:
        """This client's line (`kind`: chat, action or notice) to `room`, as
        the room's own chat line is; answers the client's name."""
        server = self._kind._server
        name = server._room.name_of(self._conn) or "*"
        line = (wire_chat(name, text) if kind == "chat" else wire_action(name, text)
                if kind == "action" else notice(f"-{name}- {text}"))
        effect = Broadcast(line, exclude, room=None if room.default else room)
        if tags:
            self._kind.renderer.carries(effect, tags)
        server._apply([effect])
        return name

    def _outside(self, room: Room[Connection], text: str, kind: str, echo: bool,
                 tags: Optional[Dict[str, str]]) -> bool:
        """A line from a client not in `room`: said if the room is -n (and the
        client neither banned nor muted there). The room's line does not come
        back to a non-member, so its echo (echo-message) is made here."""
        if self._refusal(room) is not None:
            return False
        conn, server = self._conn, self._kind._server
        name = self._broadcast(room, text, kind, conn, tags)
        if echo:
            caps = self._kind.caps_of(conn)
            body = f"\x01ACTION {text}\x01" if kind == "action" else text
            shown = {"time": format_time(server._time_ms)} \
                if caps is not None and caps.has("server-time") else None
            self._kind.reply(conn, [encode(mask(name, self._kind.server_name),
                                           "NOTICE" if kind == "notice" else "PRIVMSG",
                                           [room.name, body], tags=shown, trailing=True)])
        return True

    def replayed(self, channel: str) -> List[Said]:
        effect, self._replay = self._replay, None
        if effect is None:
            return []
        server = self._kind._server
        room = effect.room or server._room.rooms.default
        if room.name != channel:
            return []
        history = server._history if room.default else room.history
        if history is None:
            return []
        render = self._kind.renderer.plain
        return said(history.last(effect.lines), lambda data: render(data, None, None),
                    server._history.epoch)

    def speech_refusal(self, channel: str) -> Optional[str]:
        room = self._room(channel)
        return None if room is None else self._refusal(room)

    def _refusal(self, room: Room[Connection]) -> Optional[str]:
        """Why this client's line may not be said in `room` (from outside: +n
        or a ban; anyone: a mute or +m), or None."""
        chat, conn = self._kind._server._room, self._conn
        outside = None if room.has(conn) else chat.outside_refusal(conn, room)
        return outside or chat.may_speak(conn, room)

    def authenticate(self, account: str, password: str) -> None:
        server = self._kind._server
        server._apply(server._room.check_account(self._conn, account, password))

    def oper(self, name: str, password: str) -> None:
        server, conn = self._kind._server, self._conn
        server._apply(server._room.check_operator(conn, name, password))
        if conn in server._room.authority.awaiting:  # the worker has it
            self._kind.hold_for_oper(conn)

    def unoper(self) -> None:
        self._kind._server._room.authority.opered.pop(self._conn, None)

    def server_password_wanted(self) -> bool:
        return bool(self._kind._server._room.authority.server_password)

    def clear_topic(self, channel: str) -> Optional[str]:
        """``TOPIC #room :``: the room's topic is none, told as a topic set to
        nothing (``/topic #room -``); or why not (+t, as /topic asks)."""
        server, conn = self._kind._server, self._conn
        room = self._room(channel)
        if room is None or not room.has(conn):
            return None
        chat = server._room
        refusal = chat.may_set_topic(conn, room)
        if refusal is not None or not room.topic:
            return refusal
        server._apply(chat.topic_changed(conn, chat.name_of(conn) or "*", room, "", echo=False))
        return None

    def hang_up(self) -> None:
        self._kind._server._apply([Close(self._conn)])

    def nicks(self) -> List[str]:
        chat = self._kind._server._room
        return [*chat.members.values(), *chat.remote_names()]

    def counts(self) -> Tuple[int, int]:
        chat = self._kind._server._room
        return len(chat.members) + len(chat.remote_names()), len(chat.rooms)

    def refusal(self, nick: str) -> Optional[str]:
        return self._kind._server._room.name_refusal(self._conn, nick)

    def notice(self, target: str, text: str, echo: bool = False,
               tags: Optional[Dict[str, str]] = None) -> Optional[str]:
        """``*** -alice- text`` for a name (`selchat.irc.render` makes it a
        NOTICE again for IRC clients; a room's notice is `say`'s)."""
        server, conn = self._kind._server, self._conn
        chat = server._room
        line = notice(f"-{chat.name_of(conn)}- {text}")
        effect: Effect
        to = chat.holder(name_key(target))
        remote = chat.remote_name(name_key(target)) if to is None else None
        if to is not None and chat.name_of(to) is not None:
            effect = Send(to, line)
        elif remote is not None:
            effect = Relay(remote, line)
        else:
            return f"no such user: {target}"
        self._stamped(effect, tags)
        server._apply([effect])
        return None

    def tagmsg(self, target: str, tags: Dict[str, str]) -> Optional[bytes]:
        """One line, made once, to every message-tags client it is for but this
        one (unless it is the target): its echo is the session's reply. A
        room's is numbered as a room line and kept for CHATHISTORY
        (`selchat.irc.events`), a name's by both ends (`DirectLines`)."""
        kind, conn = self._kind, self._conn
        server = kind._server
        chat = server._room
        recipients: Iterable[Connection]
        room: Optional[Room[Connection]] = None
        to: Optional[Connection] = None
        if target.startswith("#"):
            room = chat.rooms.get(target)
            if room is None:
                return None
            recipients = [other for other in room.members if other is not conn]
        else:
            to = chat.holder(name_key(target))
            if to is None:
                if chat.remote_name(name_key(target)) is None:
                    return None
                recipients = []  # nothing crosses the bus but lines
            else:
                recipients = [to]
        name = chat.name_of(conn) or "*"
        # With a bus, Redis numbers the room's lines: a TAGMSG, no line, is not kept;
        # nor is one not worth keeping (a typing notice): it takes no room number.
        keep = worth_keeping(tags)
        seq = server._history.number() if (
            keep and room is not None and server._bridge is None) else 0
        msgid = f"{server._history.epoch}-{seq}" if seq else kind.direct_msgid()
        said = {"time": format_time(server._time_ms), "msgid": msgid, **tags}
        source = mask(name, kind.server_name)
        line = encode(source, "TAGMSG", [target], tags=said)
        account = kind.account_of(name)  # account-tag's clients get a second line, made once
        signed = line if account is None else encode(
            source, "TAGMSG", [target], tags={**said, "account": account})
        for other in recipients:
            caps = kind.caps_of(other)
            if caps is not None and caps.has("message-tags"):
                kind.reply(other, [signed if caps.has("account-tag") else line])
        if seq or (keep and to is not None):  # kept: numbered in a room, or to a name
            own = ";".join(f"{key}={escape(value)}" if value else key
                           for key, value in tags.items())
            if room is not None:
                kind.events.add(room, seq, server._time_ms,
                                encode(source, "TAGMSG", [room.name]), own)
            elif to is not None:
                self._keep_event(to, target, encode(source, "TAGMSG", [target]), own)
        caps = kind.caps_of(conn)
        return signed if caps is not None and caps.has("account-tag") else line

    def _keep_event(self, to: Connection, target: str, line: bytes, tags: str) -> None:
        """A TAGMSG to a name, kept by both ends as their direct lines are."""
        kind, conn = self._kind, self._conn
        sender = kind._server._room.name_of(conn) or "*"
        for end, other in ((conn, target), (to, sender)):
            session = getattr(end.proto, "session", None)  # an IRC client's, else None
            if isinstance(session, IrcSession):
                session.keep_direct(kind.msgids, kind._server._time_ms, other, line, tags)
            if to is conn:
                break  # to oneself: kept once

    def away(self, text: str) -> None:
        """away-notify: the clients that asked and share a room with this one."""
        kind, conn = self._kind, self._conn
        chat = kind._server._room
        name = chat.name_of(conn)
        if name is None or not kind.away_notify:
            return
        line = [encode(mask(name, kind.server_name), "AWAY", [text] if text else [],
                       trailing=bool(text))]
        rooms = chat.rooms.rooms_of(conn)
        for other in kind.away_notify:
            if other is not conn and any(room.has(other) for room in rooms):
                kind.reply(other, line)

    # -- history (CHATHISTORY) ----------------------------------------------------------

    def epoch(self) -> str:
        return self._kind._server._history.epoch

    def history(self, channel: str) -> Optional[Tuple[str, RoomLines]]:
        room = self._room(channel)
        if room is None or not room.has(self._conn):  # not a member: nothing, not even "exists"
            return None
        events = self._kind.events.of(room)
        lines = self._lines_of(room)
        return room.name, lines if events is None else WithEvents(lines, events)

    def histories(self) -> List[Tuple[str, RoomLines]]:
        rooms = self._kind._server._room.rooms.rooms_of(self._conn)
        # Each room's newest lines only (TARGETS asks for its latest message): a
        # client in 50 busy rooms costs 50 short lists, not 50 whole histories.
        return [(room.name, self._lines_of(room, TARGETS_TAIL)) for room in rooms]

    def _lines_of(self, room: Room[Connection], tail: Optional[int] = None) -> RoomLines:
        server = self._kind._server
        archive, db = server.archive, server.storage.db
        if archive is not None:
            archive.commit()  # this pass's lines too (as /history does)
        return of_room(server._history if room.default else room.history,
                       db if archive is not None else None, room_key(room), tail)

    def render(self, line: bytes, tags: str) -> bytes:
        return self._kind.renderer.lines(line, None, tags)
