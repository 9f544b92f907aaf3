"""Chat text: the invisible format characters no writing needs go, line separators
become spaces, and those that writing needs stay (docs/protocol.rst, "Names")."""
import pytest

from selchat.sanitize import clean



@pytest.mark.parametrize("raw, safe", [
    ("zero\u200bwidth", "zerowidth"),
    ("\ufeffbom and\ufeff no-break", "bom and no-break"),
    ("word\u2060joiner\u2061\u2062\u2063\u2064", "wordjoiner"),
    ("old\u206a\u206fformat", "oldformat"),
    ("an\ufff9hidden\ufffanote\ufffb", "anhiddennote"),
    ("tag\U000e0001ged", "tagged"),
    ("line\u2028separator", "line separator"),
    ("paragraph\u2029separator", "paragraph separator"),
])
def test_invisible_characters_go_and_separators_become_spaces(raw, safe):
    assert clean(raw) == clean(raw.encode()) == safe


@pytest.mark.parametrize("kept", [
    "\U0001f468\u200d\U0001f469",  # zero width joiner
    "\u2764\ufe0f",  # variation selector
    "\U0001f3f4\U000e0067\U000e0062\U000e0065\U000e006e\U000e0067\U000e007f",  # flag of England
    "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645",  # Persian with a zero width non-joiner
    "\u05e9\u05dc\u05d5\u05dd\u200e 42\u200f \u061c",  # right-to-left marks
])
def test_what_writing_needs_stays_even_beside_what_goes(kept):
    assert clean(kept + "\u200b") == kept
