"""The keyboard: bytes from a terminal in cbreak mode, split into keys.

A key is either text typed (a str of printable characters) or a `Key`, named
for what it does (the key map is the tables below, as readline's emacs map).
Keys that send an escape sequence arrive as ``ESC [ params final`` (CSI),
``ESC O x`` (SS3) or ``ESC x`` (Alt+x). Three rules keep typing safe:

* an escape sequence not in the map is dropped whole, never typed as "[15~";
* ESC followed by a key that is no Alt binding drops only the ESC, so a lone
  ESC never eats the key after it;
* a read that ends inside a sequence (a lone ESC, or ``ESC [`` and no final
  byte) keeps it, as the rest may be in the next read. The caller, which owns
  the clock, calls `flush` if nothing more came within `ESC_DELAY`: then
  the ESC is dropped and what followed it is typed.
"""
import codecs
import enum
import re
import unicodedata
from typing import List, Union

#: Seconds after a lone ESC before it is taken as the Esc key alone (a terminal
#: sends a whole sequence at once; a person is slower than this).
ESC_DELAY = 0.1


class Key(enum.Enum):
    ENTER = "enter"
    BACKSPACE = "backspace"
    DELETE = "delete"
    EOF_OR_DELETE = "ctrl-d"  # end of input on an empty line, else Delete
    LEFT = "left"
    RIGHT = "right"
    HOME = "home"
    END = "end"
    WORD_LEFT = "word-left"
    WORD_RIGHT = "word-right"
    KILL_TO_END = "kill-to-end"
    KILL_TO_START = "kill-to-start"
    KILL_WORD = "kill-word"  # the word before the cursor, as a shell's Ctrl-W
    UP = "history-up"
    DOWN = "history-down"
    REDRAW = "redraw"


Typed = Union[str, Key]

_CONTROLS = {
    "\r": Key.ENTER, "\n": Key.ENTER,  # "\r" when the terminal does not translate it
    "\x7f": Key.BACKSPACE, "\b": Key.BACKSPACE,  # as most terminals send it; as some do
    "\x04": Key.EOF_OR_DELETE,
    "\x01": Key.HOME, "\x05": Key.END,  # Ctrl-A, Ctrl-E
    "\x02": Key.LEFT, "\x06": Key.RIGHT,  # Ctrl-B, Ctrl-F
    "\x10": Key.UP, "\x0e": Key.DOWN,  # Ctrl-P, Ctrl-N
    "\x0b": Key.KILL_TO_END, "\x15": Key.KILL_TO_START, "\x17": Key.KILL_WORD,  # K, U, W
    "\x0c": Key.REDRAW,  # Ctrl-L
}
_SEQUENCES = {
    "\x1b[A": Key.UP, "\x1b[B": Key.DOWN, "\x1b[C": Key.RIGHT, "\x1b[D": Key.LEFT,
    "\x1bOA": Key.UP, "\x1bOB": Key.DOWN, "\x1bOC": Key.RIGHT, "\x1bOD": Key.LEFT,
    "\x1b[H": Key.HOME, "\x1bOH": Key.HOME, "\x1b[1~": Key.HOME, "\x1b[7~": Key.HOME,
    "\x1b[F": Key.END, "\x1bOF": Key.END, "\x1b[4~": Key.END, "\x1b[8~": Key.END,
    "\x1b[3~": Key.DELETE,
    "\x1b[1;5D": Key.WORD_LEFT, "\x1b[1;3D": Key.WORD_LEFT,  # Ctrl-Left, Alt-Left
    "\x1b[1;5C": Key.WORD_RIGHT, "\x1b[1;3C": Key.WORD_RIGHT,
    "\x1bb": Key.WORD_LEFT, "\x1bf": Key.WORD_RIGHT,  # Alt-B, Alt-F
}
_ESCAPE = "\x1b"
# A whole sequence: CSI, SS3, or an Alt binding.
_SEQUENCE = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|O[ -~]|[bf])")
# The start of one, cut off by the end of the read.
_UNFINISHED = re.compile(r"\x1b(?:\[[0-?]*[ -/]*|O)?")
_TEXT = re.compile(r"[^\x00-\x1f\x7f]+")
# Kept out of the line: controls, surrogates, and line or paragraph separators.
# Format characters stay: ZWJ joins emoji, and variation selectors choose their look.
_NOT_TEXT = ("Cc", "Cs", "Zl", "Zp")


class KeyReader:
    def __init__(self) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self._held = ""  # an escape sequence begun at the end of the last read

    @property
    def waiting(self) -> bool:
        """Whether a sequence was cut off: call `flush` if no byte follows soon."""
        return bool(self._held)

    def feed(self, data: bytes) -> List[Typed]:
        """The keys in `data` (and in what an earlier read left unfinished)."""
        buffer, self._held = self._held + self._decoder.decode(data), ""
        return self._split(buffer, final=False)

    def flush(self) -> List[Typed]:
        """No more bytes came: what was held is an Esc press and what followed it."""
        buffer, self._held = self._held, ""
        return self._split(buffer, final=True)

    def _split(self, buffer: str, final: bool) -> List[Typed]:
        keys: List[Typed] = []
        at = 0
        while at < len(buffer):
            char = buffer[at]
            if char == _ESCAPE:
                sequence = _SEQUENCE.match(buffer, at)
                if sequence:
                    found = _SEQUENCES.get(sequence.group())
                    if found:
                        keys.append(found)
                    at = sequence.end()  # unknown sequences are dropped whole
                    continue
                if not final and _UNFINISHED.fullmatch(buffer, at):
                    self._held = buffer[at:]
                    break
                at += 1  # a lone ESC, or ESC and a key with no Alt binding
            elif char in _CONTROLS:
                keys.append(_CONTROLS[char])
                at += 1
            else:
                text = _TEXT.match(buffer, at)
                if not text:  # another control key: ignored
                    at += 1
                    continue
                typed = "".join(c for c in text.group()
                                if unicodedata.category(c) not in _NOT_TEXT)
                if typed:
                    keys.append(typed)
                at = text.end()
        return keys
