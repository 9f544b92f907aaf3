"""The client session with rooms (issue 20), against the lines the protocol fixes.

The server's side is written out as bytes, exactly as issue 20 gives them
(the server that speaks them is built beside this client): every room but
the default one prefixes its lines with its name; "*** You joined #room.",
"*** Now talking in #room." and your own "has left #room" tell the session
where a plain line now goes, which the prompt shows.
"""
import pytest

from selchat import wire
from selchat.screen import paint, room_colour
from selchat.decisions import Prompt, Show, State, Style
from selchat.session import ClientSession
from selchat.tags import tag_line

WELCOME = b"*** Welcome, ann! Online (2): bob, ann (type /help for commands)\n"


def joined(name="ann", interactive=True, **options):
    session = ClientSession(name, interactive, **options)
    session.data_to_send()
    session.receive_data(wire.encode(wire.hello()) + WELCOME.replace(b"ann", name.encode()))
    assert session.state is State.JOINED
    return session


def receive(session, *lines):
    return session.receive_data("".join(line + "\n" for line in lines).encode())


def prompts(decisions):
    return [d for d in decisions if isinstance(d, Prompt)]


def shown(decisions):
    return [(d.room, d.text, d.style) for d in decisions if isinstance(d, Show)]


@pytest.mark.parametrize("line, decoded", [
    ("You joined #dev. Online (3): ann, bob, carol",
     wire.RoomWelcome("#dev", 3, "ann, bob, carol")),
    ("You joined #a.b-c_1. Online (1): ann", wire.RoomWelcome("#a.b-c_1", 1, "ann")),
    ("Now talking in #dev.", wire.NowTalking("#dev")),
    ("bob has joined #dev.", wire.RoomJoinNotice("bob", "#dev")),
    ("bob has left #dev.", wire.RoomLeaveNotice("bob", "#dev")),
    ("bob has left #dev.x (gone home).", wire.RoomLeaveNotice("bob", "#dev.x", "gone home")),
    ("bob has left the chat room.", wire.LeaveNotice("bob")),
    ("bob has joined the chat room.", wire.JoinNotice("bob")),
    ("Topic for #dev: builds (and more)", wire.notice("Topic for #dev: builds (and more)")),
    ("Rooms (2): #a (3), #b (1): TOPIC", wire.notice("Rooms (2): #a (3), #b (1): TOPIC")),
])
def test_the_room_sentences_decode(line, decoded):
    assert wire.decode("*** " + line) == decoded


def test_no_room_and_room_errors_decode():
    assert wire.decode("!!! you are in no room: /join #ROOM") == wire.NoRoom()
    assert wire.decode("!!! invalid room: too long") == wire.error("invalid room: too long")
    assert wire.decode("!!! too many rooms: at most 50") == wire.error(
        "too many rooms: at most 50")


@pytest.mark.parametrize("line, split", [
    ("#dev <bob> hi", ("#dev", "<bob> hi")),
    ("#dev * bob waves", ("#dev", "* bob waves")),
    ("#dev *** bob has left #dev.", ("#dev", "*** bob has left #dev.")),
    ("#Ünï.c-o_d3 <bob> hi", ("#Ünï.c-o_d3", "<bob> hi")),
    ("<bob> #dev is the room", (None, "<bob> #dev is the room")),
    ("*** Welcome, ann!", (None, "*** Welcome, ann!")),
    ("#dev", (None, "#dev")),  # no line after it: not a prefix
    ("# <bob> hi", (None, "# <bob> hi")),
])
def test_split_room(line, split):
    assert wire.split_room(line) == split


