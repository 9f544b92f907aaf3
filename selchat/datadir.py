"""The data directory: where what outlives one run of the server is kept.

``serve --data DIR`` (``SELCHAT_DATA``) names it; by default it is the XDG
state directory, ``$XDG_STATE_HOME/selchat`` or ``~/.local/state/selchat``;
``--no-data`` keeps everything in memory, as before there was one. It is made
on first start (mode 0700: room lines are nobody else's business).

Everything that keeps data there opens it through this module, so every
database in it is opened the same way (`open_database`: SQLite in WAL mode,
``synchronous=NORMAL``, no waiting on locks in the loop) and every problem
at startup is one `DataProblem`, one line for people, which the command turns
into exit status 2. A running server holds `lock` so that two servers never
write one directory; tools that read or change it beside a running server
(``selchat admin``) open the databases without taking it.
"""
import errno
import fcntl
import os
import sqlite3
from typing import IO, Mapping, Optional

from selchat.addresses import os_problem

#: The directory's name under the XDG state directory.
APP = "selchat"
#: The file a running server holds locked (flock) for as long as it runs.
LOCK_FILE = "server.lock"
#: How long opening a database at startup waits for a lock another process
#: holds (a backup being taken) before saying it is locked. Once running, the
#: loop never waits: see `open_database`'s `busy_ms`.
STARTUP_BUSY_MS = 2000


class DataProblem(Exception):
    """The data directory or a database in it cannot be used: one line for people."""


def default_dir(env: Mapping[str, str] = os.environ) -> str:
    """``$XDG_STATE_HOME/selchat``, or ``~/.local/state/selchat`` (the XDG
    base directory spec: a relative XDG_STATE_HOME is ignored)."""
    state = env.get("XDG_STATE_HOME", "")
    if not os.path.isabs(state):
        home = env.get("HOME") or os.path.expanduser("~")
        state = os.path.join(home, ".local", "state")
    return os.path.join(state, APP)


def resolve(option: Optional[str], no_data: bool,
            env: Mapping[str, str] = os.environ) -> Optional[str]:
    """The data directory chosen (None: ``--no-data``, memory only): `option`
    (``--data``, which also reads SELCHAT_DATA) or the default."""
    if no_data:
        return None
    if option:
        return os.path.abspath(os.path.expanduser(option))
    return default_dir(env)


def prepare(path: str) -> str:
    """Make the directory if it is missing and check it can be written;
    returns `path`. Raises DataProblem saying why not."""
    if os.path.exists(path) and not os.path.isdir(path):
        raise DataProblem(f"the data directory {path} is not a directory (use --data DIR, "
                          "or --no-data)")
    try:
        os.makedirs(path, mode=0o700, exist_ok=True)
    except OSError as exc:
        raise DataProblem(f"cannot create the data directory {path}: {os_problem(exc)} "
                          "(use --data DIR, or --no-data)") from None
    probe = os.path.join(path, f".write-test-{os.getpid()}")
    try:
        with open(probe, "wb") as file:
            file.write(b"ok")
        os.unlink(probe)
    except OSError as exc:
        raise DataProblem(f"cannot write in the data directory {path}: {os_problem(exc)} "
                          "(use --data DIR, or --no-data)") from None
    return path


def lock(path: str) -> IO[bytes]:
    """Hold the server's lock on the directory (keep the returned file open
    while the server runs; a child process inherits it). Raises DataProblem
    if another server holds it."""
    name = os.path.join(path, LOCK_FILE)
    try:
        file = open(name, "ab")
    except OSError as exc:
        raise DataProblem(f"cannot open {name}: {os_problem(exc)}") from None
    try:
        fcntl.flock(file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        file.close()
        if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
            raise DataProblem(f"the data directory {path} is in use by another selchat "
                              "server (use another --data DIR, or --no-data)") from None
        raise DataProblem(f"cannot lock {name}: {os_problem(exc)}") from None
    return file


def open_database(path: str, name: str, busy_ms: int = 0) -> sqlite3.Connection:
    """Database `name` in data directory `path`, made if missing, in WAL mode
    with ``synchronous=NORMAL``: a commit is one append to the write-ahead
    log, with no fsync; the log is synced at each checkpoint. A crash of the
    process loses nothing committed; a crash of the machine (power) may lose
    the commits since the last checkpoint, never the database.

    `busy_ms`: how long a statement waits for another process's lock (0, in
    the loop: a locked database is an error at once, never a stall).
    Autocommit mode: the caller writes ``BEGIN`` and ``COMMIT`` itself.
    Raises DataProblem, one line, if the file is not a database or is locked."""
    file = os.path.join(path, name)
    try:
        db = sqlite3.connect(file, timeout=STARTUP_BUSY_MS / 1000, isolation_level=None)
    except sqlite3.Error as exc:
        raise DataProblem(f"cannot open {file}: {exc}") from None
    try:
        db.execute("SELECT count(*) FROM sqlite_master").fetchone()  # a corrupt header fails
        mode = db.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise DataProblem(f"cannot use {file}: its journal stays {mode!r}, not WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute(f"PRAGMA busy_timeout={int(busy_ms)}")
    except sqlite3.Error as exc:
        db.close()
        raise DataProblem(database_problem(file, exc)) from None
    except DataProblem:
        db.close()
        raise
    return db


def database_problem(file: str, exc: sqlite3.Error) -> str:
    """A database error at startup, in plain words, with what to do."""
    text = str(exc)
    if "locked" in text or "busy" in text:
        return f"the database {file} is locked by another process ({text})"
    if "not a database" in text or "malformed" in text or "corrupt" in text:
        return (f"the database {file} is damaged ({text}): restore a backup, or move it "
                "away to start with an empty history")
    if "readonly" in text or "read-only" in text:
        return f"the database {file} cannot be written ({text})"
    return f"cannot use the database {file}: {text}"
