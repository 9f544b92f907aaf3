"""`selchat join` as a user runs it: through pipes and in a pseudo-terminal.

The client runs as a subprocess against a real `selchat serve` (the
`chat_server` fixtures) or, for what a real server never sends, a scripted
fake one; raw sockets play the other users. Every read has a deadline.
"""
import os
import re
import signal
import socket
import subprocess
import tempfile
import termios

import pytest

from selchat import client
from selchat.session import ClientSession
from support.clients import LineClient
from support.constants import TIMEOUT
from support.join_client import join, welcome
from support.waiting import wait_for


# -- through pipes ----------------------------------------------------------


def test_pipe_sends_each_line_and_leaves_at_eof_once_delivered(server, connect):
    bob = connect("bob")
    result = join("bot", server.port, b"hello\n\nbye")  # a blank line, no final newline
    assert (result.returncode, result.stderr) == (0, b"")
    assert result.stdout.decode().splitlines() == [welcome("bot", "bob"), "*** Goodbye, bot."]
    assert bob.lines(4) == [
        "*** bot has joined the chat room.",
        "<bot> hello",
        "<bot> bye",
        "*** bot has left the chat room.",
    ]


def test_pipe_shows_others_as_they_speak_and_sends_q_as_a_word(server, connect, piped):
    bob = connect("bob")
    proc = piped("bot", server.port)
    proc.output.expect(b"*** Welcome, bot!")
    bob.expect("*** bot has joined the chat room.")
    bob.send("hi bot", "/me waves")
    proc.output.expect(b"\n<bob> hi bot\n* bob waves\n")
    proc.stdin.write(b"q\n/q\nnot sent\n")  # a bot must not stop on the word q; /q quits
    proc.stdin.flush()
    proc.output.expect(b"*** Goodbye, bot.\n")
    assert proc.wait(TIMEOUT) == 0
    assert bob.lines(2) == ["<bot> q", "*** bot has left the chat room."]
    assert b"\x1b" not in proc.output.data


def test_pipe_timestamps_each_line(server, connect):
    connect("bob")
    result = join("bot", server.port, b"", "--timestamps")
    assert result.returncode == 0
    lines = result.stdout.decode().splitlines()
    assert [line[6:] for line in lines] == [welcome("bot", "bob"), "*** Goodbye, bot."]
    assert all(re.fullmatch(r"\d\d:\d\d ", line[:6]) for line in lines)


def test_pipe_under_flood_control_delivers_every_line(chat_server):
    server = chat_server("--flood-burst", "5", "--flood-rate", "100")
    bob = LineClient(server.address, "bob")
    lines = [f"line {i}" for i in range(60)]
    result = join("bot", server.port, "".join(line + "\n" for line in lines).encode())
    assert result.returncode == 0, result.stderr
    assert bob.lines(62)[1:-1] == [f"<bot> {line}" for line in lines]


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["int", "term"])
def test_pipe_interrupted_leaves_cleanly(server, connect, piped, signum):
    bob = connect("bob")
    proc = piped("bot", server.port)
    bob.expect("*** bot has joined the chat room.")
    proc.send_signal(signum)
    assert proc.wait(TIMEOUT) == 0
    bob.expect("*** bot has left the chat room.")
    assert proc.stderr.read() == b""


def test_a_long_paste_is_sent_whole_without_blocking_the_client(chat_server, piped):
    # 3 MB at once, while flood control slows the server: queued, never dropped.
    server = chat_server("--flood-burst", "20", "--flood-rate", "5000")
    bob = LineClient(server.address, "bob")
    lines = [f"{i:05} " + "x" * 2000 for i in range(1500)]
    with tempfile.TemporaryFile() as stdin:
        stdin.write("".join(line + "\n" for line in lines).encode())
        stdin.seek(0)
        proc = piped("bot", server.port, stdin=stdin)  # not a terminal: q would be sent
        bob.expect("*** bot has joined the chat room.")
        assert bob.lines(len(lines)) == [f"<bot> {line}" for line in lines]
        assert proc.wait(TIMEOUT) == 0


