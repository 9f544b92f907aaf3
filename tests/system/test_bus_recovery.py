"""The bus after Redis lost its data, and after a long outage, in process.

Each node is a `Bus` in the test's own selector loop, talking
to a real redis-server without persistence (``--appendonly no``): a restart
loses everything. Because the test runs each node's passes itself, it decides
who reconnects first and who has read what when Redis dies, so the races of a
real run happen here every time.
"""
import selectors
import time
from typing import Any, Dict, List, Optional, Tuple

import pytest

from selchat.bus import scripts
from selchat.bus.address import parse_bus_url
from selchat.bus import driver
from selchat.bus.driver import Bus, BusState
from selchat.bus.protocol import MAX_IN_FLIGHT_BATCHES, Lost, Outbox, RoomLine
from selchat.timers import Timers

pytestmark = pytest.mark.redis

TIMEOUT = 10.0
NO_PERSISTENCE = ("--appendonly", "no")


class Node:
    """One bus node without a chat server: what it is given is kept in lists."""

    def __init__(self, url: str) -> None:
        self.clock = time.monotonic  # Redis' blocking reads take real time
        self.selector = selectors.DefaultSelector()
        self.timers = Timers()
        self.bus = Bus(parse_bus_url(url), self.selector, self.timers, self, self.clock,
                       lambda: int(time.time() * 1000), history=50, retention=600, lease=15,
                       jitter=lambda: 0.0)
        self.heard: List[Any] = []  # room lines' bytes and Lost entries, in order
        self.downs: List[str] = []
        self.said = 0

    # -- BusHost ----------------------------------------------------------------
    def bus_rules(self, rules: Dict[str, str]) -> None:
        pass

    def bus_synced(self, epoch: str, lines: List[RoomLine], names: Dict[str, Tuple[str, str]],
                   new_epoch: bool, rooms: Dict[str, str], topics: List[Tuple[str, str]],
                   ) -> None:
        pass

    def bus_entries(self, entries: List[Any]) -> None:
        for entry in entries:
            if isinstance(entry, RoomLine) and (entry.own is None or not entry.own.delivered):
                self.heard.append(entry.data)
            elif isinstance(entry, Lost):
                self.heard.append(entry)

    def bus_lost(self, keys: List[str]) -> None:
        pass

    def bus_reaped(self, names: List[str]) -> None:
        pass

    def bus_state(self, up: bool, why: str) -> None:
        if not up:
            self.downs.append(why)
            for own in self.bus.outbox.deliver_here():
                self.heard.append(own.payload)

    def bus_claims(self) -> List[Any]:
        return []

    def bus_reaped_us(self) -> None:
        pass

    # -- the loop -----------------------------------------------------------------
    def say(self, count: int) -> List[bytes]:
        """`count` room lines in one pass (delivered here at once if the bus is down)."""
        lines = []
        for _ in range(count):
            self.said += 1
            line = b"<%s> %d\n" % (self.bus.node.encode(), self.said)
            self.bus.outbox.line(line, None, "", delivered=not self.bus.up)
            if not self.bus.up:
                self.heard.append(line)
            lines.append(line)
        self.run_once()
        return lines

    def run_once(self) -> None:
        for key, mask in self.selector.select(0.001):
            key.data(mask)
        self.timers.run_due(self.clock())
        self.bus.end_pass(int(time.time() * 1000))

    def close(self) -> None:
        self.bus.close()
        self.selector.close()


