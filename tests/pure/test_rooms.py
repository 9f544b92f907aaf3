"""Rooms: the two-way index and every room command's effects, with fake sessions."""
from hypothesis import given, settings
from hypothesis import strategies as st

from selchat import commands
from selchat import wire
from selchat.effect_types import (
    TOPIC, Broadcast, Charge, Entered, Exited, Left, Presence, Replay, Send, Unannounced,
)
from selchat.room import ChatRoom
from selchat.rooms import Rooms, room_key, room_problem

A, B, C = 1, 2, 3


def make(**options):
    room = ChatRoom(**options)
    for session, name in ((A, "alice"), (B, "bob"), (C, "carol")):
        room.connect(session)
        room.receive(session, name)
    return room


def sent(effects, to):
    """The texts of the Send effects for `to`, prefixed as the wire has them."""
    return [(effect.room.name + " " if effect.room else "") + wire.text_of(effect.line)
            for effect in effects if type(effect) is Send and effect.to == to]


def test_room_names_follow_the_name_rules():
    assert room_key("#Dev") == room_key("#dev") == room_key("#ｄｅｖ")
    assert room_problem("#dev-1.x_y") is None
    assert room_problem("dev").startswith("invalid room: room names are #")
    assert room_problem("#").startswith("invalid room: room names are #")
    assert room_problem("#" + "a" * 33).startswith("invalid room")
    assert room_problem("#a b") is not None
    assert room_problem("#dеv")  # Latin with Cyrillic: refused as a name is


def test_the_index_goes_both_ways_and_an_empty_room_goes():
    rooms = Rooms("#lobby")
    rooms.enter_default(A, "alice")
    assert rooms.rooms_of(A) == [rooms.default] and A not in rooms.of  # the cheap case
    dev = rooms.enter(A, "#dev", "alice")
    assert rooms.rooms_of(A) == [rooms.default, dev] and rooms.current(A) is dev
    assert list(dev.members) == [A] and rooms.get("#DEV") is dev
    dev.topic = "plans"
    rooms.exit(A, dev)
    assert rooms.get("#dev") is None and rooms.current(A) is rooms.default
    rooms.exit(A, rooms.default)
    assert rooms.current(A) is None and rooms.get("#lobby") is rooms.default  # always there


def test_a_room_is_found_as_first_spelled_and_under_any_other_spelling():
    rooms = Rooms("#lobby")
    dev = rooms.enter(A, "#Dev", "alice")
    assert rooms.spelled("#Dev") is dev and rooms.spelled("#dev") is None
    assert rooms.get("#dev") is rooms.get("#ＤＥＶ") is dev
    rooms.exit(A, dev)
    assert rooms.spelled("#Dev") is None and rooms.get("#Dev") is None
    again = rooms.enter(B, "#dev", "bob")  # made anew, under the new spelling
    assert rooms.spelled("#dev") is again and rooms.spelled("#Dev") is None


def test_join_answers_the_joiner_and_tells_the_room():
    room = make(replay=20)
    room.receive(B, "/join #dev")
    effects = room.receive(A, "/join #Dev")
    dev = room.rooms.get("#dev")
    assert effects == [
        Entered(A, dev),
        Send(A, wire.notice("You joined #dev. Online (2): alice, @bob")),  # its maker
        Replay(A, 20, dev),
        Broadcast(wire.notice("alice has joined #dev."), A, Presence("+", "alice"), room=dev),
    ]
    assert room.receive(A, "/join #dev") == [Send(A, wire.notice("Now talking in #dev."))]


def test_lines_go_to_the_current_room_and_msg_to_any_of_yours():
    room = make()
    room.receive(A, "/join #dev")
    dev = room.rooms.get("#dev")
    assert room.receive(A, "hi") == [Broadcast(wire.chat("alice", "hi"), A, room=dev)]
    assert room.receive(A, "/me waves") == [Broadcast(wire.action("alice", "waves"), A, room=dev)]
    assert room.receive(A, "/msg #lobby back") == [Broadcast(wire.chat("alice", "back"), A)]
    assert room.receive(B, "/msg #dev hi") == [
        Send(B, wire.error("you are not in #dev: /join #dev"))]
    assert room.receive(B, "plain") == [Broadcast(wire.chat("bob", "plain"), B)]  # untouched


