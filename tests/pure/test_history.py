"""The history ring: numbering, capacity, after/last and gaps; no sockets, no clock."""
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from selchat import wire
from selchat.history import SMALL_HISTORY, NotKept, MemoryHistory, last_bytes, replay


def passes(*counts, start=1):
    """Payloads of `counts` lines each, numbered in their text."""
    seq = start
    out = []
    for count in counts:
        out.append(b"".join(b"<a> %d\n" % (seq + i) for i in range(count)))
        seq += count
    return out


def texts(lines):
    return [bytes(line.data) for line in lines]


def seqs(lines):
    return [line.seq for line in lines]


def test_numbers_start_at_1_and_count_every_line():
    history = MemoryHistory("e1", capacity=10)
    assert (history.epoch, history.last_seq, len(history)) == ("e1", 0, 0)
    assert history.after(0) == [] and history.last(5) == []
    first, second = passes(3, 2)
    assert history.append(first, 1000) == 1
    assert history.append(second, 2000) == 4
    assert history.append(b"", 3000) == 6  # an empty pass numbers nothing
    assert history.last_seq == 5
    lines = history.after(0)
    assert seqs(lines) == [1, 2, 3, 4, 5]
    assert texts(lines) == [b"<a> %d\n" % n for n in range(1, 6)]
    assert [line.time_ms for line in lines] == [1000] * 3 + [2000] * 2


def test_lines_are_slices_of_the_pass_payload_not_copies():
    history = MemoryHistory("e", capacity=10)
    payload = passes(3)[0]
    history.append(payload, 0)
    line = history.after(1)[0]
    assert isinstance(line.data, memoryview) and line.data.obj is payload


def test_the_line_of_a_one_line_pass_is_its_payload_itself():
    history = MemoryHistory("e", capacity=10)
    payload = passes(1)[0]
    history.append(payload, 0)
    assert history.after(0)[0].data is payload  # no memoryview: 184 bytes a line spared


def test_given_line_ends_are_used_as_they_are():
    history = MemoryHistory("e", capacity=10)
    history.append(b"a\nbb\n", 0, ends=[2, 5])
    assert texts(history.after(0)) == [b"a\n", b"bb\n"]


def test_after_the_last_or_in_between():
    history = MemoryHistory("e", capacity=10)
    for payload in passes(2, 3, 1):
        history.append(payload, 0)
    assert history.after(6) == []
    assert seqs(history.after(5)) == [6]
    assert seqs(history.after(1)) == [2, 3, 4, 5, 6]
    assert seqs(history.after(3)) == [4, 5, 6]


def test_capacity_drops_the_oldest_lines_even_inside_a_pass():
    history = MemoryHistory("e", capacity=4)
    for payload in passes(3, 3):
        history.append(payload, 0)
    assert (len(history), history.first_seq, history.last_seq) == (4, 3, 6)
    assert texts(history.after(2)) == [b"<a> %d\n" % n for n in (3, 4, 5, 6)]
    history.append(passes(2, start=7)[0], 0)
    assert seqs(history.last(10)) == [5, 6, 7, 8]


def test_a_pass_bigger_than_the_capacity_keeps_its_tail():
    history = MemoryHistory("e", capacity=2)
    history.append(passes(5)[0], 0)
    assert seqs(history.last(9)) == [4, 5]


@pytest.mark.parametrize("seq, missing", [(0, 4), (2, 2), (3, 1)])
def test_after_what_is_kept_is_a_gap_with_the_missing_count(seq, missing):
    history = MemoryHistory("e", capacity=3)
    history.append(passes(7)[0], 0)  # keeps 5, 6, 7
    assert history.after(seq) == NotKept(missing)
    assert seqs(history.after(4)) == [5, 6, 7]


@pytest.mark.parametrize("seq", [8, 100, -1])
def test_a_number_never_given_out_is_a_gap_of_unknown_size(seq):
    history = MemoryHistory("e", capacity=3)
    history.append(passes(7)[0], 0)
    assert history.after(seq) == NotKept(None)


def test_capacity_0_keeps_nothing_but_counts():
    history = MemoryHistory("e", capacity=0)
    history.append(passes(3)[0], 0)
    assert (history.last_seq, len(history), history.last(5)) == (3, 0, [])
    assert history.after(3) == [] and history.after(1) == NotKept(2)


