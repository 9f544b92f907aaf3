"""flood.py --transport irc: a tiny run against selchat's IRC port, counts exact
(the transport's pieces are tested in pure/test_bench_irc.py)."""
import json
import subprocess
import sys

from support.constants import BENCH

FLOOD = BENCH / "flood.py"


def test_a_tiny_irc_run_counts_every_copy(tmp_path):
    out = tmp_path / "run.json"
    done = subprocess.run([sys.executable, str(FLOOD), "--transport", "irc", "--clients", "4",
                           "--senders", "2", "--messages", "20", "--json", str(out)],
                          capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stdout + done.stderr
    run, = json.loads(out.read_text())["runs"]
    m = run["messages"]
    # 2 senders x 20 messages x 3 other members; IRC sends nobody their own.
    assert (m["sent"], m["expected"], m["received"]) == (40, 120, 120)
    assert (m["lost"], m["duplicated"], m["out_of_order"], m["garbled"]) == (0, 0, 0, 0)
    assert run["latency_ms"]["samples"] > 0
    assert "over IRC" in done.stdout
