#!/usr/bin/env python3
"""Load harness: many simulated clients against a chat server, and what it cost.

``python bench/flood.py`` starts its own ``selchat serve`` on a free loopback
port, runs the default scenario (500 clients, 10 of them sending as fast as
the server takes it, 10 s, 64-byte messages), prints a summary and stops the
server. ``--compare`` runs the same scenario, alternating, against the
baselines in ``bench/peers/`` and Redis pub/sub, and prints medians with their
ratio to selchat's: on a shared machine only figures measured side by side
mean anything. ``--sweep`` shows how each figure grows with the work.
``--burst N`` adds N clients that each send a full burst of the longest lines
at one moment in the middle of the run, and reports what that storm did to
everyone else: readers dropped, peak RSS, latency and stalls meanwhile.
``--churn PCT`` has that share of the listening clients reset and ``/resume``
every second, and reports the resumes, gaps and their latency. ``--nodes N``
runs N selchat processes sharing one room on a Redis bus (see `nodes`) and
adds each node's cost, Redis', latency within and across nodes, and whether
every node saw one order; ``--bus-outage`` takes the bus away for a while in
the middle of the run; ``--compare-bus`` measures what the bus costs one node.
See README.rst, "Benchmarks", for how to read every figure.

The harness is one process, one thread and one selector, like the server:
the modules beside this one are the clients (`swarm`), the receive-side
checks (`tally`), the message layout (`message`), the wire protocols
(`protocols`), the servers under test (`servers`) and their nodes and bus
(`nodes`), and the reports (`report`).
"""
import argparse
import json
import os
import platform
import resource
import socket
import sys
import textwrap
import time
from dataclasses import asdict
from typing import Callable, List, NamedTuple, Optional

import nodes
import report
import servers
from message import MAX_SENDERS, MIN_PAYLOAD, MIN_STORM
from protocols import PROTOCOLS
from swarm import Scenario, Swarm

#: The servers --compare runs, by transport: WebSocket clients reach only the
#: servers with a WebSocket endpoint, and mixed runs need TCP as well.
COMPARED = {"tcp": ("selchat", "threaded", "asyncio", "redis"),
            "ws": ("selchat", "websockets"), "mixed": ("selchat",)}
TRANSPORTS = tuple(COMPARED)
SWEEPABLE = ("clients", "senders", "payload")
MAX_CLIENTS = 50_000
MAX_DURATION = 600.0
#: selchat's default --max-line: a longer storm line would be refused, not relayed.
MAX_STORM_LINE = 4096
MAX_BURST, MAX_BURST_LINES = 10_000, 1000
#: Descriptors kept free beside the clients (stdio, selector, server pipes).
FD_RESERVE = 64
MAX_NODES = 16
MAX_OUTAGE = 60.0
#: --compare-bus: what selchat on a bus may cost per delivery, next to selchat alone.
BUS_COST_TARGET = 1.15


class Target(NamedTuple):
    """A server set-up runs measure: its name in the tables, the server, and
    how many selchat nodes share a bus (0: the server alone, no bus)."""

    label: str
    kind: str
    nodes: int = 0