def test_refused_connection_is_one_line_and_status_1():
    with socket.socket() as unused:  # bound, not listening: connections are refused
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
        result = join("bot", port)
    assert result.returncode == 1
    assert result.stderr == (
        f"selchat: cannot connect to 127.0.0.1:{port}: connection refused\n".encode())
    assert result.stdout == b""


def test_taken_and_invalid_names_give_the_reason_and_status_2(server, connect):
    connect("bob")
    result = join("BOB", server.port, b"never sent\n")
    assert (result.returncode, result.stdout) == (2, b"")
    assert result.stderr == b"selchat: name taken: BOB\n"
    result = join("no spaces", server.port)
    assert result.returncode == 2
    assert result.stderr.startswith(b"selchat: invalid name: ")
    assert result.stderr.count(b"\n") == 1


def test_server_full_is_status_1(chat_server):
    server = chat_server("--max-clients", "1")
    _bob = LineClient(server.address, "bob")  # takes the only place (while referenced)
    result = join("bot", server.port)
    assert (result.returncode, result.stderr) == (1, b"selchat: server full\n")


def test_server_shutting_down_is_one_line_and_status_1(server, piped):
    proc = piped("bot", server.port)
    proc.output.expect(b"*** Welcome, bot!")
    server.stop()
    proc.output.expect(b"\n*** Server is shutting down.\n")
    assert proc.wait(TIMEOUT) == 1
    assert proc.stderr.read() == b"selchat: the server shut down\n"


def test_connection_lost_mid_chat_is_one_line_and_status_1(fake_server, piped):
    proc = piped("bot", fake_server.port)
    fake_server.accept("bot")
    proc.output.expect(b"*** Welcome, bot!")
    fake_server.hang_up()
    assert proc.wait(TIMEOUT) == 1
    assert proc.stderr.read() == b"selchat: connection to server lost\n"


def test_server_closing_before_the_welcome_is_status_1(fake_server, piped):
    proc = piped("bot", fake_server.port)
    fake_server.accept("bot", welcome=False)
    fake_server.hang_up()
    assert proc.wait(TIMEOUT) == 1
    assert proc.stdout.read() == b""  # the server's request for a name is not shown
    assert proc.stderr.read() == b"selchat: the server closed the connection before joining\n"


def test_escape_sequences_from_a_peer_arrive_neutralised(server, connect, piped):
    mallory = connect("mallory")
    proc = piped("bot", server.port)
    mallory.expect("*** bot has joined the chat room.")
    mallory.send_bytes(b"\x1b[2J\x1b]0;owned\x07red: \x1b[31mred\x1b[0m\x08!\n")
    proc.output.expect(b"\n<mallory> red: red!\n")
    proc.stdin.close()
    assert proc.wait(TIMEOUT) == 0


def test_hostile_server_bytes_are_neutralised_and_partial_lines_joined(fake_server, piped):
    proc = piped("eve", fake_server.port, stdin=subprocess.DEVNULL)
    fake_server.accept("eve")
    assert fake_server.reader.readline() == b"/quit\n"  # stdin was empty
    fake_server.send(b"<ev")
    fake_server.send(b"il> \x1b]52;c;cm0gLXJmIH4=\x07\x1b[2J\xc2\x9b31mboo\r\x07\xff\n<evil> ")
    burst = b"".join(b"<evil> %d\n" % i for i in range(5000))
    fake_server.send(burst + b"*** Goodbye, eve.\n")
    fake_server.hang_up()
    proc.output.expect(b"*** Goodbye, eve.\n")
    assert proc.wait(TIMEOUT) == 0
    assert proc.stderr.read() == b""
    assert proc.output.data.decode().splitlines() == [
        welcome("eve"),
        "<evil> boo\ufffd",
        "<evil> <evil> 0",
        *(f"<evil> {i}" for i in range(1, 5000)),
        "*** Goodbye, eve.",
    ]


