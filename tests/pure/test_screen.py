"""The interactive client's drawing and line editing, without a terminal."""
import pytest
from hypothesis import given
from hypothesis import strategies as st

from selchat.screen import Screen, paint, plain, wants_colour
from selchat.decisions import INPUT_END, Style


ERASE = "\r\x1b[J"


def typed(keys: bytes, prompt: str = "ann> ", width: int = 80) -> Screen:
    screen = Screen(prompt, width)
    screen.redraw()
    screen.keys(keys)
    return screen


def test_typing_echoes_and_enter_submits_and_clears_the_prompt_row():
    screen = Screen("ann> ")
    assert screen.redraw() == "ann> "
    assert screen.keys(b"hi") == ("hi", [])
    # The session shows what was sent, in its own style, above the new prompt.
    assert screen.keys(b"\n") == (ERASE + "ann> ", ["hi"])
    assert screen.editor.text == ""


def test_enter_as_carriage_return_and_on_an_empty_line():
    screen = typed(b"")
    assert screen.keys(b"\r\n\n") == ("", [])  # nothing typed: nothing happens
    assert screen.keys(b"a\r") == ("a" + ERASE + "ann> ", ["a"])


def test_paste_of_several_lines_submits_each_and_keeps_the_unfinished_one():
    screen = typed(b"one\ntwo\nthr")
    assert screen.editor.text == "thr"
    assert typed(b"one\ntwo\nthr").keys(b"ee\n")[1] == ["three"]
    assert Screen("p> ").keys(b"one\ntwo\n")[1] == ["one", "two"]


def test_incoming_line_is_written_above_the_prompt_and_the_text_typed():
    screen = typed(b"hel")
    assert screen.show(["<bob> hi"]) == ERASE + "<bob> hi\r\nann> hel"
    assert screen.show(["<bob> a", "*** b"]) == ERASE + "<bob> a\r\n*** b\r\nann> hel"
    assert screen.editor.text == "hel"


@pytest.mark.parametrize("style, painted", [
    (Style.ERROR, "\x1b[1;31m!!! x\x1b[0m"),
    (Style.MENTION, "\x1b[1;33m!!! x\x1b[0m"),
    (Style.PRIVATE, "\x1b[1;32m!!! x\x1b[0m"),
    (Style.ACTION, "\x1b[35m!!! x\x1b[0m"),
    (Style.NOTICE, "\x1b[36m!!! x\x1b[0m"),
    (Style.OWN, "\x1b[2m!!! x\x1b[0m"),
    (Style.CHAT, "!!! x"),
])
def test_each_style_has_its_colour(style, painted):
    assert paint("!!! x", style, colour=True) == painted
    assert paint("!!! x", style, colour=False) == "!!! x"


def test_every_style_but_others_chat_looks_different():
    looks = {paint("x", style, colour=True) for style in Style}
    assert len(looks) == len(Style)


def test_timestamps_come_first_and_uncoloured():
    assert paint("<bob> hi", Style.CHAT, colour=False, stamp="09:05") == "09:05 <bob> hi"
    assert paint("x", Style.ERROR, colour=True, stamp="23:59") == "23:59 \x1b[1;31mx\x1b[0m"


@pytest.mark.parametrize("is_terminal, environ, flag, colour", [
    (True, {}, False, True),
    (False, {}, False, False),
    (True, {"NO_COLOR": "1"}, False, False),
    (True, {"NO_COLOR": ""}, False, True),  # set but empty does not count
    (True, {}, True, False),
])
def test_colour_only_on_a_terminal_without_no_color(is_terminal, environ, flag, colour):
    assert wants_colour(is_terminal, environ, flag) is colour


def test_backspace_ctrl_u_ctrl_w():
    assert typed(b"abc\x7f").editor.text == "ab"
    assert typed(b"abc\b").editor.text == "ab"
    assert typed(b"\x7f").editor.text == ""
    assert typed(b"hello there\x15").editor.text == ""
    assert typed(b"hello big world  \x17").editor.text == "hello big "


