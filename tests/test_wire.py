import pytest

from selchat import wire
from selchat.wire import BadUsage, Help, Me, Msg, Nick, Quit, Say, Unknown, Who

pytestmark = pytest.mark.pure


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
    assert wire.parse(line) == command


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