def run(nodes: List[Node], condition, timeout: float = TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met within %s s" % timeout)
        for node in nodes:
            node.run_once()


def up(node: Node) -> bool:
    return node.bus.state is BusState.UP


def drained(node: Node) -> bool:
    return up(node) and node.bus.outbox.settled() and not len(node.bus.outbox)


@pytest.fixture
def make_node(monkeypatch):
    """make_node(url): a started node. Its watchdog is patient: on a loaded
    machine a spurious outage would change who read what (the backlog test
    restores the real one)."""
    monkeypatch.setattr(driver, "TIMEOUT", 5.0)
    made: List[Node] = []

    def make(url: str) -> Node:
        node = Node(url)
        node.bus.start()
        made.append(node)
        return node

    yield make
    for node in made:
        node.close()


def reading(redis, node: Node) -> bool:
    """`node`'s XREAD waits in Redis (so the next entry is answered to it)."""
    clients = redis.query("CLIENT", "LIST").decode().splitlines()
    return any(f"name=selchat-{node.bus.node}-sub " in client and " flags=b " in client
               for client in clients)


def lost(heard: List[Any]) -> int:
    return sum(entry.lines for entry in heard if isinstance(entry, Lost))


def from_node(heard: List[Any], node: Node) -> List[bytes]:
    prefix = b"<%s> " % node.bus.node.encode()
    return [line for line in heard if isinstance(line, bytes) and line.startswith(prefix)]


def test_after_redis_lost_its_data_the_second_node_reads_what_the_first_republished(
        start_redis, make_node):
    redis = start_redis(*NO_PERSISTENCE)
    one, two = make_node(redis.url), make_node(redis.url)
    run([one, two], lambda: up(one) and up(two))
    redis.kill()
    run([one, two], lambda: not up(one) and not up(two))
    kept = one.say(30)  # during the outage: delivered on one, kept for the others
    redis.restart()  # empty: a new epoch
    run([one], lambda: drained(one))  # one is back first and publishes its lines
    run([two], lambda: len(from_node(two.heard, one)) == 30 and drained(two))
    assert from_node(two.heard, one) == kept and lost(two.heard) == 0
    assert from_node(one.heard, one) == kept  # once each


def test_lines_redis_lost_before_another_node_read_them_are_told_as_a_gap(
        start_redis, make_node):
    redis = start_redis(*NO_PERSISTENCE)
    one, two = make_node(redis.url), make_node(redis.url)
    run([one, two], lambda: up(one) and up(two))
    read = one.say(5)
    run([one, two], lambda: len(from_node(two.heard, one)) == 5 and reading(redis, two))
    read += one.say(1)  # answers two's waiting XREAD; two does not ask again...
    run([one], lambda: drained(one))
    unread = one.say(6)  # ...so these stay in Redis, unread by two
    run([one], lambda: drained(one))
    redis.kill()
    redis.restart()
    run([one, two], lambda: drained(one) and drained(two) and lost(two.heard))
    later = one.say(2)
    # Both have read them back (each node hears its own lines from the bus too).
    run([one, two], lambda: from_node(two.heard, one)[-2:] == later
        and from_node(one.heard, one)[-2:] == later)
    *got, gap, after, last = two.heard  # (line 6 may not have reached two either)
    assert got in (read, read[:5]) and [after, last] == later
    assert gap == Lost(len(read) + len(unread) - len(got))  # the gap where the lines were
    assert from_node(one.heard, one) == [*read, *unread, *later]


def test_a_batch_redis_ran_but_never_confirmed_is_read_once_after_the_loss(
        start_redis, make_node):
    redis = start_redis(*NO_PERSISTENCE)
    one, two = make_node(redis.url), make_node(redis.url)
    run([one, two], lambda: up(one) and up(two))
    sent = one.say(4)  # sent...
    run([two], lambda: len(from_node(two.heard, one)) == 4)  # ...and read by two
    one.bus._failed("the confirmation was lost")  # as when Redis dies before it answers
    redis.kill()
    redis.restart()
    run([one, two], lambda: drained(one) and drained(two))
    later = one.say(1)  # one published the four again: nothing tells them apart but numbers
    run([one, two], lambda: len(from_node(two.heard, one)) == 5)
    assert two.heard == [*sent, *later]
    assert from_node(one.heard, one) == [*sent, *later]


def test_three_losses_in_a_row_with_both_nodes_talking(start_redis, make_node):
    redis = start_redis(*NO_PERSISTENCE)
    nodes = one, two = make_node(redis.url), make_node(redis.url)
    run(nodes, lambda: up(one) and up(two))
    said: Dict[Node, List[bytes]] = {one: [], two: []}
    for round_ in range(3):
        for node in nodes:
            said[node] += node.say(20)
        one.run_once()  # half-way through a burst: some published, some read
        redis.kill()
        for node in nodes:
            said[node] += node.say(10)
        run(nodes, lambda: not up(one) and not up(two))
        redis.restart()
        first = nodes[round_ % 2]  # back first: one, then two, then one
        run([first], lambda: drained(first))  # noqa: B023 (run calls it at once)
        run(nodes, lambda: drained(one) and drained(two))
    for node in nodes:
        said[node] += node.say(1)  # the last lines: every gap is told before them
    run(nodes, lambda: all(from_node(node.heard, other)[-1:] == said[other][-1:]
                           for node, other in ((one, two), (two, one))))
    for node, other in (one, two), (two, one):
        assert from_node(node.heard, node) == said[node]
        got = from_node(node.heard, other)
        assert got == [line for line in said[other] if line in got]  # in order, once each
        assert len(got) + lost(node.heard) == len(said[other])


def test_a_long_outages_backlog_drains_a_window_at_a_time(start_redis, make_node,
                                                         monkeypatch):
    redis = start_redis()  # its data survives a crash
    node = make_node(redis.url)
    monkeypatch.setattr(driver, "TIMEOUT", 1.0)  # the real watchdog
    run([node], lambda: up(node))
    redis.kill()
    run([node], lambda: not up(node))
    for _ in range(600):
        node.say(10)
    assert len(node.bus.outbox) == 6000
    redis.restart()
    outages = node.bus.outages
    most = 0
    deadline = time.monotonic() + 30
    while not drained(node):
        assert time.monotonic() < deadline
        node.run_once()
        if node.bus._links:
            most = max(most, node.bus._links[0].waiting())
    assert node.bus.outages == outages  # the watchdog never took the backlog for silence
    assert most <= MAX_IN_FLIGHT_BATCHES + 8  # a window, the sync, the heartbeat
    assert redis.query("XLEN", "selchat:stream") == 6001  # and the mark of a reconnect


def test_the_stream_keeps_to_its_byte_cap(redis_server):
    cap = 200_000
    box = Outbox("N1", retention_ms=600_000, lease_ms=15_000, max_stream_bytes=cap)
    redis_server.query("SCRIPT", "LOAD", scripts.PUBLISH)
    for number in range(48):  # the size is checked every eighth batch: the last is one
        for _ in range(100):
            box.line(b"x" * 100 + b"\n", None, "", delivered=True)
        batch: Optional[Any] = box.seal(number)
        assert redis_server.query(*box.command(batch)) == [number * 100 + 1]
    length = redis_server.query("XLEN", "selchat:stream")
    used = redis_server.query("MEMORY", "USAGE", "selchat:stream", "SAMPLES", 0)
    assert length < 4800  # some trimmed: 4,800 entries take about 800 KB
    assert used <= cap * 1.1  # within a node of entries of the cap
    assert redis_server.query("HGET", "selchat:lines", "N1") == b"4800"
