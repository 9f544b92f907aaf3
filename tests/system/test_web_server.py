"""The web port over real sockets: what a browser, a scraper or a hand-written
WebSocket client sees from a real ``selchat serve --web-port 0``.

The pure modules are tested byte by byte elsewhere (pure/test_web_http.py,
pure/test_web_websocket.py); here the same promises are checked end to end, with
exact bytes: responses, frames, close codes, and the lines a room shares
between terminals and browsers. The WebSocket client is written from RFC 6455
§5.2 (masked frames out, unmasked frames in) rather than with a library, so a
test can send the broken frames a library would refuse to, and compare the
raw bytes of what the server sent.

Stateless HTTP checks share one server (module scope) to keep the file
fast; anything that chats gets a server of its own.
"""
import base64
import hashlib
import os
import re
import selectors
import signal
import socket
import struct
import time
from typing import Dict, Iterator, List, Optional, Sequence, Tuple

import pytest
from prometheus_client.parser import text_string_to_metric_families

from support.clients import LineClient
from selchat.web.page import PAGE  # page.html, the default limits in its config tag
from support.constants import TIMEOUT
from support.servers import ServerProcess
from support.waiting import wait_for

HELLO = "*** Hello! Please enter your name."
GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # RFC 6455 §1.3
TEXT, BINARY, CLOSE, PING, PONG = 0x1, 0x2, 0x8, 0x9, 0xA


# -- clients ------------------------------------------------------------------------


