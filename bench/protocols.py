"""What the harness says and expects on the wire: selchat's chat lines, or Redis.

Both are described by the same few facts, so the client loop (`swarm`) never
asks which one it speaks: what a client sends to join, the bytes that prove it
joined (or was refused), how a sender frames a message body, the layout of a
message as a receiver gets it, and which other lines are mere framing.

Redis is measured as a chat server would be built on it: every client
SUBSCRIBEs to one channel and each sender PUBLISHes on a connection of its own
(a subscribed connection may not publish), so a message reaches every
subscriber, the sender's own subscription included.
"""
from typing import NamedTuple


class Record(NamedTuple):
    size: int  #: bytes per received message
    body: int  #: offset of the body inside it


class Chat:
    """selchat's protocol (and the baseline peers', which speak the same)."""

    name = "chat"
    separate_senders = False  #: senders are receiving clients too
    echoes = False  #: a sender does not get its own messages back
    joined = b"*** Welcome, "
    refused = b"!!! "

    @staticmethod
    def join(name: str) -> bytes:
        return name.encode() + b"\n"

    @staticmethod
    def frame(body: bytes) -> bytes:
        return body + b"\n"

    @staticmethod
    def record(sender_name: str, payload: int) -> Record:
        head = len(sender_name) + 3  # "<" name "> "
        return Record(head + payload + 1, head)

    @staticmethod
    def is_framing(line: bytes) -> bool:
        return False


class Redis:
    """Redis pub/sub in RESP, on channel ``chat``."""

    name = "redis"
    separate_senders = True
    echoes = True
    joined = b"\n:1\r\n"  # ends the SUBSCRIBE confirmation: subscribed to 1 channel
    refused = b"-"  # an error reply, e.g. "-ERR max number of clients reached"
    _PUSH = (b"*", b"$", b":")

    @staticmethod
    def join(name: str) -> bytes:
        return b"*2\r\n$9\r\nSUBSCRIBE\r\n$4\r\nchat\r\n"

    @staticmethod
    def frame(body: bytes) -> bytes:
        return b"*3\r\n$7\r\nPUBLISH\r\n$4\r\nchat\r\n$%d\r\n%s\r\n" % (len(body), body)

    @staticmethod
    def record(sender_name: str, payload: int) -> Record:
        head = len(b"*3\r\n$7\r\nmessage\r\n$4\r\nchat\r\n$%d\r\n" % payload)
        return Record(head + payload + 2, head)

    @classmethod
    def is_framing(cls, line: bytes) -> bool:
        """The lines of a push around its body: ``*3``, ``$7``, ``message``, ..."""
        return line[:1] in cls._PUSH or line in (b"message\r", b"chat\r", b"subscribe\r")


PROTOCOLS = {"chat": Chat, "redis": Redis}
