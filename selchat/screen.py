"""What the client writes: lines received above, the line being typed below.

In a terminal, the client puts it in non-canonical, no-echo mode (see
`selchat.terminal`), so the terminal shows only what we write and hands us each
key as it is pressed. The last rows of the screen always hold the prompt and
the text typed so far. To show a line received, `Screen` erases those rows
(carriage return, up over any rows the text wrapped onto, erase to the end of
the screen), writes the line, and draws the prompt and the text again under
it: nothing typed is lost, from the screen or from what is sent.

Pure: it takes the bytes of the keys pressed and the lines received (already
sanitised), and returns the text to write; the caller does the I/O. Every
escape code the client ever writes comes from this module, none from the network.
"""
import codecs
import re
import unicodedata
from typing import Iterable, List, Tuple, Union


class _End:
    """Sentinel for Ctrl-D on an empty line (its repr is its name)."""

    def __repr__(self) -> str:
        return "END"


#: Submitted instead of a line when Ctrl-D is pressed on an empty line.
END = _End()

Submitted = Union[str, _End]

_ERASE_BELOW = "\x1b[J"
_ERROR = "\x1b[1;31m{}\x1b[0m"  # bold red

# Bytes from the keyboard, split into keys. Keys that send an escape sequence
# (arrows, Home, F1, Alt+x) are ignored whole: "ESC [ params final" (CSI),
# "ESC O x" (SS3) or "ESC x". A terminal sends each key in one piece.
_KEYS = re.compile(
    r"""
      (?P<text> [^\x00-\x1f\x7f]+ )
    | (?P<escape> \x1b (?: \[ [0-?]* [ -/]* [@-~]? | O [ -~]? | [ -~] )? )
    | (?P<control> [\x00-\x1f\x7f] )
    """,
    re.VERBOSE,
)
_ENTER = ("\n", "\r")  # "\r" when the terminal does not translate it (no ICRNL)
_CTRL_D = "\x04"
# Ctrl-W deletes the last word and the blanks after it, as a shell does.
_LAST_WORD = re.compile(r"\S*\s*$")
_EDITS = {
    "\x7f": lambda text: text[:-1],  # Backspace, as most terminals send it
    "\b": lambda text: text[:-1],  # Backspace, as some send it (Ctrl-H)
    "\x15": lambda text: "",  # Ctrl-U: the whole line
    "\x17": lambda text: _LAST_WORD.sub("", text, count=1),  # Ctrl-W
}


class Screen:
    """The prompt and line editor at the bottom of an interactive terminal."""

    def __init__(self, prompt: str, width: int = 80) -> None:
        self.prompt = prompt
        self.width = width  # columns; the caller updates it when the terminal resizes
        self.text = ""  # typed, not yet submitted
        self._drawn = ""  # what the prompt rows show now (prompt + text)
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")

    def redraw(self) -> str:
        """Draw the prompt and the text typed so far, at the cursor."""
        self._drawn = self.prompt + self.text
        return self._drawn

    def clear(self) -> str:
        """Erase the prompt rows, leaving the cursor where they began."""
        rows = _rows_below(self._drawn, self.width)
        self._drawn = ""
        return "\r" + (f"\x1b[{rows}A" if rows else "") + _ERASE_BELOW

    def show(self, lines: Iterable[str]) -> str:
        """Write lines received above the prompt; errors stand out."""
        shown = "".join(
            (_ERROR.format(line) if line.startswith("!!! ") else line) + "\r\n"
            for line in lines
        )
        return self.clear() + shown + self.redraw()

    def keys(self, data: bytes) -> Tuple[str, List[Submitted]]:
        """Apply the keys pressed: the text to write, and the lines submitted."""
        out: List[str] = []
        submitted: List[Submitted] = []
        for match in _KEYS.finditer(self._decoder.decode(data)):
            key = match.group()
            if match.lastgroup == "text":
                typed = "".join(char for char in key if char.isprintable())
                self.text += typed
                self._drawn += typed
                out.append(typed)
            elif key in _ENTER:
                if self.text:  # the line stays on screen, as part of the chat
                    submitted.append(self.text)
                    self.text = ""
                    out.append("\r\n" + self.redraw())
            elif key == _CTRL_D:
                if not self.text:
                    submitted.append(END)
            elif key in _EDITS:
                out.append(self.clear())
                self.text = _EDITS[key](self.text)
                out.append(self.redraw())
            # Anything else (escape sequences, other control keys) is ignored.
        return "".join(out), submitted


def plain(lines: Iterable[str]) -> str:
    """Lines for a pipe or a file: no prompt, no escape codes."""
    return "".join(line + "\n" for line in lines)


def _rows_below(text: str, width: int) -> int:
    """How many rows below its start the cursor ends after writing text.

    Models a terminal's autowrap: a character that does not fit on the row goes
    to the next one (a wide one may leave a column empty), and after filling a
    row exactly the cursor stays on it until more is written.
    """
    row = column = 0
    for char in text:
        char_width = _width(char)
        if column + char_width > width:
            row, column = row + 1, 0
        column += char_width
    return row


def _width(char: str) -> int:
    """Columns a character takes: 2 if East Asian wide, 0 if a combining mark."""
    if unicodedata.combining(char):
        return 0
    return 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1
