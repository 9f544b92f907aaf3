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
Invalid UTF-8 becomes U+FFFD rather than an error: the rest of the line survives.
Other format characters stay: emoji need the zero width joiner and variation
selectors, and right-to-left text needs its marks (U+200E, U+200F).
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
_CONTROLS = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def clean(data: Union[bytes, bytearray, str]) -> str:
    """Decode (UTF-8, replacing bad bytes) and strip controls and escape sequences."""
    text = data if isinstance(data, str) else data.decode("utf-8", "replace")
    if text.isprintable():  # the common case: nothing to remove (bidi controls are not printable)
        return text
    return _CONTROLS.sub("", _ESCAPE_SEQUENCES.sub("", text))
