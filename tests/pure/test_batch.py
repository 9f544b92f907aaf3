"""The pass batch: who gets which bytes, in decision order (no sockets)."""
from selchat.batch import Batch


A, B, C, NEW = "a", "b", "c", "new"


def deliveries(batch, members):
    shared, own = batch.split(members)
    mine = {who: b"".join(pieces) for who, pieces in own.items()}
    return {who: mine.get(who, shared) for who in members} | {
        who: data for who, data in mine.items() if who not in members}


def test_broadcasts_are_shared_and_the_sender_hears_no_echo():
    batch = Batch()
    batch.broadcast(b"<a> 1\n", exclude=A)
    batch.broadcast(b"<b> 2\n", exclude=B)
    batch.broadcast(b"*** note\n")
    shared, own = batch.split([A, B, C])
    assert shared == b"<a> 1\n<b> 2\n*** note\n"
    assert set(own) == {A, B}
    assert b"".join(own[A]) == b"<b> 2\n*** note\n"
    assert b"".join(own[B]) == b"<a> 1\n*** note\n"


def test_own_pieces_are_slices_of_the_shared_bytes_not_copies():
    batch = Batch()
    for n in range(3):
        batch.broadcast(b"<a> %d\n" % n, exclude=A)
        batch.broadcast(b"<b> %d\n" % n, exclude=B)
    shared, own = batch.split([A, B, C])
    assert all(isinstance(piece, memoryview) and piece.obj is shared for piece in own[A])
    assert b"".join(own[A]) == b"<b> 0\n<b> 1\n<b> 2\n"


def test_recipients_are_compared_by_equality_not_identity():
    # Two equal keys built separately are one recipient, as for a dict.
    first, second = "".join(["se", "ss"]), "".join(["s", "ess"])
    assert first == second and first is not second
    batch = Batch()
    batch.broadcast(b"one\n")
    batch.send(b"direct\n", first)
    batch.broadcast(b"two\n", exclude=first)
    got = deliveries(batch, [A, second])
    assert got[second] == b"one\ndirect\n"
    assert got[A] == b"one\ntwo\n"


def test_sends_keep_their_place_among_broadcasts():
    batch = Batch()
    batch.broadcast(b"one\n")
    batch.send(b"just for b\n", B)
    batch.broadcast(b"two\n")
    got = deliveries(batch, [A, B])
    assert got[A] == b"one\ntwo\n"
    assert got[B] == b"one\njust for b\ntwo\n"


def test_a_newcomer_hears_only_what_came_after_it_joined():
    batch = Batch()
    batch.broadcast(b"before\n", exclude=A)
    batch.send(b"hello\n", NEW)
    batch.joined(NEW)
    batch.send(b"welcome\n", NEW)
    batch.broadcast(b"new joined\n", exclude=NEW)
    batch.broadcast(b"after\n", exclude=B)
    got = deliveries(batch, [A, B, NEW])
    assert got[NEW] == b"hello\nwelcome\nafter\n"
    assert got[A] == b"new joined\nafter\n"
    assert got[B] == b"before\nnew joined\n"


def test_a_leaver_hears_only_what_came_before_it_left():
    batch = Batch()
    batch.broadcast(b"before\n")
    batch.left(B)
    batch.send(b"goodbye\n", B)
    batch.broadcast(b"b left\n")
    got = deliveries(batch, [A])
    assert got[B] == b"before\ngoodbye\n"
    assert got[A] == b"before\nb left\n"


def test_join_and_leave_in_one_pass():
    batch = Batch()
    batch.broadcast(b"x\n")
    batch.joined(NEW)
    batch.broadcast(b"y\n")
    batch.left(NEW)
    batch.broadcast(b"z\n")
    assert deliveries(batch, [A])[NEW] == b"y\n"


def test_non_members_get_only_their_sends():
    batch = Batch()
    batch.broadcast(b"room\n")
    batch.send(b"!!! name taken\n", C)
    assert deliveries(batch, [A])[C] == b"!!! name taken\n"


def test_empty_batch():
    batch = Batch()
    assert not batch
    assert batch.split([A]) == (b"", {})
