"""The load harness's option table and its modes (bench/flood.py, bench/modes/).

Every bounded option refuses a value just past either bound, naming itself,
through the one generic check; and a mode written as the modes package says
(a `Mode` subclass, clients of its own) is driven through a whole run: its own
clients join, every point of the run reaches it, its figures land in the result
under its name.
"""
import sys

import pytest

from support.constants import BENCH
from support.servers import ServerProcess

sys.path.insert(0, str(BENCH))
import flood  # noqa: E402
import servers  # noqa: E402
from modes.base import Mode  # noqa: E402
from protocols import PROTOCOLS  # noqa: E402
from swarm import Scenario, Swarm  # noqa: E402

BOUNDED = [o for o in flood.OPTIONS if o.low is not None or o.high is not None]


def _bounds(option) -> tuple:
    defaults = flood.parse_args([])
    return tuple(b(defaults) if callable(b) else b for b in (option.low, option.high))


def _step(option) -> float:
    return 1 if option.type is int else 0.5


def _refused(capsys, *argv: str) -> str:
    with pytest.raises(SystemExit) as exit:
        flood.parse_args(list(argv))
    assert exit.value.code == 2
    return capsys.readouterr().err


@pytest.mark.pure
@pytest.mark.parametrize("option", BOUNDED, ids=[o.flag for o in BOUNDED])
def test_a_value_past_either_bound_is_refused_by_name(option, capsys):
    low, high = _bounds(option)
    outside = []
    if low is not None:
        outside.append(low if option.above else low - _step(option))
    if high is not None:
        outside.append(high + _step(option))
    for value in outside:
        assert f"{option.flag} must be" in _refused(capsys, option.flag, f"{value:g}")


@pytest.mark.pure
@pytest.mark.parametrize("option", BOUNDED, ids=[o.flag for o in BOUNDED])
def test_each_bound_itself_is_accepted(option):
    if option.flag == "--nodes" and not servers.available("redis"):
        pytest.skip("--nodes needs redis-server on PATH")
    low, high = _bounds(option)
    edges = ([low] if low is not None and not option.above else []) + (
        [high] if high is not None else [])
    others = [] if option.flag == "--senders" else ["--senders", "0"]  # --clients 1 alone
    for value in edges:
        args = flood.parse_args([*others, option.flag, f"{value:g}"])
        assert getattr(args, option.flag[2:].replace("-", "_")) == value


@pytest.mark.pure
def test_options_at_odds_are_refused_by_a_rule(capsys):
    assert "--burst goes with --transport tcp" in _refused(
        capsys, "--burst", "2", "--transport", "ws")


@pytest.mark.pure
def test_each_mode_groups_its_options_in_the_help(capsys):
    with pytest.raises(SystemExit):
        flood.parse_args(["--help"])
    help_text = capsys.readouterr().out
    for mode in ("storm", "churn", "outage"):
        assert f"\n{mode} mode:\n" in help_text
    storm = help_text.split("\nstorm mode:\n")[1]
    assert storm.lstrip().startswith("--burst N")


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
