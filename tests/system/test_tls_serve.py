"""`selchat serve` with TLS: the chat port through ``openssl s_client`` and
``selchat join --tls``, bad certificates, --no-clear, the options from a config
file, and SIGHUP renewing the certificate while clients stay."""
import shutil
import signal
import socket
import ssl
import subprocess

import pytest

from support.certificates import make_pki, tls_line_client
from support.clients import LineClient, read_until
from support.constants import TIMEOUT
from support.join_client import Output, join_command
from support.servers import ServerProcess, selchat
from support.waiting import wait_for


@pytest.fixture
def pki(tmp_path):
    return make_pki(tmp_path)


def tls_server(pki, *args):
    return ServerProcess("--tls-cert", pki.cert_file, "--tls-key", pki.key_file,
                         "--tls-port", "0", *args)


def peer_certificate(port: int, ca_file: str) -> bytes:
    """The certificate a new connection to the TLS port is shown (checked with `ca_file`)."""
    context = ssl.create_default_context(cafile=ca_file)
    with context.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT),
                             server_hostname="localhost") as sock:
        return sock.getpeercert(binary_form=True)


def chat_through(pki, command, typed: bytes, last_input: bytes) -> bytes:
    """Alice runs `command` (a TLS client reading stdin) and types `typed` (her
    name, if it asks, and a line); bob, on the clear port, answers; then alice
    is sent `last_input` and her stdin closes. What alice's client printed."""
    server = tls_server(pki)
    bob = LineClient(server.address, "bob")
    try:
        alice = subprocess.Popen([part.replace("TLS_PORT", str(server.tls_port))
                                  for part in command],
                                 stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE)
        alice.stdin.write(typed)
        alice.stdin.flush()
        bob.expect("*** alice has joined the chat room.")
        bob.expect("<alice> " + typed.decode().splitlines()[-1])
        bob.send("hi alice")
        seen = Output(alice.stdout.fileno())
        seen.expect(b"<bob> hi alice\n")
        _, err = alice.communicate(last_input, timeout=TIMEOUT)
        assert alice.returncode == 0, err
        return seen.data
    finally:
        bob.close()
        server.stop()


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs openssl")
def test_openssl_s_client_chats_over_the_tls_port(pki):
    out = chat_through(pki, ["openssl", "s_client", "-quiet", "-connect", "127.0.0.1:TLS_PORT",
                             "-CAfile", pki.ca_file, "-verify_return_error",
                             "-servername", "localhost"],
                       b"alice\nhello over tls\n", b"/quit\n")
    assert out.startswith(b"*** Hello! Please enter your name.\n*** Welcome, alice!")


def test_join_over_tls_chats_with_a_clear_text_client(pki):
    command = join_command("alice", 0, "--tls", "--ca", pki.ca_file)
    command[command.index("--port") + 1] = "TLS_PORT"
    out = chat_through(pki, command, b"hello from tls\n", b"")
    assert b"*** Welcome, alice!" in out


def test_join_refuses_an_untrusted_certificate_in_one_line(pki, tmp_path):
    server = tls_server(pki)
    try:
        stranger = make_pki(tmp_path, prefix="stranger-")
        for extra in ([], ["--ca", stranger.ca_file]):
            joined = subprocess.run(
                join_command("alice", server.tls_port, "--tls", *extra),
                stdin=subprocess.DEVNULL, capture_output=True, timeout=TIMEOUT)
            assert joined.returncode == 1
            lines = joined.stderr.decode().splitlines()
            assert len(lines) == 1, lines
            assert "cannot be trusted" in lines[0] and "--ca FILE" in lines[0], lines
    finally:
        server.stop()


def test_a_bad_certificate_or_key_is_one_line_naming_it_and_status_2(pki, tmp_path):
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("nothing here\n")
    for cert, key, named in ((str(garbage), pki.key_file, str(garbage)),
                             (pki.cert_file, str(tmp_path / "missing.pem"),
                              str(tmp_path / "missing.pem"))):
        done = selchat("serve", "--port", "0", "--no-web", "--tls-port", "0",
                       "--tls-cert", cert, "--tls-key", key)
        assert done.returncode == 2, done
        assert done.stderr.count("\n") == 1 and named in done.stderr, done.stderr


def test_no_clear_serves_tls_only_and_the_options_come_from_a_config_file(pki, tmp_path):
    config = tmp_path / "selchat.toml"
    config.write_text(f'tls-cert = "{pki.cert_file}"\ntls_key = "{pki.key_file}"\n'
                      'tls-port = 0\nno-clear = true\n')
    server = ServerProcess("--config", str(config))
    try:
        assert server.tls_port == server.port  # no clear-text port: the TLS one comes first
        alice = tls_line_client(server.tls_port, pki.ca_file, "alice")
        alice.close()
    finally:
        server.stop()


def test_sighup_renews_the_certificate_and_nobody_is_dropped(pki, tmp_path):
    server = tls_server(pki)
    try:
        alice = tls_line_client(server.tls_port, pki.ca_file, "alice")
        before = peer_certificate(server.tls_port, pki.ca_file)
        renewed = make_pki(tmp_path, prefix="renewed-")
        shutil.copy(renewed.cert_file, pki.cert_file)
        shutil.copy(renewed.key_file, pki.key_file)
        server.proc.send_signal(signal.SIGHUP)
        wait_for(lambda: "certificate and key read again" in server.log())
        after = peer_certificate(server.tls_port, renewed.ca_file)  # the old CA would refuse it
        assert after != before
        bob = tls_line_client(server.tls_port, renewed.ca_file, "bob")
        alice.send("still here")
        bob.expect("<alice> still here")

        # A reload that fails keeps what is in use, and says why.
        with open(pki.key_file, "w") as file:
            file.write("broken\n")
        server.proc.send_signal(signal.SIGHUP)
        wait_for(lambda: "kept the certificate in use" in server.log())
        assert peer_certificate(server.tls_port, renewed.ca_file) == after
        assert server.proc.poll() is None
        alice.close()
        bob.close()
    finally:
        assert server.stop() == 0, server.log()


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs openssl")
def test_irc_over_tls_registers_through_openssl_s_client(pki):
    server = tls_server(pki, "--irc-port", "0", "--ircs-port", "0", "--server-name", "irc.test")
    client = subprocess.Popen(["openssl", "s_client", "-quiet", "-connect",
                               f"127.0.0.1:{server.ircs_port}", "-CAfile", pki.ca_file,
                               "-verify_return_error", "-servername", "localhost"],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL)
    try:
        client.stdin.write(b"NICK alice\r\nUSER al 0 * :Alice Liddell\r\n")
        client.stdin.flush()
        seen = Output(client.stdout.fileno())
        seen.expect(b":irc.test 001 alice ")
        seen.expect(b" 376 alice ")  # the end of the MOTD: registered
        bob = LineClient(server.address, "bob")
        client.stdin.write(b"JOIN #lobby\r\nPRIVMSG #lobby :hi over tls\r\n")
        client.stdin.flush()
        read_until(bob, "<alice> hi over tls")
        bob.close()
    finally:
        client.kill()
        client.communicate(timeout=TIMEOUT)
        assert server.stop() == 0, server.log()