def parse_args(argv: Optional[List[str]]) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="flood.py", description=__doc__.split("\n\n")[0],
        epilog="examples: flood.py | flood.py --compare | flood.py --sweep clients=100,500,1000 "
               "| flood.py --clients 200 --rate 20 | flood.py --connect 127.0.0.1:4000 "
               "--server-pid 1234 --json run.json")
    p.add_argument("--clients", type=int, default=500,
                   help="simulated clients, each a TCP connection that joins the chat "
                        "(default: %(default)s)")
    p.add_argument("--senders", type=int, default=10,
                   help="how many of the clients send messages; 0 only connects and idles "
                        "(default: %(default)s)")
    p.add_argument("--rate", type=float, default=0.0,
                   help="messages per second per sender, sent on schedule whatever the server "
                        "does; 0 saturates: each sender keeps --window messages in flight "
                        "(default: 0)")
    p.add_argument("--window", type=int, default=8,
                   help="when saturating, messages per sender sent but not yet seen by the "
                        "last client to join, the far end of every broadcast "
                        "(default: %(default)s)")
    p.add_argument("--duration", type=float, default=10.0,
                   help="seconds of sending: the timed run; with --messages, at most this "
                        "(default: %(default)s)")
    p.add_argument("--messages", type=int, default=None,
                   help="send exactly this many messages per sender, then drain, so the "
                        "counts are known in advance: 3 clients, 1 sender, 10 messages -> "
                        "20 deliveries (default: as many as --duration allows)")
    p.add_argument("--payload", type=int, default=64,
                   help=f"bytes of chat text per message, at least {MIN_PAYLOAD} "
                        "(default: %(default)s)")
    p.add_argument("--burst", type=int, default=0, metavar="N",
                   help="N more clients (besides --clients) that each send --burst-lines "
                        "lines of --burst-bytes bytes all at once, halfway through the run "
                        "(or once each sender has sent half its --messages); the report adds "
                        "readers dropped, peak RSS, latency and the longest stall meanwhile "
                        "(default: none)")
    p.add_argument("--burst-lines", type=int, default=20,
                   help="lines in each burst: selchat's default --flood-burst "
                        "(default: %(default)s)")
    p.add_argument("--burst-bytes", type=int, default=4000,
                   help="bytes of chat text per burst line, at most selchat's default "
                        f"--max-line ({MAX_STORM_LINE}) (default: %(default)s)")
    p.add_argument("--server", choices=sorted(servers.KINDS), default="selchat",
                   help="the server to start; with --connect, the protocol to speak "
                        "(redis, or selchat's for the others) (default: %(default)s)")
    p.add_argument("--transport", choices=TRANSPORTS, default="tcp",
                   help="how clients connect: tcp (the chat port), ws (WebSocket, on "
                        "selchat's --web-port) or mixed (every other client a WebSocket); "
                        "--compare --transport ws runs bench/peers/websockets_chat.py beside "
                        "selchat (default: %(default)s)")
    p.add_argument("--churn", type=float, default=0.0, metavar="PCT",
                   help="every second, PCT %% of the listening clients (not the probes, not "
                        "the senders) reset their connection and resume it (/resume); every "
                        "client then asks for /tags. selchat over TCP only (default: 0)")
    p.add_argument("--connect", metavar="HOST:PORT",
                   help="measure a server that is already running instead of starting one")
    p.add_argument("--server-pid", type=int, metavar="PID",
                   help="with --connect: the server's process id, for its CPU and memory")
    p.add_argument("--allow-remote", action="store_true",
                   help="allow --connect to an address that is not loopback")
    p.add_argument("--phase-timeout", type=float, metavar="SECONDS",
                   help="time allowed to the connect phase, and again to the ready phase; a "
                        "run that overruns it stops and says so (default: 10 s + 15 ms per "
                        "client)")
    p.add_argument("--json", metavar="FILE",
                   help="write every figure of every run to FILE as JSON; '-' writes it to "
                        "stdout instead of the text")
    p.add_argument("--nodes", type=int, default=0, metavar="N",
                   help="start N selchat nodes sharing one room through a Redis of their own "
                        "(selchat serve --bus; needs redis-server), clients spread over them "
                        "in turn; the report adds each node's CPU and RSS, Redis' CPU (and "
                        "per line published), latency within and across nodes, and whether "
                        "every node saw the room's lines in one order (default: one selchat, "
                        "no bus)")
    p.add_argument("--bus-outage", choices=nodes.OUTAGES,
                   help="with --nodes: in the middle of the run, make Redis unavailable for "
                        "--bus-outage-seconds: stop (SIGSTOP, then SIGCONT) or kill (SIGKILL, "
                        "then start it again on the same port and file); the report adds the "
                        "outage and the clients disconnected (must be 0), and the drain waits "
                        "for the lines the nodes kept meanwhile")
    p.add_argument("--bus-outage-seconds", type=float, default=5.0, metavar="SECONDS",
                   help="how long the bus is unavailable, less than --duration "
                        "(default: %(default)s)")
    p.add_argument("--compare", action="store_true",
                   help="alternate runs of selchat, bench/peers/threaded.py, "
                        "bench/peers/asyncio_chat.py and Redis pub/sub (when redis-server is "
                        "on PATH); one table of medians, with ratios to selchat")
    p.add_argument("--compare-bus", action="store_true",
                   help="alternate runs of selchat alone and of one selchat node on a Redis "
                        "bus; the tables, and the bus's cost: server µs per delivery with it "
                        f"over without (target ≤ {BUS_COST_TARGET}×)")
    p.add_argument("--repeat", type=int, default=None,
                   help="runs per server and value (default: 3 with --compare or "
                        "--compare-bus, else 1)")
    p.add_argument("--sweep", metavar="NAME=V1,V2,...",
                   help="run the scenario once per value of clients, senders or payload "
                        "(e.g. clients=100,500,1000,2000) and tabulate how each figure grows")
    args = p.parse_args(argv)
    try:
        _check(args)
    except ValueError as exc:
        p.error(str(exc))
    return args


