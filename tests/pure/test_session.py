"""The client session against the real chat room, back to back, with no sockets.

As h11's ConnectionPair: what a session sends is fed to `ChatRoom.receive`
line by line, and what the room decides for it is encoded with `wire.encode`
and fed back into the session.
"""
import pytest

from selchat import wire
from selchat.effect_types import Broadcast, Close, Send, Tag
from selchat.room import ChatRoom
from selchat.decisions import INPUT_END, Finish, Prompt, Show, State, Style, Warn
from selchat.session import EXIT_FAILED, EXIT_LEFT, EXIT_REFUSED, ClientSession
from selchat.tags import tag_prefix


class Room:
    """A ChatRoom and the sessions in it; raw peers (no session) just collect lines."""

    def __init__(self) -> None:
        self.room = ChatRoom()
        self.sessions = {}
        self.inbox = {}  # peer -> bytes the room sent it, not yet taken
        self.closed = set()
        self.tagged = set()  # peers that asked for tags, as the server tags their lines
        self.seq = 0

    def _put(self, peer, data, seq, tags=None):
        if peer in self.tagged:
            data = tag_prefix(seq, 0, tags or {}) + data
        self.inbox[peer] += data

    def connect(self, peer, session=None):
        self.sessions[peer] = session
        self.inbox[peer] = b""
        self._apply(self.room.connect(peer))
        return session

    def pump(self, peer):
        """Carry what `peer`'s session wants sent to the room; return the decisions
        its session made about everything the room sent it back."""
        session = self.sessions[peer]
        for line in session.data_to_send().decode().splitlines():
            self._apply(self.room.receive(peer, line))
        return self.deliver(peer)

    def deliver(self, peer):
        """What the session decides about the bytes waiting for it (and a close)."""
        data, self.inbox[peer] = self.inbox[peer], b""
        decisions = self.sessions[peer].receive_data(data) if data else []
        if peer in self.closed and self.sessions[peer].state is not State.CLOSED:
            decisions += self.sessions[peer].receive_data(b"")
        # The lines carry time tags (all 0 here); what is shown is compared without them.
        return [d._replace(time_ms=None) if isinstance(d, Show) else d for d in decisions]

    def say(self, peer, line):
        """A raw peer sends a line."""
        self._apply(self.room.receive(peer, line))

    def shutdown(self):
        self._apply(self.room.shutdown())
        self.closed.update(self.sessions)

    def _apply(self, effects):
        for effect in effects:
            if isinstance(effect, Send):
                self._put(effect.to, wire.encode(effect.line), None, effect.tags)
            elif isinstance(effect, Broadcast):
                self.seq += 1
                for member in self.room.members:
                    if member != effect.exclude:
                        self._put(member, wire.encode(effect.line), self.seq)
            elif isinstance(effect, Tag):
                self.tagged.add(effect.session)
            elif isinstance(effect, Close):
                self.closed.add(effect.session)
                self._apply(self.room.disconnect(effect.session))


def shown(decisions):
    return [(d.text, d.style) for d in decisions if isinstance(d, Show)]


def joined(name="ann", interactive=True, others=("bob",)):
    room = Room()
    for other in others:
        room.connect(other)
        room.say(other, other)
    session = room.connect("me", ClientSession(name, interactive))
    decisions = room.pump("me")
    assert session.state is State.JOINED, decisions
    for other in others:
        room.inbox[other] = b""
    return room, session, decisions


def test_joining_sends_the_name_and_the_welcome_names_you():
    room, session, decisions = joined("ann")
    assert decisions == [
        Prompt("ann"),
        Show("*** Welcome, ann! Online (2): bob, ann (type /help for commands)", Style.NOTICE),
    ]
    assert room.room.name_of("me") == "ann"


def test_input_waits_until_the_welcome():
    session = ClientSession("ann", interactive=True)
    assert not session.wants_input
    assert session.submit("early") == []
    assert session.data_to_send() == b"/tags\nann\n"


@pytest.mark.parametrize("name, reason", [
    ("bob", "name taken: bob"),
    ("BOB", "name taken: BOB"),
    ("b b", "invalid name: "),
])
def test_a_refused_name_finishes_with_status_2(name, reason):
    room = Room()
    room.connect("bob")
    room.say("bob", "bob")
    session = room.connect("me", ClientSession(name, interactive=False))
    [finish] = room.pump("me")
    assert finish.status == EXIT_REFUSED and finish.error.startswith(reason)
    assert session.state is State.CLOSED and session.outcome == finish


def test_server_full_is_status_1():
    session = ClientSession("ann", interactive=False)
    assert session.receive_data(wire.encode(wire.server_full())) == [
        Finish(EXIT_FAILED, "server full")]


def test_a_close_before_the_welcome_is_status_1():
    session = ClientSession("ann", interactive=False)
    assert session.receive_data(wire.encode(wire.hello())) == []  # already answered
    assert session.receive_data(b"") == [
        Finish(EXIT_FAILED, "the server closed the connection before joining")]


def test_chat_goes_to_the_room_and_is_echoed_as_your_own():
    room, session, _ = joined("ann")
    assert session.submit("hello there") == [Show("<ann> hello there", Style.OWN)]
    assert session.submit("/me waves") == [Show("* ann waves", Style.OWN)]
    assert session.submit("/msg bob psst") == []  # shown once the room confirms it
    assert session.submit("//slash") == [Show("<ann> /slash", Style.OWN)]
    assert session.submit("/who") == []  # the room answers it
    assert shown(room.pump("me"))[0] == ("-> *bob* psst", Style.OWN)
    assert room.inbox["bob"].decode().splitlines() == [
        "<ann> hello there", "* ann waves", "*ann* psst", "<ann> /slash"]


