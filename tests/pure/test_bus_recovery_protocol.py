"""After an outage, sans I/O: what the outbox sends again and how fast, what it
tells of lines it could not keep, its real memory, and how a reader finds
lines read twice or never. No sockets, no Redis."""
import gc
import tracemalloc

import pytest

from selchat.bus.protocol import (
    BATCH_COST, LINE_COST, MAX_IN_FLIGHT_BATCHES, MAX_IN_FLIGHT_BYTES, Mark, Outbox, Tally, decode,
    line_counts,
)


WHO = object()  # a member: exists anyway, not the outbox's memory


def outbox(max_bytes=1 << 30):
    return Outbox("N1", retention_ms=60_000, lease_ms=15_000, max_bytes=max_bytes)


def ops(box, batch):
    """A batch's operations, as the script gets them."""
    return box.command(batch)[len(box.command(batch)) - len(batch.ops):]


# -- the outbox's bound counts the memory it holds --------------------------------------

@pytest.mark.parametrize("per_pass", [1, 50])
def test_an_outbox_of_short_lines_holds_no_more_memory_than_its_bound(per_pass):
    bound = 1024 * 1024
    box = outbox(max_bytes=bound)
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        kept = 0
        for number in range(100_000):
            if not box.line(b"<u%05d> hi\n" % number, WHO, "", delivered=True):
                break
            kept += 1
            if number % per_pass == per_pass - 1:
                box.seal(number)
        box.seal(0)
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert 0 < kept < 100_000  # the bound was reached
    assert box.size <= bound
    assert held <= bound  # what the outbox counts is what it holds...
    assert held >= box.size * 0.85  # ...and not a gross overestimate either


def test_the_line_cost_covers_a_kept_lines_record():
    box = outbox()
    box.line(b"x\n", WHO, "", delivered=False)
    assert box.seal(1).size >= LINE_COST + 2


# -- sending again after an outage: a window at a time -----------------------------------

def test_a_backlog_goes_out_a_window_at_a_time_as_batches_are_confirmed():
    box = outbox()
    for number in range(1, 301):
        box.line(b"line %d\n" % number, WHO, "", delivered=True)
        box.seal(number)
    box.rewind()  # connected
    first = box.to_send()
    assert [b.number for b in first] == list(range(1, MAX_IN_FLIGHT_BATCHES + 1))
    assert box.to_send() == []  # the window is full
    box.confirmed(10)
    assert [b.number for b in box.to_send()] == list(range(65, 75))  # ten more
    box.rewind()  # the link broke: the oldest unconfirmed goes first again
    assert box.to_send()[0].number == 11
    sent = MAX_IN_FLIGHT_BATCHES + 10
    while not box.settled():
        box.confirmed(sent)
        sent += len(box.to_send())
    assert sent == 300


