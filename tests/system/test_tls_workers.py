"""TLS with ``--workers``: every worker serves the TLS port with the certificate
the parent read, and SIGHUP to the parent renews it in every worker."""
import shutil
import signal
import socket
import ssl

import psutil
import pytest

from support.certificates import make_pki, tls_line_client
from support.clients import read_until
from support.constants import TIMEOUT
from support.servers import ServerProcess
from support.waiting import wait_for

WORKERS = 2


@pytest.fixture
def pki(tmp_path):
    return make_pki(tmp_path)


@pytest.fixture
def tls_workers(redis_server, pki):
    server = ServerProcess("--workers", str(WORKERS), "--bus", redis_server.url,
                           "--tls-cert", pki.cert_file, "--tls-key", pki.key_file,
                           "--tls-port", "0", "--no-clear")
    wait_for(lambda: len(psutil.Process(server.proc.pid).children()) == WORKERS)
    yield server
    if server.proc.poll() is None:
        assert server.stop() == 0, server.log()


def certificate_and_worker(server: ServerProcess, ca_file: str):
    """The certificate a new TLS connection is shown, and the worker's pid holding it."""
    context = ssl.create_default_context(cafile=ca_file)
    address = ("127.0.0.1", server.tls_port)
    with context.wrap_socket(socket.create_connection(address, timeout=TIMEOUT),
                             server_hostname="localhost") as sock:
        local = sock.getsockname()
        holder = next(worker.pid for worker in psutil.Process(server.proc.pid).children()
                      for c in worker.net_connections(kind="tcp")
                      if tuple(c.raddr or ()) == local)
        return sock.getpeercert(binary_form=True), holder


def served_certificates(server: ServerProcess, ca_file: str) -> dict:
    """worker pid -> the certificate it showed, from connections until every worker answered."""
    seen = {}
    for _ in range(200):
        certificate, worker = certificate_and_worker(server, ca_file)
        seen[worker] = certificate
        if len(seen) == WORKERS:
            return seen
    raise AssertionError(f"only {len(seen)} workers answered")


def test_every_worker_serves_tls_and_members_meet_across_them(tls_workers, pki):
    assert len(served_certificates(tls_workers, pki.ca_file)) == WORKERS
    alice = tls_line_client(tls_workers.tls_port, pki.ca_file, "alice")
    bob = tls_line_client(tls_workers.tls_port, pki.ca_file, "bob")
    read_until(alice, "*** bob has joined the chat room.")  # on her worker too
    alice.send("hi bob")
    read_until(bob, "<alice> hi bob")
    alice.close()
    bob.close()


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs openssl")
def test_sighup_to_the_parent_renews_the_certificate_in_every_worker(tls_workers, pki,
                                                                      tmp_path):
    alice = tls_line_client(tls_workers.tls_port, pki.ca_file, "alice")
    before = set(served_certificates(tls_workers, pki.ca_file).values())
    renewed = make_pki(tmp_path, prefix="renewed-")
    shutil.copy(renewed.cert_file, pki.cert_file)
    shutil.copy(renewed.key_file, pki.key_file)
    tls_workers.proc.send_signal(signal.SIGHUP)
    wait_for(lambda: tls_workers.log().count("certificate and key read again") == WORKERS + 1)
    after = served_certificates(tls_workers, renewed.ca_file)  # the old CA would refuse
    assert len(set(after.values())) == 1 and not set(after.values()) & before
    bob = tls_line_client(tls_workers.tls_port, renewed.ca_file, "bob")
    read_until(alice, "*** bob has joined the chat room.")
    alice.send("still here")
    read_until(bob, "<alice> still here")
    alice.close()
    bob.close()