def test_joining_a_room_makes_it_current_and_the_prompt_shows_it():
    session = joined()
    decisions = receive(session, "*** You joined #dev. Online (2): bob, ann",
                        "*** Topic for #dev: builds",
                        "#dev <bob> hi ann")
    assert decisions == [
        Prompt("ann", "#dev"),
        Show("*** You joined #dev. Online (2): bob, ann", Style.NOTICE),
        Show("*** Topic for #dev: builds", Style.NOTICE),
        Show("<bob> hi ann", Style.MENTION, room="#dev"),
    ]
    assert session.room == "#dev" and session.rooms == ["#lobby", "#dev"]
    assert receive(session, "<carol> in the lobby") == [Show("<carol> in the lobby", Style.CHAT)]


def test_what_you_type_is_echoed_in_the_room_it_goes_to():
    session = joined()
    receive(session, "*** You joined #dev. Online (1): ann")
    assert session.submit("hello") == [Show("<ann> hello", Style.OWN, room="#dev")]
    assert session.submit("/me waves") == [Show("* ann waves", Style.OWN, room="#dev")]
    assert session.submit("/msg #lobby to the lobby") == [Show("<ann> to the lobby", Style.OWN)]
    assert session.submit("/msg #DEV by name") == [Show("<ann> by name", Style.OWN, room="#dev")]
    assert session.submit("/msg #elsewhere not in it") == []  # the server says why
    assert session.submit("/join #ops") == [] and session.submit("/part") == []
    assert session.data_to_send() == (b"hello\n/me waves\n/msg #lobby to the lobby\n"
                                      b"/msg #DEV by name\n/msg #elsewhere not in it\n"
                                      b"/join #ops\n/part\n")  # sent as typed


def test_now_talking_switches_and_the_default_room_shows_the_name():
    session = joined()
    receive(session, "*** You joined #dev. Online (1): ann",
            "*** You joined #ops. Online (1): ann")
    assert prompts(receive(session, "*** Now talking in #dev.")) == [Prompt("ann", "#dev")]
    assert prompts(receive(session, "*** Now talking in #lobby.")) == [Prompt("ann")]
    assert session.room == "#lobby" and session.rooms == ["#lobby", "#dev", "#ops"]
    assert prompts(receive(session, "*** Now talking in #lobby.")) == []  # no change


def test_parting_the_current_room_falls_back_to_the_one_joined_most_recently():
    session = joined()
    receive(session, "*** You joined #a. Online (1): ann", "*** You joined #b. Online (1): ann",
            "*** Now talking in #a.")
    # Someone else's part changes nothing; a part of another room of yours keeps the current.
    assert prompts(receive(session, "#a *** bob has left #a.")) == []
    assert prompts(receive(session, "#b *** ann has left #b (enough).")) == []
    assert session.rooms == ["#lobby", "#a"] and session.room == "#a"
    decisions = receive(session, "#a *** ann has left #a.")
    assert decisions == [Prompt("ann"), Show("*** ann has left #a.", Style.NOTICE, room="#a")]
    assert session.room == "#lobby"
    # Joining a room again moves it to the end: it is the most recent.
    receive(session, "*** You joined #c. Online (1): ann", "*** You joined #d. Online (1): ann",
            "*** You joined #c. Online (1): ann")
    assert session.rooms == ["#lobby", "#d", "#c"]
    assert prompts(receive(session, "#c *** ann has left #c.")) == [Prompt("ann", "#d")]


def test_in_no_room_a_plain_line_is_not_echoed():
    session = joined()
    receive(session, "*** ann has left #lobby.")  # the prompt shows the name, as in #lobby
    assert session.room is None and session.rooms == []
    assert session.submit("anyone?") == []
    assert session.data_to_send() == b"anyone?\n"  # the server answers it
    assert receive(session, "!!! you are in no room: /join #ROOM") == [
        Show("!!! you are in no room: /join #ROOM", Style.ERROR)]
    assert prompts(receive(session, "*** You joined #dev. Online (1): ann")) == [
        Prompt("ann", "#dev")]
    assert session.rooms == ["#dev"]


