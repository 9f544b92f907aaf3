"""Clients that stop reading: dropped by the output limits, never slowing the others."""
import re
import time


from conftest import MiB, process, read_until, reset, wait_for


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
