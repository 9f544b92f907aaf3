"""The load harness (bench/flood.py): exact counts, its JSON, and fault detection.

Runs are tiny (a few clients, a second or two) and go through the command
line as a user would type it; the receive-side checker is tested on its own
in pure/test_bench_tally.py.
"""
import json
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from support.constants import BENCH
from support.servers import ServerProcess

FLOOD = BENCH / "flood.py"
TIMEOUT = 60

sys.path.insert(0, str(BENCH))
import nodes  # noqa: E402


def flood(*args: str, timeout: float = TIMEOUT) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(FLOOD), *args], capture_output=True,
                          text=True, timeout=timeout, stdin=subprocess.DEVNULL)


def flood_json(tmp_path: Path, *args: str) -> tuple:
    out = tmp_path / "run.json"
    done = flood(*args, "--json", str(out))
    return done, json.loads(out.read_text())


def test_counts_of_a_tiny_run_are_exact(tmp_path):
    done, doc = flood_json(tmp_path, "--clients", "3", "--senders", "1", "--messages", "10")
    assert done.returncode == 0, done.stderr
    run, = doc["runs"]
    m = run["messages"]
    # 1 sender x 10 messages x 2 other clients; both probes get all 10.
    assert (m["sent"], m["expected"], m["received"]) == (10, 20, 20)
    assert (m["lost"], m["duplicated"], m["out_of_order"], m["garbled"]) == (0, 0, 0, 0)
    assert m["per_sender"] == [{"sent": 10, "received": 20, "lost": 0, "duplicated": 0,
                                "out_of_order": 0}]
    assert run["latency_ms"]["samples"] == 20 and run["latency_ms"]["probes"] == 2
    assert "10 sent; deliveries expected 20, received 20" in done.stdout
    assert "lost 0, duplicated 0, out of order 0" in done.stdout
    assert "3 clients joined" in done.stdout


def test_small_saturating_run_loses_nothing(tmp_path):
    done, doc = flood_json(tmp_path, "--clients", "40", "--senders", "4", "--duration", "1.5",
                           "--window", "4")
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""  # piped: no progress line
    run, = doc["runs"]
    # The run that was asked for, and every client in it.
    asked = {"clients": 40, "senders": 4, "rate": 0.0, "window": 4, "duration": 1.5,
             "payload": 64, "messages": None, "transport": "tcp", "burst": 0, "churn": 0.0}
    assert {key: run["scenario"][key] for key in asked} == asked
    connect = run["connect"]
    assert connect["clients"] == connect["joined"] == connect["connections"] == 40
    assert 0 < connect["joined_s"] <= connect["ready_s"] < TIMEOUT
    # Nothing lost, and every figure derived from the counts the way its name says.
    m = run["messages"]
    assert m["sent"] > 4 and m["received"] == m["expected"] == m["sent"] * 39
    assert m["lost"] == m["duplicated"] == m["out_of_order"] == m["garbled"] == 0
    assert sum(sender["sent"] for sender in m["per_sender"]) == m["sent"]
    assert run["outcome"] == "ok" and run["problems"] == []
    assert run["server"]["kind"] == "selchat" and run["server"]["started_by_bench"]
    thr = run["throughput"]
    assert thr["run_s"] >= 1.5 and thr["busy_s"] >= 1.5 and thr["drain_s"] >= 0
    assert thr["deliveries_per_s"] == pytest.approx(m["received"] / thr["busy_s"])
    assert thr["messages_per_s"] == pytest.approx(m["sent"] / thr["busy_s"])
    lat = run["latency_ms"]
    assert lat["probes"] == 2 and lat["samples"] == 2 * m["sent"]  # each probe hears every line
    assert 0 < lat["p50"] <= lat["p90"] <= lat["p99"] <= lat["max"]
    for cpu in (run["server_cpu"], run["harness_cpu"]):
        assert cpu["seconds"] > 0
        assert cpu["us_per_delivery"] == pytest.approx(cpu["seconds"] * 1e6 / m["received"])
        assert 0 < cpu["percent"] <= 100 * doc["machine"]["cpus"]
    rss = run["server_rss_kb"]
    assert rss["peak"] >= rss["before"] > 0
    assert rss["per_connection"] == pytest.approx((rss["joined"] - rss["before"]) / 40)
    assert run["limited_by"] in ("server", "harness", "neither")
    # What the user reads: the same figures, as the report prints them.
    scpu, hcpu = run["server_cpu"], run["harness_cpu"]
    for line in (
        "scenario  40 clients, 4 senders, saturating (window 4), 1.5 s, 64-byte messages",
        f"server    selchat on {run['server']['address']} (pid {run['server']['pid']}, "
        "started by the bench)",
        f"connect   40 clients joined in {connect['joined_s']:.2f} s",
        f"messages  {m['sent']:,} sent; deliveries expected {m['expected']:,}, "
        f"received {m['received']:,}",
        "          lost 0, duplicated 0, out of order 0",
        f"rate      {thr['deliveries_per_s']:,.0f} deliveries/s ({thr['messages_per_s']:,.0f} "
        f"messages/s) over {thr['busy_s']:.2f} s",
        f"latency   p50 {lat['p50']:.2f} ms, p90 {lat['p90']:.2f} ms, p99 {lat['p99']:.2f} ms, "
        f"max {lat['max']:.2f} ms ({lat['samples']:,} samples at 2 probes)",
        f"server    CPU {scpu['percent']:,.0f} % of a core, {scpu['us_per_delivery']:,.3f} µs "
        "per delivery",
        f"harness   CPU {hcpu['percent']:,.0f} % of a core, {hcpu['us_per_delivery']:,.3f} µs "
        "per delivery",
    ):
        assert line in done.stdout, (line, done.stdout)