def test_part_tells_the_leaver_and_the_room_and_moves_current():
    room = make()
    room.receive(A, "/join #dev")
    room.receive(B, "/join #dev")
    dev = room.rooms.get("#dev")
    line = wire.notice("alice has left #dev (lunch).")
    assert room.receive(A, "/part lunch") == [
        Send(A, line, room=dev), Broadcast(line, A, Presence("-", "alice"), room=dev),
        Exited(A, dev)]
    assert room.receive(A, "hi") == [Broadcast(wire.chat("alice", "hi"), A)]  # the lobby again
    effects = room.receive(A, "/part")
    assert effects[-1] == Left(A)
    assert sent(effects, A) == ["*** alice has left #lobby."]
    assert room.receive(A, "hi") == [Send(A, wire.in_no_room())]
    assert room.receive(A, "/part") == [Send(A, wire.in_no_room())]


def test_topic_shown_and_set():
    room = make()
    room.receive(A, "/join #dev")
    dev = room.rooms.get("#dev")
    assert sent(room.receive(A, "/topic"), A) == ["*** No topic for #dev."]
    line = wire.notice("alice set the topic: ship it")
    assert room.receive(A, "/topic #dev ship it") == [
        Send(A, line, room=dev), Broadcast(line, A, Presence(TOPIC, "ship it", "alice"),
                                           room=dev)]
    # Who set it (its time is the driver's: none here, `selchat.effects`).
    assert sent(room.receive(B, "/topic #dev"), B) == ["*** Topic of #dev: ship it (set by alice)"]
    assert sent(room.receive(B, "/topic #dev mine now"), B) == [
        "!!! you are not in #dev: /join #dev"]
    assert sent(room.receive(B, "/join #dev"), B)[1] == "*** Topic for #dev: ship it"
    assert sent(room.receive(C, "/topic lobby news"), C) == [  # the default room: no prefix
        "*** carol set the topic: lobby news"]


def test_rooms_lists_sorted_with_counts_and_topics_and_shares_its_answer():
    room = make()
    room.receive(A, "/join #zeta")
    room.receive(B, "/join #Alpha")
    room.receive(B, "/topic hello")
    first = room.receive(C, "/rooms")
    assert sent(first, C) == ["*** Rooms (3):", "***   #Alpha (1): hello", "***   #lobby (3)",
                              "***   #zeta (1)"]
    again = room.receive(A, "/rooms")
    assert [effect.line for effect in again] == [effect.line for effect in first]
    assert all(x.line is y.line for x, y in zip(again, first))  # the same objects: built once
    assert sent(room.receive(C, "/rooms zet"), C) == ["*** Rooms matching 'zet' (1):",
                                                      "***   #zeta (1)"]


def test_rooms_is_capped_and_charged_like_who():
    room = make()
    for number in range(1100):
        room.rooms.enter(A, f"#r{number:04}", "alice")
    effects = room.receive(C, "/rooms")
    lines = sent(effects, C)
    assert lines[0] == "*** Rooms (1101):" and len(lines) == 102
    assert lines[-1] == "*** and 1001 more (/rooms PATTERN to search)"
    assert effects[-1] == Charge(C, 1)


def test_who_of_a_room():
    room = make()
    room.receive(A, "/join #dev")
    room.receive(B, "/join #dev")
    assert sent(room.receive(C, "/who #DEV"), C) == ["*** Online in #dev (2): @alice, bob"]
    assert sent(room.receive(A, "/who"), A) == ["*** Online in #dev (2): @alice, bob"]
    assert sent(room.receive(C, "/who"), C) == ["*** Online (3): alice, bob, carol"]
    assert sent(room.receive(C, "/who #nope"), C) == ["!!! you are not in #nope: /join #nope"]


def test_nick_and_leaving_are_told_once_to_each_sharer_without_prefix():
    room = make()
    for session in (A, B):
        room.receive(session, "/join #dev")
        room.receive(session, "/join #ops")
    room.receive(B, "/part #lobby")  # bob shares only #dev and #ops with alice now
    effects = room.receive(A, "/nick al")
    renamed = wire.renamed("alice", "al")
    assert [e for e in effects if type(e) in (Send, Broadcast)] == [
        Broadcast(renamed, presence=effects[2].presence), Send(B, renamed)]
    effects = room.disconnect(A, "bye")
    told = [e for e in effects if type(e) in (Send, Broadcast)]
    assert told[1:] == [Send(B, wire.left("al", "bye"))] and told[0].room is None
    assert room.rooms.get("#dev").members == {B: "bob"}


def test_caps():
    room = make(max_rooms=3, max_rooms_per_member=2)
    assert sent(room.receive(A, "/join #a"), A)[0].startswith("*** You joined")
    assert sent(room.receive(A, "/join #b"), A) == [
        "!!! too many rooms: you are in 2, the most one member may be in (/part one first)"]
    room.receive(B, "/join #b")
    assert sent(room.receive(C, "/join #c"), C) == [
        "!!! too many rooms: the server has 3, its most"]
    assert sent(room.receive(C, "/join #b"), C)[0].startswith("*** You joined")  # exists
    assert sent(room.receive(C, "/join nohash"), C)[0].startswith("!!! invalid room:")


