"""The sans-I/O TLS layer: a server and a client `TlsLayer` back to back, the
ciphertext carried between them by hand (no sockets)."""
import ssl

import pytest

from selchat.tls import CertificateProblem, Certificates, TlsLayer, client_context, server_context
from support.certificates import make_pki


@pytest.fixture
def pki(tmp_path):
    return make_pki(tmp_path)


def shake(server: TlsLayer, client: TlsLayer) -> None:
    """Carry the handshake's bytes back and forth until both are done."""
    done = [False, False]
    for _ in range(10):
        done[1] = client.handshake() or done[1]
        server.feed(client.take_output())
        done[0] = server.handshake() or done[0]
        client.feed(server.take_output())
        if all(done):
            return
    raise AssertionError("no handshake")


def pair(pki, context=None):
    server = TlsLayer(server_context(pki.cert_file, pki.key_file))
    client = TlsLayer(context or client_context(pki.ca_file), server_side=False,
                      server_hostname="localhost")
    shake(server, client)
    return server, client


def test_lines_cross_both_ways(pki):
    server, client = pair(pki)
    buffer = memoryview(bytearray(1024))
    server.feed(client.seal(b"hello\nname alice\n"))
    assert bytes(buffer[:server.read_into(buffer, 1024)]) == b"hello\nname alice\n"
    client.feed(server.seal(b"welcome alice\n"))
    assert bytes(buffer[:client.read_into(buffer, 1024)]) == b"welcome alice\n"
    assert server.version in ("TLSv1.2", "TLSv1.3")


def test_a_budget_leaves_the_rest_decrypted_for_later(pki):
    """What a short read leaves is kept, and `more` says so without a socket."""
    server, client = pair(pki)
    server.feed(client.seal(b"a" * 100) + client.seal(b"b" * 100))
    buffer = memoryview(bytearray(1024))
    assert server.read_into(buffer, 150) == 150
    assert server.more()
    assert server.read_into(buffer, 1024) == 50
    assert bytes(buffer[:50]) == b"b" * 50
    assert not server.more()
    assert server.read_into(buffer, 1024) == 0  # nothing: no complete record


def test_a_partial_record_waits_for_the_rest(pki):
    server, client = pair(pki)
    record = client.seal(b"line\n")
    buffer = memoryview(bytearray(64))
    server.feed(record[:5])
    assert server.read_into(buffer, 64) == 0
    server.feed(record[5:])
    assert server.read_into(buffer, 64) == 5


def test_one_seal_of_a_pass_is_one_record_not_one_per_line(pki):
    server, client = pair(pki)
    lines = b"".join(b"<bob> line %d\n" % n for n in range(50))
    sealed = server.seal(lines)
    assert len(sealed) < len(lines) + 64  # one record's overhead, not fifty
    client.feed(sealed)
    buffer = memoryview(bytearray(4096))
    assert bytes(buffer[:client.read_into(buffer, 4096)]) == lines


def test_close_notify_ends_the_stream(pki):
    server, client = pair(pki)
    client.feed(server.close())
    with pytest.raises(ssl.SSLZeroReturnError):
        client.read_into(memoryview(bytearray(16)), 16)


def test_an_untrusted_certificate_fails_the_handshake(pki, tmp_path):
    other = make_pki(tmp_path, prefix="other-")
    with pytest.raises(ssl.SSLCertVerificationError):
        pair(pki, client_context(other.ca_file))


def test_insecure_takes_any_certificate(pki):
    pair(pki, client_context(insecure=True))


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_old_protocols_are_refused(pki):
    old = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    old.check_hostname, old.verify_mode = False, ssl.CERT_NONE
    old.minimum_version = old.maximum_version = ssl.TLSVersion.TLSv1_1
    old.set_ciphers("ALL:@SECLEVEL=0")
    with pytest.raises(ssl.SSLError):
        pair(pki, old)


def test_server_context_refuses_renegotiation_and_compression(pki):
    context = server_context(pki.cert_file, pki.key_file)
    assert context.options & ssl.OP_NO_RENEGOTIATION
    assert context.options & ssl.OP_NO_COMPRESSION
    assert context.minimum_version is ssl.TLSVersion.TLSv1_2


@pytest.mark.parametrize("broken, named", [
    ("missing cert", "cert"), ("missing key", "key"), ("garbage cert", "cert"),
    ("garbage key", "key"), ("other key", "key")])
def test_a_bad_file_is_named(pki, tmp_path, broken, named):
    cert, key = pki.cert_file, pki.key_file
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a certificate\n")
    if broken == "missing cert":
        cert = str(tmp_path / "nowhere.pem")
    elif broken == "missing key":
        key = str(tmp_path / "nowhere.pem")
    elif broken == "garbage cert":
        cert = str(garbage)
    elif broken == "garbage key":
        key = str(garbage)
    else:
        key = make_pki(tmp_path, prefix="other-").key_file
    with pytest.raises(CertificateProblem) as caught:
        server_context(cert, key)
    assert str(caught.value).startswith(cert if named == "cert" else key)


def test_a_failed_reload_keeps_the_old_context(pki, tmp_path):
    certificates = Certificates(pki.cert_file, pki.key_file)
    old = certificates.context
    with open(pki.key_file, "w") as file:
        file.write("gone\n")
    assert pki.key_file in certificates.reload()
    assert certificates.context is old
    fresh = make_pki(tmp_path, prefix="new-")
    certificates.cert, certificates.key = fresh.cert_file, fresh.key_file
    assert certificates.reload() is None
    assert certificates.context is not old
