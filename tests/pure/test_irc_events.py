"""Channel TAGMSGs kept beside a room's lines (`selchat.irc.events`), and
CHATHISTORY's answers with them: for draft/event-playback clients with
message-tags only, with their msgid, time and the sender's own tags."""
from typing import List, Optional, Tuple

from selchat.history import Line
from selchat.irc import events as ev
from selchat.irc.message import Message, parse as parse_line
from selchat.irc.session import IrcSession
from selchat.room_lines import MemoryLines, RoomLines
from selchat.wire import LineType, ServerLine

EPOCH = "e1"
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


class World:
    """#dev: LINES and one reaction (number 2) kept beside them."""

    def command(self, text, echo=False, tags=None, exclude_self=False) -> List[ServerLine]:
        return [ServerLine(LineType.NOTICE, "ok")]

    def refusal(self, nick):
        return None

    def server_password_wanted(self):
        return False

    def counts(self):
        return 1, 1

    def epoch(self) -> str:
        return EPOCH

    def history(self, channel: str) -> Optional[Tuple[str, RoomLines]]:
        return "#dev", ev.WithEvents(MemoryLines(LINES), MemoryLines(
            [ev.Event(2, 1010, REACTION, b"+draft/react=a")]))

    def render(self, line: bytes, tags: str) -> bytes:
        return f"{tags}:x!x@h PRIVMSG #dev :{line.decode().split(' ', 1)[1].strip()}\r\n".encode()


def session(caps: str) -> IrcSession:
    irc = IrcSession(World(), "srv", "srv")  # type: ignore[arg-type]
    for line in ["CAP LS 302", f"CAP REQ :{caps}", "NICK me", "USER me 0 * :Me", "CAP END"]:
        irc.handle(parse_line(line.encode()))  # type: ignore[arg-type]
    return irc


def ask(irc: IrcSession, line: str) -> List[Message]:
    msg = parse_line(line.encode())
    assert isinstance(msg, Message)
    return [parse_line(reply.rstrip(b"\r\n")) for reply in irc.handle(msg)]  # type: ignore


def test_a_tagmsg_is_played_back_to_event_playback_clients_with_message_tags_only():
    every = "batch message-tags server-time draft/chathistory draft/event-playback"
    got = ask(session(every), "CHATHISTORY LATEST #dev * 10")
    tagmsg = [msg for msg in got if msg.command == "TAGMSG"]
    assert len(tagmsg) == 1 and tagmsg[0].params == ["#dev"]
    assert tagmsg[0].tags["msgid"] == "e1-2" and tagmsg[0].tags["+draft/react"] == "a"
    assert [msg.command for msg in got[1:-1]] == ["PRIVMSG", "TAGMSG", "PRIVMSG", "PRIVMSG"]
    for caps in ("batch message-tags server-time draft/chathistory",  # no event-playback
                 "batch server-time draft/chathistory draft/event-playback"):  # no message-tags
        got = ask(session(caps), "CHATHISTORY LATEST #dev * 10")
        assert "TAGMSG" not in [msg.command for msg in got]
    got = ask(session("batch message-tags draft/chathistory"), "CHATHISTORY LATEST #dev * 1")
    assert got[1].params[1] == "<bob> two"  # the limit counts messages, not the reaction


def test_a_direct_tagmsg_is_kept_by_its_ends_and_played_back_likewise():
    every = "batch message-tags draft/chathistory draft/event-playback"
    for caps, shown in ((every, ["PRIVMSG", "TAGMSG"]),
                        ("batch message-tags draft/chathistory", ["PRIVMSG"])):
        irc = session(caps)
        irc.keep_direct(1, 1000, "bob", b":bob!bob@h PRIVMSG me :hi\r\n")
        irc.keep_direct(2, 1010, "bob", b":bob!bob@h TAGMSG me\r\n", "+draft/react=x")
        got = ask(irc, "CHATHISTORY LATEST bob * 10")
        assert [msg.command for msg in got[1:-1]] == shown
        if len(shown) == 2:
            assert got[2].tags["msgid"] == "e1-d2" and got[2].tags["+draft/react"] == "x"
