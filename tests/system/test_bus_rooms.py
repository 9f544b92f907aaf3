"""Rooms across `selchat serve --bus` nodes through a real Redis: a room's
lines reach its members on every node in one order, only them; joins, parts
and topics reach every node, so /who #room and /rooms agree everywhere.

A node learns what another did by reading the one stream, so a test that
needs node B to know of something first waits for a later line on B.
"""

import pytest

from support.clients import LineClient, lease_lost, read_until
from support.resume import Tagged, resume, wait_held
from support.topics import set_by

pytestmark = pytest.mark.redis


@pytest.fixture
def redis(start_redis):
    return start_redis()


@pytest.fixture
def two_nodes(chat_server, redis) -> list:
    return [chat_server("--flood-rate", "0", "--bus", redis.url) for _ in range(2)]


def settled(client: LineClient, said_by: LineClient, name: str, marker: str) -> list:
    """`said_by` (named `name`) says `marker` in the default room and `client` reads up to it:
    `client`'s node has read everything said before (one stream, one order).
    The lines read before it are returned."""
    said_by.send(f"/msg #lobby {marker}")
    return read_until(client, f"<{name}> {marker}")[:-1]


def dev_chat(client: LineClient, count: int) -> list:
    """The next `count` chat lines of #dev, skipping every other line."""
    got: list = []
    while len(got) < count:
        line = client.line()
        if line.startswith("#dev <"):
            got.append(line)
    return got


def test_a_room_spans_nodes_in_one_order_with_its_members_topic_and_parts(two_nodes, clients):
    first, second = two_nodes
    alice, dave = clients(first, "alice"), clients(first, "dave")
    bob, erin, carol = clients(second, "bob"), clients(second, "erin"), clients(second, "carol")
    for client in (alice, dave):
        read_until(client, "*** carol has joined the chat room.")
    alice.send("/join #dev")
    assert alice.line() == "*** You joined #dev. Online (1): @alice"  # its maker
    settled(bob, alice, "alice", "joined")
    bob.send("/join #dev")
    # A maker's role is known on every node (its status: selchat.member_status).
    assert bob.line() == "*** You joined #dev. Online (2): @alice, bob"
    settled(dave, bob, "bob", "bob in")
    dave.send("/join #dev")
    read_until(dave, "*** You joined #dev. Online (3): @alice, bob, dave")
    settled(erin, dave, "dave", "dave in")
    erin.send("/join #dev")
    read_until(erin, "*** You joined #dev. Online (4): @alice, bob, dave, erin")
    carol.send("/join #ops")
    read_until(carol, "*** You joined #ops. Online (1): @carol")
    settled(dave, erin, "erin", "all in")
    settled(erin, dave, "dave", "all in too")

    for number in range(10):
        alice.send(f"a{number}")
        bob.send(f"b{number}")
    seen = [dev_chat(watcher, 20) for watcher in (dave, erin)]
    assert seen[0] == seen[1]  # one order on both nodes
    assert [line for line in seen[0] if "<alice>" in line] == [
        f"#dev <alice> a{number}" for number in range(10)]
    assert not [line for line in settled(carol, alice, "alice", "done") if line.startswith("#dev")]

    answers = []
    for watcher, other, name in ((dave, erin, "erin"), (erin, dave, "dave")):
        settled(watcher, other, name, "ask")
        watcher.send("/who #dev", "/rooms")
        answers.append(watcher.lines(5))
    assert answers[0][1:] == answers[1][1:] == [
        "*** Rooms (3):", "***   #dev (4)", "***   #lobby (5)", "***   #ops (1)"]
    assert [answers[0][0], answers[1][0]] == [  # "@": on every node
        "*** Online in #dev (4): @alice, bob, dave, erin"] * 2

    alice.send("/topic ship it")
    read_until(alice, "#dev *** alice set the topic: ship it")
    read_until(erin, "#dev *** alice set the topic: ship it")
    erin.send("/topic")
    assert set_by(erin.line(), "#dev", "ship it") == "alice"  # who and when, from the stream

    bob.send("/part #dev lunch")
    read_until(dave, "#dev *** bob has left #dev (lunch).")
    dave.send("/who #dev", "/rooms")
    assert dave.lines(5) == [
        "*** Online in #dev (3): @alice, dave, erin",
        "*** Rooms (3):", "***   #dev (3): ship it", "***   #lobby (5)", "***   #ops (1)"]


