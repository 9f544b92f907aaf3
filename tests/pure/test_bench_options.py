"""The load harness's option table: every bounded option refuses a value just past
either bound, naming itself, through the one generic check, and takes the bound itself;
options at odds are refused by a rule; each mode's options are grouped in the help.
"""
import sys

import pytest

from support.constants import BENCH

sys.path.insert(0, str(BENCH))
import flood  # noqa: E402
import servers  # noqa: E402

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


def test_options_at_odds_are_refused_by_a_rule(capsys):
    assert "--burst goes with --transport tcp" in _refused(
        capsys, "--burst", "2", "--transport", "ws")


def test_each_mode_groups_its_options_in_the_help(capsys):
    with pytest.raises(SystemExit):
        flood.parse_args(["--help"])
    help_text = capsys.readouterr().out
    for mode in ("storm", "churn", "outage"):
        assert f"\n{mode} mode:\n" in help_text
    storm = help_text.split("\nstorm mode:\n")[1]
    assert storm.lstrip().startswith("--burst N")