# -- in a terminal ------------------------------------------------------------

OUR_ESCAPES = re.compile(rb"\x1b\[(?:J|\d+[AC]|[\d;]*m)")
CYAN, DIM, RED, YELLOW, RESET = "\x1b[36m", "\x1b[2m", "\x1b[1;31m", "\x1b[1;33m", "\x1b[0m"


def test_terminal_keeps_what_is_typed_under_what_arrives(server, connect, terminal):
    bob = connect("bob")
    term = terminal("carol", server.port)
    term.output.expect(f"{CYAN}{welcome('carol', 'bob')}{RESET}\r\ncarol> ".encode())
    bob.expect("*** carol has joined the chat room.")
    assert not term.lflag() & (termios.ICANON | termios.ECHO)

    term.type("héllo wo".encode())
    term.output.expect("héllo wo".encode())
    bob.send("hi carol")  # a mention
    term.output.expect(f"\r\x1b[J{YELLOW}<bob> hi carol{RESET}\r\ncarol> héllo wo".encode())
    term.type(b"rld\r")
    assert bob.line() == "<carol> héllo world"
    term.output.expect(f"{DIM}<carol> héllo world{RESET}\r\ncarol> ".encode())  # your own

    term.type(b"/nosuch\r")  # an error from the server stands out
    term.output.expect(f"{RED}!!! unknown command: /nosuch (try /help){RESET}\r\ncarol> ".encode())
    term.type(b"/quit\r")
    term.output.expect(b"*** Goodbye, carol.")
    assert term.proc.wait(TIMEOUT) == 0
    bob.expect("*** carol has left the chat room.")
    assert termios.tcgetattr(term.slave) == term.initial_mode


def test_terminal_editing_keys_reach_what_is_sent(server, connect, terminal):
    bob = connect("bob")
    term = terminal("carol", server.port)
    term.output.expect(b"carol> ")
    bob.expect("*** carol has joined the chat room.")
    term.type("wrld 中e\u0301".encode() + b"\x01\x1b[C")  # Ctrl-A, Right: after the w
    term.type(b"o\x05\x7f!\x1bbX\r")  # End, Backspace (a whole e + accent), Alt-B
    assert bob.line() == "<carol> world X中!"
    term.type(b"\x1b[A\x15\x0b")  # Up, then Ctrl-U and Ctrl-K: empty again
    term.type(b"\x1b")
    term.type(b"a\r")  # a lone Esc does not eat the next key
    assert bob.line() == "<carol> a"


def test_terminal_line_too_long_is_recalled_and_shortened(chat_server, terminal):
    server = chat_server("--flood-rate", "0", "--max-line", "16")
    bob = LineClient(server.address, "bob")
    term = terminal("carol", server.port)
    term.output.expect(b"carol> ")
    bob.expect("*** carol has joined the chat room.")
    term.type(b"this line is far too long\r")
    term.output.expect(b"!!! line too long")
    term.type(b"\x1b[A\x17\x17\x17\x17\r")  # Up, then Ctrl-W four times
    assert bob.line() == "<carol> this line "


@pytest.mark.parametrize("options, env", [(("--no-color",), {}), ((), {"NO_COLOR": "1"})],
                         ids=["--no-color", "NO_COLOR"])
def test_terminal_without_colour(server, connect, terminal, options, env):
    bob = connect("bob")
    term = terminal("carol", server.port, *options, env=env)
    term.output.expect(f"{welcome('carol', 'bob')}\r\ncarol> ".encode())
    bob.expect("*** carol has joined the chat room.")
    bob.send("/msg carol psst")
    term.output.expect(b"\r\x1b[J*bob* psst\r\ncarol> ")
    term.type(b"\x04")
    assert term.proc.wait(TIMEOUT) == 0
    assert b"m" not in b"".join(OUR_ESCAPES.findall(term.output.data))


