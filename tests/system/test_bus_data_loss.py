"""Two `selchat serve --bus` nodes and a Redis without persistence, killed and
restarted in the middle of bursts: every line reaches every member, or the
member is told how many it missed (``!!! history gap: N lines missed``).

Redis restarted empty is a new epoch: the nodes' kept lines are published
again, their members announced again (their presence was lost too), and
whatever Redis had but a node had not read yet is lost. The test makes one
node come back first each round (the other is stopped meanwhile), the order in
which lines used to be skipped.
"""
import re
import signal
from typing import Dict, List

import pytest

from support.clients import LineClient, read_until

pytestmark = pytest.mark.redis

UNREACHABLE = "*** other servers unreachable; messages may be delayed"
REACHABLE = "*** other servers reachable again"
GAP = re.compile(r"!!! history gap: (\d+) lines? missed \(other servers' lines lost by the bus\)")
ROUNDS = 3


def read_all(client: LineClient, wanted: List[str], log: List[str]) -> None:
    """Read (into `log`) until every line of `wanted` came."""
    missing = set(wanted)
    while missing:
        line = client.line()
        log.append(line)
        missing.discard(line)


def test_redis_losing_its_data_mid_burst_loses_no_line_silently(chat_server, start_redis,
                                                                  clients):
    redis = start_redis("--appendonly", "no")
    nodes = [chat_server("--flood-rate", "0", "--bus", redis.url) for _ in range(2)]
    watchers = [clients(node, f"w{index}") for index, node in enumerate(nodes)]
    speakers = [clients(node, f"s{index}") for index, node in enumerate(nodes)]
    logs: Dict[LineClient, List[str]] = {watcher: [] for watcher in watchers}
    for speaker in speakers:
        speaker.send("start")
    for watcher in watchers:
        read_all(watcher, ["<s0> start", "<s1> start"], [])  # everyone known everywhere
    said: List[List[str]] = [[], []]

    def burst(round_: int, part: str, count: int) -> None:
        for index, speaker in enumerate(speakers):
            lines = [f"{round_}{part}{n}" for n in range(count)]
            speaker.send(*lines)
            said[index] += [f"<s{index}> {line}" for line in lines]

    for round_ in range(ROUNDS):
        first, second = (0, 1) if round_ % 2 == 0 else (1, 0)
        burst(round_, "a", 150)
        redis.kill()  # while the nodes are still publishing and reading it
        burst(round_, "b", 50)  # kept during the outage
        for watcher in watchers:
            logs[watcher] += read_until(watcher, UNREACHABLE)
        nodes[second].proc.send_signal(signal.SIGSTOP)
        try:
            redis.restart()  # empty: a new epoch
            logs[watchers[first]] += read_until(watchers[first], REACHABLE)
        finally:
            nodes[second].proc.send_signal(signal.SIGCONT)
        logs[watchers[second]] += read_until(watchers[second], REACHABLE)
    burst(ROUNDS, "end", 1)  # after every gap, in each node's order
    for watcher in watchers:
        read_all(watcher, [said[0][-1], said[1][-1]], logs[watcher])

    for index, watcher in enumerate(watchers):
        log, other = logs[watcher], 1 - index
        own = [line for line in log if line.startswith(f"<s{index}> ")]
        assert own == said[index]  # a node's own lines never need the bus
        heard = [line for line in log if line.startswith(f"<s{other}> ")]
        assert heard == [line for line in said[other] if line in set(heard)]  # once, in order
        # Each new epoch, the other node announced its two members again.
        announced = [line for line in log if line in (f"*** s{other} has joined the chat room.",
                                                      f"*** w{other} has joined the chat room.")]
        told = sum(int(gap[1]) for gap in map(GAP.fullmatch, log) if gap)
        assert len(heard) + len(announced) + told == len(said[other]) + 2 * ROUNDS, \
            (len(heard), len(announced), told, [line for line in log if line.startswith("!!!")])
