"""CHATHISTORY (`selchat.irc.chathistory`): the command checked, the lines
chosen from a room's lines (memory, the database, both), and the session's
answer: a batch, FAILs, members only."""
import sqlite3
from typing import List, Optional, Tuple

import pytest
from hypothesis import given, settings, strategies as st

from selchat import store
from selchat.history import Line
from selchat.irc import chathistory as ch
from selchat.irc.chathistory import Fail, Query, Ref
from selchat.irc.message import Message, parse as parse_line
from selchat.irc.session import IrcSession
from selchat.history import MemoryHistory
from selchat.irc.events import Event, WithEvents
from selchat.room_lines import Combined, MemoryLines, RoomLines, StoredLines, of_room
from selchat.tags import format_time
from selchat.wire import LineType, ServerLine

EPOCH = "e1"


def room_lines(spec: List[Tuple[int, int, str]]) -> List[Line]:
    """(seq, time_ms, text) -> Lines of ``#dev``."""
    return [Line(seq, time_ms, f"#dev {text}\n".encode(), b"") for seq, time_ms, text in spec]


#: A room's lines: numbers with holes (other rooms'), passes sharing a time,
#: joins and topics among the messages.
LINES = room_lines([
    (1, 1000, "*** alice has joined #dev."), (2, 1000, "<alice> one"), (4, 1010, "<bob> two"),
    (5, 1010, "* bob waves"), (6, 1020, "*** bob set the topic: t"), (9, 1030, "<alice> three"),
    (10, 1040, "*** -alice- four"), (12, 1050, "<bob> five"), (13, 1060, "<alice> six"),
])
MESSAGES = [line for line in LINES if ch.is_message(line)]


def texts(lines: List[Line]) -> List[str]:
    return [bytes(line.data).decode().split(" ", 1)[1].rstrip("\n") for line in lines]


def query(text: str):
    return ch.parse(text.split(), EPOCH)


# -- parsing ---------------------------------------------------------------------------

@pytest.mark.parametrize("text, code", [
    ("SIDEWAYS #dev * 10", "INVALID_PARAMS"),
    ("", "INVALID_PARAMS"),
    ("LATEST #dev *", "INVALID_PARAMS"),
    ("LATEST #dev * 10 11", "INVALID_PARAMS"),
    ("BEFORE #dev * 10", "INVALID_MSGREFTYPE"),  # "*" is LATEST's alone
    ("BEFORE #dev id=3 10", "INVALID_MSGREFTYPE"),
    ("BEFORE #dev timestamp=yesterday 10", "INVALID_PARAMS"),
    ("BEFORE #dev timestamp=2026-02-30T00:00:00.000Z 10", "INVALID_PARAMS"),
    ("BEFORE #dev msgid=other-3 10", "MESSAGE_ERROR"),  # another epoch's
    ("BEFORE #dev msgid=e1-dx 10", "MESSAGE_ERROR"),
    ("LATEST #dev * 0", "INVALID_PARAMS"),
    ("LATEST #dev * -3", "INVALID_PARAMS"),
    ("LATEST #dev * ten", "INVALID_PARAMS"),
    ("BETWEEN #dev msgid=e1-1 10", "INVALID_PARAMS"),
    ("TARGETS msgid=e1-1 timestamp=2026-01-01T00:00:00.000Z 10", "INVALID_PARAMS"),
])
def test_bad_commands_are_fails_with_the_specs_codes(text, code):
    got = query(text)
    assert isinstance(got, Fail) and got.code == code


def test_a_good_command_and_its_limit_capped():
    assert query("latest #dev * 5") == Query("LATEST", "#dev", (Ref("*", 0),), 5)
    assert query("BEFORE #dev msgid=e1-7 100000").limit == ch.MAX_LIMIT
    got = query("BETWEEN #dev timestamp=1970-01-01T00:00:01.000Z msgid=e1-3 2")
    assert got.refs == (Ref("timestamp", 1000), Ref("msgid", 3))
    assert query("TARGETS timestamp=1970-01-01T00:00:01.000Z "
                 "timestamp=1970-01-01T00:00:02.000Z 3").refs[1] == Ref("timestamp", 2000)


# -- choosing --------------------------------------------------------------------------

