"""Held sessions and the decision to resume one: a dropped connection loses nothing.

Theory of operation. A tagged member is sent a resume token in its welcome
(the ``resume`` tag). The token names the session, not the connection: when
the connection ends without ``/quit``, the session is *held* until a deadline
(``serve --resume-window``): its name stays taken, nobody is told it left, and
direct lines (``/msg``) to it are kept, at most `MAX_KEPT` of them. A new
connection whose first line is ``/resume TOKEN LASTSEQ`` takes the session
over, and `decide` says what it is sent: the room lines after LASTSEQ and the
direct lines kept. If that is impossible, it is a `Refused`, said to the client
(``!!! history gap: ...``), never a silent hole; the client then joins anew.

Holds are bounded, as connections are: at most ``max_held_per_group`` from
one address group (`selchat.addresses.address_group`) and ``max_held`` in
all. A drop past a cap is still held, and the oldest hold (of its group, or
of the server) gives way: it ends early, as if its window had run out. The
newest drop is the likeliest to come back, and no hold keeps anyone out. A
hold is not renewable: a session resumed and dropped again before its hold
would have ended is held only until then (`TaggedSessions.hold`), so a resume
followed by a drop cannot keep a name forever.

`TaggedSessions` is the bookkeeping and `decide` the rule (the caller's timer
ends a hold, through the room); neither reads a clock
(deadlines and ``now`` are the caller's numbers) nor draws randomness
(`new_token` takes the random source). Sessions are any hashable the caller
chooses, as in `selchat.room`.

A token is ``EPOCH.SECRET``: the epoch says which server run gave it out, so
a token from before a restart is told apart from a mistyped or expired one;
SECRET is 128 random bits, so a token cannot be guessed. Tokens are
credentials: never log them.
"""
import collections
import enum
import hashlib
import heapq
import itertools
import operator
from typing import (
    Callable, Deque, Dict, Generic, Hashable, Iterator, List, NamedTuple, Optional, Sequence, Tuple,
    TypeVar, Union,
)

from selchat import wire
from selchat.history import History, Line, NotKept, replay
from selchat.sendbuf import Buffer
from selchat.tags import tag_line, tag_prefix

#: Whatever the caller names its sessions by (the server: its connections).
Session = TypeVar("Session", bound=Hashable)

#: Direct lines kept for one held session. A held session is someone who will
#: likely be back within two minutes; 100 private lines is more than a person
#: is sent in that time, and it bounds what a spammer can pile up for them.
#: Past it the oldest are dropped and counted; the resume says how many.
MAX_KEPT = 100
#: Seconds a session is held by default (``serve --resume-window``): a laptop
#: changing networks or a phone waking up is back well within two minutes.
DEFAULT_WINDOW = 120.0
#: Random bytes in a token: 128 bits.
TOKEN_BYTES = 16


def new_token(epoch: str, random_bytes: Callable[[int], bytes]) -> str:
    """A fresh token for `epoch`; pass ``secrets.token_bytes`` as `random_bytes`."""
    return f"{epoch}.{random_bytes(TOKEN_BYTES).hex()}"


def token_hash(token: str) -> str:
    """What a shared bus is told of a token: enough to find its session, not to use it."""
    return hashlib.sha256(token.encode()).hexdigest()[:32]


def token_epoch(token: str) -> str:
    """The epoch a token was given out in ("" if it names none)."""
    epoch, found, _ = token.rpartition(".")
    return epoch if found else ""


class Direct(NamedTuple):
    """A direct line kept for a held session: its bytes (plain, newline included)
    and when it was said, for its ``time`` tag."""

    time_ms: int
    data: bytes


