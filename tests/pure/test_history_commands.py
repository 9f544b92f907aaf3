"""The pure parts of history on disk: /search and /history parsed and turned
into effects, a history restored from disk, and sessions kept across a
restart (held again, found by their token's hash)."""
from selchat import commands
from selchat import wire
from selchat.effect_types import Broadcast, Hold, Lookup, Send, Unhold
from selchat.history import MemoryHistory, NotKept
from selchat.resume import TaggedSessions, token_hash
from selchat.room import SHUTTING_DOWN, SHUTTING_DOWN_KEPT, ChatRoom

TOKEN = "e1.00112233445566778899aabbccddeeff"


def test_search_and_history_are_parsed():
    assert commands.parse("/search apple  pie") == commands.Search("", ("apple", "pie"))
    assert commands.parse("/search #dev apple") == commands.Search("#dev", ("apple",))
    assert commands.parse("/search") == commands.BadUsage("search")
    assert commands.parse("/search #dev") == commands.BadUsage("search")
    assert commands.parse("/history") == commands.History("", 0, None)
    assert commands.parse("/history #dev 50") == commands.History("#dev", 50, None)
    assert commands.parse("/history #dev 50 1234") == commands.History("#dev", 50, 1234)
    assert commands.parse("/history ten") == commands.BadUsage("history")
    assert commands.parse("/history 1 2 3") == commands.BadUsage("history")
    assert "/search" in commands.usage("search") and "/history" in commands.usage("history")


def joined(room, session, name):
    room.connect(session)
    return room.receive(session, name)


def test_search_and_history_become_lookups():
    room = ChatRoom(default_room="#lobby")
    joined(room, 1, "ann")
    assert room.receive(1, "/search #LOBBY pie") == [Lookup(1, "#LOBBY", True, words=("pie",))]
    assert room.receive(1, "/search #dev pie") == [Lookup(1, "#dev", False, words=("pie",))]
    assert room.receive(1, "/search pie") == [Lookup(1, "", False, words=("pie",))]
    assert room.receive(1, "/search #b@d pie")[0].line.kind is wire.LineType.ERROR
    assert room.receive(1, "/history 5") == [Lookup(1, "#lobby", True, count=5)]
    assert room.receive(1, "/history #dev") == [
        Send(1, wire.error("you are not in #dev: /join #dev"))]  # one's own rooms only


def test_a_restored_history_goes_on_numbering_and_says_a_gap_before_it():
    history = MemoryHistory("e1", capacity=10)
    history.restore([(5, 100, b"<a> five\n"), (7, 101, b"<a> seven\n")], last_seq=9, older=True)
    assert history.last_seq == 9 and len(history) == 2
    assert [bytes(line.data) for line in history.last(5)] == [b"<a> five\n", b"<a> seven\n"]
    assert [line.seq for line in history.after(5)] == [7]
    assert isinstance(history.after(3), NotKept)  # older lines are on disk, not here
    assert history.append(b"<a> ten\n", 102) == 10


def test_a_restored_history_with_nothing_older_has_no_gap():
    history = MemoryHistory("e1", capacity=10)
    history.restore([(1, 100, b"<a> one\n")], last_seq=1, older=False)
    assert [line.seq for line in history.after(0)] == [1]


def test_a_restored_history_does_not_write_its_lines_again():
    noted = []

    class Journal:
        def kept(self, first, time_ms, payload, ends):
            noted.append(first)
    history = MemoryHistory("e1", journal=Journal())
    history.restore([(1, 100, b"<a> one\n")], last_seq=1, older=False)
    history.append(b"<a> two\n", 101)
    assert noted == [2]


def test_a_session_kept_across_a_restart_is_found_by_its_hash_only():
    sessions: TaggedSessions[str] = TaggedSessions()
    sessions.add("kept", "ann", "", hashed=token_hash(TOKEN))
    sessions.add("live", "bob", "e1.ffff")
    assert sessions.by_token(TOKEN).name == "ann"
    assert sessions.by_token("e1.ffff").name == "bob"
    assert sessions.by_token("e1.0000") is None
    # A live session's hash is no way in: only the token itself.
    assert sessions.by_token(token_hash("e1.ffff")) is None
    sessions.remove("kept")
    assert sessions.by_token(TOKEN) is None


def test_a_kept_session_is_held_again_with_its_name_and_rooms():
    room = ChatRoom(resume_window=120.0)
    effects = room.restore_held("kept", "ann", token_hash(TOKEN), ["#dev", "#b@d"], 1120.0)
    assert effects == [Hold("kept", 1120.0)]
    assert room.is_held("kept")
    assert [each.name for each in room.rooms.rooms_of("kept")] == ["#lobby", "#dev"]
    joined(room, 2, "bob")
    assert room.receive(2, "/who") == [Send(2, wire.notice("Online (2): ann (away), bob"))]
    room.connect(3)
    assert room.receive(3, "ann")[0].line.kind is wire.LineType.ERROR  # the name is taken
    assert room.restore_held("again", "ANN", "h", [], 1120.0) == []  # one owner per name
    expired = room.expire("kept")
    assert expired[0] == Unhold("kept")
    assert any(isinstance(effect, Broadcast) and effect.line == wire.left("ann", "connection lost")
               for effect in expired)  # nobody resumed it: the room is told it left


def test_tagged_members_are_told_their_session_is_kept():
    room = ChatRoom(resume_window=120.0, new_token=lambda: TOKEN)
    room.keep_sessions = True
    room.connect(1)
    room.receive(1, "/tags")
    room.receive(1, "ann")
    joined(room, 2, "bob")
    assert room.shutdown() == [Send(1, SHUTTING_DOWN_KEPT), Send(2, SHUTTING_DOWN)]
    room.keep_sessions = False
    assert room.shutdown() == [Send(1, SHUTTING_DOWN), Send(2, SHUTTING_DOWN)]
