"""The load harness's receive-side checker (bench/tally.py) on its own, with reads
built by hand, because its column trick must catch a fault inside a single read;
and the one-order check of nodes on a bus."""
import sys

import pytest

from support.constants import BENCH

sys.path.insert(0, str(BENCH))
from message import BodyFormat, storm_line  # noqa: E402
from protocols import Chat  # noqa: E402
from tally import Checker, Probe, Tally, one_order  # noqa: E402


# -- the column check on its own ----------------------------------------------------


def _stream(fmt: BodyFormat, order):
    """Chat records for (sender, seq) pairs, as one client would receive them."""
    return b"".join(b"<c1> " + fmt.body(s, q, 0) + b"\n" for s, q in order)


def _check(order, senders: int = 3, pieces: int = 1):
    """Feed `order` through the fast path in `pieces` reads; (tally, checker)."""
    fmt = BodyFormat(senders, 40)
    record = Chat.record("c1", 40)
    checker = Checker(fmt, record, backlog=1000, is_framing=Chat.is_framing)
    tally = Tally(senders)
    data = _stream(fmt, order)
    step = len(order) // pieces * record.size
    for start in range(0, len(data), step):
        chunk = bytearray(data[start:start + step])
        assert checker.records(chunk, len(chunk), tally)
    checker.settle(tally)
    return tally, checker


def _interleaved(n: int = 30, senders: int = 3):
    return [(i % senders, i // senders) for i in range(n * senders)]


def test_clean_interleaved_reads_count_exactly():
    tally, checker = _check(_interleaved(), pieces=5)
    assert tally.received == [30, 30, 30] and tally.top == [29, 29, 29]
    assert checker.disorder == [0, 0, 0] and checker.garbled == 0


@pytest.mark.parametrize("fault, received, disorder", [
    ("drop", [30, 29, 30], [0, 0, 0]),
    ("dup", [30, 31, 30], [0, 1, 0]),
    ("swap", [30, 30, 30], [0, 1, 0]),
])
def test_a_fault_inside_one_read_is_caught(fault, received, disorder):
    order = _interleaved()
    at = order.index((1, 12))
    if fault == "drop":
        del order[at]
    elif fault == "dup":
        order.insert(at, order[at])
    else:  # sender 1's messages 12 and 13 trade places, other senders' between them
        later = order.index((1, 13))
        order[at], order[later] = order[later], order[at]
    tally, checker = _check(order)
    assert tally.received == received
    assert checker.disorder == disorder


def test_a_read_that_is_not_records_is_refused():
    fmt = BodyFormat(1, 40)
    checker = Checker(fmt, Chat.record("c1", 40), backlog=1000, is_framing=Chat.is_framing)
    notice = b"*** c2 has joined the chat room.".ljust(Chat.record("c1", 40).size - 1) + b"\n"
    chunk = bytearray(_stream(fmt, [(0, 0)]) + notice)
    tally = Tally(1)
    assert not checker.records(chunk, len(chunk), tally)
    assert checker.lines(bytes(chunk), tally) == 1
    assert tally.received == [1] and checker.other_lines == 1


def test_storm_lines_are_cut_out_and_counted():
    fmt = BodyFormat(1, 40)
    record = Chat.record("c1", 40)
    storm = Chat.record("s7", 100)
    checker = Checker(fmt, record, backlog=1000, is_framing=Chat.is_framing, storm=storm)
    line = b"<s7> " + storm_line(7, 0, 100) + b"\n"
    assert len(line) == storm.size
    data = (line + _stream(fmt, [(0, 0), (0, 1)]) + line + line + _stream(fmt, [(0, 2)])
            + b"<s7> " + storm_line(7, 1, 50) + b"\n")  # too short: garbled
    tally = Tally(1)
    rest = checker.storm(data, tally)
    assert tally.storm == 3 and checker.garbled == 1
    assert rest == _stream(fmt, [(0, 0), (0, 1), (0, 2)])
    assert checker.records(rest, len(rest), tally)
    checker.settle(tally)
    assert tally.received == [3] and checker.disorder == [0]


def test_a_read_of_storm_lines_alone_is_counted_by_its_columns():
    fmt = BodyFormat(1, 40)
    storm = Chat.record("s7", 100)
    checker = Checker(fmt, Chat.record("c1", 40), backlog=1000, is_framing=Chat.is_framing,
                      storm=storm)
    lines = b"".join(b"<s7> " + storm_line(7, i, 100) + b"\n" for i in range(5))
    tally = Tally(1)
    assert checker.storm_records(bytearray(lines), len(lines), tally) and tally.storm == 5
    mixed = bytearray(lines[:storm.size] + _stream(fmt, [(0, 0)]) + lines[storm.size:])
    assert not checker.storm_records(mixed, len(mixed) - len(mixed) % storm.size, tally)
    assert tally.storm == 5


def test_storm_is_a_no_op_without_storm_lines():
    fmt = BodyFormat(1, 40)
    checker = Checker(fmt, Chat.record("c1", 40), backlog=1000, is_framing=Chat.is_framing,
                      storm=Chat.record("s0", 100))
    data = _stream(fmt, [(0, 0)])
    tally = Tally(1)
    assert checker.storm(data, tally) is data and tally.storm == 0


# -- nodes on a bus: the one-order check ---------------------------------------------


@pytest.mark.parametrize("heard, verdict, compared", [
    ([[1, 2, 3], [1, 2, 3]], True, 3),
    ([[1, 2, 3], [1, 3, 2]], False, 3),
    ([[1, 2, 3], [2, 3]], True, 2),  # a sender does not get its own line 1
    ([[1, 2, 2, 3], [1, 2, 3]], True, 3),  # a duplicate is counted elsewhere
    ([[4, 1, 2], [1, 5, 2], [1, 2, 6]], True, 2),
    ([[1, 2], [2, 1], [1, 2]], False, 2),
    ([[2, 3], [1, 3], [1, 2]], True, 3),  # each sends one: no line all three got
    ([[2, 3, 4], [1, 4, 3], [1, 2]], False, 4),
    ([[1, 2]], None, 0),  # one probe: nothing to compare with
    ([[1], [2]], None, 0),
])
def test_one_order_compares_what_each_two_probes_got(heard, verdict, compared):
    assert one_order(heard) == (verdict, compared)


def test_a_probe_keeps_which_message_came_when():
    fmt = BodyFormat(3, 40)
    checker = Checker(fmt, Chat.record("c1", 40), backlog=1000, is_framing=Chat.is_framing)
    probe, tally = Probe(), Tally(3)
    order = [(2, 0), (0, 0), (2, 1), (1, 0)]
    stream = b"".join(b"<c1> " + fmt.body(s, q, 100 + q) + b"\n" for s, q in order)
    assert checker.lines(stream, tally, 1000, probe) == 4
    assert list(probe.heard) == [q * 3 + s for s, q in order]
    assert list(probe.sent_at) == [100, 100, 101, 100]
    assert list(probe.latencies) == [900, 900, 899, 900]
