"""The text of a bench message: who sent it, its number, when, padded to size.

Every body has the same fixed layout, so every received copy of a message is
a record of one known length, and a receiver can check a whole read by
looking at a few columns of it (see `tally`) instead of splitting it into
lines::

    #  T  SSSSSSSS  ' '  UUUUUUUUUU  ' '  xxxx...
    |  |  |              |                padding up to the payload size
    |  |  |              send time, microseconds since the run began
    |  |  sequence number of this sender's message (hex)
    |  token: says which sender, and the sequence number mod `cycle`
    magic: marks a bench message (no notice or name contains "#")

The token is one printable ASCII character, and each sender owns its own
`cycle` of them (94 characters shared out: 9 each for 10 senders, at most
64), so a receiver can pull one sender's tokens out of a column of mixed
senders with a single ``bytes.translate``.

A *storm* line (``flood.py --burst``) is the other kind: as long as the
server allows, sent by the burst clients all at once, and recognised by its
magic alone (``%``, which no message, notice or name contains), so receivers
can count and cut storm lines out of a read before checking the messages::

    %  CCCCC  ' '  LLLLL  ' '  yyyy...
       |           |           padding up to the line length
       |           the line's number in its client's burst
       burst client
"""
from typing import List, Tuple

TOKENS = bytes(range(0x21, 0x7F))  # the 94 printable ASCII characters
MAX_SENDERS = len(TOKENS)
MAGIC = b"#"
#: What the announcers send once every client has joined: not a message (a
#: message's token is followed by hex digits).
READY = b"#!ready"
TOKEN_AT, SEQ_AT, TIME_AT = 1, 2, 11
_FIXED = TIME_AT + 10 + 1
MIN_PAYLOAD = _FIXED
STORM = b"%"
MIN_STORM = 16


def storm_line(client: int, number: int, size: int) -> bytes:
    """The text of one storm line, exactly `size` bytes (at least `MIN_STORM`)."""
    head = b"%%%05d %05d " % (client, number)
    return head + b"y" * (size - len(head))


class BodyFormat:
    """The body layout for a run with `senders` senders and `payload`-byte bodies."""

    def __init__(self, senders: int, payload: int) -> None:
        if not 0 <= senders <= MAX_SENDERS:
            raise ValueError(f"at most {MAX_SENDERS} senders")
        if payload < MIN_PAYLOAD:
            raise ValueError(f"payload must be at least {MIN_PAYLOAD} bytes")
        self.senders, self.payload = senders, payload
        #: Tokens per sender: the sequence numbers a swap must span to go unseen.
        self.cycle = min(64, len(TOKENS) // max(senders, 1))
        c = self.cycle
        self.alphabets: List[bytes] = [TOKENS[s * c:(s + 1) * c] for s in range(senders)]
        self._padding = b"x" * (payload - _FIXED)

    def body(self, sender: int, seq: int, time_us: int) -> bytes:
        token = self.alphabets[sender][seq % self.cycle]
        return b"#%c%08x %010d %s" % (token, seq, time_us, self._padding)

    def parse(self, body: bytes) -> Tuple[int, int, int]:
        """(sender, seq, send time in µs) of a body; ValueError if it is none."""
        if len(body) < _FIXED - 1 or body[:1] != MAGIC:
            raise ValueError("not a bench message")
        token = body[TOKEN_AT]
        sender = TOKENS.find(token) // self.cycle
        seq = int(body[SEQ_AT:SEQ_AT + 8], 16)
        if not 0 <= sender < self.senders or token != self.alphabets[sender][seq % self.cycle]:
            raise ValueError("token and sequence number disagree")
        return sender, seq, int(body[TIME_AT:TIME_AT + 10])