def test_fixed_rate_sends_on_schedule(tmp_path):
    done, doc = flood_json(tmp_path, "--clients", "8", "--senders", "2", "--rate", "40",
                           "--duration", "1")
    assert done.returncode == 0, done.stderr
    m = doc["runs"][0]["messages"]
    assert 70 <= m["sent"] <= 82  # 2 senders x 40/s x 1 s, give or take the last tick
    assert m["received"] == m["expected"] == m["sent"] * 7


def test_a_burst_storm_is_counted_apart_and_drops_nobody(tmp_path):
    done, doc = flood_json(tmp_path, "--clients", "5", "--senders", "1", "--messages", "10",
                           "--burst", "3", "--burst-lines", "2", "--burst-bytes", "1000")
    assert done.returncode == 0, done.stdout + done.stderr
    run, = doc["runs"]
    m, storm = run["messages"], run["storm"]
    # The messages are checked as ever: the burst clients are no receivers of theirs.
    assert (m["sent"], m["expected"], m["received"]) == (10, 40, 40)
    assert (m["lost"], m["duplicated"], m["out_of_order"], m["garbled"]) == (0, 0, 0, 0)
    assert m["unexpected_lines"] == 0
    # 3 burst clients x 2 lines, to each of the 5 ordinary clients.
    assert (storm["clients"], storm["joined"], storm["lines_each"], storm["line_bytes"]) == (
        3, 3, 2, 1000)
    assert (storm["sent"], storm["expected"], storm["received"]) == (6, 30, 30)
    assert storm["lost"] == storm["duplicated"] == 0
    assert run["drops"] == {"readers": 0, "burst_clients": 0}
    assert run["outcome"] == "ok" and run["problems"] == []
    assert storm["at_s"] >= 0 and storm["delivered_s"] >= 0
    assert storm["latency_ms"]["samples"] > 0
    assert storm["latency_ms"]["p99"] <= storm["latency_ms"]["max"]
    assert storm["longest_gap_ms"] >= 0 and storm["harness_longest_pass_ms"] >= 0
    assert storm["server_rss_peak_kb"] == run["server_rss_kb"]["peak"] > 0
    assert run["connect"]["connections"] == 8
    assert "storm     3 burst clients x 2 lines of 1,000 B: sent " in done.stdout
    assert "copies expected 30, received 30; lost 0, duplicated 0" in done.stdout
    assert "readers dropped by the server 0, burst clients 0" in done.stdout