def test_big_rooms_do_not_announce_joins_and_leaves():
    room = make(announce_limit=2)
    room.receive(A, "/join #dev")
    dev = room.rooms.get("#dev")
    assert any(type(e) is Broadcast for e in room.receive(B, "/join #dev"))  # 2 members
    effects = room.receive(C, "/join #dev")  # 3: over the limit
    assert not any(type(e) is Broadcast for e in effects)
    assert sent(effects, C)[0] == "*** You joined #dev. Online (3): @alice, bob, carol"
    effects = room.receive(C, "/part")
    # Nobody is told; with a bus the other nodes' lists learn it all the same.
    assert effects == [Send(C, wire.notice("carol has left #dev."), room=dev),
                       Unannounced(Presence("-", "carol"), dev), Exited(C, dev)]
    room.connect(4)
    assert not any(type(e) is Broadcast for e in room.receive(4, "dave"))  # the lobby's too
    assert "more than 2 members" in sent(room.receive(A, "/help"), A)[-1]


def test_a_held_member_stays_in_its_rooms_as_away_and_comes_back():
    tokens = iter(["e.a", "e.b"])
    room = ChatRoom(resume_window=60, new_token=lambda: next(tokens))
    for session, name in ((A, "alice"), (B, "bob")):
        room.connect(session)
        room.receive(session, "/tags")
        room.receive(session, name)
    room.receive(A, "/join #dev")
    room.receive(B, "/join #dev")
    dev = room.rooms.get("#dev")
    room.disconnect(A, now=0)
    assert list(dev.members) == [B] and list(dev.away) == [A]
    assert sent(room.receive(B, "/who"), B) == ["*** Online in #dev (2): @alice (away), bob"]
    room.connect(9)
    effects = room.resumed(room.sessions.by_token("e.a"), 9)
    assert Entered(9, dev, resumed=True) in effects and list(dev.members) == [B, 9]
    assert room.receive(9, "hi") == [Broadcast(wire.chat("alice", "hi"), 9, room=dev)]


def shared_histories(capacity=10):
    from selchat.history import MemoryHistory
    lobby = MemoryHistory("e", capacity)
    dev = MemoryHistory("e", capacity, {"room": "#dev"}, numbered_elsewhere=True)
    return lobby, dev


def say(lobby, dev, room, text):
    """One line said in `room` ("lobby" or "dev"), numbered by the one sequence."""
    if room == "lobby":
        return lobby.append(f"{text}\n".encode(), 0)
    seq = lobby.number()
    dev.append(f"#dev {text}\n".encode(), 0, None, seq)
    return seq


def test_one_sequence_across_rooms_holes_are_not_gaps():
    lobby, dev = shared_histories()
    assert [say(lobby, dev, room, text) for room, text in
            (("lobby", "a"), ("dev", "b"), ("lobby", "c"), ("dev", "d"))] == [1, 2, 3, 4]
    assert [line.seq for line in lobby.after(0)] == [1, 3]
    assert [line.seq for line in dev.after(1)] == [2, 4]
    assert dev.after(4) == [] and [bytes(line.data) for line in dev.last(1)] == [b"#dev d\n"]
    assert dev.last(5)[0].tags.endswith(b";room=#dev ")
    assert [line.seq for line in lobby.last(5)] == [1, 3]


def test_a_resume_merges_every_rooms_lines_in_order_and_names_trimmed_rooms():
    from selchat import resume
    lobby, dev = shared_histories(capacity=2)
    sessions = resume.TaggedSessions()
    sessions.add(A, "alice", "e.t")
    sessions.hold(A, 100.0)
    for room, text in (("lobby", "a"), ("dev", "b"), ("lobby", "c"), ("dev", "d")):
        say(lobby, dev, room, text)
    both = lambda member: [("#lobby", lobby), ("#dev", dev)]  # noqa: E731
    outcome = resume.decide(lobby, sessions, "e.t", 1, 0.0, both)
    assert [bytes(line.data) for line in outcome.lines] == [b"#dev b\n", b"c\n", b"#dev d\n"]
    for text in "efg":
        say(lobby, dev, "dev", text)  # #dev keeps its last 2: d is trimmed, the lobby loses none
    gap = resume.decide(lobby, sessions, "e.t", 3, 0.0, both)
    assert isinstance(gap, resume.Refused) and gap.rooms == ("#dev",)
    assert wire.text_of(resume.gap_line(gap)) == (
        "!!! history gap: an unknown number of lines missed (older than the history kept: #dev)")
    assert isinstance(resume.decide(lobby, sessions, "e.t", 5, 0.0, both), resume.Resumed)


