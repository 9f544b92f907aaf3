"""`selchat join`: a chat client with one select() over stdin and the server socket.

Theory of operation. Each pass of the loop waits in select() for

* the server socket: readable always, writable only while bytes wait to go out.
  It is non-blocking, so a long paste is queued and sent as the server takes it
  (it reads slowly under flood control), and never stalls the loop;
* standard input: once joined, until quitting, and only while the send queue
  is short, so the rest of a long paste waits in its pipe, not in our memory;
* a pipe on which signals arrive (Ctrl-C, kill, the terminal hanging up, and
  in a terminal Ctrl-Z), so a signal is handled between two steps, never in
  the middle of one.

Writing to standard output is the one thing that blocks: a slow terminal or
reader holds the loop back, and the server's lines wait in the kernel rather
than being dropped.

The session goes through three states:

  joining   the name has been sent; stdin is not read until "*** Welcome, ".
            A "!!! " line instead means the name was refused (exit 2).
  joined    lines typed are sent, lines received are shown.
  quitting  "/quit" has been sent, and nothing after it; the session is over
            when the server closes the connection (exit 0). A close in any
            other state is an error (exit 1).

In a terminal, `selchat.screen.Screen` edits the line being typed and keeps it
under the lines received, with the terminal in cbreak mode (`selchat.terminal`)
until the client stops or exits; otherwise lines go in and out plainly.
Everything received passes through `selchat.sanitize.clean` before it is shown.
"""
import contextlib
import os
import select
import signal
import socket
from typing import Iterator, List, Optional, Tuple

from selchat import wire
from selchat.framing import LineBuffer
from selchat.sanitize import clean
from selchat.screen import END, Screen, Submitted, plain

try:
    from selchat import terminal
except ImportError:  # no termios: not POSIX, and select() cannot watch stdin either
    terminal = None  # type: ignore[assignment]

#: Seconds to wait for the server to accept the connection.
CONNECT_TIMEOUT = 10.0
#: Bytes asked of recv() and read() at once.
READ_SIZE = 64 * 1024
#: Longest line held, from the server or from a pipe; it only bounds memory. The
#: server's own lines are far shorter (its --max-line, 4 KiB by default, plus a name).
MAX_LINE = 1024 * 1024
#: Stdin is not read while this much waits to be sent (asyncio's high-water mark).
SEND_HIGH_WATER = 64 * 1024
#: Signals that end the session as Ctrl-C does: kill, and the terminal going away.
LEAVE_SIGNALS = ("SIGINT", "SIGTERM", "SIGHUP")

WELCOME = "*** Welcome, "
REFUSED = "!!! "
SERVER_FULL = "!!! server full"

STDIN, STDOUT, STDERR = 0, 1, 2  # read and written directly, unbuffered

Outcome = Tuple[int, Optional[str]]  # exit status, and the error to print if any


def run(name: str, host: str, port: int) -> int:
    """Chat as `name` on the server at host:port; returns the exit status."""
    if terminal is None:
        return _error("join needs a POSIX terminal or pipe")
    if not name.isprintable():  # a newline in it would send a second line
        return _error(f"invalid name: {name!r}", 2)
    try:
        sock = socket.create_connection((host, port), timeout=CONNECT_TIMEOUT)
    except KeyboardInterrupt:
        return 0
    except OSError as exc:
        where = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        return _error(f"cannot connect to {where}: {exc.strerror or exc}")
    sock.setblocking(False)
    interactive = os.isatty(STDIN) and os.isatty(STDOUT)
    mode = terminal.CbreakMode(STDIN) if interactive else None
    screen = Screen(f"{name}> ", terminal.width(STDOUT)) if interactive else None
    # Ctrl-Z is caught only in a terminal, to give the shell its mode back first.
    signals = LEAVE_SIGNALS + (("SIGTSTP",) if interactive else ())
    with sock, _signals_as_input(signals) as signal_fd, mode or contextlib.nullcontext():
        status, error = _Session(sock, name, screen, mode).run(signal_fd)
    if error:  # now that the terminal is back to normal
        _error(error)
    return status


