"""`Server.run_once` driven pass by pass, with a fake clock and real sockets.

Every deadline of the server (name timeout, close grace, flood refill, the soft
output limit, shutdown grace, accept back-off) is a timer on the clock the
server is given. Here that clock only moves when a test moves it, so each
deadline is checked to the instant: nothing just before it, the effect once it
has come. The sockets are real (127.0.0.1, port 0); the server runs in this
thread, one ``run_once(0)`` at a time, between the peers' reads. Loopback
delivers a send into the receiver's queue before ``send`` returns, so "a few
more passes brought nothing" is a fact, not a guess.
"""
import errno
import logging
import socket
import time

import pytest

from selchat.limits import KiB, MiB, Limits
from selchat.server import CLOSE_GRACE, SHUTDOWN_GRACE, Server
from support.constants import HELLO, TIMEOUT
from support.fake_loop import FakeClock, Loop, Peer

SHUTTING_DOWN = "*** Server is shutting down."
SLOW_DOWN = "*** slow down: at most 2 lines a second; your lines are queued"
EPSILON = 1e-6  # "just before" a deadline: far above the clock's rounding at START


def fill(loop: Loop, talker: Peer, watcher: Peer, reader: str, at_least: int) -> int:
    """`talker` chats until more than `at_least` bytes wait in selchat for member
    `reader` (who is not reading); `watcher` keeps up. Returns the lines sent."""
    conn, sent = loop.conn(reader), 0
    # A fixed send buffer: the kernel's autotuning could otherwise grow it later and
    # take what the test counts on waiting in selchat.
    conn.sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    while conn.out.pending <= at_least:
        talker.send(*[f"{sent + i:05d} " + "x" * 994 for i in range(32)])
        sent += 32
        last = f"<{talker_name(loop, talker)}> {sent - 1:05d} "
        loop.until(lambda last=last: watcher.data.rfind(last.encode()) >= 0)
        assert sent < 20_000, "the kernel took more than 20 MB for one client"
    return sent


def talker_name(loop: Loop, peer: Peer) -> str:
    return next(line for line in peer.lines if line.startswith("*** Welcome, ")) \
        .split(",")[1].split("!")[0].strip()


# -- name timeout -------------------------------------------------------------------------


def test_the_name_timeout_fires_when_its_time_has_come_and_not_before(in_process_server):
    loop = in_process_server(name_timeout=30.0)
    alice = loop.peer("alice")
    silent = loop.peer()
    loop.until(lambda: silent.lines == [HELLO])
    accepted = loop.clock.now
    loop.at(accepted + 30.0 - EPSILON)
    assert silent.lines == [HELLO] and not silent.closed
    loop.at(accepted + 30.0)
    loop.until(lambda: silent.closed)
    assert silent.lines == [HELLO, "!!! name timeout: no name received in 30 s"]
    # alice joined before the timeout and has idled past it: still here, told nothing
    alice.send("/who")
    loop.until(lambda: alice.lines[-1].startswith("*** Online"))
    assert alice.lines[2:] == ["*** Online (1): alice"]


def test_a_name_chosen_in_time_cancels_the_timeout(in_process_server):
    loop = in_process_server(name_timeout=30.0)
    late = loop.peer()
    loop.until(lambda: late.lines == [HELLO])
    accepted = loop.clock.now
    loop.at(accepted + 29.5)
    late.send("late")
    loop.until(lambda: len(late.lines) == 2)
    loop.at(accepted + 60.0)
    late.send("/who")
    loop.until(lambda: len(late.lines) == 3)
    assert late.lines[2] == "*** Online (1): late" and not late.closed


# -- close grace --------------------------------------------------------------------------


def test_a_goodbye_nobody_reads_is_closed_at_the_close_grace_and_not_before(
        in_process_server, caplog):
    """bob says /quit with half a megabyte queued for him and never reads again: his
    connection is held for CLOSE_GRACE (his lines might still be taken), then dropped."""
    caplog.set_level(logging.INFO, logger="selchat")
    loop = in_process_server(flood_rate=0, soft_output=64 * MiB)
    alice = loop.peer("alice")
    bob = loop.peer("bob", rcvbuf=4096, reads=False)
    loop.until(lambda: "*** bob has joined the chat room." in alice.lines)
    carol = loop.peer("carol")
    fill(loop, alice, carol, "bob", 256 * KiB)
    conn = loop.conn("bob")
    bob.sock.sendall(b"/quit\n")  # and never reads again
    loop.until(lambda: "*** bob has left the chat room." in alice.lines)
    said_goodbye = loop.clock.now
    loop.at(said_goodbye + CLOSE_GRACE - EPSILON)
    assert conn in loop.server._conns and conn.out.pending > 0
    assert "did not take its last lines in time" not in caplog.text
    loop.at(said_goodbye + CLOSE_GRACE)
    assert conn not in loop.server._conns
    assert "connection 2 closed: did not take its last lines in time" in caplog.text
    loop.peers.append(bob)  # what he reads now: part of the backlog, then the end
    loop.until(lambda: bob.closed)
    assert b"*** Goodbye, bob." not in bob.data


