"""What a node sends to the bus and reads back: the Outbox's batches and numbering,
and stream entries decoded from the bytes Redis returns. No sockets, no Redis."""
import hashlib

import pytest

from selchat.bus import scripts
from selchat.bus.protocol import (
    BATCH_COST, DIRECT_COST, LINE_COST, NAME_COST, DirectLine, Moved, NameLost, Outbox,
    RoomLine, decode, names_snapshot, xread_entries,
)


KEYS = ["selchat:stream", "selchat:seq", "selchat:names", "selchat:tokens", "selchat:nodes",
        "selchat:lines", "selchat:joined", "selchat:topics", "selchat:batch:N1", "selchat:rules"]
PUBLISH_SHA = hashlib.sha1(scripts.PUBLISH.encode()).hexdigest()


def outbox(max_bytes=1 << 20):
    return Outbox("N1", retention_ms=60_000, lease_ms=15_000, max_bytes=max_bytes,
                  max_stream_bytes=5_000_000)


def head(batch_no, time_ms, first_line):
    return ["EVALSHA", PUBLISH_SHA, len(KEYS), *KEYS, "N1", batch_no, time_ms, 60_000, 15_000,
            5_000_000, first_line]


def numbers(owns):
    return [own.number for own in owns]


# -- sealing a pass ------------------------------------------------------------

def test_a_pass_is_one_evalsha_with_every_operation_in_order():
    box = outbox()
    assert box.line(b"<alice> hi\n", 1, "", delivered=False)
    assert box.line(b"*** bob has joined the chat room.\n", 2, "+bob", delivered=False)
    box.direct("carol", b"*alice* psst\n")
    box.claim("bob", "Bob", 1234, "th-bob")
    box.release("dave", "th-dave")
    batch = box.seal(5000)
    assert box.command(batch) == [
        *head(1, 5000, 1),
        "L", b"<alice> hi\n", "",
        "L", b"*** bob has joined the chat room.\n", "+bob",
        "M", "carol", b"*alice* psst\n",
        "C", "bob", "Bob", 1234, "th-bob",
        "R", "dave", "th-dave",
    ]
    assert (batch.number, batch.lines) == (1, 3)
    assert batch.size == len(b"<alice> hi\n*** bob has joined the chat room.\n*alice* psst\n") \
        + 2 * LINE_COST + DIRECT_COST + 2 * NAME_COST + BATCH_COST


def test_a_pass_with_nothing_to_publish_sends_nothing():
    box = outbox()
    assert box.seal(1) is None
    assert box.to_send() == [] and box.settled()


def test_batch_numbers_increase_and_line_numbers_continue_across_batches():
    box = outbox()
    box.line(b"a\n", None, "", False)
    box.line(b"b\n", None, "", False)
    first = box.seal(10)
    box.claim("x", "x", 11, "")  # a pass without room lines: numbers no line
    second = box.seal(11)
    box.line(b"c\n", None, "", False)
    third = box.seal(12)
    assert [b.number for b in (first, second, third)] == [1, 2, 3]
    assert box.command(first)[:len(head(1, 10, 1))] == head(1, 10, 1)
    assert box.command(third) == [*head(3, 12, 3), "L", b"c\n", ""]
    assert numbers(box.pending) == [1, 2, 3]


def test_batches_stay_until_confirmed_then_the_outbox_is_settled():
    box = outbox()
    box.line(b"one\n", None, "", False)
    box.direct("bob", b"*a* x\n")
    first = box.seal(1)
    box.line(b"two\n", None, "", False)
    second = box.seal(2)
    box.claim("c", "c", 3, "")
    assert not box.settled()  # an unsealed claim is not in Redis either
    third = box.seal(3)
    assert box.to_send() == [first, second, third]
    box.rewind()  # a new connection
    assert box.to_send() == [first, second, third]  # sent again as they were
    assert (box.size, box.waiting_lines) == (first.size + second.size + third.size, 3)
    box.confirmed(1)
    assert box.to_send() == []  # the others are in flight
    assert (box.size, box.waiting_lines) == (second.size + third.size, 1)
    box.confirmed(3)  # every batch up to 3
    assert box.to_send() == [] and (box.size, box.waiting_lines) == (0, 0)
    assert box.settled()
    box.confirmed(3)  # confirmed twice (a batch sent again): nothing breaks
    assert box.settled()


# -- the byte bound during an outage -------------------------------------------------

def test_lines_past_the_bound_are_refused_counted_and_their_numbers_skipped():
    box = outbox(max_bytes=2 * LINE_COST + BATCH_COST + 10)
    assert box.line(b"12345\n", 1, "", delivered=True)
    assert not box.line(b"67890\n", 1, "", delivered=True)  # 12 bytes + costs > bound
    assert box.unpublished == 1
    assert box.line(b"abc\n", 1, "", delivered=True)  # 10 bytes: fits
    batch = box.seal(1)
    # Line 2 was refused: the script is told to jump over it (a mark the
    # other nodes read as one line lost), and our read-back stays aligned.
    assert box.command(batch) == [*head(1, 1, 1), "L", b"12345\n", "", "H", 2,
                                  "L", b"abc\n", ""]
    assert numbers(box.pending) == [1, 3]
    assert not box.line(b"x\n", None, "", True)  # sealed, not confirmed: still counted
    box.confirmed(1)
    assert box.line(b"again\n", None, "", True)
    assert box.command(box.seal(2)) == [*head(2, 2, 5), "L", b"again\n", ""]
    assert box.unpublished == 2