def _check(args: argparse.Namespace) -> None:
    """Every count and duration bounded, every address local unless allowed."""
    if not 1 <= args.clients <= MAX_CLIENTS:
        raise ValueError(f"--clients must be 1..{MAX_CLIENTS}")
    if not 0 <= args.senders <= min(args.clients, MAX_SENDERS):
        raise ValueError(f"--senders must be 0..--clients (and at most {MAX_SENDERS})")
    if args.rate < 0 or args.window < 1:
        raise ValueError("--rate must be >= 0 and --window >= 1")
    if not 0 < args.duration <= MAX_DURATION:
        raise ValueError(f"--duration must be in (0, {MAX_DURATION:g}] seconds")
    if args.messages is not None and args.messages < 0:
        raise ValueError("--messages must be >= 0")
    if not MIN_PAYLOAD <= args.payload <= 4000:
        raise ValueError(f"--payload must be {MIN_PAYLOAD}..4000 bytes")
    if not 0 <= args.burst <= MAX_BURST:
        raise ValueError(f"--burst must be 0..{MAX_BURST}")
    if not 1 <= args.burst_lines <= MAX_BURST_LINES:
        raise ValueError(f"--burst-lines must be 1..{MAX_BURST_LINES}")
    if not MIN_STORM <= args.burst_bytes <= MAX_STORM_LINE:
        raise ValueError(f"--burst-bytes must be {MIN_STORM}..{MAX_STORM_LINE}")
    if args.burst and not args.compare and servers.KINDS[args.server] != "chat":
        raise ValueError("--burst needs a chat server (Redis pub/sub has no chat lines)")
    if args.burst and args.transport != "tcp":
        raise ValueError("--burst goes with --transport tcp (burst clients speak TCP)")
    if args.phase_timeout is not None and not 0 < args.phase_timeout <= 3600:
        raise ValueError("--phase-timeout must be in (0, 3600] seconds")
    if args.repeat is not None and not 1 <= args.repeat <= 20:
        raise ValueError("--repeat must be 1..20")
    if not 0 <= args.churn <= 100:
        raise ValueError("--churn must be 0..100 (percent)")
    if args.churn and (args.compare or args.server != "selchat" or args.transport != "tcp"):
        raise ValueError("--churn needs selchat's /resume: --server selchat, --transport tcp, "
                         "no --compare")
    if args.server_pid and not args.connect:
        raise ValueError("--server-pid goes with --connect")
    _check_bus(args)
    if args.transport != "tcp" and (args.connect or servers.KINDS[args.server] != "chat"):
        raise ValueError("--transport ws and mixed need a chat server the bench starts "
                         "(not --connect, not redis)")
    if args.server in servers.WEBSOCKET_ONLY and args.transport != "ws" and not args.compare:
        raise ValueError(f"{args.server} speaks WebSocket only: add --transport ws")
    if args.transport != "tcp" and not args.compare and (
            args.server not in servers.SPEAKS_WEBSOCKET):
        raise ValueError(f"{args.server} has no WebSocket endpoint: use --transport tcp")
    if args.connect:
        if args.compare:
            raise ValueError("--compare starts its own servers: drop --connect")
        host, _, port = args.connect.rpartition(":")
        host = host.strip("[]")
        if not host or not port.isdigit():
            raise ValueError("--connect wants HOST:PORT")
        if not args.allow_remote and not servers.is_loopback(host):
            raise ValueError(f"{host} is not a loopback address (add --allow-remote)")
        args.connect = (host, int(port))
    if args.sweep:
        name, _, values = args.sweep.partition("=")
        if name not in SWEEPABLE:
            raise ValueError(f"--sweep takes {', '.join(SWEEPABLE)}")
        try:
            args.sweep = (name, [int(v) for v in values.split(",") if v.strip()])
        except ValueError:
            raise ValueError("--sweep values are integers: clients=100,500") from None
        if not args.sweep[1] or len(args.sweep[1]) > 20:
            raise ValueError("--sweep wants 1 to 20 values")
        for value in args.sweep[1]:
            _check(argparse.Namespace(**{**vars(args), name: value, "sweep": None}))


