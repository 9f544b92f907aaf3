"""The effects: the plain values `selchat.room.ChatRoom` answers with, for
the I/O driver to carry out (`selchat.effects` holds its handler for each),
so the chat logic never touches a socket:

* ``Send(to, line)``: one line to one session;
* ``Broadcast(line, exclude)``: one line to every joined session but ``exclude``;
* ``Close(session)``: flush that session's output, then close it;
* ``Joined(session)`` / ``Left(session)``: it became / stopped being a member
  (receives broadcasts), decided by the room so the driver never compares the
  membership before and after a call;
* ``Claim`` / ``Release``: a name became / stopped being a session's, and
  ``Relay``: a direct line for a member on another node (with a bus);
* ``Hold`` / ``Unhold``: a session is held until a deadline / its hold ended
  before it (resumed, or given way to a newer hold: see `selchat.resume`);
* ``Charge``: tokens a command cost beyond its line (an uncached /who search).
* ``Entered`` / ``Exited``: a member joined / left a room other than the
  default one (its lines are for it from here on / no longer);
* ``Unannounced``: a change of presence no line says (a big room's join),
  for the other nodes' lists (with a bus);
* ``Expel``: a member of another node put out of a room, or off the server,
  by a moderator here: its node does it (with a bus).

``Keep`` (a direct line for a held session), ``Tag``, ``Replay`` and
``ResumeAsked`` are described where they are defined. ``Presence`` is the
membership change a room line carries to the other nodes over a bus.
"""
from dataclasses import dataclass, field
from typing import Generic, Hashable, Mapping, NamedTuple, Optional, Tuple, TypeVar, Union

from selchat.rooms import Room
from selchat.wire import ServerLine

#: Whatever the caller names its sessions by (the server: its connections).
Session = TypeVar("Session", bound=Hashable)

#: `Presence.change` of a topic set: every node sets the room's topic too
#: (``name`` is the topic, "" for none; ``other`` who set it, `selchat.topics`).
TOPIC = "^"
#: `Presence.change` of a member that left the default room (``/part``) but
#: not the server, and of one that joined it again.
OUTSIDE = "<"
INSIDE = ">"


class Presence(NamedTuple):
    """A change of membership the other nodes learn from the room line that
    says it (`Broadcast.presence`). On the bus it is one string (`field`)."""

    #: "+" joined, "-" left, "=" renamed, `TOPIC` a room's topic set;
    #: `OUTSIDE` / `INSIDE`: left / joined again the default room alone.
    change: str
    name: str
    #: A rename's new name; for a leave, the node whose member left when it
    #: is not the node of the line (one node saying another's members are gone).
    other: str = ""

    def field(self) -> str:
        """As the bus carries it: "+NAME", "-NAME[<TAB>NODE]", "=OLD<TAB>NEW",
        "^TOPIC<TAB>SETTER"."""
        return f"{self.change}{self.name}\t{self.other}" if self.other else self.change + self.name

    @classmethod
    def parse(cls, field: str) -> Optional["Presence"]:
        """`field` read back from the bus; None for "" (chat) or a change not known."""
        if not field or field[0] not in "+-=" + TOPIC + OUTSIDE + INSIDE:
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
    #: Its IRC client's own tags as IRC writes them (``+draft/reply=1``), which
    #: a bus carries with the line (`selchat.irc.render.Renderer.carries`).
    tags: str = ""


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


@dataclass(slots=True)
class Lookup(Generic[Session]):
    """``/search`` (`words`) or ``/history`` (`count`, `before`) asked by
    `session`: the lines kept on disk, read by the driver (`selchat.archive`).
    `room`: a room's name ("" for every room, for a search) and `default`:
    whether it names the default room."""

    session: Session
    room: str
    default: bool
    words: Tuple[str, ...] = ()
    count: int = 0
    before: Optional[int] = None


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


class Unannounced(NamedTuple):
    """A change of presence no line says (a room past ``--announce-limit``,
    or a member outside the default room): with a bus, the other nodes'
    lists learn it all the same (`room` None: the default room's)."""

    presence: Presence
    room: Optional[Room] = None


class Expel(NamedTuple):
    """The member named `name`, on another node, is put out of `room` (None:
    off the server) by a moderator here: its node removes it, telling it
    `told` (an error line's text) and, off the server, leaving with
    `reason`, as a member of this node would be (`selchat.moderation_nodes`)."""

    name: str
    room: Optional[Room]
    told: str
    reason: str = ""


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


@dataclass(slots=True)
class CheckPassword(Generic[Session]):
    """Check `password` against `stored` off the loop, then call
    `ChatRoom.password_checked(session, ok)` (`selchat.accounts.driver`)."""

    session: Session
    password: str = field(repr=False)  # never in a log line, a repr included
    stored: str = field(repr=False)


@dataclass(slots=True)
class Authenticated(Generic[Session]):
    """The answer to a login before a name (`ChatRoom.check_account`, IRC's
    SASL), or (`oper`) to a server operator's name and password
    (`ChatRoom.check_operator`, IRC's OPER): `account` is the account's
    name, or None and `why` not."""

    session: Session
    account: Optional[str]
    why: str = ""
    oper: bool = False


@dataclass(slots=True)
class AccountChanged(Generic[Session]):
    """A member logged in to `account` (/register, SASL) or out (None:
    /unregister): told to those who share a room with it and asked to know
    (IRC's account-notify); nobody else hears of it."""

    session: Session
    account: Optional[str]


@dataclass(slots=True)
class HashPassword(Generic[Session]):
    """Hash `password` off the loop, then call `ChatRoom.password_hashed`."""

    session: Session
    password: str = field(repr=False)


@dataclass(slots=True)
class Persist:
    """Write a change to the data directory: `table` ("account", "room",
    "ban"), its `key`, the new value (None: deleted)."""

    table: str
    key: str
    value: Optional[object] = None


@dataclass(slots=True)
class Audit:
    """A moderation action, logged and kept with who did it."""

    by: str
    action: str
    target: str
    room: str = ""
    detail: str = ""


Effect = Union[Send, Broadcast, Close, Joined, Left, Tag, Replay, Hold, Unhold, Keep, ResumeAsked,
               Claim, Release, Relay, Charge, Entered, Exited, Unannounced, Expel, Lookup,
               CheckPassword, HashPassword, Persist, Audit, Authenticated, AccountChanged]
