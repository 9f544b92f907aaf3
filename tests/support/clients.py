"""A raw TCP chat client that reads whole lines with deadlines, and what tests about
one misbehaving client do with it.

Those tests (test_line_length, test_bad_input, test_slow_readers, test_flood_control,
test_name_and_capacity, test_descriptors, test_abrupt_endings, ...) each play one kind of
bad client next to well-behaved ones, and assert the exact lines the well-behaved ones
see, plus what the server process shows (psutil: memory, descriptors, CPU; its log).
"""
import signal
import socket
import struct
import time
from typing import List, Optional

from support.constants import HELLO, TIMEOUT
from support.servers import ServerProcess
from support.waiting import wait_for


class LineClient:
    """A raw TCP chat client that reads whole lines with a deadline."""

    def __init__(self, address, name: Optional[str] = None, rcvbuf: Optional[int] = None) -> None:
        if rcvbuf is None:
            self.sock = socket.create_connection(address, timeout=TIMEOUT)
        else:  # a small receive buffer must be set before connecting to shrink the window
            self.sock = socket.socket(socket.AF_INET6 if ":" in address[0] else socket.AF_INET)
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
            self.sock.settimeout(TIMEOUT)
            self.sock.connect(address)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buffer = b""
        self.closed = False
        if name is not None:
            self.expect("*** Hello! Please enter your name.")
            self.send(name)
            self.expect_prefix(f"*** Welcome, {name}!")

    def send(self, *lines: str) -> None:
        self.sock.sendall("".join(line + "\n" for line in lines).encode())

    def send_bytes(self, data: bytes) -> None:
        self.sock.sendall(data)

    def _fill(self, deadline: float) -> bool:
        """Read more; False at end of stream."""
        self.sock.settimeout(max(0.001, deadline - time.monotonic()))
        try:
            data = self.sock.recv(65536)
        except ConnectionResetError:
            data = b""
        if not data:
            self.closed = True
        self.buffer += data
        return bool(data)

    def line(self, timeout: float = TIMEOUT) -> str:
        """The next line, without its newline; fails after `timeout`."""
        deadline = time.monotonic() + timeout
        while b"\n" not in self.buffer:
            if time.monotonic() >= deadline:
                raise AssertionError(f"no line within {timeout} s (have {self.buffer!r})")
            try:
                if not self._fill(deadline):
                    raise AssertionError(f"connection closed (have {self.buffer!r})")
            except socket.timeout:
                continue
        line, self.buffer = self.buffer.split(b"\n", 1)
        return line.decode()

    def lines(self, count: int, timeout: float = TIMEOUT) -> List[str]:
        return [self.line(timeout) for _ in range(count)]

    def expect(self, expected: str) -> None:
        got = self.line()
        assert got == expected

    def expect_prefix(self, prefix: str) -> str:
        got = self.line()
        assert got.startswith(prefix), got
        return got

    def expect_closed(self, timeout: float = TIMEOUT) -> bytes:
        """Wait for end of stream; returns whatever arrived before it."""
        deadline = time.monotonic() + timeout
        while not self.closed:
            if time.monotonic() >= deadline:
                raise AssertionError(f"still open after {timeout} s")
            try:
                self._fill(deadline)
            except socket.timeout:
                continue
        rest, self.buffer = self.buffer, b""
        return rest

    def assert_quiet(self, seconds: float = 0.2) -> None:
        """Nothing arrives for a moment (used only after a marker proved delivery)."""
        self.sock.settimeout(seconds)
        try:
            data = self.sock.recv(65536)
        except socket.timeout:
            data = None
        assert not self.buffer and data is None, (self.buffer, data)

    def close(self) -> None:
        self.sock.close()


def read_until(client: LineClient, last: str, timeout: float = TIMEOUT) -> List[str]:
    """Every line up to and including `last` (strict UTF-8), read in big gulps."""
    needle = ("\n" + last + "\n").encode()
    data = bytearray(b"\n" + client.buffer)
    client.buffer = b""
    deadline = time.monotonic() + timeout
    start = 0
    while (found := data.find(needle, start)) < 0:
        start = max(0, len(data) - len(needle))
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError(f"no {last!r} within {timeout} s (tail {bytes(data[-200:])!r})")
        client.sock.settimeout(remaining)
        try:
            chunk = client.sock.recv(1 << 20)
        except socket.timeout:
            continue
        if not chunk:
            raise AssertionError(f"closed before {last!r} (tail {bytes(data[-200:])!r})")
        data += chunk
    end = found + len(needle)
    client.buffer = bytes(data[end:])
    return data[1:end - 1].decode().split("\n")


def reset(client: LineClient) -> None:
    """Close with SO_LINGER 0: the kernel sends RST instead of FIN."""
    client.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    client.close()


def join_when_there_is_room(server: ServerProcess, name: str) -> LineClient:
    """Connect until the server answers with its hello rather than "server full"; join."""
    def attempt() -> Optional[LineClient]:
        client = LineClient(server.address)
        first = client.line()
        if first == HELLO:
            return client
        assert first == "!!! server full", first
        client.close()
        return None

    client = wait_for(attempt, interval=0.05)
    client.send(name)
    client.expect_prefix(f"*** Welcome, {name}!")
    return client


def lease_lost(node: ServerProcess, watcher, name: str) -> None:
    """Stop `node` (SIGSTOP, as a partition would cut it off) until `watcher`,
    a client on another node, hears its member `name` left (its lease ran
    out), then let it go on: it finds itself taken for gone."""
    node.proc.send_signal(signal.SIGSTOP)
    try:
        read_until(watcher, f"*** {name} has left the chat room (server lost).", timeout=8)
    finally:
        node.proc.send_signal(signal.SIGCONT)
