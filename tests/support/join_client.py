"""`selchat join` as a process, what it writes (read with deadlines), and a scripted
server for it that sends what a real one never would."""
import fcntl
import os
import pty
import select
import socket
import struct
import subprocess
import sys
import termios
import time
from typing import Optional

from selchat import wire
from selchat.tags import tag_line
from support.constants import TIMEOUT
from support.servers import default_sigint


def join_command(name: str, port: int, *options: str) -> list:
    return [sys.executable, "-m", "selchat", "join", name, "--host", "127.0.0.1",
            "--port", str(port), *options]


class Output:
    """What a client writes to a pipe or a terminal, read with deadlines."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.data = b""
        self.seen = 0  # `expect` looks only after the last match

    def expect(self, marker: bytes, timeout: float = TIMEOUT) -> None:
        """Wait until `marker` is written (after what the last `expect` matched)."""
        deadline = time.monotonic() + timeout
        while marker not in self.data[self.seen:]:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.fd], [], [], left)[0]:
                raise AssertionError(f"no {marker!r} within {timeout} s in {self.data!r}")
            try:
                chunk = os.read(self.fd, 65536)
            except OSError:  # a pseudo-terminal whose other side closed
                chunk = b""
            if not chunk:
                raise AssertionError(f"no {marker!r} before the end of {self.data!r}")
            # The terminal's output processing (ONLCR) turns "\r\n" into "\r\r\n".
            self.data = (self.data + chunk).replace(b"\r\r\n", b"\r\n")
        self.seen = self.data.index(marker, self.seen) + len(marker)


class FakeServer:
    """A scripted stand-in for the server, to send what a real one never would."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(TIMEOUT)
        self.port = self.listener.getsockname()[1]
        self.conn: Optional[socket.socket] = None

    def accept(self, name: str, welcome: bool = True, token: Optional[str] = None) -> None:
        """Take the client's connection, "/tags" and name, and welcome it (or not).

        Without a `token` it plays a server that knows no tags (untagged lines,
        no resume); with one, a tagged welcome carries it."""
        self._accept()
        assert self.reader.readline() == b"/tags\n"
        assert self.reader.readline() == f"{name}\n".encode()
        if welcome and token:
            self.send(tag_line(wire.encode(wire.welcome(name, 1, name)), 0,
                                    {"resume": token}))
        elif welcome:
            self.send(wire.encode(wire.welcome(name, 1, name)))

    def accept_resume(self) -> bytes:
        """Take a reconnection; returns its first line (the /resume)."""
        self._accept()
        return self.reader.readline()

    def refuse(self) -> float:
        """Take the next connection and reset it at once, before any hello (a server
        that refuses it); returns when, by `time.monotonic`, it was taken."""
        conn, _ = self.listener.accept()
        taken = time.monotonic()
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        conn.close()
        return taken

    def _accept(self) -> None:
        self.conn, _ = self.listener.accept()
        self.conn.settimeout(TIMEOUT)
        self.reader = self.conn.makefile("rb")
        self.send(b"*** Hello! Please enter your name.\n")

    def send(self, data: bytes) -> None:
        self.conn.sendall(data)

    def hang_up(self) -> None:
        self.reader.close()  # the socket stays open while its file is
        self.conn.close()

    def close(self) -> None:
        if self.conn:
            self.hang_up()
        self.listener.close()


def welcome(name: str, *others: str) -> str:
    return wire.text_of(wire.welcome(name, len(others) + 1, ", ".join([*others, name])))


#: The client's environment: colour unless a test asks otherwise.
ENV = {key: value for key, value in os.environ.items() if key != "NO_COLOR"}


def join(name: str, port: int, stdin: bytes = b"", *options: str) -> subprocess.CompletedProcess:
    """Run the client through pipes until it exits."""
    return subprocess.run(join_command(name, port, *options), input=stdin, capture_output=True,
                          timeout=TIMEOUT)


class Terminal:
    """The client in a pseudo-terminal that is its controlling terminal, as for a user."""

    def __init__(self, name: str, port: int, *options: str, env: Optional[dict] = None) -> None:
        self.master, self.slave = pty.openpty()
        fcntl.ioctl(self.slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
        self.initial_mode = termios.tcgetattr(self.slave)
        self.proc = subprocess.Popen(
            join_command(name, port, *options), stdin=self.slave, stdout=self.slave,
            stderr=self.slave, start_new_session=True, preexec_fn=self._take_terminal,
            env={**ENV, "XDG_STATE_HOME": os.environ["XDG_STATE_HOME"], **(env or {})},
        )
        self.output = Output(self.master)

    @staticmethod
    def _take_terminal() -> None:
        """In the child, a session leader: the pty becomes its terminal, so ^C is SIGINT."""
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)
        default_sigint()

    def type(self, keys: bytes) -> None:
        os.write(self.master, keys)

    def lflag(self) -> int:
        return termios.tcgetattr(self.slave)[3]

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(TIMEOUT)
        os.close(self.master)
        os.close(self.slave)
