"""Connection's error translation, driven by a scripted fake socket (CPython's habit)."""
import pytest

from selchat.connection import GONE, Connection, Kind
from selchat.framing import LineBuffer


class FakeSocket:
    def __init__(self, sends=(), recvs=()):
        self.sends = list(sends)  # each: an int (bytes accepted) or an exception
        self.recvs = list(recvs)
        self.sent = []  # one entry per send or sendmsg call

    def _take(self, data):
        result = self.sends.pop(0)
        if isinstance(result, BaseException):
            raise result
        self.sent.append(bytes(data)[:result])
        return result

    def send(self, data):
        return self._take(data)

    def sendmsg(self, buffers):
        return self._take(b"".join(buffers))

    def recv_into(self, buffer, size):
        result = self.recvs.pop(0)
        if isinstance(result, BaseException):
            raise result
        buffer[:len(result)] = result
        return len(result)


def conn_with(sock, *queued):
    conn = Connection(sock, 1, Kind(), LineBuffer(4096), None)
    for data in queued:
        conn.out.append(data)
    return conn


def test_everything_queued_goes_in_one_call():
    sock = FakeSocket(sends=[12])
    conn = conn_with(sock, b"<a> one\n", b"two\n")
    assert conn.flush() == 0
    assert sock.sent == [b"<a> one\ntwo\n"]


def test_partial_send_keeps_the_rest_for_later():
    sock = FakeSocket(sends=[3, 5])
    conn = conn_with(sock, b"abcdefgh")
    assert conn.flush() == 5
    assert conn.flush() == 0
    assert sock.sent == [b"abc", b"defgh"]


def test_write_sends_at_once_when_nothing_is_queued_and_keeps_the_tail():
    sock = FakeSocket(sends=[4, 2])
    conn = conn_with(sock)
    data = b"<a> hi\n"
    assert conn.write(data) == 3
    assert conn.out.buffers()[0].obj is data  # the tail is a view of the shared bytes
    assert conn.write(b"more\n") == 8  # behind queued output: queued, no syscall
    assert sock.sent == [b"<a> "]


def test_write_pieces_is_one_sendmsg_and_queues_what_did_not_go():
    shared = b"<a> 1\n<b> 2\n<c> 3\n"
    view = memoryview(shared)
    pieces = [view[0:6], view[12:18]]
    sock = FakeSocket(sends=[8])
    conn = conn_with(sock)
    assert conn.write_pieces(pieces) == 4
    assert sock.sent == [b"<a> 1\n<c"]
    assert b"".join(conn.out.buffers()) == b"> 3\n"


def test_would_block_and_eintr_mean_later():
    sock = FakeSocket(sends=[BlockingIOError(), InterruptedError(), 4])
    conn = conn_with(sock, b"data")
    assert conn.flush() == 4
    assert conn.flush() == 4
    assert conn.flush() == 0


@pytest.mark.parametrize("error", [BrokenPipeError(), ConnectionResetError()])
def test_vanished_peer_is_gone(error):
    assert conn_with(FakeSocket(sends=[error]), b"data").flush() == GONE
    assert conn_with(FakeSocket(sends=[error])).write(b"data") == GONE


def test_flush_with_nothing_queued_makes_no_syscall():
    assert conn_with(FakeSocket()).flush() == 0


def test_read_once():
    conn = conn_with(FakeSocket(recvs=[b"hi\n", BlockingIOError(), InterruptedError(), b""]))
    buffer = memoryview(bytearray(16))
    assert conn.read_once(buffer, 16) == 3 and buffer[:3] == b"hi\n"
    assert conn.read_once(buffer, 16) is None
    assert conn.read_once(buffer, 16) is None
    assert conn.read_once(buffer, 16) == 0


def test_reset_reads_as_gone():
    conn = conn_with(FakeSocket(recvs=[ConnectionResetError()]))
    assert conn.read_once(memoryview(bytearray(16)), 16) == GONE
