"""Member lists of a room with operators or rules carry marks, as IRC's NAMES:
"@" an operator (its maker too, while there), "+" voiced, "(muted)" muted; a
room without them (its maker gone) lists names as before."""
from selchat.accounts.authority import Account
from support.accounts import Clock, room_with_accounts, say, texts

T, S, M, X = 1, 2, 3, 4  # teacher, students, someone else


def test_who_and_a_join_mark_operators_voiced_and_muted_members_of_a_room_with_rules():
    room = room_with_accounts(Clock())
    for session, name in ((T, "teach"), (S, "sam"), (M, "mia"), (X, "boss")):
        room.connect(session, f"10.0.0.{session}")
        say(room, session, name)
    say(room, S, "/join #plain")
    say(room, M, "/join #plain")
    assert texts(say(room, M, "/who #plain")) == ["*** Online in #plain (2): mia, @sam"]
    say(room, S, "/part #plain")
    say(room, S, "/join #plain")  # back, but not its maker any more
    assert texts(say(room, M, "/who #plain")) == ["*** Online in #plain (2): mia, sam"]
    say(room, T, "/register teacher-secret")
    say(room, T, "/join #class")
    say(room, S, "/join #class")
    say(room, T, "/mode #class +v sam")
    assert texts(say(room, S, "/who #class")) == ["*** Online in #class (2): +sam, @teach"]
    say(room, T, "/mute #class sam 10m")
    say(room, T, "/mode #class -v sam")
    room.authority.accounts["boss"] = Account("boss", "h", operator=True)  # selchat admin op
    joined = texts(say(room, X, "/join #class"), X)
    assert joined[0] == "*** You joined #class. Online (3): @boss, sam (muted), @teach"
    say(room, T, "/unmute #class sam")
    assert texts(say(room, S, "/who #class")) == ["*** Online in #class (3): @boss, sam, @teach"]
