"""Clients that stop reading: dropped by the output limits, never slowing the others."""
import re
import threading
import time

import psutil

from selchat.limits import Limits
from support.clients import read_until, reset
from support.constants import TIMEOUT, MiB
from support.servers import process
from support.waiting import wait_for


def test_a_client_that_never_reads_is_dropped_and_the_others_miss_nothing(chat_server, clients):
    server = chat_server("--flood-rate", "0", "--max-output", "65536")
    slow = clients(server, "slow", rcvbuf=4096)  # joins, then never reads again
    sender = clients(server, "sender")
    watcher = clients(server, "watcher")
    sender.expect("*** watcher has joined the chat room.")
    rss_before = process(server).memory_info().rss
    # 16 MiB of chat in 1000-byte lines, sent in 64 KB rounds that the watcher keeps up
    # with (a watcher more than --max-output behind would rightly be dropped too).
    sent, seen = [], []
    for round_ in range(256):
        lines = [f"{round_:03d}.{i:02d} " + "x" * 993 for i in range(64)]
        sender.send(*lines)
        sent += lines
        seen += read_until(watcher, "<sender> " + lines[-1])
    rss_grown = process(server).memory_info().rss - rss_before
    sender.send("end")
    seen += read_until(watcher, "<sender> end")
    chat = [line for line in seen if line.startswith("<")]
    assert chat == [f"<sender> {line}" for line in sent + ["end"]]
    assert [line for line in seen if not line.startswith("<")] == [
        "*** slow has left the chat room."]
    sender.expect("*** slow has left the chat room.")
    slow.expect_closed()
    assert rss_grown < 8 * MiB, f"server RSS grew by {rss_grown / MiB:.1f} MiB"
    assert server.stop() == 0
    log = server.log()
    assert re.search(r"connection \d+ \(slow\) is not reading: \d+ bytes of output queued, "
                     r"over the hard limit of 65536", log), log[-2000:]
    assert len(re.findall(r"\) is not reading: ", log)) == 1
    assert re.search(r"connection \d+ \(slow\) closed: too slow", log)


def test_a_peer_gone_mid_write_is_cleaned_up_at_once(chat_server, clients):
    """bob stops reading with megabytes queued for him, then resets: he leaves at once (not
    after a close grace or keepalive), and his descriptor is released."""
    server = chat_server("--flood-rate", "0", "--max-output", str(64 * MiB))
    alice, carol = clients(server, "alice"), clients(server, "carol")
    alice.line()
    fds_before = process(server).num_fds()
    bob = clients(server, "bob", rcvbuf=4096)
    alice.expect("*** bob has joined the chat room.")
    carol.line()
    carol.send(*[f"{i:04d} " + "x" * 995 for i in range(6000)], "mark")
    read_until(alice, "<carol> mark")  # by now the server holds output for bob
    reset(bob)
    started = time.monotonic()
    alice.expect("*** bob has left the chat room.")
    assert time.monotonic() - started < 2.0
    wait_for(lambda: process(server).num_fds() == fds_before)
    carol.send("still here")
    alice.expect("<carol> still here")


# -- many slow readers held under the soft limit ------------------------------------------

SLOW_READERS = 50


def _thread_cpu(native_id: int) -> float:
    """CPU seconds (user + system) one thread of this process has used."""
    for thread in psutil.Process().threads():
        if thread.id == native_id:
            return thread.user_time + thread.system_time
    raise AssertionError(f"no thread {native_id}")


