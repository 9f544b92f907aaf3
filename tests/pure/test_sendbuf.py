"""SendBuffer: queued references, memoryview tails, never a copy of shared bytes."""
import pytest

from selchat.sendbuf import IOV_MAX, SendBuffer


def joined(out):
    return b"".join(out.buffers())


def test_appends_are_kept_as_the_very_objects_given():
    out = SendBuffer()
    shared = b"<a> broadcast\n"
    out.append(shared)
    out.append(b"*** notice\n")
    assert out.pending == len(shared) + 11
    assert out.buffers()[0] is shared  # shared by every recipient, not copied
    assert joined(out) == shared + b"*** notice\n"


def test_partial_send_keeps_the_tail_as_a_view_in_order():
    out = SendBuffer()
    data = b"abcdef"
    out.append(data)
    out.advance(4)
    head = out.buffers()[0]
    assert isinstance(head, memoryview) and head.obj is data  # a slice, not a copy
    out.append(b"gh")
    assert out.pending == 4
    assert joined(out) == b"efgh"
    out.advance(4)
    assert out.pending == 0 and out.buffers() == []


@pytest.mark.parametrize("sent, rest", [
    (0, b"abcdefgh"), (1, b"bcdefgh"), (3, b"defgh"), (5, b"fgh"), (7, b"h"), (8, b""),
])
def test_advance_across_chunk_boundaries(sent, rest):
    out = SendBuffer()
    out.extend([b"abc", memoryview(b"xde")[1:], b"fgh"], 8)
    out.advance(sent)
    assert joined(out) == rest and out.pending == len(rest)


def test_one_sendmsg_carries_at_most_iov_max_buffers():
    out = SendBuffer()
    for _ in range(IOV_MAX + 5):
        out.append(b"x")
    assert len(out.buffers()) == IOV_MAX
    out.advance(IOV_MAX)
    assert len(out.buffers()) == 5
