import pytest

from selchat.sanitize import clean

pytestmark = pytest.mark.pure


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
