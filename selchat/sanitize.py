"""Turn untrusted bytes into text that is safe to relay and to print.

Chat text crosses from one person's keyboard to another's terminal. A terminal
obeys control characters and escape sequences (cursor moves, colour, window
titles, even answerback requests), so none may pass through. Shared by the
server (before anything is relayed) and the client (before anything is shown).

What goes: C0 controls except tab, DEL, C1 controls, bidi embeddings, overrides
and isolates (U+202A-U+202E, U+2066-U+2069: with them one line could reverse the
text after it on the reader's screen, another person's line included), and whole escape sequences
(CSI ``ESC [ ... final``, in 7- or 8-bit form, OSC/DCS/PM/APC/SOS strings up to BEL or ``ESC \\``,
and two-byte ``ESC x``), so no stray parameters like ``[31m`` are left behind.
Invisible format characters that no writing system needs go too: the zero width
space (U+200B), the word joiner and invisible operators (U+2060-U+2064), the
deprecated format characters (U+206A-U+206F), the byte order mark (U+FEFF), the
interlinear annotation controls (U+FFF9-U+FFFB, which hide text) and the language
tag (U+E0001): each can make two lines that look the same differ, or hide words.
The line and paragraph separators (U+2028, U+2029) become spaces: they would
break the line on some screens (a line break is the protocol's alone), and a
space keeps the words they separated apart.
Invalid UTF-8 becomes U+FFFD rather than an error: the rest of the line survives.
The format characters that writing needs stay: emoji need the zero width joiner
(U+200D), variation selectors and tag characters (subdivision flags); Persian and
Indic text need the zero width non-joiner (U+200C); right-to-left text needs its
marks (U+200E, U+200F, U+061C).
"""
import re
from typing import Union

_ESCAPE_SEQUENCES = re.compile(
    r"""
      (?:\x1b\[|\x9b) [\x30-\x3f]* [\x20-\x2f]* [\x40-\x7e]?  # CSI: parameters, intermediates, end
    | (?:\x1b[\]PX^_]|[\x90\x98\x9d-\x9f]) .*? (?:\x07|\x1b\\|\x9c|$)  # OSC, DCS, SOS, PM, APC
    | \x1b[\x20-\x2f]* [\x30-\x7e]?                     # ESC, intermediates, final (or lone ESC)
    """,
    re.VERBOSE | re.DOTALL,
)
_CONTROLS = re.compile(
    r"[\x00-\x08\x0a-\x1f\x7f-\x9f"  # C0 but tab, DEL, C1
    r"\u202a-\u202e\u2066-\u2069"  # bidi embeddings, overrides, isolates
    r"\u200b\u2060-\u2064\u206a-\u206f\ufeff\ufff9-\ufffb\U000e0001]"  # invisible
)
_SEPARATORS = str.maketrans("\u2028\u2029", "  ")


def clean(data: Union[bytes, bytearray, str]) -> str:
    """Decode (UTF-8, replacing bad bytes) and strip controls and escape sequences."""
    text = data if isinstance(data, str) else data.decode("utf-8", "replace")
    if text.isprintable():  # the common case: nothing to remove (none of what goes is printable)
        return text
    return _CONTROLS.sub("", _ESCAPE_SEQUENCES.sub("", text)).translate(_SEPARATORS)
