"""Who may do what: accounts, server operators, each room's rules, bans and
mutes, and how fast wrong passwords may be tried. Pure: no I/O, the wall
clock passed in (bans and mutes last across restarts, so they are wall time).

`Authority` is the state; the chat logic (`selchat.accounts.login`,
`selchat.moderation`) asks it and changes it, and says each change as a
``Persist`` effect, which the driver writes to the data directory
(`selchat.accounts.store`). The store gives it back at startup.

Names are compared by `selchat.names.name_key`, so a look-alike of a
registered or banned name is that name; rooms by `selchat.rooms.room_key`.

The guessing rule (`GUESSES_*`): each name may be tried with a wrong password
5 times at once, then once a minute; each address group 20 times at once, then
once every 10 s. Only wrong passwords spend; a check waits until both allow it.
"""
import hmac
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Dict, Generic, Optional, Set

from selchat.effect_types import Session
from selchat.flood import TokenBucket
from selchat.rooms import room_key

#: Wrong passwords per name: burst, then per second.
GUESSES_PER_NAME = (5, 1 / 60)
#: Wrong passwords per address group: burst, then per second.
GUESSES_PER_GROUP = (20, 1 / 10)
#: Names and address groups whose wrong guesses are remembered at once: past
#: this the fullest-looking (oldest) entry is forgotten (memory stays bounded).
MAX_GUESSERS = 10_000
#: Passwords are 8 to 1024 characters by default (NIST SP 800-63B's minimum;
#: ``--min-password-length`` changes it; the top, `MAX_PASSWORD`, keeps the
#: hashing worker's work bounded).
MIN_PASSWORD = 8


@dataclass
class Account:
    name: str
    hash: str
    operator: bool = False


@dataclass
class Awaiting:
    """A password step under way: `purpose` is "name" (a registered name was
    sent: its password is the next line), "login", "register", "password",
    "rehash", "unregister", "account" (IRC's SASL) or "oper" (IRC's OPER)
    (the worker is on it)."""

    purpose: str
    name: str
    new: str = ""  # /password's new password, until it is hashed


@dataclass
class Sanction:
    """A ban or a mute: until when (wall seconds; None: until lifted), why, by whom."""

    name: str
    until: Optional[float] = None
    reason: str = ""
    by: str = ""
    #: A server ban's address group: newcomers from it are refused too.
    address: str = ""

    def active(self, now: float) -> bool:
        return self.until is None or now < self.until

    def ending(self) -> str:
        """"until 2026-12-07 21:30 UTC" or "until lifted"."""
        if self.until is None:
            return "until lifted"
        return "until " + time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(self.until))


#: What a room without rules of its own shows (`RoomRules.modes`): no lines from outside.
DEFAULT_MODES = "+n"


@dataclass
class RoomRules:
    """A room's operators, voiced members, bans, mutes, invitations and modes."""

    name: str
    ops: Set[str] = field(default_factory=set)
    voiced: Set[str] = field(default_factory=set)
    invited: Set[str] = field(default_factory=set)
    bans: Dict[str, Sanction] = field(default_factory=dict)
    mutes: Dict[str, Sanction] = field(default_factory=dict)
    invite_only: bool = False  # +i
    moderated: bool = False  # +m: only operators and voiced members speak
    ops_topic: bool = False  # +t
    key: str = ""  # +k: /join #room KEY
    limit: int = 0  # +l: members at most (0: no limit)
    secret: bool = False  # +s: listed (/rooms, LIST, NAMES) to its members only
    #: -n: lines from outside (`/msg #room`, IRC's PRIVMSG by a non-member)
    #: are taken; False (+n, every room's default) keeps them out.
    outside: bool = False

    def modes(self) -> str:
        """As IRC writes them: "+imnt", "+nkl secret 10"."""
        flags = "".join(flag for flag, on in (("i", self.invite_only), ("m", self.moderated),
                                              ("n", not self.outside), ("s", self.secret),
                                              ("t", self.ops_topic), ("k", bool(self.key)),
                                              ("l", bool(self.limit))) if on)
        arguments = [each for each in (self.key, str(self.limit) if self.limit else "") if each]
        return " ".join(["+" + flags, *arguments]) if flags else "none"

    def value(self) -> Dict[str, Any]:
        """As stored (JSON)."""
        saved = asdict(self)
        for each in ("ops", "voiced", "invited"):
            saved[each] = sorted(saved[each])
        return saved

    @classmethod
    def from_value(cls, value: Dict[str, Any]) -> "RoomRules":
        rules = cls(**{**value, "ops": set(value.get("ops", ())),
                       "voiced": set(value.get("voiced", ())),
                       "invited": set(value.get("invited", ())),
                       "bans": {}, "mutes": {}})
        rules.bans = {key: Sanction(**each) for key, each in value.get("bans", {}).items()}
        rules.mutes = {key: Sanction(**each) for key, each in value.get("mutes", {}).items()}
        return rules


