"""A reconnect storm's newcomers and leavers wait their turn; the members' chat does not.

Each pass reads every readable member first, then at most
``NEWCOMER_READS_PER_PASS`` connections that are not members yet (name lines,
/resume, HTTP requests), first come first served; and at most
``DEPARTURES_PER_PASS`` members found reset leave the room in a pass (the rest
in the next passes, not read meanwhile). Counted pass by pass with the fake
loop: the member's line goes out in the very pass the storm arrived in, and
the storm is worked off a bounded amount per pass, all of it in the end.
"""
import socket
import struct

from selchat import server as server_module
from support.constants import HELLO

CAP = 3
NEWCOMERS = 10


def test_members_are_read_first_and_newcomers_a_bounded_number_a_pass(in_process_server,
                                                                       monkeypatch):
    monkeypatch.setattr(server_module, "NEWCOMER_READS_PER_PASS", CAP)
    loop = in_process_server()
    alice, bob = loop.peer("alice"), loop.peer("bob")
    newcomers = [loop.peer() for _ in range(NEWCOMERS)]
    loop.until(lambda: all(peer.lines == [HELLO] for peer in newcomers))
    members = loop.server._room.members
    assert len(members) == 2
    for number, peer in enumerate(newcomers):
        peer.send(f"new{number}")
    alice.send("hello, storm")
    loop.run(1)
    assert "<alice> hello, storm" in bob.lines  # in the same pass, not after the storm
    named = [len(members)]
    while len(members) < 2 + NEWCOMERS:
        loop.run(1)
        named.append(len(members))
        assert len(named) <= NEWCOMERS, "newcomers were not named in time"
    assert [later - earlier for earlier, later in zip(named, named[1:])] == [CAP] * 2 + [1]
    assert named[0] == 2 + CAP
    # First come, first served: the first names sent are the first taken.
    assert list(members.values())[2:2 + CAP] == [f"new{number}" for number in range(CAP)]


def test_members_found_reset_leave_a_bounded_number_a_pass(in_process_server, monkeypatch):
    monkeypatch.setattr(server_module, "DEPARTURES_PER_PASS", CAP)
    loop = in_process_server()
    alice, bob = loop.peer("alice"), loop.peer("bob")
    leavers = [loop.peer(f"gone{number}") for number in range(NEWCOMERS)]
    members = loop.server._room.members
    assert len(members) == 2 + NEWCOMERS
    for peer in leavers:  # a reset, as a client that crashed or lost its network
        peer.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        peer.close()
        loop.peers.remove(peer)
    alice.send("hello, storm")
    loop.run(1)
    assert "<alice> hello, storm" in bob.lines
    left = [len(members)]
    while len(members) > 2:
        loop.run(1)
        left.append(len(members))
        assert len(left) <= NEWCOMERS, "the reset members did not leave in time"
    assert left == [2 + NEWCOMERS - CAP * step for step in range(1, 4)] + [2]
    # Every leave is told once, none lost by waiting.
    told = sorted(line for line in bob.lines if " has left " in line)
    assert told == sorted(f"*** gone{number} has left the chat room."
                          for number in range(NEWCOMERS))


def test_a_full_server_lets_a_newcomer_in_in_place_of_a_member_found_gone(in_process_server,
                                                                          monkeypatch):
    monkeypatch.setattr(server_module, "DEPARTURES_PER_PASS", CAP)
    loop = in_process_server(max_clients=2 + NEWCOMERS)
    loop.peer("alice")
    loop.peer("bob")
    leavers = [loop.peer(f"gone{number}") for number in range(NEWCOMERS)]
    for peer in leavers:
        peer.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        peer.close()
        loop.peers.remove(peer)
    loop.server.run_once(0)  # CAP of them leave; the others wait, holding their slots
    members = loop.server._room.members
    assert len(members) == 2 + NEWCOMERS - CAP
    # The slots the last pass's leavers freed, then one more: it takes a waiting
    # leaver's (or it would be refused: server full). This pass's CAP leavers
    # hold theirs until the pass's end.
    newcomers = [loop.peer() for _ in range(CAP + 1)]
    loop.server.run_once(0)
    for peer in newcomers:
        peer.take()
    assert all(peer.lines == [HELLO] for peer in newcomers)
    assert len(members) == 2 + NEWCOMERS - 2 * CAP - 1
