"""`selchat join`: a chat client with one select() over stdin and the server socket.

This module is the I/O only. What to send and what to show is decided by
`selchat.session.ClientSession` (the session's states and exit statuses are
described there); in a terminal, `selchat.screen.Screen` edits the line being
typed and keeps it under the lines received, with the terminal in cbreak mode
(`selchat.terminal`) until the client stops or exits; otherwise lines go in and
out plainly.

Each pass of the loop waits in select() for

* the server socket: readable always, writable only while bytes wait to go out.
  It is non-blocking, so a long paste is queued and sent as the server takes it
  (it reads slowly under flood control), and never stalls the loop;
* standard input: once joined, until quitting, and only while the send queue
  is short, so the rest of a long paste waits in its pipe, not in our memory;
* a pipe on which signals arrive (Ctrl-C, kill, the terminal hanging up, and
  in a terminal Ctrl-Z), so a signal is handled between two steps, never in
  the middle of one.

Two timeouts: after a key sequence cut off between two reads (a lone Esc),
`keys.ESC_DELAY` without another byte makes it an Esc press; and a server that
sends no welcome (or welcome back) within `welcome_timeout` seconds of the
connection is given up on (`ClientSession.timed_out`), as WeeChat does after 60 s.

The resume token is kept on disk while the client runs (`selchat.saved_session`),
so a client started again after a crash takes its held session back.

When the session says `Reconnect` (the connection was lost mid-chat), the
socket is closed and the loop waits instead, in select() on the signal pipe
alone, for each delay of `session.backoff` (0.2 s doubling to 5 s, jittered),
then connects without blocking (select() on the new socket and the signal
pipe, so Ctrl-C ends the client at once, with status 0), until the session's
resume window is over. Standard input is not read meanwhile: what is typed
waits in the terminal or pipe.

Writing to standard output is the one thing that blocks: a slow terminal or
reader holds the loop back, and the server's lines wait in the kernel rather
than being dropped.
"""
import contextlib
import errno
import getpass
import os
import random
import select
import signal
import socket
import ssl
import time
import unicodedata
from typing import Iterable, Iterator, List, Optional, Tuple, Union

from selchat.addresses import format_address, os_problem
from selchat.keys import ESC_DELAY
from selchat.saved_session import SavedSession, state_dir
from selchat.screen import Screen, paint, plain, wants_colour
from selchat.decisions import (
    AskPassword,
    INPUT_END,
    Decision,
    Finish,
    Prompt,
    Reconnect,
    Show,
    State,
    Submitted,
    Warn,
)
from selchat.session import DEFAULT_ROOM, ClientSession, RESUME_WINDOW, backoff
from selchat.wakeup import read_signals, signals_as_input

try:
    from selchat import terminal
except ImportError:  # no termios: not POSIX, and select() cannot watch stdin either
    terminal = None  # type: ignore[assignment]

#: Seconds to wait for the server to accept the connection.
CONNECT_TIMEOUT = 10.0
#: Bytes asked of recv() and read() at once.
READ_SIZE = 64 * 1024
#: Stdin is not read while this much waits to be sent (asyncio's high-water mark).
SEND_HIGH_WATER = 64 * 1024
#: Signals that end the session as Ctrl-C does: kill, and the terminal going away.
LEAVE_SIGNALS = ("SIGINT", "SIGTERM", "SIGHUP")
#: Seconds a client leaving on Ctrl-C waits for the server to close after its /quit.
LEAVE_GRACE = 1.0
#: Seconds a connected server has to send the welcome (WeeChat waits 60 s too):
#: a server that accepts and says nothing must not hold the client forever.
WELCOME_TIMEOUT = 60.0

#: OpenSSL's X509_V_ERR_HOSTNAME_MISMATCH: a --ca cannot fix a wrong name.
X509_HOSTNAME_MISMATCH = 62

STDIN, STDOUT, STDERR = 0, 1, 2  # read and written directly, unbuffered


