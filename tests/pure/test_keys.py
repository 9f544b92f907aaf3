"""Bytes from the keyboard into keys: whole, byte by byte, and cut off."""
import pytest

from selchat.keys import Key, KeyReader


def keys(data: bytes):
    return KeyReader().feed(data)


@pytest.mark.parametrize("data, key", [
    (b"\x1b[D", Key.LEFT), (b"\x1bOD", Key.LEFT), (b"\x1b[C", Key.RIGHT),
    (b"\x1b[A", Key.UP), (b"\x1b[B", Key.DOWN), (b"\x10", Key.UP), (b"\x0e", Key.DOWN),
    (b"\x1b[H", Key.HOME), (b"\x1b[1~", Key.HOME), (b"\x01", Key.HOME),
    (b"\x1b[F", Key.END), (b"\x1b[4~", Key.END), (b"\x05", Key.END),
    (b"\x1b[3~", Key.DELETE), (b"\x04", Key.EOF_OR_DELETE),
    (b"\x7f", Key.BACKSPACE), (b"\b", Key.BACKSPACE),
    (b"\x1bb", Key.WORD_LEFT), (b"\x1b[1;5D", Key.WORD_LEFT),
    (b"\x1bf", Key.WORD_RIGHT), (b"\x1b[1;5C", Key.WORD_RIGHT),
    (b"\x0b", Key.KILL_TO_END), (b"\x15", Key.KILL_TO_START), (b"\x17", Key.KILL_WORD),
    (b"\x0c", Key.REDRAW), (b"\r", Key.ENTER), (b"\n", Key.ENTER),
])
def test_each_key(data, key):
    assert keys(data) == [key]


def test_text_runs_come_whole_and_keep_zwj_and_variation_selectors():
    family = "\U0001F468\u200d\U0001F469\u200d\U0001F467"
    assert keys(f"hé {family} ❤️".encode()) == [f"hé {family} ❤️"]


def test_unknown_sequences_and_controls_are_dropped_whole():
    assert keys(b"a\x1b[15~b\x1b[200~c\td\x00e") == ["a", "b", "c", "d", "e"]
    assert keys("x\u2028\x85y".encode()) == ["xy"]


def test_esc_and_an_unbound_key_types_the_key():
    assert keys(b"\x1ba") == ["a"]
    assert keys(b"\x1b\x1b[D") == [Key.LEFT]


def test_a_lone_esc_waits_for_the_next_read_or_a_flush():
    reader = KeyReader()
    assert reader.feed(b"x\x1b") == ["x"]
    assert reader.waiting
    assert reader.flush() == []  # Esc alone does nothing
    assert not reader.waiting
    assert reader.feed(b"a") == ["a"]  # and does not eat the next key


def test_a_sequence_split_across_reads_is_one_key():
    reader = KeyReader()
    assert reader.feed(b"\x1b[") == []
    assert reader.feed(b"1;5") == []
    assert reader.feed(b"D!") == [Key.WORD_LEFT, "!"]
    assert reader.feed(b"\x1b") == [] and reader.feed(b"b") == [Key.WORD_LEFT]


def test_a_cut_off_sequence_flushed_types_what_followed_the_esc():
    reader = KeyReader()
    reader.feed(b"\x1bO")
    assert reader.flush() == ["O"]


def test_utf8_split_across_reads():
    reader = KeyReader()
    data = "中".encode()
    assert reader.feed(data[:1]) == []
    assert reader.feed(data[1:]) == ["中"]
