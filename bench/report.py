"""Turn a run's raw counts into figures, and figures into text a person reads.

`figures` is the one place where derived numbers (rates, percentiles, costs
per delivery, who was the limit) are computed; the summary, the tables and
the JSON all show that same dict.
"""
import statistics
from typing import Dict, List, Optional, Sequence

#: A side using at least this share of one core was busy the whole run.
SATURATED = 90.0
#: Shorter runs are too coarse for CPU percentages to tell who was the limit.
MIN_JUDGED = 1.0
#: CPU over a shorter window is no percentage at all.
MIN_TIMED = 0.1


def percentile(ordered: Sequence[float], q: float) -> Optional[float]:
    """Nearest-rank percentile of an already sorted sequence."""
    if not ordered:
        return None
    rank = max(1, -(-len(ordered) * q // 100))  # ceil(n q / 100), at least 1
    return ordered[int(rank) - 1]


def _per(value: Optional[float], count: int, scale: float = 1.0) -> Optional[float]:
    return None if value is None or not count else value * scale / count


def figures(raw: dict, scenario: dict, server: dict, cpu: dict, joining: dict,
            rss: dict) -> dict:
    """Every figure of one run.

    `cpu` holds the server's and the harness's CPU seconds over the run and
    drain (`server`, `harness`) and that wall time (`wall`); `joining` the same
    for the connect and ready phases; `rss` the server's RSS in bytes before
    connecting, once all joined, and at peak. A server of several nodes on a
    bus (`server` has ``nodes`` and ``bus``) adds each node's CPU (`cpu`
    ``nodes``) and RSS (`rss` ``nodes``), and the bus's CPU (`cpu` ``bus``).
    """
    server, rss = dict(server), dict(rss)
    node_list, bus, node_rss = server.pop("nodes", None), server.pop("bus", None), rss.pop(
        "nodes", None)
    per_sender = raw["per_sender"]
    sent = sum(s["sent"] for s in per_sender)
    received = sum(s["received"] for s in per_sender)
    busy = raw["last_delivery_s"]
    wall = cpu["wall"]
    latencies = sorted(raw["latencies_us"])
    server_s, harness_s = cpu["server"], cpu["harness"]
    server_pct, harness_pct = _percent(server_s, wall), _percent(harness_s, wall)
    kb = {k: None if v is None else v / 1024 for k, v in rss.items()}
    per_conn = None
    if kb.get("joined") is not None and raw["connections"]:
        per_conn = (kb["joined"] - kb["before"]) / raw["connections"]
    problems = list(raw["problems"])
    lost = sum(s["lost"] for s in per_sender)
    duplicated = sum(s["duplicated"] for s in per_sender)
    disorder = sum(s["out_of_order"] for s in per_sender)
    if raw["closed_by_server"]:
        problems.append(f"the server closed {raw['closed_by_server']} connections during the run")
    storm = raw.get("storm")
    if storm and storm["closed_by_server"]:
        problems.append(f"the server closed {storm['closed_by_server']} burst clients during "
                        "the run")
    churn = _churn(raw.get("churn"), problems)  # (may add problems)
    if raw["one_order"] is False:
        problems.append("the probes got the room's lines in different orders")
    return {
        "server": server,
        "scenario": scenario,
        "outcome": "failed" if problems else "ok",
        "problems": problems,
        "limited_by": _limit(server_pct, harness_pct) if wall >= MIN_JUDGED else "unknown",
        "connect": {
            "clients": scenario["clients"], "joined": raw["joined"],
            "connections": raw["connections"],
            "joined_s": raw["times"].get("connect"),
            "ready_s": _sum(raw["times"].get("connect"), raw["times"].get("ready")),
            "bytes_received": raw["bytes_in_before_run"],
            "server_cpu_s": joining["server"], "harness_cpu_s": joining["harness"],
        },
        "messages": {
            "sent": sent, "expected": raw["expected"], "received": received,
            "lost": lost, "duplicated": duplicated, "out_of_order": disorder,
            "garbled": raw["garbled"], "unexpected_lines": raw["other_lines"],
            "unexpected_samples": raw["other_samples"], "bus_notices": raw["bus_notices"],
            "per_sender": per_sender,
        },
        "throughput": {
            "run_s": raw["times"].get("run"), "drain_s": raw["times"].get("drain"),
            "busy_s": busy,
            "deliveries_per_s": received / busy if busy else None,
            "messages_per_s": sent / busy if busy else None,
        },
        "latency_ms": {
            "probes": raw["probes"], "samples": len(latencies),
            **{name: _ms(percentile(latencies, q))
               for name, q in (("p50", 50), ("p90", 90), ("p99", 99), ("max", 100))},
            "same_node": _spread(raw["same_node_us"]),
            "cross_node": _spread(raw["cross_node_us"]),
        },
        "order": {"identical": raw["one_order"], "probes": raw["probes"],
                  "compared": raw["order_compared"]},
        "server_cpu": {"seconds": server_s, "percent": server_pct,
                       "us_per_delivery": _per(server_s, received, 1e6)},
        "server_rss_kb": {"before": kb.get("before"), "joined": kb.get("joined"),
                          "peak": kb.get("peak"), "per_connection": per_conn},
        "harness_cpu": {"seconds": harness_s, "percent": harness_pct,
                        "us_per_delivery": _per(harness_s, received, 1e6)},
        "churn": churn,
        # Reading clients the server closed during the run: every harness client
        # reads all the time, so any of these was dropped for something it did not do.
        "drops": {"readers": raw["closed_by_server"],
                  "burst_clients": storm["closed_by_server"] if storm else 0},
        "storm": _storm(storm, scenario, kb.get("peak")) if storm else None,
        "nodes": _nodes(node_list, cpu["nodes"], node_rss, raw["node_received"], wall)
        if node_list else None,
        "bus": _bus(bus, cpu["bus"], sent, wall) if bus else None,
        "outage": {**raw["outage"], "disconnects": raw["closed_by_server"]}
        if raw.get("outage") else None,
    }


def _spread(us: Sequence[int]) -> dict:
    ordered = sorted(us)
    return {"samples": len(ordered), "p50": _ms(percentile(ordered, 50)),
            "p99": _ms(percentile(ordered, 99))}


def _percent(seconds: Optional[float], wall: float) -> Optional[float]:
    """`seconds` of CPU in % of one core over `wall` seconds (a shorter window
    than `MIN_TIMED` makes percentages noise)."""
    return seconds * 100 / wall if wall >= MIN_TIMED and seconds is not None else None


def _nodes(described: List[dict], cpu: List[Optional[float]], rss: List[dict],
           received: List[int], wall: float) -> List[dict]:
    """Each node's cost: CPU over the run, per copy its own clients received, RSS."""
    return [{**node, "cpu_s": spent, "cpu_percent": _percent(spent, wall),
             "received": got, "us_per_delivery": _per(spent, got, 1e6),
             "rss_kb": {k: None if v is None else v / 1024 for k, v in kept.items()}}
            for node, spent, kept, got in zip(described, cpu, rss, received)]


def _bus(described: dict, spent: Optional[float], lines: int, wall: float) -> dict:
    """Redis' cost: CPU over the run, and per room line published (message sent)."""
    return {**described, "cpu_s": spent, "cpu_percent": _percent(spent, wall),
            "lines": lines, "us_per_line": _per(spent, lines, 1e6)}


def _storm(raw: dict, scenario: dict, peak_kb: Optional[float]) -> dict:
    """The --burst figures: the storm's lines, and the server while it lasted."""
    latencies = sorted(raw["latencies_us"])
    return {
        "clients": scenario["burst"], "joined": raw["joined"],
        "lines_each": scenario["burst_lines"], "line_bytes": scenario["burst_bytes"],
        "at_s": raw["at_s"], "sent": raw["sent"], "expected": raw["expected"],
        "received": raw["received"], "lost": raw["lost"], "duplicated": raw["duplicated"],
        "delivered_s": raw["delivered_s"],
        "latency_ms": {"samples": len(latencies), **{
            name: _ms(percentile(latencies, q))
            for name, q in (("p50", 50), ("p90", 90), ("p99", 99), ("max", 100))}},
        "longest_gap_ms": raw["longest_gap_s"] * 1000,
        "harness_longest_pass_ms": raw["harness_longest_pass_s"] * 1000,
        "server_rss_peak_kb": peak_kb,
    }


def _churn(raw: Optional[dict], problems: List[str]) -> Optional[dict]:
    """Resets and resumes (``--churn``): counts, and times after the reset in ms."""
    if raw is None:
        return None
    if raw["notices"]:
        problems.append(f"{raw['notices']} join or leave notices during a run with churn")
    if raw["resumed"] < raw["resets"]:
        problems.append(f"{raw['resets'] - raw['resumed']} of {raw['resets']} resets "
                        f"not resumed")
    first, back = sorted(raw["first_byte_us"]), sorted(raw["welcome_back_us"])
    return {"resets": raw["resets"], "resumed": raw["resumed"], "gaps": raw["gaps"],
            "notices": raw["notices"],
            "first_byte_ms": {q: _ms(percentile(first, n)) for q, n in
                              (("p50", 50), ("p99", 99), ("max", 100))},
            "welcome_back_ms": {q: _ms(percentile(back, n)) for q, n in
                                (("p50", 50), ("p99", 99), ("max", 100))}}


def _sum(a: Optional[float], b: Optional[float]) -> Optional[float]:
    return None if a is None or b is None else a + b


def _ms(us: Optional[float]) -> Optional[float]:
    return None if us is None else us / 1000.0


def _limit(server_pct: Optional[float], harness_pct: Optional[float]) -> str:
    if harness_pct is not None and harness_pct >= SATURATED and (
            server_pct is None or server_pct < SATURATED):
        return "harness"
    if server_pct is not None and server_pct >= SATURATED:
        return "server"
    return "neither"


# -- text ---------------------------------------------------------------------------


def _n(value: Optional[float], digits: int = 0) -> str:
    if value is None:
        return "-"
    return f"{value:,.{digits}f}"


def describe(scenario: dict) -> str:
    pace = (f"{scenario['rate']:g} msgs/s per sender" if scenario["rate"]
            else f"saturating (window {scenario['window']})")
    amount = (f"{scenario['messages']} messages per sender (at most {scenario['duration']:g} s)"
              if scenario["messages"] is not None else f"{scenario['duration']:g} s")
    transport = {"tcp": "", "ws": " over WebSocket", "mixed": " (half over WebSocket)",
                 "irc": " over IRC"}
    churn = f", {scenario['churn']:g} % churn per second" if scenario.get("churn") else ""
    burst = (f"; a burst from {scenario['burst']:,} more clients, {scenario['burst_lines']} "
             f"lines of {scenario['burst_bytes']:,} B each" if scenario.get("burst") else "")
    rooms = (f" in {scenario['rooms']:,} rooms ({scenario['rooms_per_client']} each)"
             if scenario.get("rooms") else "")
    return (f"{scenario['clients']:,} clients{rooms}{transport[scenario.get('transport', 'tcp')]}, "
            f"{scenario['senders']} senders, {pace}, {amount}, "
            f"{scenario['payload']}-byte messages{churn}{burst}")


def summary(fig: dict) -> str:
    """The readable account of one run."""
    srv, msg, thr = fig["server"], fig["messages"], fig["throughput"]
    lat, scpu, rss, hcpu, con = (fig["latency_ms"], fig["server_cpu"], fig["server_rss_kb"],
                                 fig["harness_cpu"], fig["connect"])
    origin = "started by the bench" if srv["started_by_bench"] else "already running"
    pid = f"pid {srv['pid']}" if srv["pid"] else "pid unknown"
    if srv.get("unmetered"):
        server_figures = f"CPU and RSS n/a ({srv['unmetered']})"
    else:
        server_figures = (
            f"CPU {_n(scpu['percent'])} % of a core, {_n(scpu['us_per_delivery'], 3)} µs per "
            f"delivery; RSS {_n(_mb(rss['before']), 1)} MB before, {_n(_mb(rss['peak']), 1)} MB "
            f"at peak, {_n(rss['per_connection'], 2)} KB per connection")
    lines = [
        f"scenario  {describe(fig['scenario'])}",
        f"server    {srv['kind']} on {srv['address']} ({pid}, {origin})",
        f"connect   {_joined(con)} in {_n(con['joined_s'], 2)} s; all ready "
        f"(join notices delivered) {_n(con['ready_s'], 2)} s after the first connect",
        f"          CPU meanwhile: server {_n(con['server_cpu_s'], 2)} s, harness "
        f"{_n(con['harness_cpu_s'], 2)} s; {_n(_mb(con['bytes_received'] / 1024), 1)} MB "
        f"of notices received",
        f"messages  {msg['sent']:,} sent; deliveries expected {msg['expected']:,}, "
        f"received {msg['received']:,}",
        f"          lost {msg['lost']:,}, duplicated {msg['duplicated']:,}, "
        f"out of order {msg['out_of_order']:,}" + (
            f", garbled {msg['garbled']:,}" if msg["garbled"] else ""),
        f"rate      {_n(thr['deliveries_per_s'])} deliveries/s ({_n(thr['messages_per_s'])} "
        f"messages/s) over {_n(thr['busy_s'], 2)} s",
        f"latency   p50 {_n(lat['p50'], 2)} ms, p90 {_n(lat['p90'], 2)} ms, "
        f"p99 {_n(lat['p99'], 2)} ms, max {_n(lat['max'], 2)} ms "
        f"({lat['samples']:,} samples at {lat['probes']} probes)",
        f"server    {server_figures}",
        f"harness   CPU {_n(hcpu['percent'])} % of a core, {_n(hcpu['us_per_delivery'], 3)} µs "
        f"per delivery",
    ]
    if fig.get("nodes"):
        lines += _node_lines(fig)
    storm = fig.get("storm")
    if storm:
        lines += _storm_lines(storm, fig["drops"])
    churn = fig.get("churn")
    if churn:
        fb, wb = churn["first_byte_ms"], churn["welcome_back_ms"]
        lines.append(
            f"churn     {churn['resets']:,} resets, {churn['resumed']:,} resumed, "
            f"{churn['gaps']} gaps, {churn['notices']} join/leave notices; after the reset: "
            f"first byte p50 {_n(fb['p50'], 2)} ms p99 {_n(fb['p99'], 2)} ms, welcome back "
            f"p50 {_n(wb['p50'], 2)} ms p99 {_n(wb['p99'], 2)} ms (max {_n(wb['max'], 2)})")
    if msg["bus_notices"]:
        lines.append(f"bus       {msg['bus_notices']:,} notices that other servers were "
                     "unreachable, then reachable again")
    if msg["unexpected_lines"]:
        lines.append(f"unexpected {msg['unexpected_lines']:,} lines that are no bench message, "
                     f"e.g. {msg['unexpected_samples'][:2]}")
    if fig["limited_by"] == "harness":
        lines.append("LIMIT     the harness was the bottleneck (a full core, the server was "
                     "not): these figures understate the server")
    for problem in fig["problems"]:
        lines.append(f"PROBLEM   {problem}")
    if msg["lost"] or msg["duplicated"] or msg["out_of_order"] or msg["garbled"] or (
            storm and (storm["lost"] or storm["duplicated"])):
        lines.append("FAULTY    the server did not deliver every message exactly once, in order")
    return "\n".join(lines)


def _node_lines(fig: dict) -> List[str]:
    """Nodes on a bus: each node's and Redis' cost, latency within and across
    nodes, the one order, and the outage if there was one."""
    nodes, bus, lat, order = fig["nodes"], fig["bus"], fig["latency_ms"], fig["order"]
    lines = [f"nodes     {len(nodes)} selchat node{'s' if len(nodes) > 1 else ''} sharing "
             f"the room through Redis at {bus['address']} (pid {bus['pid']})"]
    for i, node in enumerate(nodes):
        rss = node["rss_kb"]
        lines.append(
            f"node {i:<4d} {node['address']}: CPU {_n(node['cpu_percent'])} % of a core, "
            f"{_n(node['us_per_delivery'], 3)} µs per delivery to its clients "
            f"({node['received']:,}); RSS {_n(_mb(rss['before']), 1)} MB before, "
            f"{_n(_mb(rss['peak']), 1)} MB at peak")
    lines.append(f"redis     CPU {_n(bus['cpu_percent'])} % of a core, {_n(bus['cpu_s'], 2)} s: "
                 f"{_n(bus['us_per_line'], 2)} µs per line published ({bus['lines']:,} lines)")
    same, cross = lat["same_node"], lat["cross_node"]
    lines.append(f"latency   same node p50 {_n(same['p50'], 2)} ms, p99 {_n(same['p99'], 2)} ms "
                 f"({same['samples']:,} samples); cross node p50 {_n(cross['p50'], 2)} ms, "
                 f"p99 {_n(cross['p99'], 2)} ms ({cross['samples']:,} samples)")
    verdict = {True: "yes", False: "NO", None: "-"}[order["identical"]]
    around = (" outside the outage: sent from 2 s before it to 10 s after it, they are "
              "not compared" if fig.get("outage") else "")
    lines.append(f"order     identical on every node: {verdict} ({order['compared']:,} messages "
                 f"compared across {order['probes']} probes{around})")
    outage = fig.get("outage")
    if outage:
        window = (f"from {_n(outage['at_s'], 2)} s to {_n(outage['end_s'], 2)} s into the run"
                  if outage["at_s"] is not None else "never (the run ended first)")
        how = {"stop": "stopped (SIGSTOP, SIGCONT)", "kill": "killed (SIGKILL, restarted)"}
        lines.append(f"outage    Redis {how[outage['how']]} for {outage['seconds']:g} s, {window}; "
                     f"client disconnects {outage['disconnects']:,}")
    return lines


def _storm_lines(storm: dict, drops: dict) -> List[str]:
    lat = storm["latency_ms"]
    if storm["at_s"] is None:
        when = "never sent (the run ended first)"
    else:
        delivered = (f"all delivered {_n(storm['delivered_s'], 2)} s later"
                     if storm["delivered_s"] is not None else "NOT all delivered")
        when = f"sent {_n(storm['at_s'], 2)} s into the run, {delivered}"
    return [
        f"storm     {storm['joined']:,} burst clients x {storm['lines_each']} lines of "
        f"{storm['line_bytes']:,} B: {when}",
        f"          copies expected {storm['expected']:,}, received {storm['received']:,}; "
        f"lost {storm['lost']:,}, duplicated {storm['duplicated']:,}",
        f"          meanwhile: latency p50 {_n(lat['p50'], 2)} ms, p99 {_n(lat['p99'], 2)} ms, "
        f"max {_n(lat['max'], 2)} ms ({lat['samples']:,} samples); longest wait at a probe "
        f"{_n(storm['longest_gap_ms'], 1)} ms (the harness's longest pass "
        f"{_n(storm['harness_longest_pass_ms'], 1)} ms)",
        f"drops     readers dropped by the server {drops['readers']:,}, burst clients "
        f"{drops['burst_clients']:,}; server RSS at peak {_n(_mb(storm['server_rss_peak_kb']), 1)}"
        f" MB",
    ]


def _joined(con: dict) -> str:
    if con["joined"] == con["clients"]:
        return f"{con['clients']:,} clients joined"
    return f"only {con['joined']:,} of {con['clients']:,} clients joined"


def _mb(kb: Optional[float]) -> Optional[float]:
    return None if kb is None else kb / 1024


# -- tables of several runs ---------------------------------------------------------

#: The --compare and --sweep tables' columns that are medians over the runs: heading,
#: figure path, digits. docs/benchmarks.rst ("Reading the tables") explains each heading.
MEDIANS = {
    "deliveries/s": (("throughput", "deliveries_per_s"), 0),
    "µs/delivery": (("server_cpu", "us_per_delivery"), 3),
    "p50 ms": (("latency_ms", "p50"), 2),
    "p99 ms": (("latency_ms", "p99"), 2),
    "server CPU %": (("server_cpu", "percent"), 0),
    "harness CPU %": (("harness_cpu", "percent"), 0),
    "RSS KB/conn": (("server_rss_kb", "per_connection"), 2),
    "joined s": (("connect", "joined_s"), 2),
}
#: Two tables, so that each fits in 100 columns: speed and correctness, then cost.
#: faults, failed and harness-bound are counts over the runs, not medians.
TABLES = (
    ("deliveries/s", "µs/delivery", "p50 ms", "p99 ms", "faults"),
    ("server CPU %", "harness CPU %", "RSS KB/conn", "joined s", "failed", "harness-bound"),
)
#: Columns whose cells also show their ratio to the reference row, as "(1.00×)".
RATIOS = {"deliveries/s", "µs/delivery", "p99 ms", "RSS KB/conn", "joined s"}


def pick(fig: dict, path: Sequence[str]) -> Optional[float]:
    value = fig
    for key in path:
        value = value.get(key) if isinstance(value, dict) else None
    return value


def median(runs: List[dict], path: Sequence[str]) -> Optional[float]:
    values = [v for v in (pick(f, path) for f in runs) if v is not None]
    return statistics.median(values) if values else None


def aggregate(runs: List[dict]) -> Dict[str, Optional[float]]:
    """Medians of every table column over repeated runs, plus the worst errors."""
    row = {head: median(runs, path) for head, (path, _) in MEDIANS.items()}
    row["faults"] = max(sum(pick(f, ("messages", k)) or 0 for k in
                            ("lost", "duplicated", "out_of_order", "garbled")) for f in runs)
    row["failed"] = sum(1 for f in runs if f["outcome"] != "ok")
    row["harness-bound"] = sum(1 for f in runs if f["limited_by"] == "harness")
    return row


def ratio(value: Optional[float], base: Optional[float]) -> str:
    if value is None or not base:
        return "(-)"
    times = value / base
    return f"({times:.2f}×)" if times < 10 else f"({times:.1f}×)"


def table(labels: Sequence[str], columns: Sequence[str], rows: List[tuple]) -> str:
    """rows: (label cells, aggregated row, the row its ratios refer to or None)."""
    cells = []
    for names, row, ref in rows:
        line = [str(name) for name in names]
        for head in columns:
            value = row[head]
            text = _n(value, MEDIANS[head][1]) if head in MEDIANS else f"{value:,}"
            if head in RATIOS:
                text += " " + ratio(value, ref[head] if ref else None)
            line.append(text)
        cells.append(line)
    headers = [*labels, *columns]
    widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(headers)]

    def render(line: Sequence[str]) -> str:
        return "  ".join(c.ljust(w) if i < len(labels) else c.rjust(w)
                         for i, (c, w) in enumerate(zip(line, widths))).rstrip()

    return "\n".join([render(headers), render(["-" * w for w in widths]),
                      *(render(line) for line in cells)])