class _Session:
    """One visit to the chat room: the socket, both directions' buffers, the state."""

    def __init__(self, sock: socket.socket, name: str, screen: Optional[Screen],
                 mode: Optional["terminal.CbreakMode"]) -> None:
        self.sock = sock
        self.name = name
        self.screen = screen  # these two are None when not in a terminal
        self.mode = mode
        self.received = LineBuffer(MAX_LINE)
        self.typed = LineBuffer(MAX_LINE)  # stdin, when not a terminal
        self.outgoing = bytearray(f"{name}\n".encode())
        self.joined = False
        self.quitting = False

    def run(self, signals: int) -> Outcome:
        try:
            return self._loop(signals)
        except OSError as exc:  # stdout failed; the socket and stdin fail in place
            self._leave_now()
            return 1, f"cannot write output: {exc.strerror or exc}"
        finally:
            if self.screen:  # leave the shell a clean line
                with contextlib.suppress(OSError):
                    _write(self.screen.clear())

    def _loop(self, signals: int) -> Outcome:
        if self.screen:
            _write(self.screen.redraw())
        while True:
            reading = self.joined and not self.quitting and len(self.outgoing) < SEND_HIGH_WATER
            readable, writable, _ = select.select(
                [self.sock, signals] + ([STDIN] if reading else []),
                [self.sock] if self.outgoing else [],
                [],
            )
            if signals in readable:
                if any(signum != signal.SIGTSTP for signum in os.read(signals, 512)):
                    self._leave_now()
                    return 0, None
                self._suspend()
                continue  # the shell may have read stdin meanwhile: select() again
            if writable:
                self._send()
            if self.sock in readable:
                outcome = self._receive()
                if outcome:
                    return outcome
            if STDIN in readable:
                self._read_input()

    def _send(self) -> None:
        try:
            sent = self.sock.send(self.outgoing)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:  # the server is gone; reading the socket tells how
            self.outgoing.clear()
            return
        del self.outgoing[:sent]

    def _receive(self) -> Optional[Outcome]:
        """Show what the server sent; the outcome if the session is over."""
        try:
            data = self.sock.recv(READ_SIZE)
        except (BlockingIOError, InterruptedError):
            return None
        except OSError:  # a reset ends the session as a close does
            data = b""
        self.received.feed(data)
        shown: List[str] = []
        for line in self._lines(self.received, "a received", at_eof=not data):
            text = clean(line)
            if not self.joined:
                if text.startswith(REFUSED):
                    return (1 if text == SERVER_FULL else 2), text[len(REFUSED):]
                if not text.startswith(WELCOME):
                    continue  # the server asking for the name, already sent
                self.joined = True
                self._rename(text[len(WELCOME):].partition("!")[0])
            elif text.startswith(f"*** {self.name} is now known as "):  # after /nick
                self._rename(text.rsplit(" ", 1)[1])
            shown.append(text)
        self._show(shown)
        if data:
            return None
        if self.quitting:
            return 0, None
        if self.joined:
            return 1, "connection to server lost"
        return 1, "the server closed the connection before joining"

    def _read_input(self) -> None:
        try:
            data = os.read(STDIN, READ_SIZE)
        except OSError:  # a terminal that hung up: the same as end of input
            data = b""
        lines: List[Submitted]
        if self.screen and data:
            self.screen.width = terminal.width(STDOUT)
            echo, lines = self.screen.keys(data)
            _write(echo)
        elif self.screen:
            lines = [END]
        else:
            self.typed.feed(data)
            lines = [line.decode("utf-8", "replace")
                     for line in self._lines(self.typed, "an input", at_eof=not data)]
            if not data:
                lines.append(END)
        for line in lines:
            if self.quitting:  # nothing is sent after /quit
                break
            self._submit(line)

    def _submit(self, line: Submitted) -> None:
        """Queue a line typed; END (Ctrl-D, end of input) and a lone "q" quit."""
        text = line if isinstance(line, str) and line.strip() != "q" else "/quit"
        if isinstance(wire.parse(text), wire.Quit):
            self.quitting = True
        elif not text.strip():
            return  # the server ignores blank lines anyway
        self.outgoing += f"{text}\n".encode()

    def _leave_now(self) -> None:
        """Ctrl-C and the like: say /quit if that can be done without waiting."""
        if self.joined and not self.quitting:
            self._submit(END)
            self._send()

    def _suspend(self) -> None:
        """Ctrl-Z: give the shell back a normal terminal, stop, and resume on `fg`."""
        assert self.screen and self.mode
        _write(self.screen.clear())
        self.mode.leave()
        os.kill(os.getpid(), signal.SIGSTOP)  # returns once continued
        self.mode.enter()
        _write(self.screen.redraw())

    def _lines(self, buffer: LineBuffer, what: str, at_eof: bool) -> Iterator[bytes]:
        """The complete lines in `buffer`, then at EOF its unterminated rest."""
        while True:
            line = buffer.next_line()
            if line is None:
                if not at_eof:
                    return
                line, at_eof = buffer.take_rest(), False
                if line == b"":
                    return
            if isinstance(line, bytes):
                yield line
            else:
                self._warn(f"skipped {what} line longer than {MAX_LINE} bytes")

    def _show(self, lines: List[str]) -> None:
        if lines and self.screen:
            self.screen.width = terminal.width(STDOUT)
            _write(self.screen.show(lines))
        elif lines:
            _write(plain(lines))

    def _warn(self, message: str) -> None:
        """A problem that does not end the session, on stderr."""
        if self.screen:
            _write(self.screen.clear())
        _error(message)
        if self.screen:
            _write(self.screen.redraw())

    def _rename(self, name: str) -> None:
        self.name = name
        if self.screen:
            self.screen.prompt = f"{name}> "


