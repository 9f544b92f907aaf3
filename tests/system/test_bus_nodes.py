"""Several `selchat serve --bus` nodes sharing one room through a real Redis.

Each test starts its own redis-server (conftest's `start_redis`) and its
nodes as real processes; clients are plain sockets. A node learns what the
others did by reading the stream, so a test that needs node B to know about
alice first waits until a client on B has seen her join (the stream is one
order: what follows it on B follows it everywhere).
"""
import re
import signal
import urllib.request
from typing import List

import pytest

from support.clients import LineClient, lease_lost, read_until
from support.resume import Tagged, resume, wait_held
from support.waiting import wait_for

pytestmark = pytest.mark.redis

UNREACHABLE = "*** other servers unreachable; messages may be delayed"
REACHABLE = "*** other servers reachable again"


@pytest.fixture
def redis(start_redis):
    return start_redis()


@pytest.fixture
def nodes(chat_server, redis):
    """nodes(count, *serve_args): `count` nodes on `redis` (flood control off)."""
    def start(count: int = 2, *args: str) -> list:
        return [chat_server("--flood-rate", "0", "--bus", redis.url, *args)
                for _ in range(count)]
    return start


@pytest.fixture
def join(clients):
    """join(node, name): a member on `node`, welcome read."""
    def make(node, name: str) -> LineClient:
        return clients(node, name)
    return make


def alice_and_bob(servers: list, join) -> tuple:
    """alice on the first node, bob on the second, each known to the other's node."""
    alice = join(servers[0], "alice")
    bob = join(servers[1], "bob")
    read_until(alice, "*** bob has joined the chat room.")
    return alice, bob


def chat(client: LineClient, count: int) -> List[str]:
    """The next `count` chat lines ("<name> ..."), skipping notices."""
    got: List[str] = []
    while len(got) < count:
        line = client.line()
        if line.startswith("<"):
            got.append(line)
    return got


def test_a_line_said_on_one_node_reaches_every_node_once_in_one_order(nodes, join):
    servers = nodes(3)
    watchers = [join(node, f"watch{i}") for i, node in enumerate(servers)]
    read_until(watchers[0], "*** watch2 has joined the chat room.")
    read_until(watchers[1], "*** watch2 has joined the chat room.")
    speakers = [join(node, f"s{i}") for i, node in enumerate(servers)]
    for each in watchers:
        read_until(each, "*** s2 has joined the chat room.")
    for line in range(20):
        for index, speaker in enumerate(speakers):
            speaker.send(f"{index}-{line}")
    seen = [chat(watcher, 60) for watcher in watchers]
    assert seen[0] == seen[1] == seen[2]  # one order, whichever node delivered it
    for index in range(3):
        assert [line for line in seen[0] if line.startswith(f"<s{index}>")] == \
            [f"<s{index}> {index}-{line}" for line in range(20)]
    heard = chat(speakers[0], 40)  # no echo of its own lines, everyone else's
    assert heard == [line for line in seen[0] if not line.startswith("<s0>")]


def test_names_are_unique_across_nodes_ignoring_case_and_width(nodes, join, clients):
    one, two = nodes(2)
    watcher = join(two, "watcher")
    join(one, "alice")
    read_until(watcher, "*** alice has joined the chat room.")
    for name in ("alice", "ALICE", "ａｌｉｃｅ"):
        client = clients(two)
        client.expect("*** Hello! Please enter your name.")
        client.send(name)
        client.expect(f"!!! name taken: {name}")


def test_who_msg_and_nick_work_across_nodes(nodes, join):
    one, two = nodes(2)
    alice, bob = alice_and_bob([one, two], join)
    bob.send("/who")
    read_until(bob, "*** Online (2): alice, bob")
    bob.send("/msg ALICE psst")
    alice.expect("*bob* psst")
    alice.send("/nick alicia")
    read_until(bob, "*** alice is now known as alicia")
    alice.expect("*** alice is now known as alicia")
    join(two, "alice")  # the old name is free everywhere
    read_until(alice, "*** alice has joined the chat room.")


def test_tagged_members_on_two_nodes_see_the_same_sequence_numbers(nodes, join):
    one, two = nodes(2)
    first, second = Tagged(one.address, "ann"), Tagged(two.address, "ben")
    # ben's join reaches node one through the stream, in no set order with cy's:
    # heard before cy joins, it cannot come between cy's join and the line.
    first.until("*** ben has joined the chat room.")
    speaker = join(one, "cy")
    for client in (first, second):
        client.until("*** cy has joined the chat room.")
    speaker.send("numbered")
    tags = [client.tagged_line() for client in (first, second)]
    assert tags[0][1] == tags[1][1] == "<cy> numbered"
    assert tags[0][0]["seq"] == tags[1][0]["seq"]


