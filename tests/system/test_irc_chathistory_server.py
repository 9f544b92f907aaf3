"""CHATHISTORY over real sockets: a room's lines by msgid and time, in a
``chathistory`` batch, from memory (``--no-data``) and from the database
(older lines than ``--history`` keeps); refused to non-members. One server
per test (port 0, --no-web)."""
import pytest

from support.clients import read_until
from support.irc import IrcClient

CAPS = "batch message-tags server-time echo-message labeled-response draft/chathistory"


@pytest.fixture
def irc(chat_server, tmp_path):
    made = []

    def start(*args):
        server = chat_server("--flood-rate", "0", "--irc-port", "0", "--server-name", "irc.test",
                             "--replay", "0", *args)

        def connect(nick, caps=CAPS):
            client = IrcClient((server.host, server.irc_port))
            made.append(client)
            client.welcome = client.register(nick, caps)
            return client
        connect.server = server  # type: ignore[attr-defined]
        return connect
    yield start
    for client in made:
        client.close()


def _say(client, channel, count):
    """`count` lines in `channel`, each one's echo (time, msgid, text)."""
    said = []
    for index in range(count):
        client.send(f"PRIVMSG {channel} :line {index}")
        echo = client.until("PRIVMSG")[-1]
        said.append((echo.tags["time"], echo.tags["msgid"], echo.params[1]))
    return said


def _history(client, command):
    """The lines of the batch `command` is answered with: (time, msgid, text)."""
    client.send(command)
    got = client.until(lambda msg: msg.command == "BATCH" and msg.params[0].startswith("-"))
    start = next(index for index, msg in enumerate(got) if msg.command == "BATCH")
    opening, lines = got[start], got[start + 1:-1]
    assert opening.params[1] == "chathistory"
    ref = opening.params[0][1:]
    assert got[-1].params == ["-" + ref]
    assert all(msg.tags.get("batch") == ref for msg in lines)
    assert all(msg.command == "PRIVMSG" for msg in lines)  # no JOIN: no event-playback
    return [(msg.tags["time"], msg.tags["msgid"], msg.params[1]) for msg in lines]


def test_chathistory_from_memory_by_msgid_and_time(irc):
    connect = irc("--no-data")
    alice = connect("alice")
    isupport = [param for msg in alice.welcome if msg.command == "005" for param in msg.params]
    assert "CHATHISTORY=100" in isupport and "MSGREFTYPES=msgid,timestamp" in isupport
    alice.send("JOIN #dev")
    alice.until("366")
    said = _say(alice, "#dev", 6)
    assert _history(alice, "CHATHISTORY LATEST #dev * 10") == said
    assert _history(alice, "CHATHISTORY LATEST #dev * 2") == said[-2:]
    assert _history(alice, f"CHATHISTORY BEFORE #dev msgid={said[3][1]} 10") == said[:3]
    assert _history(alice, f"CHATHISTORY AFTER #dev msgid={said[3][1]} 10") == said[4:]
    assert _history(alice, f"CHATHISTORY BETWEEN #dev msgid={said[5][1]} msgid={said[0][1]} 2"
                    ) == said[3:5]
    assert _history(alice, f"CHATHISTORY AROUND #dev msgid={said[2][1]} 3") == said[1:4]
    # Times: strictly after (before) the moment; lines of one pass share theirs.
    later = [each for each in said if each[0] > said[1][0]]
    assert _history(alice, f"CHATHISTORY AFTER #dev timestamp={said[1][0]} 10") == later
    assert _history(alice, f"CHATHISTORY LATEST #dev timestamp={said[1][0]} 10") == later
    # A labelled request: the label is on the batch's opening line.
    alice.send("@label=x1 CHATHISTORY LATEST #dev * 1")
    opening = alice.until("BATCH")[-1]
    assert opening.tags.get("label") == "x1" and opening.params[1] == "chathistory"
    alice.until("BATCH")


def test_chathistory_is_for_members_only_and_checks_its_input(irc):
    connect = irc("--no-data")
    alice, bob = connect("alice"), connect("bob")
    alice.send("JOIN #dev")
    alice.until("366")
    _say(alice, "#dev", 2)
    for asked in ("CHATHISTORY LATEST #dev * 10", "CHATHISTORY LATEST #nowhere * 10"):
        bob.send(asked)
        fail = bob.until("FAIL")[-1]
        assert fail.params[:3] == ["CHATHISTORY", "INVALID_TARGET", "LATEST"]
    bob.send("CHATHISTORY SIDEWAYS #dev * 10")
    assert bob.until("FAIL")[-1].params[1] == "INVALID_PARAMS"
    bob.send("CHATHISTORY BEFORE #dev timestamp=yesterday 10")
    assert bob.until("FAIL")[-1].params[1] == "INVALID_PARAMS"
    bob.send("CHATHISTORY LATEST alice * 10")  # private lines are kept nowhere: an empty batch
    got = bob.until(lambda msg: msg.command == "BATCH" and msg.params[0].startswith("-"))
    assert [msg.command for msg in got[-2:]] == ["BATCH", "BATCH"]


