"""``flood.py --tls``: selchat over clear text and over TLS in turn, the
harness's clients speaking TLS; every message counted, and TLS' cost said."""
import json
import shutil
import subprocess
import sys

import pytest

from support.constants import BENCH

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs openssl")


def test_a_tiny_tls_run_delivers_every_message(tmp_path):
    out = tmp_path / "runs.json"
    done = subprocess.run(
        [sys.executable, str(BENCH / "flood.py"), "--tls", "--clients", "5", "--senders", "2",
         "--messages", "20", "--repeat", "1", "--json", str(out)],
        capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stderr + done.stdout
    runs = json.loads(out.read_text())["runs"]
    assert [run["server"]["label"] for run in runs] == ["selchat", "selchat+tls"]
    for run in runs:
        assert run["outcome"] == "ok"
        assert run["messages"]["received"] == 2 * 20 * 4  # each message to the 4 others
        assert not any(run["messages"][k] for k in ("lost", "duplicated", "garbled"))
    assert "TLS cost: deliveries per s" in done.stdout


def test_tls_goes_with_selchat_over_tcp_only():
    done = subprocess.run([sys.executable, str(BENCH / "flood.py"), "--tls", "--transport", "ws"],
                          capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert done.returncode != 0 and "--tls starts selchat itself" in done.stderr
