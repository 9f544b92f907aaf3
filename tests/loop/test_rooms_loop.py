"""Rooms in the loop, pass by pass: one send per member per pass, whatever its rooms."""


def test_a_member_in_50_rooms_that_all_speak_in_one_pass_gets_one_send(in_process_server):
    loop = in_process_server(flood_rate=0, replay=0)
    alice, bob = loop.peer("alice"), loop.peer("bob")
    rooms = [f"#r{number}" for number in range(49)]  # and the lobby: 50
    for peer in (alice, bob):
        peer.send(*(f"/join {room}" for room in rooms))
    loop.until(lambda: sum(line.startswith("*** You joined") for line in bob.lines) == 49)
    loop.run()
    counters = loop.server.counters
    before = (counters.sends, counters.deliveries)
    alice.data.clear()
    bob.send("/msg #lobby in the lobby", *(f"/msg {room} hello {room}" for room in rooms))
    loop.run(1)  # one pass reads them all and delivers
    assert (counters.sends - before[0], counters.deliveries - before[1]) == (1, 50)
    assert alice.lines == ["<bob> in the lobby",
                           *(f"{room} <bob> hello {room}" for room in rooms)]
    loop.run()
    assert counters.sends - before[0] == 1  # nothing more came


def test_tagged_room_lines_carry_their_room_and_one_sequence(in_process_server):
    loop = in_process_server(flood_rate=0, replay=0)
    alice, bob = loop.peer(), loop.peer("bob")
    alice.send("/tags", "alice", "/join #dev")
    loop.until(lambda: any("You joined #dev" in line for line in alice.lines))
    bob.send("/join #dev")
    loop.until(lambda: any("bob has joined #dev" in line for line in alice.lines))
    bob.send("lobby? no: dev", "/msg #lobby lobby")
    loop.until(lambda: alice.lines[-1].endswith("<bob> lobby? no: dev"))
    # A pass's lines go out the default room's first, then each room's, and
    # are numbered in that order: a client sees the numbers rise.
    lobby, dev = alice.lines[-2:]
    assert "room=#dev " in dev and dev.endswith(" #dev <bob> lobby? no: dev")
    assert "room=" not in lobby and lobby.endswith(" <bob> lobby")
    seq = [int(line.split("seq=")[1].split(";")[0]) for line in (lobby, dev)]
    assert seq[1] == seq[0] + 1  # one sequence across rooms


def frames(data: bytes):
    """The payloads of the server's (unmasked) WebSocket frames in `data`."""
    found, at = [], 0
    while at < len(data):
        size, at = data[at + 1] & 0x7F, at + 2
        if size == 126:
            size, at = int.from_bytes(data[at:at + 2], "big"), at + 2
        elif size == 127:
            size, at = int.from_bytes(data[at:at + 8], "big"), at + 8
        found.append(bytes(data[at:at + size]))
        at += size
    return found


def test_a_websocket_member_gets_its_rooms_lines_of_a_pass_in_one_frame():
    import sys

    from support.constants import BENCH
    from support.fake_loop import WebLoop
    sys.path.insert(0, str(BENCH))
    from wsclient import Masker, new_key, upgrade_request

    loop = WebLoop(flood_rate=0, replay=0)
    try:
        ws, key, masker = loop.web_peer(), new_key(), Masker()
        ws.sock.sendall(upgrade_request(*loop.web, key))
        loop.until(lambda: b"\r\n\r\n" in ws.data)
        bob = loop.peer("bob")
        ws.sock.sendall(masker.frame(b"wendy\n/join #a\n/join #b\n"))
        bob.send("/join #a", "/join #b")
        loop.until(lambda: any("You joined #b" in line for line in bob.lines))
        loop.run()
        ws.data.clear()
        sends = loop.server.counters.sends
        bob.send("/msg #a one", "/msg #b two", "/msg #lobby three")
        loop.run(1)
        assert loop.server.counters.sends - sends == 1
        assert frames(ws.data) == [b"<bob> three\n#a <bob> one\n#b <bob> two\n"]
    finally:
        loop.close()


def test_a_rooms_history_keeps_its_talk_not_its_comings_and_goings(in_process_server):
    # A pass of a room with nothing but join, leave or rename notices is
    # numbered and delivered, not kept: in a quiet room they would be all it
    # keeps, most of what a membership costs (tests/loop/test_idle_memory.py).
    loop = in_process_server(flood_rate=0)
    alice, bob, dave = loop.peer("alice"), loop.peer("bob"), loop.peer("dave")
    alice.send("/join #dev")
    loop.until(lambda: any("You joined #dev" in line for line in alice.lines))
    bob.send("/join #dev")
    loop.until(lambda: any("bob has joined #dev" in line for line in alice.lines))
    bob.send("hello dev")
    loop.until(lambda: alice.lines[-1] == "#dev <bob> hello dev")
    dave.send("/join #dev")
    loop.until(lambda: any("dave has joined #dev" in line for line in alice.lines))
    dave.send("/part #dev")
    loop.until(lambda: any("dave has left #dev" in line for line in alice.lines))
    carol = loop.peer("carol")
    carol.send("/join #dev")
    loop.until(lambda: any("You joined #dev" in line for line in carol.lines))
    loop.run()
    replayed = [line for line in carol.lines if line.startswith("#dev ")]
    assert replayed == ["#dev <bob> hello dev"]
    assert "carol has joined #dev" in alice.lines[-1]  # still told, as ever
