"""What every mode is to the swarm: the few points of a run where it is called.

A mode is something a run does besides its messages (a storm of long lines,
clients that reset and resume, the bus taken away) and the figures that say
what it did to everyone else. The swarm (`swarm.Swarm`) drives every client and
counts every message; at each point below it calls every mode, and a mode
overrides only the points it needs. A mode may have clients of its own
(`client_names`): they join before the others, as the swarm's clients do
(TCP, the protocol's join line), read only to keep up, and are in `members`
once joined; the mode writes on them with `swarm.write`.
"""
from typing import TYPE_CHECKING, List, Optional, Set

from conn import Conn

if TYPE_CHECKING:  # the swarm imports the modes; a mode only calls it
    from swarm import Swarm

NEVER = float("inf")


class Mode:
    """A mode's points in a run; every one does nothing unless overridden."""

    #: Its figures' key in the run's result (and its JSON).
    name = ""
    #: What its own clients are called in a progress or problem message.
    what = "clients"
    #: When the swarm's loop should wake for it next (`wake_up` then runs).
    wake = NEVER

    def __init__(self) -> None:
        self.swarm: "Swarm"
        self.client_names: List[str] = []  # its own clients, opened before the others
        self.members: List[Conn] = []  # those that joined, in the order they did

    def attach(self, swarm: "Swarm") -> None:
        """Called once, when the swarm is made (before any connection)."""
        self.swarm = swarm

    def begin_run(self, now: float) -> None:
        """The run's messages begin."""

    def step(self, now: float, half: bool) -> None:
        """Once per pass of the run, after the senders were fed. `half`: every
        sender has sent half its messages (a run of a fixed count)."""

    def wake_up(self, now: float) -> None:
        """`wake` has come (in any phase)."""

    def finished(self) -> bool:
        """The run may end (its messages sent) once every mode says so."""
        return True

    def end_run(self) -> None:
        """The run's messages are over; the drain follows."""

    def patience(self, start: float) -> float:
        """The drain may end on a quiet stream only after this moment."""
        return start

    def begin_drain(self) -> None:
        """The drain begins: what it waits for is known now."""

    def drained(self) -> bool:
        """Everything it made reached every receiver (or it made nothing)."""
        return True

    def after_pass(self, began: float) -> None:
        """A pass of the loop that read something (begun at `began`) is over."""

    def unordered(self) -> Set[int]:
        """Messages (by number) the probes need not have heard in one order."""
        return set()

    def lost(self, conn: Conn) -> None:
        """The server closed one of its own clients."""

    def result(self) -> Optional[dict]:
        """Its raw figures, under `name` in the run's result."""
        return None
