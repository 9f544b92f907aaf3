"""One `selchat join` session, sans I/O: what the client sends and shows, decided.

Theory of operation. `ClientSession` is told everything that happens, as plain
values: bytes from the server (`receive_data`; ``b""`` means it closed), bytes
from a piped standard input (`input_data`; ``b""`` means its end), a line typed
in the terminal (`submit`), an interrupt (`interrupt`). It answers with
*decisions* the driver (`selchat.client`) carries out: `Show` a line, `Warn` on
stderr, `Prompt` under a new name, `Finish` with an exit status. What to send
collects until the driver takes it with `data_to_send()` (h2's pattern), so
the driver alone decides when to write. No socket, no terminal, no clock.

Every line received is sanitised, then read by `selchat.wire.decode`: this
module reacts to kinds of line (a welcome, a rename, a shutdown notice), never
to their English.

The states, and what moves between them:

  JOINING     "/tags" and the name are sent; waiting for the welcome (then
              JOINED). Input waits. An error line now is the server refusing
              the name: exit 2 ("server full": exit 1).
  JOINED      lines typed are sent, lines received shown. "/quit" (also "/q",
              Ctrl-D, the end of piped input, and in a terminal a lone "q")
              moves to QUITTING.
  QUITTING    "/quit" is sent and nothing after it; the server's close ends
              the session with exit 0.
  RECONNECTING  the connection was lost while JOINED (a reset or a close with
              no shutdown notice and no /quit) and the welcome gave a resume
              token: the driver is told to `Reconnect`, and calls `connected`
              once it has a new connection, or `give_up` when the window is
              over (exit 1). Input waits.
  RESUMING    "/resume TOKEN LASTSEQ" is sent. "*** Welcome back" moves back
              to JOINED (shown as "*** reconnected"); the lines missed follow,
              so the user sees no hole. A history gap is shown, and the name
              sent again as on a first join (JOINING). A close moves back to
              RECONNECTING.
  CLOSED      over; `outcome` says how. A close while JOINING, or while JOINED
              without a token or a window, is a lost connection, or after
              "*** Server is shutting down." the server stopping: exit 1 either
              way, as neither was the user's choice.

A session given the token a previous client saved (`saved`) starts RESUMING
instead of JOINING: a welcome back makes it JOINED under the name the server
says, and anything else (a gap, an error) sends the name as on a first join; a
close now ends it, as a close before a welcome does. A server that says nothing
(`timed_out`: the driver's deadline for a welcome) ends a join, and is taken
for a lost connection by a resume after a drop.

Names. The name changes when the server says so live: a welcome, a welcome
back, "OLD is now known as NEW" for your name. A rename inside a newcomer's
history replay ("*** Last N lines:" to "*** End of history.") is an earlier
session's, perhaps one with the same name, and changes nothing.

Rooms. The server puts every member in its default room (`default_room`,
whose lines have no prefix) and says which room any other line is from with
a prefix (``#dev <bob> hi``; `wire.split_room` takes it off, and `Show.room`
keeps it, for its colour). Room commands are sent as typed; the session
follows the server's answers to know your rooms and the current one (where a
plain line goes, shown in the prompt): "*** You joined #room." adds it and
makes it current, "*** Now talking in #room." makes it current, your own
"NAME has left #room." removes it, and if it was current the room joined
most recently of those left becomes current (as the server decides); "!!! you
are in no room" means none. Joined anew (after a gap), you are in the default
room only; a resume keeps them all, as the server does.

Tags. "/tags" goes before the name, so every line arrives with its tags
(`split_tags` takes them off before anything else reads the line): the
welcome's ``resume`` tag is the token, the ``seq`` of each room line is
remembered (LASTSEQ), and ``time`` is the server's time for --timestamps. A
server that knows no "/tags" takes it for a name and refuses it with an
untagged error; that first untagged error is set aside (and reported only if
the connection then closes), and the client goes on without tags or resume.
"""
import re
from typing import Callable, Dict, Iterator, List, Optional, Tuple, Union