def _write(text: str) -> None:
    """Write all of `text` to stdout, waiting while it is full: output is never dropped.

    Stdout is normally blocking; if another program made it non-blocking (that
    flag is shared by everyone using the terminal), wait in select() instead.
    """
    view = memoryview(text.encode())
    while view:
        try:
            view = view[os.write(STDOUT, view):]
        except BlockingIOError:
            select.select([], [STDOUT], [])


def _error(message: str, status: int = 1) -> int:
    """Print one line to stderr (unless it is gone too); returns `status`."""
    with contextlib.suppress(OSError):
        os.write(STDERR, f"selchat: {message}\n".encode())
    return status


@contextlib.contextmanager
def _signals_as_input(names: Tuple[str, ...]) -> Iterator[int]:
    """Turn the signals named into bytes on a pipe that select() watches.

    By default Ctrl-C raises KeyboardInterrupt wherever the program happens to
    be, perhaps halfway through a send or an escape sequence. Here the signal
    only writes to the pipe (`signal.set_wakeup_fd`), which wakes select(), and
    the loop handles it between two steps. Signals already ignored (nohup) stay so.
    """
    read_end, write_end = os.pipe()
    os.set_blocking(write_end, False)
    old_wakeup_fd = signal.set_wakeup_fd(write_end)
    signums = [getattr(signal, name) for name in names]
    old_handlers = {
        signum: signal.signal(signum, _wake_only)
        for signum in signums
        if signal.getsignal(signum) is not signal.SIG_IGN
    }
    try:
        yield read_end
    finally:
        for signum, handler in old_handlers.items():
            signal.signal(signum, handler)
        signal.set_wakeup_fd(old_wakeup_fd)
        os.close(read_end)
        os.close(write_end)


def _wake_only(signum: int, frame: object) -> None:
    """Python needs a handler for the wakeup fd to be written; the loop does the rest."""
