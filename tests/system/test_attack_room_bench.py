"""bench/attack_room.py, tiny: each attack runs through `run` and reports its figures."""
import sys

import pytest

from support.constants import BENCH

sys.path.insert(0, str(BENCH))
import attack_room  # noqa: E402


@pytest.mark.parametrize("argv, figures", [
    (["--attack", "who", "--room", "60", "--attackers", "3", "--seconds", "1"],
     {"answers", "answers_per_second"}),
    (["--attack", "held", "--sessions", "80"], {"sessions_made", "names_held"}),
    (["--attack", "replay", "--resumers", "5"], {"resumed", "rss_growth_mib"}),
])
def test_each_attack_runs_and_reports(argv, figures):
    result = attack_room.run(attack_room.parse_args(argv))
    assert figures | {"server_cpu_percent", "rss_before_mib", "rss_peak_mib", "chat"} <= set(result)
    assert result["chat"]["lines"] > 0 and result["chat"]["lost"] == 0
    if result["attack"] == "held":
        assert result["names_held"] == 64  # the per-address cap (--max-per-ip's default)
    if result["attack"] == "replay":
        assert result["resumed"] == 5