def run(name: str, host: str, port: int, no_colour: bool = False,
        timestamps: bool = False, resume_window: float = RESUME_WINDOW,
        welcome_timeout: float = WELCOME_TIMEOUT, tls: Optional[ssl.SSLContext] = None,
        default_room: str = DEFAULT_ROOM, server_password: Optional[str] = None) -> int:
    """Chat as `name` on the server at host:port; returns the exit status.

    `resume_window`: seconds to go on reconnecting after a lost connection (0: never).
    `welcome_timeout`: seconds a connected server has to welcome the client.
    `tls`: speak TLS with this context (`selchat.tls.client_context`).
    `default_room`: the server's --default-room (not shown in the prompt).
    `server_password`: the server's --server-password. A registered name's
    password comes from SELCHAT_PASSWORD, or is asked for without echo."""
    if terminal is None:
        return _error("join needs a POSIX terminal or pipe")
    # A control character (a newline would send a second line) cannot be sent;
    # anything else is the server's to judge, and its reason is shown.
    if any(unicodedata.category(ch) == "Cc" for ch in name):
        return _error(f"invalid name: {name!r}", 2)
    try:
        sock = socket.create_connection((host, port), timeout=CONNECT_TIMEOUT)
        if tls is not None:
            sock = secure(sock, tls, host, CONNECT_TIMEOUT)
    except KeyboardInterrupt:
        return 0
    except ssl.SSLCertVerificationError as exc:
        hint = ("the name it was reached by is not in its certificate"
                if exc.verify_code == X509_HOSTNAME_MISMATCH else "give its CA with --ca FILE")
        return _error(f"{format_address(host, port)} cannot be trusted: "
                      f"{exc.verify_message} ({hint})")
    except ssl.SSLError as exc:
        return _error(f"no TLS with {format_address(host, port)}: {exc.reason or exc} "
                      "(is it the TLS port?)")
    except OSError as exc:
        return _error(f"cannot connect to {format_address(host, port)}: {os_problem(exc)}")
    sock.setblocking(False)
    saved = SavedSession.open(state_dir(os.environ), host, port, name)
    interactive = os.isatty(STDIN) and os.isatty(STDOUT)
    mode = terminal.CbreakMode(STDIN) if interactive else None
    screen = Screen(f"{name}> ", terminal.width(STDOUT)) if interactive else None
    colour = wants_colour(os.isatty(STDOUT), os.environ, no_colour)
    session = ClientSession(name, interactive, resume_window, saved.read() if saved else None,
                            default_room, os.environ.get("SELCHAT_PASSWORD"), server_password)
    client = _Client(sock, session, screen, mode, colour, timestamps, address=(host, port),
                     saved=saved, welcome_timeout=welcome_timeout, tls=tls)
    # Ctrl-Z is caught only in a terminal, to give the shell its mode back first.
    signals = LEAVE_SIGNALS + (("SIGTSTP",) if interactive else ())
    try:
        with contextlib.closing(client), signals_as_input(signals) as signal_fd, \
                mode or contextlib.nullcontext():
            status, error = client.run(signal_fd)
    finally:
        if saved is not None and client.session_held:
            saved.close()
        elif saved is not None:  # the session is over (a crash never gets here)
            saved.forget()
    if error:  # now that the terminal is back to normal
        _error(error)
    return status