def test_a_node_started_later_knows_every_room_its_members_and_topic_at_once(
        two_nodes, chat_server, redis, clients):
    first, second = two_nodes
    alice, bob = clients(first, "alice"), clients(second, "bob")
    read_until(alice, "*** bob has joined the chat room.")
    alice.send("/join #dev", "/topic ship it", "/join #ops", "/part #lobby")
    read_until(bob, "*** alice has left #lobby.")
    bob.send("/join #dev")
    read_until(bob, "*** You joined #dev. Online (2): @alice, bob")
    bob.expect("*** Topic for #dev: ship it")
    bob.send("all set")  # in #dev: alice is not in #lobby
    read_until(alice, "#dev <bob> all set")
    expected = ["*** Online in #dev (2): @alice, bob",
                "*** Rooms (3):", "***   #dev (2): ship it", "***   #lobby (1)",
                "***   #ops (1)"]
    bob.send("/who #dev", "/rooms")
    assert bob.lines(5) == expected  # alice is not counted in #lobby: she left it
    third = chat_server("--flood-rate", "0", "--bus", redis.url)
    carol = clients(third, "carol")  # nothing happened in the rooms since it started
    carol.send("/who #dev", "/rooms", "/topic #dev", "/who #ops")
    assert carol.lines(5) == [
        expected[0], "*** Rooms (3):", "***   #dev (2): ship it", "***   #lobby (2)",
        "***   #ops (1)"]
    assert set_by(carol.line(), "#dev", "ship it") == "alice"  # from Redis' topics hash
    assert carol.line() == "*** Online in #ops (1): @alice"
    # Cleared on one node: none on the others, and for a node started after.
    carol.send("/join #dev")
    read_until(carol, "*** Topic for #dev: ship it")
    alice.send("/topic #dev -")
    for each in (alice, bob, carol):
        read_until(each, "#dev *** alice set the topic: ")
    carol.send("/topic #dev")
    carol.expect("*** No topic for #dev.")
    fourth = chat_server("--flood-rate", "0", "--bus", redis.url)
    dan = clients(fourth, "dan")
    dan.send("/topic #dev")
    dan.expect("*** No topic for #dev.")


def test_a_resume_on_another_node_brings_back_every_room_with_redis_numbers(
        two_nodes, clients):
    first, second = two_nodes
    alice = Tagged(first.address, "alice")
    bob, carol = clients(second, "bob"), clients(first, "carol")
    alice.until("*** bob has joined the chat room.")
    alice.send("/join #ops", "/join #dev")
    alice.until("*** You joined #dev. Online (1): @alice")
    settled(bob, carol, "carol", "alice in")
    bob.send("/join #dev")
    alice.until("#dev *** bob has joined #dev.")
    bob.send("/msg #dev one")
    tags, text = alice.tagged_line()
    assert (text, tags["room"]) == ("#dev <bob> one", "#dev")
    alice.drop()
    wait_held(first, "alice")
    bob.send("/msg #dev two", "/msg #lobby three")
    read_until(carol, "<bob> three")
    back = resume(second.address, alice.token, alice.last_seq)
    got = [back.tagged_line() for _ in range(3)]
    assert [text for _, text in got] == ["*** Welcome back, alice.", "#dev <bob> two",
                                         "<bob> three"]
    assert int(got[1][0]["seq"]) == int(tags["seq"]) + 1  # Redis' numbers: one sequence
    back.send("/who #ops", "still in #dev")  # her current room came back with her
    assert back.text() == "*** Online in #ops (1): @alice"  # and her role as its maker
    read_until(bob, "#dev <alice> still in #dev")
    carol.send("/who #dev", "/rooms")  # her former node lists her in her rooms, elsewhere now
    assert read_until(carol, "***   #ops (1)")[-5:] == [
        "*** Online in #dev (2): @alice, bob", "*** Rooms (3):", "***   #dev (2)",
        "***   #lobby (3)", "***   #ops (1)"]


