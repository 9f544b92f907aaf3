"""What the client writes: lines received above, the line being typed below.

In a terminal, the client puts it in non-canonical, no-echo mode (see
`selchat.terminal`), so the terminal shows only what we write and hands us each
key as it is pressed. The last rows of the screen always hold the prompt and
the text typed so far, with the terminal's cursor where the editing cursor is.
To show a line received, `Screen` erases those rows (carriage return, up to the
row the prompt starts on, erase to the end of the screen), writes the line, and
draws the prompt and the text again under it: nothing typed is lost, from the
screen or from what is sent, wherever the cursor is.

To know where the cursor is, `Screen` lays the text out as the terminal does
(`_place`): cluster by cluster, each as wide as wcwidth says, a cluster that
does not fit going to the next row.

Pure: it takes the bytes of the keys pressed and the lines received (already
sanitised), and returns the text to write; the caller does the I/O. Every
escape code the client ever writes comes from this module, none from the network.
"""
import zlib
from typing import Iterable, List, Mapping, Optional, Tuple

import wcwidth

from selchat.editor import Editor, boundaries
from selchat.keys import Key, KeyReader, Typed
from selchat.decisions import Style, Submitted

_ERASE_BELOW = "\x1b[J"
_CLEAR_SCREEN = "\x1b[H\x1b[2J"
_RESET = "\x1b[0m"
#: SGR parameters per style: errors loud, private and mentions bright, your own
#: lines faint, notices and actions tinted; others' chat in the terminal's colour.
_COLOURS = {
    Style.ERROR: "1;31",  # bold red
    Style.MENTION: "1;33",  # bold yellow
    Style.PRIVATE: "1;32",  # bold green
    Style.ACTION: "35",  # magenta
    Style.NOTICE: "36",  # cyan
    Style.OWN: "2",  # faint
}


#: SGR colours a room's prefix is shown in, one per room by its name: six,
#: none of them the red of errors, so rooms are told apart at a glance.
_ROOM_COLOURS = ("32", "33", "34", "35", "36", "94")


def room_colour(room: str) -> str:
    """The SGR colour of `room`'s prefix: the same for a name in every run and
    on every machine (a CRC, not Python's salted hash)."""
    return _ROOM_COLOURS[zlib.crc32(room.encode()) % len(_ROOM_COLOURS)]


def wants_colour(is_terminal: bool, environ: Mapping[str, str], no_colour: bool) -> bool:
    """Colour only on a terminal, never with --no-color or NO_COLOR (https://no-color.org)."""
    return is_terminal and not no_colour and not environ.get("NO_COLOR")


def paint(text: str, style: Style, colour: bool, stamp: str = "",
          room: Optional[str] = None) -> str:
    """A line as shown: its style's colour if `colour`, after its room (in the
    room's colour) if it has one, after the time if given."""
    if colour and style in _COLOURS:
        text = f"\x1b[{_COLOURS[style]}m{text}{_RESET}"
    if room is not None:
        text = f"\x1b[{room_colour(room)}m{room}{_RESET} {text}" if colour else f"{room} {text}"
    return f"{stamp} {text}" if stamp else text


def plain(lines: Iterable[str]) -> str:
    """Lines for a pipe or a file: no prompt, no cursor movement."""
    return "".join(line + "\n" for line in lines)


class Screen:
    """The prompt and line editor at the bottom of an interactive terminal."""

    def __init__(self, prompt: str, width: int = 80) -> None:
        self.prompt = prompt
        self.width = width  # columns; the caller updates it when the terminal resizes
        self.editor = Editor()
        self._keys = KeyReader()
        self._drawn = ""  # what the prompt rows show now (prompt + text)
        self._drawn_cursor = 0  # the offset in _drawn where the terminal's cursor is

    @property
    def waiting(self) -> bool:
        """A key sequence was cut off: call `keys_done` if no byte follows soon."""
        return self._keys.waiting

    def redraw(self) -> str:
        """Draw the prompt and the text typed so far, at the cursor, and put the
        terminal's cursor at the editing position."""
        self._drawn = self.prompt + self.editor.text
        self._drawn_cursor = len(self.prompt) + self.editor.cursor
        end_row, _ = _place(self._drawn, len(self._drawn), self.width)
        row, column = _place(self._drawn, self._drawn_cursor, self.width)
        if self._drawn_cursor == len(self._drawn):
            return self._drawn
        return (self._drawn + (f"\x1b[{end_row - row}A" if end_row > row else "") + "\r"
                + (f"\x1b[{column}C" if column else ""))

    def clear(self) -> str:
        """Erase the prompt rows, leaving the cursor where they began."""
        row, _ = _place(self._drawn, self._drawn_cursor, self.width)
        self._drawn, self._drawn_cursor = "", 0
        return "\r" + (f"\x1b[{row}A" if row else "") + _ERASE_BELOW

    def show(self, lines: Iterable[str]) -> str:
        """Write lines received (see `paint`) above the prompt."""
        shown = "".join(line + "\r\n" for line in lines)
        return self.clear() + shown + self.redraw()

    def keys(self, data: bytes) -> Tuple[str, List[Submitted]]:
        """Apply the keys pressed: the text to write, and the lines submitted."""
        return self._apply(self._keys.feed(data))

    def keys_done(self) -> Tuple[str, List[Submitted]]:
        """No byte came within keys.ESC_DELAY of a cut-off sequence: a lone Esc."""
        return self._apply(self._keys.flush())

    def _apply(self, keys: Iterable[Typed]) -> Tuple[str, List[Submitted]]:
        out: List[str] = []
        submitted: List[Submitted] = []
        editor = self.editor
        for key in keys:
            before = (editor.text, editor.cursor)
            line: Optional[Submitted] = None
            if key is Key.REDRAW:
                out.append(_CLEAR_SCREEN + self.redraw())
                continue
            if isinstance(key, str):
                at_end = editor.cursor == len(editor.text)
                editor.insert(key)
                if at_end:  # the common case: just write what was typed
                    self._drawn += key
                    self._drawn_cursor = len(self._drawn)
                    out.append(key)
                    continue
            else:
                line = editor.press(key)
                if line is not None:
                    submitted.append(line)
            if isinstance(line, str) or (editor.text, editor.cursor) != before:
                out.append(self.clear() + self.redraw())
        return "".join(out), submitted


def _place(text: str, offset: int, width: int) -> Tuple[int, int]:
    """Row and column (from 0, relative to where `text` starts) of the cursor
    once text is written and the cursor is moved back to `offset`.

    Models a terminal's autowrap: a cluster that does not fit on the row goes
    to the next one (a wide one may leave a column empty). After the last
    cluster, filling a row exactly leaves the cursor on that row (the terminal
    wraps only when more is written); before a cluster, the cursor is where
    that cluster starts, on the next row if it did not fit.
    """
    row = column = 0
    clusters = boundaries(text)
    for start, end in zip(clusters, clusters[1:]):
        cluster_width = max(0, wcwidth.wcswidth(text[start:end]))
        if column + cluster_width > width:
            row, column = row + 1, 0
        if start >= offset:
            return row, column
        column += cluster_width
    return row, column
