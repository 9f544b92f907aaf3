"""What an idle, joined connection keeps in Python objects, at the default settings.

Hundreds of newcomers join a room whose history is already full (so its
bounded cost is paid before and not counted), every one reads all it is sent,
and then the server's Python allocations that are still alive are divided by
the newcomers: the socket object, the `Connection`, its protocol, its selector
key, its name and roster entries, and each container's share of its growth.
The bound keeps a per-connection copy of anything (a replay, a buffer kept
after a line was read, an output list kept after it drained) from creeping in:
such a copy costs hundreds of bytes each. The server's RSS per connection,
which adds the allocator's slack, is measured by ``bench/flood.py --senders 0``.
"""
import gc
import tracemalloc

from support.fake_loop import Loop

#: Python bytes per idle connection allowed (measured: 1,153).
BOUND = 1_250
#: Python bytes per membership of a room beyond the default one, in rooms of
#: ROOM_SIZE (measured: 163, 360 while a room's history kept its join
#: notices): its entries both ways round and a share of the room.
ROOM_BOUND = 200
ROOM_SIZE = 10
NEWCOMERS = 400
#: Lines kept: filled by the first members' joins, before measuring.
HISTORY = 40


def drain(loop: Loop, peers) -> None:
    for _ in range(3):
        loop.server.run_once(0)
        for peer in peers:
            peer.take()


def python_bytes_per_newcomer(loop: Loop, rooms: int = 0, count: int = NEWCOMERS) -> float:
    """Python bytes kept per newcomer (`count` of them), each in `rooms`
    rooms besides the default one, ROOM_SIZE members a room."""
    for number in range(HISTORY):
        loop.peer(f"early{number}")
    drain(loop, loop.peers)
    newcomers = [loop.peer(reads=False) for _ in range(count)]  # connected, not yet accepted
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.take_snapshot()
        for number, peer in enumerate(newcomers):
            peer.send(f"newcomer{number}")
            for index in range(rooms):
                peer.send(f"/join #r{(number * rooms + index) % (count * rooms // ROOM_SIZE)}")
            if number % 50 == 49:
                drain(loop, loop.peers + newcomers)
        drain(loop, loop.peers + newcomers)
        drain(loop, loop.peers + newcomers)
        gc.collect()
        after = tracemalloc.take_snapshot()
    finally:
        tracemalloc.stop()
    assert all(f"*** Welcome, newcomer{n}!" in p.data.decode() for n, p in enumerate(newcomers))
    assert all(conn.out.pending == 0 for conn in loop.server._conns)  # idle: all sent
    # The peers' own reads and the test's lists are not the server's.
    mine = [tracemalloc.Filter(False, "*/tests/*"), tracemalloc.Filter(False, tracemalloc.__file__)]
    grown = after.filter_traces(mine).compare_to(before.filter_traces(mine), "filename")
    return sum(stat.size_diff for stat in grown) / count


def test_an_idle_connection_keeps_little_in_python_objects(in_process_server):
    loop = in_process_server(history=HISTORY, max_per_ip=0)
    assert python_bytes_per_newcomer(loop) < BOUND


def test_a_room_membership_keeps_little_more(in_process_server):
    loop = in_process_server(history=HISTORY, max_per_ip=0)
    assert python_bytes_per_newcomer(loop, rooms=5, count=200) < BOUND + 5 * ROOM_BOUND
