"""IRCv3 ``draft/chathistory``: a room's earlier lines, asked for by number
(msgid) or time, answered in a ``chathistory`` batch. Pure.

The command (ircv3.net/specs/extensions/chathistory)::

    CHATHISTORY LATEST  <target> <* | msgid=ID | timestamp=T> <limit>
    CHATHISTORY BEFORE  <target> <msgid=ID | timestamp=T> <limit>
    CHATHISTORY AFTER   <target> <msgid=ID | timestamp=T> <limit>
    CHATHISTORY AROUND  <target> <msgid=ID | timestamp=T> <limit>
    CHATHISTORY BETWEEN <target> <msgid=ID | timestamp=T> <msgid=ID | timestamp=T> <limit>
    CHATHISTORY TARGETS <timestamp=T> <timestamp=T> <limit>

Theory of operation. A room line's msgid is ``EPOCH-SEQ``: its number in the
server's one sequence (`selchat.history`), and numbers grow with time. So
every reference becomes a bound on numbers: ``msgid=E-S`` is S itself, a
time T is the first line said at or after it (`RoomLines.seq_at`), and
each subcommand is a walk from a bound along the room's lines
(`selchat.room_lines`): LATEST, BEFORE and BETWEEN backwards walk down,
AFTER and BETWEEN forwards walk up, AROUND a little of both. Bounds are
exclusive, as the specification says: ``BEFORE timestamp=T`` is lines said
before T, ``AFTER`` after it, ``BETWEEN`` neither end.

Without ``draft/event-playback`` only PRIVMSG and NOTICE lines are sent
(the specification's MUST): chat, ``/me`` and notices of people; joins,
parts, topics and the rest are skipped, and do not count against the
limit. A walk reads the room's lines in chunks until it has the limit or
has read `SCAN_LIMIT` lines, so a room of joins and parts costs a bounded
read, never the whole history.

Each line is rendered as the live line was (`selchat.irc.render`): with
its ``time`` (server-time) and ``msgid`` (message-tags), and ``batch``.
Who may ask: only a member of the room (`World.history` says None
otherwise, and the answer is ``INVALID_TARGET`` whether the room exists
or not, so its existence does not leak).

Private messages are not stored (docs/history.rst). A nick (or ``*``) as
target reads `DirectLines`: the connection's own last direct lines, sent
and received over IRC, kept by its session in memory as they were sent
(numbered by their ``EPOCH-dN`` msgid) and gone with the connection.
"""
import sqlite3
import collections
from typing import TYPE_CHECKING, Callable, Deque, List, NamedTuple, Optional, Tuple, Union

from selchat import wire
from selchat.history import Line
from selchat.irc.events import Event, with_tags
from selchat.irc.message import Message, encode
from selchat.names import name_key
from selchat.room_lines import MemoryLines, RoomLines
from selchat.sanitize import clean
from selchat.tags import format_time, parse_time

#: Lines one CHATHISTORY answers at most (ISUPPORT ``CHATHISTORY``): a larger
#: limit is lowered to it. 100 lines are ~20 KB of IRC, well under the output
#: limits, and a screenful or two of a client's scrollback per request.
MAX_LIMIT = 100
#: Lines one query reads at most, looking for messages among other lines
#: (joins, parts): a few milliseconds from the database, whatever the room.
SCAN_LIMIT = 2000
#: Lines read per step of a walk (the limit itself when it is larger).
CHUNK = 50
#: Direct lines one connection keeps for CHATHISTORY with a nick: 100 lines
#: of ~200 bytes are 20 KB for a connection that talks in private, nothing for
#: one that does not; a conversation's last screenful or two.
DIRECT_KEPT = 100
#: What ISUPPORT says: the limit, and the references understood (msgid first).
ISUPPORT = (f"CHATHISTORY={MAX_LIMIT}", "MSGREFTYPES=msgid,timestamp")
SUBCOMMANDS = ("LATEST", "BEFORE", "AFTER", "AROUND", "BETWEEN", "TARGETS")
#: A bound past every line.
END = 1 << 62


class Ref(NamedTuple):
    """A reference: ``msgid`` (its number), ``timestamp`` (ms) or ``*``."""

    kind: str
    value: int


class Query(NamedTuple):
    subcommand: str
    target: str
    refs: Tuple[Ref, ...]
    limit: int