def test_a_node_started_later_replays_the_room_from_the_stream(nodes, join, chat_server, redis):
    one, = nodes(1)
    alice = join(one, "alice")
    alice.send("before you came", "and this")
    read_until(join(one, "watcher"), "<alice> and this")
    late = chat_server("--bus", redis.url, "--replay", "3")
    newcomer = LineClient(late.address)
    newcomer.expect("*** Hello! Please enter your name.")
    newcomer.send("carol")
    newcomer.expect_prefix("*** Welcome, carol! Online (3):")
    assert newcomer.lines(5) == [
        "*** Last 3 lines:", "<alice> before you came", "<alice> and this",
        "*** watcher has joined the chat room.", "*** End of history."]


def test_a_member_resumes_on_another_node_with_every_line_and_no_notice(nodes, join):
    one, two = nodes(2)
    alice = Tagged(one.address, "alice")
    bob = join(two, "bob")  # his join comes through Redis: wait for it before carol's
    alice.until("*** bob has joined the chat room.")
    carol = join(one, "carol")
    alice.until("*** carol has joined the chat room.")
    read_until(bob, "*** carol has joined the chat room.")
    bob.send("one")
    assert alice.text() == "<bob> one"
    alice.drop()
    wait_held(one, "alice")
    bob.send("two", "/msg alice kept for you")
    read_until(carol, "<bob> two")
    back = resume(two.address, alice.token, alice.last_seq)
    assert back.texts(3) == ["*** Welcome back, alice.", "<bob> two", "*bob* kept for you"]
    back.send("I am back")
    read_until(bob, "<alice> I am back")
    assert read_until(carol, "<alice> I am back") == ["<alice> I am back"]
    bob.send("/who")
    read_until(bob, "*** Online (3): alice, bob, carol")


def test_a_killed_nodes_members_are_announced_gone_within_the_lease(nodes, join):
    one, two = nodes(2, "--bus-lease", "2")
    join(one, "alice")
    bob = join(two, "bob")
    one.stop(signal.SIGKILL)
    read_until(bob, "*** alice has left the chat room (server lost).", timeout=8)
    join(two, "alice")  # her name is free again


def _outage(redis, how: str) -> None:
    if how == "stop":
        redis.pause()
    else:
        redis.kill()


def _recover(redis, how: str) -> None:
    if how == "stop":
        redis.resume()
    else:
        redis.restart()


@pytest.mark.parametrize("how", ["stop", "kill"])
def test_a_bus_outage_loses_no_line_and_disconnects_nobody(nodes, join, redis, how):
    alice, bob = alice_and_bob(nodes(2), join)
    alice.send("before")
    read_until(bob, "<alice> before")
    _outage(redis, how)
    alice.send(*[f"a{n}" for n in range(5)])
    bob.send(*[f"b{n}" for n in range(5)])
    read_until(alice, UNREACHABLE)
    read_until(bob, UNREACHABLE)
    _recover(redis, how)
    assert [line for line in read_until(alice, "<bob> b4") if line.startswith("<")] == \
        [f"<bob> b{n}" for n in range(5)]
    assert [line for line in read_until(bob, "<alice> a4") if line.startswith("<")] == \
        [f"<alice> a{n}" for n in range(5)]
    alice.send("after")
    read_until(bob, "<alice> after")
    assert not alice.closed and not bob.closed


def test_a_name_given_out_twice_during_an_outage_is_settled_when_the_bus_returns(
        nodes, join, redis):
    one, two = nodes(2)
    alice, bob = alice_and_bob([one, two], join)
    redis.pause()
    read_until(alice, UNREACHABLE)
    read_until(bob, UNREACHABLE)
    first = join(one, "carol")
    second = join(two, "Carol")
    redis.resume()
    read_until(second, "*** The name Carol was taken on another server first; "
                       "you are now known as Carol-2.")
    read_until(alice, "*** Carol is now known as Carol-2")
    first.send("/who")
    read_until(first, "*** Online (4): alice, bob, carol, Carol-2")