def test_the_window_also_counts_bytes_and_always_sends_one():
    box = outbox()
    big = b"x" * (MAX_IN_FLIGHT_BYTES // 2)
    for number in range(4):
        box.line(big, WHO, "", delivered=True)
        box.seal(number)
    box.rewind()
    assert [b.number for b in box.to_send()] == [1, 2]  # the second one fills it
    box.confirmed(2)
    assert [b.number for b in box.to_send()] == [3, 4]
    huge = outbox()
    huge.line(b"y" * (3 * MAX_IN_FLIGHT_BYTES), WHO, "", delivered=True)
    huge.seal(1)
    assert [b.number for b in huge.to_send()] == [1]  # over the window, alone


def test_a_batch_sealed_while_the_backlog_drains_waits_its_turn():
    box = outbox()
    for number in range(100):
        box.line(b"old\n", WHO, "", delivered=True)
        box.seal(number)
    box.rewind()
    window = box.to_send()
    box.line(b"new\n", WHO, "", delivered=False)
    newest = box.seal(1000)
    box.confirmed(window[-1].number)
    following = box.to_send()
    assert following[0].number == window[-1].number + 1 and following[-1] is newest


# -- telling how far the numbering went ------------------------------------------------

def test_lines_refused_at_the_end_are_told_by_a_mark_once_the_backlog_is_confirmed():
    box = outbox(max_bytes=2 * (LINE_COST + 5) + BATCH_COST)
    assert box.line(b"kept\n", WHO, "", True) and box.line(b"kept\n", WHO, "", True)
    first = box.seal(1)
    assert not box.line(b"refused\n", WHO, "", True)
    assert not box.line(b"refused\n", WHO, "", True)
    assert box.seal(2) is None  # nothing to send: the mark waits for the backlog
    box.confirmed(first.number)
    mark = box.seal(3)  # alone, after every kept line
    assert ops(box, mark) == ["H", 4] and mark.lines == 0
    assert box.seal(4) is None  # told once


def test_a_mark_rides_with_the_next_batch_when_there_is_one():
    box = outbox(max_bytes=LINE_COST + 5 + BATCH_COST + 10)
    assert box.line(b"kept\n", WHO, "", True)
    assert not box.line(b"x" * LINE_COST, WHO, "", True)
    box.claim("bob", "bob", 1, "")
    assert ops(box, box.seal(1)) == ["L", b"kept\n", "", "C", "bob", "bob", 1, "", "H", 2]


def test_after_a_reconnect_the_numbering_is_told_again_after_the_backlog():
    box = outbox()
    box.line(b"a\n", WHO, "", False)
    box.line(b"b\n", WHO, "", False)
    box.confirmed(box.seal(1).number)
    assert box.seal(2) is None  # the stream has said 2: nothing to tell
    box.rewind()  # Redis may have lost what it said
    box.line(b"c\n", WHO, "", False)
    assert ops(box, box.seal(3)) == ["L", b"c\n", ""]  # its number tells it all
    box.rewind()
    box.release("bob")
    assert ops(box, box.seal(4)) == ["R", "bob", "", "H", 3]


def test_a_node_that_said_no_line_marks_nothing():
    box = outbox()
    box.rewind()
    assert box.seal(1) is None


# -- reading: each node's lines by number ---------------------------------------------

def test_the_tally_skips_lines_read_before_and_counts_numbers_never_read():
    tally = Tally()
    tally.seed({"A": 5})  # A's lines up to 5 came before our time
    assert tally.line("A", 6) == 0
    assert tally.line("A", 6) is None  # published again after Redis lost its data
    assert tally.line("A", 4) is None
    assert tally.line("A", 10) == 3  # 7, 8, 9 never came
    assert tally.line("B", 1) == 0  # a node that started after us
    assert tally.line("C", 4) == 3  # ... and whose first lines were lost
    assert tally.mark("A", 10) == 0
    assert tally.mark("A", 12) == 2
    assert tally.line("A", 12) is None and tally.line("A", 13) == 0


def test_a_live_node_without_a_count_starts_where_it_is_first_read():
    tally = Tally()
    tally.seed({"A": 5}, live=["A", "OLD", "ME"])  # OLD: a version that keeps no count
    assert tally.line("OLD", 40) == 0  # its lines before came before our time
    assert tally.line("OLD", 42) == 1
    assert tally.mark("ME", 3) == 0
    assert tally.line("A", 7) == 1  # A's count stands
    assert tally.line("NEW", 3) == 2  # not live then: started after us


def test_seeding_keeps_what_was_read():
    tally = Tally()
    tally.line("A", 7)
    tally.seed({"A": 3, "B": 2})
    assert tally.line("A", 7) is None and tally.line("B", 3) == 0


def test_a_mark_decodes_and_the_lines_hash_reads_as_counts():
    assert decode([b"n", b"N2", b"h", b"42"]) == Mark("N2", 42)
    assert line_counts([b"N1", b"3", b"N2", b"40"]) == {"N1": 3, "N2": 40}


# -- after Redis lost its data ---------------------------------------------------------

def test_lines_confirmed_but_never_read_back_are_published_again_first():
    box = outbox(max_bytes=3 * (LINE_COST + 3) + BATCH_COST)
    for text in (b"a\n", b"b\n", b"c\n"):
        box.line(text, WHO, "", delivered=False)
    assert not box.line(b"refused" * 40 + b"\n", WHO, "", delivered=False)  # number 4
    box.confirmed(box.seal(1).number)
    assert box.read_back(1).payload == b"a\n"  # 2 and 3: in Redis, not back yet
    box.line(b"*** e has joined the chat room.\n", WHO, "+e", delivered=False)
    unconfirmed = box.seal(2)
    box.deliver_here()  # the bus went down
    box.recover(99)
    box.rewind()
    again, following = box.to_send()
    assert following is unconfirmed and again.number < unconfirmed.number
    assert (again.first_line, again.time_ms, again.lines) == (2, 99, 2)
    assert ops(box, again) == ["L", b"b\n", "", "L", b"c\n", ""]
    assert ops(box, following) == ["L", b"*** e has joined the chat room.\n", "+e"]
    assert box.read_back(2).delivered  # delivered here during the outage: skipped


def test_recovering_jumps_over_numbers_that_were_refused():
    box = outbox(max_bytes=2 * (LINE_COST + 3) + BATCH_COST)
    box.line(b"a\n", WHO, "", delivered=False)
    assert not box.line(b"x" * 200, WHO, "", delivered=False)
    box.line(b"c\n", WHO, "", delivered=False)
    box.confirmed(box.seal(1).number)
    box.recover(5)
    box.rewind()
    (again,) = box.to_send()
    assert again.first_line == 1 and ops(box, again) == ["L", b"a\n", "", "H", 2, "L", b"c\n", ""]


def test_nothing_to_recover_when_every_line_was_read_back():
    box = outbox()
    box.line(b"a\n", WHO, "", delivered=False)
    box.confirmed(box.seal(1).number)
    box.read_back(1)
    box.recover(5)
    assert box.settled()