def test_a_run_without_a_burst_has_no_storm(tmp_path):
    done, doc = flood_json(tmp_path, "--clients", "3", "--senders", "1", "--messages", "5")
    assert done.returncode == 0, done.stderr
    run, = doc["runs"]
    assert run["storm"] is None and run["drops"] == {"readers": 0, "burst_clients": 0}
    assert "storm " not in done.stdout


def test_churned_clients_resume_with_nothing_lost(tmp_path):
    done, doc = flood_json(tmp_path, "--clients", "30", "--senders", "2", "--rate", "20",
                           "--duration", "2.5", "--churn", "20")
    assert done.returncode == 0, (done.stdout, done.stderr)
    run, = doc["runs"]
    m, churn = run["messages"], run["churn"]
    assert m["received"] == m["expected"] == m["sent"] * 29 > 0
    assert m["lost"] == m["duplicated"] == m["out_of_order"] == m["garbled"] == 0
    # 26 listeners (30 less 2 probes and 2 senders), 20 %: 5 a second, for 2.5 s: 10
    # on time, at least one second's 5 on a machine so loaded the schedule slips.
    resets = churn["resets"]
    assert churn["resumed"] == resets and 5 <= resets <= 10
    assert churn["gaps"] == churn["notices"] == 0
    assert 0 < churn["welcome_back_ms"]["p50"] <= churn["welcome_back_ms"]["p99"]
    assert (f"churn     {resets} resets, {resets} resumed, 0 gaps, 0 join/leave notices"
            in done.stdout)


def test_a_burst_storm_during_churn_reaches_resumed_clients_too(tmp_path):
    done, doc = flood_json(tmp_path, "--clients", "30", "--senders", "2", "--rate", "10",
                           "--messages", "20", "--churn", "20", "--burst", "3",
                           "--burst-lines", "2", "--burst-bytes", "1000")
    assert done.returncode == 0, (done.stdout, done.stderr)
    run, = doc["runs"]
    m, storm, churn = run["messages"], run["storm"], run["churn"]
    assert (m["sent"], m["expected"], m["received"]) == (40, 1160, 1160)
    assert m["lost"] == m["duplicated"] == m["out_of_order"] == m["garbled"] == 0
    # 3 burst clients x 2 lines, to each of the 30 ordinary clients, the tags stripped.
    assert (storm["sent"], storm["expected"], storm["received"]) == (6, 180, 180)
    assert storm["lost"] == storm["duplicated"] == 0 and m["unexpected_lines"] == 0
    assert churn["resets"] == churn["resumed"] > 0 and churn["gaps"] == churn["notices"] == 0
    assert run["outcome"] == "ok" and run["problems"] == []


@pytest.fixture
def faulty_server():
    """faulty_server(fault) -> (port, pid) of bench/peers/faulty.py, stopped afterwards."""
    started = []

    def start(fault: str):
        server = ServerProcess(command=[sys.executable, str(BENCH / "peers" / "faulty.py"),
                                        "--fault", fault, "--port", "0"])
        started.append(server)
        return server.port, server.proc.pid

    yield start
    for server in started:
        server.stop()


@pytest.mark.parametrize("fault, lost, duplicated, out_of_order", [
    ("drop", 1, 0, 0),
    ("dup", 0, 1, 1),
    ("swap", 0, 0, 1),
])
def test_a_faulty_server_is_caught(tmp_path, faulty_server, fault, lost, duplicated,
                                   out_of_order):
    port, pid = faulty_server(fault)
    done, doc = flood_json(tmp_path, "--connect", f"127.0.0.1:{port}", "--server-pid", str(pid),
                           "--clients", "4", "--senders", "1", "--messages", "20")
    assert done.returncode == 1
    m = doc["runs"][0]["messages"]
    assert (m["lost"], m["duplicated"], m["out_of_order"]) == (lost, duplicated, out_of_order)
    assert m["sent"] == 20 and m["expected"] == 60
    assert "FAULTY" in done.stdout
    assert doc["runs"][0]["server"] == {"kind": "selchat", "label": "selchat",
                                        "address": f"127.0.0.1:{port}", "pid": pid,
                                        "started_by_bench": False, "unmetered": None}


