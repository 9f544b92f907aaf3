"""The client session's sense of self, sans I/O: replayed renames, a session
taken back from a previous client, a silent server; and the token's file."""
import fcntl
import os
import stat

import pytest

from selchat import wire
from selchat.saved_session import Saved, SavedSession, file_name, parse, state_dir
from selchat.decisions import Finish, Prompt, Reconnect, Show, State, Style
from selchat.session import EXIT_FAILED, RECONNECTING_TEXT, ClientSession
from selchat.tags import tag_line


TOKEN = "e1.00112233445566778899aabbccddeeff"


def tagged(line, seq=None, **extra):
    return tag_line(wire.encode(line), 0, extra, seq)


def welcomed(name="carol"):
    session = ClientSession(name, interactive=True)
    session.data_to_send()
    session.receive_data(tagged(wire.welcome(name, 1, name), resume=TOKEN))
    return session


def test_a_rename_in_the_history_replay_is_not_yours_but_one_after_it_is():
    session = welcomed("carol")
    decisions = session.receive_data(
        tagged(wire.history_start(1)) + tagged(wire.renamed("carol", "carol_x"), seq=4)
        + tagged(wire.history_end()))
    assert not any(isinstance(d, Prompt) for d in decisions)
    assert session.name == "carol"
    assert session.receive_data(tagged(wire.renamed("carol", "carol2"), seq=5))[0] == \
        Prompt("carol2")


def test_msg_is_echoed_by_the_server_when_it_knows_tags_else_locally():
    session = welcomed()
    assert session.submit("/msg bob hi") == []
    assert session.receive_data(tagged(wire.sent("bob", "hi"))) == [
        Show("-> *bob* hi", Style.OWN, 0)]
    untagged = ClientSession("ann", interactive=True)
    untagged.receive_data(wire.encode(wire.welcome("ann", 1, "ann")))
    assert untagged.submit("/msg bob hi") == [Show("-> *bob* hi", Style.OWN)]


def test_a_saved_session_is_asked_back_first():
    session = ClientSession("carol", interactive=True, saved=(TOKEN, 41))
    assert session.data_to_send() == f"/resume {TOKEN} 41\n".encode()
    decisions = session.receive_data(tagged(wire.welcome_back("carol_x"))
                                     + tagged(wire.chat("carol_x", "said before"), seq=42))
    assert decisions == [Prompt("carol_x"), Show("*** Welcome back, carol_x.", Style.NOTICE, 0),
                         Show("<carol_x> said before", Style.CHAT, 0)]  # not shown here yet
    assert session.state is State.JOINED and session.token == TOKEN


def test_a_saved_session_that_is_gone_joins_anew():
    session = ClientSession("carol", interactive=True, saved=(TOKEN, 41))
    session.data_to_send()
    gap = wire.history_gap(None, "session expired or unknown")
    assert session.receive_data(wire.encode(gap)) == [Show(wire.text_of(gap), Style.ERROR)]
    assert session.data_to_send() == b"/tags\ncarol\n"
    assert session.token is None and session.state is State.JOINING


def test_a_close_before_a_saved_session_is_answered_ends_it():
    session = ClientSession("carol", interactive=True, saved=(TOKEN, 41))
    assert session.receive_data(b"") == [
        Finish(EXIT_FAILED, "the server closed the connection before joining")]


def test_a_silent_server_ends_a_join_but_a_resume_after_a_drop_tries_again():
    joining = ClientSession("carol", interactive=True)
    assert joining.timed_out(60) == [Finish(EXIT_FAILED, "no answer from the server in 60 s")]
    session = welcomed()
    assert session.receive_data(b"") == [Show(RECONNECTING_TEXT, Style.NOTICE), Reconnect(120.0)]
    session.connected()
    assert session.timed_out(60) == [Reconnect(120.0)]
    assert welcomed().timed_out(60) == []  # welcomed: nothing to time out


def test_the_token_file_is_private_locked_and_removed_at_the_end(tmp_path):
    directory = state_dir({"XDG_STATE_HOME": str(tmp_path)})
    assert directory == os.path.join(str(tmp_path), "selchat")
    saved = SavedSession.open(directory, "::1", 4000, "Carol")
    assert stat.S_IMODE(os.stat(directory).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(saved.path).st_mode) == 0o600
    assert saved.read() is None
    assert SavedSession.open(directory, "::1", 4000, "carol") is None  # locked: in use
    saved.keep(TOKEN, 7)
    saved.keep(TOKEN, 8)
    with open(saved.path) as file:
        assert file.read() == f"{TOKEN} 8\n"
    saved.close()
    again = SavedSession.open(directory, "::1", 4000, "CAROL")  # names ignore case
    assert again.read() == Saved(TOKEN, 8)
    again.forget()
    assert os.listdir(directory) == []


def test_a_file_in_use_elsewhere_is_left_alone(tmp_path):
    path = tmp_path / file_name("127.0.0.1", 4000, "ann")
    path.write_text(f"{TOKEN} 3\n")
    with open(path) as holder:
        fcntl.flock(holder, fcntl.LOCK_EX)  # another live client
        assert SavedSession.open(str(tmp_path), "127.0.0.1", 4000, "ann") is None
    assert path.read_text() == f"{TOKEN} 3\n"


def test_state_dir_defaults_to_the_home_directory():
    assert state_dir({}) == os.path.join(os.path.expanduser("~"), ".local", "state", "selchat")
    assert state_dir({"XDG_STATE_HOME": "relative"}) == state_dir({})  # XDG: must be absolute


@pytest.mark.parametrize("text, saved", [
    (f"{TOKEN} 12\n", Saved(TOKEN, 12)),
    ("", None), ("garbage", None), (f"{TOKEN} x", None), (f"{TOKEN} ١٢", None),
])
def test_parse(text, saved):
    assert parse(text) == saved