def test_pipe_mode_echoes_nothing_and_sends_q_as_a_word():
    room, session, _ = joined("bot", interactive=False)
    assert session.input_data(b"q\nhi\n") == []
    room.pump("me")
    assert room.inbox["bob"] == b"<bot> q\n<bot> hi\n"
    assert session.state is State.JOINED


@pytest.mark.parametrize("line", ["q", " q ", "/quit", "/q", "/QUIT see you", INPUT_END])
def test_in_a_terminal_q_quit_and_ctrl_d_leave_and_nothing_is_sent_after(line):
    room, session, _ = joined("ann")
    session.submit(line)
    assert session.state is State.QUITTING
    assert session.submit("not sent") == []
    assert room.pump("me") == [Show("*** Goodbye, ann.", Style.NOTICE), Finish(EXIT_LEFT)]
    assert room.inbox["bob"].decode().startswith("*** ann has left the chat room")


@pytest.mark.parametrize("line, sent", [("  ", b""), ("qq", b"qq\n"), ("//quit", b"//quit\n")])
def test_blank_lines_are_not_sent_and_near_quits_are_chat(line, sent):
    _, session, _ = joined("ann")
    session.submit(line)
    assert (session.data_to_send(), session.state) == (sent, State.JOINED)


def test_end_of_piped_input_leaves_after_its_lines():
    room, session, _ = joined("bot", interactive=False)
    assert session.input_data(b"one\ntwo") == []
    assert session.input_data(b"") == []
    assert session.data_to_send() == b"one\ntwo\n/quit\n"


def test_what_others_do_is_shown_in_its_style():
    room = Room()
    room.connect("bob")
    room.say("bob", "bob")
    session = room.connect("me", ClientSession("ann", interactive=True))
    room.pump("me")
    for line in ["hi all", "/me waves", "/msg ann psst", "hey ANN, look", "annie is not you",
                 "/nick robert"]:
        room.say("bob", line)
    room.say("me", "/nosuch")
    assert shown(room.deliver("me")) == [
        ("<bob> hi all", Style.CHAT),
        ("* bob waves", Style.ACTION),
        ("*bob* psst", Style.PRIVATE),
        ("<bob> hey ANN, look", Style.MENTION),
        ("<bob> annie is not you", Style.CHAT),
        ("*** bob is now known as robert", Style.NOTICE),
        ("!!! unknown command: /nosuch (try /help)", Style.ERROR),
    ]
    assert session.name == "ann"


@pytest.mark.parametrize("text, mentions", [
    ("ann", True), ("@ann: hi", True), ("bye ann.", True), ("Ann-Marie", False),
    ("ann.x", False), ("joann", False), ("ann's", True),
])
def test_mentions_are_your_name_as_a_word(text, mentions):
    session = ClientSession("ann", interactive=True)
    session.receive_data(wire.encode(wire.welcome("ann", 1, "ann")))
    [show] = session.receive_data(wire.encode(wire.chat("bob", text)))
    assert (show.style is Style.MENTION) == mentions


def test_your_rename_changes_the_prompt_and_what_counts_as_a_mention():
    room, session, _ = joined("ann")
    session.submit("/nick anna")
    decisions = room.pump("me")
    assert decisions == [Prompt("anna"), Show("*** ann is now known as anna", Style.NOTICE)]
    assert session.submit("hi") == [Show("<anna> hi", Style.OWN)]
    [show] = session.receive_data(b"<bob> anna?\n")
    assert show.style is Style.MENTION


def test_a_lost_connection_is_status_1():
    _, session, _ = joined("ann")
    assert session.receive_data(b"<bob> last wo") == []
    assert session.receive_data(b"") == [
        Show("<bob> last wo", Style.CHAT), Finish(EXIT_FAILED, "connection to server lost")]


def test_a_server_shutdown_is_its_own_message_and_status_1():
    room, session, _ = joined("ann")
    room.shutdown()
    assert room.deliver("me") == [
        Show("*** Server is shutting down.", Style.NOTICE),
        Finish(EXIT_FAILED, "the server shut down"),
    ]


def test_the_slow_down_notice_is_shown_as_a_notice():
    _, session, _ = joined("ann")
    line = wire.encode(wire.slow_down(10))
    assert session.receive_data(line) == [
        Show("*** slow down: at most 10 lines a second; your lines are queued", Style.NOTICE)]


def test_interrupt_says_quit_if_joined_or_joining_and_finishes_0():
    _, session, _ = joined("ann")
    assert session.interrupt() == Finish(EXIT_LEFT)
    assert session.data_to_send() == b"/quit\n"
    # Joining: the welcome may be on its way, and a session left without /quit is held.
    joining = ClientSession("ann", interactive=True)
    joining.data_to_send()
    assert joining.interrupt() == Finish(EXIT_LEFT)
    assert joining.data_to_send() == b"/quit\n"


def test_received_lines_are_sanitised_and_split_anywhere():
    session = ClientSession("ann", interactive=False)
    data = wire.encode(wire.welcome("ann", 1, "ann")) + b"<evil> \x1b[2Jboo\x07\xff\r\n"
    decisions = []
    for i in range(len(data)):  # byte by byte
        decisions += session.receive_data(data[i:i + 1])
    assert shown(decisions)[1] == ("<evil> boo\ufffd", Style.CHAT)


def test_an_overlong_line_is_skipped_with_a_warning(monkeypatch):
    monkeypatch.setattr("selchat.session.MAX_LINE", 80)
    session = ClientSession("bot", interactive=False)
    session.receive_data(wire.encode(wire.welcome("bot", 1, "bot")))
    assert session.input_data(b"x" * 100 + b"\nok\n") == [
        Warn("skipped an input line longer than 80 bytes")]
    assert session.data_to_send().endswith(b"\nok\n")
