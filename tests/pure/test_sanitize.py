import pytest

from selchat.sanitize import clean


@pytest.mark.parametrize("raw, safe", [
    (b"plain text", "plain text"),
    (b"tab\tkept", "tab\tkept"),
    ("naïve café 日本".encode(), "naïve café 日本"),
    (b"\xff\xfebad", "\ufffd\ufffdbad"),
    (b"\x1b[31mred\x1b[0m", "red"),
    (b"\x1b[2J\x1b[Hwiped", "wiped"),
    (b"\x1b]0;evil title\x07after", "after"),
    (b"\x1b]8;;http://x\x1b\\link\x1b]8;;\x1b\\", "link"),
    (b"bell\x07 nul\x00 bs\x08 del\x7f", "bell nul bs del"),
    ("c1\x85\x9b31m".encode(), "c1"),
    (b"cr\rlf\n", "crlf"),
    (b"lone esc\x1b", "lone esc"),
])
def test_clean(raw, safe):
    assert clean(raw) == safe


def test_accepts_text_too():
    assert clean("\x1b[1mbold") == "bold"


@pytest.mark.parametrize("raw, safe", [
    ("evil\u202egnp.exe", "evilgnp.exe"),  # right-to-left override
    ("\u202aa\u202bb\u202cc\u202dd", "abcd"),  # embeddings, pop, left-to-right override
    ("\u2066x\u2067y\u2068z\u2069", "xyz"),  # isolates and their pop
])
def test_bidi_overrides_and_isolates_go(raw, safe):
    assert clean(raw) == safe


@pytest.mark.parametrize("kept", [
    "family \U0001f468\u200d\U0001f469\u200d\U0001f467",  # zero width joiners
    "heart \u2764\ufe0f",  # variation selector
    "\u05e9\u05dc\u05d5\u05dd\u200e 42\u200f",  # left-to-right and right-to-left marks
])
def test_emoji_joiners_selectors_and_marks_stay(kept):
    assert clean(kept) == clean(kept.encode()) == kept


def test_bidi_controls_are_not_printable_so_the_fast_path_cannot_keep_them():
    for code in [*range(0x202A, 0x202F), *range(0x2066, 0x206A)]:
        assert not chr(code).isprintable()