# -- comparing, sweeping, refusing --------------------------------------------------


def test_compare_puts_every_server_in_one_table(tmp_path):
    done, doc = flood_json(tmp_path, "--compare", "--repeat", "1", "--clients", "6",
                           "--senders", "2", "--messages", "20")
    assert done.returncode == 0, done.stdout + done.stderr
    kinds = [row["server"] for row in doc["table"]]
    assert kinds[:3] == ["selchat", "threaded", "asyncio"]
    for kind in kinds:
        assert done.stdout.count(f"\n{kind} ") == 2  # one row in each table
    tables = done.stdout[done.stdout.index("\nserver "):]
    assert max(len(line) for line in tables.splitlines()) <= 100
    for heading in ("deliveries/s", "µs/delivery", "p50 ms", "p99 ms", "faults", "server CPU %",
                    "harness CPU %", "RSS KB/conn", "joined s", "failed", "harness-bound"):
        assert f"  {heading}" in done.stdout
    for run in doc["runs"]:
        m = run["messages"]
        assert m["received"] == m["expected"] > 0 and not m["lost"]


def test_sweep_tabulates_each_value(tmp_path):
    done, doc = flood_json(tmp_path, "--sweep", "clients=3,6", "--senders", "1",
                           "--messages", "5")
    assert done.returncode == 0, done.stdout + done.stderr
    assert [(row["value"], row["server"]) for row in doc["table"]] == [
        (3, "selchat"), (6, "selchat")]
    assert "\nclients  server " in done.stdout
    assert "\n3        selchat " in done.stdout and "\n6        selchat " in done.stdout
    assert [r["messages"]["expected"] for r in doc["runs"]] == [10, 25]


@pytest.mark.parametrize("args, message", [
    (["--connect", "192.0.2.1:4000"], "not a loopback address"),
    (["--senders", "5", "--clients", "3"], "--senders"),
    (["--payload", "8"], "--payload"),
    (["--sweep", "window=1,2"], "--sweep"),
    (["--burst", "-1"], "--burst"),
    (["--burst", "2", "--burst-bytes", "4097"], "--burst-bytes"),
    (["--burst", "2", "--burst-lines", "0"], "--burst-lines"),
    (["--burst", "2", "--server", "redis"], "--burst needs a chat server"),
    (["--burst", "2", "--transport", "ws"], "--burst goes with --transport tcp"),
    (["--churn", "10", "--server", "threaded"], "--churn"),
    (["--churn", "101"], "--churn"),
    (["--bus-outage", "stop"], "--bus-outage needs --nodes"),
    (["--nodes", "2", "--bus-outage", "kill", "--duration", "2", "--bus-outage-seconds", "2"],
     "less than --duration"),
    (["--nodes", "17"], "--nodes must be"),
    (["--nodes", "2", "--server", "threaded"], "--nodes starts selchat itself"),
    (["--compare-bus", "--nodes", "2"], "drop --nodes"),
    (["--compare-bus", "--compare"], "--compare-bus starts selchat itself"),
])
def test_bad_options_are_refused(args, message):
    done = flood(*args)
    assert done.returncode == 2 and message in done.stderr


def test_help_explains_every_option():
    done = flood("--help")
    for option in ("--clients", "--senders", "--rate", "--window", "--duration", "--payload",
                   "--messages", "--connect", "--server-pid", "--json", "--compare",
                   "--repeat", "--sweep", "--allow-remote", "--burst", "--burst-lines",
                   "--burst-bytes", "--churn", "--nodes", "--bus-outage",
                   "--bus-outage-seconds", "--compare-bus"):
        assert option in done.stdout


