"""The storm (``flood.py --burst``): clients that each send a whole burst at once.

``burst`` more clients (named ``s0``, ``s1``, ...) join first, read only to
keep up, and at one moment in the middle of the run (half the duration, or
once every sender has sent half its messages) each sends its whole burst:
``burst_lines`` lines of ``burst_bytes`` bytes, the most a server allows at
once. The messages go on meanwhile; every receiver counts the storm lines
apart from them (see `tally`). From the storm until the last of its lines
reached every receiver, the harness notes the longest wait between two reads
at a probe (a server loop pass that stalls shows there, as does a slow pass of
the harness's own, also noted), and which messages were in flight.
"""
import time
from array import array
from typing import TYPE_CHECKING, Dict, Optional

from conn import Conn, State
from message import storm_line
from modes.base import NEVER, Mode
from protocols import Record

if TYPE_CHECKING:
    from swarm import Scenario


class Storm(Mode):
    name, what = "storm", "burst clients"

    def __init__(self, scenario: "Scenario") -> None:
        super().__init__()
        self.lines, self.size = scenario.burst_lines, scenario.burst_bytes
        width = len(str(max(scenario.burst - 1, 0)))  # one width: storm lines of one size
        self.client_names = [f"s{i:0{width}d}" for i in range(scenario.burst)]
        self.closed_by_server = 0
        self._data: Dict[int, bytes] = {}  # burst number -> its whole burst
        self.at: Optional[float] = None  # when it was sent
        self.end: Optional[float] = None  # when its last line reached every receiver
        self.sent = 0  # storm lines sent, all clients together
        self.delivered = 0  # storm lines counted at the receivers
        self.last = 0.0  # when the latest storm line arrived
        self.gap = 0.0  # the longest wait between reads at a probe, meanwhile
        self.longest_pass = 0.0  # the harness's longest pass of the loop, meanwhile
        self._want = 0  # storm copies the drain waits for

    def record(self, protocol) -> Record:
        """A storm line as the receivers see it, for the checker."""
        return protocol.record(self.client_names[0], self.size)

    def begin_run(self, now: float) -> None:
        frame = self.swarm.protocol.frame
        self._data = {conn.number: b"".join([frame(storm_line(conn.number, i, self.size))
                                             for i in range(self.lines)])
                      for conn in self.members}
        self.wake = now + self.swarm.sc.duration / 2

    def step(self, now: float, half: bool) -> None:
        if self.at is None and (now >= self.wake or half):
            self._send(now)

    def _send(self, now: float) -> None:
        """Every burst client sends its whole burst, now."""
        self.at, self.wake = now, NEVER
        for conn in self.members:
            if conn.state is not State.CLOSED:
                self.swarm.write(conn, self._data.pop(conn.number))
                self.sent += self.lines
        if not self.expected():
            self.end = now

    def finished(self) -> bool:
        return self.at is not None

    def end_run(self) -> None:
        self.wake = NEVER

    def begin_drain(self) -> None:
        self._want = self.expected()

    def drained(self) -> bool:
        return self.delivered >= self._want

    def after_pass(self, began: float) -> None:
        if self.at is not None and self.end is None:
            self.longest_pass = max(self.longest_pass, time.monotonic() - began)

    def lost(self, conn: Conn) -> None:
        self.closed_by_server += 1

    def storming(self) -> bool:
        """Sent, so a probe's reads are timed."""
        return self.at is not None

    def expected(self) -> int:
        """Copies of storm lines the receivers should get (none of them sent one)."""
        return self.sent * len(self.swarm.joined)

    def arrived(self, count: int) -> None:
        self.delivered += count
        self.last = now = time.monotonic()
        if self.end is None and self.delivered >= self.expected():
            self.end = now

    def probe_read(self, conn: Conn, now: float) -> None:
        """While the storm lasts: the longest a probe waited for its next read."""
        if self.end is None:
            self.gap = max(self.gap, now - max(conn.last_rx, self.at))
        conn.last_rx = now

    def result(self) -> dict:
        """The storm's raw figures: its lines, its timing, the messages it met."""
        swarm = self.swarm
        got = [conn.tally.storm for conn in swarm.joined]
        want = self.sent
        result = {
            "joined": len(self.members), "closed_by_server": self.closed_by_server,
            "sent": self.sent, "expected": self.expected(), "received": sum(got),
            "lost": sum(max(0, want - n) for n in got),
            "duplicated": sum(max(0, n - want) for n in got),
            "at_s": None, "delivered_s": None, "latencies_us": array("q"),
            "longest_gap_s": self.gap, "harness_longest_pass_s": self.longest_pass,
        }
        if self.at is None:
            return result
        result["at_s"] = self.at - swarm.run_started
        if self.end is not None:
            result["delivered_s"] = self.end - self.at
        # Every message in flight at some moment of the storm: sent before it ended,
        # received after it began.
        start = int((self.at - swarm.epoch) * 1e6)
        end = int(((self.end or max(self.last, self.at)) - swarm.epoch) * 1e6)
        for conn in swarm.probes:
            for delay, sent in zip(conn.probe.latencies, conn.probe.sent_at):
                if sent <= end and sent + delay >= start:
                    result["latencies_us"].append(delay)
        return result