def test_room_commands_parse():
    assert commands.parse("/join #dev") == commands.Join("#dev")
    assert commands.parse("/join") == commands.parse("/join #a #b") == commands.BadUsage("join")
    assert commands.parse("/part") == commands.Part("", "")
    assert commands.parse("/part gone for lunch") == commands.Part("", "gone for lunch")
    assert commands.parse("/part #dev  gone") == commands.Part("#dev", "gone")
    assert commands.parse("/rooms") == commands.ListRooms("")
    assert commands.parse("/rooms de") == commands.ListRooms("de")
    assert commands.parse("/topic") == commands.Topic("", "")
    assert commands.parse("/topic #dev") == commands.Topic("#dev", "")
    assert commands.parse("/topic ship it") == commands.Topic("", "ship it")
    assert commands.parse("/who #dev") == commands.Who("#dev")


def test_a_rooms_batch_is_numbered_as_delivered_and_resumers_get_the_whole_pass():
    from selchat.batch import Batch
    batch: Batch = Batch()
    batch.broadcast(b"#dev <a> one\n", A)
    batch.send(b"direct\n", B)
    batch.broadcast(b"#dev <b> two\n", B)
    batch.joined(C, whole_pass=True)  # a resume: nothing of this pass is in a history yet
    assert batch.number(41) == [13, 26]
    shared, own = batch.split({A: None, B: None, C: None},
                              lambda payload, seq, target: (b"%d " % seq if seq else b"") + payload)
    assert shared == b"41 #dev <a> one\n42 #dev <b> two\n"
    assert b"".join(own[C]) == shared


COMMANDS = ["/join #a", "/join #B", "/join #c", "/join #", "/join #a\x00", "/part", "/part #a x",
            "/part #zz", "/topic", "/topic #b hi", "/topic " + "t" * 500, "/rooms", "/rooms a",
            "/who", "/who #c", "/msg #a hi", "/msg #nope hi", "/me waves", "hello", "/nick n{}",
            "/quit", "/part #lobby", "/join #lobby"]


@settings(max_examples=150, deadline=None, database=None)
@given(st.lists(st.tuples(st.sampled_from([A, B, C]), st.sampled_from(COMMANDS)), max_size=40))
def test_any_command_sequence_keeps_the_index_two_way(steps):
    room = make(max_rooms=3, max_rooms_per_member=3, announce_limit=2, resume_window=0)
    for step, (session, command) in enumerate(steps):
        if room.name_of(session) is None:
            continue
        room.receive(session, command.format(step))
    rooms = room.rooms
    assert rooms.get("#lobby") is rooms.default and len(rooms) <= 3
    for each in rooms:
        for session in each.members:
            assert room.name_of(session) == each.members[session]
            assert each in rooms.rooms_of(session)
        assert each.default or len(each) > 0  # an empty room is gone
        assert each.default or each.first(0)[1] == len(each)
    for session, joined in rooms.of.items():
        assert all(each.has(session) for each in joined.rooms)
        assert joined.current is None or joined.current in joined.rooms
    assert all(rooms.spelled(each.name) is each for each in rooms)  # found as spelled
    assert all(rooms.spelled(name) is None for name in ("#a", "#B", "#c") if not rooms.get(name))


def test_a_big_room_keeps_its_names_sorted_and_a_small_one_sorts_when_asked():
    from selchat.rooms import SORTED_FROM
    rooms = Rooms("#lobby")
    names = [f"u{number:04d}" for number in range(SORTED_FROM + 50)]
    for session, name in enumerate(reversed(names)):
        rooms.enter(session, "#big", name)
        if session == 10:
            small = rooms.get("#big").first(3)
            assert small == (["u0239", "u0240", "u0241"], 11) and rooms.get("#big").roster is None
    big = rooms.get("#big")
    assert big.first(2) == (["u0000", "u0001"], SORTED_FROM + 50) and big.roster is not None
    last = len(names) - 1  # the session named u0000
    rooms.rename(last, "a-first")
    rooms.hold(last)
    assert big.first(2)[0] == ["a-first (away)", "u0001"]
    rooms.exit(last, big)
    assert big.first(1) == (["u0001"], SORTED_FROM + 49)


def test_metrics_count_sends_beside_deliveries():
    from selchat.web.metrics import Counters, render
    counters = Counters(0.0)
    counters.sends, counters.deliveries = 1, 50
    text = render(counters, 1.0).decode()
    assert "selchat_sends_total 1.0" in text and "selchat_deliveries_total 50.0" in text
