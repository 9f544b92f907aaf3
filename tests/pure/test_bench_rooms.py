"""The load harness's rooms (bench/rooms.py): who is where, what is due to whom,
and the per-(room, sender) count of lines as a receiver gets them."""
import sys

from support.constants import BENCH

sys.path.insert(0, str(BENCH))
import flood  # noqa: E402
from message import READY, BodyFormat  # noqa: E402
from protocols import Chat  # noqa: E402
from rooms import (expected, join_lines, last_joined, losses, members, room_name,  # noqa: E402
                   rooms_of, sent_to, take_lines)
from tally import Checker, Probe, Tally  # noqa: E402


def test_each_client_joins_k_distinct_rooms_in_turn():
    assert rooms_of(0, 6, 2) == [0, 1]
    assert rooms_of(4, 6, 2) == [2, 3]
    assert rooms_of(3, 4, 3) == [1, 2, 3]  # wraps round
    assert all(len(set(rooms_of(i, 1000, 5))) == 5 for i in range(2000))


def test_rooms_fill_evenly():
    table = members(30, 6, 2)
    assert [len(m) for m in table] == [10] * 6
    assert [len(m) for m in members(2000, 1000, 5)] == [10] * 1000


def test_room_names_have_one_width():
    assert room_name(7, 1000) == b"#r007"
    assert room_name(0, 1) == b"#r0"
    assert join_lines(4, 6, 2) == b"/join #r2\n/join #r3\n"
    assert last_joined(4, 6, 2) == b"*** You joined #r3."


def test_a_sender_speaks_to_its_rooms_in_turn():
    # 5 messages over 2 rooms: numbers 0, 2, 4 to the first, 1, 3 to the second.
    assert [sent_to(5, 2, slot) for slot in (0, 1)] == [3, 2]
    assert [sent_to(0, 3, slot) for slot in range(3)] == [0, 0, 0]
    assert sum(sent_to(17, 5, slot) for slot in range(5)) == 17


def test_expected_copies_go_to_the_other_members_of_each_room():
    # 6 clients, 3 rooms, 2 each: client 0 is in rooms 0, 1; client 1 in 2, 0; ...
    due = expected({0: 5}, {0: 0}, 6, 3, 2)
    assert due[0] == {}  # nothing of its own
    inside = members(6, 3, 2)
    for client in range(1, 6):
        want = {}
        if client in inside[0]:
            want[(b"#r0", 0)] = 3
        if client in inside[1]:
            want[(b"#r1", 0)] = 2
        assert due[client] == want
    assert sum(sum(d.values()) for d in due.values()) == 3 * 3 + 2 * 3


def _checker(senders=2):
    fmt = BodyFormat(senders, 40)
    return fmt, Checker(fmt, Chat.record("c1", 40), 1000, Chat.is_framing)


def _line(fmt, room, sender, seq):
    return room + b" <c9> " + fmt.body(sender, seq, 0) + b"\n"


def test_lines_are_counted_per_room_and_sender_and_notices_skipped():
    fmt, checker = _checker()
    tally, counts = Tally(2), {}
    data = (b"*** c3 joined #r1\n<c0> " + READY + b"\n"
            + _line(fmt, b"#r1", 0, 0) + _line(fmt, b"#r2", 0, 1)
            + _line(fmt, b"#r1", 1, 0) + _line(fmt, b"#r1", 0, 2))
    probe = Probe()
    assert take_lines(checker, fmt.parse, data, tally, counts, 10, probe) == 4
    assert counts == {(b"#r1", 0): [2, 2], (b"#r2", 0): [1, 1], (b"#r1", 1): [1, 0]}
    assert tally.received == [3, 1]
    assert checker.disorder == [0, 0] and checker.garbled == 0 and checker.other_lines == 0
    assert len(probe.latencies) == 4
    assert losses([counts], [{(b"#r1", 0): 2, (b"#r2", 0): 1, (b"#r1", 1): 1}], 2) == {
        "lost": [0, 0], "duplicated": [0, 0]}


def test_a_swap_within_one_room_is_a_reordering_but_across_rooms_is_not():
    fmt, checker = _checker()
    across = _line(fmt, b"#r2", 0, 1) + _line(fmt, b"#r1", 0, 0)
    take_lines(checker, fmt.parse, across, Tally(2), {})
    assert checker.disorder == [0, 0]
    within = _line(fmt, b"#r1", 0, 2) + _line(fmt, b"#r1", 0, 0)
    take_lines(checker, fmt.parse, within, Tally(2), {})
    assert checker.disorder == [1, 0]


def test_losses_and_duplicates_are_per_room():
    fmt, checker = _checker()
    counts = {}
    data = _line(fmt, b"#r1", 0, 0) + _line(fmt, b"#r1", 0, 0) + _line(fmt, b"#r1", 1, 0)
    take_lines(checker, fmt.parse, data, Tally(2), counts)
    # #r1 from sender 0: one too many; #r2 from sender 0: one missing, though the
    # total from sender 0 (2) is what is due (2).
    due = {(b"#r1", 0): 1, (b"#r2", 0): 1, (b"#r1", 1): 1}
    assert losses([counts], [due], 2) == {"lost": [1, 0], "duplicated": [1, 0]}


def test_a_garbled_room_line_is_counted_as_such():
    fmt, checker = _checker()
    assert take_lines(checker, fmt.parse, b"#r1 <c9> #zzz\n#r1 no body\nhello\n",
                      Tally(2), {}) == 0
    assert checker.garbled == 2 and checker.other_lines == 1


def test_the_selchat_started_lets_every_client_into_its_rooms():
    args = flood.parse_args(["--rooms", "60000", "--rooms-per-client", "60",
                             "--announce-limit", "7"])
    assert flood._selchat_options(args) == [
        "--announce-limit", "7", "--max-rooms", "60001", "--max-rooms-per-member", "61"]
    # Under selchat's own defaults: passed, but no lower than them.
    small = flood.parse_args(["--rooms", "6", "--rooms-per-client", "2"])
    assert flood._selchat_options(small) == ["--max-rooms", "10000",
                                             "--max-rooms-per-member", "50"]
    assert flood._selchat_options(flood.parse_args([])) == []