def choose(text: str, lines=None, keep=ch.is_message):
    got = query(text)
    assert isinstance(got, Query), got
    return texts(ch.choose(got, MemoryLines(LINES) if lines is None else lines, keep))


def test_only_messages_count_and_are_chosen():
    assert texts(MESSAGES) == ["<alice> one", "<bob> two", "* bob waves", "<alice> three",
                               "*** -alice- four", "<bob> five", "<alice> six"]
    assert choose("LATEST #dev * 3") == ["*** -alice- four", "<bob> five", "<alice> six"]
    assert choose("LATEST #dev * 100") == texts(MESSAGES)
    assert choose("LATEST #dev * 2", keep=lambda line: True) == ["<bob> five", "<alice> six"]


def test_msgid_bounds_are_exclusive_and_may_name_a_hole():
    assert choose("BEFORE #dev msgid=e1-9 2") == ["<bob> two", "* bob waves"]
    assert choose("AFTER #dev msgid=e1-9 2") == ["*** -alice- four", "<bob> five"]
    assert choose("AFTER #dev msgid=e1-7 1") == ["<alice> three"]  # 7: another room's
    assert choose("LATEST #dev msgid=e1-10 100") == ["<bob> five", "<alice> six"]
    assert choose("BEFORE #dev msgid=e1-1 10") == []
    assert choose("AFTER #dev msgid=e1-13 10") == []


def test_between_either_way_and_around():
    assert choose("BETWEEN #dev msgid=e1-2 msgid=e1-13 3") == [
        "<bob> two", "* bob waves", "<alice> three"]
    assert choose("BETWEEN #dev msgid=e1-13 msgid=e1-2 3") == [
        "<alice> three", "*** -alice- four", "<bob> five"]
    assert choose("BETWEEN #dev msgid=e1-2 msgid=e1-4 10") == []
    assert choose("AROUND #dev msgid=e1-9 1") == ["<alice> three"]
    assert choose("AROUND #dev msgid=e1-9 3") == ["* bob waves", "<alice> three",
                                                  "*** -alice- four"]
    assert choose("AROUND #dev msgid=e1-2 3") == ["<alice> one", "<bob> two", "* bob waves"]


def stamp(ms: int) -> str:
    return "timestamp=" + format_time(ms)


def test_timestamps_are_moments_lines_of_one_pass_share():
    assert choose(f"BEFORE #dev {stamp(1010)} 10") == ["<alice> one"]
    assert choose(f"AFTER #dev {stamp(1010)} 2") == ["<alice> three", "*** -alice- four"]
    assert choose(f"AFTER #dev {stamp(1009)} 2") == ["<bob> two", "* bob waves"]
    assert choose(f"LATEST #dev {stamp(1040)} 10") == ["<bob> five", "<alice> six"]
    assert choose(f"BETWEEN #dev {stamp(1000)} {stamp(1050)} 10") == [
        "<bob> two", "* bob waves", "<alice> three", "*** -alice- four"]
    assert choose(f"BETWEEN #dev {stamp(1050)} {stamp(1000)} 1") == ["*** -alice- four"]
    assert "<alice> three" in choose(f"AROUND #dev {stamp(1030)} 3")
    assert choose(f"BEFORE #dev {stamp(5000)} 1") == ["<alice> six"]  # after every line
    assert choose(f"AFTER #dev {stamp(5000)} 1") == []


def test_a_walk_reads_a_bounded_number_of_lines():
    joins = room_lines([(seq, seq, "*** x has joined #dev.") for seq in range(1, 5001)])
    reads = []

    class Counted(MemoryLines):
        def before(self, seq, count):
            got = super().before(seq, count)
            reads.append(len(got))
            return got
    lines = Counted(joins + room_lines([(6000, 6000, "<x> hi")]))
    assert choose("BEFORE #dev msgid=e1-5000 10", lines) == []  # none found: it gave up
    assert sum(reads) <= ch.SCAN_LIMIT + ch.CHUNK
    assert choose("BEFORE #dev msgid=e1-6001 1", lines) == ["<x> hi"]


# -- the database and memory together -------------------------------------------------

#: The holes in LINES' numbers: another room's lines (seq, time_ms).
OTHER = [(3, 1005), (7, 1025), (8, 1025), (11, 1045)]


