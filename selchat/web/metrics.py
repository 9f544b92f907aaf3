"""``/metrics``: the server's counters in Prometheus' text format.

The loop counts with plain integer attributes of one `Counters` object
(``counters.deliveries += n``): no lock, no call, no label lookup per
delivery, which prometheus_client's own Counter would cost on the hot path.
Only a scrape, which is rare, builds metric families from them: `render`
runs a collector over a private registry (nothing global, so tests and
several servers in one process do not meet) and returns the exposition.

A scrape is rare, but a client can ask for ``/metrics`` as often as it likes,
and a render costs 0.15-0.5 ms: `Exposition` renders at most once per
`RENDER_INTERVAL` and hands every scrape in between the same bytes.
"""
from typing import Callable, Iterator, Optional

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

#: Attribute -> help text. Gauges go up and down; counters only up (each is
#: exposed with the ``_total`` suffix).
GAUGES = {
    "connections_tcp": "Open chat-port (TCP line protocol) connections.",
    "connections_ws": "Open WebSocket connections.",
    "connections_http": "Open web-port connections not upgraded to WebSocket.",
    "members": "Sessions that chose a name and are in the room.",
    "bus_up": "1 while the bus (serve --bus) is connected, else 0.",
    "bus_lag_seconds": "How far behind the bus's newest line this node read it, in seconds.",
    "bus_waiting_lines": "Lines made here that Redis has not confirmed yet (kept in an outage).",
    "longest_pass_seconds": "The longest pass of the loop since the start (from select's "
                            "return to the last send), in seconds.",
    "history_failing": "1 while room lines cannot be written to disk (--data: disk full...).",
    "history_waiting_lines": "Room lines not yet written to disk, retried (a failing disk).",
    "history_max_write_seconds": "The longest write of a pass's lines to disk, in seconds.",
}
COUNTERS = {
    "lines_received": "Lines received from clients, over TCP and WebSocket.",
    "deliveries": "Lines queued for a recipient (a broadcast counts once per recipient).",
    "bytes_sent": "Bytes handed to the kernel for clients.",
    "sends": "Sends to clients (one per client per pass at most, whatever its rooms).",
    "slow_readers_dropped": "Connections dropped for not reading their output.",
    "flood_throttled": "Times a client ran out of flood budget and was paused.",
    "http_requests": "HTTP requests answered on the web port.",
    "loop_passes": "Passes of the event loop.",
    "bus_outages": "Times the bus went down.",
    "history_lines_written": "Room lines written to the history database (--data).",
    "history_lines_lost": "Room lines never written to disk (it failed for too long).",
    "history_write_failures": "Writes of a pass's lines to disk that failed.",
}


#: Seconds one rendered exposition is served for. Prometheus scrapes every 15 s
#: by default (1 s is already an unusually tight interval), so no scraper sees
#: staler figures than its own interval; a client pipelining scrapes gets the
#: same bytes again instead of a render each.
RENDER_INTERVAL = 1.0


class Counters:
    """The loop's counts; `started` is the clock reading at start (the same
    clock as `render`'s ``now``). Attributes are named in GAUGES and COUNTERS."""

    __slots__ = ("started", *GAUGES, *COUNTERS)

    def __init__(self, started: float) -> None:
        self.started = started
        self.connections_tcp = self.connections_ws = self.connections_http = self.members = 0
        self.lines_received = self.deliveries = self.bytes_sent = self.sends = 0
        self.slow_readers_dropped = self.flood_throttled = self.http_requests = 0
        self.loop_passes = self.bus_up = self.bus_waiting_lines = self.bus_outages = 0
        self.bus_lag_seconds = 0.0
        self.longest_pass_seconds = self.history_max_write_seconds = 0.0
        self.history_failing = self.history_waiting_lines = self.history_lines_written = 0
        self.history_lines_lost = self.history_write_failures = 0


class _Collector(Collector):
    def __init__(self, counters: Counters, now: float) -> None:
        self._counters = counters
        self._now = now

    def collect(self) -> Iterator[Metric]:
        c = self._counters
        for name, text in GAUGES.items():
            yield GaugeMetricFamily(f"selchat_{name}", text, value=getattr(c, name))
        for name, text in COUNTERS.items():
            yield CounterMetricFamily(f"selchat_{name}", text, value=getattr(c, name))
        yield GaugeMetricFamily("selchat_uptime_seconds", "Seconds since the server started.",
                                value=max(0.0, self._now - c.started))


def render(counters: Counters, now: float) -> bytes:
    """The text exposition of `counters` at clock reading `now`."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Collector(counters, now))
    return generate_latest(registry)


class Exposition:
    """`render`'s bytes, made at most once per `interval` and shared."""

    __slots__ = ("counters", "interval", "_body", "_made")

    def __init__(self, counters: Counters, interval: float = RENDER_INTERVAL) -> None:
        self.counters = counters
        self.interval = interval
        self._body: Optional[bytes] = None
        self._made = 0.0

    def body(self, now: float, refresh: Callable[[Counters], None]) -> bytes:
        """The exposition at clock reading `now`, rendered again (after
        `refresh` has updated the gauges the loop does not keep) only if the
        last one is `interval` old, or the clock went back."""
        if self._body is None or not self._made <= now < self._made + self.interval:
            refresh(self.counters)
            self._body = render(self.counters, now)
            self._made = now
        return self._body
