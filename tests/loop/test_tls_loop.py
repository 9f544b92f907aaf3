"""The TLS chat port in the loop, on a fake clock: handshakes, chat beside a
clear-text client, close_notify, stalled handshakes timed out, handshakes
bounded per pass, decrypted bytes served without the socket."""
import selectors
import socket
import ssl

import pytest

from selchat import server as server_module, tls_heap, tls_port
from selchat.tls import Certificates, client_context
from support.certificates import make_pki
from support.tls_loop import TlsLoop, TlsPeer, raw_socket


@pytest.fixture
def pki(tmp_path):
    return make_pki(tmp_path)


@pytest.fixture
def tls_loop(pki):
    made = []

    def make(**limits):
        made.append(TlsLoop(Certificates(pki.cert_file, pki.key_file), **limits))
        return made[-1]

    yield make
    for loop in made:
        loop.close()


def test_a_tls_client_chats_with_a_clear_one(tls_loop, pki):
    loop = tls_loop()
    alice = loop.tls_peer(pki.ca_file, "alice")
    bob = loop.peer("bob")
    alice.send("hi bob")
    loop.until(lambda: "<alice> hi bob" in bob.lines)
    bob.send("hi alice")
    loop.until(lambda: "<bob> hi alice" in alice.lines)


def _settled_with_writes(loop, pki, monkeypatch):
    """alice (TLS) and bob (clear text) in a quiet room, and the plaintext of
    every SSL_write to alice from now on."""
    alice = loop.tls_peer(pki.ca_file, "alice")
    bob = loop.peer("bob")
    bob.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # each send arrives at once
    loop.run(3)  # nothing left held
    writes = []
    theirs = loop.conn("alice")
    real_seal = theirs._seal

    def seal(data):
        writes.append(bytes(data))
        return real_seal(data)

    monkeypatch.setattr(theirs, "_seal", seal)
    return alice, bob, writes


def test_a_pass_for_many_recipients_is_one_record_each(tls_loop, pki, monkeypatch):
    """The pass's lines are sealed once per recipient: many lines, one SSL_write."""
    loop = tls_loop(flood_rate=0)
    alice, bob, writes = _settled_with_writes(loop, pki, monkeypatch)
    bob.send(*(f"line {n}" for n in range(20)))
    loop.until(lambda: "<bob> line 19" in alice.lines)
    assert len(writes) < 5, writes  # the burst's passes, not its twenty lines
    assert sum(w.count(b"\n") for w in writes) == 20


def test_a_small_piece_is_held_and_joins_the_next_passes_in_one_record(tls_loop, pki,
                                                                       monkeypatch):
    loop = tls_loop(flood_rate=0)
    alice, bob, writes = _settled_with_writes(loop, pki, monkeypatch)
    bob.send("one")
    loop.server.run_once(0)
    assert writes == []  # held: more input may come
    bob.send("two")
    loop.server.run_once(0)
    assert writes == [b"<bob> one\n<bob> two\n"]  # the two passes' pieces, one SSL_write
    loop.until(lambda: "<bob> two" in alice.lines)


def test_a_held_piece_goes_at_the_end_of_the_next_pass(tls_loop, pki, monkeypatch):
    """The next pass has input but nothing for alice: her piece goes at its end."""
    loop = tls_loop(flood_rate=0)
    alice, bob, writes = _settled_with_writes(loop, pki, monkeypatch)
    bob.send("one")
    loop.server.run_once(0)
    assert writes == []
    bob.sock.sendall(b"half a li")  # input, but no line for anyone
    loop.server.run_once(0)
    assert writes == [b"<bob> one\n"]


def test_nothing_is_held_while_the_loop_waits(tls_loop, pki, monkeypatch):
    """A pass that would wait for input does not while a piece is held: it
    finds none at once and sends the piece."""
    loop = tls_loop(flood_rate=0)
    alice, bob, writes = _settled_with_writes(loop, pki, monkeypatch)
    selector = loop.server._selector
    waits = []
    real_select = selector.select

    def select(timeout=None):
        waits.append(timeout)
        return real_select(timeout)

    monkeypatch.setattr(selector, "select", select)
    bob.send("one")
    loop.server.run_once(0)
    assert writes == []
    loop.server.run_once(2.0)  # nothing to read: it would wait up to 2 s
    assert waits[-1] == 0 and writes == [b"<bob> one\n"]
    loop.server.run_once(0.01)
    assert waits[-1] == 0.01  # nothing held: the loop waits again


def test_a_held_piece_is_sent_before_its_connection_closes(tls_loop, pki, monkeypatch):
    loop = tls_loop(flood_rate=0)
    alice, bob, writes = _settled_with_writes(loop, pki, monkeypatch)
    bob.send("last words")
    loop.server.run_once(0)
    alice.send("/quit")
    loop.until(lambda: alice.closed)
    assert "<bob> last words" in alice.lines and alice.ended_cleanly