def test_metrics_show_the_bus_state_and_the_lines_waiting_for_it(chat_server, redis, join):
    node = chat_server("--flood-rate", "0", "--bus", redis.url, web=True)

    def metric(name: str) -> float:
        with urllib.request.urlopen(f"{node.url}metrics", timeout=5) as answer:
            text = answer.read().decode()
        return float(re.search(rf"^selchat_{name} (\S+)$", text, re.MULTILINE).group(1))

    alice = join(node, "alice")
    wait_for(lambda: metric("bus_waiting_lines") == 0.0)  # her join, confirmed
    assert metric("bus_up") == 1.0 and metric("bus_outages_total") == 0.0
    redis.pause()
    read_until(alice, UNREACHABLE)
    join(node, "bob").send("said while Redis was away")
    read_until(alice, "<bob> said while Redis was away")
    assert metric("bus_up") == 0.0 and metric("bus_outages_total") == 1.0
    assert metric("bus_waiting_lines") >= 2  # bob's join and his line, at least
    redis.resume()
    read_until(alice, REACHABLE)
    wait_for(lambda: metric("bus_waiting_lines") == 0.0)
    assert metric("bus_up") == 1.0


def test_a_session_moves_back_and_forth_between_nodes(nodes, join):
    one, two = nodes(2)
    bob = join(two, "bob")
    alice = Tagged(one.address, "alice")
    read_until(bob, "*** alice has joined the chat room.")
    for home, away, said in ((one, two, "first"), (two, one, "second")):
        bob.send(f"before the {said} drop")
        alice.until(f"<bob> before the {said} drop")  # bob's join may come first
        alice.drop()
        wait_held(home, "alice")
        bob.send(f"while away, {said}")
        back = resume(away.address, alice.token, alice.last_seq)
        assert back.texts(2) == ["*** Welcome back, alice.", f"<bob> while away, {said}"]
        alice = back
    alice.send("/quit")
    read_until(bob, "*** alice has left the chat room.")
    join(one, "alice")  # the name went with her, and is free now


def test_a_node_shutting_down_says_its_members_left_at_once(nodes, join):
    one, two = nodes(2)
    alice, bob = alice_and_bob([one, two], join)
    assert one.stop() == 0
    read_until(bob, "*** alice has left the chat room (server shutting down).")
    join(two, "alice")  # her name is free at once, not a lease later


def test_an_unknown_token_of_the_room_is_a_gap_and_the_connection_goes_on(nodes, redis,
                                                                           clients):
    one, = nodes(1)
    # The node listens before its first sync has set the epoch: wait for it.
    epoch = wait_for(lambda: redis.query("GET", "selchat:epoch")).decode()
    guess = clients(one)
    guess.expect("*** Hello! Please enter your name.")
    guess.send(f"/resume {epoch}.{'0' * 32} 5", "bob")  # the name waits for Redis' answer
    guess.expect("!!! history gap: an unknown number of lines missed "
                 "(session expired or unknown)")
    guess.expect_prefix("*** Welcome, bob!")


@pytest.mark.parametrize("where", ["her node", "another node"])
def test_a_member_that_drops_before_any_line_is_not_given_its_own_join(nodes, join, where):
    one, two = nodes(2)
    watcher = join(one, "watcher")
    bob = join(two, "bob")
    read_until(watcher, "*** bob has joined the chat room.")
    alice = Tagged(one.address, "alice")  # her join notice is numbered after her welcome
    read_until(bob, "*** alice has joined the chat room.")
    alice.drop()
    wait_held(one, "alice")
    bob.send("hi")
    read_until(watcher, "<bob> hi")
    back = resume((one if where == "her node" else two).address, alice.token, alice.last_seq)
    assert back.texts(2) == ["*** Welcome back, alice.", "<bob> hi"]


def test_a_node_taken_for_gone_says_its_members_are_back(nodes, join):
    one, two = nodes(2, "--bus-lease", "2")
    alice, bob = alice_and_bob([one, two], join)
    lease_lost(one, bob, "alice")  # cut off, as by a partition: its lease runs out
    read_until(bob, "*** alice has joined the chat room.")
    bob.send("/who")
    read_until(bob, "*** Online (2): alice, bob")
    alice.send("still here")
    read_until(bob, "<alice> still here")
    bob.send("welcome back")
    heard = read_until(alice, "<bob> welcome back")  # she was never gone, to herself
    assert not [line for line in heard if "alice has" in line], heard


def test_a_bus_with_a_password_and_a_database_number(chat_server, start_redis, join):
    guarded = start_redis("--requirepass", "s3cr:t")
    url = f"redis://:s3cr%3At@127.0.0.1:{guarded.port}/3"
    one, two = (chat_server("--bus", url) for _ in range(2))
    alice, bob = alice_and_bob([one, two], join)
    bob.send("hi")
    read_until(alice, "<bob> hi")
    assert guarded.query("EXISTS", "selchat:stream", db=3) == 1
    assert "s3cr" not in one.log()  # the password is never logged
    wrong = chat_server("--bus", f"redis://:nope@127.0.0.1:{guarded.port}/3")
    wait_for(lambda: "bus unreachable: authentication failed" in wrong.log())
    join(wrong, "carol")  # serving on its own all the same
