"""Rooms over real sockets, as an `nc` user types them: every command, the
prefixes, isolation, the caps, the announce limit, and a resume in three rooms."""
import pytest

from support.clients import LineClient, read_until
from support.resume import Tagged, resume, wait_held
from support.servers import ServerNotStarted
from support.topics import set_by


@pytest.fixture
def start(chat_server, clients):
    """start(*serve_args) -> (server, named): named(*names) joins clients and
    reads the join notices they are sent, so each starts with nothing to read."""
    def make(*args):
        server = chat_server("--flood-rate", "0", *args)

        def named(*names):
            made = [clients(server, name) for name in names]
            for client in made:
                marked(client)
            return made if len(made) > 1 else made[0]
        return server, named
    return make


def marked(client, marker="marker"):
    """Every line `client` gets up to its own /who answer: a marker that
    proves it has read everything sent to it before."""
    client.send("/who #zz-marker")
    return read_until(client, "!!! you are not in #zz-marker: /join #zz-marker")[:-1]


def test_rooms_are_isolated_and_prefixed_and_the_default_room_is_not(start):
    server, named = start()
    alice, bob, carol = named("alice", "bob", "carol")
    alice.send("/join #Dev")
    assert alice.line() == "*** You joined #Dev. Online (1): @alice"  # its maker operates it
    assert alice.line().startswith("*** You are the operator of #Dev while you stay in it")
    bob.send("/join #dev")
    assert bob.line() == "*** You joined #Dev. Online (2): @alice, bob"
    assert alice.line() == "#Dev *** bob has joined #Dev."
    bob.send("hi devs", "/me waves", "/msg #lobby hi all")
    # In one pass the default room's lines go first, then each room's in order.
    assert sorted(alice.lines(3)) == ["#Dev * bob waves", "#Dev <bob> hi devs", "<bob> hi all"]
    assert marked(carol) == ["<bob> hi all"]  # none of #dev's
    carol.send("/msg #dev let me in")
    assert carol.line() == "!!! you are not in #Dev: /join #Dev"
    carol.send("/join dev", "/join #a b c")  # (one word after the room: its key, +k)
    assert carol.line().startswith("!!! invalid room: room names are # then 1-32")
    assert carol.line() == "!!! usage: /join #ROOM [KEY]"


def test_part_tells_the_room_and_the_leaver_and_no_room_is_said(start):
    server, named = start()
    alice, bob = named("alice", "bob")
    for client in (alice, bob):
        client.send("/join #dev")
        client.expect_prefix("*** You joined #dev.")
    alice.expect_prefix("*** You are the operator of #dev")
    alice.expect("#dev *** bob has joined #dev.")
    bob.send("/part #dev lunch")
    bob.expect("#dev *** bob has left #dev (lunch).")
    alice.expect("#dev *** bob has left #dev (lunch).")
    bob.send("back in the lobby")  # the lobby is current again
    alice.expect("<bob> back in the lobby")
    bob.send("/part")
    bob.expect("*** bob has left #lobby.")
    alice.expect("*** bob has left #lobby.")
    bob.send("anyone?")
    bob.expect("!!! you are in no room: /join #ROOM")
    bob.send("/join #lobby")
    assert bob.line() == "*** You joined #lobby. Online (2): alice, bob"
    alice.expect("*** bob has joined #lobby.")


def test_topic_rooms_and_who(start):
    server, named = start("--replay", "20")
    alice, bob = named("alice", "bob")
    alice.send("/join #dev", "/topic ship it", "said in dev")
    assert read_until(alice, "#dev *** alice set the topic: ship it")[0].startswith(
        "*** You joined #dev.")
    bob.send("/join #dev")
    assert read_until(bob, "*** End of history.")[-7:] == [
        "*** You joined #dev. Online (2): @alice, bob",
        "*** Topic for #dev: ship it",
        "*** Last 3 lines:",
        "#dev *** alice has joined #dev.",
        "#dev *** alice set the topic: ship it",
        "#dev <alice> said in dev",
        "*** End of history.",
    ]
    bob.send("/rooms", "/who", "/who #lobby", "/topic")
    assert bob.lines(5) == [
        "*** Rooms (2):", "***   #dev (2): ship it", "***   #lobby (2)",
        "*** Online in #dev (2): @alice, bob", "*** Online (2): alice, bob"]
    assert set_by(bob.line(), "#dev", "ship it") == "alice"  # and when: about now
    # Cleared ("-"), announced as a topic set to nothing; then there is none.
    alice.send("/topic #dev -")
    read_until(alice, "#dev *** alice set the topic: ")
    read_until(bob, "#dev *** alice set the topic: ")
    bob.send("/topic #dev", "/rooms")
    assert bob.lines(4) == ["*** No topic for #dev.", "*** Rooms (2):", "***   #dev (2)",
                            "***   #lobby (2)"]


def test_nick_and_quit_are_told_once_to_each_sharer(start):
    server, named = start()
    alice, bob = named("alice", "bob")
    for client in (alice, bob):
        client.send("/join #a", "/join #b", "/join #c")
        marked(client)
    bob.send("/part #lobby")
    bob.expect("*** bob has left #lobby.")
    marked(alice)
    alice.send("/nick al")
    assert marked(bob) == ["*** alice is now known as al"]  # in three rooms with bob: once
    alice.send("/quit")
    assert marked(bob) == ["*** al has left the chat room."]


