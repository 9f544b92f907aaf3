"""What the harness says and expects on the wire: selchat's chat lines, IRC, or Redis.

Both are described by the same few facts, so the client loop (`swarm`) never
asks which one it speaks: what a client sends to join, the bytes that prove it
joined (or was refused), how a sender frames a message body, the layout of a
message as a receiver gets it, and which other lines are mere framing.

Redis is measured as a chat server would be built on it: every client
SUBSCRIBEs to one channel and each sender PUBLISHes on a connection of its own
(a subscribed connection may not publish), so a message reaches every
subscriber, the sender's own subscription included.

IRC (``--transport irc``: selchat's IRC port, ngIRCd, InspIRCd) registers
with NICK and USER, and sends JOIN only once the welcome (001) came, since
InspIRCd finishes a registration up to a second later and refuses a JOIN
before it (451). A received message carries the sender's ``nick!user@host``
as the server spells it, so its length is learnt from the first client's
own JOIN echo (`Irc.record`); every name has one width, so it is one length.
"""
from typing import NamedTuple, Optional, Tuple


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
    registered: Optional[bytes] = None  #: joined in one step: nothing to wait for first
    pings = b""  #: what the server's idle checks contain (none: nothing to answer)
    body_mark = b"#"  #: what a line's body starts with: its first occurrence is the body

    @staticmethod
    def join(name: str) -> bytes:
        return name.encode() + b"\n"

    @staticmethod
    def frame(body: bytes) -> bytes:
        return body + b"\n"

    @staticmethod
    def enter() -> bytes:
        return b""

    @staticmethod
    def record(sender_name: str, payload: int, reply: bytes = b"") -> Record:
        """The layout of a received message; `reply` (IRC only) is what the
        first client to join received up to its welcome."""
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
    registered: Optional[bytes] = None
    body_mark = b"#"
    pings = b""  #: what the server's idle checks contain (none: nothing to answer)
    _PUSH = (b"*", b"$", b":")

    @staticmethod
    def join(name: str) -> bytes:
        return b"*2\r\n$9\r\nSUBSCRIBE\r\n$4\r\nchat\r\n"

    @staticmethod
    def frame(body: bytes) -> bytes:
        return b"*3\r\n$7\r\nPUBLISH\r\n$4\r\nchat\r\n$%d\r\n%s\r\n" % (len(body), body)

    @staticmethod
    def enter() -> bytes:
        return b""

    @staticmethod
    def record(sender_name: str, payload: int, reply: bytes = b"") -> Record:
        head = len(b"*3\r\n$7\r\nmessage\r\n$4\r\nchat\r\n$%d\r\n" % payload)
        return Record(head + payload + 2, head)

    @classmethod
    def is_framing(cls, line: bytes) -> bool:
        """The lines of a push around its body: ``*3``, ``$7``, ``message``, ..."""
        return line[:1] in cls._PUSH or line in (b"message\r", b"chat\r", b"subscribe\r")


class Irc:
    """IRC (RFC 2812): every client in channel `CHANNEL`, messages as PRIVMSG."""

    name = "irc"
    separate_senders = False
    echoes = False  #: no echo-message asked for
    CHANNEL = b"#lobby"  #: selchat's default room, and a channel on any server
    registered = b" 001 "  #: the welcome: now JOIN
    joined = b" 366 "  #: end of the channel's NAMES: in it
    refused = b"ERROR "  #: the server closes the link (full, banned...)
    body_mark = b" :#"  #: the trailing parameter; the channel's own "#" comes before

    @staticmethod
    def join(name: str) -> bytes:
        nick = name.encode()
        return b"NICK %s\r\nUSER %s 0 * :%s\r\n" % (nick, nick, nick)

    @classmethod
    def enter(cls) -> bytes:
        return b"JOIN %s\r\n" % cls.CHANNEL

    @classmethod
    def frame(cls, body: bytes) -> bytes:
        return b"PRIVMSG %s :%s\r\n" % (cls.CHANNEL, body)

    @classmethod
    def record(cls, sender_name: str, payload: int, reply: bytes = b"") -> Record:
        """``:nick!user@host PRIVMSG #lobby :`` body CR LF, the source as long as
        the one on the first JOIN in `reply` (the joiner's own), with
        `sender_name` for its nick; without a JOIN, a guess (``nick!nick@127.0.0.1``)
        that only costs speed (every read then takes the slow path) if wrong."""
        source = b":%s!%s@127.0.0.1" % ((sender_name.encode(),) * 2)
        for line in reply.split(b"\n"):
            words = line.split(b" ", 2)
            if len(words) > 1 and words[1] == b"JOIN" and b"!" in words[0]:
                nick = words[0][1:words[0].index(b"!")]
                source = words[0].replace(nick, sender_name.encode(), 1)
                break
        head = len(source) + len(b" PRIVMSG %s :" % cls.CHANNEL)
        return Record(head + payload + 2, head)

    pings = b"PING "  #: a receiver sends nothing, so the server checks it is alive

    @staticmethod
    def _command(line: bytes) -> Tuple[bytes, bytes]:
        """A line's command and what follows it (past a ``:source``)."""
        if line.startswith(b":"):
            line = line.partition(b" ")[2]
        command, _, rest = line.partition(b" ")
        return command, rest

    @classmethod
    def pongs(cls, data: bytes) -> bytes:
        """The answers to the PINGs in `data` (complete lines)."""
        answers = []
        for line in data.split(b"\n"):
            command, rest = cls._command(line)
            if command == b"PING":
                answers.append(b"PONG " + rest.strip() + b"\r\n")
        return b"".join(answers)

    @classmethod
    def is_framing(cls, line: bytes) -> bool:
        """A PING or PONG (an idle check) between messages."""
        return cls._command(line)[0] in (b"PING", b"PONG")


PROTOCOLS = {"chat": Chat, "redis": Redis, "irc": Irc}
