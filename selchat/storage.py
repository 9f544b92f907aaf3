"""What ``serve`` keeps on disk, made ready at startup: the data directory
(`selchat.datadir`), its lock, and the history database (`selchat.store`).

`Storage.open` runs before the server listens: any problem (a directory
that cannot be made or written, another server's lock, a locked, damaged or
newer database) is a `selchat.datadir.DataProblem`, one line, exit 2. Its
`startup_line` says where the data lives and how search works.

With ``--bus`` the Redis stream is the room's shared history, numbered by
Redis for every node: a node keeps no history database of its own (each
node's copy would be a partial, differently numbered second truth). The data
directory is still made, for what is the node's own.
"""
import os
import secrets
import sqlite3
from typing import IO, NamedTuple, Optional

from selchat import datadir, store
from selchat.datadir import DataProblem


class Storage(NamedTuple):
    """The data directory chosen and what is open in it."""

    #: The directory (None: ``--no-data``, everything in memory).
    path: Optional[str]
    #: The history database (None: no history on disk: --no-data, or --bus).
    db: Optional[sqlite3.Connection]
    #: Whether search uses the full-text index (FTS5) rather than a plain scan.
    fts: bool
    #: The numbering the database's lines belong to (kept across restarts).
    epoch: str
    #: Seconds a line is kept (0: forever), bytes the lines may take (0: no cap).
    retention: float
    max_bytes: int
    #: The server's lock on the directory, held while this process lives.
    lock: Optional[IO[bytes]]

    @classmethod
    def memory(cls) -> "Storage":
        """Nothing on disk (``--no-data``)."""
        return cls(None, None, False, secrets.token_hex(4), 0.0, 0, None)

    @classmethod
    def open(cls, data: Optional[str], no_data: bool, bus: bool = False,
             retention_days: float = 30.0, max_mb: float = 0.0,
             fts: Optional[bool] = None) -> "Storage":
        """The directory of ``--data``/``--no-data``, made, checked, locked and
        its database opened (`fts`: None to use FTS5 when this SQLite has it).
        Raises DataProblem."""
        path = datadir.resolve(data, no_data)
        if path is None:
            return cls.memory()
        datadir.prepare(path)
        retention, max_bytes = retention_days * 86400.0, int(max_mb * 1024 * 1024)
        if bus:
            return cls(path, None, False, secrets.token_hex(4), retention, max_bytes, None)
        lock = datadir.lock(path)
        try:
            db = datadir.open_database(path, store.FILE)
            try:
                if fts is None:
                    fts = store.has_fts(db) or store.fts_available(db)
                epoch = store.migrate(db, secrets.token_hex(4), fts)
            except (sqlite3.Error, store.SchemaProblem) as exc:
                db.close()
                file = os.path.join(path, store.FILE)
                if isinstance(exc, store.SchemaProblem):
                    raise DataProblem(f"cannot use the database {file}: {exc}") from None
                raise DataProblem(datadir.database_problem(file, exc)) from None
        except DataProblem:
            lock.close()
            raise
        return cls(path, db, fts, epoch, retention, max_bytes, lock)

    @property
    def startup_line(self) -> Optional[str]:
        """Where the data lives, for the startup lines (None: nowhere, --no-data)."""
        if self.path is None:
            return None
        if self.db is None:
            return (f"selchat data in {self.path}; room history is the bus's "
                    "(no search on this node)")
        how = "full-text (FTS5)" if self.fts else "plain scan (this SQLite has no FTS5)"
        return f"selchat keeps history in {os.path.join(self.path, store.FILE)}; search: {how}"

    def close(self) -> None:
        if self.db is not None:
            self.db.close()
        if self.lock is not None:
            self.lock.close()