def test_an_unreachable_server_fails_cleanly():
    with socket.socket() as sock:  # a port that was free a moment ago
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    done = flood("--connect", f"127.0.0.1:{port}", "--clients", "2", "--senders", "1",
                 "--messages", "1", timeout=30)
    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr == (f"flood.py: cannot connect to 127.0.0.1:{port}: connection refused "
                           "(is the server running?)\n")


#: Runs flood.py as if psutil were not installed.
WITHOUT_PSUTIL = ("import runpy, sys; sys.modules['psutil'] = None; sys.path.insert(0, {bench!r}); "
                  "sys.argv = ['flood.py', *sys.argv[1:]]; "
                  "runpy.run_path({flood!r}, run_name='__main__')")


def flood_without_psutil(*args: str) -> subprocess.CompletedProcess:
    code = WITHOUT_PSUTIL.format(bench=str(BENCH), flood=str(FLOOD))
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                          timeout=TIMEOUT, stdin=subprocess.DEVNULL)


def test_help_and_a_run_need_no_psutil():
    assert flood_without_psutil("--help").returncode == 0
    done = flood_without_psutil("--clients", "3", "--senders", "1", "--messages", "5")
    assert done.returncode == 0, done.stderr
    assert "\nserver    CPU and RSS n/a (psutil not installed)\n" in done.stdout
    assert "deliveries expected 10, received 10" in done.stdout


def test_a_phase_that_overruns_its_budget_stops_the_run():
    with socket.create_server(("127.0.0.1", 0)) as silent:  # connects, never says a word
        port = silent.getsockname()[1]
        done = flood("--connect", f"127.0.0.1:{port}", "--clients", "3", "--senders", "1",
                     "--messages", "1", "--phase-timeout", "0.5", timeout=30)
    assert done.returncode == 1
    assert "connect phase overran its 0.5 s budget: 0 of 3 clients joined" in done.stdout


# -- nodes on a bus: the one-order check, and runs against a Redis --------------------
# The bench starts its own Redis; conftest's `start_redis` is asked for its rule only
# (skipped without redis-server, unless SELCHAT_REQUIRE_REDIS=1) and starts none.


