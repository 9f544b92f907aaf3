"""Issue 26 in the server on a fake clock: /who PATTERN searches charged through
the flood bucket, held sessions capped per address group and in all, a hold
not renewed by a resume that drops again."""
import random
import socket
import time

from selchat.names import name_key
from selchat.tags import split_tags
from support.clients import reset
from support.constants import HELLO

ROOM = 2000
#: Patterns that match many names: the costliest searches before (a sort of the matches).
BROAD = [*"0123456789", "m", "M", "m0", "M0", "m1", "M1", *(f"{n:02d}" for n in range(100))]
#: Server CPU per flood token a member spends on searches in a room of 10,000: at
#: the sustained rate (10 tokens a second) this much a token is 0.5 % of a core. An
#: unpriced search cost one token and 3.8 ms here (3.8 % of a core per member: 15
#: members took most of it); a charged one costs 11 tokens and 0.4 ms.
CPU_PER_TOKEN = 0.0005


def tagged_join(loop, name: str):
    peer = loop.peer()
    peer.send("/tags", name)
    loop.until(lambda: any(f"*** Welcome, {name}!" in line for line in peer.lines))
    welcome = next(line for line in peer.lines if f"*** Welcome, {name}!" in line)
    return peer, split_tags(welcome)[0]


def told_left(watcher, name: str) -> bool:
    return f"*** {name} has left the chat room (connection lost)." in watcher.lines


# -- /who PATTERN ------------------------------------------------------------------------

def test_searches_in_a_room_of_2000_are_charged_through_the_flood_bucket(in_process_server):
    chat = in_process_server(resume_window=0)
    asker = chat.peer("asker")
    names = {name_key(f"m{n:04d}"): (f"m{n:04d}", "elsewhere") for n in range(ROOM)}
    chat.server._room.remote_synced(names, "here")  # 2,000 names, no sockets needed
    asker.send(*[f"/who {n:02d}" for n in range(40)])  # 40 different searches at once
    chat.run(20)
    answers = [line for line in asker.lines if line.startswith("*** Online matching")]
    # The clock stands still: the 20-token burst pays for 6 searches of 3 tokens
    # (1 for the line, 2 for 2,000 names); unpriced, all 20 would be answered.
    assert len(answers) == 7
    matching = [f"m{n:04d}" for n in range(ROOM) if "00" in f"{n:04d}"]
    assert answers[0].startswith(f"*** Online matching '00' ({len(matching)}): m0000, m0001,")
    assert any(line.startswith("*** slow down") for line in asker.lines)
    chat.at(chat.clock.now + 1.0)  # 10 tokens more (from -1): 3 searches more
    answers = [line for line in asker.lines if line.startswith("*** Online matching")]
    assert len(answers) == 10


def test_searching_at_the_flood_limit_takes_little_cpu_in_a_room_of_10000(in_process_server):
    chat = in_process_server(resume_window=0)
    askers = [chat.peer(f"asker{n}") for n in range(5)]
    names = {name_key(f"m{n:05d}"): (f"m{n:05d}", "elsewhere") for n in range(10000)}
    chat.server._room.remote_synced(names, "here")
    chooser = random.Random(26)
    for asker in askers:  # broad patterns: the costliest searches (many names match)
        asker.send(*[f"/who {chooser.choice(BROAD)}" for _ in range(40)])
    cpu = time.thread_time()
    chat.run(30)  # the clock stands still: each spends its 20-token burst, no more
    spent = time.thread_time() - cpu
    per_token = spent / (len(askers) * 20)
    print(f"{per_token * 1000:.3f} ms of server CPU per flood token spent on /who")
    assert all(any(line.startswith("*** Online matching") for line in asker.lines)
               for asker in askers)
    assert per_token < CPU_PER_TOKEN, f"{per_token * 1000:.2f} ms a token"


# -- address groups ----------------------------------------------------------------------

def test_every_loopback_address_counts_as_one_host(in_process_server):
    chat = in_process_server(max_per_ip=1)
    first = chat.peer()  # from 127.0.0.1, unnamed: it counts against its address group
    chat.until(lambda: HELLO in first.lines)
    other = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    other.bind(("127.0.0.2", 0))  # another loopback address: the same host
    other.connect(chat.address)
    other.setblocking(False)
    received = bytearray()

    def refused() -> bool:
        try:
            received.extend(other.recv(4096))
        except (BlockingIOError, ConnectionResetError):
            pass
        return b"!!! too many connections from your address" in received

    try:
        chat.until(refused)
    finally:
        other.close()


# -- held sessions -----------------------------------------------------------------------

def test_past_the_per_address_cap_the_oldest_hold_ends_and_the_room_is_told(in_process_server):
    chat = in_process_server(max_per_ip=2)
    watcher = chat.peer("watcher")
    peers = [tagged_join(chat, f"t{n}")[0] for n in range(3)]
    for peer in peers:
        chat.peers.remove(peer)
        reset(peer)
        chat.run()
    chat.until(lambda: told_left(watcher, "t0"))
    chat.run()
    assert not told_left(watcher, "t1") and not told_left(watcher, "t2")
    assert chat.server._room.sessions.held == 2
    assert chat.server._room.sessions.held_from("loopback") == 2  # its connections' group
    held, timers = chat.server._room._held, chat.server._effects._holds
    assert not timers.keys() - held.keys()  # t0's timer is gone


def test_past_the_global_cap_the_oldest_hold_ends(in_process_server):
    chat = in_process_server(max_per_ip=0, max_held=1)
    watcher = chat.peer("watcher")
    first, _ = tagged_join(chat, "first")
    second, _ = tagged_join(chat, "second")
    for peer in (first, second):
        chat.peers.remove(peer)
        reset(peer)
        chat.run()
    chat.until(lambda: told_left(watcher, "first"))
    assert not told_left(watcher, "second")


def test_a_resume_that_drops_at_once_does_not_extend_its_hold(in_process_server):
    chat = in_process_server()
    start = chat.clock.now
    watcher = chat.peer("watcher")
    peer, tags = tagged_join(chat, "ann")
    chat.peers.remove(peer)
    reset(peer)  # held until start + 120
    chat.run()
    chat.at(start + 10)
    again = chat.peer()
    again.send(f"/resume {tags['resume']} {tags['seq']}")
    chat.until(lambda: any("*** Welcome back, ann." in line for line in again.lines))
    chat.at(start + 20)
    chat.peers.remove(again)
    reset(again)  # at once: still held until start + 120, not start + 140
    chat.run()
    chat.at(start + 119)
    assert not told_left(watcher, "ann")
    chat.at(start + 120)
    chat.until(lambda: told_left(watcher, "ann"))