@pytest.mark.parametrize("key", [b"\x04", b"\x03"], ids=["ctrl-d", "ctrl-c"])
def test_terminal_ctrl_d_and_ctrl_c_leave_cleanly(server, connect, terminal, key):
    bob = connect("bob")
    term = terminal("carol", server.port)
    term.output.expect(b"carol> ")
    bob.expect("*** carol has joined the chat room.")
    term.type(key)
    assert term.proc.wait(TIMEOUT) == 0
    bob.expect("*** carol has left the chat room.")
    assert termios.tcgetattr(term.slave) == term.initial_mode
    term.output.expect(b"\r\x1b[J")  # the prompt is erased for the shell
    assert b"Traceback" not in term.output.data


def test_terminal_shows_hostile_text_without_its_escapes(fake_server, terminal):
    term = terminal("eve", fake_server.port)
    fake_server.accept("eve")
    term.output.expect(b"eve> ")
    fake_server.send(b"<evil> \x1b]0;owned\x07\x1b[1;1H\x1b[2Jboo\x07\x1b\n")
    term.output.expect(b"<evil> boo\r\neve> ")
    term.type(b"\x03")
    assert fake_server.reader.readline() == b"/quit\n"
    assert term.proc.wait(TIMEOUT) == 0
    assert OUR_ESCAPES.sub(b"", term.output.data).count(b"\x1b") == 0
    assert b"\x07" not in term.output.data


def test_terminal_ctrl_z_gives_the_shell_its_mode_and_takes_it_back(server, terminal):
    term = terminal("carol", server.port)
    term.output.expect(b"carol> ")
    term.type(b"half")
    term.output.expect(b"half")
    term.type(b"\x1a")  # Ctrl-Z
    term.output.expect(b"\r\x1b[J")
    wait_for(lambda: stopped(term.proc.pid))
    assert term.lflag() & termios.ICANON  # the mode a shell expects
    os.kill(term.proc.pid, signal.SIGCONT)  # what `fg` does
    term.output.expect(b"carol> half")
    wait_for(lambda: not term.lflag() & termios.ICANON)
    term.type(b"\x15\x04")  # Ctrl-U, then Ctrl-D on the empty line
    assert term.proc.wait(TIMEOUT) == 0


def stopped(pid: int) -> bool:
    _, status = os.waitpid(pid, os.WUNTRACED | os.WNOHANG)
    return os.WIFSTOPPED(status)


# -- without a server -----------------------------------------------------------


def test_not_posix_is_a_clear_error(monkeypatch, capfd):
    monkeypatch.setattr(client, "terminal", None)
    assert client.run("bot", "127.0.0.1", 1) == 1
    assert capfd.readouterr().err == "selchat: join needs a POSIX terminal or pipe\n"


def test_a_name_with_a_newline_is_refused_before_connecting(capfd):
    assert client.run("bot\n/nick x", "127.0.0.1", 1) == 2
    assert capfd.readouterr().err == "selchat: invalid name: 'bot\\n/nick x'\n"


class ScriptedSocket:
    """Plays back send() results: a byte count or an exception (CPython's test style)."""

    def __init__(self, *results) -> None:
        self.results = list(results)
        self.sent = b""

    def send(self, data) -> int:
        result = self.results.pop(0)
        if isinstance(result, int):
            self.sent += bytes(data[:result])
            return result
        raise result


def queued(sock) -> "client._Client":
    """A client whose send queue holds what a new session sends: /tags and its name."""
    joining = client._Client(sock, ClientSession("bot", interactive=False))
    joining.outgoing += joining.session.data_to_send()
    return joining


def test_send_keeps_the_unsent_tail_for_the_next_writable():
    sock = ScriptedSocket(8, BlockingIOError(), 100)
    joining = queued(sock)
    joining._send()
    joining._send()
    assert joining.outgoing == b"t\n"
    joining._send()
    assert (sock.sent, joining.outgoing) == (b"/tags\nbot\n", b"")


def test_send_to_a_reset_connection_drops_the_queue():
    joining = queued(ScriptedSocket(ConnectionResetError()))
    joining._send()
    assert joining.outgoing == b""