def test_a_rooms_lines_carry_the_same_numbers_on_every_node(two_nodes, clients, redis):
    first, second = two_nodes
    frank, erin = Tagged(first.address, "frank"), Tagged(second.address, "erin")
    frank.until("*** erin has joined the chat room.")
    dave = clients(second, "dave")
    frank.until("*** dave has joined the chat room.")
    frank.send("/join #dev")
    frank.until("*** You joined #dev. Online (1): @frank")
    frank.send("/msg #lobby frank in")
    erin.until("<frank> frank in")
    erin.send("/join #dev")
    erin.until("*** You joined #dev. Online (2): erin, @frank")
    erin.send("/msg #lobby both in")
    frank.until("<erin> both in")
    for number in range(3):
        dave.send(f"/msg #lobby l{number}", "/join #dev", f"/msg #dev d{number}")
    seen = []
    for watcher in (frank, erin):
        lines = []
        while len(lines) < 6:
            tags, text = watcher.tagged_line()
            if "<dave>" in text:
                lines.append((int(tags["seq"]), text))
        seen.append(lines)
    assert seen[0] == seen[1]  # one order and one numbering, on both nodes
    for room in ("<", "#dev"):  # each room's numbers rise; one sequence for both
        numbers = [seq for seq, text in seen[0] if text.startswith(room)]
        assert numbers == sorted(set(numbers)) and len(numbers) == 3
    assert len({seq for seq, _ in seen[0]}) == 6
    numbered = {}  # Redis' own numbers: the stream's field s, by line
    for _, flat in redis.query("XRANGE", "selchat:stream", "-", "+"):
        fields = dict(zip(flat[::2], flat[1::2]))
        if b"s" in fields:
            numbered[(fields.get(b"r", b"").decode() + " " + fields[b"d"].decode()).strip()] = \
                int(fields[b"s"])
    assert [(numbered[text], text) for _, text in seen[0]] == seen[0]


def test_a_node_taken_for_gone_says_its_members_are_back_in_their_rooms(chat_server, redis,
                                                                       clients):
    one, two = [chat_server("--flood-rate", "0", "--bus", redis.url, "--bus-lease", "2")
                for _ in range(2)]
    alice, bob = clients(one, "alice"), clients(two, "bob")
    read_until(alice, "*** bob has joined the chat room.")
    alice.send("/join #dev", "/join #ops", "/part #ops")
    settled(bob, alice, "alice", "in rooms")
    bob.send("/join #dev")
    read_until(alice, "#dev *** bob has joined #dev.")
    lease_lost(one, bob, "alice")  # cut off, as by a partition: its lease runs out
    read_until(bob, "#dev *** alice has joined #dev.")
    bob.send("/who #dev", "/rooms")
    assert bob.lines(4) == ["*** Online in #dev (2): @alice, bob", "*** Rooms (2):",
                            "***   #dev (2)", "***   #lobby (2)"]


def test_the_announce_limit_applies_across_nodes_and_counts_stay_exact(chat_server, redis,
                                                                      clients):
    one, two = [chat_server("--flood-rate", "0", "--bus", redis.url, "--announce-limit", "2")
                for _ in range(2)]
    alice, bob = clients(one, "alice"), clients(two, "bob")
    read_until(alice, "*** bob has joined the chat room.")
    carol = clients(two, "carol")  # three in #lobby: not announced
    alice.send("/join #dev")
    bob.send("/msg #lobby carol in")
    assert read_until(alice, "<bob> carol in") == [
        "*** You joined #dev. Online (1): @alice",
        "*** You are the operator of #dev while you stay in it (/help lists the operators' "
        "commands).", "<bob> carol in"]
    settled(bob, alice, "alice", "alice in #dev")
    bob.send("/join #dev")
    read_until(bob, "*** You joined #dev. Online (2): @alice, bob")
    carol.send("/join #dev")
    read_until(carol, "*** You joined #dev. Online (3): @alice, bob, carol")
    carol.send("/msg #dev hello")  # bob's join was told, carol's (the third) not
    assert read_until(alice, "#dev <carol> hello") == ["#dev *** bob has joined #dev.",
                                                       "#dev <carol> hello"]
    alice.send("/who #dev", "/who #lobby", "/rooms")
    assert alice.lines(5) == ["*** Online in #dev (3): @alice, bob, carol",
                              "*** Online (3): alice, bob, carol", "*** Rooms (2):",
                              "***   #dev (3)", "***   #lobby (3)"]
    carol.send("/quit")  # two are left: announced again, and gone from every list
    bob.send("/msg #dev after")
    assert read_until(alice, "#dev <bob> after") == ["*** carol has left the chat room.",
                                                     "#dev <bob> after"]
    alice.send("/who #dev", "/who #lobby")
    assert alice.lines(2) == ["*** Online in #dev (2): @alice, bob",
                              "*** Online (2): alice, bob"]