def test_a_goodbye_that_is_read_closes_at_once(in_process_server):
    loop = in_process_server(flood_rate=0)
    alice, bob = loop.peer("alice"), loop.peer("bob")
    bob.send("/quit")
    loop.until(lambda: bob.closed)  # no clock moved: drained, so closed in the same pass
    assert bob.lines[-1] == "*** Goodbye, bob."
    assert alice.lines[-1] == "*** bob has left the chat room."


# -- flood refill -------------------------------------------------------------------------


def test_held_back_lines_come_out_as_the_clock_refills_the_bucket(in_process_server):
    burst, rate = 3, 2.0
    loop = in_process_server(flood_burst=burst, flood_rate=rate)
    watcher = loop.peer("watcher")
    sender = loop.peer("sender")  # its name took one token: two are left
    loop.until(lambda: watcher.lines[-1] == "*** sender has joined the chat room.")
    sender.send(*[f"line {i}" for i in range(12)])
    chat = lambda: [line for line in watcher.lines if line.startswith("<sender> ")]  # noqa: E731
    loop.until(lambda: len(chat()) == 2)
    start = loop.clock.now
    loop.run(20)
    assert chat() == ["<sender> line 0", "<sender> line 1"]  # held: the clock has not moved
    assert sender.lines[-1] == SLOW_DOWN
    # One token every 1 / rate seconds: one line each time, not a moment before.
    for k in range(1, 5):
        loop.at(start + k / rate - EPSILON)
        assert len(chat()) == 1 + k
        loop.at(start + k / rate)
        assert len(chat()) == 2 + k
    # A long pause refills the bucket to its burst, never beyond.
    assert sender.lines.count(SLOW_DOWN) == 1  # told once, not per line held
    loop.at(start + 100.0)
    assert len(chat()) == 6 + burst
    loop.at(start + 100.0 + 3 / rate)
    assert chat() == [f"<sender> line {i}" for i in range(12)]


def test_a_burst_that_fits_the_bucket_is_not_told_to_slow_down(in_process_server):
    loop = in_process_server(flood_burst=3, flood_rate=2.0)
    sender = loop.peer("sender")
    watcher = loop.peer("watcher")
    loop.at(loop.clock.now + 10.0)  # the name's token is back: the bucket is full
    sender.send("one", "two", "three")  # exactly the burst
    loop.until(lambda: watcher.lines[-1:] == ["<sender> three"])
    loop.run(20)
    assert SLOW_DOWN not in sender.lines


# -- soft output limit --------------------------------------------------------------------


def test_over_the_soft_limit_drops_only_after_its_time_and_a_reader_that_catches_up_stays(
        in_process_server, caplog):
    caplog.set_level(logging.INFO, logger="selchat")
    soft, seconds = 64 * KiB, 10.0
    loop = in_process_server(flood_rate=0, soft_output=soft, soft_output_seconds=seconds)
    talker = loop.peer("talker")
    watcher = loop.peer("watcher")
    loop.peer("sleeper", rcvbuf=4096, reads=False)  # never reads again
    catcher = loop.peer("catcher", rcvbuf=4096, reads=False)  # reads late, but in time
    loop.until(lambda: talker.lines[-1] == "*** catcher has joined the chat room.")
    fill(loop, talker, watcher, "sleeper", soft)
    fill(loop, talker, watcher, "catcher", soft)
    assert loop.conn("sleeper").out.pending > soft
    over = loop.clock.now  # both are over now (the sleeper maybe since a pass before)
    loop.at(over + seconds / 2)
    loop.peers.append(catcher)  # the catcher reads everything, well in time
    loop.until(lambda: loop.conn("catcher").out.pending == 0)
    loop.at(over + seconds - EPSILON)
    assert "not reading" not in caplog.text
    assert "*** sleeper has left the chat room." not in watcher.lines
    loop.at(over + seconds)
    loop.until(lambda: "*** sleeper has left the chat room." in watcher.lines)
    assert "*** catcher has left the chat room." not in watcher.lines
    assert f"(sleeper) is not reading: output queue over {soft} bytes for 10 s" in caplog.text
    assert "(sleeper) closed: too slow" in caplog.text
    assert "(catcher) is not reading" not in caplog.text
    talker.send("after")
    loop.until(lambda: catcher.lines[-1] == "<talker> after")


def test_the_soft_limit_judges_a_backlog_held_all_along_not_two_spells(in_process_server, caplog):
    """Over, drained, over again: the time counts from the second spell."""
    caplog.set_level(logging.INFO, logger="selchat")
    soft, seconds = 64 * KiB, 10.0
    loop = in_process_server(flood_rate=0, soft_output=soft, soft_output_seconds=seconds)
    talker, watcher = loop.peer("talker"), loop.peer("watcher")
    dozer = loop.peer("dozer", rcvbuf=4096, reads=False)
    fill(loop, talker, watcher, "dozer", soft)
    first = loop.clock.now
    loop.at(first + 5.0)
    loop.peers.append(dozer)  # reads it all ...
    loop.until(lambda: loop.conn("dozer").out.pending == 0)
    loop.peers.remove(dozer)  # ... and dozes off again
    loop.at(first + 6.0)
    fill(loop, talker, watcher, "dozer", soft)
    loop.at(first + seconds)  # the first spell's check: not over for 10 s in a row
    assert "(dozer) is not reading" not in caplog.text
    loop.at(first + 6.0 + seconds - EPSILON)
    assert "(dozer) is not reading" not in caplog.text
    loop.at(first + 6.0 + seconds)
    loop.until(lambda: "*** dozer has left the chat room." in watcher.lines)
    assert f"(dozer) is not reading: output queue over {soft} bytes for 10 s" in caplog.text


