"""Churn (``flood.py --churn PCT``, selchat only): listeners that reset and resume.

Every client sends ``/tags`` before its name, keeps the resume token of its
welcome and the ``seq`` of the last complete line it took, and strips the tags
before the checks. Every second of the run (spread over the second, a few
every `EVERY` seconds), that share of the *listeners* (neither a probe nor a
sender: a sender's reset would throw away lines the server had not read yet,
and a resume gives back its own lines, which it never gets live) resets its
connection (SO_LINGER 0) and at once reconnects with ``/resume TOKEN LASTSEQ``.
The lines it missed come with the resume, so the loss, duplication and order
checks are the same as in any run. Measured: the first byte of the new
connection and its ``*** Welcome back`` after the reset, gaps, and the join
and leave notices seen during the run (a resume must cause none).
"""
import errno
import random
import re
import socket
import struct
import time
from array import array
from selectors import EVENT_WRITE
from typing import TYPE_CHECKING

from conn import Conn, State
from modes.base import NEVER, Mode
from swarm import READ_SIZE

if TYPE_CHECKING:
    from swarm import Scenario

#: How often a share of the listeners resets and resumes: the second's share
#: is spread over it, as independent people's drops would be, not thrown at
#: the server in one instant.
EVERY = 0.02
#: A line's tags, as the server puts them in front of it (``/tags``).
TAGS = re.compile(rb"^@[^ \n]* ", re.MULTILINE)
TOKEN = re.compile(rb"[@;]resume=([^; ]+)")
WELCOME_BACK = b"*** Welcome back, "
GAP = b"!!! history gap"
NOTICES = (b" has joined the chat room.", b" has left the chat room")


class Churn(Mode):
    name = "churn"

    def __init__(self, scenario: "Scenario") -> None:
        super().__init__()
        self.percent = scenario.churn
        self._next = NEVER  # when the next share is due
        self._owed = 0.0  # clients due for a reset, fractions included
        self._random = random.Random(1)
        self.resets = self.resumed = self.gaps = self.notices = 0
        self.first_byte_us = array("q")  # reset to the first byte of the new connection
        self.welcome_back_us = array("q")  # reset to its "*** Welcome back"

    def begin_run(self, now: float) -> None:
        self._next = now + EVERY

    def step(self, now: float, half: bool) -> None:
        """Reset this tick's share of the listeners, each reconnecting at once to
        resume (the fraction of a client left over is carried to the next tick)."""
        if now < self._next:
            return
        self._next = now + EVERY
        listeners = self.swarm.listeners
        ready = [c for c in listeners if c.state is State.READY]
        self._owed += len(listeners) * self.percent / 100 * EVERY
        count = min(len(ready), int(self._owed))
        self._owed -= count
        for conn in self._random.sample(ready, count):
            self._reset(conn, now)

    def end_run(self) -> None:
        self._next = NEVER

    def _reset(self, conn: Conn, now: float) -> None:
        swarm = self.swarm
        conn.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        if conn.events:
            swarm.sel.unregister(conn.sock)
            conn.events = 0
        conn.sock.close()
        self.resets += 1
        conn.carry, conn.out = b"", bytearray()  # a line cut off is had again (LASTSEQ)
        conn.reset_at, conn.first_byte = now, True
        conn.sock = sock = swarm.new_socket(swarm.addresses[conn.node])
        conn.state = State.RECONNECTING
        err = sock.connect_ex(swarm.addresses[conn.node])
        if err not in (0, errno.EINPROGRESS):
            swarm.problem(f"reconnect failed: {errno.errorcode.get(err, err)}")
            conn.state = State.CLOSED
            return
        swarm.sel.register(sock, EVENT_WRITE, conn)
        conn.events = EVENT_WRITE

    def reconnected(self, conn: Conn) -> bytes:
        """What a reset client sends once its new connection is up."""
        conn.state = State.RESUMING
        return b"/resume %s %d\n" % (conn.token, conn.last_seq)

    def welcomed(self, conn: Conn, head: bytes) -> None:
        """Keep the resume token of a welcome (``@time=...;resume=TOKEN *** Welcome``)."""
        found = TOKEN.search(head)
        conn.token = found.group(1) if found else b""

    def resuming(self, conn: Conn, buf: bytearray, total: int) -> None:
        """The hello, then ``*** Welcome back`` (or a gap); what follows is counted."""
        now = time.monotonic()
        if conn.first_byte:
            conn.first_byte = False
            self.first_byte_us.append(int((now - conn.reset_at) * 1e6))
        end = buf.rfind(b"\n", 0, total) + 1
        if buf.find(GAP, 0, end) >= 0:
            self.gaps += 1
            self.swarm.problem(f"a resume was refused: {_line_at(buf, buf.find(GAP, 0, end))}")
            self.swarm.close_conn(conn)
            return
        at = buf.find(WELCOME_BACK, 0, end)
        if at < 0:
            refused = buf.find(b"!!! ", 0, end)
            if refused >= 0:  # "server full" and the like: a close follows
                self.swarm.problem(f"a resume was refused: {_line_at(buf, refused)}")
            conn.carry = buf[end:total]
            return
        self.welcome_back_us.append(int((now - conn.reset_at) * 1e6))
        self.resumed += 1
        conn.state = State.READY
        self.take(conn, bytes(buf[buf.find(b"\n", at) + 1:total]))

    @staticmethod
    def note_seq(conn: Conn, data: bytes) -> None:
        """The seq of the last numbered line in `data` (complete lines) is LASTSEQ."""
        at = data.rfind(b"@seq=")
        while at > 0 and data[at - 1] != 10:  # not at a line start: text, look further back
            at = data.rfind(b"@seq=", 0, at)
        if at >= 0:
            end = at + 5
            while data[end:end + 1].isdigit():
                end += 1
            conn.last_seq = int(data[at + 5:end])

    def take(self, conn: Conn, data: bytes) -> None:
        """Count `data` (a read, the carry in front) as any read, tags stripped."""
        swarm = self.swarm
        end = data.rfind(b"\n") + 1
        if len(data) - end > READ_SIZE // 2:  # no line end in sight: not a line
            swarm.checker.other_lines += 1
            end = len(data)
        conn.carry = data[end:]
        if not end:
            return
        lines = data[:end]
        self.note_seq(conn, lines)
        plain = TAGS.sub(b"", lines)
        self.notices += plain.count(NOTICES[0]) + plain.count(NOTICES[1])
        swarm.count_lines(conn, plain)

    def result(self) -> dict:
        return {"resets": self.resets, "resumed": self.resumed, "gaps": self.gaps,
                "notices": self.notices, "first_byte_us": self.first_byte_us,
                "welcome_back_us": self.welcome_back_us}


def _line_at(buf: bytearray, at: int) -> str:
    return bytes(buf[at:buf.find(b"\n", at)])[:120].decode(errors="replace")
