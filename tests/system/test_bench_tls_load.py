"""bench/tls_load.py: its two runs end and say what they measured (small runs,
checked for their figures, not for how fast they were)."""
import json
import subprocess
import sys

from support.constants import BENCH


def run(*args: str) -> dict:
    done = subprocess.run([sys.executable, str(BENCH / "tls_load.py"), *args, "--json"],
                          capture_output=True, text=True, timeout=120, cwd=BENCH)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_handshakes_are_counted_with_the_servers_cpu_for_them():
    figures = run("handshakes", "--seconds", "1", "--processes", "1")
    assert figures["handshakes"] > 0 and figures["failed"] == 0
    assert figures["server_us_per_handshake"] > 0
    assert figures["key"] == "ec"


def test_a_reconnect_storm_brings_every_client_back_and_times_the_chat():
    figures = run("reconnect", "--clients", "20", "--chatters", "3", "--processes", "1",
                  "--chat-rate", "20", "--calm", "0.5")
    assert figures["rejoined"] == 20
    assert figures["before_ms"]["count"] > 0 and figures["during_ms"]["count"] > 0
    assert figures["during_ms"]["p99"] >= figures["during_ms"]["p50"]