def open_socket(port: int, rcvbuf: Optional[int] = None) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if rcvbuf is not None:  # before connect, or the window is already advertised
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    sock.settimeout(TIMEOUT)
    sock.connect(("127.0.0.1", port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


class Peer:
    """A blocking socket with a byte buffer; every read has a deadline."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buffer = b""
        self.closed = False

    def _fill(self, deadline: float) -> None:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError(f"nothing more within the deadline (have {self.buffer[-300:]!r})")
        self.sock.settimeout(remaining)
        try:
            data = self.sock.recv(1 << 20)
        except socket.timeout:
            return
        except ConnectionResetError:
            data = b""
        if not data:
            self.closed = True
            raise EOFError(self.buffer)
        self.buffer += data

    def take(self, size: int, deadline: float) -> bytes:
        while len(self.buffer) < size:
            self._fill(deadline)
        data, self.buffer = self.buffer[:size], self.buffer[size:]
        return data

    def take_until(self, marker: bytes, deadline: float) -> bytes:
        """Everything up to and including `marker`."""
        while marker not in self.buffer:
            self._fill(deadline)
        end = self.buffer.index(marker) + len(marker)
        data, self.buffer = self.buffer[:end], self.buffer[end:]
        return data

    def expect_eof(self, timeout: float = TIMEOUT) -> bytes:
        """Wait for end of stream (or a reset); returns what arrived before it."""
        deadline = time.monotonic() + timeout
        try:
            while True:
                self._fill(deadline)
        except EOFError:
            pass
        rest, self.buffer = self.buffer, b""
        return rest

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def close(self) -> None:
        self.sock.close()


def request(path: str = "/", method: str = "GET", *headers: str, host: str = "") -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host or 'localhost'}", *headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


class Http(Peer):
    """A keep-alive HTTP/1.1 client for the responses this server sends
    (always with Content-Length)."""

    def __init__(self, port: int) -> None:
        super().__init__(open_socket(port))
        self.port = port

    def ask(self, path: str = "/", method: str = "GET", *headers: str) -> Tuple[bytes, Dict, bytes]:
        self.send(request(path, method, *headers, host=f"127.0.0.1:{self.port}"))
        return self.response(head_only=method == "HEAD")

    def response(self, head_only: bool = False) -> Tuple[bytes, Dict, bytes]:
        """(status line, {lower-case name: value}, body) of the next response."""
        deadline = time.monotonic() + TIMEOUT
        status, headers = parse_head(self.take_until(b"\r\n\r\n", deadline))
        length = 0 if head_only else int(headers[b"content-length"])
        return status, headers, self.take(length, deadline)


def parse_head(head: bytes) -> Tuple[bytes, Dict[bytes, bytes]]:
    status, *lines = head[:-4].split(b"\r\n")
    fields = {}
    for line in lines:
        name, _, value = line.partition(b":")
        assert name.lower() not in fields, f"repeated header {name!r}"
        fields[name.lower()] = value.strip()
    return status, fields


def client_frame(opcode: int, payload: bytes, masked: bool = True, fin: bool = True) -> bytes:
    """A client frame (RFC 6455 §5.2): masked unless a test wants it broken."""
    first = (0x80 if fin else 0) | opcode
    bit = 0x80 if masked else 0
    size = len(payload)
    if size < 126:
        head = bytes((first, bit | size))
    elif size < 1 << 16:
        head = struct.pack("!BBH", first, bit | 126, size)
    else:
        head = struct.pack("!BBQ", first, bit | 127, size)
    if not masked:
        return head + payload
    key = os.urandom(4)
    return head + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))


def server_frame(opcode: int, payload: bytes) -> bytes:
    """What the server must send: final, unmasked, shortest length."""
    size = len(payload)
    if size < 126:
        return bytes((0x80 | opcode, size)) + payload
    if size < 1 << 16:
        return struct.pack("!BBH", 0x80 | opcode, 126, size) + payload
    return struct.pack("!BBQ", 0x80 | opcode, 127, size) + payload


def close_payload(code: int, reason: bytes = b"") -> bytes:
    return struct.pack("!H", code) + reason


def accept_for(key: bytes) -> bytes:
    return base64.b64encode(hashlib.sha1(key + GUID).digest())


class Ws(Peer):
    """A WebSocket chat client: the handshake, then lines in text messages.

    `head` is the raw handshake response; `status` its code. With `name`, the
    client also says hello and takes its welcome, as `LineClient` does.
    """

    def __init__(self, port: int, name: Optional[str] = None, origin: Optional[str] = None,
                 extra: Sequence[str] = (), rcvbuf: Optional[int] = None) -> None:
        super().__init__(open_socket(port, rcvbuf))
        self.key = base64.b64encode(os.urandom(16))
        headers = ["Upgrade: websocket", "Connection: Upgrade",
                   f"Sec-WebSocket-Key: {self.key.decode()}", "Sec-WebSocket-Version: 13",
                   *([f"Origin: {origin}"] if origin else []), *extra]
        self.send(request("/ws", "GET", *headers, host=f"127.0.0.1:{port}"))
        self.head = self.take_until(b"\r\n\r\n", time.monotonic() + TIMEOUT)
        self.status = int(self.head.split(b" ", 2)[1])
        self.pending: List[str] = []  # lines of a message not yet taken
        self.raw: List[bytes] = []  # every data frame, as the bytes that came
        if name is not None:
            assert self.status == 101, self.head
            self.expect(HELLO)
            self.say(name)
            assert self.line().startswith(f"*** Welcome, {name}!")

    def say(self, *lines: str) -> None:
        """Each line in a text message of its own."""
        self.send(b"".join(client_frame(TEXT, line.encode()) for line in lines))

    def frame(self, timeout: float = TIMEOUT) -> Tuple[int, bytes]:
        """The next frame's opcode and payload; checks the server's framing."""
        deadline = time.monotonic() + timeout
        first, second = self.take(2, deadline)
        size, extra = second & 0x7F, b""
        if size == 126:
            extra = self.take(2, deadline)
            size = struct.unpack("!H", extra)[0]
        elif size == 127:
            extra = self.take(8, deadline)
            size = struct.unpack("!Q", extra)[0]
        payload = self.take(size, deadline)
        raw = bytes((first, second)) + extra + payload
        # Final, no reserved bits, unmasked, the shortest length encoding.
        assert raw == server_frame(first & 0x0F, payload), raw[:16]
        if first & 0x0F != CLOSE:
            self.raw.append(raw)
        return first & 0x0F, payload

    def line(self, timeout: float = TIMEOUT) -> str:
        while not self.pending:
            opcode, payload = self.frame(timeout)
            assert opcode == TEXT, (opcode, payload)
            assert payload.endswith(b"\n"), payload  # whole lines only
            self.pending = payload.decode().split("\n")[:-1]
        return self.pending.pop(0)

    def expect(self, expected: str) -> None:
        assert self.line() == expected

    def expect_close(self, code: int, reason: bytes = b"") -> None:
        """A close frame with `code` comes next, then the end of the stream."""
        assert not self.pending, self.pending
        assert self.frame() == (CLOSE, close_payload(code, reason))
        assert self.expect_eof() == b""


class Nc(LineClient):
    """``nc`` on a terminal with CRLF line ends (``nc -C``)."""

    def send(self, *lines: str) -> None:
        self.sock.sendall("".join(line + "\r\n" for line in lines).encode())


@pytest.fixture(scope="module")
def shared() -> Iterator[ServerProcess]:
    """One server for the stateless HTTP checks (each opens its own connections)."""
    server = ServerProcess("--web-port", "0")
    yield server
    assert server.stop() == 0


@pytest.fixture
def closing() -> Iterator[list]:
    """Append sockets and clients: they are closed at teardown."""
    things: list = []
    yield things
    for thing in things:
        thing.close()


def web(server: ServerProcess) -> int:
    assert server.web_port is not None
    return server.web_port


def read_log(server: ServerProcess, pattern: str) -> str:
    """Wait for the server's log to match `pattern` (it is written as things happen)."""
    return wait_for(lambda: re.search(pattern, server.log()), timeout=TIMEOUT).group(0)


# -- HTTP ---------------------------------------------------------------------------


def test_page_is_the_html_with_its_security_headers(shared, closing):
    http = Http(web(shared))
    closing.append(http)
    status, headers, body = http.ask("/")
    assert status == b"HTTP/1.1 200 OK"
    assert headers[b"content-type"] == b"text/html; charset=utf-8"
    assert body == PAGE
    csp = headers[b"content-security-policy"].decode()
    assert csp.startswith("default-src 'none'; script-src 'sha256-")
    assert "connect-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert headers[b"x-content-type-options"] == b"nosniff"
    assert headers[b"referrer-policy"] == b"no-referrer"


def test_healthz_and_keep_alive_on_one_connection(shared, closing):
    http = Http(web(shared))
    closing.append(http)
    expected = (b"HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\n"
                b"Cache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n"
                b"Content-Length: 3\r\n\r\nok\n")
    for _ in range(2):  # the same socket answers twice
        http.send(request("/healthz"))
        assert http.take(len(expected), time.monotonic() + TIMEOUT) == expected
    status, headers, body = http.ask("/healthz", "HEAD")
    assert (status, headers[b"content-length"], body) == (b"HTTP/1.1 200 OK", b"3", b"")
    http.send(request("/healthz") + request("/nope"))  # pipelined: in order
    assert http.response()[2] == b"ok\n"
    assert http.response()[0] == b"HTTP/1.1 404 Not Found"


def test_unknown_path_is_404_and_the_connection_goes_on(shared, closing):
    http = Http(web(shared))
    closing.append(http)
    http.send(request("/favicon.ico"))
    expected = (b"HTTP/1.1 404 Not Found\r\nContent-Type: text/plain; charset=utf-8\r\n"
                b"Cache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n"
                b"Content-Length: 10\r\n\r\nnot found\n")
    assert http.take(len(expected), time.monotonic() + TIMEOUT) == expected
    assert http.ask("/healthz")[2] == b"ok\n"


def test_post_is_405_with_allow(shared, closing):
    http = Http(web(shared))
    closing.append(http)
    http.send(request("/", "POST", "Content-Length: 0"))
    expected = (b"HTTP/1.1 405 Method Not Allowed\r\nContent-Type: text/plain; charset=utf-8\r\n"
                b"Cache-Control: no-store\r\nAllow: GET, HEAD\r\n"
                b"X-Content-Type-Options: nosniff\r\nContent-Length: 0\r\n\r\n")
    assert http.take(len(expected), time.monotonic() + TIMEOUT) == expected
    status, headers, _ = http.ask("/ws", "POST", "Content-Length: 0")
    assert (status, headers[b"allow"]) == (b"HTTP/1.1 405 Method Not Allowed", b"GET")


def test_post_with_a_body_is_answered_then_closed(shared, closing):
    http = Http(web(shared))
    closing.append(http)
    http.send(request("/", "POST", "Content-Length: 5") + b"hello")
    status, headers, _ = http.response()
    assert (status, headers[b"connection"]) == (b"HTTP/1.1 405 Method Not Allowed", b"close")
    assert http.expect_eof() == b""


def test_garbage_is_400_then_close(shared, closing):
    http = Http(web(shared))
    closing.append(http)
    http.send(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03 not http at all\r\n\r\n")
    assert http.expect_eof() == (
        b"HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\n"
        b"Cache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n"
        b"Content-Length: 12\r\nConnection: close\r\n\r\nBad Request\n")


@pytest.mark.parametrize("in_pieces", [False, True], ids=["whole", "in-pieces"])
def test_head_over_8k_is_431_then_close(shared, closing, in_pieces):
    http = Http(web(shared))
    closing.append(http)
    data = request("/", "GET", "X-Padding: " + "a" * 8200)
    if in_pieces:  # h11 sees an incomplete head grow past its limit
        http.send(data[:4096])
        http.send(data[4096:])
    else:
        http.send(data)
    assert http.expect_eof() == (
        b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
        b"Content-Type: text/plain; charset=utf-8\r\nCache-Control: no-store\r\n"
        b"X-Content-Type-Options: nosniff\r\nContent-Length: 32\r\nConnection: close\r\n"
        b"\r\nRequest Header Fields Too Large\n")


def test_silent_connections_are_closed_after_the_name_timeout(chat_server, closing):
    server = chat_server("--web-port", "0", "--name-timeout", "0.5")
    started = time.monotonic()
    silent = Http(web(server))
    kept = Http(web(server))  # keeps asking: each answer starts its deadline again
    ws = Ws(web(server))  # upgraded, but never names itself
    closing.extend([silent, kept, ws])
    with selectors.DefaultSelector() as sel:
        sel.register(silent.sock, selectors.EVENT_READ)
        while not sel.select(0.05):
            assert kept.ask("/healthz")[2] == b"ok\n"
            asked = time.monotonic()
            assert asked - started < TIMEOUT
    assert silent.expect_eof() == b""
    assert 0.45 < time.monotonic() - started < 3
    assert kept.expect_eof() == b""  # now it is silent too
    assert time.monotonic() - asked >= 0.45
    assert ws.line() == HELLO
    assert ws.line() == "!!! name timeout: no name received in 0.5 s"
    ws.expect_close(1000)
    assert len(re.findall(r"connection \d+ closed: no request in time", server.log())) == 2


def alice_and_ws_bob(chat_server, closing, *args: str):
    """A server with a web port (and `args`), alice over TCP and bob over WebSocket,
    bob's join seen."""
    server = chat_server("--web-port", "0", *args)
    alice = LineClient(server.address, "alice")
    bob = Ws(web(server), "bob")
    closing.extend([alice, bob])
    alice.expect("*** bob has joined the chat room.")
    return server, alice, bob


def test_metrics_parse_back_and_count_the_chat(chat_server, closing):
    server, alice, bob = alice_and_ws_bob(chat_server, closing, "--flood-rate", "0")
    alice.send("hi bob")
    bob.expect("<alice> hi bob")
    bob.say("hi alice")
    alice.expect("<bob> hi alice")
    http = Http(web(server))
    closing.append(http)
    status, headers, body = http.ask("/metrics")
    assert status == b"HTTP/1.1 200 OK"
    assert headers[b"content-type"] == b"text/plain; version=0.0.4; charset=utf-8"
    assert headers[b"cache-control"] == b"no-store"
    samples = {sample.name: sample.value
               for family in text_string_to_metric_families(body.decode())
               for sample in family.samples}
    assert samples["selchat_connections_tcp"] == 1
    assert samples["selchat_connections_ws"] == 1
    assert samples["selchat_connections_http"] == 1  # this scrape's own connection
    assert samples["selchat_members"] == 2
    assert samples["selchat_lines_received_total"] == 4  # two names, two lines
    # Hello and welcome each, bob's join to alice, and each line to the other.
    assert samples["selchat_deliveries_total"] >= 7
    assert samples["selchat_bytes_sent_total"] > 100
    # Bob's upgrade; a scrape is counted once answered, after its body was made.
    assert samples["selchat_http_requests_total"] == 1
    assert samples["selchat_slow_readers_dropped_total"] == 0
    assert samples["selchat_flood_throttled_total"] == 0
    assert samples["selchat_loop_passes_total"] > 0
    assert samples["selchat_uptime_seconds"] > 0

    def scrape_counting_the_first() -> Optional[Dict[str, float]]:
        body = http.ask("/metrics")[2].decode()
        got = {s.name: s.value for f in text_string_to_metric_families(body) for s in f.samples}
        return got if got["selchat_http_requests_total"] > 1 else None

    # Scrapes share one render a second: a later one shows the first scrape.
    later = wait_for(scrape_counting_the_first, interval=0.2)
    assert later["selchat_bytes_sent_total"] > samples["selchat_bytes_sent_total"]


# -- the WebSocket ------------------------------------------------------------------


def test_handshake_accepts_and_offers_no_extension(shared, closing):
    ws = Ws(web(shared), extra=["Sec-WebSocket-Extensions: permessage-deflate; "
                                "client_max_window_bits",
                                "Sec-WebSocket-Protocol: chat"])
    closing.append(ws)
    assert ws.head == (b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                       b"Connection: Upgrade\r\nSec-WebSocket-Accept: " + accept_for(ws.key)
                       + b"\r\n\r\n")
    # The hello is the first frame: one text message of one line.
    assert ws.frame() == (TEXT, b"*** Hello! Please enter your name.\n")


def test_handshake_of_rfc_6455_example_key(shared, closing):
    sock = open_socket(web(shared))
    peer = Peer(sock)
    closing.append(peer)
    peer.send(request("/ws", "GET", "Upgrade: websocket", "Connection: keep-alive, Upgrade",
                      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Version: 13"))
    head = peer.take_until(b"\r\n\r\n", time.monotonic() + TIMEOUT)
    assert b"\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n" in head


def test_lines_both_ways_with_a_terminal_in_the_room(chat_server, closing):
    server = chat_server("--web-port", "0", "--flood-rate", "0")
    alice = LineClient(server.address, "alice")
    bob = Ws(web(server))
    closing.extend([alice, bob])
    bob.expect(HELLO)
    bob.say("bob")
    bob.expect("*** Welcome, bob! Online (2): alice, bob (type /help for commands)")
    alice.expect("*** bob has joined the chat room.")
    bob.say("hello from the browser")
    alice.expect("<bob> hello from the browser")
    alice.send("hello from the terminal", "/me waves")
    bob.expect("<alice> hello from the terminal")
    bob.expect("* alice waves")
    # One message holding several lines is several lines (a final newline ends none).
    bob.send(client_frame(TEXT, "one\ntwo\r\nthree\n".encode()))
    assert alice.lines(3) == ["<bob> one", "<bob> two", "<bob> three"]
    bob.say("/msg alice psst", "/who", "ünïcödé ✓")
    alice.expect("*bob* psst")
    bob.expect("*** Online (2): alice, bob")
    alice.expect("<bob> ünïcödé ✓")
    # A message in fragments is one line.
    bob.send(client_frame(TEXT, b"frag", fin=False) + client_frame(0x0, b"mented"))
    alice.expect("<bob> fragmented")


def test_ping_gets_a_pong_with_its_payload(shared, closing):
    ws = Ws(web(shared))
    closing.append(ws)
    ws.expect(HELLO)
    ws.send(client_frame(PING, b"are you there?"))
    assert ws.frame() == (PONG, b"are you there?")


@pytest.mark.parametrize("data, code, reason", [
    (client_frame(TEXT, b"unmasked", masked=False), 1002, None),
    (client_frame(0x3, b"reserved opcode"), 1002, None),
    (client_frame(BINARY, b"\x00\x01"), 1003, b"text messages only"),
    (client_frame(TEXT, b"x" * 101), 1009, b"line over 100 bytes"),
    (client_frame(TEXT, b"\xff\xfe"), 1007, None),
], ids=["unmasked", "reserved-opcode", "binary", "too-long", "bad-utf8"])
def test_bad_input_is_closed_with_its_code(chat_server, closing, data, code, reason):
    server, alice, bob = alice_and_ws_bob(chat_server, closing, "--max-line", "100")
    bob.say("x" * 100)  # the longest line allowed goes through
    alice.expect("<bob> " + "x" * 100)
    bob.send(data)
    opcode, payload = bob.frame()
    assert (opcode, payload[:2]) == (CLOSE, struct.pack("!H", code))
    if reason is not None:
        assert payload[2:] == reason
    assert bob.expect_eof() == b""
    alice.expect("*** bob has left the chat room.")


def test_peer_close_is_answered_and_the_room_told(chat_server, closing):
    server, alice, bob = alice_and_ws_bob(chat_server, closing)
    bob.send(client_frame(CLOSE, close_payload(1000, b"bye")))
    bob.expect_close(1000)
    alice.expect("*** bob has left the chat room.")
    carol = Ws(web(server), "carol")
    closing.append(carol)
    carol.send(client_frame(CLOSE, close_payload(1001)))
    carol.expect_close(1001)
    alice.expect("*** carol has joined the chat room.")
    alice.expect("*** carol has left the chat room.")


def test_close_reply_comes_after_the_lines_owed_from_the_same_pass(chat_server, closing):
    server, alice, bob = alice_and_ws_bob(chat_server, closing)
    # One segment: a command and the close. The answer was owed before the close.
    bob.send(client_frame(TEXT, b"/who") + client_frame(CLOSE, close_payload(1000)))
    alice.expect("*** bob has left the chat room.")
    assert bob.frame() == (TEXT, b"*** Online (2): alice, bob\n")
    bob.expect_close(1000)


def test_quit_says_goodbye_then_closes_with_1000(chat_server, closing):
    server, alice, bob = alice_and_ws_bob(chat_server, closing)
    bob.say("/quit off to bed")
    bob.expect("*** Goodbye, bob.")
    bob.expect_close(1000)
    alice.expect("*** bob has left the chat room (off to bed).")


def test_shutdown_says_so_then_closes_with_1001(chat_server, closing):
    server = chat_server("--web-port", "0")
    alice = LineClient(server.address, "alice")
    bob = Ws(web(server), "bob")
    stranger = Ws(web(server))
    closing.extend([alice, bob, stranger])
    alice.expect("*** bob has joined the chat room.")
    stranger.expect(HELLO)
    server.proc.send_signal(signal.SIGTERM)
    for ws in (bob, stranger):
        ws.expect("*** Server is shutting down.")
        ws.expect_close(1001)
    assert alice.expect_closed() == b"*** Server is shutting down.\n"
    assert server.proc.wait(TIMEOUT) == 0
    assert "Traceback" not in server.log()


def test_broadcast_frames_are_byte_identical(chat_server, closing):
    server = chat_server("--web-port", "0", "--flood-rate", "0")
    alice = LineClient(server.address, "alice")
    bob, carol = Ws(web(server), "bob"), Ws(web(server), "carol")
    closing.extend([alice, bob, carol])
    bob.expect("*** carol has joined the chat room.")
    alice.lines(2)
    bob.raw.clear(), carol.raw.clear()
    lines = [f"line {i} " + "é" * i for i in range(0, 200, 7)]
    alice.send(*lines, "/me is done")
    for ws in (bob, carol):
        assert [ws.line() for _ in lines] == [f"<alice> {line}" for line in lines]
        ws.expect("* alice is done")
    assert bob.raw == carol.raw  # the same frames, byte for byte
    assert b"".join(bob.raw).count(b"\n") == len(lines) + 1


# -- origins ------------------------------------------------------------------------


def test_foreign_origin_is_403_own_and_none_accepted(shared, closing):
    port = web(shared)
    evil = Ws(port, origin="http://evil.example")
    closing.append(evil)
    assert evil.head == (b"HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain; charset=utf-8\r\n"
                         b"Cache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n"
                         b"Content-Length: 19\r\n\r\n")
    assert evil.take(19, time.monotonic() + TIMEOUT) == b"origin not allowed\n"
    for origin in (f"http://127.0.0.1:{port}", None):
        ws = Ws(port, origin=origin)
        closing.append(ws)
        assert ws.status == 101
        ws.expect(HELLO)


def test_listed_origin_accepted_others_still_refused(chat_server, closing):
    server = chat_server("--web-port", "0", "--web-origin", "http://other.example:8080",
                         "--web-origin", "https://chat.example.org/")
    port = web(server)
    for origin, status in [("http://other.example:8080", 101), ("https://chat.example.org", 101),
                           (f"http://127.0.0.1:{port}", 101), ("http://other.example", 403),
                           ("http://evil.example", 403)]:
        ws = Ws(port, origin=origin)
        closing.append(ws)
        assert ws.status == status, origin


# -- limits -------------------------------------------------------------------------


def test_a_websocket_that_never_reads_is_dropped_and_the_others_miss_nothing(
        chat_server, closing):
    server = chat_server("--web-port", "0", "--flood-rate", "0", "--max-output", "65536",
                         "--soft-output", "16384", "--soft-output-seconds", "0.5")
    slow = Ws(web(server), "slow", rcvbuf=4096)  # joins, then never reads again
    sender = LineClient(server.address, "sender")
    watcher = Ws(web(server), "watcher")
    closing.extend([slow, sender, watcher])
    sender.expect("*** watcher has joined the chat room.")
    sent: List[str] = []
    seen: List[str] = []
    left = "*** slow has left the chat room."
    for round_ in range(64):  # 4 MiB in 64 KiB rounds the watcher keeps up with
        lines = [f"{round_:03d}.{i:02d} " + "x" * 1017 for i in range(64)]
        sender.send(*lines)
        sent += lines
        while not seen or seen[-1] != "<sender> " + lines[-1]:
            seen.append(watcher.line())
        if left in seen and round_ >= 8:
            break
    sender.send("end")
    while seen[-1] != "<sender> end":
        seen.append(watcher.line())
    assert [line for line in seen if line.startswith("<")] == [
        f"<sender> {line}" for line in sent + ["end"]]
    assert [line for line in seen if not line.startswith("<")] == [left]
    sender.expect(left)
    slow.expect_eof()
    read_log(server, r"connection \d+ \(slow\) is not reading: ")
    read_log(server, r"connection \d+ \(slow\) closed: too slow")
    assert len(re.findall(r"\) is not reading: ", server.log())) == 1


def test_web_connections_count_toward_max_clients(chat_server, closing):
    server = chat_server("--web-port", "0", "--max-clients", "2")
    http = Http(web(server))
    closing.append(http)
    assert http.ask("/healthz")[2] == b"ok\n"  # accepted: one connection held
    ws = Ws(web(server), "alice")
    closing.append(ws)
    refused_chat = LineClient(server.address)
    closing.append(refused_chat)
    assert refused_chat.expect_closed() == b"!!! server full\n"
    refused_web = Peer(open_socket(web(server)))
    closing.append(refused_web)
    refused_web.send(request("/healthz"))
    assert refused_web.expect_eof() == b""  # no chat line for an HTTP client
    assert len(re.findall(r"refused 127\.0\.0\.1:\d+: server full", server.log())) == 2
    http.close()  # a place is free again

    def joined() -> bool:
        newcomer = LineClient(server.address)
        closing.append(newcomer)
        return newcomer.line() == HELLO

    wait_for(joined)


# -- a mixed room -------------------------------------------------------------------


def speaker(line: str) -> Optional[str]:
    """Who said a room line (chat or action), or None for a notice."""
    match = re.match(r"<([^>]+)> |\* (\S+) ", line)
    return (match.group(1) or match.group(2)) if match else None


def test_mixed_room_everyone_sees_the_same_lines_in_the_same_order(chat_server, closing):
    server = chat_server("--web-port", "0", "--flood-rate", "0")
    port = web(server)
    members: Dict[str, object] = {}
    order = ["alice", "bob", "carol", "dave", "erin"]
    for name in order:
        if name in ("alice", "bob"):
            client: object = LineClient(server.address, name)
        elif name == "carol":
            client = Nc(server.address)
            client.expect(HELLO)
            client.send("carol")
            assert client.line().startswith("*** Welcome, carol! Online (3): ")
        else:
            client = Ws(port, name)
        closing.append(client)
        members[name] = client
    for i, name in enumerate(order):  # everyone hears the later joins, in order
        assert [members[name].line() for _ in order[i + 1:]] == [
            f"*** {later} has joined the chat room." for later in order[i + 1:]]
    # Everyone talks at once: the server picks one order, and all must see it.
    script = {name: [f"{name} says {i}" for i in range(30)] for name in order}
    expected = {name: [f"<{name}> {line}" for line in lines] for name, lines in script.items()}
    for name in order:
        expected[name] += [f"* {name} nods", f"<{name}> end"]
    for name in ("alice", "bob", "carol", "dave"):
        client = members[name]
        talk = client.say if isinstance(client, Ws) else client.send
        talk(*script[name], "/me nods", "end")
    erin = members["erin"]  # the whole script in one message of several lines
    erin.send(client_frame(TEXT, "\n".join([*script["erin"], "/me nods", "end"]).encode()))
    seen: Dict[str, List[str]] = {}
    for name, client in members.items():
        lines, ends = [], {f"<{other}> end" for other in order if other != name}
        while ends:
            line = client.line()
            lines.append(line)
            ends.discard(line)
        seen[name] = lines
    for name, lines in seen.items():
        for other in order:
            said = [line for line in lines if speaker(line) == other]
            assert said == ([] if other == name else expected[other]), (name, other)
        assert all(speaker(line) for line in lines), lines  # nothing else in between
    for a in order:
        for b in order:
            assert [line for line in seen[a] if speaker(line) != b] == \
                   [line for line in seen[b] if speaker(line) != a], (a, b)
    # Leaving: a terminal quits, then a browser closes; the rest hear both.
    members["bob"].send("/quit")
    assert members["bob"].expect_closed() == b"*** Goodbye, bob.\n"
    for name in ("alice", "carol", "dave", "erin"):
        members[name].expect("*** bob has left the chat room.")
    members["dave"].send(client_frame(CLOSE, close_payload(1000)))
    members["dave"].expect_close(1000)
    for name in ("alice", "carol", "erin"):
        members[name].expect("*** dave has left the chat room.")