def test_a_piece_of_a_full_record_is_not_held(tls_loop, pki, monkeypatch):
    loop = tls_loop(flood_rate=0, max_line=20_000)
    alice, bob, writes = _settled_with_writes(loop, pki, monkeypatch)
    bob.send("x" * tls_port.HOLD_BYTES)
    loop.server.run_once(0)  # read, delivered and sealed in the one pass
    assert len(writes) == 1 and writes[0].startswith(b"<bob> xxx")


def test_a_reader_behind_a_full_socket_gets_every_byte_in_order(tls_loop, pki):
    """OpenSSL leaves a write half done when the socket fills: the queue hands
    it the same bytes again, grown, and the reader gets everything once it reads."""
    loop = tls_loop(flood_rate=0)
    alice = loop.tls_peer(pki.ca_file, "alice")
    bob = loop.peer("bob")
    loop.peers.remove(alice)  # not reading for now
    loop.conn("alice").sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 8192)
    sent = [f"{n:05d} " + "x" * 3000 for n in range(600)]
    for start in range(0, len(sent), 20):
        bob.send(*sent[start:start + 20])
        loop.run(1)
    queue = loop.conn("alice").out
    assert queue.pending  # the kernel's buffers are full: plaintext waits
    loop.peers.append(alice)
    loop.until(lambda: any(line.startswith("<bob> 00599") for line in alice.lines))
    got = [line[len("<bob> "):] for line in alice.lines if line.startswith("<bob> 0")]
    assert got == sent


def test_lines_sent_with_the_handshake_are_served_without_more_input(tls_loop, pki):
    """The name comes in the same segment as the client's Finished: it is
    decrypted with it, and read without the socket becoming readable again."""
    loop = tls_loop()
    alice = loop.tls_peer(pki.ca_file)
    loop.peers.remove(alice)  # read by hand here
    flight = bytearray()

    def server_flight_arrived():
        try:
            flight.extend(alice.sock.recv(1 << 16))
        except BlockingIOError:
            pass
        alice.tls.feed(bytes(flight))
        flight.clear()
        return alice.tls.handshake()

    loop.until(server_flight_arrived)
    alice.sock.sendall(alice.tls.take_output() + alice.tls.seal(b"alice\n"))
    alice.shaken = True
    loop.peers.append(alice)
    loop.until(lambda: any(line.startswith("*** Welcome, alice!") for line in alice.lines))


def test_a_long_burst_read_within_the_budget_is_all_delivered(tls_loop, pki, monkeypatch):
    """A read budget smaller than what was decrypted: the rest is served by
    the next passes (owed reads), not left until the client sends again."""
    for cap in ("DELIVERY_BUDGET", "MIN_READ_BUDGET", "MIN_READ_SHARE"):
        monkeypatch.setattr(server_module, cap, 1024)  # plaintext per pass
    loop = tls_loop(flood_rate=0)
    alice = loop.tls_peer(pki.ca_file, "alice")
    bob = loop.peer("bob")
    alice.send(*(f"{n:04d} " + "x" * 500 for n in range(100)))
    loop.until(lambda: any(line.startswith("<alice> 0099") for line in bob.lines))


def test_leaving_sends_close_notify(tls_loop, pki):
    loop = tls_loop()
    alice = loop.tls_peer(pki.ca_file, "alice")
    alice.send("/quit")
    loop.until(lambda: alice.closed)
    assert alice.ended_cleanly


def test_a_peer_closing_without_close_notify_is_an_ordinary_close(tls_loop, pki):
    loop = tls_loop()
    alice = loop.tls_peer(pki.ca_file, "alice")
    bob = loop.peer("bob")
    loop.peers.remove(alice)
    alice.sock.close()
    loop.until(lambda: any(line.startswith("*** alice has left") for line in bob.lines))


def test_a_stalled_handshake_is_timed_out(tls_loop):
    loop = tls_loop()
    stalled = raw_socket(loop.tls_address)
    stalled.sendall(b"\x16\x03\x01\x00\x10")  # a record header, then nothing
    loop.run()
    assert len(loop.server._tls_ports[0]._shaking) == 1
    loop.at(loop.clock.now + tls_port.HANDSHAKE_TIMEOUT + 0.1)
    assert not loop.server._tls_ports[0]._shaking
    assert not loop.server._listeners._unnamed_per_address  # its count was given back
    stalled.setblocking(True)
    stalled.settimeout(5)
    with pytest.raises(ConnectionResetError):
        assert stalled.recv(100) == b""
    stalled.close()


def test_handshakes_count_against_max_per_ip_by_address_group(tls_loop):
    loop = tls_loop(max_per_ip=1)
    first = raw_socket(loop.tls_address)  # shakes hands slowly: still counted
    first.sendall(b"\x16\x03\x01\x00\x10")
    loop.run()
    assert loop.server._listeners._unnamed_per_address == {"loopback": 1}
    # Another loopback address is the same group (`selchat.addresses.address_group`).
    second = socket.create_connection(loop.tls_address, source_address=("127.0.0.2", 0))
    second.settimeout(5)
    loop.run()
    assert len(loop.server._tls_ports[0]._shaking) == 1
    assert second.recv(100) == b""  # refused: closed at once, told nothing
    loop.at(loop.clock.now + tls_port.HANDSHAKE_TIMEOUT + 0.1)
    assert not loop.server._listeners._unnamed_per_address
    first.close()
    second.close()