def test_fifty_readers_parked_under_the_soft_limit_cost_no_cpu_and_chat_flows(in_process_server):
    """50 members that stopped reading, each with ~200 KiB queued in selchat (just under
    the 256 KiB soft limit, so never dropped): the server sleeps in select() between
    chat lines, as if they were not there. The server runs in this process (its
    queues are read back to place them under the limit), in a thread of its own for
    the measured second, on the real clock."""
    soft = Limits().soft_output
    loop = in_process_server(clock=time.monotonic, flood_rate=0)
    alice, bob = loop.peer("alice"), loop.peer("bob")
    for i in range(SLOW_READERS):  # they join, then never read again
        loop.peer(f"p{i}", rcvbuf=4096, reads=False)
    conns = [loop.conn(f"p{i}") for i in range(SLOW_READERS)]
    sent = 0
    while min(conn.out.pending for conn in conns) < 192 * 1024:
        lines = 32 if max(conn.out.pending for conn in conns) == 0 else 4  # kernel first
        alice.send(*[f"{sent + i:05d} " + "x" * 994 for i in range(lines)])
        sent += lines
        last = f"{sent - 1:05d} {'x' * 994}\n".encode()
        loop.until(lambda last=last: bob.data.endswith(last))
        assert sent < 20_000
    pending = sorted(conn.out.pending for conn in conns)
    assert pending[-1] < soft, f"queued for the parked: {pending[0]}..{pending[-1]} bytes"

    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            loop.server.run_once(0.05)

    server_thread = threading.Thread(target=serve)
    server_thread.start()
    try:
        for peer in (alice, bob):
            peer.sock.setblocking(True)
            peer.sock.settimeout(TIMEOUT)
        started = time.monotonic()
        cpu_before = _thread_cpu(server_thread.native_id)
        exchanged = 0
        while time.monotonic() - started < 1.0:  # a measured second of chat
            for me in (alice, bob):
                me.sock.sendall(f"ping {exchanged}\n".encode())
                them = bob if me is alice else alice
                wanted = f"<{'alice' if me is alice else 'bob'}> ping {exchanged}\n".encode()
                while not them.data.endswith(wanted):
                    chunk = them.sock.recv(1 << 16)
                    assert chunk, "connection closed"
                    them.data += chunk
            exchanged += 1
            time.sleep(0.02)  # people type: about 25 lines a second each, not a busy loop
        elapsed = time.monotonic() - started
        cpu = (_thread_cpu(server_thread.native_id) - cpu_before) / elapsed
    finally:
        stop.set()
        server_thread.join(TIMEOUT)
    assert exchanged >= 10, f"only {exchanged} exchanges in {elapsed:.1f} s"
    assert cpu < 0.2, f"the server used {cpu:.0%} of a CPU"  # measured: 1 %; spinning: 70 %
    assert all(conn in loop.server._conns and conn.out.pending > 0 for conn in conns)
    print(f"{exchanged} exchanges; server CPU {cpu:.1%}; parked queues "
          f"{pending[0] // 1024}..{pending[-1] // 1024} KiB")


def test_over_the_soft_limit_for_its_time_is_dropped_with_a_log_line(chat_server, clients):
    server = chat_server("--flood-rate", "0", "--soft-output-seconds", "1")
    clients(server, "sleeper", rcvbuf=4096)  # joins, then never reads again
    talker = clients(server, "talker")
    watcher = clients(server, "watcher")
    # 4 MB: past the kernel's buffers for the sleeper (~3 MB), so ~1 MB queued in selchat,
    # over the 256 KiB soft limit and far under the hard one.
    talker.send(*[f"{i:04d} " + "x" * 994 for i in range(4000)], "done")
    read_until(watcher, "<talker> done")
    filled = time.monotonic()
    read_until(watcher, "*** sleeper has left the chat room.")
    assert time.monotonic() - filled < 1.0 + 5  # its second, give or take a loaded machine
    log = server.log()
    assert re.search(r"connection \d+ \(sleeper\) is not reading: output queue over 262144 "
                     r"bytes for 1 s", log), log[-2000:]
    assert re.search(r"connection \d+ \(sleeper\) closed: too slow", log)
    talker.send("after")
    watcher.expect("<talker> after")
    assert not re.search(r"\((talker|watcher)\) is not reading", log)
