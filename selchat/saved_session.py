"""The client's resume token on disk, so a client that crashed takes its session back.

A server holds a dropped session for two minutes (``--resume-window``), its name
taken all that time. The client that dropped it reconnects by itself; but a
client that crashed, or was killed, took the token with it. So the client keeps
the token, and the ``seq`` of the last room line it received, in a file per
server and name under the XDG state directory (``$XDG_STATE_HOME/selchat``, else
``~/.local/state/selchat``; directory 0700, file 0600: a token is a credential),
and a client started again with the same name on the same server sends
``/resume TOKEN SEQ`` first.

The file is locked (``flock``) while its client runs, and the lock goes with the
process: a second client with the same name and server finds it locked, and
neither reads nor writes it, so it cannot take over a session that is alive in
another terminal. A session that ends (the user left, the name was refused, the
server shut down, or the window to reconnect passed) removes its file; only a
client that never got to end its session (killed, crashed, or stopped with
Ctrl-C while reconnecting, when no /quit can reach the server) leaves one behind.
"""
import contextlib
import fcntl
import os
from typing import Mapping, NamedTuple, Optional
from urllib.parse import quote

#: The state directory under the home directory when XDG_STATE_HOME is unset.
DEFAULT_STATE_HOME = os.path.join(".local", "state")
#: Longest file read: a token and a number (anything longer is not ours).
MAX_FILE = 1024


class Saved(NamedTuple):
    token: str
    last_seq: int


def state_dir(environ: Mapping[str, str]) -> str:
    """``$XDG_STATE_HOME/selchat``, or ``~/.local/state/selchat`` (the XDG base
    directory specification ignores a relative XDG_STATE_HOME)."""
    base = environ.get("XDG_STATE_HOME", "")
    if not os.path.isabs(base):
        base = os.path.join(os.path.expanduser("~"), DEFAULT_STATE_HOME)
    return os.path.join(base, "selchat")


def file_name(host: str, port: int, name: str) -> str:
    """One file per server and name (names are compared ignoring case)."""
    return quote(f"{host} {port} {name.casefold()}", safe="") + ".token"


def parse(text: str) -> Optional[Saved]:
    """``TOKEN SEQ`` back to a Saved; None for anything else."""
    token, _, seq = text.strip().partition(" ")
    if token and token.isascii() and token.isprintable() and seq.isdecimal() and seq.isascii():
        return Saved(token, int(seq))
    return None


class SavedSession:
    """The locked file of one server and name, open while the client runs."""

    def __init__(self, fd: int, path: str) -> None:
        self.fd = fd
        self.path = path
        self._written: Optional[Saved] = None

    @classmethod
    def open(cls, directory: str, host: str, port: int, name: str) -> Optional["SavedSession"]:
        """The file, locked; None if another client holds it (or it cannot be had)."""
        try:
            os.makedirs(directory, mode=0o700, exist_ok=True)
            os.chmod(directory, 0o700)  # ours: older or wider modes are narrowed
            path = os.path.join(directory, file_name(host, port, name))
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        except OSError:  # a read-only or foreign home: the client runs without
            return None
        try:
            os.fchmod(fd, 0o600)
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:  # EWOULDBLOCK: in use by a live client
            os.close(fd)
            return None
        return cls(fd, path)

    def read(self) -> Optional[Saved]:
        """What a client that did not end its session left, if anything."""
        try:
            saved = parse(os.pread(self.fd, MAX_FILE, 0).decode("ascii", "replace"))
        except OSError:
            return None
        self._written = saved
        return saved

    def keep(self, token: Optional[str], last_seq: int) -> None:
        """Write the token and seq if they changed (nothing: no token)."""
        saved = None if token is None else Saved(token, last_seq)
        if saved == self._written:
            return
        with contextlib.suppress(OSError):  # a full disk loses only this convenience
            os.ftruncate(self.fd, 0)
            if saved is not None:
                os.pwrite(self.fd, f"{saved.token} {saved.last_seq}\n".encode(), 0)
            self._written = saved

    def forget(self) -> None:
        """The session is over: remove the file, and let go of it."""
        with contextlib.suppress(OSError):
            os.unlink(self.path)
        self.close()

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)  # and the lock with it
            self.fd = -1