from selchat import commands
from selchat import wire
from selchat.decisions import (
    INPUT_END, AskPassword, Decision, Finish, Prompt, Reconnect, Show, State, Style, Submitted,
    Warn, _End,
)
from selchat.framing import END_OF_STREAM, LineBuffer
from selchat.sanitize import clean
from selchat.tags import parse_time, split_tags

#: Longest line held, from the server or from a pipe; it only bounds memory. The
#: server's own lines are far shorter (its --max-line, 4 KiB by default, plus a name).
MAX_LINE = 1024 * 1024

#: Longest ``seq`` tag read, in digits: a 64-bit counter has at most 20. A
#: longer one is a hostile server's (int() of thousands of digits is slow, and
#: past 4,300 refused with an exception), skipped like other bad input.
MAX_SEQ_DIGITS = 20
#: Longest ``resume`` token kept: the server's are under 80 characters
#: (``EPOCH.SECRET``); the client sends it back, so it is bounded too.
MAX_TOKEN = 256

#: Exit statuses: the user left; the connection failed or ended; the name was refused.
EXIT_LEFT, EXIT_FAILED, EXIT_REFUSED = 0, 1, 2

#: Seconds to go on reconnecting after a lost connection: the server's default
#: --resume-window, past which it has let the session go anyway.
RESUME_WINDOW = 120.0
#: Reconnection back-off: the first wait, doubling up to the last.
BACKOFF_FIRST, BACKOFF_MAX = 0.2, 5.0

#: The server's default room (its --default-room), whose lines carry no prefix.
DEFAULT_ROOM = "lobby"

RECONNECTING_TEXT = "*** connection lost; reconnecting..."
RECONNECTED_TEXT = "*** reconnected"




def backoff(random: Callable[[], float], first: float = BACKOFF_FIRST,
            last: float = BACKOFF_MAX) -> Iterator[float]:
    """Seconds to wait before each reconnection attempt: `first`, doubling up
    to `last`, each scaled by a random factor between 0.5 and 1 (pass
    `random.random`), so that clients dropped together by a server restart
    do not all come back in the same instant."""
    delay = first
    while True:
        yield delay * (0.5 + random() / 2)
        delay = min(last, delay * 2)

_STYLES = {
    wire.LineType.CHAT: Style.CHAT,
    wire.LineType.ACTION: Style.ACTION,
    wire.LineType.PRIVATE: Style.PRIVATE,
    wire.LineType.NOTICE: Style.NOTICE,
    wire.LineType.ERROR: Style.ERROR,
    wire.LineType.SENT: Style.OWN,  # the server's word that your /msg was delivered
}


