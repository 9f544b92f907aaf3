"""`selchat join` losing its connection: reconnection, resume, gaps, giving up.

The server's side is scripted (`support.join_client.FakeServer`, by conftest's
`fake_server`): it sends what a
server with history and resume sends, built with `selchat.wire`. The last test
runs against a real `selchat serve` through a proxy that can cut the line.
"""
import signal
import socket
import threading
import time

import pytest

from selchat import wire
from selchat.session import BACKOFF_FIRST
from selchat.tags import tag_line
from support.clients import LineClient
from support.constants import TIMEOUT

TOKEN = "e1.00112233445566778899aabbccddeeff"
T = 1796189493929  # 2026-12-02T05:31:33.929Z
LAG = 0.05  # seconds the test may take to see a connection the kernel has accepted


def tagged(line, seq=None, time_ms=T, **extra):
    return tag_line(wire.encode(line), time_ms, extra, seq)


def joined_and_cut(fake_server, piped, *options):
    """A piped client joined with a token, that saw line 5, then lost its connection."""
    proc = piped("bot", fake_server.port, *options)
    fake_server.accept("bot", token=TOKEN)
    fake_server.send(tagged(wire.chat("bob", "before"), seq=5))
    proc.output.expect(b"<bob> before\n")
    fake_server.hang_up()
    proc.output.expect(b"*** connection lost; reconnecting...\n")
    return proc


def test_a_lost_connection_is_resumed_with_no_hole(fake_server, piped):
    proc = joined_and_cut(fake_server, piped)
    assert fake_server.accept_resume() == f"/resume {TOKEN} 5\n".encode()
    fake_server.send(tagged(wire.welcome_back("bot"))
                     + tagged(wire.chat("bob", "while you were away"), seq=6)
                     + tagged(wire.private("bob", "kept for you")))
    proc.output.expect(b"*** reconnected\n<bob> while you were away\n*bob* kept for you\n")
    proc.stdin.write(b"back\n")
    proc.stdin.close()
    assert fake_server.reader.readline() == b"back\n"
    assert fake_server.reader.readline() == b"/quit\n"
    fake_server.send(tagged(wire.goodbye("bot")))
    fake_server.hang_up()
    assert proc.wait(TIMEOUT) == 0
    assert proc.stderr.read() == b""


def test_a_history_gap_is_shown_and_the_client_joins_again(fake_server, piped):
    proc = joined_and_cut(fake_server, piped)
    fake_server.accept_resume()
    fake_server.send(wire.encode(wire.history_gap(None, "the server restarted")))
    assert fake_server.reader.readline() == b"/tags\n"
    assert fake_server.reader.readline() == b"bot\n"
    fake_server.send(tagged(wire.welcome("bot", 1, "bot"), resume="e2.aa"))
    proc.output.expect(b"!!! history gap: an unknown number of lines missed "
                       b"(the server restarted)\n*** Welcome, bot!")


def test_reconnecting_backs_off_through_refusals_until_the_server_is_back(fake_server, piped):
    """Each attempt refused (reset before any hello), the client tries again after a
    back-off that doubles: 0.2 s, 0.4 s, 0.8 s..., each jittered down to half."""
    proc = joined_and_cut(fake_server, piped)
    attempts = [fake_server.refuse() for _ in range(3)]
    assert fake_server.accept_resume() == f"/resume {TOKEN} 5\n".encode()
    attempts.append(time.monotonic())
    waits = [later - earlier for earlier, later in zip(attempts, attempts[1:])]
    # The waits before attempts 2, 3 and 4 are at least half of 0.4, 0.8 and 1.6 s, less
    # what this process may lag in seeing an attempt (it blocks in accept meanwhile).
    least = [BACKOFF_FIRST * 2 ** k - LAG for k in range(len(waits))]
    assert all(wait >= at_least for wait, at_least in zip(waits, least)), (waits, least)
    fake_server.send(tagged(wire.welcome_back("bot")))
    proc.output.expect(b"*** reconnected\n")
    # The refusals were only a longer wait: one notice of the loss, the session went on.
    assert proc.output.data.count(b"reconnecting") == 1
    assert proc.poll() is None


def test_ctrl_c_while_reconnecting_exits_0_without_another_attempt(fake_server, piped):
    proc = joined_and_cut(fake_server, piped)
    fake_server.refuse()  # the client is now in its next back-off wait (0.2 s at least)
    proc.send_signal(signal.SIGINT)
    assert proc.wait(TIMEOUT) == 0
    assert proc.stderr.read() == b""
    fake_server.listener.settimeout(0)
    with pytest.raises(BlockingIOError):  # it left at once: no attempt is waiting
        fake_server.listener.accept()


def test_the_window_over_without_a_connection_is_status_1(fake_server, piped):
    proc = joined_and_cut(fake_server, piped, "--resume-window", "0.5")
    fake_server.listener.close()
    assert proc.wait(TIMEOUT) == 1
    assert proc.stderr.read() == (
        b"selchat: connection to server lost; could not reconnect within 0.5 s\n")


def test_timestamps_are_the_server_time_when_it_says(fake_server, piped):
    proc = piped("bot", fake_server.port, "--timestamps")
    fake_server.accept("bot", token=TOKEN)
    fake_server.send(tagged(wire.chat("bob", "then"), seq=1, time_ms=0))
    stamp = time.strftime("%H:%M", time.localtime(0)).encode()
    proc.output.expect(b"\n" + stamp + b" <bob> then\n")


class CuttableProxy:
    """TCP relay from a local port to the server; `cut()` drops every connection
    through it at once, as a network change does, without a /quit."""

    def __init__(self, target) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.target = target
        self.pairs = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                downstream, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.target)
            self.pairs.append((downstream, upstream))
            for a, b in ((downstream, upstream), (upstream, downstream)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(source, sink) -> None:
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                sink.sendall(data)
            sink.shutdown(socket.SHUT_WR)  # pass the end of stream on, as a router does
        except OSError:
            pass

    def cut(self) -> None:
        for pair in self.pairs:
            for sock in pair:
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                sock.close()
        self.pairs.clear()

    def close(self) -> None:
        self.cut()
        self.listener.close()


def test_resume_against_the_real_server(server, piped):
    proxy = CuttableProxy(server.address)
    try:
        proc = piped("bot", proxy.port)
        proc.output.expect(b"*** Welcome, bot!")
        bob = LineClient(server.address, "bob")
        proc.output.expect(b"*** bob has joined the chat room.\n")
        proxy.cut()
        proc.output.expect(b"*** connection lost; reconnecting...\n", timeout=5)
        bob.send("while you were away")
        proc.output.expect(b"*** reconnected\n", timeout=15)
        proc.output.expect(b"<bob> while you were away\n")
        bob.send("/msg bot welcome back")
        proc.output.expect(b"*bob* welcome back\n")
        proc.stdin.write(b"thanks\n")
        proc.stdin.flush()
        assert bob.line() == "<bot> thanks"  # no leave or join notice in between
        proc.stdin.close()
        assert proc.wait(TIMEOUT) == 0
        bob.close()
    finally:
        proxy.close()