class _Client:
    """The session's I/O: the socket, its send queue, stdin, stdout and the screen."""

    def __init__(self, sock: socket.socket, session: ClientSession, screen: Optional[Screen] = None,
                 mode: Optional["terminal.CbreakMode"] = None, colour: bool = False,
                 timestamps: bool = False, address: Tuple[str, int] = ("", 0),
                 saved: Optional[SavedSession] = None,
                 welcome_timeout: float = WELCOME_TIMEOUT,
                 tls: Optional[ssl.SSLContext] = None) -> None:
        self.sock: Optional[socket.socket] = sock  # None while reconnecting
        self.tls = tls  # to connect again over TLS
        self.session = session
        self.screen = screen  # these two are None when not in a terminal
        self.mode = mode
        self.colour = colour
        self.timestamps = timestamps
        self.address = address  # to connect to again
        self.outgoing = bytearray()
        #: While reconnecting: when to give up (time.monotonic), and the waits left.
        self._give_up_at: Optional[float] = None
        self._delays: Iterator[float] = iter(())
        self.saved = saved  # where the token is kept for a client started again
        #: Over, but the server still holds the session (left while reconnecting).
        self.session_held = False
        self.welcome_timeout = welcome_timeout
        #: When a server that has not welcomed this connection is given up on.
        self._welcome_by: Optional[float] = time.monotonic() + welcome_timeout

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None

    def run(self, signals: int) -> Finish:
        try:
            return self._loop(signals)
        except OSError as exc:  # stdout failed; the socket and stdin fail in place
            self._leave_now()
            return Finish(1, f"cannot write output: {exc.strerror or exc}")
        finally:
            if self.screen:  # leave the shell a clean line
                with contextlib.suppress(OSError):
                    _write(self.screen.clear())

    def _loop(self, signals: int) -> Finish:
        if self.screen:
            _write(self.screen.redraw())
        while True:
            if self.sock is None:
                outcome = self._reconnect(signals)
                if outcome:
                    return outcome
                continue
            self.outgoing += self.session.data_to_send()
            reading = self.session.wants_input and len(self.outgoing) < SEND_HIGH_WATER
            waiting = self.screen is not None and self.screen.waiting
            server = self.sock.fileno()
            readable, writable, _ = select.select(
                [server, signals] + ([STDIN] if reading else []),
                [server] if self.outgoing else [],
                [],
                self._timeout(waiting),
            )
            if signals in readable:
                if any(signum != signal.SIGTSTP for signum in read_signals(signals)):
                    return self._leave_now()
                self._suspend()
                continue  # the shell may have read stdin meanwhile: select() again
            if writable:
                self._send()
            outcome = None
            if server in readable:
                outcome = self._receive()
            elif STDIN in readable:
                outcome = self._read_input()
            elif self._welcome_by is not None and time.monotonic() >= self._welcome_by:
                self._welcome_by = None
                outcome = self._apply(self.session.timed_out(self.welcome_timeout))
            elif self.screen and waiting and not (readable or writable):  # Esc, then nothing
                outcome = self._typed(*self.screen.keys_done())
            if outcome:
                return outcome

    def _timeout(self, waiting: bool) -> Optional[float]:
        """select()'s timeout: the Esc delay, or the time left for a welcome."""
        timeouts = [ESC_DELAY] if waiting else []
        if self._welcome_by is not None:
            timeouts.append(max(0.0, self._welcome_by - time.monotonic()))
        return min(timeouts, default=None)

    def _send(self) -> None:
        if self.sock is None:
            return
        try:
            sent = self.sock.send(self.outgoing)
        except (BlockingIOError, InterruptedError, ssl.SSLWantReadError, ssl.SSLWantWriteError):
            return
        except OSError:  # the server is gone; reading the socket tells how
            self.outgoing.clear()
            return
        del self.outgoing[:sent]

    def _receive(self) -> Optional[Finish]:
        assert self.sock is not None
        try:
            data = self.sock.recv(READ_SIZE)
            # TLS: what was decrypted beyond one record would not wake select().
            while data and isinstance(self.sock, ssl.SSLSocket) and self.sock.pending():
                data += self.sock.recv(READ_SIZE)
        except (BlockingIOError, InterruptedError, ssl.SSLWantReadError, ssl.SSLWantWriteError):
            return None
        except OSError:  # a reset is a close, for the session
            data = b""
        decisions = self.session.receive_data(data)
        if self.saved is not None:  # before anything is shown: a welcome seen is kept
            self.saved.keep(self.session.token, self.session.last_seq)
        if self.session.state is State.JOINED:
            self._welcome_by = None
            if self._give_up_at is not None:
                self._give_up_at = None  # resumed
        return self._apply(decisions)

    # -- reconnecting ---------------------------------------------------------------

    def _lost(self, window: float) -> None:
        """The session wants a new connection: drop this one and start waiting."""
        self.close()
        self.outgoing.clear()  # half a line must not start the new connection
        if self._give_up_at is None:  # not already reconnecting
            self._give_up_at = time.monotonic() + window
            self._delays = backoff(random.random)

    def _reconnect(self, signals: int) -> Optional[Finish]:
        """One attempt: the next back-off wait, then a connection (or not)."""
        assert self._give_up_at is not None
        left = self._give_up_at - time.monotonic()
        if left <= 0:
            return self._apply([self.session.give_up()])
        outcome = self._wait(signals, [], min(next(self._delays), left))
        if isinstance(outcome, Finish):
            return outcome
        result = self._connect(signals, min(CONNECT_TIMEOUT, max(left, 0.1)))
        if isinstance(result, socket.socket):
            self.sock = result
            self.session.connected()
            self._welcome_by = time.monotonic() + self.welcome_timeout
            return None
        return result

    def _connect(self, signals: int, timeout: float) -> Union[socket.socket, Finish, None]:
        """A connected non-blocking socket to the server (each of its addresses
        in turn), None if there is none within `timeout`, Finish on Ctrl-C."""
        deadline = time.monotonic() + timeout
        host, port = self.address
        try:
            addresses = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except OSError:  # no network, no DNS: the next attempt may do better
            return None
        for family, kind, proto, _, address in addresses:
            sock = socket.socket(family, kind, proto)
            sock.setblocking(False)
            status = sock.connect_ex(address)
            while status in (errno.EINPROGRESS, errno.EAGAIN, errno.EINTR):
                outcome = self._wait(signals, [sock], deadline - time.monotonic())
                if isinstance(outcome, Finish):
                    sock.close()
                    return outcome
                if outcome:  # writable: connected, or failed
                    status = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                elif time.monotonic() >= deadline:
                    status = errno.ETIMEDOUT
            if status == 0 and self.tls is not None:
                try:
                    sock = secure(sock, self.tls, host, max(0.1, deadline - time.monotonic()))
                except OSError:  # SSLError too: the next attempt may do better
                    status = errno.ECONNABORTED
            if status == 0:
                return sock
            sock.close()
        return None

    def _wait(self, signals: int, sockets: List[socket.socket],
              timeout: float) -> Union[Finish, bool]:
        """Wait up to `timeout` for a socket to be writable (True) or the time
        to pass (False); Ctrl-C and the like leave (Finish), Ctrl-Z suspends."""
        readable, writable, _ = select.select([signals], sockets, [], max(timeout, 0))
        if signals in readable:
            if any(signum != signal.SIGTSTP for signum in read_signals(signals)):
                return self._leave_now()
            self._suspend()
        return bool(writable)

    def _read_input(self) -> Optional[Finish]:
        try:
            data = os.read(STDIN, READ_SIZE)
        except OSError:  # a terminal that hung up: the same as end of input
            data = b""
        if not self.screen:
            return self._apply(self.session.input_data(data))
        if not data:
            return self._typed("", [INPUT_END])
        self.screen.width = terminal.width(STDOUT)
        return self._typed(*self.screen.keys(data))

    def _typed(self, echo: str, lines: Iterable[Submitted]) -> Optional[Finish]:
        _write(echo)
        decisions: List[Decision] = []
        for line in lines:
            decisions += self.session.submit(line)
        return self._apply(decisions)

    def _apply(self, decisions: List[Decision]) -> Optional[Finish]:
        """Carry out the session's decisions; the outcome if the session is over."""
        shown: List[str] = []
        for decision in decisions:
            if isinstance(decision, Show):
                stamp = _stamp(decision.time_ms) if self.timestamps else ""
                shown.append(paint(decision.text, decision.style, self.colour, stamp,
                                   decision.room))
            elif isinstance(decision, Reconnect):
                self._lost(decision.window)
            elif isinstance(decision, Prompt) and self.screen:
                # The room you talk in when not the default one, else your name
                # (redrawn with the line that changed it, which always comes with it).
                self.screen.prompt = f"{decision.room or decision.name}> "
            elif isinstance(decision, AskPassword):
                self._show(shown)
                shown = []
                self.session.give_password(self._ask_password(decision.name))
            elif isinstance(decision, Warn):
                self._show(shown)
                shown = []
                self._warn(decision.message)
            elif isinstance(decision, Finish):
                self._show(shown)
                return decision
        self._show(shown)
        return None

    def _leave_now(self) -> Finish:
        """Ctrl-C and the like: say /quit if that can be done without waiting."""
        # While reconnecting there is no one to say it to: the server holds the
        # session, so its token is kept for a client started again.
        self.session_held = self.sock is None and self.session.token is not None
        outcome = self.session.interrupt()
        self.outgoing += self.session.data_to_send()
        self._send()
        self._close_gracefully()
        return outcome

    def _close_gracefully(self) -> None:
        """Half-close and read until the server closes, for at most LEAVE_GRACE.

        Closing with unread input makes the kernel reset the connection, and
        a reset can destroy the /quit just sent: the server would take the
        session for dropped and hold it, instead of saying it left."""
        sock = self.sock
        if sock is None:
            return
        deadline = time.monotonic() + LEAVE_GRACE
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_WR)
            while select.select([sock], [], [], max(0.0, deadline - time.monotonic()))[0]:
                if not sock.recv(READ_SIZE):
                    break

    def _ask_password(self, name: str) -> str:
        """A registered name's password, typed without echo (the terminal's
        own mode for a moment, as getpass needs it)."""
        if self.screen:
            _write(self.screen.clear())
        if self.mode:
            self.mode.leave()
        try:
            return getpass.getpass(f"Password for {name}: ")
        except (EOFError, OSError):
            return ""
        finally:
            if self.mode:
                self.mode.enter()
            if self.screen:
                _write(self.screen.redraw())

    def _suspend(self) -> None:
        """Ctrl-Z: give the shell back a normal terminal, stop, and resume on `fg`."""
        assert self.screen and self.mode
        _write(self.screen.clear())
        self.mode.leave()
        os.kill(os.getpid(), signal.SIGSTOP)  # returns once continued
        self.mode.enter()
        _write(self.screen.redraw())

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


def _stamp(time_ms: Optional[int]) -> str:
    """HH:MM, local time, of the server's time for a line, else of now."""
    return time.strftime("%H:%M", time.localtime(None if time_ms is None else time_ms / 1000))


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


def secure(sock: socket.socket, context: ssl.SSLContext, host: str,
           timeout: float) -> socket.socket:
    """`sock` after a TLS handshake with `host` (blocking, at most `timeout`),
    non-blocking again. Raises ``ssl.SSLError`` (an untrusted certificate:
    ``ssl.SSLCertVerificationError``) or OSError."""
    sock.settimeout(timeout)
    try:
        secured = context.wrap_socket(sock, server_hostname=host)
    except BaseException:
        sock.close()
        raise
    secured.setblocking(False)
    return secured


def _error(message: str, status: int = 1) -> int:
    """Print one line to stderr (unless it is gone too); returns `status`."""
    with contextlib.suppress(OSError):
        os.write(STDERR, f"selchat: {message}\n".encode())
    return status