class ClientSession:
    def __init__(self, name: str, interactive: bool,
                 resume_window: float = RESUME_WINDOW,
                 saved: Optional[Tuple[str, int]] = None,
                 default_room: str = DEFAULT_ROOM, password: Optional[str] = None,
                 server_password: Optional[str] = None) -> None:
        """`interactive`: a person at a terminal, so a lone "q" leaves and the
        lines sent are echoed; otherwise (a pipe, a bot) every line is sent as is.
        `resume_window`: seconds to go on reconnecting after a lost connection
        (0: a lost connection ends the session). `saved`: the token and last
        seq a previous client left (`selchat.saved_session`): the session is
        asked back first, and joined anew if the server cannot give it.
        `default_room`: the server's --default-room, with or without its "#".
        `password`: the name's, if registered (else asked for: `AskPassword`);
        `server_password`: sent first on every connection, if given."""
        self.password = password
        self.server_password = server_password
        self.name = name
        self.default_room = _room_key("#" + default_room.lstrip("#"))
        self.interactive = interactive
        self.resume_window = resume_window
        self.state = State.JOINING
        self.outcome: Optional[Finish] = None
        #: The session's resume token (the welcome's ``resume`` tag), if any.
        self.token: Optional[str] = None
        #: The ``seq`` of the latest room line received (LASTSEQ of a resume).
        self.last_seq = 0
        self._outgoing = bytearray()
        self._received = LineBuffer(MAX_LINE)
        self._piped = LineBuffer(MAX_LINE)
        self._server_stopping = False
        self._mention = _mention_pattern(name)
        #: Resuming the session of a previous client (not yet answered).
        self._restarting = saved is not None
        self._join()
        if saved is not None:  # ask for it instead
            self.token, self.last_seq = saved
            self.state = State.RECONNECTING
            self.connected()

    def _join(self) -> None:
        """Ask for tags, then send the name (a first join, or again after a gap)."""
        self.state = State.JOINING
        self._outgoing += f"{self._server_line()}/tags\n{self.name}\n".encode()
        self._tags_unanswered = True  # no tagged line yet: the server may not know /tags
        self._set_aside: Optional[str] = None  # an old server's refusal of "/tags" as a name
        self._resumed = False  # after a resume: own lines replayed were shown already
        self._in_history = False  # between "*** Last N lines:" and "*** End of history."
        #: Your rooms, the one joined most recently last; on naming, the default one.
        self.rooms: List[str] = [self.default_room]
        #: Where a plain line goes; None: no room at all.
        self.room: Optional[str] = self.default_room

    @property
    def wants_input(self) -> bool:
        """Whether typed or piped input is taken now (not before the welcome)."""
        return self.state is State.JOINED

    def data_to_send(self) -> bytes:
        """The bytes to send to the server since the last call."""
        data = bytes(self._outgoing)
        self._outgoing.clear()
        return data

    # -- from the server ----------------------------------------------------------

    def receive_data(self, data: bytes) -> List[Decision]:
        """Bytes from the server; ``b""`` when it closed the connection."""
        self._received.feed(data)
        decisions: List[Decision] = []
        for line in _lines(self._received):
            if isinstance(line, Warn):
                decisions.append(Warn(f"skipped a received {line.message}"))
                continue
            decisions += self._receive_line(clean(line))
            if self.state is State.CLOSED:
                return decisions
        if not data:
            decisions += self._server_closed()
        return decisions

    def _receive_line(self, line: str) -> List[Decision]:
        tags, text = split_tags(line)
        decisions: List[Decision] = []
        if tags:
            self._tags_unanswered = False
            decisions += self._read_tags(tags)
        room, text = wire.split_room(text)
        room = room or tags.get("room") or None  # the tag alone, should a server drop the prefix
        decisions += self._react(text, wire.decode(text), bool(tags))
        time_ms = parse_time(tags["time"]) if "time" in tags else None
        if time_ms is None and room is None:
            return decisions
        return [d._replace(time_ms=time_ms, room=room) if isinstance(d, Show) else d
                for d in decisions]

    def _read_tags(self, tags: Dict[str, str]) -> List[Warn]:
        """Take the seq and the token; a malformed one is skipped, with a warning."""
        skipped = []
        seq = tags.get("seq")
        if seq is not None:
            if seq.isdecimal() and seq.isascii() and len(seq) <= MAX_SEQ_DIGITS:
                self.last_seq = int(seq)
            else:
                skipped.append("seq")
        token = tags.get("resume")
        if token:
            # Sent back in "/resume TOKEN LASTSEQ": one word of printable ASCII.
            if len(token) <= MAX_TOKEN and token.isascii() and token.isprintable() \
                    and " " not in token:
                self.token = token
            else:
                skipped.append("resume")
        return [Warn(f"skipped a received {key} tag: malformed") for key in skipped]

    def _react(self, text: str, incoming: wire.Incoming, tagged: bool) -> List[Decision]:
        if isinstance(incoming, wire.ShuttingDown):
            # A server that keeps the session across its restart: the close
            # that follows is a lost connection, resumed once it is back.
            self._server_stopping = not (incoming.kept and self.token)
        if self.state is State.JOINING:
            return self._before_welcome(text, incoming, tagged)
        if self.state is State.RESUMING:
            return self._resuming(text, incoming)
        if self._resumed and self._said_by_me(incoming):
            return []  # replayed after a resume: shown when it was typed
        if isinstance(incoming, wire.ServerLine) and incoming.kind is wire.LineType.SENT \
                and not self.interactive:
            return []  # a pipe is shown none of its own lines
        decisions: List[Decision] = []
        if isinstance(incoming, (wire.HistoryStart, wire.HistoryEnd)):
            self._in_history = isinstance(incoming, wire.HistoryStart)
        elif not self._in_history:  # a replayed rename or part was an earlier session's
            decisions += self._follow(incoming)
        decisions.append(Show(text, self._style(incoming)))
        return decisions

    def _follow(self, incoming: wire.Incoming) -> List[Decision]:
        """Your name, your rooms and the current one, as the server tells them."""
        before = (self.name, self._prompt_room)
        if isinstance(incoming, wire.Renamed) and incoming.old == self.name:
            self._rename(incoming.new)
        elif isinstance(incoming, wire.RoomWelcome):
            key = _room_key(incoming.room)
            self.rooms = [room for room in self.rooms if room != key] + [key]
            self.room = key
        elif isinstance(incoming, wire.NowTalking):
            self.room = _room_key(incoming.room)
        elif isinstance(incoming, wire.RoomLeaveNotice) and incoming.name == self.name:
            key = _room_key(incoming.room)
            self.rooms = [room for room in self.rooms if room != key]
            if self.room == key:
                self.room = self.rooms[-1] if self.rooms else None
        elif isinstance(incoming, wire.NoRoom):
            self.rooms, self.room = [], None
        if (self.name, self._prompt_room) == before:
            return []
        return [self._prompt()]

    @property
    def _prompt_room(self) -> Optional[str]:
        """The room the prompt shows: the current one, unless it is the default."""
        return None if self.room == self.default_room else self.room

    def _prompt(self) -> Prompt:
        return Prompt(self.name, self._prompt_room)

    def _before_welcome(self, text: str, incoming: wire.Incoming,
                        tagged: bool) -> List[Decision]:
        if isinstance(incoming, wire.ServerFull):
            return [self._finish(EXIT_FAILED, wire.server_full().text)]
        if isinstance(incoming, wire.ServerLine) and incoming.kind is wire.LineType.ERROR:
            if self._tags_unanswered and not tagged:
                # A server without tags refusing "/tags" as a name; the answer
                # to the name comes next (unless this was why it closes).
                self._tags_unanswered = False
                self._set_aside = incoming.text
                return []
            return [self._finish(EXIT_REFUSED, incoming.text)]  # whatever the reason
        if isinstance(incoming, wire.Welcome):
            self.state = State.JOINED
            self._rename(incoming.name)
            return [self._prompt(), Show(text, Style.NOTICE)]
        if isinstance(incoming, wire.ShuttingDown):
            return [Show(text, Style.NOTICE)]
        if isinstance(incoming, wire.PasswordWanted):
            if self.password is not None:
                self._outgoing += f"{self.password}\n".encode()
                return []
            if not self.interactive:
                return [self._finish(EXIT_REFUSED, f"{incoming.name} is registered: give its "
                                                   "password in SELCHAT_PASSWORD")]
            return [AskPassword(incoming.name)]
        if isinstance(incoming, wire.ServerPasswordWanted) and self.server_password is None:
            return [self._finish(EXIT_REFUSED, "the server needs a password: give it with "
                                               "--server-password or SELCHAT_SERVER_PASSWORD")]
        return []  # the server asking for the name, already sent

    def _resuming(self, text: str, incoming: wire.Incoming) -> List[Decision]:
        restarting, self._restarting = self._restarting, False
        if isinstance(incoming, wire.WelcomeBack):
            self.state = State.JOINED
            if restarting:  # a previous client's session: this one has shown nothing
                self._rename(incoming.name)
                return [self._prompt(), Show(text, Style.NOTICE)]
            self._resumed = True
            return [Show(RECONNECTED_TEXT, Style.NOTICE)]
        if isinstance(incoming, wire.HistoryGap):
            self.token = None
            self._join()  # the connection goes on as a new one
            return [Show(text, Style.ERROR)]
        if isinstance(incoming, wire.ServerFull) and restarting:
            return [self._finish(EXIT_FAILED, wire.server_full().text)]
        if isinstance(incoming, wire.ServerLine) and incoming.kind is wire.LineType.ERROR:
            if restarting:  # not a gap, yet no session: join anew
                self.token = None
                self._join()
            return [Show(text, Style.ERROR)]  # a close follows, or an answer
        self._restarting = restarting
        return []  # the server asking for a name, "server full" (a close follows)

    def _said_by_me(self, incoming: wire.Incoming) -> bool:
        """A room line of mine: my chat, my action, my arrival (in any room)."""
        if isinstance(incoming, wire.ServerLine):
            own = (wire.LineType.CHAT, wire.LineType.ACTION)
            return incoming.kind in own and incoming.name == self.name
        arrivals = (wire.JoinNotice, wire.RoomJoinNotice)
        return isinstance(incoming, arrivals) and incoming.name == self.name

    def _server_closed(self) -> List[Decision]:
        if self.state is State.QUITTING:
            return [self._finish(EXIT_LEFT)]
        if self._server_stopping:
            return [self._finish(EXIT_FAILED, "the server shut down")]
        if self.state is State.RESUMING and not self._restarting:
            self.state = State.RECONNECTING
            return [Reconnect(self.resume_window)]
        if self.state is State.JOINED:
            if self.token and self.resume_window > 0:
                self.state = State.RECONNECTING
                return [Show(RECONNECTING_TEXT, Style.NOTICE), Reconnect(self.resume_window)]
            return [self._finish(EXIT_FAILED, "connection to server lost")]
        if self._set_aside is not None:
            return [self._finish(EXIT_REFUSED, self._set_aside)]
        return [self._finish(EXIT_FAILED, "the server closed the connection before joining")]

    # -- from the driver, while reconnecting ---------------------------------------

    def connected(self) -> None:
        """A new connection is up: ask for the session back, from the last line seen.

        Bytes from the lost connection (half a line) and not yet sent are dropped."""
        if self.state is not State.RECONNECTING or self.token is None:
            raise RuntimeError(f"connected() while {self.state.name}")
        self.state = State.RESUMING
        self._received = LineBuffer(MAX_LINE)
        self._outgoing = bytearray(
            f"{self._server_line()}/resume {self.token} {self.last_seq}\n".encode())

    def _server_line(self) -> str:
        """What a connection starts with: the server password, if given."""
        return "" if self.server_password is None else self.server_password + "\n"

    def give_password(self, password: str) -> None:
        """The answer to `AskPassword`: sent, and kept for a join after a gap."""
        self.password = password
        self._outgoing += f"{password}\n".encode()

    def timed_out(self, seconds: float) -> List[Decision]:
        """No welcome (or welcome back) within `seconds` of connecting: a silent
        server. A resume after a drop tries again, as after a close; else the
        session is over."""
        if self.state is State.RESUMING and not self._restarting:
            return self._server_closed()
        if self.state in (State.JOINING, State.RESUMING):
            return [self._finish(EXIT_FAILED, f"no answer from the server in {seconds:g} s")]
        return []

    def give_up(self) -> Finish:
        """The resume window is over without a new connection."""
        return self._finish(EXIT_FAILED, "connection to server lost; could not reconnect "
                                         f"within {self.resume_window:g} s")

    def _style(self, incoming: wire.Incoming) -> Style:
        if isinstance(incoming, wire.ServerLine):
            if incoming.kind in (wire.LineType.CHAT, wire.LineType.ACTION) and (
                    self._mention.search(incoming.text)):
                return Style.MENTION
            return _STYLES[incoming.kind]
        if isinstance(incoming, wire.Unrecognized):
            return Style.CHAT
        if isinstance(incoming, (wire.ServerFull, wire.HistoryGap, wire.NoRoom)):
            return Style.ERROR
        return Style.NOTICE  # the sentences: welcome, joined, left, renamed...

    # -- from the user --------------------------------------------------------------

    def input_data(self, data: bytes) -> List[Decision]:
        """Bytes from a piped standard input; ``b""`` at its end."""
        self._piped.feed(data)
        decisions: List[Decision] = []
        for line in _lines(self._piped):
            if isinstance(line, Warn):
                decisions.append(Warn(f"skipped an input {line.message}"))
            else:
                decisions += self.submit(line.decode("utf-8", "replace"))
        if not data:
            decisions += self.submit(INPUT_END)
        return decisions

    def submit(self, line: Submitted) -> List[Decision]:
        """A line to send: INPUT_END and, in a terminal, a lone "q" mean /quit."""
        if self.state is not State.JOINED:  # nothing is sent after /quit
            return []
        if isinstance(line, _End) or (self.interactive and line.strip() == "q"):
            line = "/quit"
        command = commands.parse(line)
        if isinstance(command, commands.Quit):
            self.state = State.QUITTING
        elif not line.strip():
            return []  # the server ignores blank lines anyway
        self._outgoing += f"{line}\n".encode()
        return self._echo(command) if self.interactive else []

    def interrupt(self) -> Finish:
        """Ctrl-C, kill or hang-up: say /quit (if joined, or joining: a welcome
        may be on its way), and the session is over. Without it the server
        would hold the session for a resume that never comes."""
        if self.state is State.JOINING:
            self._outgoing += b"/quit\n"
        self.submit(INPUT_END)
        return self._finish(EXIT_LEFT)

    def _echo(self, command: commands.Command) -> List[Decision]:
        """What you said, as the others see it (the server sends it back to no one).

        In no room, or to a room you are not in, nothing: the server says why."""
        room = self.room
        if isinstance(command, commands.Say) and room is not None:
            line = wire.text_of(wire.chat(self.name, command.text))
        elif isinstance(command, commands.Me) and room is not None:
            line = wire.text_of(wire.action(self.name, command.text))
        elif isinstance(command, commands.Msg) and command.target.startswith("#"):
            room = _room_key(command.target)  # a room's line, said there
            if room not in self.rooms:
                return []
            line = wire.text_of(wire.chat(self.name, command.text))
        elif isinstance(command, commands.Msg) and self._tags_unanswered:
            # A server with tags confirms a /msg delivered (wire.sent) and
            # answers one to nobody with an error: only that is shown.
            line = wire.text_of(wire.sent(command.target, command.text))
        else:
            return []  # other commands answer for themselves
        shown_room = None if room == self.default_room else room
        return [Show(clean(line), Style.OWN, room=shown_room)]

    # -- helpers --------------------------------------------------------------------

    def _rename(self, name: str) -> None:
        self.name = name
        self._mention = _mention_pattern(name)

    def _finish(self, status: int, error: Optional[str] = None) -> Finish:
        self.state = State.CLOSED
        self.outcome = Finish(status, error)
        return self.outcome


def _room_key(room: str) -> str:
    """A room's name as compared: "#Dev" is "#dev" (the server sends its own spelling)."""
    return room.casefold()


def _mention_pattern(name: str) -> "re.Pattern[str]":
    """Your name as a word of its own, in any case ("bob," and "@Bob" but not "bobby").

    Names may hold "." and "-", so the word ends before them only when nothing
    of a word follows ("bob." ends a sentence; "bob.x" is someone else)."""
    return re.compile(rf"(?<![\w.-]){re.escape(name)}(?![\w-]|\.\w)", re.IGNORECASE)


def _lines(buffer: LineBuffer) -> Iterator[Union[bytes, Warn]]:
    """The complete lines in `buffer` (after its end of stream, fed as b"", the
    unterminated rest too).

    An overlong line comes out as a Warn ending "line longer than ... bytes"."""
    while True:
        line = buffer.next_line()
        if line is None or line is END_OF_STREAM:
            return
        if isinstance(line, bytes):
            yield line
        else:
            yield Warn(f"line longer than {MAX_LINE} bytes")
