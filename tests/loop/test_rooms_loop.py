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
