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
``--rooms R --rooms-per-client K`` spreads the clients over R rooms, K each,
senders speaking to their rooms in turn, every line checked per room (`rooms`);
``--compare-rooms`` alternates that with one room and prints what the rooms
cost per delivery. ``--attack NAME`` runs one of the attack harnesses instead (`attacks`):
WebSocket frames, pipelined HTTP, /who searches, held sessions, resume
replays, a bus after Redis lost its data.
See docs/benchmarks.rst for how to read every figure.

The harness is one process, one thread and one selector, like the server:
the modules beside this one are the clients (`swarm`, one connection in
`conn`), what a run does besides its messages (`modes`: storm, churn, bus
outage, one module each), the receive-side checks (`tally`), the message
layout (`message`), who is in which room and the per-room checks (`rooms`),
the wire protocols (`protocols`), the servers under test
(`servers`) and their nodes and bus (`nodes`), and the reports (`report`).
Options are declared once, with their bounds, in `OPTIONS`; options that may
not go together in `RULES`.
"""
import argparse
import json
import os
import platform
import resource
import socket
import sys
import tempfile
import textwrap
import time
from dataclasses import asdict, replace
from typing import Any, Callable, Dict, List, NamedTuple, Optional, Tuple

import attacks
import nodes
import report
import servers
import tlsclient
from message import MAX_SENDERS, MIN_PAYLOAD, MIN_STORM
from protocols import PROTOCOLS
from attacks import ATTACKS
from modes import MODES, make
from swarm import Scenario, Swarm

#: The servers --compare runs, by transport: WebSocket clients reach only the
#: servers with a WebSocket endpoint, and mixed runs need TCP as well.
COMPARED = {"tcp": ("selchat", "threaded", "asyncio", "redis"),
            "ws": ("selchat", "websockets"), "mixed": ("selchat",)}
TRANSPORTS = tuple(COMPARED)
SWEEPABLE = ("clients", "senders", "payload")
MAX_CLIENTS = 200_000
MAX_DURATION = 600.0
#: selchat's default --max-line: a longer storm line would be refused, not relayed.
MAX_STORM_LINE = 4096
MAX_BURST, MAX_BURST_LINES = 10_000, 1000
#: Descriptors kept free beside the clients (stdio, selector, server pipes).
FD_RESERVE = 64
MAX_NODES = 16
#: --rooms: selchat's own --max-rooms ceiling is far above; a room costs the
#: harness a few dict entries per member.
MAX_ROOMS = 100_000
MAX_OUTAGE = 60.0
#: --compare-bus: what selchat on a bus may cost per delivery, next to selchat alone.
BUS_COST_TARGET = 1.15
#: --tls: what TLS may cost (issue 22): deliveries/s at least this share of clear
#: text's, server µs per delivery at most this many times clear text's.
TLS_THROUGHPUT_TARGET, TLS_COST_TARGET = 0.7, 1.5
#: --compare-rooms: what many small rooms may cost per delivery, next to one room (issue 20).
ROOMS_COST_TARGET = 1.3
#: --compare-data: what history on disk may cost (issue 23): server µs per delivery
#: (a saturating run) and latency p99 (a fixed-rate run), next to --no-data.
DATA_COST_TARGET, DATA_P99_TARGET = 1.15, 1.1


class Target(NamedTuple):
    """A server set-up runs measure: its name in the tables, the server, and
    how many selchat nodes share a bus (0: the server alone, no bus)."""

    label: str
    kind: str
    nodes: int = 0
    tls: bool = False  #: selchat over TLS only (--tls-cert, --no-clear), clients speaking it
    #: --compare-rooms: the (rooms, rooms per client) this target runs with instead
    #: of the options' (None: the options').
    rooms: Optional[Tuple[int, int]] = None
    #: selchat keeps history on disk (--data, in a temporary directory).
    data: bool = False


class Option(NamedTuple):
    """One command-line option, as `parse_args` declares and `_check` bounds it."""

    flag: str
    help: str
    type: Optional[Callable] = None
    default: Any = None
    #: Bounds, inclusive (a number, a function of the options, or None: unbounded).
    low: Any = None
    high: Any = None
    above: bool = False  #: `low` itself is out: (low, high]
    unit: str = ""  #: said after the bounds when a value is refused
    #: The modes (`modes.MODES`) it makes or shapes, grouped under them in --help.
    modes: Tuple[str, ...] = ()
    more: Dict[str, Any] = {}  #: the rest of add_argument's keywords


def _address(text: str) -> tuple:
    host, _, port = text.rpartition(":")
    host = host.strip("[]")
    if not host or not port.isdigit():
        raise argparse.ArgumentTypeError("--connect wants HOST:PORT")
    return host, int(port)


def _sweep(text: str) -> tuple:
    name, _, values = text.partition("=")
    if name not in SWEEPABLE:
        raise argparse.ArgumentTypeError(f"--sweep takes {', '.join(SWEEPABLE)}")
    try:
        numbers = [int(v) for v in values.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError("--sweep values are integers: clients=100,500") from None
    if not numbers or len(numbers) > 20:
        raise argparse.ArgumentTypeError("--sweep wants 1 to 20 values")
    return name, numbers


#: Every option, in --help order: a mode's options under the mode's name.
OPTIONS = (
    Option("--clients", "simulated clients, each a TCP connection that joins the chat "
           "(default: %(default)s)", int, 500, 1, MAX_CLIENTS),
    Option("--senders", "how many of the clients send messages; 0 only connects and idles "
           "(default: %(default)s)", int, 10, 0, lambda a: min(a.clients, MAX_SENDERS),
           unit=f"(at most --clients and {MAX_SENDERS})"),
    Option("--rate", "messages per second per sender, sent on schedule whatever the server "
           "does; 0 saturates: each sender keeps --window messages in flight (default: 0)",
           float, 0.0, 0),
    Option("--window", "when saturating, messages per sender sent but not yet seen by the "
           "last client to join, the far end of every broadcast (default: %(default)s)",
           int, 8, 1),
    Option("--duration", "seconds of sending: the timed run; with --messages, at most this "
           "(default: %(default)s)", float, 10.0, 0, MAX_DURATION, above=True, unit="seconds"),
    Option("--messages", "send exactly this many messages per sender, then drain, so the "
           "counts are known in advance: 3 clients, 1 sender, 10 messages -> 20 deliveries "
           "(default: as many as --duration allows)", int, None, 0),
    Option("--payload", f"bytes of chat text per message, at least {MIN_PAYLOAD} "
           "(default: %(default)s)", int, 64, MIN_PAYLOAD, 4000, unit="bytes"),
    Option("--burst", "N more clients (besides --clients) that each send --burst-lines "
           "lines of --burst-bytes bytes all at once, halfway through the run (or once each "
           "sender has sent half its --messages); the report adds readers dropped, peak RSS, "
           "latency and the longest stall meanwhile (default: none)", int, 0, 0, MAX_BURST,
           modes=("storm",), more={"metavar": "N"}),
    Option("--burst-lines", "lines in each burst: selchat's default --flood-burst "
           "(default: %(default)s)", int, 20, 1, MAX_BURST_LINES, modes=("storm",)),
    Option("--burst-bytes", "bytes of chat text per burst line, at most selchat's default "
           f"--max-line ({MAX_STORM_LINE}) (default: %(default)s)", int, 4000, MIN_STORM,
           MAX_STORM_LINE, modes=("storm",)),
    Option("--server", "the server to start; with --connect, the protocol to speak (redis, or "
           "selchat's for the others) (default: %(default)s)", None, "selchat",
           more={"choices": sorted(servers.KINDS)}),
    Option("--transport", "how clients connect: tcp (the chat port), ws (WebSocket, on "
           "selchat's --web-port) or mixed (every other client a WebSocket); --compare "
           "--transport ws runs bench/peers/websockets_chat.py beside selchat "
           "(default: %(default)s)", None, "tcp", more={"choices": TRANSPORTS}),
    Option("--churn", "every second, PCT %% of the listening clients (not the probes, not "
           "the senders) reset their connection and resume it (/resume); every client then "
           "asks for /tags. selchat over TCP only (default: 0)", float, 0.0, 0, 100,
           unit="(percent)", modes=("churn",), more={"metavar": "PCT"}),
    Option("--source-addresses", "bind clients to this many loopback source addresses in "
           "turn, 127.0.0.2 and up, so that ports do not run out (about 28,000 per source "
           "address); 0: never bind (default: one per 16,000 clients when more than one is "
           "needed)", int, None, 0, 100_000, more={"metavar": "N"}),
    Option("--rooms", "spread the clients over R rooms (#r0, #r1, ...; bench/rooms.py): "
           "client i joins rooms (i*K + j) mod R, j < K, senders /msg their rooms in turn, "
           "and receivers check loss, duplication and order per room and sender; selchat "
           "over TCP only (default: one room, plain lines)", int, 0, 0, MAX_ROOMS,
           more={"metavar": "R"}),
    Option("--rooms-per-client", "with --rooms: rooms each client joins, K, at most R "
           "(default: %(default)s)", int, 1, 1, lambda a: max(a.rooms, 1),
           unit="(at most --rooms)", more={"metavar": "K"}),
    Option("--announce-limit", "passed to the selchat started here: rooms over N members "
           "are not told of each join and leave, so joining 100,000 clients is not O(N²) "
           "(default: selchat's own)", int, None, 0, more={"metavar": "N"}),
    Option("--connect", "measure a server that is already running instead of starting one",
           _address, more={"metavar": "HOST:PORT"}),
    Option("--server-pid", "with --connect: the server's process id, for its CPU and memory",
           int, more={"metavar": "PID"}),
    Option("--allow-remote", "allow --connect to an address that is not loopback",
           more={"action": "store_true"}),
    Option("--phase-timeout", "time allowed to the connect phase, and again to the ready "
           "phase; a run that overruns it stops and says so (default: 10 s + 15 ms per "
           "client)", float, None, 0, 3600, above=True, unit="seconds",
           more={"metavar": "SECONDS"}),
    Option("--json", "write every figure of every run to FILE as JSON; '-' writes it to "
           "stdout instead of the text", more={"metavar": "FILE"}),
    Option("--nodes", "start N selchat nodes sharing one room through a Redis of their own "
           "(selchat serve --bus; needs redis-server), clients spread over them in turn; the "
           "report adds each node's CPU and RSS, Redis' CPU (and per line published), latency "
           "within and across nodes, and whether every node saw the room's lines in one order "
           "(default: one selchat, no bus)", int, 0, 0, MAX_NODES, more={"metavar": "N"}),
    Option("--bus-outage", "with --nodes: in the middle of the run, make Redis unavailable "
           "for --bus-outage-seconds: stop (SIGSTOP, then SIGCONT) or kill (SIGKILL, then "
           "start it again on the same port and file); the report adds the outage and the "
           "clients disconnected (must be 0), and the drain waits for the lines the nodes "
           "kept meanwhile", modes=("outage",), more={"choices": nodes.OUTAGES}),
    Option("--bus-outage-seconds", "how long the bus is unavailable, less than --duration "
           "(default: %(default)s)", float, 5.0, 0, MAX_OUTAGE, above=True,
           modes=("outage",), more={"metavar": "SECONDS"}),
    Option("--compare", "alternate runs of selchat, bench/peers/threaded.py, "
           "bench/peers/asyncio_chat.py and Redis pub/sub (when redis-server is on PATH); one "
           "table of medians, with ratios to selchat", more={"action": "store_true"}),
    Option("--compare-bus", "alternate runs of selchat alone and of one selchat node on a "
           "Redis bus; the tables, and the bus's cost: server µs per delivery with it over "
           f"without (target ≤ {BUS_COST_TARGET}×)", more={"action": "store_true"}),
    Option("--tls", "alternate runs of selchat over clear text and over TLS (its TLS port "
           "only, a throwaway ECDSA certificate made by openssl; the clients speak TLS); the "
           f"tables, and TLS' cost: deliveries/s (target ≥ {TLS_THROUGHPUT_TARGET}×) and "
           f"server µs per delivery (target ≤ {TLS_COST_TARGET}×) over clear text's",
           more={"action": "store_true"}),
    Option("--compare-rooms", "alternate runs in one room (--rooms 1) and over --rooms R "
           "rooms, --rooms-per-client K each, the same clients and senders; the tables, and "
           "the rooms' cost: server µs per delivery over R rooms over one room's (target ≤ "
           f"{ROOMS_COST_TARGET}×)", more={"action": "store_true"}),
    Option("--data", "the selchat started here keeps its history on disk (serve --data, "
           "in a temporary directory; without it, --no-data); the report adds the server's "
           "longest loop pass", more={"action": "store_true"}),
    Option("--compare-data", "alternate runs of selchat with --no-data and with --data "
           "(history on disk in a temporary directory); the tables, and the history's "
           f"cost: server µs per delivery (target ≤ {DATA_COST_TARGET}×), latency p99 (with "
           f"--rate: target ≤ {DATA_P99_TARGET}×) and the longest pass of each",
           more={"action": "store_true"}),
    Option("--repeat", "runs per server and value (default: 3 with --compare, "
           "--compare-bus or --tls, else 1)", int, None, 1, 20),
    Option("--attack", "instead of a chat run, one of the attack harnesses (bench/attacks.py): "
           "what the attack costs the server and the chat meanwhile; the options after NAME "
           "are the harness's own (see bench/attack_web.py, attack_room.py, attack_bus.py "
           "--help)", more={"choices": sorted(ATTACKS), "metavar": "NAME"}),
    Option("--sweep", "run the scenario once per value of clients, senders or payload "
           "(e.g. clients=100,500,1000,2000) and tabulate how each figure grows", _sweep,
           more={"metavar": "NAME=V1,V2,..."}),
)


def _chat(args: argparse.Namespace) -> bool:
    return servers.KINDS[args.server] == "chat"


def _bus_option(args: argparse.Namespace) -> str:
    return "--nodes" if args.nodes else "--compare-bus"


def _starts_selchat_itself(args: argparse.Namespace) -> bool:
    return bool(args.nodes or args.compare_bus) and bool(
        args.compare or args.connect or args.server != "selchat" or args.churn)


#: What options may not go together: (broken, why: a text or a function of the
#: options making it), checked in order.
RULES: Tuple[Tuple[Callable[[argparse.Namespace], Any], Any], ...] = (
    (lambda a: a.burst and not a.compare and not _chat(a),
     "--burst needs a chat server (Redis pub/sub has no chat lines)"),
    (lambda a: a.burst and a.transport != "tcp",
     "--burst goes with --transport tcp (burst clients speak TCP)"),
    (lambda a: a.churn and (a.compare or a.server != "selchat" or a.transport != "tcp"),
     "--churn needs selchat's /resume: --server selchat, --transport tcp, no --compare"),
    (lambda a: a.server_pid and not a.connect, "--server-pid goes with --connect"),
    (lambda a: a.bus_outage and not a.nodes, "--bus-outage needs --nodes"),
    (lambda a: a.bus_outage and a.bus_outage_seconds >= a.duration,
     "--bus-outage-seconds must be less than --duration"),
    (lambda a: a.tls and (a.server != "selchat" or a.transport != "tcp" or a.compare
                          or a.compare_bus or a.connect or a.nodes),
     "--tls starts selchat itself, over TCP: --server selchat, --transport tcp, no "
     "--compare, --compare-bus, --connect or --nodes"),
    (lambda a: (a.data or a.compare_data) and (a.server != "selchat" or a.connect or a.nodes
                                                or a.compare or a.compare_bus or a.tls),
     "--data and --compare-data start selchat alone: --server selchat, no --connect, "
     "--nodes, --compare, --compare-bus or --tls"),
    (lambda a: a.compare_bus and a.nodes,
     "--compare-bus runs one node on a bus: drop --nodes"),
    (_starts_selchat_itself, lambda a: f"{_bus_option(a)} starts selchat itself: no "
     "--compare, --connect, --churn or other --server"),
    (lambda a: (a.nodes or a.compare_bus) and not servers.available("redis"),
     lambda a: f"{_bus_option(a)} needs redis-server on PATH"),
    (lambda a: a.transport != "tcp" and (a.connect or not _chat(a)),
     "--transport ws and mixed need a chat server the bench starts (not --connect, not "
     "redis)"),
    (lambda a: a.server in servers.WEBSOCKET_ONLY and a.transport != "ws" and not a.compare,
     lambda a: f"{a.server} speaks WebSocket only: add --transport ws"),
    (lambda a: a.transport != "tcp" and not a.compare
     and a.server not in servers.SPEAKS_WEBSOCKET,
     lambda a: f"{a.server} has no WebSocket endpoint: use --transport tcp"),
    (lambda a: a.announce_limit is not None and (a.connect or a.server != "selchat"),
     "--announce-limit goes to a selchat the bench starts (--server selchat, no --connect)"),
    (lambda a: a.rooms and (a.server != "selchat" or a.transport != "tcp" or a.compare
                            or a.churn or a.burst or a.nodes or a.compare_bus),
     "--rooms needs selchat over TCP: --server selchat, --transport tcp, no --compare, "
     "--churn, --burst, --nodes or --compare-bus"),
    (lambda a: a.compare_rooms and (not a.rooms or a.tls),
     "--compare-rooms needs --rooms (and no --tls)"),
    (lambda a: a.rooms_per_client > 1 and not a.rooms, "--rooms-per-client needs --rooms"),
    (lambda a: a.connect and a.compare, "--compare starts its own servers: drop --connect"),
    (lambda a: a.connect and not a.allow_remote and not servers.is_loopback(a.connect[0]),
     lambda a: f"{a.connect[0]} is not a loopback address (add --allow-remote)"),
)


def parse_args(argv: Optional[List[str]]) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="flood.py", description=__doc__.split("\n\n")[0],
        epilog="examples: flood.py | flood.py --compare | flood.py --sweep clients=100,500,1000 "
               "| flood.py --clients 200 --rate 20 | flood.py --connect 127.0.0.1:4000 "
               "--server-pid 1234 --json run.json")
    groups = {mode: p.add_argument_group(f"{mode} mode") for mode in MODES}
    for option in OPTIONS:
        group = groups[option.modes[0]] if option.modes else p
        kind = {"type": option.type} if option.type else {}
        group.add_argument(option.flag, default=option.default, help=option.help, **kind,
                           **option.more)
    args = p.parse_args(argv)
    try:
        _check(args)
    except ValueError as exc:
        p.error(str(exc))
    return args


def _out_of_bounds(option: Option, args: argparse.Namespace) -> Optional[str]:
    """Why `option`'s value is past its bounds, or None."""
    value = getattr(args, option.flag[2:].replace("-", "_"))
    low, high = (bound(args) if callable(bound) else bound for bound in (option.low, option.high))
    if value is None or not (low is not None and (value <= low if option.above else value < low)
                             or high is not None and value > high):
        return None
    span = (f"in ({low:g}, {high:g}]" if option.above else
            f">= {low:g}" if high is None else f"{low:g}..{high:g}")
    return f"{option.flag} must be {span} {option.unit}".rstrip()


