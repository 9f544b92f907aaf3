"""Channel TAGMSGs kept beside a room's lines (`selchat.irc.events`): per
room, capped, walked with the lines in number order, with their own tags.
(CHATHISTORY's answers with them: tests/pure/test_irc_chathistory.py.)"""
from selchat.history import Line
from selchat.irc import events as ev
from selchat.room_lines import MemoryLines

LINES = [Line(1, 1000, b"#dev <alice> one\n", b""), Line(3, 1020, b"#dev <bob> two\n", b""),
         Line(4, 1030, b"#dev *** bob set the topic: t\n", b"")]
REACTION = b":bob!bob@h TAGMSG #dev\r\n"


class Room:
    """A room as the events keep it: any object with a weak reference."""


def test_events_are_kept_per_room_capped_and_go_with_the_room():
    events = ev.Events()
    room, other = Room(), Room()
    assert events.of(room) is None  # a room with none costs nothing
    for seq in range(1, ev.EVENTS_KEPT + 6):
        events.add(room, seq, seq, REACTION, "+draft/react=x")
    kept = events.of(room)
    assert kept is not None and kept.first_seq == 6 and len(kept.lines) == ev.EVENTS_KEPT
    assert isinstance(kept.lines[0], ev.Event) and kept.lines[0].tags == b"+draft/react=x"
    assert events.of(other) is None
    del room
    assert not list(events._rooms)  # gone with its room


def test_with_events_walks_both_in_number_order():
    events = MemoryLines([ev.Event(2, 1010, REACTION, b"+react=a"),
                          ev.Event(5, 1040, REACTION, b"+react=b")])
    both = ev.WithEvents(MemoryLines(LINES), events)
    assert [line.seq for line in both.before(10, 3)] == [3, 4, 5]
    assert [line.seq for line in both.before(4, 10)] == [1, 2, 3]
    assert [line.seq for line in both.after(1, 2)] == [2, 3]
    assert both.after(5, 2) == [] and both.before(1, 2) == []
    assert both.seq_at(1005) == 2 and both.seq_at(1035) == 5 and both.seq_at(2000) is None


def test_an_events_own_tags_join_the_answers():
    event = ev.Event(2, 1010, REACTION, b"+draft/react=a;+typing")
    assert ev.with_tags("@time=T;msgid=e1-2 ", event) == \
        b"@time=T;msgid=e1-2;+draft/react=a;+typing " + REACTION
    assert ev.with_tags("", event) == b"@+draft/react=a;+typing " + REACTION
    assert ev.with_tags("@time=T ", ev.Event(2, 1010, REACTION, b"")) == b"@time=T " + REACTION


def test_reactions_and_asked_for_ones_are_kept_typing_notices_are_not():
    assert ev.worth_keeping({"+draft/react": "x"}) and ev.worth_keeping({"+react": "y"})
    assert ev.worth_keeping({"+draft/persist": "", "+client-only": "z"})
    assert not ev.worth_keeping({"+typing": "active"}) and not ev.worth_keeping({})
