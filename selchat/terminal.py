"""The terminal's input mode for the interactive client (POSIX only: termios).

`selchat.screen` draws the line being typed itself, so while the client runs the
terminal must pass on each key at once (non-canonical) and not print it (no
echo): "cbreak" mode, as curses calls it. The rest is left alone: Ctrl-C still
raises SIGINT, Ctrl-Z SIGTSTP, and output is processed as before.
"""
import contextlib
import os
import termios
from tty import CC, LFLAG

#: Columns assumed when the terminal does not say (a new pseudo-terminal says 0).
DEFAULT_WIDTH = 80


class CbreakMode:
    """Cbreak mode on terminal `fd` inside a `with` block; the old mode after it."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.saved = termios.tcgetattr(fd)
        self.mode = termios.tcgetattr(fd)
        self.mode[LFLAG] &= ~(termios.ICANON | termios.ECHO)
        self.mode[CC][termios.VMIN] = 1  # read() returns as soon as one key is there
        self.mode[CC][termios.VTIME] = 0

    def enter(self) -> None:
        termios.tcsetattr(self.fd, termios.TCSANOW, self.mode)

    def leave(self) -> None:
        with contextlib.suppress(termios.error):  # a terminal that hung up is gone
            termios.tcsetattr(self.fd, termios.TCSANOW, self.saved)

    def __enter__(self) -> "CbreakMode":
        self.enter()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.leave()


def width(fd: int) -> int:
    """The terminal's width in columns, asked each time (it may have been resized)."""
    try:
        return os.get_terminal_size(fd).columns or DEFAULT_WIDTH
    except OSError:
        return DEFAULT_WIDTH
