"""The server over real sockets: what two or a hundred `nc` users would see."""
import selectors
import signal
import socket
import struct
import time

import pytest

from selchat.server import SHUTDOWN_GRACE
from support.clients import LineClient, read_until
from support.constants import TIMEOUT
from support.servers import ServerProcess


def test_hello_then_welcome_then_join_notice(connect):
    alice = connect("alice")
    bob = connect()
    bob.expect("*** Hello! Please enter your name.")
    bob.send("bob")
    bob.expect("*** Welcome, bob! Online (2): alice, bob (type /help for commands)")
    alice.expect("*** bob has joined the chat room.")


def test_chat_reaches_everyone_but_the_sender(connect):
    alice, bob = connect("alice"), connect("bob")
    carol = connect("carol")
    alice.lines(2)  # bob's and carol's join notices
    bob.line()
    alice.send("hello, room")
    assert bob.line() == carol.line() == "<alice> hello, room"
    bob.send("marker")  # alice hears bob's marker and nothing before it: no echo
    assert alice.line() == "<bob> marker"


def test_nothing_is_announced_before_a_name_is_accepted(connect):
    alice = connect("alice")
    bob = connect()
    bob.line()
    bob.send("ALICE", "bad name!", "")
    invalid = ("!!! invalid name: names are 1-32 letters or digits, '_', '-' or '.', "
               "with at least one letter or digit")
    assert bob.lines(3) == ["!!! name taken: ALICE", invalid, invalid]
    bob.send("ａｌｉｃｅ", "bob")
    assert bob.line() == "!!! name taken: ａｌｉｃｅ"
    assert bob.line().startswith("*** Welcome, bob!")
    assert alice.line() == "*** bob has joined the chat room."


def test_crlf_and_blank_lines(connect):
    alice, bob = connect("alice"), connect("bob")
    alice.line()
    bob.send_bytes(b"one\r\n\r\n   \ntwo\n")
    assert alice.lines(2) == ["<bob> one", "<bob> two"]


def test_a_line_arriving_one_byte_at_a_time(connect):
    alice, bob = connect("alice"), connect("bob")
    alice.line()
    for byte in "slow typing ✓\n".encode():
        bob.send_bytes(bytes([byte]))
    assert alice.line() == "<bob> slow typing ✓"


def test_ten_lines_in_one_segment(connect):
    alice, bob = connect("alice"), connect("bob")
    alice.line()
    bob.send_bytes(b"".join(b"line %d\n" % i for i in range(10)))
    assert alice.lines(10) == [f"<bob> line {i}" for i in range(10)]


def test_quit_leave_notice_and_close(connect):
    alice, bob = connect("alice"), connect("bob")
    alice.line()
    bob.send("/quit")
    assert bob.expect_closed() == b"*** Goodbye, bob.\n"
    alice.expect("*** bob has left the chat room.")


@pytest.mark.parametrize("how", ["close", "reset"])
def test_abrupt_disconnect_is_a_leave(connect, how):
    alice, bob, carol = connect("alice"), connect("bob"), connect("carol")
    alice.lines(2)
    if how == "reset":  # SO_LINGER 0: the kernel sends RST instead of FIN
        bob.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    bob.close()
    alice.expect("*** bob has left the chat room.")
    carol.send("still here")
    alice.expect("<carol> still here")


def test_eof_after_a_final_unterminated_line(connect):
    alice, bob = connect("alice"), connect("bob")
    alice.line()
    bob.send_bytes(b"last words")
    bob.sock.shutdown(socket.SHUT_WR)
    assert alice.lines(2) == ["<bob> last words", "*** bob has left the chat room."]
    assert bob.expect_closed() == b""


def test_hundred_clients_nothing_lost_each_sender_in_order(server):
    """100 clients, 10 of them talking at once: everyone gets every line, in order."""
    clients = [LineClient(server.address, f"user{i}") for i in range(100)]
    try:
        senders, per_sender = clients[:10], 20
        for i, client in enumerate(senders):
            client.send(*[f"m {i} {n}" for n in range(per_sender)])
        expected_join_notices = lambda i: 99 - i  # noqa: E731  joins after client i's own
        for i, client in enumerate(clients):
            got = client.lines(expected_join_notices(i) + (9 if i < 10 else 10) * per_sender)
            chat = [line for line in got if not line.startswith("***")]
            seen = {}
            for line in chat:
                name, _, sender, n = line.split(" ")
                assert name == f"<user{sender}>"
                seen.setdefault(int(sender), []).append(int(n))
            talkers = set(range(10)) - {i}
            assert set(seen) == talkers
            assert all(seen[s] == list(range(per_sender)) for s in talkers)
    finally:
        for client in clients:
            client.close()


