"""The line being typed: its text, the cursor, the history, and every editing key.

Pure and display-free: `selchat.screen` feeds it keys and draws the result.
The cursor moves and deletes by grapheme cluster, what a reader sees as one
character ("e" + a combining accent, a flag, a family of emoji joined by ZWJ),
split by wcwidth's UAX #29 segmentation; it never stops inside one.

History is per session, newest last, as in a shell: Up and Down walk it, and a
line recalled can be edited (say, shortened after "!!! line too long") and sent
again; edits to lines not sent are kept until the next line is sent.
"""
from typing import Callable, List, Optional, Tuple

import wcwidth

from selchat.keys import Key
from selchat.decisions import INPUT_END, Submitted

#: Lines remembered for Up; plenty for one session, and a bound on memory.
HISTORY_SIZE = 500


def boundaries(text: str) -> List[int]:
    """The offsets in `text` where a grapheme cluster starts, and len(text)."""
    offsets = [0]
    for cluster in wcwidth.iter_graphemes(text):
        offsets.append(offsets[-1] + len(cluster))
    return offsets


def _is_word(cluster: str) -> bool:
    return cluster[0].isalnum() or cluster[0] == "_"


class Editor:
    def __init__(self) -> None:
        self.text = ""
        self.cursor = 0  # an offset into text, always at a cluster boundary
        self._history: List[str] = []
        self._drafts = [""]  # history plus the new line, as edited; index with _at
        self._at = 0

    def insert(self, typed: str) -> None:
        """Text typed or pasted, at the cursor."""
        self.text = self.text[:self.cursor] + typed + self.text[self.cursor:]
        end = self.cursor + len(typed)
        # A combining mark typed before another cluster's marks may merge them:
        # keep the cursor on a boundary.
        self.cursor = min(b for b in boundaries(self.text) if b >= end)

    def press(self, key: Key) -> Optional[Submitted]:
        """Apply an editing key; the line submitted by Enter or Ctrl-D, if any."""
        if key is Key.ENTER:
            return self._submit() if self.text else None
        if key is Key.EOF_OR_DELETE and not self.text:
            return INPUT_END
        if key in (Key.UP, Key.DOWN):
            self._recall(-1 if key is Key.UP else 1)
            return None
        clusters = boundaries(self.text)
        before = [b for b in clusters if b < self.cursor]
        after = [b for b in clusters if b > self.cursor]
        if key is Key.LEFT and before:
            self.cursor = before[-1]
        elif key is Key.RIGHT and after:
            self.cursor = after[0]
        elif key is Key.HOME:
            self.cursor = 0
        elif key is Key.END:
            self.cursor = len(self.text)
        elif key is Key.BACKSPACE and before:
            self._delete(before[-1], self.cursor)
        elif key in (Key.DELETE, Key.EOF_OR_DELETE) and after:
            self._delete(self.cursor, after[0])
        elif key is Key.KILL_TO_END:
            self._delete(self.cursor, len(self.text))
        elif key is Key.KILL_TO_START:
            self._delete(0, self.cursor)
        elif key is Key.KILL_WORD:
            self._delete(self._word_start(str.isspace), self.cursor)
        elif key is Key.WORD_LEFT:
            self.cursor = self._word_start(lambda cluster: not _is_word(cluster))
        elif key is Key.WORD_RIGHT:
            self.cursor = self._word_end()
        return None

    def _delete(self, start: int, end: int) -> None:
        self.text = self.text[:start] + self.text[end:]
        self.cursor = start

    def _spans(self) -> List[Tuple[int, int]]:
        clusters = boundaries(self.text)
        return list(zip(clusters, clusters[1:]))

    def _word_start(self, is_gap: Callable[[str], bool]) -> int:
        """Back over gaps, then over the word before them: where that word starts."""
        position = self.cursor
        spans = [span for span in self._spans() if span[1] <= position]
        for gap in (True, False):
            while spans and is_gap(self.text[slice(*spans[-1])]) is gap:
                position = spans.pop()[0]
        return position

    def _word_end(self) -> int:
        """On over what is not a word, then over a word: where that word ends."""
        position = self.cursor
        spans = [span for span in self._spans() if span[0] >= position][::-1]
        for word in (False, True):
            while spans and _is_word(self.text[slice(*spans[-1])]) is word:
                position = spans.pop()[1]
        return position

    def _recall(self, step: int) -> None:
        at = self._at + step
        if not 0 <= at < len(self._drafts):
            return
        self._drafts[self._at] = self.text
        self._at = at
        self.text = self._drafts[at]
        self.cursor = len(self.text)

    def _submit(self) -> str:
        line = self.text
        if not self._history or self._history[-1] != line:
            self._history.append(line)
            del self._history[:-HISTORY_SIZE]
        self._drafts = [*self._history, ""]
        self._at = len(self._history)
        self.text, self.cursor = "", 0
        return line
