"""Half-closes and resets: what is owed is delivered, a vanished peer leaves at once."""
import socket
import time


from support.clients import join_when_there_is_room, reset
from support.constants import MiB


def test_a_half_closed_client_gets_its_lines_and_answers_delivered(chat_server, clients):
    """bob sends his last lines and EOF while megabytes for him are still queued in selchat
    (more than loopback's autotuned kernel buffers hold): the others get his lines and his
    leave, and he still gets everything owed to him, then EOF."""
    server = chat_server("--flood-rate", "0", "--max-output", str(64 * MiB))
    alice = clients(server, "alice")
    bob = clients(server, "bob", rcvbuf=4096)
    alice.line()
    backlog = [f"{i:04d} " + "x" * 995 for i in range(6000)]
    alice.send(*backlog, "/who")
    alice.expect("*** Online (2): alice, bob")  # the server has queued all of it for bob
    bob.send("one", "two", "/who")
    bob.sock.shutdown(socket.SHUT_WR)
    assert alice.lines(3) == ["<bob> one", "<bob> two", "*** bob has left the chat room."]
    expected = "".join(f"<alice> {line}\n" for line in backlog) + "*** Online (2): alice, bob\n"
    assert bob.expect_closed() == expected.encode()


def test_a_reset_is_a_leave_at_once(chat_server, clients):
    server = chat_server("--flood-rate", "0")
    alice, bob = clients(server, "alice"), clients(server, "bob")
    alice.line()
    reset(bob)
    started = time.monotonic()
    alice.expect("*** bob has left the chat room.")
    assert time.monotonic() - started < 2.0
    join_when_there_is_room(server, "bob").close()  # the name is free again
