"""Issue 26 against a real server: a /who PATTERN burst in a room of 2,000, and
a hundred resumers asking for all the history. The CPU and memory bounds are
read with psutil from a `selchat serve` process, with wide margins."""
import random
import resource
import socket
import time
from typing import List

import psutil
import pytest

from selchat.tags import split_tags
from support.clients import LineClient, reset
from support.constants import TIMEOUT, MiB
from support.servers import ServerProcess
from support.waiting import wait_for

ROOM = 2000
SEARCHERS = 30
#: Patterns that match many names: the costliest searches before (a sort of the matches).
BROAD = [*"0123456789", "m", "M", "m0", "M0", "m1", "M1", *(f"{n:02d}" for n in range(100))]
#: Server CPU over a /who PATTERN burst from SEARCHERS members within their flood
#: limits in a room of ROOM. Unpriced 2-8 ms searches took a whole core here;
#: charged (3 tokens each) and cached they take about 5 %.
WHO_CPU_BOUND = 0.25
RESUMERS = 100
HISTORY_LINE = 4000
#: Server RSS growth while RESUMERS resumers that do not read are queued the whole
#: history (1000 lines of 4 KB): a copy each was ~4 MB a resumer (400 MB); the
#: history's own bytes shared cost a list of pointers each (measured: 2-6 MB).
REPLAY_RSS_GROWTH = 20 * MiB


# -- /who PATTERN ------------------------------------------------------------------------

def room_of(server: ServerProcess, size: int) -> List[socket.socket]:
    """`size` members who joined and never read (the kernel holds their notices)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < size + 300:
        if hard != resource.RLIM_INFINITY and hard < size + 300:
            pytest.skip(f"open-file limit {hard} is too low for {size} connections")
        resource.setrlimit(resource.RLIMIT_NOFILE, (size + 300, hard))
    crowd = []
    for n in range(size):
        sock = socket.create_connection(server.address, timeout=TIMEOUT)
        sock.sendall(f"m{n:04d}\n".encode())
        crowd.append(sock)
    return crowd


def test_a_who_pattern_burst_in_a_room_of_2000_takes_little_cpu(chat_server):
    server = chat_server("--max-per-ip", "0")
    process = psutil.Process(server.proc.pid)
    crowd = room_of(server, ROOM - SEARCHERS)
    searchers = [LineClient(server.address, f"s{n:02d}") for n in range(SEARCHERS)]
    try:
        wait_for(lambda: f"({ROOM}):" in (searchers[-1].send("/who"), searchers[-1].line())[1],
                 timeout=60)
        chooser = random.Random(26)
        cpu = process.cpu_times()
        started = time.monotonic()
        for searcher in searchers:  # more than their flood budget allows: the rest waits
            searcher.send(*[f"/who {chooser.choice(BROAD)}" for _ in range(60)])
        time.sleep(3.0)  # the attack runs; the server is measured over it
        spent = sum(process.cpu_times()[:2]) - sum(cpu[:2])
        share = spent / (time.monotonic() - started)
        answers = sum(map(answered, searchers))
        print(f"server CPU {share:.1%} of a core over the burst, {answers} answers, "
              f"{spent / max(1, answers) * 1000:.2f} ms each")
        assert share < WHO_CPU_BOUND, f"server at {share:.0%} of a core"
    finally:
        for client in searchers:
            client.close()
        for sock in crowd:
            sock.close()


def answered(client: LineClient) -> int:
    """/who PATTERN answers `client` has been sent so far (read without waiting)."""
    client.sock.setblocking(False)
    data = client.buffer
    try:
        while chunk := client.sock.recv(1 << 20):
            data += chunk
    except BlockingIOError:
        pass
    return data.count(b"*** Online matching")


# -- resume replays ----------------------------------------------------------------------

def test_a_hundred_resumers_asking_for_all_history_share_its_bytes(chat_server):
    server = chat_server("--max-per-ip", "0", "--flood-rate", "0", "--history", "1000",
                         "--replay", "0")
    process = psutil.Process(server.proc.pid)
    tokens = []
    for n in range(RESUMERS):  # tagged members who drop, held for /resume
        client = LineClient(server.address)
        client.expect("*** Hello! Please enter your name.")
        client.send("/tags", f"r{n:03d}")
        tokens.append(split_tags(client.line())[0]["resume"])
        reset(client)
    watcher = LineClient(server.address, "watcher")
    talker = LineClient(server.address, "talker")
    watcher.expect("*** talker has joined the chat room.")
    filler = "x" * HISTORY_LINE
    for batch in range(10):
        talker.send(*[f"{batch * 100 + n} {filler}" for n in range(100)])
        for n in range(100):
            assert watcher.line().startswith(f"<talker> {batch * 100 + n} ")
    watcher.send("/tags")
    talker.send("last")
    tags, last = split_tags(watcher.line())
    assert last == "<talker> last"
    oldest = int(tags["seq"]) - 1000  # the history keeps 1000 lines: all of them after this
    rss_before = process.memory_info().rss
    resumers = []
    try:
        for token in tokens:
            resumer = LineClient(server.address, rcvbuf=4096)  # reads nothing: all stays queued
            resumer.expect("*** Hello! Please enter your name.")
            resumer.send(f"/resume {token} {oldest}")
            resumers.append(resumer)
        wait_for(lambda: server.log().count(" resumed") >= RESUMERS)
        growth = process.memory_info().rss - rss_before
        reader = resumers[0]  # and what they are sent is right
        assert split_tags(reader.line())[1] == "*** Welcome back, r000."
        lines = [split_tags(reader.line())[1] for _ in range(1000)]
        assert lines[0] == "<talker> 1 " + filler and lines[-1] == "<talker> last"
        print(f"RSS {rss_before / MiB:.0f} MiB + {growth / MiB:.1f} MiB for {RESUMERS} resumers")
        assert growth < REPLAY_RSS_GROWTH, f"RSS grew {growth / MiB:.0f} MiB"
    finally:
        for client in resumers:
            client.close()
