"""SASL PLAIN over IRC (IRCv3 ``sasl``, RFC 4616): reading one exchange. Pure.

``AUTHENTICATE PLAIN`` starts it; the client's answer comes base64-encoded
in pieces of 400 characters (a shorter piece, or ``+``, is the last), and
is ``authzid NUL authcid NUL password``. What it is checked against (the
account's password, off the loop) is the session's and the room's business.
"""
import binascii
from base64 import b64decode
from typing import NamedTuple, Optional, Union

MECHANISMS = "PLAIN"
#: The length of a piece that says more follow.
PIECE = 400
#: Characters of base64 taken in all: an account name and a password fit
#: (`selchat.accounts.passwords.MAX_PASSWORD`) several times over.
MAX_ANSWER = 4 * PIECE


class Credentials(NamedTuple):
    account: str
    password: str


class Plain:
    """One PLAIN exchange's pieces so far."""

    __slots__ = ("_pieces",)

    def __init__(self) -> None:
        self._pieces = ""

    def piece(self, text: str) -> Union[None, str, Credentials]:
        """One ``AUTHENTICATE`` parameter: None (more to come), the answer's
        credentials, or why it is refused: "piece too long" (over `PIECE`:
        ERR_SASLTOOLONG, as the specification says), "too long" (pieces
        past `MAX_ANSWER`: a failure like any other), "malformed"."""
        if len(text) > PIECE:
            return "piece too long"
        if text != "+":
            self._pieces += text
        if len(self._pieces) > MAX_ANSWER:
            return "too long"
        if len(text) == PIECE:
            return None
        return credentials(self._pieces)


def credentials(encoded: str) -> Union[str, Credentials]:
    """``authzid NUL authcid NUL password`` from base64 (the authzid, if
    given, must be the authcid: nobody logs in as another)."""
    try:
        decoded = b64decode(encoded, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return "malformed"
    parts = decoded.split("\0")
    if len(parts) != 3 or not parts[1] or not parts[2]:
        return "malformed"
    authzid, authcid, password = parts
    if authzid and authzid != authcid:
        return "malformed"
    return Credentials(authcid, password)


def mechanism(name: str) -> Optional[str]:
    """The mechanism asked for, if selchat has it."""
    return name.upper() if name.upper() == MECHANISMS else None
