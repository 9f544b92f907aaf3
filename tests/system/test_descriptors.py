"""Open-file limits: raised at start, fitted to --max-clients, exhaustion survived,
and no descriptor leaked."""
import re
import resource
import select
import socket
import struct
from typing import Callable

import psutil
import pytest

from support.clients import LineClient, join_when_there_is_room
from support.constants import HELLO, SERVER_FULL, TIMEOUT
from support.servers import ServerProcess, process
from support.waiting import wait_for


def _nofile(limit: int) -> Callable[[], None]:
    def apply() -> None:  # runs in the child before exec: soft and hard limit both
        resource.setrlimit(resource.RLIMIT_NOFILE, (limit, limit))
    return apply


def test_the_soft_open_file_limit_is_raised_to_the_hard_one(chat_server, clients):
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < 200:
        pytest.skip(f"hard open-file limit {hard} is too low to show the raise")

    def low_soft_limit() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (64, hard))

    server = chat_server("--max-clients", "100", "--max-per-ip", "0", preexec_fn=low_soft_limit)
    soft, _ = process(server).rlimit(psutil.RLIMIT_NOFILE)
    assert soft == (hard if hard != resource.RLIM_INFINITY else 100 + 32)
    held = [clients(server) for _ in range(100)]  # more than 64 descriptors hold
    for client in held:
        client.expect(HELLO)
    assert "lowered" not in server.log()


def test_a_low_open_file_limit_lowers_max_clients_and_extras_are_told(chat_server, clients):
    server = chat_server(preexec_fn=_nofile(48))
    fitted = re.search(r"open-file limit 48 holds only (\d+) clients: max clients lowered "
                       r"from 10000", server.log())
    assert fitted, server.log()
    held = [clients(server) for _ in range(int(fitted.group(1)))]
    for client in held:
        client.expect(HELLO)
    for _ in range(5):
        assert clients(server).expect_closed() == SERVER_FULL
    assert process(server).cpu_percent(interval=0.5) < 25
    for client in held:
        client.close()
    newcomer = join_when_there_is_room(server, "newcomer")
    newcomer.send("/who")
    newcomer.expect("*** Online (1): newcomer")


@pytest.fixture(scope="module")
def base_descriptors() -> int:
    """Descriptors a running server holds with no client (stdio, listener, selector, ...)."""
    server = ServerProcess()
    try:
        client = LineClient(server.address)
        client.expect(HELLO)  # the loop is running: every descriptor it keeps is open
        count = psutil.Process(server.proc.pid).num_fds() - 1
        client.close()
        return count
    finally:
        server.stop()


def _exhaust_descriptors(chat_server, clients, base_descriptors, window: float):
    """A server with exactly one spare descriptor; alice takes it, bob is left in the
    backlog. Returns (server, alice, bob, cpu percent over `window` s while exhausted)."""
    server = chat_server(preexec_fn=_nofile(base_descriptors + 1))
    alice = clients(server, "alice")
    bob = clients(server)
    wait_for(lambda: "out of file descriptors" in server.log())
    cpu = process(server).cpu_percent(interval=window)
    assert not select.select([bob.sock], [], [], 0)[0], "bob was served without a descriptor"
    return server, alice, bob, cpu


def test_out_of_descriptors_pauses_accepting_without_spinning_then_recovers(
        chat_server, clients, base_descriptors):
    server, alice, bob, cpu = _exhaust_descriptors(chat_server, clients, base_descriptors, 1.0)
    assert cpu < 25, f"{cpu} % CPU while out of descriptors"
    alice.send("/quit")
    assert alice.expect_closed() == b"*** Goodbye, alice.\n"
    bob.expect(HELLO)
    bob.send("bob")
    bob.expect("*** Welcome, bob! Online (1): bob (type /help for commands)")
    log = server.log()
    assert "Traceback" not in log
    assert log.count("out of file descriptors") <= 4  # a few retries, not a spin


def test_out_of_descriptors_is_logged_once(chat_server, clients, base_descriptors):
    """The issue: "it stops accepting for a moment, logs once, and recovers": one warning
    for 2.5 s of exhaustion, not one per retry. (Counted before the recovery: once bob
    takes the last descriptor, the next accept fails again, and that is a new episode.)"""
    server, alice, bob, cpu = _exhaust_descriptors(chat_server, clients, base_descriptors, 2.5)
    assert cpu < 25
    warnings = server.log().count("out of file descriptors")
    alice.close()
    bob.expect(HELLO)
    assert warnings == 1, server.log()


def test_a_thousand_connect_disconnect_cycles_leak_no_descriptor(chat_server, clients):
    server = chat_server()
    watcher = clients(server, "watcher")
    fds_before = process(server).num_fds()

    def first_line(sock: socket.socket) -> bytes:
        data = b""
        while not data.endswith(b"\n"):
            chunk = sock.recv(4096)
            assert chunk, data
            data += chunk
        return data

    for batch in range(20):
        socks = [socket.create_connection(server.address, timeout=TIMEOUT) for _ in range(50)]
        for i, sock in enumerate(socks):
            number = batch * 50 + i
            how = number % 5
            if how == 1:  # hello read, then an orderly close
                first_line(sock)
            elif how == 2:  # joined, then closed
                first_line(sock)
                sock.sendall(f"c{number}\n".encode())
                assert first_line(sock).startswith(f"*** Welcome, c{number}!".encode())
            elif how == 3:  # a name, then a reset
                sock.sendall(f"r{number}\n".encode())
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            elif how == 4:  # half-closed: the server finishes the close
                first_line(sock)
                sock.shutdown(socket.SHUT_WR)
                while sock.recv(4096):
                    pass
            sock.close()  # how == 0: closed before even reading the hello
    wait_for(lambda: process(server).num_fds() == fds_before)
    watcher.send("/who")
    while (line := watcher.line()).startswith(("*** c", "*** r")):  # joins and leaves
        pass
    assert line == "*** Online (1): watcher"
