"""Issue 26, pure: /who searches charged and shared, held sessions bounded and not
renewable, replays made of the history's own bytes, addresses grouped."""
import random

import pytest

from selchat import wire
from selchat.addresses import address_group
from selchat.history import MemoryHistory
from selchat.effect_types import Broadcast, Charge, Hold, Presence, Send, Unhold
from selchat.names import name_key
from selchat.resume import Refused, GapKind, Resumed, TaggedSessions, decide, welcome_back
from selchat.room import ChatRoom
from selchat.roster import SEARCH_NAMES_PER_TOKEN, WHO_NAMES, Roster
from selchat.web.websocket import text_frame, text_frame_pieces

ROOM = 2000


def crowd(size: int = ROOM) -> ChatRoom:
    room = ChatRoom()
    for session in range(size):
        room.connect(session)
        room.receive(session, f"m{session:04d}")
    return room


def who_text(room: ChatRoom, session, pattern: str = "") -> str:
    return room.receive(session, f"/who {pattern}".rstrip())[0].line.text


def expected(names, pattern: str) -> str:
    """The /who PATTERN answer as the old code computed it: filter, then sort."""
    wanted = name_key(pattern)
    found = sorted((name for name in names if wanted in name_key(name)),
                   key=lambda name: (name.casefold(), name))
    text = f"Online matching {pattern!r} ({len(found)})"
    if found:
        text += ": " + ", ".join(found[:WHO_NAMES])
    if len(found) > WHO_NAMES:
        text += f" and {len(found) - WHO_NAMES} more (/who PATTERN to search)"
    return text


# -- /who in a room of 2,000 ----------------------------------------------------------------

def test_who_pattern_answers_are_right_in_a_room_of_2000():
    room = crowd()
    names = list(room.members.values())
    for pattern in ["1", "19", "m0", "M01", "zz", "m1999", "l"]:  # "l" is "1" as a key
        assert who_text(room, 0, pattern) == expected(names, pattern)
    plain = who_text(room, 0)
    assert plain.startswith(f"Online ({ROOM}): m0000, m0001,")
    assert plain.endswith(f"m0099 and {ROOM - WHO_NAMES} more (/who PATTERN to search)")