class TaggedSession(Generic[Session]):
    """A session that can be resumed: connected (deadline None) or held."""

    __slots__ = ("session", "name", "token", "token_hash", "deadline", "window_ends", "group",
                 "kept", "dropped")

    def __init__(self, session: Session, name: str, token: str, max_kept: int = MAX_KEPT,
                 group: str = "", hashed: Optional[str] = None) -> None:
        self.session = session
        self.name = name
        #: "" for a session kept across a restart: known by its hash only.
        self.token = token
        self.token_hash = hashed or token_hash(token)  # how a shared bus names the session
        #: When the hold ends (the caller's clock); None while connected.
        self.deadline: Optional[float] = None
        #: When its last hold ended or ends: a drop before then is held until then.
        self.window_ends = 0.0
        #: The address group of its connection: its holds count against it.
        self.group = group
        self.kept: Deque[Direct] = collections.deque(maxlen=max_kept)
        self.dropped = 0  # direct lines that did not fit in `kept`

    @property
    def held(self) -> bool:
        return self.deadline is not None

    def __repr__(self) -> str:  # no token: reprs end up in logs
        state = f"held until {self.deadline}" if self.held else "connected"
        return f"<TaggedSession {self.name} {state}>"


class TaggedSessions(Generic[Session]):
    """Every resumable session, by token and by session; holds at most
    `max_held` in all and `max_held_per_group` per address group (0: no cap)."""

    def __init__(self, max_kept: int = MAX_KEPT, max_held: int = 0,
                 max_held_per_group: int = 0) -> None:
        self.max_kept = max_kept
        self.max_held = max_held
        self.max_held_per_group = max_held_per_group
        self._by_token: Dict[str, TaggedSession[Session]] = {}
        self._by_session: Dict[Session, TaggedSession[Session]] = {}
        self._by_hash: Dict[str, TaggedSession[Session]] = {}
        #: Held sessions, oldest hold first (dicts keep insertion order).
        self._held: Dict[Session, TaggedSession[Session]] = {}
        self._held_in: Dict[str, Dict[Session, None]] = {}  # group -> its held sessions

    def __len__(self) -> int:
        return len(self._by_session)

    @property
    def held(self) -> int:
        """Sessions held now."""
        return len(self._held)

    def held_from(self, group: str) -> int:
        """Sessions held now from address group `group`."""
        return len(self._held_in.get(group, ()))

    def __iter__(self) -> Iterator[TaggedSession[Session]]:
        """Every resumable session, connected or held."""
        return iter(list(self._by_session.values()))

    def get(self, session: Session) -> Optional[TaggedSession[Session]]:
        return self._by_session.get(session)

    def by_token(self, token: str) -> Optional[TaggedSession[Session]]:
        member = self._by_token.get(token)
        if member is None and self._by_hash:  # a session kept across a restart?
            member = self._by_hash.get(token_hash(token))
            if member is not None and member.token:
                return None
        return member

    def by_hash(self, hashed: str) -> Optional[TaggedSession[Session]]:
        """The session whose token has `token_hash` `hashed` (how a bus names it)."""
        return self._by_hash.get(hashed)

    def add(self, session: Session, name: str, token: str, group: str = "",
            hashed: Optional[str] = None) -> TaggedSession[Session]:
        """`session` (from address group `group`) joined with tags: its token
        (sent in the welcome) resumes it. A session kept across a restart
        has no token (""), only its hash (`hashed`)."""
        member = TaggedSession(session, name, token, self.max_kept, group, hashed)
        if token:
            self._by_token[token] = member
        self._by_session[session] = member
        self._by_hash[member.token_hash] = member
        return member

    def rename(self, session: Session, name: str) -> None:
        member = self._by_session.get(session)
        if member is not None:
            member.name = name

    def remove(self, session: Session) -> Optional[TaggedSession[Session]]:
        """`session` is over for good (/quit, its hold ended, a gap ended it)."""
        member = self._by_session.pop(session, None)
        if member is not None:
            self._by_token.pop(member.token, None)
            del self._by_hash[member.token_hash]
            self._unhold(member)
        return member

    def hold(self, session: Session, deadline: float,
             now: Optional[float] = None) -> Optional[TaggedSession[Session]]:
        """`session`'s connection ended without /quit at `now`: hold it until
        `deadline`, or, if its last hold had not run out by `now` (a resume
        that dropped again), until that hold's end: a hold is not renewed
        (without `now`, until `deadline`).

        None if it cannot be resumed (no token: the room says it left at once).
        The hold may put a cap over: see `give_way`."""
        member = self._by_session.get(session)
        if member is not None:
            if now is None or now >= member.window_ends:
                member.window_ends = deadline
            member.deadline = member.window_ends
            self._held[session] = member
            self._held_in.setdefault(member.group, {})[session] = None
        return member

    def give_way(self, member: TaggedSession[Session]) -> List[TaggedSession[Session]]:
        """The holds that end early because `member`'s put a cap over: the
        oldest of its group past `max_held_per_group`, then the oldest of all
        past `max_held`. The caller ends each (``remove`` and the room's leave)."""
        doomed: Dict[Session, TaggedSession[Session]] = {}
        group = self._held_in.get(member.group, {})
        if self.max_held_per_group and len(group) > self.max_held_per_group:
            for session in itertools.islice(group, len(group) - self.max_held_per_group):
                doomed[session] = self._held[session]
        excess = len(self._held) - len(doomed) - self.max_held if self.max_held else 0
        for session, held in self._held.items():  # oldest first
            if excess <= 0:
                break
            if session not in doomed:
                doomed[session] = held
                excess -= 1
        return list(doomed.values())

    def _unhold(self, member: TaggedSession[Session]) -> None:
        if self._held.pop(member.session, None) is not None:
            group = self._held_in[member.group]
            del group[member.session]
            if not group:
                del self._held_in[member.group]

    def keep(self, session: Session, time_ms: int, data: bytes) -> bool:
        """A direct line for `session`: kept (True) if it is held, else the
        caller sends it as usual (False). Past `max_kept` the oldest goes."""
        member = self._by_session.get(session)
        if member is None or member.deadline is None:
            return False
        if len(member.kept) == member.kept.maxlen:
            member.dropped += 1
        member.kept.append(Direct(time_ms, data))
        return True

    def resume(self, member: TaggedSession[Session], session: Session, group: str = "") -> None:
        """`member` goes on as `session` (a new connection, from address group
        `group`), connected again; same token, so a second drop resumes as the
        first did. Its kept lines are the caller's to send now (see `decide`);
        they are cleared here."""
        self._unhold(member)
        del self._by_session[member.session]
        member.session = session
        member.group = group
        member.deadline = None
        member.kept.clear()
        member.dropped = 0
        self._by_session[session] = member


