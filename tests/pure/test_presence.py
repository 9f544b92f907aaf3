"""Presence changes: named tuples in the room, one string on the bus."""
import pytest

from selchat.effect_types import TOPIC, Presence



@pytest.mark.parametrize("presence, field", [
    (Presence("+", "bob"), "+bob"),
    (Presence("-", "bob"), "-bob"),
    (Presence("-", "bob", "N2"), "-bob\tN2"),
    (Presence("=", "bob", "bobby"), "=bob\tbobby"),
])
def test_a_presence_change_travels_as_the_string_older_nodes_read(presence, field):
    assert presence.field() == field
    assert Presence.parse(field) == presence


@pytest.mark.parametrize("field", ["", "hello", "*bob"])
def test_a_line_without_a_known_change_has_no_presence(field):
    assert Presence.parse(field) is None


def test_a_topic_travels_with_its_setter():
    topic = Presence(TOPIC, "release friday", "alice")  # a topic has no tab (`topics.cleaned`)
    assert topic.field() == "^release friday\talice"
    assert Presence.parse(topic.field()) == topic
    assert Presence.parse("^release") == Presence(TOPIC, "release")  # an older node's: no setter
    assert Presence.parse("^") == Presence(TOPIC, "")  # cleared