def test_last():
    history = MemoryHistory("e", capacity=100)
    for payload in passes(2, 2, 2):
        history.append(payload, 0)
    assert seqs(history.last(3)) == [4, 5, 6]
    assert seqs(history.last(6)) == [1, 2, 3, 4, 5, 6]
    assert seqs(history.last(60)) == [1, 2, 3, 4, 5, 6]
    assert history.last(0) == [] and history.last(-1) == []


def test_last_bytes_is_a_piece_a_pass_and_makes_no_lines():
    history = MemoryHistory("e", capacity=5)
    payloads = passes(2, 1, 3)
    for payload in payloads:
        history.append(payload, 0)
    count, first, pieces = last_bytes(history, 4)  # the whole last pass, the second's line
    assert (count, first) == (4, 3) and pieces[0] is payloads[1] and pieces[1] is payloads[2]
    count, first, pieces = last_bytes(history, 2)  # the tail of the last pass: a slice, no copy
    assert (count, first) == (2, 5) and isinstance(pieces[0], memoryview)
    assert bytes(pieces[0]) == b"<a> 5\n<a> 6\n"
    assert all(held._lines is None for held in history._passes)  # no Line made, none kept
    assert last_bytes(history, 0) == (0, 0, []) and last_bytes(history, -1) == (0, 0, [])


def test_a_long_history_outgrows_its_small_list_and_still_trims_in_order():
    capacity = SMALL_HISTORY + 10
    history = MemoryHistory("e", capacity)
    payloads = passes(*[1] * (capacity + 25))
    for payload in payloads:
        history.append(payload, 0)
    assert len(history) == capacity and seqs(history.last(2)) == [capacity + 24, capacity + 25]
    assert texts(history.after(25)) == payloads[25:]
    assert history.after(24) == NotKept(1)
    assert b"".join(last_bytes(history, capacity)[2]) == b"".join(payloads[25:])


def test_negative_capacity_is_refused():
    with pytest.raises(ValueError):
        MemoryHistory("e", capacity=-1)


def test_replay_plain_and_tagged():
    history = MemoryHistory("e", capacity=10)
    history.append(b"<a> x\n", 1005)
    history.append(b"* a y\n", 2000)
    lines = history.after(0)
    assert b"".join(replay(lines, tagged=False)) == b"<a> x\n* a y\n"
    assert b"".join(replay(lines, tagged=True)) == (
        b"@seq=1;time=1970-01-01T00:00:01.005Z <a> x\n"
        b"@seq=2;time=1970-01-01T00:00:02.000Z * a y\n")
    assert replay([], tagged=True) == []


@settings(max_examples=200, deadline=None, database=None)
@given(st.integers(min_value=0, max_value=12), st.lists(st.integers(0, 6), max_size=12),
       st.integers(min_value=-2, max_value=50))
def test_against_a_plain_list(capacity, counts, seq):
    """Whatever the passes and capacity: the same as keeping every line in a list."""
    history = MemoryHistory("e", capacity)
    every = []
    for payload in passes(*counts):
        history.append(payload, 0)
        every += payload.splitlines(keepends=True)
    kept = every[max(0, len(every) - capacity):] if capacity else []
    first = len(every) - len(kept) + 1
    assert texts(history.last(len(every) + 1)) == kept
    for count in (0, 1, 2, capacity, len(every) + 1):
        taken, first_seq, pieces = last_bytes(history, count)
        wanted = kept[len(kept) - min(count, len(kept)):]
        assert (taken, b"".join(pieces)) == (len(wanted), b"".join(wanted))
        assert first_seq == (len(every) - len(wanted) + 1 if wanted else 0)
    got = history.after(seq)
    if seq < 0 or seq > len(every):
        assert got == NotKept(None)
    elif seq < first - 1:
        assert got == NotKept(first - 1 - seq)
    else:
        assert texts(got) == every[seq:]
        assert seqs(got) == list(range(seq + 1, len(every) + 1))
    assert all(bytes(line.data) == wire.text_of(wire.chat("a", str(line.seq))).encode() + b"\n"
               for line in history.last(capacity))
