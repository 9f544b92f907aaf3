"""The chat rules with three fake sessions: exact lines, exact recipients, no sockets."""
import pytest

from selchat import wire
from selchat.effect_types import Broadcast, Claim, Close, Joined, Left, Presence, Release, Send
from selchat.names import name_key, name_problem
from selchat.room import HELLO, SHUTTING_DOWN, ChatRoom
from selchat.roster import WHO_NAMES


A, B, C = 1, 2, 3


@pytest.fixture
def room():
    room = ChatRoom()
    for session, name in ((A, "alice"), (B, "bob")):
        room.connect(session)
        room.receive(session, name)
    room.connect(C)
    return room


def join(room, session, name):
    return room.receive(session, name)


def welcome_text(effects):
    """The welcome in a join's effects, which must start with Joined and the name's Claim."""
    assert type(effects[0]) is Joined and type(effects[1]) is Claim
    return effects[2].line.text


def test_connect_asks_for_a_name():
    assert ChatRoom().connect(7) == [Send(7, HELLO)]


def test_join_welcomes_with_whos_online_and_tells_the_others(room):
    assert join(room, C, "carol") == [
        Joined(C),
        Claim(C, "carol"),
        Send(C, wire.notice(
            "Welcome, carol! Online (3): alice, bob, carol (type /help for commands)")),
        Broadcast(wire.notice("carol has joined the chat room."), C, Presence("+", "carol")),
    ]
    assert list(room.members) == [A, B, C]


def test_chat_goes_to_everyone_but_the_sender(room):
    assert room.receive(A, "hi all") == [Broadcast(wire.chat("alice", "hi all"), A)]


def test_blank_lines_are_not_chat(room):
    assert room.receive(A, "") == []
    assert room.receive(A, "   \t") == []


def test_double_slash_sends_a_slash(room):
    assert room.receive(A, "//etc/passwd") == [Broadcast(wire.chat("alice", "/etc/passwd"), A)]


def test_unnamed_sessions_are_not_members(room):
    """Broadcasts go to `members` alone; that the unnamed hear nothing over a real
    connection is loop/test_loop.py::test_an_unnamed_connection_hears_nothing_of_the_room."""
    assert C not in room.members
    assert room.name_of(C) is None
    # One broadcast, to the members alone: nothing is sent to C on its own.
    assert room.receive(A, "hi all") == [Broadcast(wire.chat("alice", "hi all"), A)]
    assert list(room.members) == [A, B]
    assert room.disconnect(B) == [Left(B), Release(B, "bob"),
                                  Broadcast(wire.left("bob"), presence=Presence("-", "bob"))]
    assert C not in room.members and list(room.members) == [A]


@pytest.mark.parametrize("name", ["ALICE", "Alice", "ａｌｉｃｅ", " alice "])
def test_name_taken_ignoring_case_and_width(room, name):
    assert join(room, C, name) == [Send(C, wire.error(f"name taken: {name.strip()}"))]
    assert C not in room.members


@pytest.mark.parametrize("name", ["", "a" * 33, "two words", "semi;colon", "esc\x1b[31m",
                                  "tab\tname", "nul\x00", "\ufffd", "\u0301accent"])
def test_invalid_names_are_refused_and_may_be_retried(room, name):
    effects = join(room, C, name)
    assert len(effects) == 1 and effects[0].line.kind is wire.LineType.ERROR
    assert effects[0].line.text.startswith("invalid name:")
    assert welcome_text(join(room, C, "carol")).startswith("Welcome, carol!")


@pytest.mark.parametrize("name", ["a" * 32, "Zoë", "日本語", "x_y-z.1", "e\u0301"])
def test_valid_names(name):
    assert name_problem(name) is None


def test_name_key_folds_case_and_compatibility_forms():
    assert name_key("ALICE") == name_key("ａｌｉｃｅ") == name_key("alice")
    assert name_key("Straße") == name_key("STRASSE")


def test_leaving_tells_the_others_and_frees_the_name(room):
    assert room.disconnect(B) == [
        Left(B), Release(B, "bob"),
        Broadcast(wire.notice("bob has left the chat room."), None, Presence("-", "bob"))]
    assert welcome_text(join(room, C, "BOB")).startswith("Welcome, BOB!")


def test_unnamed_leave_is_silent(room):
    assert room.disconnect(C) == []


def test_quit_with_reason(room):
    assert room.receive(B, "/quit off to lunch") == [
        Send(B, wire.notice("Goodbye, bob.")),
        Close(B),
        Left(B),
        Release(B, "bob"),
        Broadcast(wire.notice("bob has left the chat room (off to lunch)."), None,
                  Presence("-", "bob")),
    ]
    assert B not in room.members


def test_quit_without_reason(room):
    assert room.receive(B, "/QUIT")[4] == Broadcast(wire.notice("bob has left the chat room."),
                                                    None, Presence("-", "bob"))


def test_who_lists_names_sorted(room):
    join(room, C, "Carol")
    assert room.receive(C, "/who") == [Send(C, wire.notice("Online (3): alice, bob, Carol"))]