def test_editing_redraws_the_line():
    screen = typed(b"abc")
    assert screen.keys(b"\x7f") == (ERASE + "ann> ab", [])


def test_non_ascii_text_even_split_between_reads():
    screen = typed("né ".encode() + "漢".encode()[:2])
    assert screen.editor.text == "né "
    assert screen.keys("漢".encode()[2:]) == ("漢", [])
    assert typed("né漢\x7f".encode()).editor.text == "né"


def test_unknown_escape_sequences_and_other_control_keys_are_ignored():
    # F5, bracketed paste marks, Ctrl-G, a tab, Alt+x: none is text, none eats a key.
    assert typed(b"a\x1b[15~b\x1b[200~c\x07d\te\x1bxf").editor.text == "abcdexf"


def test_ctrl_d_on_an_empty_line_ends_input_and_deletes_otherwise():
    assert typed(b"").keys(b"\x04") == ("", [INPUT_END])
    screen = typed(b"x")
    assert screen.keys(b"\x04") == ("", [])  # at the end: nothing to delete
    assert screen.keys(b"\x01\x04")[0] == ERASE + "ann> x\r\x1b[5C" + ERASE + "ann> "
    assert screen.editor.text == ""


def test_the_cursor_is_put_back_where_editing_is():
    screen = typed(b"hello")
    assert screen.keys(b"\x1b[D\x1b[D") == (
        ERASE + "ann> hello\r\x1b[9C" + ERASE + "ann> hello\r\x1b[8C", [])
    assert screen.keys(b"X") == (ERASE + "ann> helXlo\r\x1b[9C", [])
    assert screen.keys(b"\x05") == (ERASE + "ann> helXlo", [])


def test_a_line_arriving_keeps_the_cursor_in_the_middle_of_what_is_typed():
    screen = typed("中文e\u0301x".encode() + b"\x1b[D\x1b[D")  # before the é
    assert screen.show(["<bob> hi"]) == ERASE + "<bob> hi\r\n" + "ann> 中文e\u0301x\r\x1b[9C"
    assert screen.keys(b"!")[0].endswith("ann> 中文!e\u0301x\r\x1b[10C")
    assert screen.editor.text == "中文!e\u0301x"


def test_cursor_on_a_wrapped_row_with_wide_characters():
    # "ann> " + 4 wide = 13 columns at width 8: "ann> 中" | "文字字" ...
    screen = typed("中文字字".encode(), width=8)
    assert screen.show(["x"]).startswith("\r\x1b[1A\x1b[J")  # from the end, row 1
    out = screen.keys(b"\x1b[D\x1b[D\x1b[D")  # before 文: the start of row 1
    assert out[0].endswith("ann> 中文字字\r")
    assert screen.show(["y"]) == "\r\x1b[1A\x1b[Jy\r\nann> 中文字字\r"
    screen.keys(b"\x01")  # to the start: up one row from the end
    assert screen.show(["z"]).endswith("ann> 中文字字\x1b[1A\r\x1b[5C")
    assert screen.show(["w"]).startswith(ERASE)  # the cursor is on the first row


def test_ctrl_l_clears_the_screen_and_redraws_with_the_cursor():
    screen = typed(b"hi\x1b[D")
    assert screen.keys(b"\x0c") == ("\x1b[H\x1b[2J" + "ann> hi\r\x1b[6C", [])


def test_a_lone_esc_then_a_key():
    screen = typed(b"a\x1b")
    assert screen.waiting
    assert screen.keys_done() == ("", [])
    assert screen.keys(b"b") == ("b", [])
    assert screen.editor.text == "ab"


def test_up_recalls_the_last_line_sent():
    screen = typed(b"too long\r")
    assert screen.keys(b"\x1b[A") == (ERASE + "ann> too long", [])
    assert screen.keys(b"\x17\x17short\r")[1] == ["short"]


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


def test_plain_lines_have_no_cursor_movement():
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
    assert single.editor.text == whole.editor.text
    assert not any(line != INPUT_END and any(c < " " or c == "\x7f" for c in line)
                   for line in whole_submitted)
