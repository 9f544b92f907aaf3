import pytest
"""Connection's error translation, driven by a scripted fake socket (CPython's habit)."""
from selchat.connection import Connection

pytestmark = pytest.mark.pure


class FakeSocket:
    def __init__(self, sends=(), recvs=()):
        self.sends = list(sends)  # each: an int (bytes accepted) or an exception
        self.recvs = list(recvs)
        self.sent = []

    def send(self, data):
        result = self.sends.pop(0)
        if isinstance(result, BaseException):
            raise result
        self.sent.append(bytes(data[:result]))
        return result

    def recv_into(self, buffer):
        result = self.recvs.pop(0)
        if isinstance(result, BaseException):
            raise result
        buffer[:len(result)] = result
        return len(result)


def conn_with(sock, *queued):
    conn = Connection(sock, 1, 4096, None)
    for data in queued:
        conn.out.append(data)
    return conn


def test_everything_queued_goes_in_one_send():
    sock = FakeSocket(sends=[12])
    conn = conn_with(sock, b"<a> one\n", b"two\n")
    assert conn.flush() is True
    assert sock.sent == [b"<a> one\ntwo\n"]


def test_partial_send_keeps_the_rest_for_later():
    sock = FakeSocket(sends=[3, 5])
    conn = conn_with(sock, b"abcdefgh")
    assert conn.flush() is False and conn.out.pending == 5
    assert conn.flush() is True
    assert sock.sent == [b"abc", b"defgh"]


def test_would_block_and_eintr_mean_later():
    sock = FakeSocket(sends=[BlockingIOError(), InterruptedError(), 4])
    conn = conn_with(sock, b"data")
    assert conn.flush() is False
    assert conn.flush() is False
    assert not conn.failed
    assert conn.flush() is True


def test_vanished_peer_marks_the_connection_failed():
    for error in (BrokenPipeError(), ConnectionResetError()):
        conn = conn_with(FakeSocket(sends=[error]), b"data")
        assert conn.flush() is False
        assert conn.failed


def test_flush_with_nothing_queued_makes_no_syscall():
    assert conn_with(FakeSocket()).flush() is True


def test_read_once():
    conn = conn_with(FakeSocket(recvs=[b"hi\n", BlockingIOError(), InterruptedError(), b""]))
    buffer = memoryview(bytearray(16))
    assert conn.read_once(buffer) == 3 and buffer[:3] == b"hi\n"
    assert conn.read_once(buffer) is None
    assert conn.read_once(buffer) is None
    assert conn.read_once(buffer) == 0 and not conn.failed


def test_reset_reads_as_end_of_stream_and_failure():
    conn = conn_with(FakeSocket(recvs=[ConnectionResetError()]))
    assert conn.read_once(memoryview(bytearray(16))) == 0
    assert conn.failed
