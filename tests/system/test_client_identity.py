"""`selchat join` knows who it is: replayed renames, /msg to nobody, a name the
server refuses, a session taken back after a crash, a hostile or silent server.

Through pipes and a pseudo-terminal against a real `selchat serve`, and against
the scripted `fake_server` for what a real server never sends.
"""
import os
import signal
import stat
import subprocess

import pytest

from selchat import saved_session, wire
from selchat.tags import tag_line
from support.constants import TIMEOUT
from support.join_client import join, welcome
from support.waiting import wait_for

TOKEN = "e1.00112233445566778899aabbccddeeff"


def token_files(state_home: str) -> list:
    directory = os.path.join(state_home, "selchat")
    return [os.path.join(directory, f) for f in os.listdir(directory)] \
        if os.path.isdir(directory) else []


# -- 9: a rename replayed from history is an earlier session's ---------------------------

def test_a_replayed_rename_of_your_name_is_not_yours(chat_server, terminal):
    server = chat_server("--replay", "20", "--flood-rate", "0")
    first = join("carol", server.port, b"/nick carol_x\n/quit\n")
    assert first.returncode == 0, first.stderr
    term = terminal("carol", server.port)
    term.output.expect(b"*** carol is now known as carol_x")
    term.output.expect(b"*** End of history.")
    term.type(b"hello\r")
    term.output.expect(b"<carol> hello")  # own line: still carol
    term.output.expect(b"carol> ")  # and so is the prompt
    assert b"carol_x>" not in term.output.data


def test_your_own_rename_after_the_welcome_is_yours(server, terminal):
    term = terminal("carol", server.port)
    term.output.expect(b"*** Welcome, carol!")
    term.type(b"/nick carol_x\r")
    term.output.expect(b"*** carol is now known as carol_x")
    term.type(b"hi\r")
    term.output.expect(b"<carol_x> hi")


# -- 10: /msg is shown as sent only once delivered ------------------------------------------

def test_msg_to_nobody_shows_only_the_error_and_to_someone_the_delivery(server, connect,
                                                                          terminal):
    bob = connect("bob")
    term = terminal("alice", server.port)
    term.output.expect(b"*** Welcome, alice!")
    term.type(b"/msg nobody still there?\r")
    term.output.expect(b"!!! no such user: nobody")
    assert b"-> *nobody*" not in term.output.data
    term.type(b"/msg bob still there?\r")
    assert bob.line() == "*** alice has joined the chat room."
    assert bob.line() == "*alice* still there?"
    term.output.expect(b"-> *bob* still there?")


def test_a_pipe_shows_no_delivery_line(server, connect):
    bob = connect("bob")
    result = join("bot", server.port, b"/msg bob psst\n/msg nobody psst\n")
    assert result.returncode == 0
    assert b"-> *" not in result.stdout
    assert b"!!! no such user: nobody\n" in result.stdout
    bob.expect("*** bot has joined the chat room.")
    bob.expect("*bot* psst")


# -- 12: the server's reason for a refused name ---------------------------------------------

def test_an_invisible_character_gets_the_servers_reason(server):
    result = join("a\u200bb", server.port)
    assert (result.returncode, result.stdout) == (2, b"")
    assert result.stderr == b"selchat: invalid name: no invisible characters\n"


# -- 11: a crashed client's session is taken back --------------------------------------------