def test_who_sorts_names_with_digits_alphabetically_not_by_look_alike_key():
    room = ChatRoom()
    for session, name in enumerate(["bob2", "bob10", "Bob1", "m0", "l1"]):
        room.connect(session)
        room.receive(session, name)
    assert room.receive(0, "/who")[0].line.text == "Online (5): Bob1, bob10, bob2, l1, m0"
    assert room.receive(0, "/who ob")[0].line.text == \
        "Online matching 'ob' (3): Bob1, bob10, bob2"


def test_who_is_built_once_per_change_of_membership_and_shared(room):
    first = room.receive(A, "/who")[0].line
    assert room.receive(B, "/who")[0].line is first  # the same object: encoded once, shared
    join(room, C, "carol")
    assert room.receive(A, "/who")[0].line.text == "Online (3): alice, bob, carol"


def test_who_in_a_big_room_lists_the_first_names_and_a_count():
    room = ChatRoom()
    names = [f"user_{chr(97 + i // 26)}{chr(97 + i % 26)}" for i in range(WHO_NAMES + 50)]
    for session, name in enumerate(names):
        room.connect(session)
        room.receive(session, name)
    text = room.receive(0, "/who")[0].line.text
    assert text.startswith(f"Online ({WHO_NAMES + 50}): user_aa, user_ab,")
    assert text.endswith(f"{names[WHO_NAMES - 1]} and 50 more (/who PATTERN to search)")


def test_who_pattern_searches_names_as_names_are_compared(room):
    join(room, C, "Carol")
    assert room.receive(A, "/who AR") == [
        Send(A, wire.notice("Online matching 'AR' (1): Carol"))]
    assert room.receive(A, "/who zz")[0].line.text == "Online matching 'zz' (0)"


def test_nick_renames_and_tells_everyone(room):
    assert room.receive(A, "/nick alicia") == [
        Release(A, "alice", final=False), Claim(A, "alicia"),
        Broadcast(wire.notice("alice is now known as alicia"), None,
                  Presence("=", "alice", "alicia"))]
    assert room.receive(A, "hi") == [Broadcast(wire.chat("alicia", "hi"), A)]
    assert welcome_text(join(room, C, "alice")).startswith("Welcome, alice!")


def test_nick_may_change_only_case_of_own_name(room):
    assert room.receive(A, "/nick ALICE") == [
        Release(A, "alice", final=False), Claim(A, "ALICE"),
        Broadcast(wire.notice("alice is now known as ALICE"), None,
                  Presence("=", "alice", "ALICE"))]


def test_nick_to_taken_or_invalid_name(room):
    assert room.receive(A, "/nick BOB") == [Send(A, wire.error("name taken: BOB"))]
    effects = room.receive(A, "/nick bad\x07name")
    assert effects[0].to == A and effects[0].line.text.startswith("invalid name:")


def test_msg_reaches_only_its_target(room):
    assert room.receive(A, "/msg BOB psst, secret") == [
        Send(B, wire.private("alice", "psst, secret"))]


def test_msg_errors(room):
    assert room.receive(A, "/msg nobody hi") == [Send(A, wire.error("no such user: nobody"))]
    assert room.receive(A, "/msg bob") == [Send(A, wire.error("usage: /msg NAME text"))]


def test_msg_to_unnamed_session_is_unknown(room):
    assert room.receive(A, "/msg carol hi") == [Send(A, wire.error("no such user: carol"))]


def test_me_is_an_action_for_the_others(room):
    assert room.receive(A, "/me waves") == [Broadcast(wire.action("alice", "waves"), A)]


def test_help_lists_every_command(room):
    effects = room.receive(A, "/HELP")
    assert all(e.to == A for e in effects)
    text = "\n".join(e.line.text for e in effects)
    for usage in ("/who", "/nick NEW", "/msg NAME text", "/me text", "/help", "/quit [reason]"):
        assert usage in text


def test_usage_errors(room):
    assert room.receive(A, "/nick") == [Send(A, wire.error("usage: /nick NEW"))]
    assert room.receive(A, "/who a b") == [Send(A, wire.error("usage: /who [PATTERN]"))]
    assert room.receive(A, "/me") == [Send(A, wire.error("usage: /me text"))]


def test_unknown_command(room):
    assert room.receive(A, "/dance now") == [
        Send(A, wire.error("unknown command: /dance (try /help)"))]


def test_relayed_text_is_sanitised(room):
    assert room.receive(A, "\x1b[2Jhi\x07") == [Broadcast(wire.chat("alice", "hi"), A)]
    assert room.receive(A, "\x1b[31m") == []


def test_shutdown_notifies_every_session(room):
    assert sorted(room.shutdown()) == sorted([Send(A, SHUTTING_DOWN), Send(B, SHUTTING_DOWN),
                                              Send(C, SHUTTING_DOWN)])


def test_welcome_in_a_crowd_names_a_few_and_counts_the_rest():
    room = ChatRoom()
    for session in range(60):
        room.connect(session)
        room.receive(session, f"user{session}")
    room.connect(99)
    text = welcome_text(room.receive(99, "last"))
    assert text.startswith("Welcome, last! Online (61): user0, user1,")
    assert text.endswith("user49 and 11 more (type /help for commands)")
