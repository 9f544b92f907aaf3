"""The harness's WebSocket side: a short run against the `websockets` peer (its
frames against wsproto and selchat's own: pure/test_web_bench_frames.py)."""
import json
import subprocess
import sys

import pytest

from support.constants import BENCH



def test_short_run_against_the_websockets_peer(tmp_path):
    pytest.importorskip("websockets")
    out = tmp_path / "run.json"
    done = subprocess.run(
        [sys.executable, str(BENCH / "flood.py"), "--server", "websockets", "--transport", "ws",
         "--clients", "20", "--senders", "2", "--messages", "20", "--json", str(out)],
        capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stderr + done.stdout
    run, = json.loads(out.read_text())["runs"]
    m = run["messages"]
    assert (m["sent"], m["expected"], m["received"]) == (40, 760, 760)
    assert (m["lost"], m["duplicated"], m["out_of_order"], m["garbled"]) == (0, 0, 0, 0)


def test_transport_options_are_checked():
    def flood(*args):
        return subprocess.run([sys.executable, str(BENCH / "flood.py"), *args],
                              capture_output=True, text=True, timeout=30)
    assert flood("--server", "redis", "--transport", "ws").returncode == 2
    assert flood("--server", "websockets").returncode == 2
    assert flood("--server", "asyncio", "--transport", "mixed").returncode == 2