def test_a_killed_client_started_again_takes_its_session_back(server, connect, piped,
                                                              private_state):
    bob = connect("bob")
    first = piped("alice", server.port)
    first.output.expect(b"*** Welcome, alice!")
    bob.expect("*** alice has joined the chat room.")
    [path] = token_files(private_state)
    assert stat.S_IMODE(os.stat(os.path.dirname(path)).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    first.kill()  # a crash: no /quit, the server holds the session
    first.wait(TIMEOUT)
    bob.send("while you were gone")
    again = piped("alice", server.port)
    again.output.expect(b"*** Welcome back, alice.\n")
    again.output.expect(b"<bob> while you were gone\n")  # the lines missed
    again.stdin.write(b"I am back\n")
    again.stdin.close()
    bob.expect("<alice> I am back")  # nobody was told alice left or joined
    assert again.wait(TIMEOUT) == 0
    bob.expect("*** alice has left the chat room.")
    assert token_files(private_state) == []  # a session that ended leaves nothing


def test_a_second_live_client_with_the_name_does_not_take_the_session(server, piped,
                                                                      private_state):
    first = piped("alice", server.port)
    first.output.expect(b"*** Welcome, alice!")
    wait_for(lambda: token_files(private_state))
    second = join("alice", server.port)
    assert (second.returncode, second.stderr) == (2, b"selchat: name taken: alice\n")
    first.stdin.write(b"still here\n")
    first.stdin.close()
    assert first.wait(TIMEOUT) == 0  # its session was never taken over


def test_a_token_the_server_does_not_know_joins_anew(server, private_state):
    directory = saved_session.state_dir({"XDG_STATE_HOME": private_state})
    saved = saved_session.SavedSession.open(directory, "127.0.0.1", server.port, "alice")
    saved.keep("e0.00", 3)  # left by a crash before the server restarted
    saved.close()
    result = join("alice", server.port, b"/quit\n")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(
        b"!!! history gap: an unknown number of lines missed (the server restarted)\n"
        b"*** Welcome, alice!")


# -- hostile and silent servers ---------------------------------------------------------------

def test_a_hostile_seq_or_token_tag_is_skipped_not_a_crash(fake_server, piped):
    proc = piped("bot", fake_server.port)
    fake_server.accept("bot", token=TOKEN)
    fake_server.send(b"@seq=" + b"9" * 5000 + b" <bob> huge seq\n"
                     + b"@resume=a\\sb\\n/nick\\sx <bob> bad token\n"
                     + b"@seq=7 <bob> fine\n")
    proc.output.expect(b"<bob> huge seq\n<bob> bad token\n<bob> fine\n")
    fake_server.hang_up()  # the token kept is the good one
    assert fake_server.accept_resume() == f"/resume {TOKEN} 7\n".encode()
    proc.kill()
    proc.wait(TIMEOUT)
    assert proc.stderr.read() == (b"selchat: skipped a received seq tag: malformed\n"
                                  b"selchat: skipped a received resume tag: malformed\n")


@pytest.mark.parametrize("hello", [False, True])
def test_a_silent_server_is_given_up_on(fake_server, piped, hello):
    proc = piped("bot", fake_server.port, "--welcome-timeout", "0.5")
    conn, _ = fake_server.listener.accept()  # accepts, then says nothing (or only hello)
    with conn:
        if hello:
            conn.sendall(wire.encode(wire.hello()))
        assert proc.wait(TIMEOUT) == 1
    assert proc.stderr.read() == b"selchat: no answer from the server in 0.5 s\n"
    assert proc.stdout.read() == b""


def test_the_welcome_timeout_is_only_until_the_welcome(fake_server, piped):
    proc = piped("bot", fake_server.port, "--welcome-timeout", "0.3")
    fake_server.accept("bot")
    proc.output.expect(welcome("bot").encode())
    with pytest.raises(subprocess.TimeoutExpired):  # still running well past the timeout
        proc.wait(1.0)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(TIMEOUT) == 0


def test_ctrl_c_while_reconnecting_keeps_the_token_for_the_next_start(fake_server, piped,
                                                                       private_state):
    proc = piped("bot", fake_server.port)
    fake_server.accept("bot", token=TOKEN)
    fake_server.send(tag_line(wire.encode(wire.chat("bob", "before")), 0, {}, 5))
    proc.output.expect(b"<bob> before\n")
    fake_server.listener.close()  # no reconnecting: the server still holds the session
    fake_server.hang_up()
    proc.output.expect(b"*** connection lost; reconnecting...\n")
    proc.send_signal(signal.SIGINT)
    assert proc.wait(TIMEOUT) == 0
    [path] = token_files(private_state)
    with open(path) as file:
        assert file.read() == f"{TOKEN} 5\n"