def test_caps_on_rooms(start):
    server, named = start("--max-rooms", "3", "--max-rooms-per-member", "2")
    alice, bob = named("alice", "bob")
    alice.send("/join #a", "/join #b")
    alice.expect("*** You joined #a. Online (1): @alice")
    alice.expect_prefix("*** You are the operator of #a")
    alice.expect("!!! too many rooms: you are in 2, the most one member may be in "
                 "(/part one first)")
    bob.send("/join #b", "/join #c")
    bob.expect("*** You joined #b. Online (1): @bob")
    bob.expect_prefix("*** You are the operator of #b")
    bob.expect("!!! too many rooms: you are in 2, the most one member may be in "
               "(/part one first)")
    bob.send("/part #lobby", "/join #c")
    bob.expect("*** bob has left #lobby.")
    bob.expect("!!! too many rooms: the server has 3, its most")


def test_big_rooms_do_not_announce_joins_and_leaves(start):
    server, named = start("--announce-limit", "2", "--default-room", "#hall")
    alice, bob = named("alice", "bob")
    carol = named("carol")  # the hall has 3 now: over the limit
    assert marked(alice) == []
    bob.send("/who")
    bob.expect("*** Online (3): alice, bob, carol")
    carol.send("/part")
    carol.expect("*** carol has left #hall.")
    assert marked(bob) == []
    alice.send("/help")
    help_lines = read_until(alice, "*** In a room of more than 2 members, joins and leaves "
                                   "are not announced (/who still counts everyone).")
    assert not any("carol" in line for line in help_lines)


def test_one_sequence_and_a_resume_restores_three_rooms(start):
    server, named = start("--history", "100")
    alice = Tagged(server.address, "alice")
    bob = named("bob")
    alice.send("/join #a", "/join #b", "/join #c")
    alice.until("*** You joined #c. Online (1): @alice")
    bob.send("/join #a", "/join #b", "/join #c")
    read_until(bob, "*** You joined #c. Online (2): @alice, bob")
    assert alice.until("#c *** bob has joined #c.")[-1] == "#c *** bob has joined #c."
    alice.drop()
    wait_held(server, "alice")
    bob.send("/msg #a one", "/msg #lobby two", "/msg #b three", "/msg #c four")
    bob.send("/who #a")
    bob.expect("*** Online in #a (2): @alice (away), bob")
    back = resume(server.address, alice.token, alice.last_seq)
    assert back.text() == "*** Welcome back, alice."
    seqs, lines = [], []
    while len(lines) < 4:
        tags, line = back.tagged_line()
        seqs.append(int(tags["seq"]))
        lines.append(line)
    assert sorted(lines) == ["#a <bob> one", "#b <bob> three", "#c <bob> four", "<bob> two"]
    assert seqs == sorted(seqs) and seqs[0] > alice.last_seq  # every room's, in one order
    bob.send("/msg #b after")
    assert back.text() == "#b <bob> after"  # still in its rooms


def test_a_resume_past_a_rooms_history_names_the_room(start):
    server, named = start("--history", "2")
    alice = Tagged(server.address, "alice")
    bob = named("bob")
    alice.send("/join #a")
    alice.until("*** You joined #a. Online (1): @alice")
    bob.send("/join #a")
    marked(bob)
    alice.until("#a *** bob has joined #a.")
    alice.drop()
    wait_held(server, "alice")
    bob.send(*(f"/msg #a line {number}" for number in range(3)))
    bob.send("/who #a")
    bob.expect("*** Online in #a (2): @alice (away), bob")
    back = resume(server.address, alice.token, alice.last_seq)
    assert back.line() == ("!!! history gap: an unknown number of lines missed "
                           "(older than the history kept: #a)")


def test_default_room_option_is_checked(chat_server):
    with pytest.raises(ServerNotStarted):
        chat_server("--default-room", "no way")


def test_a_plain_client_sees_no_difference(start):
    server, named = start()
    alice = LineClient(server.address)
    alice.expect("*** Hello! Please enter your name.")
    alice.send("alice")
    assert alice.line() == "*** Welcome, alice! Online (1): alice (type /help for commands)"


def test_a_rooms_replay_ends_with_the_newest_number_so_a_resume_repeats_nothing(start):
    server, named = start("--replay", "5")
    bob = named("bob")
    bob.send("/join #a", "/msg #a old line")
    marked(bob)
    alice = Tagged(server.address, "alice")
    bob.send("/msg #lobby newer")
    alice.until("<bob> newer")
    newest = alice.last_seq
    alice.send("/join #a")
    assert alice.until("*** End of history.")[-2] == "#a <bob> old line"
    assert alice.last_seq == newest  # not the replay's older number
    alice.drop()
    wait_held(server, "alice")
    bob.send("/msg #a after")
    marked(bob)
    back = resume(server.address, alice.token, alice.last_seq)
    assert back.texts(2) == ["*** Welcome back, alice.", "#a <bob> after"]
