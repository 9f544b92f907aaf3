"""The interactive client's drawing and line editing, without a terminal."""
import pytest
from hypothesis import given
from hypothesis import strategies as st

from selchat.screen import END, Screen, plain

pytestmark = pytest.mark.pure

ERASE = "\r\x1b[J"


def typed(keys: bytes, prompt: str = "ann> ", width: int = 80) -> Screen:
    screen = Screen(prompt, width)
    screen.redraw()
    screen.keys(keys)
    return screen


def test_typing_echoes_and_enter_submits_keeping_the_line_on_screen():
    screen = Screen("ann> ")
    assert screen.redraw() == "ann> "
    assert screen.keys(b"hi") == ("hi", [])
    assert screen.keys(b"\n") == ("\r\nann> ", ["hi"])
    assert screen.text == ""


def test_enter_as_carriage_return_and_on_an_empty_line():
    screen = Screen("ann> ")
    assert screen.keys(b"\r\n\n") == ("", [])  # nothing typed: nothing happens
    assert screen.keys(b"a\r") == ("a\r\nann> ", ["a"])


def test_paste_of_several_lines_submits_each_and_keeps_the_unfinished_one():
    screen = typed(b"one\ntwo\nthr")
    assert screen.text == "thr"
    assert typed(b"one\ntwo\nthr").keys(b"ee\n")[1] == ["three"]
    assert Screen("p> ").keys(b"one\ntwo\n")[1] == ["one", "two"]


def test_incoming_line_is_written_above_the_prompt_and_the_text_typed():
    screen = typed(b"hel")
    assert screen.show(["<bob> hi"]) == ERASE + "<bob> hi\r\nann> hel"
    assert screen.show(["<bob> a", "*** b"]) == ERASE + "<bob> a\r\n*** b\r\nann> hel"
    assert screen.text == "hel"


def test_errors_stand_out():
    screen = typed(b"")
    assert screen.show(["!!! no such user: x"]) == (
        ERASE + "\x1b[1;31m!!! no such user: x\x1b[0m\r\nann> "
    )


def test_backspace_ctrl_u_ctrl_w():
    assert typed(b"abc\x7f").text == "ab"
    assert typed(b"abc\b").text == "ab"
    assert typed(b"\x7f").text == ""
    assert typed(b"hello there\x15").text == ""
    assert typed(b"hello big world  \x17").text == "hello big "
    assert typed(b"hello big world  \x17\x17").text == "hello "
    assert typed(b"word\x17").text == ""


def test_editing_redraws_the_line():
    screen = typed(b"abc")
    assert screen.keys(b"\x7f") == (ERASE + "ann> ab", [])


def test_non_ascii_text_even_split_between_reads():
    screen = typed("né ".encode() + "漢".encode()[:2])
    assert screen.text == "né "
    assert screen.keys("漢".encode()[2:]) == ("漢", [])
    assert typed("né漢\x7f".encode()).text == "né"


def test_escape_sequences_and_other_control_keys_are_ignored():
    # Left arrow, Home (SS3), F5, Alt+b, Ctrl-A, a tab, a lone ESC: none is text.
    assert typed(b"a\x1b[Db\x1bOHc\x1b[15~d\x1bbe\x01f\tg\x1b").text == "abcdefg"


def test_ctrl_d_on_an_empty_line_ends_input_and_is_ignored_otherwise():
    assert typed(b"").keys(b"\x04") == ("", [END])
    screen = typed(b"x")
    assert screen.keys(b"\x04") == ("", [])
    assert screen.text == "x"


def test_erase_climbs_over_wrapped_rows():
    screen = typed(b"abcdef", prompt="ann> ", width=5)  # 11 columns: three rows
    assert screen.show(["x"]) == "\r\x1b[2A\x1b[J" + "x\r\nann> abcdef"


def test_a_full_row_keeps_the_cursor_on_it():
    screen = typed(b"abcde", prompt="ann> ", width=10)  # exactly 10 columns
    assert screen.show(["x"]).startswith(ERASE)
    screen.keys(b"f")  # the 11th column is on the next row
    assert screen.show(["x"]).startswith("\r\x1b[1A\x1b[J")


def test_wide_characters_take_two_columns_and_combining_marks_none():
    screen = typed("漢字".encode(), prompt="ann> ", width=8)  # 5 + 2: the second wraps
    assert screen.show(["x"]).startswith("\r\x1b[1A\x1b[J")
    screen = typed("e\u0301e\u0301e\u0301".encode(), prompt="ann> ", width=8)  # 8 columns
    assert screen.show(["x"]).startswith(ERASE)


def test_width_change_is_used_for_the_next_erase():
    screen = typed(b"abcdefgh", prompt="ann> ", width=80)
    screen.width = 5  # the terminal shrank and rewrapped 13 columns onto three rows
    assert screen.show(["x"]).startswith("\r\x1b[2A\x1b[J")


def test_new_prompt_after_a_rename():
    screen = typed(b"hi")
    screen.prompt = "bea> "
    assert screen.show(["*** ann is now known as bea"]).endswith("\r\nbea> hi")


def test_plain_lines_have_no_escape_codes():
    assert plain(["<bob> hi", "!!! oops"]) == "<bob> hi\n!!! oops\n"
    assert plain([]) == ""


# Any text and editing keys; not escape sequences, which a terminal sends whole.
keys = st.lists(
    st.one_of(
        st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x1b")),
        st.sampled_from(["\n", "\r", "\x7f", "\x15", "\x17", "\x04", " "]),
    ),
    max_size=30,
)


@given(keys)
def test_keys_give_the_same_result_whole_or_byte_by_byte(parts):
    data = "".join(parts).encode()
    whole = Screen("p> ")
    _, whole_submitted = whole.keys(data)
    single = Screen("p> ")
    single_submitted = []
    for i in range(len(data)):
        single_submitted += single.keys(data[i : i + 1])[1]
    assert single_submitted == whole_submitted
    assert single.text == whole.text
    assert all(line == END or line.isprintable() for line in whole_submitted)
