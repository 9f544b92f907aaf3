import pytest

from selchat.names import NAME_RULE, name_key, name_problem
from selchat.effect_types import Send
from selchat.room import ChatRoom
from selchat.wire import error


RULE = f"invalid name: {NAME_RULE}"
INVISIBLE = "invalid name: no invisible characters"


@pytest.mark.parametrize("name", [
    "alice", "Bob_2", "x", "42", "0", "a.b-c", "Zoë", "Straße", "田中さん", "김민준", "Алиса",
    "Ωμέγα", "bob١", "Tanaka田中", "e\u0301", "a" * 32,
])
def test_good_names(name):
    assert name_problem(name) is None


@pytest.mark.parametrize("name, problem", [
    ("", RULE),
    ("a" * 33, RULE),
    (".", RULE),
    ("--", RULE),
    ("_-.", RULE),
    ("\u0301a", RULE),  # a leading combining mark
    ("a b", RULE),
    ("ali\u200bce", INVISIBLE),  # zero width space
    ("ali\u200dce", INVISIBLE),  # zero width joiner
    ("alice\u202e", INVISIBLE),  # right-to-left override
    ("\u2067alice", INVISIBLE),  # right-to-left isolate
    ("\u3164", INVISIBLE),  # Hangul filler: a letter that draws nothing
    ("a\ufe0f", INVISIBLE),  # variation selector
    ("\u00adalice", INVISIBLE),  # soft hyphen
    ("\u0430lice", "invalid name: mixes Cyrillic and Latin letters; use one script"),
    ("\u0391laska", "invalid name: mixes Greek and Latin letters; use one script"),
    ("Ωmega", "invalid name: mixes Greek and Latin letters; use one script"),
    ("Алиса\u03b1", "invalid name: mixes Cyrillic and Greek letters; use one script"),
])
def test_bad_names(name, problem):
    assert name_problem(name) == problem


@pytest.mark.parametrize("same", [
    ("alice", "ALICE", "ａｌｉｃｅ", "\u0430lice"),
    ("bob", "BOB", "b0b", "B0B"),
    ("ace", "ACE", "\u0430\u0441\u0435"),  # the last is all Cyrillic
    ("bobl", "bob1", "bobI".lower().replace("i", "l"), "bob\u0661"),
    ("mallory", "rnallory", "MALLORY"),
    ("Straße", "STRASSE", "strasse"),
    ("zoë", "Zoe\u0308"),
])
def test_look_alikes_share_a_key(same):
    assert len({name_key(name) for name in same}) == 1, [name_key(name) for name in same]


@pytest.mark.parametrize("a, b", [
    ("alice", "alicia"), ("bob", "bob2"), ("ivan", "lvan"), ("zoe", "zoë"), ("ann", "anne"),
])
def test_different_names_keep_different_keys(a, b):
    assert name_key(a) != name_key(b)


def test_a_key_is_its_own_key():
    for name in ["alice", "ALICE", "\u0430lice", "b0b", "rnallory", "Straße", "Zoë", "Алиса"]:
        assert name_key(name_key(name)) == name_key(name)


def test_keys_sort_like_names():
    names = ["zed", "mallory", "bob", "Alice", "nina"]
    assert sorted(names, key=name_key) == ["Alice", "bob", "mallory", "nina", "zed"]


def test_a_key_in_its_own_form_is_the_same_string():
    name = "alice"
    assert name_key(name) is name


def test_a_look_alike_of_a_name_online_is_taken():
    room = ChatRoom()
    room.connect("real"), room.receive("real", "ace")
    room.connect("fake")
    spoof = "\u0430\u0441\u0435"  # all Cyrillic: one script, so not refused on its own
    assert name_problem(spoof) is None
    assert room.receive("fake", spoof) == [Send("fake", error(f"name taken: {spoof}"))]
    assert room.receive("fake", "ACE") == [Send("fake", error("name taken: ACE"))]