class Fail(NamedTuple):
    """``FAIL CHATHISTORY CODE <context...> :text``."""

    code: str
    context: Tuple[str, ...]
    text: str


def parse(params: List[str], epoch: str) -> Union[Query, Fail]:
    """A CHATHISTORY command's parameters, checked: a Query or the FAIL to answer."""
    sub = params[0].upper() if params else ""
    shown = clean(params[0])[:16] if params else "*"
    if sub not in SUBCOMMANDS:
        return Fail("INVALID_PARAMS", (shown or "*",), "Unknown subcommand")
    wanted = 4 if sub == "BETWEEN" else 3  # parameters after the subcommand
    if len(params) < wanted + 1:
        return Fail("INVALID_PARAMS", (sub,), "Insufficient parameters")
    if len(params) > wanted + 1:
        return Fail("INVALID_PARAMS", (sub,), "Too many parameters")
    limit_text = params[-1]
    if not (limit_text.isdecimal() and limit_text.isascii()) or int(limit_text) < 1:
        return Fail("INVALID_PARAMS", (sub, clean(limit_text)[:16] or "*"), "Invalid limit")
    limit = min(int(limit_text), MAX_LIMIT)
    target = "*" if sub == "TARGETS" else params[1]
    refs: List[Ref] = []
    for text in params[1 if sub == "TARGETS" else 2:-1]:
        ref = _ref(text, epoch, star=sub == "LATEST")
        if isinstance(ref, Fail):
            return Fail(ref.code, (sub, *ref.context), ref.text)
        if sub == "TARGETS" and ref.kind != "timestamp":
            return Fail("INVALID_PARAMS", (sub, clean(text)[:64]), "TARGETS takes timestamps")
        refs.append(ref)
    return Query(sub, target, tuple(refs), limit)


def _ref(text: str, epoch: str, star: bool) -> Union[Ref, Fail]:
    shown = clean(text)[:64] or "*"
    if text == "*" and star:
        return Ref("*", 0)
    kind, found, value = text.partition("=")
    if kind == "timestamp" and found:
        moment = parse_time(value)
        if moment is None:
            return Fail("INVALID_PARAMS", (shown,), "Invalid timestamp")
        return Ref("timestamp", moment)
    if kind == "msgid" and found:
        made_by, _, seq = value.rpartition("-")
        direct = seq[:1] == "d"  # a direct line's: EPOCH-dN
        number = seq[1:] if direct else seq
        if made_by != epoch or not (number.isdecimal() and number.isascii()):
            return Fail("MESSAGE_ERROR", (shown,), "Unknown msgid (not a line of this "
                                                  "server's history)")
        return Ref("direct" if direct else "msgid", int(number))
    return Fail("INVALID_MSGREFTYPE", (shown,), "Use msgid= or timestamp=")


# -- choosing lines --------------------------------------------------------------------

def is_message(line: Line) -> bool:
    """A PRIVMSG or NOTICE for IRC: someone's chat, /me, or NOTICE (not a
    join, part, topic or the server's own notice)."""
    if line.__class__ is Event:
        return False
    text = bytes(line.data).decode("utf-8", "replace").rstrip("\n")
    said = wire.decode(wire.split_room(text)[1])
    if not isinstance(said, wire.ServerLine):
        return False
    if said.kind in (wire.LineType.CHAT, wire.LineType.ACTION):
        return bool(said.name)
    if said.kind is wire.LineType.NOTICE:  # an IRC client's NOTICE: "-alice- text"
        name, found, _ = said.text[1:].partition("- ")
        return said.text.startswith("-") and bool(found) and bool(name) and " " not in name
    return False


Keep = Callable[[Line], bool]


def _everything(line: Line) -> bool:
    return True


def _no_event(line: Line) -> bool:
    return line.__class__ is not Event


def _down(lines: RoomLines, below: int, count: int, keep: Keep, floor: int = -1) -> List[Line]:
    """The newest `count` lines kept, numbered below `below` and above `floor`."""
    found: List[Line] = []
    read = 0
    while len(found) < count and read < SCAN_LIMIT and below > floor + 1:
        chunk = lines.before(below, max(CHUNK, count - len(found)))
        if not chunk:
            break
        read += len(chunk)
        below = chunk[0].seq
        found[:0] = [line for line in chunk if line.seq > floor and keep(line)]
    return found[-count:] if count > 0 else []