def test_chathistory_reaches_the_database_past_memory(irc, tmp_path):
    connect = irc("--data", str(tmp_path / "data"), "--history", "5")
    alice = connect("alice")
    alice.send("JOIN #dev")
    alice.until("366")
    said = _say(alice, "#dev", 12)  # memory keeps the last 5 lines (the JOIN among them first)
    assert _history(alice, "CHATHISTORY LATEST #dev * 20") == said
    assert _history(alice, f"CHATHISTORY BEFORE #dev msgid={said[10][1]} 4") == said[6:10]
    assert _history(alice, f"CHATHISTORY AFTER #dev msgid={said[1][1]} 3") == said[2:5]
    assert _history(alice, f"CHATHISTORY AFTER #dev msgid={said[1][1]} 20") == said[2:]
    earlier = [each for each in said if each[0] < said[3][0]]
    assert _history(alice, f"CHATHISTORY BEFORE #dev timestamp={said[3][0]} 20") == earlier
    alice.send("JOIN #lobby")
    alice.until("366")
    lobby = _say(alice, "#lobby", 2)
    assert _history(alice, "CHATHISTORY LATEST #lobby * 20") == lobby


def test_event_playback_and_direct_lines(irc):
    connect = irc("--no-data")
    alice = connect("alice", CAPS + " draft/event-playback")
    bob = connect("bob")
    alice.send("JOIN #dev")
    alice.until("366")
    alice.send("TOPIC #dev :plans")  # the room's own line comes back, tagged
    topic = alice.until("TOPIC")[-1]
    said = _say(alice, "#dev", 1)
    alice.send("CHATHISTORY LATEST #dev * 10")
    got = alice.until(lambda msg: msg.command == "BATCH" and msg.params[0].startswith("-"))
    lines = [(msg.command, msg.tags["msgid"]) for msg in got if "batch" in msg.tags]
    # (joins and parts alone are not kept in a room's history: docs/protocol.rst)
    assert lines == [("TOPIC", topic.tags["msgid"]), ("PRIVMSG", said[0][1])]
    # Direct lines: each end's own, by the other's nick, with the msgid both were sent.
    alice.send("PRIVMSG bob :psst")
    echo = alice.until("PRIVMSG")[-1]
    assert bob.until("PRIVMSG")[-1].tags["msgid"] == echo.tags["msgid"]
    bob.send("PRIVMSG alice :yes?", "PRIVMSG bob :note to self")
    assert alice.until("PRIVMSG")[-1].params == ["alice", "yes?"]
    expected = [("bob", "psst"), ("alice", "yes?")]
    for client, other in ((alice, "BOB"), (bob, "alice")):
        client.send(f"CHATHISTORY LATEST {other} * 10")
        got = client.until(lambda msg: msg.command == "BATCH" and msg.params[0].startswith("-"))
        assert [tuple(msg.params) for msg in got if "batch" in msg.tags] == expected
    assert _history(bob, "CHATHISTORY LATEST bob * 10")[0][2] == "note to self"
    carol = connect("carol")  # a third party has none of it
    carol.send("CHATHISTORY LATEST alice * 10")
    got = carol.until(lambda msg: msg.command == "BATCH" and msg.params[0].startswith("-"))
    assert [msg.command for msg in got[-2:]] == ["BATCH", "BATCH"]



def test_a_channels_tagmsg_is_played_back_to_event_playback_and_never_a_line(irc, clients):
    connect = irc("--no-data")
    alice = connect("alice", CAPS + " draft/event-playback")
    bob = connect("bob")  # message-tags, no event-playback
    for client in (alice, bob):
        client.send("JOIN #dev")
        client.until("366")
    carol = clients(connect.server, "carol")  # a terminal's user in #dev too
    carol.send("/join #dev")
    read_until(carol, "*** You joined #dev. Online (3): @alice, bob, carol")
    alice.send("@+typing=active TAGMSG #dev")  # news while it is sent: not kept
    assert bob.until("TAGMSG")[-1].tags["+typing"] == "active"
    alice.until("TAGMSG")
    alice.send("@+draft/react=x TAGMSG #dev")
    msgid = alice.until("TAGMSG")[-1].tags["msgid"]
    assert bob.until("TAGMSG")[-1].tags["msgid"] == msgid
    alice.send("PRIVMSG #dev :after the reaction")
    alice.until("PRIVMSG")
    assert read_until(carol, "#dev <alice> after the reaction") == [
        "#dev <alice> after the reaction"]  # nothing in between: a TAGMSG is no line
    alice.send("CHATHISTORY LATEST #dev * 10")
    got = alice.until(lambda msg: msg.command == "BATCH" and msg.params[0].startswith("-"))
    tagmsgs = [msg for msg in got if msg.command == "TAGMSG"]
    assert [(msg.tags["msgid"], msg.tags.get("+draft/react")) for msg in tagmsgs] == [
        (msgid, "x")]
    bob.send("CHATHISTORY LATEST #dev * 10")
    got = bob.until(lambda msg: msg.command == "BATCH" and msg.params[0].startswith("-"))
    assert "TAGMSG" not in [msg.command for msg in got]
