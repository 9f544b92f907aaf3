import pytest
from hypothesis import given
from hypothesis import strategies as st

from selchat import commands
from selchat import wire
from selchat.commands import BadUsage, Help, Me, Msg, Nick, Quit, Say, Unknown, Who


@pytest.mark.parametrize("line, command", [
    ("hello", Say("hello")),
    ("  spaced  ", Say("  spaced  ")),
    ("//not a command", Say("/not a command")),
    ("/quit", Quit("")),
    ("/QUIT gone fishing", Quit("gone fishing")),
    ("/who", Who()),
    ("/Who", Who()),
    ("/who ali", Who("ali")),
    ("/who two words", BadUsage("who")),
    ("/q", Quit("")),
    ("/Q bye", Quit("bye")),
    ("/help", Help()),
    ("/help me", BadUsage("help")),
    ("/nick bob", Nick("bob")),
    ("/nick", BadUsage("nick")),
    ("/nick two words", BadUsage("nick")),
    ("/msg bob hi there", Msg("bob", "hi there")),
    ("/msg bob", BadUsage("msg")),
    ("/msg", BadUsage("msg")),
    ("/me waves", Me("waves")),
    ("/me", BadUsage("me")),
    ("/dance", Unknown("dance")),
    ("/", Unknown("")),
])
def test_parse(line, command):
    assert commands.parse(line) == command


@pytest.mark.parametrize("line, data", [
    (wire.chat("alice", "hi"), b"<alice> hi\n"),
    (wire.notice("bob has joined the chat room."), b"*** bob has joined the chat room.\n"),
    (wire.error("name taken: bob"), b"!!! name taken: bob\n"),
    (wire.action("alice", "waves"), b"* alice waves\n"),
    (wire.private("alice", "psst"), b"*alice* psst\n"),
    (wire.chat("zoë", "¡hola!"), "<zoë> ¡hola!\n".encode()),
])
def test_encode(line, data):
    assert wire.encode(line) == data


def test_text_of_is_the_line_without_its_newline():
    assert wire.text_of(wire.private("al", "psst")) == "*al* psst"
    assert wire.text_of(wire.notice("x")) == "*** x"


@pytest.mark.parametrize("line, decoded", [
    (wire.hello(), wire.Hello()),
    (wire.welcome("zoë", 3, "al, bo, zoë"), wire.Welcome("zoë", 3, "al, bo, zoë")),
    (wire.welcome("a", 61, "a, b and 59 more"), wire.Welcome("a", 61, "a, b and 59 more")),
    (wire.joined("bo"), wire.JoinNotice("bo")),
    (wire.left("bo"), wire.LeaveNotice("bo")),
    (wire.left("bo", "off (to) lunch."), wire.LeaveNotice("bo", "off (to) lunch.")),
    (wire.renamed("al", "Al.x"), wire.Renamed("al", "Al.x")),
    (wire.goodbye("al"), wire.Goodbye("al")),
    (wire.shutting_down(), wire.ShuttingDown()),
    (wire.slow_down(10), wire.SlowDown(10.0)),
    (wire.slow_down(2.5), wire.SlowDown(2.5)),
    (wire.server_full(), wire.ServerFull()),
    (wire.chat("al", "<b> hi"), wire.chat("al", "<b> hi")),
    (wire.chat("al", ""), wire.chat("al", "")),
    (wire.action("al", "waves * at *bo*"), wire.action("al", "waves * at *bo*")),
    (wire.private("al", "psst* x"), wire.private("al", "psst* x")),
    (wire.notice("Online (2): al, bo"), wire.notice("Online (2): al, bo")),
    (wire.error("name taken: bo"), wire.error("name taken: bo")),
    (wire.notice("bo has joined the chat room"), wire.notice("bo has joined the chat room")),
])
def test_every_sentence_decodes_to_what_built_it(line, decoded):
    assert wire.decode(wire.text_of(line)) == decoded
    assert wire.encode(line) == (wire.text_of(line) + "\n").encode()


def test_the_sentences_keep_their_text():
    assert wire.text_of(wire.welcome("al", 2, "al, bo")) == (
        "*** Welcome, al! Online (2): al, bo (type /help for commands)")
    assert wire.text_of(wire.left("bo", "bye")) == "*** bo has left the chat room (bye)."
    assert wire.text_of(wire.slow_down(10)) == (
        "*** slow down: at most 10 lines a second; your lines are queued")
    assert wire.text_of(wire.shutting_down()) == "*** Server is shutting down."


@pytest.mark.parametrize("text", ["", "hello", "<no space>", "*", "* ", "**", "<al>hi", "** x"])
def test_lines_of_no_kind_are_unrecognized(text):
    assert wire.decode(text) == wire.Unrecognized(text)


names = st.text(st.characters(whitelist_categories=("L", "Nd"), whitelist_characters="_-."),
                min_size=1, max_size=32)


@given(st.sampled_from([wire.chat, wire.action, wire.private]), names, st.text())
def test_any_chat_action_or_private_line_decodes_to_itself(build, name, text):
    line = build(name, text)
    assert wire.decode(wire.text_of(line)) == line
