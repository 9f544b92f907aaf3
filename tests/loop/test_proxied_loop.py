"""Behind a trusted proxy (--trusted-proxy), in the loop: the PROXY header on the
chat ports and X-Forwarded-For on the web port name the client for the log and
the per-address limit; from an untrusted address both are ignored."""
import logging
import socket
import struct

import pytest

from selchat import proxied_port
from selchat.proxy_protocol import V2_SIGNATURE
from selchat.tls import Certificates
from support.certificates import make_pki
from support.tls_loop import TlsLoop, TlsPeer

V1 = b"PROXY TCP4 203.0.113.7 127.0.0.1 51234 4000\r\n"


def v2(host: str, port: int) -> bytes:
    payload = socket.inet_aton(host) + socket.inet_aton("127.0.0.1") + struct.pack(
        "!HH", port, 4443)
    return V2_SIGNATURE + struct.pack("!BBH", 0x21, 0x11, len(payload)) + payload


@pytest.fixture
def make_loop():
    made = []

    def make(**options):
        made.append(TlsLoop(**options))
        return made[-1]

    yield make
    for loop in made:
        loop.close()


def counted(loop):
    return dict(loop.server._listeners._unnamed_per_address)


def test_a_trusted_proxys_v1_header_names_the_client(make_loop, caplog):
    caplog.set_level(logging.INFO)
    loop = make_loop(trusted_proxies=["127.0.0.1/32"])
    alice = loop.peer()
    alice.sock.sendall(V1)
    loop.until(lambda: alice.lines)  # the hello: the header was taken, not read as a name
    assert counted(loop) == {"203.0.113.7": 1}
    assert "from 203.0.113.7:51234" in caplog.text
    alice.send("alice")
    loop.until(lambda: any(line.startswith("*** Welcome, alice!") for line in alice.lines))
    assert counted(loop) == {}


def test_the_header_and_the_first_line_in_one_segment(make_loop):
    loop = make_loop(trusted_proxies=["127.0.0.0/8"])
    alice = loop.peer()
    alice.sock.sendall(V1 + b"alice\n")
    loop.until(lambda: any(line.startswith("*** Welcome, alice!") for line in alice.lines))


def test_a_header_in_pieces_is_waited_for(make_loop):
    loop = make_loop(trusted_proxies=["127.0.0.1"])
    alice = loop.peer()
    alice.sock.sendall(V1[:10])
    loop.run()
    loop.at(loop.clock.now + proxied_port.PEEK_RETRY)
    assert not alice.lines and not loop.server._conns
    alice.sock.sendall(V1[10:] + b"alice\n")
    loop.at(loop.clock.now + proxied_port.PEEK_RETRY)
    loop.until(lambda: any(line.startswith("*** Welcome, alice!") for line in alice.lines))
    assert not loop.server._proxied_ports[0]._waiting


def test_from_an_untrusted_address_the_header_is_only_a_bad_name(make_loop):
    loop = make_loop(trusted_proxies=["10.0.0.0/8"])
    alice = loop.peer()
    loop.until(lambda: alice.lines)  # the hello at once: nobody waits for a header
    assert counted(loop) == {"loopback": 1}
    alice.sock.sendall(V1)
    loop.until(lambda: len(alice.lines) > 1)
    assert not alice.lines[1].startswith("*** Welcome")


def test_the_per_address_limit_counts_the_named_client(make_loop):
    loop = make_loop(trusted_proxies=["127.0.0.1"], max_per_ip=1)
    first, second, other = loop.peer(), loop.peer(), loop.peer()
    first.sock.sendall(v2("203.0.113.7", 1000))
    loop.until(lambda: first.lines)
    second.sock.sendall(v2("203.0.113.7", 1001))  # the same client again: over the limit
    other.sock.sendall(v2("198.51.100.1", 1002))  # another client through the same proxy
    loop.until(lambda: second.closed and other.lines)
    assert counted(loop) == {"203.0.113.7": 1, "198.51.100.1": 1}


def test_garbage_or_silence_from_a_trusted_proxy_is_closed(make_loop):
    loop = make_loop(trusted_proxies=["127.0.0.1"])
    garbage, silent = loop.peer(), loop.peer()
    garbage.sock.sendall(b"alice\n")
    loop.until(lambda: garbage.closed)
    loop.at(loop.clock.now + proxied_port.HEADER_TIMEOUT + 0.1)
    loop.until(lambda: silent.closed)
    assert counted(loop) == {} and not loop.server._conns


def test_v2_before_the_tls_handshake(make_loop, tmp_path):
    pki = make_pki(tmp_path)
    loop = make_loop(certificates=Certificates(pki.cert_file, pki.key_file),
                     trusted_proxies=["127.0.0.1"])
    peer = TlsPeer(loop.tls_address, pki.ca_file, before=v2("203.0.113.7", 51234))
    loop.peers.append(peer)
    loop.made.append(peer)
    loop.until(lambda: peer.shaken and peer.lines)
    assert counted(loop) == {"203.0.113.7": 1}
    peer.send("alice")
    loop.until(lambda: any(line.startswith("*** Welcome, alice!") for line in peer.lines))


def http_get(address, *headers: str) -> socket.socket:
    sock = socket.create_connection(address)
    sock.sendall(("GET /healthz HTTP/1.1\r\nHost: localhost\r\n"
                  + "".join(h + "\r\n" for h in headers) + "\r\n").encode())
    sock.setblocking(False)
    return sock


def answered(sock) -> bool:
    try:
        return b"200 OK" in sock.recv(4096)
    except BlockingIOError:
        return False


@pytest.mark.parametrize("trusted, expected", [
    (["127.0.0.1"], {"203.0.113.7": 1}), (["10.0.0.0/8"], {"loopback": 1})])
def test_x_forwarded_for_from_a_trusted_proxy_only(make_loop, trusted, expected):
    loop = make_loop(trusted_proxies=trusted, web=True)
    sock = http_get(loop.web_address, "X-Forwarded-For: 1.1.1.1, 203.0.113.7")
    try:
        loop.until(lambda: answered(sock))
        assert counted(loop) == expected
    finally:
        sock.close()
