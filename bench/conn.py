"""One harness connection, the states it goes through, and a client that talks."""
import selectors
import socket
from enum import Enum
from typing import TYPE_CHECKING, Dict, List, Optional

from rooms import sent_to
from tally import Probe, Tally
from wsclient import Masker, Unframer, new_key

if TYPE_CHECKING:
    from modes.base import Mode


class State(Enum):
    """Where a connection is; a client goes down the list, a churned one round
    its end again (READY, RECONNECTING, RESUMING, READY)."""

    CONNECTING = "connecting"  #: connect_ex sent, not yet writable
    JOINING = "joining"  #: its join line sent, no welcome yet
    JOINED = "joined"  #: welcomed (a publisher: connected), not yet ready
    READY = "ready"  #: has seen the ready marker: from now on it counts messages
    CLOSED = "closed"  #: closed by the server, or given up
    RECONNECTING = "reconnecting"  #: with churn: reset, its new connection under way
    RESUMING = "resuming"  #: with churn: /resume sent, no welcome back yet


class Conn:
    """One harness connection: a client, or (with Redis) a sender's publisher."""

    __slots__ = ("sock", "name", "node", "state", "carry", "tally", "probe", "last_rx",
                 "out", "events", "ws", "masker", "mode", "number", "token", "last_seq",
                 "reset_at", "first_byte", "entered")

    def __init__(self, sock: socket.socket, name: str, node: int, tally: Optional[Tally],
                 websocket: bool = False, mode: "Optional[Mode]" = None,
                 number: int = -1) -> None:
        self.sock, self.name, self.tally = sock, name, tally  # tally None: sends only
        self.node = node  # which of the server's processes it is connected to
        # A mode's own client (a burst client...): the mode, and its number there.
        self.mode, self.number = mode, number
        # A WebSocket client: its frame reader, and the masker of its own frames.
        self.masker = Masker() if websocket else None
        self.ws = Unframer(new_key()) if websocket else None
        self.state = State.CONNECTING
        self.carry = b""  # the start of a record or line the last read cut off
        self.probe: Optional[Probe] = None  # probes only: what each message was, and when
        self.last_rx = 0.0  # probes only: when a read last brought something
        self.out = bytearray()  # output the kernel did not take yet
        self.events = selectors.EVENT_WRITE  # the selector mask registered
        self.token = b""  # with churn: the resume token of its welcome
        self.last_seq = 0  # with churn: the seq of the last complete line taken
        self.reset_at = 0.0  # with churn: when its connection was last reset
        self.first_byte = True  # with churn: the new connection's first byte is timed
        #: Joining: its room join is sent (IRC sends JOIN once registered).
        self.entered = True


class Sender:
    """A client that talks: its messages so far, and where its window is measured."""

    __slots__ = ("index", "conn", "sent", "tracker", "phase", "rooms", "watchers")

    def __init__(self, index: int, conn: Conn, tracker: Tally, phase: float) -> None:
        self.index, self.conn, self.tracker, self.phase = index, conn, tracker, phase
        self.sent = 0
        self.rooms: List[bytes] = []  #: with --rooms: its rooms' names, in sending order
        #: With --rooms: per room slot, a member's counts for (room, this sender), or None
        #: (nobody else there): no one client hears all its rooms, so its window is
        #: measured per room.
        self.watchers: List[Optional[Dict]] = []

    def seen(self) -> int:
        """Its messages the far end has had: what its window is measured by."""
        if not self.rooms:
            return self.tracker.received[self.index]
        k, seen = len(self.rooms), 0
        for slot, (room, counts) in enumerate(zip(self.rooms, self.watchers)):
            if counts is None:  # nobody hears it: as good as seen
                seen += sent_to(self.sent, k, slot)
            else:
                seen += counts.get((room, self.index), (0,))[0]
        return seen
