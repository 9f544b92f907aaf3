"""`selchat join` with rooms (issue 20), in a pseudo-terminal and through a pipe.

The server's side is the scripted `fake_server`, sending the room lines exactly
as issue 20 fixes them; the client is the real process.
"""
import re

from selchat.screen import room_colour
from support.constants import TIMEOUT

DIM, CYAN, RESET = "\x1b[2m", "\x1b[36m", "\x1b[0m"


def coloured(room: str) -> str:
    return f"\x1b[{room_colour(room)}m{room}{RESET}"


def leave(term, fake_server) -> None:
    """Ctrl-D: /quit, and the server closes."""
    term.type(b"\x04")
    assert fake_server.reader.readline() == b"/quit\n"
    fake_server.hang_up()
    assert term.proc.wait(TIMEOUT) == 0


def test_terminal_prompt_follows_the_current_room_and_rooms_have_colours(fake_server, terminal):
    term = terminal("ann", fake_server.port)
    fake_server.accept("ann")
    term.output.expect(b"ann> ")
    term.type(b"/join #dev\r")
    assert fake_server.reader.readline() == b"/join #dev\n"  # sent as typed
    fake_server.send(b"*** You joined #dev. Online (2): bob, ann\n"
                     b"*** Topic for #dev: builds\n")
    term.output.expect(f"{CYAN}*** Topic for #dev: builds{RESET}\r\n#dev> ".encode())

    fake_server.send(b"#dev <bob> hi\n<carol> in the lobby\n#ops * dan waves\n")
    term.output.expect(f"{coloured('#dev')} <bob> hi\r\n".encode())
    term.output.expect(b"<carol> in the lobby\r\n")
    term.output.expect(f"{coloured('#ops')} \x1b[35m* dan waves{RESET}\r\n#dev> ".encode())

    term.type(b"hello\r")
    assert fake_server.reader.readline() == b"hello\n"
    term.output.expect(f"{coloured('#dev')} {DIM}<ann> hello{RESET}\r\n#dev> ".encode())

    term.type(b"/part\r")
    assert fake_server.reader.readline() == b"/part\n"
    fake_server.send(b"#dev *** ann has left #dev.\n")
    term.output.expect(f"{CYAN}*** ann has left #dev.{RESET}\r\nann> ".encode())
    leave(term, fake_server)


def test_terminal_now_talking_in_the_default_room_shows_the_name(fake_server, terminal):
    term = terminal("ann", fake_server.port, "--default-room", "main")
    fake_server.accept("ann")
    term.output.expect(b"ann> ")
    fake_server.send(b"*** You joined #lobby. Online (1): ann\n")
    term.output.expect(b"\r\n#lobby> ")  # not the default room of this server
    fake_server.send(b"*** Now talking in #main.\n")
    term.output.expect(b"*** Now talking in #main.\x1b[0m\r\nann> ")
    leave(term, fake_server)


def test_without_colour_the_room_is_plain_text(fake_server, terminal):
    term = terminal("ann", fake_server.port, "--no-color")
    fake_server.accept("ann")
    # The welcome drawn first: else it may come in the same read as the room's line.
    term.output.expect(b"(type /help for commands)\r\nann> ")
    fake_server.send(b"#dev <bob> hi\n")
    term.output.expect(b"\r\x1b[J#dev <bob> hi\r\nann> ")
    leave(term, fake_server)
    assert not re.search(rb"\x1b\[[\d;]*m", term.output.data)


def test_a_pipe_shows_each_room_line_as_the_server_wrote_it(fake_server, piped):
    proc = piped("bot", fake_server.port)
    fake_server.accept("bot")
    proc.stdin.write(b"/join #dev\nhello\n")
    proc.stdin.flush()
    assert fake_server.reader.readline() == b"/join #dev\n"
    assert fake_server.reader.readline() == b"hello\n"
    fake_server.send(b"*** You joined #dev. Online (1): bot\n#dev <bob> hi\n"
                     b"#dev *** bob has left #dev (off).\n")
    proc.output.expect(b"*** You joined #dev. Online (1): bot\n#dev <bob> hi\n"
                       b"#dev *** bob has left #dev (off).\n")
    proc.stdin.close()
    assert fake_server.reader.readline() == b"/quit\n"
    fake_server.hang_up()
    assert proc.wait(TIMEOUT) == 0
    assert b"\x1b" not in proc.output.data