def test_output_to_one_client_is_coalesced(connect):
    """Many lines decided in one pass arrive together, not one segment per line."""
    alice, bob = connect("alice"), connect("bob")
    alice.line()
    bob.send_bytes(b"".join(b"burst %d\n" % i for i in range(200)))
    deadline = time.monotonic() + TIMEOUT
    reads = 0
    received = b""
    while received.count(b"\n") < 200 and time.monotonic() < deadline:
        alice.sock.settimeout(TIMEOUT)
        received += alice.sock.recv(1 << 20)
        reads += 1
    assert received.count(b"\n") == 200
    assert reads < 50  # 200 lines; one send per pass makes far fewer segments


def test_sigterm_notifies_everyone_and_exits_zero(chat_server):
    server = chat_server()
    alice = LineClient(server.address, "alice")
    stranger = LineClient(server.address)
    stranger.line()
    server.proc.send_signal(signal.SIGTERM)
    assert alice.expect_closed() == b"*** Server is shutting down.\n"
    assert stranger.expect_closed() == b"*** Server is shutting down.\n"
    assert server.proc.wait(TIMEOUT) == 0
    assert "Traceback" not in server.log()
    alice.close(), stranger.close()


def test_sigint_exits_zero(chat_server):
    server = chat_server()
    assert server.stop(signal.SIGINT) == 0


def test_shutdown_is_bounded_by_a_client_that_never_reads(chat_server):
    """SIGTERM with megabytes queued for a client that stopped reading: the server
    waits SHUTDOWN_GRACE for it (no less: the output is really queued), then exits 0.
    (loop/test_loop.py checks the same deadline to the instant on a fake clock.)"""
    server = chat_server("--flood-rate", "0", "--soft-output-seconds", "60")
    sleeper = LineClient(server.address, "sleeper", rcvbuf=4096)  # small window: set before connect
    talker = LineClient(server.address, "talker")
    watcher = LineClient(server.address, "watcher")
    # 8 MB: more than the kernel buffers take for the sleeper (~3 MB on loopback), less
    # than the hard output limit, so selchat holds the rest when the signal comes.
    talker.send(*[f"{i:04d} " + "x" * 994 for i in range(8000)], "done")
    read_until(watcher, "<talker> done")
    start = time.monotonic()
    assert server.stop() == 0
    took = time.monotonic() - start
    assert SHUTDOWN_GRACE - 0.1 <= took < SHUTDOWN_GRACE + 3, took
    assert talker.expect_closed().endswith(b"*** Server is shutting down.\n")
    sleeper.close(), talker.close(), watcher.close()


def test_ipv6_loopback(chat_server):
    if not socket.has_ipv6:
        pytest.skip("no IPv6")
    try:
        probe = socket.socket(socket.AF_INET6)
        probe.bind(("::1", 0))
        probe.close()
    except OSError:
        pytest.skip("no ::1 here")
    server = ServerProcess(host="::1")
    try:
        sock = socket.create_connection(("::1", server.port), timeout=TIMEOUT)
        sel = selectors.DefaultSelector()
        sel.register(sock, selectors.EVENT_READ)
        assert sel.select(TIMEOUT)
        assert sock.recv(100) == b"*** Hello! Please enter your name.\n"
        sock.close()
    finally:
        assert server.stop() == 0


def test_a_newcomer_hears_nothing_decided_before_its_welcome(server):
    """Joins decided in one pass: each newcomer's first lines are hello, then welcome."""
    socks = [socket.create_connection(server.address, timeout=TIMEOUT) for _ in range(40)]
    for i, sock in enumerate(socks):
        sock.sendall(b"n%d\nhello from %d\n" % (i, i))
    clients = []
    for sock in socks:
        client = LineClient.__new__(LineClient)
        client.sock, client.buffer, client.closed = sock, b"", False
        clients.append(client)
    for i, client in enumerate(clients):
        assert client.line() == "*** Hello! Please enter your name."
        assert client.line().startswith(f"*** Welcome, n{i}! Online (")
    for client in clients:
        client.close()