# -- reading our own lines back ------------------------------------------------------

def test_read_back_returns_our_line_and_forgets_older_ones_that_never_came_back():
    box = outbox()
    for n in range(1, 5):
        box.line(b"l%d\n" % n, n * 10, "", delivered=False)
    box.seal(1)
    own = box.read_back(3)  # 1 and 2 were trimmed from the stream
    assert (own.number, own.payload, own.exclude, own.delivered) == (3, b"l3\n", 30, False)
    assert numbers(box.pending) == [4] and len(box) == 1
    assert box.read_back(3) is None  # not twice
    assert box.read_back(2) is None  # an older number: unknown, drops nothing
    assert numbers(box.pending) == [4]
    assert box.read_back(4).payload == b"l4\n"
    assert box.read_back(5) is None and len(box) == 0


def test_deliver_here_gives_the_undelivered_lines_once():
    box = outbox()
    box.line(b"a\n", 1, "", delivered=False)
    box.line(b"b\n", 2, "", delivered=True)
    box.line(b"c\n", 3, "", delivered=False)
    waiting = box.deliver_here()
    assert [(own.number, own.payload, own.exclude) for own in waiting] == \
        [(1, b"a\n", 1), (3, b"c\n", 3)]
    assert box.deliver_here() == []
    assert box.read_back(1).delivered  # skipped when it comes back
    assert numbers(box.pending) == [2, 3]


# -- decoding stream entries ---------------------------------------------------------

ROOM = [b"n", b"node", b"i", b"1", b"s", b"7", b"t", b"123", b"d", b"<a> hi\n"]


def test_a_room_line_decodes_with_its_number_time_and_bytes():
    assert decode(ROOM) == RoomLine(7, 123, b"<a> hi\n", "", "node", None, 1)


def test_a_join_line_carries_its_presence_change():
    fields = [b"n", b"N2", b"i", b"4", b"s", b"9", b"t", b"5", b"d",
              "*** ａｌｉｃｅ has joined the chat room.\n".encode(), b"p", "+ａｌｉｃｅ".encode()]
    line = decode(fields)
    assert line == RoomLine(9, 5, fields[9], "+ａｌｉｃｅ", "N2", None, 4)
    assert decode([b"n", b"N2", b"i", b"5", b"s", b"10", b"t", b"6", b"d", b"x\n",
                   b"p", b"=bob\tbobby"]).presence == "=bob\tbobby"


def test_a_direct_line_decodes_with_its_target_key():
    assert decode([b"n", b"N2", b"t", b"77", b"m", b"bob", b"d", b"*alice* psst\n"]) == \
        DirectLine("bob", 77, b"*alice* psst\n", "N2")


def test_a_lost_name_names_the_node_that_must_rename():
    assert decode([b"n", b"N2", b"x", b"N1\talice"]) == NameLost("N1", "alice")


def test_a_moved_session_decodes_every_part():
    assert decode([b"n", b"N2", b"v", b"abc123\tN1\talice\t1796220436223000\tAlice"]) == \
        Moved("abc123", "N1", "alice", 1796220436223000, "Alice", "N2")


@pytest.mark.parametrize("fields", [
    [b"n", b"N2", b"z", b"future"],
    [b"n", b"N2", b"v", b"abc123\tN1\talice"],  # a move missing its name
])
def test_an_entry_this_version_does_not_know_is_none(fields):
    assert decode(fields) is None


def test_names_snapshot_is_key_to_name_and_node():
    flat = [b"alice", b"N1\t1000\tAlice", "zoe".encode(), "N2\t2000\tZoë".encode()]
    assert names_snapshot(flat) == {"alice": ("Alice", "N1"), "zoe": ("Zoë", "N2")}
    assert names_snapshot([]) == {}


def test_xread_entries_of_nothing_new_and_of_a_reply():
    assert xread_entries(None) == []
    direct = [b"n", b"N2", b"t", b"1", b"m", b"bob", b"d", b"hi\n"]
    reply = [[b"selchat:stream", [[b"1700000000000-0", ROOM], [b"1700000000000-1", direct]]]]
    entries = [(entry_id, decode(fields)) for entry_id, fields in xread_entries(reply)]
    assert entries == [
        (b"1700000000000-0", RoomLine(7, 123, b"<a> hi\n", "", "node", None, 1)),
        (b"1700000000000-1", DirectLine("bob", 1, b"hi\n", "N2")),
    ]
