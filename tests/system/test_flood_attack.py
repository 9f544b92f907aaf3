"""``python bench/flood.py --attack NAME``: the attack harnesses through the load
harness's one entry point, as docs/benchmarks.rst writes the commands."""
import json
import subprocess
import sys

from support.constants import BENCH


def flood(*argv: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(BENCH / "flood.py"), *argv], capture_output=True,
                          text=True, timeout=120)


def test_an_attack_runs_its_harness_with_the_options_after_its_name():
    done = flood("--attack", "held", "--sessions", "80")
    assert done.returncode == 0, done.stderr
    figures = json.loads(done.stdout)
    assert figures["attack"] == "held" and figures["names_held"] == 64  # the per-address cap


def test_an_unknown_attack_or_one_placed_after_other_options_is_refused():
    assert flood("--attack", "nosuch").returncode == 2
    late = flood("--clients", "30", "--attack", "held")
    assert late.returncode == 2 and "--attack NAME comes first" in late.stderr
