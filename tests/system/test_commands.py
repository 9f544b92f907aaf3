"""Every chat command over real sockets, as an `nc` user types it."""


def room_of_three(connect):
    alice, bob, carol = connect("alice"), connect("bob"), connect("carol")
    alice.lines(2)
    bob.line()
    return alice, bob, carol


def test_who(connect):
    alice, bob, carol = room_of_three(connect)
    carol.send("/WHO")
    carol.expect("*** Online (3): alice, bob, carol")


def test_nick_is_announced_to_everyone_including_the_renamed(connect):
    alice, bob, carol = room_of_three(connect)
    bob.send("/nick robert")
    for client in (alice, bob, carol):
        client.expect("*** bob is now known as robert")
    bob.send("hi")
    alice.expect("<robert> hi")


def test_nick_collision_and_case_change(connect):
    alice, bob, carol = room_of_three(connect)
    bob.send("/nick ALICE", "/nick Bob")
    bob.expect("!!! name taken: ALICE")
    for client in (alice, bob, carol):
        client.expect("*** bob is now known as Bob")


def test_msg_is_private(connect):
    alice, bob, carol = room_of_three(connect)
    alice.send("/msg Carol meet at 5", "/msg nobody hello", "/msg carol", "public")
    carol.expect("*alice* meet at 5")
    assert alice.lines(2) == ["!!! no such user: nobody", "!!! usage: /msg NAME text"]
    bob.expect("<alice> public")  # bob's next line is the public one: the private one skipped him
    carol.expect("<alice> public")


def test_me(connect):
    alice, bob, carol = room_of_three(connect)
    alice.send("/me waves", "marker")
    assert bob.lines(2) == ["* alice waves", "<alice> marker"]
    bob.send("back")
    alice.expect("<bob> back")  # no echo of the action to alice


def test_help_goes_to_the_asker_only(connect):
    alice, bob, carol = room_of_three(connect)
    bob.send("/help")
    lines = bob.lines(8)
    assert lines[0] == "*** Commands:"
    assert any(line.startswith("*** /msg NAME text") for line in lines)
    carol.send("marker")
    alice.expect("<carol> marker")


def test_quit_with_reason(connect):
    alice, bob, carol = room_of_three(connect)
    carol.send("/quit see you tomorrow")
    assert carol.expect_closed() == b"*** Goodbye, carol.\n"
    alice.expect("*** carol has left the chat room (see you tomorrow).")
    bob.expect("*** carol has left the chat room (see you tomorrow).")


def test_unknown_and_bad_usage(connect):
    alice, bob, carol = room_of_three(connect)
    alice.send("/dance", "/who every one", "/me", "/nick", "//dance")
    assert alice.lines(4) == [
        "!!! unknown command: /dance (try /help)",
        "!!! usage: /who [PATTERN]",
        "!!! usage: /me text",
        "!!! usage: /nick NEW",
    ]
    bob.expect("<alice> /dance")