def database(lines: List[Line]) -> sqlite3.Connection:
    db = sqlite3.connect(":memory:", isolation_level=None)
    store.migrate(db, EPOCH, False)
    other = [store.Pass(seq, seq, "#other", time_ms, "#other <z> x")
             for seq, time_ms in OTHER]
    store.write(db, [*other, *(store.Pass(line.seq, line.seq, "#dev", line.time_ms,
                                          bytes(line.data).decode().rstrip("\n"))
                               for line in lines)])
    return db


def test_seq_at_is_the_first_line_at_or_after_a_moment():
    db = database(LINES)
    times = [(line.seq, line.time_ms) for line in LINES] + OTHER
    for moment in range(990, 1070):
        later = [seq for seq, when in times if when >= moment]
        assert store.seq_at(db, moment) == (min(later) if later else None), moment


@settings(max_examples=150, deadline=None)
@given(kept=st.integers(0, len(LINES)),
       sub=st.sampled_from(["LATEST", "BEFORE", "AFTER", "AROUND", "BETWEEN"]),
       first=st.integers(0, 14), second=st.integers(0, 14), by_time=st.booleans(),
       limit=st.integers(1, 12), every=st.booleans())
def test_memory_and_database_together_answer_as_all_of_it_in_memory(
        kept, sub, first, second, by_time, limit, every):
    """Memory holds the last `kept` lines, the database all of them: the same answers."""
    def ref(seq: int) -> str:
        return stamp(1000 + 10 * seq // 2) if by_time else f"msgid={EPOCH}-{seq}"
    refs = [ref(first), ref(second)] if sub == "BETWEEN" else [ref(first)]
    got = query(f"{sub} #dev {' '.join(refs)} {limit}")
    keep = (lambda line: True) if every else ch.is_message
    both = Combined(MemoryLines(LINES[len(LINES) - kept:]), StoredLines(database(LINES), "#dev"))
    assert ch.choose(got, both, keep) == ch.choose(got, MemoryLines(LINES), keep)


# -- the session's answer --------------------------------------------------------------

class World:
    """A room of one's own (#dev, with LINES) and one that is not (#secret)."""

    def __init__(self) -> None:
        self.said: List[str] = []

    def command(self, text, echo=False, tags=None, exclude_self=False) -> List[ServerLine]:
        self.said.append(text)
        return [ServerLine(LineType.NOTICE, "ok")]

    def refusal(self, nick):
        return None

    def server_password_wanted(self):
        return False

    def counts(self):
        return 1, 1

    def epoch(self) -> str:
        return EPOCH

    def history(self, channel: str) -> Optional[Tuple[str, MemoryLines]]:
        return ("#dev", MemoryLines(LINES)) if channel.lower() == "#dev" else None

    def histories(self):
        return [("#dev", MemoryLines(LINES)), ("#ops", MemoryLines(room_lines(
            [(20, 900, "<op> old news")])))]

    def render(self, line: bytes, tags: str) -> bytes:
        return f"{tags}:x!x@h PRIVMSG #dev :{line.decode().split(' ', 1)[1].strip()}\r\n".encode()


def session(caps: str = "batch message-tags server-time labeled-response draft/chathistory",
            world: Optional[World] = None):
    irc = IrcSession(world or World(), "srv", "srv")  # type: ignore[arg-type]
    for line in ["CAP LS 302", f"CAP REQ :{caps}", "NICK me", "USER me 0 * :Me", "CAP END"]:
        welcome = irc.handle(parse_line(line.encode()))  # type: ignore[arg-type]
    return irc, welcome


def ask(irc: IrcSession, line: str) -> List[Message]:
    msg = parse_line(line.encode())
    assert isinstance(msg, Message)
    return [parse_line(reply.rstrip(b"\r\n")) for reply in irc.handle(msg)]  # type: ignore


def test_the_cap_and_isupport_are_offered():
    irc, welcome = session()
    assert irc.caps.has("draft/chathistory")
    isupport = b"".join(line for line in welcome if b" 005 " in line)
    assert b"CHATHISTORY=100" in isupport and b"MSGREFTYPES=msgid,timestamp" in isupport


def test_a_batch_of_the_lines_with_their_tags():
    irc, _ = session()
    got = ask(irc, "CHATHISTORY LATEST #DEV * 2")
    assert [msg.command for msg in got] == ["BATCH", "PRIVMSG", "PRIVMSG", "BATCH"]
    ref = got[0].params[0][1:]
    assert got[0].params == ["+" + ref, "chathistory", "#dev"]
    assert got[-1].params == ["-" + ref]
    assert got[1].tags == {"batch": ref, "time": format_time(1050), "msgid": "e1-12"}
    assert got[2].params[1] == "<alice> six"
    again = ask(irc, "CHATHISTORY LATEST #dev * 2")
    assert again[0].params[0] != got[0].params[0]  # each batch its own name


def test_tags_follow_the_clients_caps():
    irc, _ = session("server-time draft/chathistory")  # no batch, no message-tags
    got = ask(irc, "CHATHISTORY LATEST #dev * 1")
    assert [msg.command for msg in got] == ["PRIVMSG"]
    assert got[0].tags == {"time": format_time(1060)}


def test_a_labelled_request_labels_the_batch_it_opens():
    irc, _ = session()
    got = ask(irc, "@label=abc CHATHISTORY LATEST #dev * 3")
    assert got[0].command == "BATCH" and got[0].tags["label"] == "abc"
    assert all("label" not in msg.tags for msg in got[1:])
    assert all(msg.tags["batch"] == got[0].params[0][1:] for msg in got[1:-1])
    fail = ask(irc, "@label=abd CHATHISTORY LATEST #secret * 3")
    assert fail[0].command == "FAIL" and fail[0].tags["label"] == "abd"


def test_a_room_one_is_not_in_is_invalid_target_whether_it_exists_or_not():
    irc, _ = session()
    for target in ("#secret", "#nowhere"):
        got = ask(irc, f"CHATHISTORY BEFORE {target} msgid=e1-9 10")
        assert [(msg.command, msg.params[:4]) for msg in got] == [
            ("FAIL", ["CHATHISTORY", "INVALID_TARGET", "BEFORE", target])]


def test_private_history_is_kept_nowhere_an_empty_batch():
    irc, _ = session()
    for target in ("bob", "*"):
        got = ask(irc, f"CHATHISTORY LATEST {target} * 10")
        assert [msg.command for msg in got] == ["BATCH", "BATCH"]
        assert got[0].params[1:] == ["chathistory", target]


def test_targets_lists_rooms_by_their_latest_message_in_the_window():
    irc, _ = session()
    got = ask(irc, f"CHATHISTORY TARGETS {stamp(0)} {stamp(10**12)} 10")
    assert got[0].params[1] == "draft/chathistory-targets"
    assert [msg.params for msg in got[1:-1]] == [["TARGETS", "#ops", format_time(900)],
                                                 ["TARGETS", "#dev", format_time(1060)]]
    got = ask(irc, f"CHATHISTORY TARGETS {stamp(10**12)} {stamp(900)} 10")  # either order
    assert [msg.params[1] for msg in got[1:-1]] == ["#dev"]
    got = ask(irc, f"CHATHISTORY TARGETS {stamp(0)} {stamp(10**12)} 1")
    assert [msg.params[1] for msg in got[1:-1]] == ["#ops"]


def test_direct_lines_are_the_connections_own_by_the_other_end():
    irc, _ = session()
    for number, (other, text) in enumerate([("Bob", "hi bob"), ("carol", "hi carol"),
                                            ("bob", "again"), ("me", "a note to self")], 1):
        irc.keep_direct(number, 2000 + number, other,
                        f":me!me@h PRIVMSG {other} :{text}\r\n".encode())
    got = ask(irc, "CHATHISTORY LATEST BOB * 10")
    assert got[0].params[1:] == ["chathistory", "BOB"]
    assert [(msg.params[1], msg.tags["msgid"]) for msg in got[1:-1]] == [
        ("hi bob", "e1-d1"), ("again", "e1-d3")]
    assert [msg.params[1] for msg in ask(irc, "CHATHISTORY BEFORE bob msgid=e1-d3 10")[1:-1]
            ] == ["hi bob"]
    assert len(ask(irc, "CHATHISTORY LATEST * * 10")) == 6  # with anyone: all four
    assert ask(irc, "CHATHISTORY BEFORE bob msgid=e1-3 10")[0].params[1] == "MESSAGE_ERROR"
    assert ask(irc, "CHATHISTORY BEFORE #dev msgid=e1-d3 10")[0].params[1] == "MESSAGE_ERROR"
    got = ask(irc, f"CHATHISTORY TARGETS {stamp(0)} {stamp(10**12)} 10")
    assert [msg.params[1] for msg in got[1:-1]] == ["#ops", "#dev", "carol", "bob", "me"]


def test_direct_lines_kept_are_capped():
    irc, _ = session()
    for number in range(1, ch.DIRECT_KEPT + 11):
        irc.keep_direct(number, number, "bob", b":bob!bob@h PRIVMSG me :x\r\n")
    got = ask(irc, f"CHATHISTORY AFTER bob msgid=e1-d0 {ch.MAX_LIMIT}")
    assert got[1].tags["msgid"] == "e1-d11" and len(got) == ch.DIRECT_KEPT + 2


def test_of_room_reads_memory_or_its_tail_and_the_database_behind_it():
    history = MemoryHistory(EPOCH, 5, numbered_elsewhere=True)
    for line in LINES:
        history.append(bytes(line.data), line.time_ms, first=line.seq)
    latest = query("LATEST #dev * 100")
    whole = texts(ch.choose(latest, of_room(history, None, "#dev")))
    assert whole == ["* bob waves", "<alice> three", "*** -alice- four", "<bob> five",
                     "<alice> six"][-len(whole):] and len(whole) == 4  # 5 lines kept
    assert texts(ch.choose(latest, of_room(history, None, "#dev", tail=2))) == [
        "<bob> five", "<alice> six"]
    behind = of_room(history, database(LINES), "#dev", tail=2)
    assert texts(ch.choose(latest, behind)) == texts(MESSAGES)


# -- TAGMSGs (`selchat.irc.events`) ----------------------------------------------------

REACTION = b":bob!bob@h TAGMSG #dev\r\n"


class EventWorld(World):
    """#dev: LINES and a reaction (number 3, a hole of LINES') kept beside them."""

    def history(self, channel: str) -> Optional[Tuple[str, RoomLines]]:
        return "#dev", WithEvents(MemoryLines(LINES), MemoryLines(
            [Event(3, 1005, REACTION, b"+draft/react=a")]))


def test_a_tagmsg_is_played_back_to_event_playback_clients_with_message_tags_only():
    every = "batch message-tags server-time draft/chathistory draft/event-playback"
    got = ask(session(every, EventWorld())[0], "CHATHISTORY LATEST #dev * 10")
    assert [msg.command for msg in got[1:4]] == ["PRIVMSG", "PRIVMSG", "TAGMSG"]
    assert got[3].params == ["#dev"] and got[3].tags["msgid"] == "e1-3"
    assert got[3].tags["+draft/react"] == "a" and got[3].tags["time"] == format_time(1005)
    for caps in ("batch message-tags server-time draft/chathistory",  # no event-playback
                 "batch server-time draft/chathistory draft/event-playback"):  # no message-tags
        got = ask(session(caps, EventWorld())[0], "CHATHISTORY BEFORE #dev msgid=e1-5 10")
        assert "TAGMSG" not in [msg.command for msg in got]
    got = ask(session("batch message-tags draft/chathistory", EventWorld())[0],
              "CHATHISTORY AFTER #dev msgid=e1-2 1")
    assert got[1].params[1] == "<bob> two"  # the reaction is skipped, not counted


def test_a_direct_tagmsg_is_kept_by_its_ends_and_played_back_likewise():
    every = "batch message-tags draft/chathistory draft/event-playback"
    for caps, shown in ((every, ["PRIVMSG", "TAGMSG"]),
                        ("batch message-tags draft/chathistory", ["PRIVMSG"])):
        irc = session(caps)[0]
        irc.keep_direct(1, 1000, "bob", b":bob!bob@h PRIVMSG me :hi\r\n")
        irc.keep_direct(2, 1010, "bob", b":bob!bob@h TAGMSG me\r\n", "+draft/react=x")
        got = ask(irc, "CHATHISTORY LATEST bob * 10")
        assert [msg.command for msg in got[1:-1]] == shown
        if len(shown) == 2:
            assert got[2].tags["msgid"] == "e1-d2" and got[2].tags["+draft/react"] == "x"
