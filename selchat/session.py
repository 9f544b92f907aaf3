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

  JOINING   the name is sent; waiting for the welcome (then JOINED). Input
            waits. An error line now is the server refusing the name: exit 2
            ("server full": exit 1).
  JOINED    lines typed are sent, lines received shown. "/quit" (also "/q",
            Ctrl-D, the end of piped input, and in a terminal a lone "q")
            moves to QUITTING.
  QUITTING  "/quit" is sent and nothing after it; the server's close ends
            the session with exit 0.
  CLOSED    over; `outcome` says how. A close while JOINING or JOINED is a
            lost connection, or after "*** Server is shutting down." the
            server stopping: exit 1 either way, as neither was the user's choice.

A later feature (resuming a session) adds RECONNECTING between JOINED and CLOSED;
`_server_closed` is where that decision will be made.
"""
import enum
import re
from typing import Iterator, List, NamedTuple, Optional, Union

from selchat import wire
from selchat.framing import END as END_OF_STREAM, LineBuffer
from selchat.sanitize import clean

#: Longest line held, from the server or from a pipe; it only bounds memory. The
#: server's own lines are far shorter (its --max-line, 4 KiB by default, plus a name).
MAX_LINE = 1024 * 1024

#: Exit statuses: the user left; the connection failed or ended; the name was refused.
EXIT_LEFT, EXIT_FAILED, EXIT_REFUSED = 0, 1, 2


class _End:
    """Sentinel for the end of input: Ctrl-D on an empty line, or EOF on a pipe."""

    def __repr__(self) -> str:
        return "END"


END = _End()

#: A line typed (without its newline), or END.
Submitted = Union[str, _End]


class State(enum.Enum):
    #: The name is sent; waiting for the welcome.
    JOINING = "joining"
    #: In the room: input is sent, lines are shown.
    JOINED = "joined"
    #: "/quit" is sent; waiting for the server to close.
    QUITTING = "quitting"
    #: Over; `ClientSession.outcome` says how.
    CLOSED = "closed"


class Style(enum.Enum):
    """How a shown line should look; `selchat.screen` picks the colours."""

    CHAT = "chat"  # someone else's chat line, or a line of no known kind
    OWN = "own"  # what you said, echoed locally (the server does not echo)
    MENTION = "mention"  # someone else's chat or action naming you
    ACTION = "action"
    PRIVATE = "private"
    NOTICE = "notice"
    ERROR = "error"


class Show(NamedTuple):
    text: str
    style: Style


class Warn(NamedTuple):
    """A problem that does not end the session, for stderr."""

    message: str


class Prompt(NamedTuple):
    """The server now knows you as `name` (welcome or /nick)."""

    name: str


class Finish(NamedTuple):
    status: int
    error: Optional[str] = None


Decision = Union[Show, Warn, Prompt, Finish]

_STYLES = {
    wire.Kind.CHAT: Style.CHAT,
    wire.Kind.ACTION: Style.ACTION,
    wire.Kind.PRIVATE: Style.PRIVATE,
    wire.Kind.NOTICE: Style.NOTICE,
    wire.Kind.ERROR: Style.ERROR,
}


class ClientSession:
    def __init__(self, name: str, interactive: bool) -> None:
        """`interactive`: a person at a terminal, so a lone "q" leaves and the
        lines sent are echoed; otherwise (a pipe, a bot) every line is sent as is."""
        self.name = name
        self.interactive = interactive
        self.state = State.JOINING
        self.outcome: Optional[Finish] = None
        self._outgoing = bytearray(f"{name}\n".encode())
        self._received = LineBuffer(MAX_LINE)
        self._piped = LineBuffer(MAX_LINE)
        self._server_stopping = False
        self._mention = _mention_pattern(name)

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
            decisions.append(self._server_closed())
        return decisions

    def _receive_line(self, text: str) -> List[Decision]:
        incoming = wire.decode(text)
        if isinstance(incoming, wire.ShuttingDown):
            self._server_stopping = True
        if self.state is State.JOINING:
            return self._before_welcome(text, incoming)
        decisions: List[Decision] = []
        if isinstance(incoming, wire.Renamed) and incoming.old == self.name:
            decisions.append(self._rename(incoming.new))
        decisions.append(Show(text, self._style(incoming)))
        return decisions

    def _before_welcome(self, text: str, incoming: wire.Incoming) -> List[Decision]:
        if isinstance(incoming, wire.ServerFull):
            return [self._finish(EXIT_FAILED, wire.server_full().text)]
        if isinstance(incoming, wire.ServerLine) and incoming.kind is wire.Kind.ERROR:
            return [self._finish(EXIT_REFUSED, incoming.text)]  # whatever the reason
        if isinstance(incoming, wire.Welcome):
            self.state = State.JOINED
            return [self._rename(incoming.name), Show(text, Style.NOTICE)]
        if isinstance(incoming, wire.ShuttingDown):
            return [Show(text, Style.NOTICE)]
        return []  # the server asking for the name, already sent

    def _server_closed(self) -> Finish:
        if self.state is State.QUITTING:
            return self._finish(EXIT_LEFT)
        if self._server_stopping:
            return self._finish(EXIT_FAILED, "the server shut down")
        if self.state is State.JOINED:
            return self._finish(EXIT_FAILED, "connection to server lost")
        return self._finish(EXIT_FAILED, "the server closed the connection before joining")

    def _style(self, incoming: wire.Incoming) -> Style:
        if isinstance(incoming, wire.ServerLine):
            if incoming.kind in (wire.Kind.CHAT, wire.Kind.ACTION) and (
                    self._mention.search(incoming.text)):
                return Style.MENTION
            return _STYLES[incoming.kind]
        if isinstance(incoming, wire.Unrecognized):
            return Style.CHAT
        if isinstance(incoming, wire.ServerFull):
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
            decisions += self.submit(END)
        return decisions

    def submit(self, line: Submitted) -> List[Decision]:
        """A line to send: END and, in a terminal, a lone "q" mean /quit."""
        if self.state is not State.JOINED:  # nothing is sent after /quit
            return []
        if isinstance(line, _End) or (self.interactive and line.strip() == "q"):
            line = "/quit"
        command = wire.parse(line)
        if isinstance(command, wire.Quit):
            self.state = State.QUITTING
        elif not line.strip():
            return []  # the server ignores blank lines anyway
        self._outgoing += f"{line}\n".encode()
        return self._echo(command) if self.interactive else []

    def interrupt(self) -> Finish:
        """Ctrl-C, kill or hang-up: say /quit (if joined), and the session is over."""
        self.submit(END)
        return self._finish(EXIT_LEFT)

    def _echo(self, command: wire.Command) -> List[Decision]:
        """What you said, as the others see it (the server sends it back to no one)."""
        if isinstance(command, wire.Say):
            line = wire.text_of(wire.chat(self.name, command.text))
        elif isinstance(command, wire.Me):
            line = wire.text_of(wire.action(self.name, command.text))
        elif isinstance(command, wire.Msg):
            line = "-> " + wire.text_of(wire.private(command.target, command.text))
        else:
            return []  # other commands answer for themselves
        return [Show(clean(line), Style.OWN)]

    # -- helpers --------------------------------------------------------------------

    def _rename(self, name: str) -> Prompt:
        self.name = name
        self._mention = _mention_pattern(name)
        return Prompt(name)

    def _finish(self, status: int, error: Optional[str] = None) -> Finish:
        self.state = State.CLOSED
        self.outcome = Finish(status, error)
        return self.outcome


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