class GapKind(enum.Enum):
    """Why a resume cannot fill the gap; each is said in its own words."""

    #: The token is from another run of the server (it restarted).
    EPOCH = "the server restarted"
    #: No session has this token: its hold ended, or it never existed.
    TOKEN = "session expired or unknown"
    #: Lines after LASTSEQ are older than the history kept (or LASTSEQ is wrong).
    HISTORY = "older than the history kept"


class Resumed(NamedTuple):
    """The resume works: say ``*** Welcome back, NAME.``, then `lines`, then `kept`."""

    member: TaggedSession
    lines: List[Line]
    kept: List[Direct]
    #: Direct lines dropped while held (past MAX_KEPT): said as a gap after the welcome back.
    dropped: int
    #: The session's old connection is still open (the server has not noticed it
    #: is dead): close it, silently, as the new one takes over.
    takeover: bool


class Refused(NamedTuple):
    """The resume cannot be done: say ``!!! history gap: ...``; the connection
    goes on as a new one (it may send a name)."""

    kind: GapKind
    missing: Optional[int]  # lines lost, when known
    #: A session this ends (its token was good but the lines are gone): the
    #: room says it left ("connection lost") and frees its name, closing its
    #: old connection if still open, so the client can join again as itself.
    ends: Optional[TaggedSession] = None
    #: The rooms whose lines were trimmed (none named: the default room's only).
    rooms: Tuple[str, ...] = ()


#: What a resume reads, given the member: (room name, its history) for each of
#: its rooms; the name "" for a member of the default room only.
RoomHistories = Callable[[TaggedSession], Sequence[Tuple[str, History]]]


