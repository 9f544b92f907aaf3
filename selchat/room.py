"""The chat room: who is here, under which name, and who receives what.

``ChatRoom`` is the chat logic and nothing else. It is told about sessions
(any hashable the caller chooses: the server uses its connection objects) and the sanitised lines they send, and it
answers with *effects*, plain values the I/O driver carries out:

* ``Send(to, line)``: one line to one session;
* ``Broadcast(line, exclude)``: one line to every joined session but ``exclude``;
* ``Close(session)``: flush that session's output, then close it;
* ``Joined(session)`` / ``Left(session)``: it became / stopped being a member
  (receives broadcasts), decided here so the driver never compares the
  membership before and after a call.

It never sees bytes or sockets, so every rule here is tested directly.
A session starts unnamed; its first line is its name; once a name is accepted it
is a member, and only members receive broadcasts.
"""
import heapq
import itertools
import logging
from typing import Collection, Dict, Hashable, List, NamedTuple, Optional, Set, Union

from selchat import wire
from selchat.names import name_key, name_problem
from selchat.sanitize import clean
from selchat.wire import ServerLine

log = logging.getLogger(__name__)

Session = Hashable

#: Names shown in the welcome notice; a 10,000-person room is summed up as a count.
WELCOME_NAMES = 50
#: Names one /who answer lists. The whole list of a 10,000-person room is a
#: 340 KB line: 50 askers' bursts would queue gigabytes. /who PATTERN searches.
WHO_NAMES = 100

HELLO = wire.hello()
SERVER_FULL = wire.server_full()
TOO_MANY_FROM_ADDRESS = wire.error("too many connections from your address")
SHUTTING_DOWN = wire.shutting_down()


class Send(NamedTuple):
    to: Session
    line: ServerLine


class Broadcast(NamedTuple):
    line: ServerLine
    exclude: Optional[Session] = None


class Close(NamedTuple):
    session: Session


class Joined(NamedTuple):
    session: Session


class Left(NamedTuple):
    session: Session


Effect = Union[Send, Broadcast, Close, Joined, Left]


