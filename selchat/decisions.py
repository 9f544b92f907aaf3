"""What a `selchat.session.ClientSession` answers: the decisions its driver
(`selchat.client`) carries out, the states it moves through, and the input it is
given. Plain values, no behaviour, so the session, the screen and the editor
share one vocabulary without importing each other.
"""
import enum
from typing import NamedTuple, Optional, Union


class _End:
    """Sentinel for the end of input: Ctrl-D on an empty line, or EOF on a pipe."""

    def __repr__(self) -> str:
        return "INPUT_END"


INPUT_END = _End()

#: A line typed (without its newline), or INPUT_END.
Submitted = Union[str, _End]


class State(enum.Enum):
    #: The name is sent; waiting for the welcome.
    JOINING = "joining"
    #: In the room: input is sent, lines are shown.
    JOINED = "joined"
    #: "/quit" is sent; waiting for the server to close.
    QUITTING = "quitting"
    #: The connection was lost; the driver is reconnecting.
    RECONNECTING = "reconnecting"
    #: Reconnected, "/resume" sent; waiting for the welcome back (or a gap).
    RESUMING = "resuming"
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
    #: The line, without its room prefix (see `room`).
    text: str
    style: Style
    #: The server's time for the line (its ``time`` tag), in ms since the
    #: epoch; None when it sent none (then the arrival time is shown).
    time_ms: Optional[int] = None
    #: The room the line is from, shown before it; None: the default room, or no room's.
    room: Optional[str] = None


class Warn(NamedTuple):
    """A problem that does not end the session, for stderr."""

    message: str


class Prompt(NamedTuple):
    """The server now knows you as `name` (welcome or /nick), talking in
    `room` (None: the default room, or none): the prompt shows the room, else the name."""

    name: str
    room: Optional[str] = None


class Finish(NamedTuple):
    status: int
    error: Optional[str] = None


class Reconnect(NamedTuple):
    """Close the connection and connect again, after back-off waits (`backoff`),
    then call `ClientSession.connected`; after `window` seconds without one,
    call `ClientSession.give_up`. The driver keeps its deadline if it is
    already reconnecting (a new connection lost before the welcome back)."""

    window: float


class AskPassword(NamedTuple):
    """The name is registered and no password was given: ask the person at
    the terminal (without echo), then call `ClientSession.give_password`."""

    name: str


Decision = Union[Show, Warn, Prompt, Finish, Reconnect, AskPassword]