def _up(lines: RoomLines, above: int, count: int, keep: Keep, ceiling: int = END) -> List[Line]:
    """The oldest `count` lines kept, numbered above `above` and below `ceiling`."""
    found: List[Line] = []
    read = 0
    while len(found) < count and read < SCAN_LIMIT and above < ceiling - 1:
        chunk = lines.after(above, max(CHUNK, count - len(found)))
        if not chunk:
            break
        read += len(chunk)
        above = chunk[-1].seq
        found += [line for line in chunk if line.seq < ceiling and keep(line)]
    return found[:count]


def _below(ref: Ref, lines: RoomLines) -> int:
    """Lines before `ref` are numbered below this."""
    if ref.kind != "timestamp":
        return ref.value
    found = lines.seq_at(ref.value)
    return END if found is None else found


def _above(ref: Ref, lines: RoomLines) -> int:
    """Lines after `ref` are numbered above this."""
    if ref.kind != "timestamp":
        return ref.value
    found = lines.seq_at(ref.value + 1)
    return END - 1 if found is None else found - 1


def choose(query: Query, lines: RoomLines, keep: Keep = is_message) -> List[Line]:
    """The lines `query` asks for, oldest first."""
    sub, refs, limit = query.subcommand, query.refs, query.limit
    if sub == "LATEST":
        floor = -1 if refs[0].kind == "*" else _above(refs[0], lines)
        return _down(lines, END, limit, keep, floor)
    if sub == "BEFORE":
        return _down(lines, _below(refs[0], lines), limit, keep)
    if sub == "AFTER":
        return _up(lines, _above(refs[0], lines), limit, keep)
    if sub == "AROUND":
        middle = _below(refs[0], lines)
        earlier = _down(lines, middle, (limit - 1) // 2, keep)
        return earlier + _up(lines, middle - 1, limit - len(earlier), keep)
    first, last = refs  # BETWEEN: forwards or backwards, neither end included
    if _below(first, lines) <= _below(last, lines):
        return _up(lines, _above(first, lines), limit, keep, _below(last, lines))
    return _down(lines, _below(first, lines), limit, keep, _above(last, lines))


def in_window(query: Query, time_ms: int) -> bool:
    """TARGETS: `time_ms` falls strictly between its two timestamps (either order)."""
    low, high = sorted(ref.value for ref in query.refs)
    return low < time_ms < high


# -- the answer ------------------------------------------------------------------------

def batch(server: str, ref: str, kind: str, params: List[str], lines: List[bytes],
          batched: bool) -> List[bytes]:
    """`lines` (each already tagged ``batch=ref`` when `batched`) between
    ``BATCH +ref kind params`` and ``BATCH -ref``; just the lines for a client
    without ``batch``."""
    if not batched:
        return lines
    return [encode(server, "BATCH", ["+" + ref, kind, *params]), *lines,
            encode(server, "BATCH", ["-" + ref])]


def tags(line: Line, epoch: str, ref: Optional[str], time: bool, msgid: bool,
         direct: bool = False) -> str:
    """The tags a history line is rendered with: ``batch``, ``time``, ``msgid``
    (a direct line's is ``EPOCH-dN``)."""
    found = [f"batch={ref}"] if ref else []
    if time:
        found.append(f"time={format_time(line.time_ms)}")
    if msgid:
        found.append(f"msgid={epoch}-{'d' if direct else ''}{line.seq}")
    return "@" + ";".join(found) + " " if found else ""


class DirectLines:
    """One connection's direct lines, sent and received (to itself too), the
    last `DIRECT_KEPT`, as the recipient was sent them: in memory only, gone
    with the connection. Each with the other end's name and its number (the
    N of its ``EPOCH-dN`` msgid)."""

    __slots__ = ("_lines",)

    def __init__(self) -> None:
        self._lines: Deque[Tuple[str, str, Line]] = collections.deque(maxlen=DIRECT_KEPT)

    def add(self, number: int, time_ms: int, other: str, line: bytes,
            tags: Optional[str] = None) -> None:
        """`tags`: a TAGMSG's own (`line` without them), else None."""
        kept = Line(number, time_ms, line, b"") if tags is None else \
            Event(number, time_ms, line, tags.encode())
        self._lines.append((name_key(other), other, kept))

    def with_(self, nick: str) -> MemoryLines:
        """The lines exchanged with `nick` (``*``: with anyone)."""
        key = name_key(nick)
        return MemoryLines([line for other, _, line in self._lines
                            if nick == "*" or other == key])

    def latest(self) -> List[Tuple[int, str]]:
        """(the last line's time, the other end's name), for each other end."""
        newest = {key: (line.time_ms, name) for key, name, line in self._lines}
        return list(newest.values())


class History:
    """CHATHISTORY, a part of `selchat.irc.session.IrcSession`."""

    if TYPE_CHECKING:
        from selchat.irc.caps import Caps
        from selchat.irc.world import World
        world: World
        server: str
        caps: Caps

    _batches: int = 0  # chathistory batches opened: each one's name
    direct: Optional[DirectLines] = None  # made with the first direct line

    def keep_direct(self, number: int, time_ms: int, other: str, line: bytes,
                    tags: Optional[str] = None) -> None:
        """A direct line this client sent or was sent (`other`: the other end;
        `tags`: a TAGMSG's own)."""
        if self.direct is None:
            self.direct = DirectLines()
        self.direct.add(number, time_ms, other, line, tags)

    def _chathistory(self, msg: Message) -> List[bytes]:
        world = self.world
        query = parse(msg.params, world.epoch())
        if isinstance(query, Fail):
            return [self._fail(query)]
        self._batches += 1
        ref = f"h{self._batches}" if self.caps.has("batch") else None
        if query.subcommand == "TARGETS":
            return self._targets(query, ref)
        target, sub = query.target, query.subcommand
        channel = target.startswith("#")
        if any(each.kind == ("direct" if channel else "msgid") for each in query.refs):
            return [self._fail(Fail("MESSAGE_ERROR", (sub, clean(target)[:64]),
                                    "That msgid is not of this conversation"))]
        lines: RoomLines
        if channel:
            found = world.history(target)
            if found is None:  # no such room, or not a member: the same answer
                return [self._fail(Fail("INVALID_TARGET", (sub, clean(target)[:64]),
                                        "Messages could not be retrieved"))]
            name, lines = found
        else:
            name = clean(target)[:64] or "*"
            lines = (self.direct or DirectLines()).with_(target)
        epoch, msgid = world.epoch(), self.caps.has("message-tags")
        try:
            chosen = choose(query, lines, self._kept(channel, msgid))
        except sqlite3.Error as exc:  # the database failed: the client is told, the loop goes on
            return [self._fail(Fail("MESSAGE_ERROR", (sub, name),
                                    f"Messages could not be retrieved: {exc}"))]
        time = msgid or self.caps.has("server-time")
        rendered = []
        for line in chosen:
            tagged = tags(line, epoch, ref, time, msgid, direct=not channel)
            rendered.append(with_tags(tagged, line) if line.__class__ is Event or not channel
                            else world.render(bytes(line.data), tagged))
        return batch(self.server, ref or "", "chathistory", [name],
                     [piece for piece in rendered if piece], ref is not None)

    def _kept(self, channel: bool, message_tags: bool) -> Keep:
        """Which lines a query answers: without ``draft/event-playback`` only
        messages (a channel's PRIVMSG and NOTICE; every direct line but a
        TAGMSG); with it every line, a TAGMSG only for a message-tags client."""
        if self.caps.has("draft/event-playback"):
            return _everything if message_tags else _no_event
        return is_message if channel else _no_event

    def _targets(self, query: Query, ref: Optional[str]) -> List[bytes]:
        latest = [] if self.direct is None else self.direct.latest()
        for name, lines in self.world.histories():
            newest = _down(lines, END, 1, is_message)
            if newest:
                latest.append((newest[0].time_ms, name))
        latest = sorted(each for each in latest if in_window(query, each[0]))
        shown = [encode(self.server, "CHATHISTORY", ["TARGETS", name, format_time(when)],
                        tags={"batch": ref} if ref else None)
                 for when, name in latest[:query.limit]]
        return batch(self.server, ref or "", "draft/chathistory-targets", [], shown,
                     ref is not None)

    def _fail(self, fail: Fail) -> bytes:
        return encode(self.server, "FAIL", ["CHATHISTORY", fail.code, *fail.context, fail.text],
                      trailing=True)