def decide(history: History, sessions: TaggedSessions, token: str, last_seq: int,
           now: float, rooms: Optional[RoomHistories] = None) -> Union[Resumed, Refused]:
    """What ``/resume TOKEN LASTSEQ`` gets at time `now`. Changes nothing: on
    Resumed the caller calls ``sessions.resume(member, new_session)``; on a Refused
    that `ends` a session, ``sessions.remove(...)`` and the room's leave.

    `history` numbers the lines of every room (one sequence); `rooms` gives
    the member's rooms' histories (default: `history` alone). Each room's
    lines after LASTSEQ are merged in the order said; if any room's were
    trimmed, the Refused names those rooms."""
    if token_epoch(token) != history.epoch:
        return Refused(GapKind.EPOCH, None)
    member = sessions.by_token(token)
    if member is None or (member.deadline is not None and member.deadline <= now):
        return Refused(GapKind.TOKEN, None)  # an expired hold not yet swept is expired
    if last_seq > history.last_seq or last_seq < 0:
        return Refused(GapKind.HISTORY, None, member)  # not a number this epoch gave out
    found: List[List[Line]] = []
    trimmed: List[str] = []
    missing: Optional[int] = 0
    for room, kept in (rooms(member) if rooms else [("", history)]):
        lines = kept.after(last_seq)
        if isinstance(lines, NotKept):
            trimmed.append(room)
            missing = None if lines.missing is None or missing is None else missing + lines.missing
        else:
            found.append(lines)
    if trimmed:
        return Refused(GapKind.HISTORY, missing, member, tuple(filter(None, trimmed)))
    merged = found[0] if len(found) == 1 else list(
        heapq.merge(*found, key=operator.attrgetter("seq")))
    return Resumed(member, missed(merged, member.name), list(member.kept), member.dropped,
                   takeover=member.deadline is None)


def missed(lines: List[Line], name: str) -> List[Line]:
    """The room lines a resume gives `name`: every one, but its own join notice.

    A member never gets its own join notice. On one server its welcome carries
    the notice's number, so a resume starts after it; with a bus the notice is
    numbered by Redis after the welcome was sent, so a member that drops before
    the next room line would be given it. (The name is its own: names are
    unique, so no one else's join notice says it.) A room's join notice is
    numbered as the pass is delivered, after the ``/join`` answer, so a member
    that drops before the room's next line would be given its own: not either.
    """
    own = wire.encode(wire.joined(name))
    return [line for line in lines if line.data != own and not _own_room_join(line.data, name)]


def _own_room_join(data: Buffer, name: str) -> bool:
    """Whether `data` is `name`'s own join notice of a room ("#a *** NAME has joined #a.")."""
    if data[:1] != b"#":
        return False
    room, _, rest = bytes(data).partition(b" ")
    return rest == wire.encode(wire.joined_room(name, room.decode(errors="replace")))


def welcome_back(resumed: Resumed, time_ms: int) -> List[Buffer]:
    """Everything the resumed connection is sent, tagged, in order: the welcome
    back (now), the room lines missed and the direct lines kept (with the
    times they were said), with a gap line between if direct lines were dropped.

    As pieces to send as they are: the missed lines are the history's own
    bytes (`selchat.history.replay`), the kept lines the session's; only the
    tags of this resume's own lines are made here. Never one copy per resumer."""
    parts = [tag_line(wire.encode(wire.welcome_back(resumed.member.name)), time_ms),
             *replay(resumed.lines, tagged=True)]
    if resumed.dropped:
        line = wire.history_gap(resumed.dropped, f"private lines over the {len(resumed.kept)} kept")
        parts.append(tag_line(wire.encode(line), time_ms))
    for direct in resumed.kept:
        parts += (tag_prefix(None, direct.time_ms), direct.data)
    return parts


def gap_line(gap: Refused) -> wire.ServerLine:
    """``!!! history gap: N lines missed (why)`` for a resume that cannot be
    done; the rooms whose lines were trimmed named after why."""
    rooms = f": {', '.join(gap.rooms)}" if gap.rooms else ""
    return wire.history_gap(gap.missing, gap.kind.value + rooms)