def _check_bus(args: argparse.Namespace) -> None:
    """--nodes, --bus-outage and --compare-bus: selchat started here, Redis on PATH."""
    if not 0 <= args.nodes <= MAX_NODES:
        raise ValueError(f"--nodes must be 0..{MAX_NODES}")
    if args.bus_outage and not args.nodes:
        raise ValueError("--bus-outage needs --nodes")
    if not 0 < args.bus_outage_seconds <= MAX_OUTAGE:
        raise ValueError(f"--bus-outage-seconds must be in (0, {MAX_OUTAGE:g}]")
    if args.bus_outage and args.bus_outage_seconds >= args.duration:
        raise ValueError("--bus-outage-seconds must be less than --duration")
    if not (args.nodes or args.compare_bus):
        return
    option = "--nodes" if args.nodes else "--compare-bus"
    if args.compare_bus and args.nodes:
        raise ValueError("--compare-bus runs one node on a bus: drop --nodes")
    if args.compare or args.connect or args.server != "selchat" or args.churn:
        raise ValueError(f"{option} starts selchat itself: no --compare, --connect, --churn "
                         "or other --server")
    if not servers.available("redis"):
        raise ValueError(f"{option} needs redis-server on PATH")


def raise_fd_limit(needed: int) -> None:
    """Soft RLIMIT_NOFILE up to the hard one (servers we start inherit it)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        soft = hard
    if soft != resource.RLIM_INFINITY and needed > soft:
        sys.exit(f"flood.py: {needed} descriptors needed, but the open-file limit is {soft}")


def unreachable(address: tuple) -> Optional[str]:
    """Why nothing can connect to `address`, or None: said once, before any run."""
    try:
        with socket.create_connection(address, timeout=5):
            return None
    except OSError as exc:
        reason = os.strerror(exc.errno) if exc.errno else str(exc)
        reason = reason[:1].lower() + reason[1:]
        host, port = address
        where = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        return f"cannot connect to {where}: {reason} (is the server running?)"


def measure(target: Target, scenario: Scenario, connect=None, pid: Optional[int] = None,
            progress: Optional[Callable[[str], None]] = None,
            budget: Optional[float] = None, outage: Optional[tuple] = None) -> dict:
    """One run against `target` (started here unless `connect` is given): its
    figures. `outage`: (how, seconds) the bus is taken away mid-run."""
    kind = target.kind
    protocol = PROTOCOLS[servers.KINDS[kind]]
    if connect:
        cluster = nodes.Cluster([servers.attach(kind, connect[0], connect[1], pid)])
    else:
        extra = max(scenario.senders, 1) if protocol.separate_senders else 0
        if scenario.churn:  # a reset client's new connection may come before its old one goes
            extra += scenario.clients
        cluster = nodes.start(kind, scenario.clients + extra + scenario.burst + FD_RESERVE,
                              web=scenario.transport != "tcp", count=target.nodes)
    try:
        meter = servers.Meter(cluster.nodes, cluster.bus)
        trouble = nodes.Outage(cluster.bus, *outage) if outage else None

        def tick(now: float) -> None:
            meter.sample()
            if progress:
                progress(_status(target.label, swarm, now))

        swarm = Swarm(protocol, [node.address for node in cluster.nodes], scenario, tick,
                      budget, [node.web_address for node in cluster.nodes], trouble)
        try:
            meter.mark("join")
            ok = swarm.connect() and swarm.ready()
            meter.note("joined")
            meter.mark("run")
            if ok:
                swarm.run()
                swarm.drain()
            meter.mark("end")
            raw = swarm.result()
        finally:
            cluster.signal_stop()  # before our sockets close: no storm of leave notices
            swarm.close()
            if progress:
                progress("")
    finally:
        cluster.stop()
    if raw["outage"] is not None:
        raw["outage"].update(how=outage[0], seconds=outage[1])
    fig = report.figures(raw, asdict(scenario), cluster.describe(), meter.between("run", "end"),
                         meter.between("join", "run"), {**meter.rss, "nodes": meter.node_rss})
    fig["server"]["label"] = target.label
    return fig


def _status(label: str, swarm: Swarm, now: float) -> str:
    if swarm.phase == "run":
        sent = sum(s.sent for s in swarm.senders)
        return (f"[{label}] run {now - swarm.run_started:5.1f}/{swarm.sc.duration:g} s  "
                f"sent {sent:,}  delivered {swarm.delivered:,}")
    if swarm.phase == "connect":
        return f"[{label}] connect: {len(swarm.joined):,}/{swarm.sc.clients:,} joined"
    return f"[{label}] {swarm.phase}: {swarm.ready_count:,} ready, delivered {swarm.delivered:,}"


class Progress:
    """A live status line on a terminal's stderr; nothing anywhere else."""

    def __init__(self) -> None:
        self._last = 0.0

    def __call__(self, text: str) -> None:
        now = time.monotonic()
        if text and now - self._last < 0.2:
            return
        self._last = now
        sys.stderr.write("\r\033[K" + text)
        sys.stderr.flush()


