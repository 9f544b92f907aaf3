import pytest
from selchat.sendbuf import SendBuffer

pytestmark = pytest.mark.pure


def test_appends_are_sent_as_one_piece():
    out = SendBuffer()
    shared = b"<a> broadcast\n"
    out.append(shared)
    out.append(b"*** notice\n")
    assert out.pending == len(shared) + 11
    assert out.view() == shared + b"*** notice\n"


def test_partial_send_keeps_the_tail_in_order():
    out = SendBuffer()
    out.append(b"abcdef")
    out.advance(4)
    out.append(b"gh")
    assert out.pending == 4
    assert out.view() == b"efgh"
    out.advance(4)
    assert out.pending == 0 and out.view() == b""


def test_zero_byte_send_changes_nothing():
    out = SendBuffer()
    out.append(b"xyz")
    out.advance(0)
    assert out.view() == b"xyz"
