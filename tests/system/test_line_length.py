"""Lines over --max-line: an error for the sender, nothing held beyond the cap."""
import socket


from support.constants import MiB
from support.servers import process


def test_an_overlong_line_gets_an_error_and_the_connection_goes_on(chat_server, clients):
    server = chat_server("--flood-rate", "0", "--max-line", "100")
    alice, bob = clients(server, "alice"), clients(server, "bob")
    alice.line()
    too_long = "!!! line too long: over 100 bytes, discarded"
    bob.send("x" * 100, "y" * 101, "after")
    bob.expect(too_long)
    assert alice.lines(2) == ["<bob> " + "x" * 100, "<bob> after"]
    bob.send("é" * 51)  # 51 characters, 102 bytes: the limit is in bytes
    bob.expect(too_long)
    # One long line in many pieces, ended by CRLF: one error, then framing goes on.
    for _ in range(20):
        bob.send_bytes(b"z" * 1000)
    bob.send_bytes(b"\r\nnext\r\n/who\n")
    bob.expect(too_long)
    bob.expect("*** Online (2): alice, bob")  # no second error in between
    alice.expect("<bob> next")


def test_an_overlong_last_line_ended_by_eof_is_refused_too(chat_server, clients):
    """EOF ends the last line as a newline would: one byte over is refused, not cut."""
    server = chat_server("--flood-rate", "0", "--max-line", "100")
    alice, bob = clients(server, "alice"), clients(server, "bob")
    alice.line()
    bob.send_bytes(b"y" * 101)
    bob.sock.shutdown(socket.SHUT_WR)
    alice.expect("*** bob has left the chat room.")
    assert bob.expect_closed() == b"!!! line too long: over 100 bytes, discarded\n"


def test_an_endless_line_does_not_grow_the_server(chat_server, clients):
    """A partial line is held only up to --max-line: 32 MiB without a newline costs nothing."""
    server = chat_server("--flood-rate", "0")
    alice, bob = clients(server, "alice"), clients(server, "bob")
    alice.line()
    before = process(server).memory_info().rss
    chunk = b"A" * MiB
    for _ in range(32):
        bob.send_bytes(chunk)  # sendall returns once all but the kernel buffers' few MiB is read
    grown = process(server).memory_info().rss - before
    assert grown < 8 * MiB, f"server RSS grew by {grown / MiB:.1f} MiB"
    bob.send_bytes(b"\nafter\n")
    bob.expect("!!! line too long: over 4096 bytes, discarded")
    alice.expect("<bob> after")
    bob.send("/who")
    bob.expect("*** Online (2): alice, bob")