def test_a_search_is_charged_for_the_names_it_compares_and_a_repeat_is_shared():
    room = crowd()
    first = room.receive(5, "/who 12")
    assert first[1] == Charge(5, ROOM // SEARCH_NAMES_PER_TOKEN)
    again = room.receive(6, "/who 12")
    assert again == [Send(6, first[0].line)]  # the same object: no search, no charge
    assert room.receive(6, "/who 13")[1] == Charge(6, 2)  # another pattern is another search


def test_the_search_cache_forgets_on_join_leave_and_rename():
    room = crowd()
    before = room.receive(0, "/who 12")[0].line
    room.connect("new")
    room.receive("new", "a12x")  # sorts first: shown
    after_join = room.receive(0, "/who 12")
    assert after_join[0].line is not before
    assert after_join[0].line.text.startswith("Online matching '12' (140): a12x, m0012,")
    assert isinstance(after_join[1], Charge)  # searched again
    room.receive("new", "/nick a12y")
    assert who_text(room, 0, "12").startswith("Online matching '12' (140): a12y, m0012,")
    room.disconnect("new")
    assert who_text(room, 0, "12") == expected(list(room.members.values()), "12")
    assert who_text(room, 0, "12").startswith("Online matching '12' (139): m0012,")


def test_the_plain_who_follows_the_roster_of_every_node():
    room = crowd(3)
    room.remote_synced({"aaa": ("Aaa", "N2"), name_key("m0001"): ("m0001", "me")}, "me")
    assert who_text(room, 0) == "Online (4): Aaa, m0000, m0001, m0002"
    room.remote_presence("N2", Presence("=", "Aaa", "zed"))
    assert who_text(room, 0) == "Online (4): m0000, m0001, m0002, zed"
    room.remote_presence("N2", Presence("-", "zed"))
    assert who_text(room, 0, "ze") == "Online matching 'ze' (0)"


def test_the_roster_stays_sorted_through_any_changes():
    roster, shown = Roster(), {}
    chooser = random.Random(26)
    for _ in range(3000):
        name = chooser.choice(["bob", "Bob", "alice", "b0b", "Zed", "zed2", "éa", "Ea", "x"])
        name += str(chooser.randrange(30))
        key = name_key(name)
        if chooser.random() < 0.4:
            shown.pop(key, None)
            roster.set(key, None)
        else:
            shown[key] = name
            roster.set(key, name)
    order = sorted(shown.values(), key=lambda name: (name.casefold(), name))
    assert roster.first(len(order) + 1) == order and len(roster) == len(order)
    wanted = name_key("b0")
    hits = [name for name in order if wanted in name_key(name)]
    assert roster.search(wanted, 5) == (hits[:5], len(hits))


def test_the_roster_orders_a_name_by_itself_and_lists_it_as_given():
    roster = Roster()
    roster.set("b", "bob")
    roster.set("a", "ann", "zz ann away")  # listed as given, still ordered as "ann"
    assert roster.first(2) == ["zz ann away", "bob"]
    assert roster.set("a", "ann", "zz ann away") is False  # nothing changed
    assert roster.set("a", "ann") is True  # the listing changed: the answers must go
    assert roster.first(2) == ["ann", "bob"] and len(roster) == 2


# -- held sessions: caps and no renewal ---------------------------------------------------

def resumable(**caps) -> ChatRoom:
    tokens = iter(range(10**6))
    return ChatRoom(resume_window=120.0, new_token=lambda: f"e.{next(tokens)}", **caps)


def tagged_join(room: ChatRoom, session, name: str, group: str) -> str:
    room.connect(session, group)
    room.receive(session, "/tags")
    welcome = next(effect for effect in room.receive(session, name) if isinstance(effect, Send))
    return welcome.tags["resume"]


def left(effects, name: str) -> bool:
    return Broadcast(wire.left(name, "connection lost"), presence=Presence("-", name)) in effects


def test_past_the_per_address_cap_the_oldest_hold_of_that_address_ends():
    room = resumable(max_held_per_group=2)
    for number in range(3):
        tagged_join(room, f"a{number}", f"ann{number}", "10.0.0.1")
    tagged_join(room, "b", "bob", "10.0.0.2")
    room.disconnect("b", now=0.0)
    room.disconnect("a0", now=1.0)
    room.disconnect("a1", now=2.0)
    effects = room.disconnect("a2", now=3.0)
    assert Hold("a2", 123.0) in effects
    assert Unhold("a0") in effects and left(effects, "ann0")  # the room is told, the name freed
    assert room.sessions.held_from("10.0.0.1") == 2 and room.sessions.held == 3
    assert room.is_held("b") and room.is_held("a1") and not room.is_held("a0")
    assert room.holder(name_key("ann0")) is None


def test_past_the_global_cap_the_oldest_hold_of_all_ends():
    room = resumable(max_held=2)
    for number in range(3):
        tagged_join(room, number, f"u{number}", f"192.0.2.{number}")
    room.disconnect(0, now=0.0)
    room.disconnect(1, now=1.0)
    effects = room.disconnect(2, now=2.0)
    assert Unhold(0) in effects and left(effects, "u0")
    assert room.sessions.held == 2


def test_a_hold_given_way_cannot_be_resumed():
    room = resumable(max_held=1)
    history = MemoryHistory("e", 10)
    token = tagged_join(room, 0, "u0", "g")
    tagged_join(room, 1, "u1", "g")
    room.disconnect(0, now=0.0)
    room.disconnect(1, now=1.0)
    assert decide(history, room.sessions, token, 0, 2.0) == Refused(GapKind.TOKEN, None)


def test_a_resume_that_drops_again_keeps_its_first_deadline():
    room = resumable()
    history = MemoryHistory("e", 10)
    token = tagged_join(room, "c1", "ann", "g")
    assert Hold("c1", 120.0) in room.disconnect("c1", now=0.0)
    room.connect("c2", "g")
    outcome = decide(history, room.sessions, token, 0, 10.0)
    assert isinstance(outcome, Resumed)
    room.resumed(outcome.member, "c2")
    assert Hold("c2", 120.0) in room.disconnect("c2", now=20.0)  # not 140: no renewal
    assert decide(history, room.sessions, token, 0, 120.0) == Refused(GapKind.TOKEN, None)
    assert left(room.expire("c2"), "ann")


def test_a_hold_shows_away_in_the_kept_answers_and_a_hold_given_way_is_gone():
    room = resumable(max_held=1)
    tagged_join(room, 0, "u0", "g")
    tagged_join(room, 1, "u1", "g")
    room.connect(2)
    room.receive(2, "watcher")
    assert who_text(room, 2, "u") == "Online matching 'u' (2): u0, u1"  # kept now
    room.disconnect(0, now=0.0)
    assert who_text(room, 2, "u") == "Online matching 'u' (2): u0 (away), u1"
    assert who_text(room, 2) == "Online (3): u0 (away), u1, watcher"
    room.disconnect(1, now=1.0)  # over the cap: u0's hold gives way
    assert who_text(room, 2, "u") == "Online matching 'u' (1): u1 (away)"
    assert who_text(room, 2) == "Online (2): u1 (away), watcher"


def test_a_drop_after_the_last_hold_would_have_ended_is_held_anew():
    sessions = TaggedSessions()
    sessions.add("c1", "ann", "e.1")
    sessions.hold("c1", 120.0, now=0.0)
    sessions.resume(sessions.get("c1"), "c2")
    assert sessions.hold("c2", 250.0, now=130.0).deadline == 250.0


# -- replays: the history's bytes, shared ---------------------------------------------------

def test_every_resumer_is_sent_the_same_bytes_objects():
    history = MemoryHistory("e", 1000)
    payloads = [f"<talker> {'x' * 4000} {n}\n".encode() for n in range(1000)]
    for payload in payloads:
        history.append(payload, 5000, (len(payload),))
    sessions = TaggedSessions()
    pieces = []
    for number in range(2):
        sessions.add(number, f"u{number}", f"e.{number}")
        sessions.hold(number, 100.0)
        outcome = decide(history, sessions, f"e.{number}", 0, 1.0)
        assert isinstance(outcome, Resumed)
        pieces.append(welcome_back(outcome, 6000))
    first, second = pieces
    assert len(first) == 1 + 2 * len(payloads)
    assert all(a is b for a, b in zip(first[1:], second[1:]))  # shared, not rebuilt
    assert all(piece is payload for piece, payload in zip(first[2::2], payloads))  # one-line passes
    assert sum(len(piece) for piece in first[1:]) < sum(map(len, payloads)) + 50 * len(payloads)


# -- address groups -------------------------------------------------------------------------

@pytest.mark.parametrize("host, group", [
    ("192.0.2.7", "192.0.2.7"),
    ("::ffff:192.0.2.7", "192.0.2.7"),  # IPv4-mapped: the IPv4 address
    ("2001:db8:1:2:aaaa::1", "2001:db8:1:2::/64"),
    ("2001:db8:1:2:ffff:ffff:ffff:ffff", "2001:db8:1:2::/64"),
    ("2001:db8:1:3::1", "2001:db8:1:3::/64"),
    ("127.0.0.1", "loopback"), ("127.45.6.7", "loopback"), ("::1", "loopback"),
    ("::ffff:127.0.0.2", "loopback"),
    ("fe80::1%eth0", "fe80::1"),  # link-local: every LAN host is in fe80::/64
    ("not an address", "not an address"),
])
def test_address_groups(host, group):
    assert address_group(host) == group


def test_neighbouring_ipv4_addresses_are_not_grouped():
    assert address_group("198.51.100.1") != address_group("198.51.100.2")


def test_a_websocket_replay_is_one_frame_of_the_pieces_as_they_are():
    payload = b"<a> " + b"x" * 70000 + b"\n"
    pieces = [b"@seq=1 ", memoryview(payload), b"<b> y\n"]
    framed = text_frame_pieces(pieces)
    assert b"".join(framed) == text_frame(b"".join(pieces))
    assert framed[2] is pieces[1]  # not copied
