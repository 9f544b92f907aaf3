"""The bus outage (``flood.py --nodes N --bus-outage stop|kill``).

An outage (`nodes.Outage`: the bus made unavailable, then back) is begun in
the middle of the run, halfway between its start and ``duration`` less the
outage (or once every sender has sent half its messages), and ended
``seconds`` later; the run lasts until it has ended, and the drain then gives
the nodes `CATCH_UP` seconds to publish what they kept meanwhile.
"""
import time
from typing import Optional, Set

from modes.base import NEVER, Mode
from nodes import Outage

#: After a bus outage, the nodes reconnect and publish the lines they kept: a
#: quiet stream ends the drain only this long after the bus is back.
CATCH_UP = 10.0
#: During an outage each node delivers its own lines at once and the others'
#: when the bus is back, so messages sent from this long before the outage
#: (in flight when Redis went) to CATCH_UP after it are left out of the
#: one-order check; everything else must be in one order everywhere.
MARGIN = 2.0


class BusOutage(Mode):
    name = "outage"

    def __init__(self, outage: Outage) -> None:
        super().__init__()
        self.outage = outage
        self.at: Optional[float] = None  # when it began
        self.end: Optional[float] = None  # when it ended

    def begin_run(self, now: float) -> None:
        self.wake = now + (self.swarm.sc.duration - self.outage.seconds) / 2

    def step(self, now: float, half: bool) -> None:
        if self.at is None and half:
            self.wake_up(now)

    def wake_up(self, now: float) -> None:
        """Begin the outage, or end it once it has lasted its seconds."""
        if self.at is None:
            self.at, self.wake = now, now + self.outage.seconds
            self.outage.begin()
        else:
            self.outage.end()
            self.end, self.wake = time.monotonic(), NEVER

    def finished(self) -> bool:
        return self.end is not None

    def patience(self, start: float) -> float:
        return self.end + CATCH_UP if self.end is not None else start

    def unordered(self) -> Set[int]:
        """Messages sent around the outage, when nodes order lines each their own way."""
        if self.at is None:
            return set()
        swarm = self.swarm
        end = self.end if self.end is not None else time.monotonic()
        low = int((self.at - MARGIN - swarm.epoch) * 1e6)
        high = int((end + CATCH_UP - swarm.epoch) * 1e6)
        return {heard for conn in swarm.probes
                for heard, sent in zip(conn.probe.heard, conn.probe.sent_at)
                if low <= sent <= high}

    def result(self) -> dict:
        since = self.swarm.since_run
        return {"at_s": since(self.at), "end_s": since(self.end),
                "how": self.outage.how, "seconds": self.outage.seconds}