def machine() -> dict:
    model = ""
    try:
        with open("/proc/cpuinfo") as info:
            model = next((line.split(":", 1)[1].strip() for line in info
                          if line.startswith("model name")), "")
    except OSError:
        pass
    return {"cpus": os.cpu_count(), "cpu": model or platform.processor(),
            "platform": platform.platform(), "python": platform.python_version()}


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    if args.connect:
        problem = unreachable(args.connect)
        if problem:
            print(f"flood.py: {problem}", file=sys.stderr)
            return 1
    base = Scenario(clients=args.clients, senders=args.senders, rate=args.rate,
                    window=args.window, duration=args.duration, payload=args.payload,
                    messages=args.messages, transport=args.transport, burst=args.burst,
                    burst_lines=args.burst_lines, burst_bytes=args.burst_bytes, churn=args.churn)
    targets = _targets(args)
    labels = [t.label for t in targets]
    name, values = args.sweep if args.sweep else (None, [None])
    repeat = args.repeat or (3 if args.compare or args.compare_bus else 1)
    biggest = max(values) if name == "clients" else args.clients
    raise_fd_limit(biggest * (2 if args.churn else 1) + max(args.senders, 1) + args.burst
                   + FD_RESERVE)
    text = args.json != "-"
    progress = Progress() if sys.stderr.isatty() and not args.json else None
    tabulate = args.compare or args.compare_bus or args.sweep
    outage = (args.bus_outage, args.bus_outage_seconds) if args.bus_outage else None
    if text and tabulate:
        print(f"scenario  {report.describe(asdict(base))}"
              + (f"; sweeping {name} over {values}" if name else ""))
    runs, grouped = [], {}
    total = len(values) * repeat * len(targets)
    for value in values:
        scenario = Scenario(**{**asdict(base), name: value}) if name else base
        for _ in range(repeat):
            for target in targets:  # alternate, so each server sees the same machine
                try:
                    fig = measure(target, scenario, args.connect, args.server_pid, progress,
                                  args.phase_timeout, outage)
                except RuntimeError as exc:  # a server that did not start
                    print(f"flood.py: {exc}", file=sys.stderr)
                    return 1
                runs.append(fig)
                grouped.setdefault((value, target.label), []).append(fig)
                if text and tabulate:
                    print(f"[{len(runs)}/{total}] {_one_line(fig)}", flush=True)
    cost = _bus_cost(grouped, values) if args.compare_bus else None
    if text:
        print(report.summary(runs[0]) if not tabulate else _tables(grouped, name, labels))
        for value, row in zip(values, cost or []):
            print(_cost_line(name, value, row))
    if args.json:
        document = {"bench": "selchat flood", "schema": 1, "command": sys.argv,
                    "machine": machine(), "runs": runs}
        if tabulate:
            document["table"] = [{"value": value, "server": label, **report.aggregate(figs)}
                                 for (value, label), figs in grouped.items()]
        if cost:
            document["bus_cost"] = [{"value": value, **row} for value, row in zip(values, cost)]
        out = json.dumps(document, indent=1, default=list)
        if args.json == "-":
            print(out)
        else:
            with open(args.json, "w") as f:
                f.write(out + "\n")
    clean = all(f["outcome"] == "ok" and not any(
        f["messages"][k] for k in ("lost", "duplicated", "out_of_order", "garbled"))
        and not (f["storm"] and (f["storm"]["lost"] or f["storm"]["duplicated"]))
        for f in runs)
    return 0 if clean else 1