# -- shutdown grace -----------------------------------------------------------------------


def test_shutdown_waits_for_a_client_that_never_reads_until_the_grace_is_over(in_process_server):
    loop = in_process_server(flood_rate=0, soft_output=64 * MiB)
    talker = loop.peer("talker")
    sleeper = loop.peer("sleeper", rcvbuf=4096, reads=False)  # never reads
    watcher = loop.peer("watcher")
    fill(loop, talker, watcher, "sleeper", 64 * KiB)
    stranger = loop.peer()
    loop.until(lambda: stranger.lines == [HELLO])
    loop.server.stop()
    stopped = loop.clock.now
    loop.until(lambda: talker.closed and watcher.closed and stranger.closed)
    for peer in (talker, watcher, stranger):
        assert peer.lines[-1] == SHUTTING_DOWN
    loop.at(stopped + SHUTDOWN_GRACE - EPSILON)
    assert not loop.server.finished()
    loop.at(stopped + SHUTDOWN_GRACE)
    assert loop.server.finished()
    loop.server.close()
    sleeper.sock.setblocking(True)
    sleeper.sock.settimeout(TIMEOUT)
    with pytest.raises((ConnectionResetError, AssertionError)):
        while sleeper.sock.recv(1 << 20):  # the backlog, then the reset of the final close
            pass
        raise AssertionError("ended without a reset")


def test_shutdown_with_everyone_reading_finishes_at_once(in_process_server):
    loop = in_process_server()
    alice = loop.peer("alice")
    loop.server.stop()
    loop.until(lambda: alice.closed)
    assert loop.server.finished()  # not a moment of grace spent
    assert alice.lines[-1] == SHUTTING_DOWN


# -- accept back-off ----------------------------------------------------------------------


class OutOfDescriptors(socket.socket):
    """A listening socket whose accept() fails with EMFILE while `failing`."""

    failing = False
    attempts = 0

    def accept(self):
        OutOfDescriptors.attempts += 1
        if OutOfDescriptors.failing:
            raise OSError(errno.EMFILE, "Too many open files")
        return super().accept()


def test_out_of_descriptors_stops_accepting_until_the_retry_delay(caplog):
    from selchat.listeners import ACCEPT_RETRY_DELAY
    caplog.set_level(logging.INFO, logger="selchat")
    listener = OutOfDescriptors(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    clock = FakeClock()
    server = Server(listener, Limits(), clock)
    OutOfDescriptors.failing, OutOfDescriptors.attempts = True, 0
    peer = Peer(listener.getsockname())
    try:
        deadline = time.monotonic() + TIMEOUT
        while OutOfDescriptors.attempts == 0:
            server.run_once(0)
            assert time.monotonic() < deadline
        paused = clock.now
        for _ in range(50):  # the listener stays readable: the loop must not spin on it
            server.run_once(0)
        assert OutOfDescriptors.attempts == 1
        assert caplog.text.count("out of file descriptors") == 1
        OutOfDescriptors.failing = False
        clock.now = paused + ACCEPT_RETRY_DELAY - EPSILON
        server.run_once(0)
        peer.take()
        assert OutOfDescriptors.attempts == 1 and not peer.data
        clock.now = paused + ACCEPT_RETRY_DELAY
        while not peer.data:
            server.run_once(0)
            peer.take()
            assert time.monotonic() < deadline
        assert peer.lines == [HELLO]
        assert "accepting again" in caplog.text
    finally:
        OutOfDescriptors.failing = False
        peer.close()
        server.close()


# -- membership ---------------------------------------------------------------------------


def test_an_unnamed_connection_hears_nothing_of_the_room(in_process_server):
    loop = in_process_server(flood_rate=0)
    alice, bob = loop.peer("alice"), loop.peer("bob")
    stranger = loop.peer()
    loop.until(lambda: stranger.lines == [HELLO])
    carol = loop.peer("carol")  # a join, chat, an action, a rename, a leave
    for who, line, heard in [(alice, "hello room", "<alice> hello room"),
                             (alice, "/me waves", "* alice waves"),
                             (bob, "/nick robert", "*** bob is now known as robert"),
                             (carol, "/quit", "*** carol has left the chat room."),
                             (alice, "marker", "<alice> marker")]:
        who.send(line)
        loop.until(lambda heard=heard: bob.lines[-1] == heard)  # bob, a member, heard each of them
    loop.run(20)
    assert bytes(stranger.data) == (HELLO + "\n").encode()