def test_the_server_saying_no_room_is_believed():
    session = joined()
    receive(session, "*** You joined #dev. Online (1): ann")
    assert prompts(receive(session, "!!! you are in no room: /join #ROOM")) == [Prompt("ann")]
    assert session.room is None and session.rooms == []


def test_a_part_replayed_in_a_rooms_history_is_an_earlier_sessions():
    session = joined()
    decisions = receive(session, "*** You joined #dev. Online (2): bob, ann",
                        "*** Last 2 lines:",
                        "#dev *** ann has left #dev.", "#dev <ann> said before",
                        "*** End of history.")
    assert prompts(decisions) == [Prompt("ann", "#dev")]
    assert session.room == "#dev"
    assert ("#dev", "<ann> said before", Style.CHAT) in shown(decisions)


def test_renames_and_quits_come_without_a_room():
    session = joined()
    receive(session, "*** You joined #dev. Online (1): ann")
    assert receive(session, "*** ann is now known as anna") == [
        Prompt("anna", "#dev"), Show("*** ann is now known as anna", Style.NOTICE)]
    assert receive(session, "*** bob has left the chat room (bye).") == [
        Show("*** bob has left the chat room (bye).", Style.NOTICE)]


def test_a_tagged_line_names_its_room_by_tag_too():
    session = joined()
    data = (tag_line(b"#dev <bob> hi\n", 0, {"room": "#dev"}, seq=5)
            + tag_line(b"<carol> here\n", 0, {}, seq=6)
            + tag_line(b"<dave> by tag only\n", 0, {"room": "#ops"}, seq=7))
    assert shown(session.receive_data(data)) == [
        ("#dev", "<bob> hi", Style.CHAT), (None, "<carol> here", Style.CHAT),
        ("#ops", "<dave> by tag only", Style.CHAT)]
    assert session.last_seq == 7


def test_the_default_room_is_the_servers():
    session = joined(default_room="#main")
    assert session.rooms == ["#main"]
    receive(session, "*** You joined #lobby. Online (1): ann")
    assert prompts(receive(session, "*** Now talking in #main.")) == [Prompt("ann")]


def test_a_resume_keeps_the_current_room_and_a_gap_starts_over():
    session = joined()
    session.receive_data(tag_line(wire.encode(wire.notice("You joined #dev. Online (1): ann")),
                                       0, {"resume": "t.1"}))
    session.token = "t.1"
    session.receive_data(b"")  # lost
    session.connected()
    assert session.data_to_send().startswith(b"/resume t.1 ")
    decisions = session.receive_data(b"*** Welcome back, ann.\n#dev <ann> mine\n#dev <bob> more\n")
    assert shown(decisions)[1:] == [("#dev", "<bob> more", Style.CHAT)]  # own line: shown already
    assert session.room == "#dev" and session.submit("x") == [Show("<ann> x", Style.OWN,
                                                                   room="#dev")]
    session.receive_data(b"")
    session.connected()
    session.receive_data(b"!!! history gap: 3 lines missed (trimmed)\n")
    assert session.rooms == ["#lobby"] and session.room == "#lobby"


def test_a_pipe_gets_the_room_before_each_line_without_colour():
    session = joined(interactive=False)
    [show] = receive(session, "#dev * bob waves")
    assert paint(show.text, show.style, False, "", show.room) == "#dev * bob waves"
    assert paint(show.text, show.style, False, "12:00", show.room) == "12:00 #dev * bob waves"


def test_each_room_has_a_colour_of_its_own_on_every_run():
    coloured = paint("<bob> hi", Style.CHAT, True, "", "#dev")
    assert coloured == f"\x1b[{room_colour('#dev')}m#dev\x1b[0m <bob> hi"
    assert room_colour("#dev") == room_colour("#dev")
    assert len({room_colour(f"#room{i}") for i in range(50)}) == 6
    assert paint("!!! x", Style.ERROR, True, "", "#dev").endswith("\x1b[1;31m!!! x\x1b[0m")