def _targets(args: argparse.Namespace) -> List[Target]:
    """What the runs measure, in the order they take turns."""
    if args.compare_bus:
        return [Target("selchat", "selchat"), Target("selchat+bus", "selchat", 1)]
    if args.compare:
        return [Target(k, k) for k in COMPARED[args.transport] if servers.available(k)
                and (not args.burst or servers.KINDS[k] == "chat")]
    if args.nodes:
        return [Target(f"selchat×{args.nodes}", "selchat", args.nodes)]
    return [Target(args.server, args.server)]


def _bus_cost(grouped: dict, values: list) -> List[dict]:
    """Per value: median server µs per delivery with the bus and without, their
    ratio, and Redis' median µs per line published."""
    rows = []
    for value in values:
        alone, bus = grouped[(value, "selchat")], grouped[(value, "selchat+bus")]
        path = ("server_cpu", "us_per_delivery")
        without, on_bus = report.median(alone, path), report.median(bus, path)
        rows.append({"us_per_delivery_without": without, "us_per_delivery_with": on_bus,
                     "ratio": on_bus / without if on_bus is not None and without else None,
                     "target": BUS_COST_TARGET,
                     "redis_us_per_line": report.median(bus, ("bus", "us_per_line"))})
    return rows


def _cost_line(name: Optional[str], value, row: dict) -> str:
    at = f" at {name}={value}" if name else ""
    ratio = row["ratio"]
    verdict = "-" if ratio is None else f"{ratio:.2f}×" + (
        " (within" if ratio <= BUS_COST_TARGET else " (OVER") + f" the {BUS_COST_TARGET}× target)"
    return (f"bus cost{at}: server {report._n(row['us_per_delivery_with'], 3)} µs/delivery on "
            f"a bus, {report._n(row['us_per_delivery_without'], 3)} alone: {verdict}; Redis "
            f"{report._n(row['redis_us_per_line'], 3)} µs per line published")


def _one_line(fig: dict) -> str:
    m, sc = fig["messages"], fig["scenario"]
    return (f"{fig['server']['label']:8s} {sc['clients']:,} clients, {sc['senders']} senders: "
            f"{report._n(fig['throughput']['deliveries_per_s'])} deliveries/s, "
            f"server {report._n(fig['server_cpu']['us_per_delivery'], 3)} µs/delivery, "
            f"p99 {report._n(fig['latency_ms']['p99'], 2)} ms, lost {m['lost']:,}"
            + (f"; storm p99 {report._n(fig['storm']['latency_ms']['p99'], 2)} ms, "
               f"RSS peak {report._n(fig['storm']['server_rss_peak_kb'] / 1024, 1)} MB"
               if fig["storm"] and fig["storm"]["server_rss_peak_kb"] else "")
            + (f"  [{'; '.join(fig['problems'])}]" if fig["problems"] else ""))


def _tables(grouped: dict, name: Optional[str], targets: List[str]) -> str:
    """Two tables (see report.TABLES); ratios to selchat's row at the same value,
    or, sweeping one server, to the first value's row (how each figure grows)."""
    rows, first = [], {}
    for (value, target), figs in grouped.items():
        row = report.aggregate(figs)
        first.setdefault(target, row)
        if len(targets) == 1:
            reference = first[target]
        elif "selchat" in targets:
            reference = report.aggregate(grouped[(value, "selchat")])
        else:
            reference = None
        rows.append((((value,) if name else ()) + (target,), row, reference))
    labels = ((name,) if name else ()) + ("server",)
    runs = len(next(iter(grouped.values())))
    against = "selchat's" if len(targets) > 1 else f"the first {name} value's"
    note = (f"medians of {runs} runs each; (×) = the figure's ratio to {against}; faults = "
            "the worst run's lost + duplicated + out of order + garbled; failed and "
            "harness-bound count runs")
    return "\n" + "\n\n".join(report.table(labels, columns, rows)
                               for columns in report.TABLES) + "\n" + textwrap.fill(note, 99)


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(130)
