"""The harness spreads its clients over loopback source addresses (--source-addresses).

A tiny run against a server that logs every connection's peer address: the
clients must come from 127.0.0.2, .3 and .4 in turn, not from 127.0.0.1, and
the run must be as clean as one from a single address.
"""
import re
import subprocess
import sys
from collections import Counter

from support.constants import BENCH
from support.servers import ServerProcess

FLOOD = BENCH / "flood.py"
TIMEOUT = 60


def test_clients_take_the_source_addresses_in_turn():
    server = ServerProcess("--max-per-ip", "0", "--flood-rate", "0", log_level="info")
    try:
        done = subprocess.run(
            [sys.executable, str(FLOOD), "--connect", f"127.0.0.1:{server.port}",
             "--clients", "6", "--senders", "1", "--messages", "3", "--source-addresses", "3"],
            capture_output=True, text=True, timeout=TIMEOUT, stdin=subprocess.DEVNULL)
        log = server.log()
    finally:
        server.stop()
    assert done.returncode == 0, done.stdout + done.stderr
    assert "lost 0, duplicated 0, out of order 0" in done.stdout
    # The bench's own reachability check connects once from 127.0.0.1 first.
    peers = Counter(re.findall(r"connection \d+ from (127\.0\.0\.\d+):\d+", log))
    assert {host: peers[host] for host in ("127.0.0.2", "127.0.0.3", "127.0.0.4")} == {
        "127.0.0.2": 2, "127.0.0.3": 2, "127.0.0.4": 2}, peers
    assert peers["127.0.0.1"] <= 1, peers