def test_garbage_instead_of_a_handshake_is_closed(tls_loop):
    loop = tls_loop()
    bad = raw_socket(loop.tls_address)
    bad.sendall(b"hello\nalice\n")
    loop.run()
    assert not loop.server._tls_ports[0]._shaking
    assert not loop.server._conns
    bad.close()


def test_handshakes_are_bounded_per_pass(tls_loop, pki, monkeypatch):
    monkeypatch.setattr(tls_port, "HANDSHAKES_PER_PASS", 2)
    loop = tls_loop()
    peers = [loop.tls_peer(pki.ca_file) for _ in range(6)]
    loop.run(1)  # accepts all six
    assert len(loop.server._tls_ports[0]._shaking) == 6
    loop.run(1)  # reads at most two ClientHellos
    assert sum(peer.shaken for peer in peers) == 2
    loop.until(lambda: all(peer.lines for peer in peers))


def tls12(ca_file):
    context = client_context(ca_file)
    context.maximum_version = ssl.TLSVersion.TLSv1_2
    return context


def test_tls_1_2_chats(tls_loop, pki):
    loop = tls_loop()
    peer = TlsPeer(loop.tls_address, pki.ca_file, context=tls12(pki.ca_file))
    loop.peers.append(peer)
    loop.made.append(peer)
    loop.until(lambda: peer.shaken and peer.lines)
    assert peer.tls.version == "TLSv1.2"
    peer.send("alice")
    loop.until(lambda: any(line.startswith("*** Welcome, alice!") for line in peer.lines))


def test_a_handshake_whose_flight_does_not_fit_waits_for_the_socket(tls_loop, pki,
                                                                    monkeypatch):
    """OpenSSL could not send all of a flight: the newcomer waits for write
    readiness, and the handshake goes on from there."""
    real, waited = ssl.SSLSocket.do_handshake, []

    def do_handshake(sock, *args):
        if not waited:
            waited.append(sock)
            raise ssl.SSLWantWriteError()
        return real(sock, *args)

    monkeypatch.setattr(ssl.SSLSocket, "do_handshake", do_handshake)
    loop = tls_loop()
    peer = loop.tls_peer(pki.ca_file)
    loop.run(2)
    shake = loop.server._tls_ports[0]._shaking.get(waited[0])
    assert shake is None or shake.events == selectors.EVENT_WRITE
    loop.until(lambda: peer.shaken and peer.lines)
    peer.send("alice")
    loop.until(lambda: any(line.startswith("*** Welcome, alice!") for line in peer.lines))


def test_the_heap_is_trimmed_once_a_burst_of_handshakes_is_over(tls_loop, pki, monkeypatch):
    """Not while any handshake is under way, not after each one: once per burst."""
    trims = []
    monkeypatch.setattr(tls_heap, "TRIM_AFTER", 2)
    monkeypatch.setattr(tls_port, "malloc_trim", lambda: trims.append)
    monkeypatch.setattr(tls_port, "HANDSHAKES_PER_PASS", 2)
    loop = tls_loop()
    peers = [loop.tls_peer(pki.ca_file) for _ in range(6)]
    loop.run(3)  # accepted, some of the six handshakes done
    assert loop.server._tls_ports[0]._shaking and not trims
    loop.until(lambda: all(peer.lines for peer in peers))
    assert trims == [0]
    loop.tls_peer(pki.ca_file, "late")  # returns once it is welcomed
    assert trims == [0]  # one more is not a burst


def test_writes_go_to_openssl_without_the_python_wrapper(pki):
    """``SSLSocket.send``'s checks are skipped: its C object's ``write`` seals;
    a socket without one (not CPython's) is written with ``send``."""
    context = Certificates(pki.cert_file, pki.key_file).context
    left, right = socket.socketpair()
    sock = context.wrap_socket(left, server_side=True, do_handshake_on_connect=False)
    assert tls_port.sealer(sock) == sock._sslobj.write

    class Elsewhere:
        def send(self, data):
            return len(data)

    other = Elsewhere()
    assert tls_port.sealer(other) == other.send
    sock.close()
    right.close()


@pytest.mark.parametrize("how", ["before_close", "discard_output"])
def test_a_closing_connection_writes_through_send_again(tls_loop, pki, how):
    """OpenSSL's object keeps the descriptor's number after the socket closes (the
    next socket may get it): a closing connection stops writing through it."""
    loop = tls_loop()
    loop.tls_peer(pki.ca_file, "alice")
    conn = loop.conn("alice")
    assert conn._seal == conn.sock._sslobj.write
    getattr(conn, how)()
    assert conn._seal == conn.sock.send
