"""IRC with ``--workers``: every worker serves the IRC port; an IRC client on
one worker and a line client on another meet in one channel, under names
unique across the workers (a real Redis, raw sockets)."""
import socket
import ssl

import psutil
import pytest

from support.certificates import make_pki
from support.clients import LineClient, read_until
from support.irc import IrcClient
from support.servers import ServerProcess
from support.waiting import wait_for

WORKERS = 2


@pytest.fixture
def irc_workers(redis_server):
    server = ServerProcess("--workers", str(WORKERS), "--bus", redis_server.url,
                           "--irc-port", "0", "--flood-rate", "0")
    yield server
    if server.proc.poll() is None:
        assert server.stop() == 0, server.log()


def worker_of(server: ServerProcess, sock: socket.socket) -> int:
    """The pid of the worker holding the other end of `sock`."""
    local = sock.getsockname()
    return next(worker.pid for worker in psutil.Process(server.proc.pid).children()
                for c in worker.net_connections(kind="tcp") if tuple(c.raddr or ()) == local)


def irc_on_another_worker(server: ServerProcess, than: int) -> IrcClient:
    """An IRC connection the kernel gave a worker other than `than` (a few tries)."""
    for _ in range(200):
        client = IrcClient((server.host, server.irc_port))
        if worker_of(server, client.sock) != than:
            return client
        client.close()
    raise AssertionError("every IRC connection went to one worker")


def who(client: LineClient) -> str:
    client.send("/who")
    return client.expect_prefix("*** Online")


def test_an_irc_client_and_a_line_client_on_two_workers_chat_in_one_channel(irc_workers):
    bob = LineClient(irc_workers.address, "bob")
    carol = irc_on_another_worker(irc_workers, worker_of(irc_workers, bob.sock))
    try:
        carol.register("carol")
        # Online on bob's worker too (/who), but not in #lobby yet (/rooms counts it).
        wait_for(lambda: who(bob) == "*** Online (2): bob, carol")
        bob.send("/rooms")
        assert read_until(bob, "***   #lobby (1)")[-2] == "*** Rooms (1):"
        carol.send("JOIN #lobby")
        got = carol.until("366")
        assert "bob" in got[-2].params[-1].split()  # bob, on the other worker, is in NAMES
        # One announcement, when carol joins #lobby (not at her registration too).
        assert read_until(bob, "*** carol has joined the chat room.")[:-1] == []
        bob.send("hi carol")
        msg = carol.until("PRIVMSG")[-1]
        assert carol.source.startswith("bob!") and msg.params == ["#lobby", "hi carol"]
        carol.send("PRIVMSG #lobby :hi bob")
        assert read_until(bob, "<carol> hi bob") == ["<carol> hi bob"]  # no second join line
        # A room but the default one, both ways.
        bob.send("/join #dev")
        read_until(bob, "*** You joined #dev. Online (1): @bob")
        carol.send("JOIN #dev")
        carol.until("366")
        read_until(bob, "#dev *** carol has joined #dev.")
        carol.send("PRIVMSG #dev :in dev")
        read_until(bob, "#dev <carol> in dev")
        # Names are one namespace across the workers, both ways.
        carol.send("NICK bob")
        assert carol.until("433")[-1].params[1] == "bob"
        dup = LineClient(irc_workers.address)
        dup.expect("*** Hello! Please enter your name.")
        dup.send("carol")
        dup.expect("!!! name taken: carol")
        dup.close()
        carol.send("QUIT :bye")
        read_until(bob, "*** carol has left the chat room (bye).")
    finally:
        carol.close()
        bob.close()


def test_irc_over_tls_is_served_by_every_worker(redis_server, tmp_path):
    pki = make_pki(tmp_path)
    server = ServerProcess("--workers", str(WORKERS), "--bus", redis_server.url,
                           "--tls-cert", pki.cert_file, "--tls-key", pki.key_file,
                           "--tls-port", "0", "--irc-port", "0", "--ircs-port", "0")
    context = ssl.create_default_context(cafile=pki.ca_file)
    try:
        workers = set()
        for nick in (f"user{number}" for number in range(40)):  # the kernel's hash picks
            client = IrcClient((server.host, server.ircs_port))
            client.sock = context.wrap_socket(client.sock, server_hostname="localhost")
            workers.add(worker_of(server, client.sock))
            assert client.register(nick)[-1].command == "376"
            client.close()
            if len(workers) == WORKERS:
                break
        assert len(workers) == WORKERS, "every connection went to one worker"
    finally:
        assert server.stop() == 0, server.log()
