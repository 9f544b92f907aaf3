"""Commands as RESP bytes: the client half of the Redis protocol, sans I/O.

A command is an array of bulk strings (``*2\\r\\n$3\\r\\nGET\\r\\n$1\\r\\nk\\r\\n``),
so any byte may be in an argument. Replies go the other way through
``hiredis.Reader`` (``feed(bytes)``, then ``gets()`` until it answers False):
an error reply is *returned* as a ``hiredis.ReplyError`` instance, not raised,
so it reaches the callback of its command like any other reply; only a
malformed stream raises (``hiredis.ProtocolError``).
"""
from typing import List, Union

Arg = Union[bytes, str, int]


def command(*args: Arg) -> bytes:
    """One command as a RESP array: str as UTF-8, int in decimal, bytes as is."""
    if not args:
        raise ValueError("a command needs at least its name")
    parts: List[bytes] = [b"*%d\r\n" % len(args)]
    for arg in args:
        if isinstance(arg, str):
            data = arg.encode()
        elif isinstance(arg, bytes):
            data = arg
        elif isinstance(arg, int) and not isinstance(arg, bool):
            data = b"%d" % arg
        else:  # True would be sent as 1, a float in some rounding: say it instead
            kind = type(arg).__name__
            raise TypeError(f"a command argument must be bytes, str or int, not {kind}")
        parts += (b"$%d\r\n" % len(data), data, b"\r\n")
    return b"".join(parts)
