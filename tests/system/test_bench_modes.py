"""The load harness's option table and its modes (bench/flood.py, bench/modes/).

Every bounded option refuses a value just past either bound, naming itself,
through the one generic check; and a mode written as the modes package says
(a `Mode` subclass, clients of its own) is driven through a whole run: its own
clients join, every point of the run reaches it, its figures land in the result
under its name.
"""
import sys


from support.constants import BENCH
from support.servers import ServerProcess

sys.path.insert(0, str(BENCH))
from modes.base import Mode  # noqa: E402
from protocols import PROTOCOLS  # noqa: E402
from swarm import Scenario, Swarm  # noqa: E402

class Recorder(Mode):
    """A mode with two clients of its own that notes every point it is called at."""

    name, what = "recorder", "recorder clients"

    def __init__(self) -> None:
        super().__init__()
        self.client_names = ["r0", "r1"]
        self.calls: list = []

    def attach(self, swarm) -> None:
        super().attach(swarm)
        self.calls.append("attach")

    def begin_run(self, now: float) -> None:
        self.calls.append("begin_run")

    def step(self, now: float, half: bool) -> None:
        if not self.calls or self.calls[-1] != "step":
            self.calls.append("step")

    def end_run(self) -> None:
        self.calls.append("end_run")

    def begin_drain(self) -> None:
        self.calls.append("begin_drain")

    def result(self) -> dict:
        return {"members": [conn.name for conn in self.members]}


def test_a_new_mode_is_driven_through_a_whole_run():
    server = ServerProcess("--flood-rate", "0", "--max-per-ip", "0")
    recorder = Recorder()
    swarm = Swarm(PROTOCOLS["chat"], [server.address],
                  Scenario(clients=3, senders=1, messages=10, duration=10.0), modes=[recorder])
    try:
        assert swarm.connect() and swarm.ready(), swarm.problems
        swarm.run()
        swarm.drain()
        result = swarm.result()
    finally:
        swarm.close()
        server.stop()
    assert recorder.calls == ["attach", "begin_run", "step", "end_run", "begin_drain"]
    assert sorted(result["recorder"]["members"]) == ["r0", "r1"]
    assert result["expected"] == 20 and not result["problems"]
    assert sum(s["received"] for s in result["per_sender"]) == 20
