"""The line editor: every key, by grapheme cluster, and the history."""
import pytest

from selchat.editor import HISTORY_SIZE, Editor
from selchat.keys import Key
from selchat.decisions import INPUT_END


E_ACUTE = "e\u0301"  # e + combining acute accent: one cluster, two code points
FAMILY = "\U0001F468\u200d\U0001F469\u200d\U0001F467"  # man ZWJ woman ZWJ girl
FLAG = "\U0001F1EB\U0001F1F7"  # two regional indicators
HEART = "\u2764\ufe0f"  # with the emoji variation selector


def editor(text: str = "", cursor=None) -> Editor:
    ed = Editor()
    ed.insert(text)
    if cursor is not None:
        ed.cursor = cursor
    return ed


def press(ed: Editor, *keys):
    results = [ed.press(key) for key in keys]
    return [r for r in results if r is not None]


@pytest.mark.parametrize("cluster", [E_ACUTE, FAMILY, FLAG, HEART, "中"])
def test_left_right_and_backspace_go_by_cluster(cluster):
    text = f"a{cluster}b"
    ed = editor(text)
    press(ed, Key.LEFT)
    assert ed.cursor == len(text) - 1
    press(ed, Key.LEFT)
    assert ed.cursor == 1
    press(ed, Key.RIGHT)
    assert ed.cursor == 1 + len(cluster)
    press(ed, Key.BACKSPACE)
    assert (ed.text, ed.cursor) == ("ab", 1)


@pytest.mark.parametrize("cluster", [E_ACUTE, FAMILY, FLAG, HEART])
def test_delete_removes_the_whole_cluster_under_the_cursor(cluster):
    ed = editor(f"{cluster}x", cursor=0)
    press(ed, Key.DELETE)
    assert ed.text == "x"


def test_typing_in_the_middle_inserts_at_the_cursor():
    ed = editor("held", cursor=3)
    ed.insert("l")
    ed.insert("o w")
    assert (ed.text, ed.cursor) == ("hello wd", 7)


def test_a_combining_mark_typed_after_a_letter_joins_it():
    ed = editor("cafe")
    ed.insert("\u0301")
    press(ed, Key.BACKSPACE)
    assert ed.text == "caf"


def test_home_end_and_their_control_keys():
    ed = editor("hello")
    press(ed, Key.HOME)
    assert ed.cursor == 0
    press(ed, Key.END)
    assert ed.cursor == 5
    press(ed, Key.LEFT, Key.LEFT, Key.LEFT, Key.LEFT, Key.LEFT, Key.LEFT)
    assert ed.cursor == 0  # and no further
    press(ed, Key.BACKSPACE)
    assert ed.text == "hello"


def test_kill_to_end_and_to_start():
    ed = editor("hello world", cursor=5)
    press(ed, Key.KILL_TO_END)
    assert (ed.text, ed.cursor) == ("hello", 5)
    ed = editor("hello world", cursor=6)
    press(ed, Key.KILL_TO_START)
    assert (ed.text, ed.cursor) == ("world", 0)


def test_ctrl_w_deletes_the_word_before_the_cursor_and_the_blanks_after_it():
    assert _after("hello big world  ", Key.KILL_WORD) == "hello big "
    assert _after("hello big world  ", Key.KILL_WORD, Key.KILL_WORD) == "hello "
    assert _after("word", Key.KILL_WORD) == ""
    assert _after("a b-c.d", Key.KILL_WORD) == "a "  # whitespace ends a word, as in a shell
    ed = editor(f"say {E_ACUTE}t{E_ACUTE} now", cursor=4 + 5)
    press(ed, Key.KILL_WORD)
    assert (ed.text, ed.cursor) == ("say  now", 4)


def _after(text, *keys):
    ed = editor(text)
    press(ed, *keys)
    return ed.text


def test_alt_b_and_alt_f_move_by_word():
    ed = editor(f"one, tw{E_ACUTE}  three")
    press(ed, Key.WORD_LEFT)
    assert ed.text[ed.cursor:] == "three"
    press(ed, Key.WORD_LEFT)
    assert ed.text[ed.cursor:] == f"tw{E_ACUTE}  three"
    press(ed, Key.WORD_LEFT, Key.WORD_LEFT)
    assert ed.cursor == 0
    press(ed, Key.WORD_RIGHT)
    assert ed.text[ed.cursor:] == f", tw{E_ACUTE}  three"
    press(ed, Key.WORD_RIGHT)
    assert ed.text[ed.cursor:] == "  three"
    press(ed, Key.WORD_RIGHT, Key.WORD_RIGHT)
    assert ed.cursor == len(ed.text)


def test_enter_submits_and_empties_and_ctrl_d_ends_only_an_empty_line():
    ed = editor("hi", cursor=1)
    assert press(ed, Key.ENTER) == ["hi"]
    assert (ed.text, ed.cursor) == ("", 0)
    assert press(ed, Key.ENTER) == []
    ed.insert("ab")
    press(ed, Key.HOME)
    assert press(ed, Key.EOF_OR_DELETE) == []  # deletes under the cursor
    assert ed.text == "b"
    press(ed, Key.BACKSPACE, Key.EOF_OR_DELETE)  # at the end: nothing to delete
    assert press(ed, Key.KILL_TO_END, Key.EOF_OR_DELETE) == [INPUT_END]


def test_history_recalls_lines_sent_to_edit_and_send_again():
    ed = Editor()
    for line in ["first", "x" * 5000, "x" * 5000]:  # a repeat is remembered once
        ed.insert(line)
        press(ed, Key.ENTER)
    ed.insert("draft")
    press(ed, Key.UP)
    assert (ed.text, ed.cursor) == ("x" * 5000, 5000)
    press(ed, Key.KILL_TO_START)
    ed.insert("short")
    assert press(ed, Key.ENTER) == ["short"]
    press(ed, Key.UP, Key.UP, Key.UP, Key.UP, Key.UP)  # stops at the oldest
    assert ed.text == "first"
    press(ed, Key.DOWN, Key.DOWN, Key.DOWN, Key.DOWN)
    assert ed.text == ""  # past the newest: the new line (the draft was sent meanwhile)


def test_history_keeps_the_draft_and_edits_until_a_line_is_sent():
    ed = Editor()
    ed.insert("one")
    press(ed, Key.ENTER)
    ed.insert("draft")
    press(ed, Key.UP)
    ed.insert("!")
    press(ed, Key.DOWN)
    assert ed.text == "draft"
    press(ed, Key.UP)
    assert ed.text == "one!"


def test_history_is_bounded():
    ed = Editor()
    for i in range(HISTORY_SIZE + 10):
        ed.insert(str(i))
        press(ed, Key.ENTER)
    press(ed, *[Key.UP] * (HISTORY_SIZE + 20))
    assert ed.text == "10"