class ChatRoom:
    def __init__(self) -> None:
        self._unnamed: Set[Session] = set()
        #: Joined sessions -> their names, in the order they joined. The driver
        #: iterates it for broadcasts; only this class changes it.
        self.members: Dict[Session, str] = {}
        self._owners: Dict[str, Session] = {}  # name_key -> member holding that name
        #: The answer to a plain /who, built once per change of membership and
        #: shared by every asker (the driver encodes it once too).
        self._who_answer: Optional[ServerLine] = None

    # -- what the driver asks -------------------------------------------------

    def name_of(self, session: Session) -> Optional[str]:
        return self.members.get(session)

    # -- events ---------------------------------------------------------------

    def connect(self, session: Session) -> List[Effect]:
        """A new connection: ask for its name."""
        self._unnamed.add(session)
        return [Send(session, HELLO)]

    def receive(self, session: Session, text: str) -> List[Effect]:
        """A complete line from `session`, decoded but not yet sanitised.

        Names are judged as sent, so a control character makes a name invalid
        rather than vanishing from it; any text that is relayed or echoed back
        is sanitised first.
        """
        name = self.members.get(session)
        if name is None:
            return self._take_name(session, text.strip(" \t"))  # not str.strip(): it eats controls
        command = wire.parse(text)
        if type(command) is wire.Say:  # the hot path first
            said = clean(command.text)
            if not said.strip():
                return []
            log.debug("<%s> %s", name, said)
            return [Broadcast(wire.chat(name, said), session)]
        handler = getattr(self, "_do_" + type(command).__name__.lower())
        return handler(session, name, command)

    def disconnect(self, session: Session, reason: str = "") -> List[Effect]:
        """The connection is gone (EOF, reset, timeout): forget it, tell the room."""
        self._unnamed.discard(session)
        name = self.members.pop(session, None)
        if name is None:
            return []
        del self._owners[name_key(name)]
        self._who_answer = None
        reason = clean(reason)
        log.info("%s left%s", name, f" ({reason})" if reason else "")
        return [Left(session), Broadcast(wire.left(name, reason))]

    def line_too_long(self, session: Session, max_line: int) -> List[Effect]:
        log.debug("%r: line over %d bytes discarded", session, max_line)
        return [Send(session, wire.error(f"line too long: over {max_line} bytes, discarded"))]

    def name_timeout(self, session: Session, seconds: float) -> List[Effect]:
        return [
            Send(session, wire.error(f"name timeout: no name received in {seconds:g} s")),
            Close(session),
        ]

    def shutdown(self) -> List[Effect]:
        """The server is stopping: tell every session, named or not."""
        return [Send(session, SHUTTING_DOWN) for session in [*self._unnamed, *self.members]]

    # -- names ----------------------------------------------------------------

    def _name_refusal(self, session: Session, name: str) -> Optional[str]:
        problem = name_problem(name)
        if problem:
            return problem
        owner = self._owners.get(name_key(name))
        if owner is not None and owner != session:
            return f"name taken: {name}"
        return None

    def _take_name(self, session: Session, name: str) -> List[Effect]:
        if session not in self._unnamed:  # not connected (or already gone)
            return []
        refusal = self._name_refusal(session, name)
        if refusal:
            return [Send(session, wire.error(refusal))]
        self._unnamed.discard(session)
        self.members[session] = name
        self._owners[name_key(name)] = session
        self._who_answer = None
        log.info("%r joined as %s", session, name)
        online = len(self.members)
        shown = ", ".join(itertools.islice(self.members.values(), WELCOME_NAMES))
        if online > WELCOME_NAMES:
            shown += f" and {online - WELCOME_NAMES} more"
        return [
            Joined(session),
            Send(session, wire.welcome(name, online, shown)),
            Broadcast(wire.joined(name), session),
        ]

    # -- commands (one method per wire command, picked by class name) --------

    def _do_quit(self, session: Session, name: str, command: wire.Quit) -> List[Effect]:
        return [Send(session, wire.goodbye(name)), Close(session),
                *self.disconnect(session, command.reason)]

    def _do_who(self, session: Session, name: str, command: wire.Who) -> List[Effect]:
        if command.pattern:
            return [Send(session, self._who_matching(clean(command.pattern)))]
        if self._who_answer is None:
            self._who_answer = self._listing("Online", self._owners)
        return [Send(session, self._who_answer)]

    def _who_matching(self, pattern: str) -> ServerLine:
        """Members whose name contains `pattern`, compared as names are."""
        wanted = name_key(pattern)
        return self._listing(f"Online matching {pattern!r}",
                             [key for key in self._owners if wanted in key])

    def _listing(self, title: str, keys: Collection[str]) -> ServerLine:
        """"Title (N): a, b, ..." with the first WHO_NAMES names in alphabetical
        order (ignoring case), then a count. Not in name-key order: a key is a
        look-alike skeleton ("bob1" is "bobl"), which would put bob2 before bob1."""
        owners, members = self._owners, self.members
        shown = heapq.nsmallest(WHO_NAMES, (members[owners[key]] for key in keys),
                                key=lambda name: (name.casefold(), name))
        text = f"{title} ({len(keys)}): {', '.join(shown)}" if shown else f"{title} (0)"
        if len(keys) > WHO_NAMES:
            text += f" and {len(keys) - WHO_NAMES} more (/who PATTERN to search)"
        return wire.notice(text)

    def _do_nick(self, session: Session, name: str, command: wire.Nick) -> List[Effect]:
        new = command.name
        if new == name:
            return [Send(session, wire.notice(f"You are already known as {name}."))]
        refusal = self._name_refusal(session, new)
        if refusal:
            return [Send(session, wire.error(refusal))]
        del self._owners[name_key(name)]
        self._owners[name_key(new)] = session
        self.members[session] = new
        self._who_answer = None
        log.info("%s is now known as %s", name, new)
        return [Broadcast(wire.renamed(name, new))]

    def _do_msg(self, session: Session, name: str, command: wire.Msg) -> List[Effect]:
        target = self._owners.get(name_key(command.target))
        if target is None:
            return [Send(session, wire.error(f"no such user: {clean(command.target)}"))]
        # Never logged: a private line is nobody else's business, at any level.
        return [Send(target, wire.private(name, clean(command.text)))]

    def _do_me(self, session: Session, name: str, command: wire.Me) -> List[Effect]:
        text = clean(command.text)
        log.debug("* %s %s", name, text)
        return [Broadcast(wire.action(name, text), session)]

    def _do_help(self, session: Session, name: str, command: wire.Help) -> List[Effect]:
        lines = [f"{usage:<16} {what}" for usage, what in wire.COMMANDS.values()]
        lines.append(f"{'//text':<16} send a message that starts with /")
        return [Send(session, wire.notice(line)) for line in ["Commands:", *lines]]

    def _do_unknown(self, session: Session, name: str, command: wire.Unknown) -> List[Effect]:
        log.debug("%r (%s): unknown command /%s", session, name, clean(command.word))
        return [Send(session, wire.error(f"unknown command: /{clean(command.word)} (try /help)"))]

    def _do_badusage(self, session: Session, name: str, command: wire.BadUsage) -> List[Effect]:
        usage, _ = wire.COMMANDS[command.command]
        return [Send(session, wire.error(f"usage: {usage}"))]