def _ask(port: int, command: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(command + b"\r\n")
        return sock.recv(4096)


@pytest.mark.redis
def test_a_killed_bus_comes_back_with_its_stream(start_redis):
    bus = nodes.Bus()
    try:
        port, before = bus.port, bus.server.pid
        assert _ask(port, b"XADD room * line one").endswith(b"-0\r\n")
        outage = nodes.Outage(bus, "kill", 1.0)
        outage.begin()
        assert bus.server.proc.returncode == -signal.SIGKILL
        spent = bus.cpu_seconds()
        outage.end()
        assert (bus.port, bus.url) == (port, f"redis://127.0.0.1:{port}")
        assert bus.server.pid != before
        assert _ask(port, b"XLEN room") == b":1\r\n"  # from the append-only file
        assert bus.cpu_seconds() >= spent  # the killed process's CPU still counts
    finally:
        bus.stop()
    assert bus.server.proc.returncode is not None


@pytest.mark.redis
def test_a_stopped_bus_is_continued_before_it_is_stopped_for_good(start_redis):
    bus = nodes.Bus()
    nodes.Outage(bus, "stop", 1.0).begin()
    assert bus.paused
    bus.stop()  # SIGCONT first, or SIGTERM would wait for the kill deadline
    assert bus.server.proc.returncode == 0 and not bus.paused


# Runs of selchat nodes on a bus (serve --bus).


@pytest.mark.redis
def test_nodes_on_a_bus_deliver_every_line_once_in_one_order(tmp_path, start_redis):
    done, doc = flood_json(tmp_path, "--nodes", "2", "--clients", "4", "--senders", "1",
                           "--messages", "10")
    assert done.returncode == 0, done.stdout + done.stderr
    run, = doc["runs"]
    m, lat = run["messages"], run["latency_ms"]
    # 1 sender x 10 messages x 3 other clients, whichever node each is on.
    assert (m["sent"], m["expected"], m["received"]) == (10, 30, 30)
    assert (m["lost"], m["duplicated"], m["out_of_order"], m["garbled"]) == (0, 0, 0, 0)
    assert [node["address"] for node in run["nodes"]] != [None, None]
    assert sum(node["received"] for node in run["nodes"]) == 30
    assert {node["pid"] for node in run["nodes"]} != {run["bus"]["pid"]}
    assert run["bus"]["lines"] == 10 and run["bus"]["url"].startswith("redis://127.0.0.1:")
    # Two clients a node; roles take the nodes in turn: the first to join (node A)
    # and the last on each node are probes, the first on node B sends. So one probe
    # is on the sender's node and two are on the other.
    assert lat["probes"] == 3 and lat["samples"] == 30
    assert (lat["same_node"]["samples"], lat["cross_node"]["samples"]) == (10, 20)
    assert run["order"] == {"identical": True, "probes": 3, "compared": 10}
    assert run["outage"] is None and run["outcome"] == "ok"
    assert "order     identical on every node: yes" in done.stdout
    assert "nodes     2 selchat nodes sharing the room through Redis at" in done.stdout


@pytest.mark.redis
def test_a_bus_outage_loses_nothing_and_drops_nobody(tmp_path, start_redis):
    done, doc = flood_json(tmp_path, "--nodes", "2", "--bus-outage", "stop",
                           "--bus-outage-seconds", "1", "--clients", "4", "--senders", "1",
                           "--rate", "10", "--messages", "20")
    assert done.returncode == 0, done.stdout + done.stderr
    run, = doc["runs"]
    m, outage = run["messages"], run["outage"]
    assert (m["sent"], m["expected"], m["received"]) == (20, 60, 60)
    assert (m["lost"], m["duplicated"], m["out_of_order"], m["garbled"]) == (0, 0, 0, 0)
    # Halfway through the messages, for a second; the run goes on until it is over.
    assert (outage["how"], outage["seconds"], outage["disconnects"]) == ("stop", 1.0, 0)
    assert 0.5 <= outage["at_s"] and outage["end_s"] - outage["at_s"] >= 1.0
    assert run["throughput"]["run_s"] >= outage["end_s"]
    assert run["drops"]["readers"] == 0 and run["outcome"] == "ok"
    assert "outage    Redis stopped (SIGSTOP, SIGCONT) for 1 s, from " in done.stdout
    assert "client disconnects 0" in done.stdout


@pytest.mark.redis
def test_compare_bus_puts_selchat_alone_and_on_a_bus_side_by_side(tmp_path, start_redis):
    done, doc = flood_json(tmp_path, "--compare-bus", "--repeat", "1", "--clients", "3",
                           "--senders", "1", "--messages", "5")
    assert done.returncode == 0, done.stdout + done.stderr
    assert [row["server"] for row in doc["table"]] == ["selchat", "selchat+bus"]
    alone, on_bus = doc["runs"]
    assert alone["bus"] is None and on_bus["bus"]["lines"] == 5 and len(on_bus["nodes"]) == 1
    for run in (alone, on_bus):
        assert run["messages"]["received"] == run["messages"]["expected"] == 10
    cost, = doc["bus_cost"]
    assert set(cost) == {"value", "us_per_delivery_without", "us_per_delivery_with", "ratio",
                         "target", "redis_us_per_line"} and cost["target"] == 1.15
    assert "\nbus cost: server " in done.stdout


def test_a_tiny_irc_run_counts_every_copy(tmp_path):
    """--transport irc against selchat's IRC port (its pieces: pure/test_bench_irc.py)."""
    done, doc = flood_json(tmp_path, "--transport", "irc", "--clients", "4", "--senders", "2",
                           "--messages", "20")
    assert done.returncode == 0, done.stdout + done.stderr
    run, = doc["runs"]
    m = run["messages"]
    # 2 senders x 20 messages x 3 other members; IRC sends nobody their own.
    assert (m["sent"], m["expected"], m["received"]) == (40, 120, 120)
    assert (m["lost"], m["duplicated"], m["out_of_order"], m["garbled"]) == (0, 0, 0, 0)
    assert run["latency_ms"]["samples"] > 0
    assert "over IRC" in done.stdout