def _check(args: argparse.Namespace) -> None:
    """Every count and duration bounded (`OPTIONS`), no two options at odds
    (`RULES`), and every value of a sweep as well."""
    for option in OPTIONS:
        problem = _out_of_bounds(option, args)
        if problem:
            raise ValueError(problem)
    for broken, why in RULES:
        if broken(args):
            raise ValueError(why(args) if callable(why) else why)
    if args.sweep:
        name, values = args.sweep
        for value in values:
            _check(argparse.Namespace(**{**vars(args), name: value, "sweep": None}))


def _selchat_options(options: argparse.Namespace) -> List[str]:
    """Options of selchat's own that the bench passes to the selchat it starts:
    --announce-limit, and with --rooms room caps that let every client in (its
    rooms and the default one)."""
    passed = [] if options.announce_limit is None else [
        "--announce-limit", str(options.announce_limit)]
    if options.rooms:  # (with --compare-rooms, the one-room runs get them too: harmless)
        passed += ["--max-rooms", str(max(options.rooms + 1, 10_000)),
                   "--max-rooms-per-member", str(max(options.rooms_per_client + 1, 50))]
    return passed


def raise_fd_limit(needed: int) -> None:
    """Soft RLIMIT_NOFILE up to the hard one, and the hard one up to `needed`
    if that is short and we may (root; at most fs.nr_open): servers we start
    inherit both."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < needed:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (needed, needed))
            soft = hard = needed
        except (ValueError, OSError):  # not root, or past fs.nr_open
            pass
    if hard != resource.RLIM_INFINITY and soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        soft = hard
    if soft != resource.RLIM_INFINITY and needed > soft:
        sys.exit(f"flood.py: {needed} descriptors needed, but the open-file limit is {soft} "
                 f"(raise it: ulimit -n {needed}, as root if above the hard limit)")


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


def measure(target: Target, scenario: Scenario, options: argparse.Namespace,
            progress: Optional[Callable[[str], None]] = None) -> dict:
    """One run against `target` (started here unless ``options.connect`` is
    given): its figures. `options` also says which modes the run has."""
    connect, pid, budget = options.connect, options.server_pid, options.phase_timeout
    if target.rooms:
        scenario = replace(scenario, rooms=target.rooms[0], rooms_per_client=target.rooms[1])
    kind = target.kind
    protocol = PROTOCOLS[servers.KINDS[kind]]
    folder = tempfile.TemporaryDirectory(prefix="selchat-bench-tls-")
    passed = list(_selchat_options(options)) if kind == "selchat" else []
    if target.data:  # history on disk, in a directory of this run's
        passed += ["--data", os.path.join(folder.name, "data")]
    metered = kind == "selchat" and (options.data or options.compare_data) and not connect
    longest_pass = longest_write = None
    settings = None
    if target.tls:
        cert, key = tlsclient.make_certificate(folder.name)
        settings = {"SELCHAT_TLS_CERT": cert, "SELCHAT_TLS_KEY": key, "SELCHAT_TLS_PORT": "0",
                    "SELCHAT_NO_CLEAR": "1"}
    if connect:
        cluster = nodes.Cluster([servers.attach(kind, connect[0], connect[1], pid)])
    else:
        extra = max(scenario.senders, 1) if protocol.separate_senders else 0
        if scenario.churn:  # a reset client's new connection may come before its old one goes
            extra += scenario.clients
        cluster = nodes.start(kind, scenario.clients + extra + scenario.burst + FD_RESERVE,
                              web=scenario.transport != "tcp" or metered, count=target.nodes,
                              settings=settings, options=passed)
    try:
        meter = servers.Meter(cluster.nodes, cluster.bus)

        def tick(now: float) -> None:
            meter.sample()
            if progress:
                progress(_status(target.label, swarm, now))

        swarm = Swarm(protocol, [node.address for node in cluster.nodes], scenario, tick,
                      budget, [node.web_address for node in cluster.nodes],
                      make(scenario, options, cluster),
                      tlsclient.client_context() if target.tls else None)
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
            longest_pass = _longest_pass_ms(cluster) if metered else None
            longest_write = _longest_pass_ms(
                cluster, "selchat_history_max_write_seconds") if metered else None
        finally:
            cluster.signal_stop()  # before our sockets close: no storm of leave notices
            swarm.close()
            if progress:
                progress("")
    finally:
        cluster.stop()
        folder.cleanup()
    fig = report.figures(raw, asdict(scenario), cluster.describe(), meter.between("run", "end"),
                         meter.between("join", "run"), {**meter.rss, "nodes": meter.node_rss})
    fig["server"]["label"] = target.label
    if metered:
        fig["server"]["longest_pass_ms"] = longest_pass
        fig["server"]["longest_write_ms"] = longest_write
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
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--attack"] and len(argv) > 1 and argv[1] in ATTACKS:
        return attacks.run(argv[1], argv[2:])
    args = parse_args(argv)
    if args.attack:
        print("flood.py: --attack NAME comes first; the options after it are the "
              "harness's own", file=sys.stderr)
        return 2
    if args.connect:
        problem = unreachable(args.connect)
        if problem:
            print(f"flood.py: {problem}", file=sys.stderr)
            return 1
    base = Scenario(clients=args.clients, senders=args.senders, rate=args.rate,
                    window=args.window, duration=args.duration, payload=args.payload,
                    messages=args.messages, transport=args.transport, burst=args.burst,
                    burst_lines=args.burst_lines, burst_bytes=args.burst_bytes, churn=args.churn,
                    source_addresses=args.source_addresses, rooms=args.rooms,
                    rooms_per_client=args.rooms_per_client)
    targets = _targets(args)
    labels = [t.label for t in targets]
    name, values = args.sweep if args.sweep else (None, [None])
    compared = (args.compare or args.compare_bus or args.tls or args.compare_rooms
                or args.compare_data)
    repeat = args.repeat or (3 if compared else 1)
    biggest = max(values) if name == "clients" else args.clients
    raise_fd_limit(biggest * (2 if args.churn else 1) + max(args.senders, 1) + args.burst
                   + FD_RESERVE)
    text = args.json != "-"
    progress = Progress() if sys.stderr.isatty() and not args.json else None
    tabulate = compared or args.sweep
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
                    fig = measure(target, scenario, args, progress)
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
        if args.tls:
            for value in values:
                print(_tls_cost_line(name, value, grouped))
        if args.compare_rooms:
            for value in values:
                print(_rooms_cost_line(name, value, grouped, args))
        if args.compare_data:
            for value in values:
                print(_data_cost_line(name, value, grouped))
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
    if args.compare_data:
        return [Target("selchat", "selchat"), Target("selchat+data", "selchat", data=True)]
    if args.data:
        return [Target("selchat+data", "selchat", data=True)]
    if args.tls:
        return [Target("selchat", "selchat"), Target("selchat+tls", "selchat", tls=True)]
    if args.compare_rooms:
        return [Target("selchat", "selchat", rooms=(1, 1)),
                Target("selchat+rooms", "selchat", rooms=(args.rooms, args.rooms_per_client))]
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


def _tls_cost_line(name: Optional[str], value, grouped: dict) -> str:
    """TLS next to clear text, medians: deliveries/s and server µs per delivery."""
    clear, tls = grouped[(value, "selchat")], grouped[(value, "selchat+tls")]
    at = f" at {name}={value}" if name else ""
    parts = []
    for path, target, better in ((("throughput", "deliveries_per_s"), TLS_THROUGHPUT_TARGET, 1),
                                 (("server_cpu", "us_per_delivery"), TLS_COST_TARGET, -1)):
        plain, secure = report.median(clear, path), report.median(tls, path)
        ratio = secure / plain if secure is not None and plain else None
        within = ratio is not None and (ratio >= target if better > 0 else ratio <= target)
        verdict = "-" if ratio is None else f"{ratio:.2f}×" + (
            " (within" if within else " (OUTSIDE") + f" the {target}× target)"
        parts.append(f"{path[1].replace('_', ' ')} {report._n(secure, 3)} over TLS, "
                     f"{report._n(plain, 3)} clear: {verdict}")
    return f"TLS cost{at}: " + "; ".join(parts)


def _rooms_cost_line(name: Optional[str], value, grouped: dict,
                     args: argparse.Namespace) -> str:
    """Many rooms next to one, medians: server µs per delivery and their ratio."""
    path = ("server_cpu", "us_per_delivery")
    one = report.median(grouped[(value, "selchat")], path)
    many = report.median(grouped[(value, "selchat+rooms")], path)
    ratio = many / one if many is not None and one else None
    within = " (within" if ratio is not None and ratio <= ROOMS_COST_TARGET else " (OVER"
    verdict = "-" if ratio is None else f"{ratio:.2f}×{within} the {ROOMS_COST_TARGET}× target)"
    at = f" at {name}={value}" if name else ""
    return (f"rooms cost{at}: server {report._n(many, 3)} µs/delivery in {args.rooms:,} rooms "
            f"({args.rooms_per_client} each), {report._n(one, 3)} in one: {verdict}")


def _data_cost_line(name: Optional[str], value, grouped: dict) -> str:
    """History on disk next to none, medians: server µs per delivery, latency
    p99 and the longest loop pass."""
    memory, disk = grouped[(value, "selchat")], grouped[(value, "selchat+data")]
    parts = []
    for path, target in ((("server_cpu", "us_per_delivery"), DATA_COST_TARGET),
                         (("latency_ms", "p99"), DATA_P99_TARGET)):
        without, with_data = report.median(memory, path), report.median(disk, path)
        ratio = with_data / without if with_data is not None and without else None
        verdict = "-" if ratio is None else f"{ratio:.2f}×" + (
            " (within" if ratio <= target else " (OVER") + f" the {target}× target)"
        parts.append(f"{path[1].replace('_', ' ')} {report._n(with_data, 3)} with --data, "
                     f"{report._n(without, 3)} without: {verdict}")
    passes = [report.median(runs, ("server", "longest_pass_ms")) for runs in (disk, memory)]
    parts.append(f"longest pass {report._n(passes[0], 2)} ms with --data, "
                 f"{report._n(passes[1], 2)} ms without; longest write of a pass's lines "
                 f"{report._n(report.median(disk, ('server', 'longest_write_ms')), 2)} ms")
    at = f" at {name}={value}" if name else ""
    return f"history cost{at}: " + "; ".join(parts)


def _longest_pass_ms(cluster: "nodes.Cluster",
                     gauge: str = "selchat_longest_pass_seconds") -> Optional[float]:
    """The longest loop pass of selchat (or another of its /metrics gauges in
    seconds), in ms: None when it has no web port or does not answer."""
    import urllib.request

    longest = None
    for node in cluster.nodes:
        if node.web_port is None:
            continue
        try:
            with urllib.request.urlopen(f"http://{node.host}:{node.web_port}/metrics",
                                        timeout=5) as answer:
                text = answer.read().decode()
        except OSError:
            continue
        for line in text.splitlines():
            if line.startswith(gauge + " "):
                value = float(line.split()[1]) * 1000
                longest = value if longest is None else max(longest, value)
    return longest


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