class Guesses:
    """Wrong passwords by one kind of guesser (names, or address groups)."""

    def __init__(self, burst: int, rate: float) -> None:
        self.burst, self.rate = burst, rate
        self._buckets: Dict[str, TokenBucket] = {}

    def wait(self, who: str, now: float) -> float:
        """Seconds until `who` may try again (0: now)."""
        bucket = self._buckets.get(who)
        return 0.0 if bucket is None else bucket.wait(now)

    def wrong(self, who: str, now: float) -> None:
        bucket = self._buckets.get(who)
        if bucket is None:
            if len(self._buckets) >= MAX_GUESSERS:
                del self._buckets[next(iter(self._buckets))]
            bucket = self._buckets[who] = TokenBucket(self.burst, self.rate, now)
        bucket.take(now)


class Authority(Generic[Session]):
    """The accounts and rules a server keeps; `clock` is wall time in seconds."""

    def __init__(self, clock: Callable[[], float] = time.time, server_password: str = "",
                 min_password: int = MIN_PASSWORD) -> None:
        self.clock = clock
        self.server_password = server_password
        #: The shortest password /register and /password take.
        self.min_password = min_password
        self.accounts: Dict[str, Account] = {}  # name key -> account
        self.rooms: Dict[str, RoomRules] = {}  # room key -> its rules
        self.bans: Dict[str, Sanction] = {}  # name key -> a server ban
        #: Sessions logged in to an account: session -> its name key.
        self.identified: Dict[Session, str] = {}
        #: Sessions that gave a server operator's name and password (IRC's
        #: OPER) -> that account's key: its powers while the account keeps the role.
        self.opered: Dict[Session, str] = {}
        #: Whether a session operates a room (by key) while it stays in it:
        #: the room's maker, an unregistered name given /op. The room index
        #: knows (`selchat.rooms.Rooms.operates`; `selchat.room.ChatRoom` sets it).
        self.present_operator: Callable[[Session, str], bool] = lambda session, key: False
        #: Members' address groups (what a server ban holds besides the name).
        self.groups: Dict[Session, str] = {}
        #: Connections that have not given the server password yet.
        self.unpassed: Set[Session] = set()
        #: Sessions whose password line is expected or being checked or hashed.
        self.awaiting: Dict[Session, "Awaiting"] = {}
        #: Room keys where some lines may be refused (a mute, +m): the hot
        #: path asks nothing of a room not in it.
        self.restricted: Set[str] = set()
        #: Room keys of the secret rooms (+s): lists of rooms ask only these.
        self.secret: Set[str] = set()
        #: Room keys of the rooms with invitations: a member's leave asks only these.
        self.inviting: Set[str] = set()
        self._names = Guesses(*GUESSES_PER_NAME)
        self._groups = Guesses(*GUESSES_PER_GROUP)

    def load(self, accounts: Dict[str, Account], rooms: Dict[str, RoomRules],
             bans: Dict[str, Sanction]) -> None:
        self.accounts, self.rooms, self.bans = accounts, rooms, bans
        self.restricted = {key for key, rules in rooms.items() if rules.moderated or rules.mutes}
        self.secret = {key for key, rules in rooms.items() if rules.secret}
        self.inviting = {key for key, rules in rooms.items() if rules.invited}

    # -- accounts ---------------------------------------------------------------------

    def operator(self, session: Session) -> bool:
        """Whether `session` is logged in to a server operator's account, or
        gave one's name and password (OPER)."""
        for table in (self.identified, self.opered):
            key = table.get(session)
            account = None if key is None else self.accounts.get(key)
            if account is not None and account.operator:
                return True
        return False

    def room_operator(self, session: Session, room_key: str) -> bool:
        """The one rule of who operates a room: its maker and the members
        given /op while they stay in it, the registered names given the
        role (kept), and the server operators."""
        if self.present_operator(session, room_key):
            return True
        key = self.identified.get(session)
        rules = self.rooms.get(room_key)
        return self.operator(session) or (
            key is not None and rules is not None and key in rules.ops)

    def guess_wait(self, name_key: Optional[str], group: str) -> float:
        """Seconds before a password for `name_key` (None: the server's) may
        be tried from address group `group`."""
        now = self.clock()
        wait = self._groups.wait(group, now)
        return wait if name_key is None else max(wait, self._names.wait(name_key, now))

    def guessed_wrong(self, name_key: Optional[str], group: str) -> None:
        now = self.clock()
        if name_key is not None:
            self._names.wrong(name_key, now)
        self._groups.wrong(group, now)

    def check_server_password(self, text: str) -> bool:
        return hmac.compare_digest(text.encode(), self.server_password.encode())

    def forget(self, session: Session, final: bool) -> None:
        """`session`'s connection ended (`final`: its session too, not held)."""
        self.unpassed.discard(session)
        self.awaiting.pop(session, None)
        if final:
            self.identified.pop(session, None)
            self.opered.pop(session, None)
            self.groups.pop(session, None)

    def moved(self, old: Session, new: Session) -> None:
        """A /resume: the session's login goes with it to its new connection."""
        for table in (self.identified, self.opered, self.groups):
            if old in table:
                table[new] = table.pop(old)

    # -- bans and mutes ---------------------------------------------------------------

    def server_ban(self, name_key: str, group: str) -> Optional[Sanction]:
        """The active server ban of a name (or its look-alikes) or an address group."""
        now = self.clock()
        ban = self.bans.get(name_key)
        if ban is not None and ban.active(now):
            return ban
        if group:
            for each in self.bans.values():
                if each.address == group and each.active(now):
                    return each
        return None

    def room_ban(self, room_key: str, name_key: str) -> Optional[Sanction]:
        rules = self.rooms.get(room_key)
        ban = None if rules is None else rules.bans.get(name_key)
        return ban if ban is not None and ban.active(self.clock()) else None

    def speech_refusal(self, session: Session, name_key: str, room_key: str,
                       room_name: str) -> Optional[str]:
        """Why `session` may not speak in the room (muted, or +m), or None."""
        rules = self.rooms.get(room_key)
        if rules is None:
            return None
        mute = rules.mutes.get(name_key)
        if mute is not None and mute.active(self.clock()):
            return f"you are muted in {room_name} {mute.ending()}"
        if rules.moderated and name_key not in rules.voiced and \
                not self.room_operator(session, room_key):
            return (f"{room_name} is moderated: only its operators and voiced members speak "
                    "(ask an operator for +v)")
        return None

    def outside_refusal(self, session: Session, name_key: str, room_key: str,
                        room_name: str) -> Optional[str]:
        """Why `session`, not in the room, may not say a line in it (+n, a
        ban), or None (-n: then `speech_refusal` still applies)."""
        rules = self.rooms.get(room_key)
        if rules is None or not rules.outside:
            return f"you are not in {room_name}: /join {room_name}"
        ban = self.room_ban(room_key, name_key)
        if ban is not None:
            return f"you are banned from {room_name} {ban.ending()}"
        return None

    def restrict(self, rules: RoomRules) -> None:
        """`rules` changed: keep `restricted`, `secret` and `inviting` in step."""
        key = room_key(rules.name)
        for keys, on in ((self.restricted, rules.moderated or rules.mutes),
                         (self.secret, rules.secret), (self.inviting, rules.invited)):
            if on:
                keys.add(key)
            else:
                keys.discard(key)

    def join_refusal(self, session: Session, name_key: str, room_key: str, room_name: str,
                     key: str, members: int) -> Optional[str]:
        """Why `session` may not join the room (ban, +i, +k, +l), or None."""
        rules = self.rooms.get(room_key)
        if rules is None or self.room_operator(session, room_key):
            return None
        ban = self.room_ban(room_key, name_key)
        if ban is not None:
            reason = f" ({ban.reason})" if ban.reason else ""
            return f"you are banned from {room_name} {ban.ending()}{reason}"
        if rules.invite_only and name_key not in rules.invited:
            return f"{room_name} is invite-only: ask one of its operators for /invite"
        if rules.key and not hmac.compare_digest(key.encode(), rules.key.encode()):
            return f"{room_name} needs its key: /join {room_name} KEY"
        if rules.limit and members >= rules.limit:
            return f"{room_name} is full ({rules.limit} members at most)"
        return None




