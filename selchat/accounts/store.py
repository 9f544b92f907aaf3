"""Accounts, room rules, server bans and the moderation log in the data
directory: ``accounts.sqlite3`` beside the history (`selchat.datadir`), or
in memory with ``--no-data``.

Small tables, written one row per change, at once: a change is an operator's
or an owner's command, a few a minute at most, and a single-row commit in WAL
mode is some tens of microseconds with no fsync (``synchronous=NORMAL``), so
the loop never waits for long. ``selchat admin`` writes the same file from
another process; a running server notices with `changed` (SQLite's
``PRAGMA data_version``, which moves when another connection commits), polled
every few seconds on the timer heap (`selchat.accounts.driver`).

Values are JSON; an account row keeps only the name, the scrypt hash
(`selchat.accounts.passwords`) and the operator flag.
"""
import json
import sqlite3
import time
from dataclasses import asdict
from typing import Dict, List, Optional, Tuple

from selchat import datadir
from selchat.accounts.authority import Account, RoomRules, Sanction

FILE = "accounts.sqlite3"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS accounts (key TEXT PRIMARY KEY, name TEXT NOT NULL,
    hash TEXT NOT NULL, operator INTEGER NOT NULL DEFAULT 0, created REAL NOT NULL);
CREATE TABLE IF NOT EXISTS rooms (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS bans (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS log (at REAL NOT NULL, by TEXT NOT NULL, action TEXT NOT NULL,
    target TEXT NOT NULL, room TEXT NOT NULL, detail TEXT NOT NULL);
"""

Loaded = Tuple[Dict[str, Account], Dict[str, RoomRules], Dict[str, Sanction]]


class Store:
    """The accounts database of data directory `path` (None: in memory);
    `busy_ms` as `selchat.datadir.open_database` (0 in the loop).
    Raises `selchat.datadir.DataProblem` if it cannot be used."""

    def __init__(self, path: Optional[str], busy_ms: int = 0) -> None:
        if path is None:
            self.db = sqlite3.connect(":memory:", isolation_level=None)
        else:
            self.db = datadir.open_database(datadir.prepare(path), FILE, busy_ms)
        try:
            self.db.executescript(_SCHEMA)
        except sqlite3.Error as exc:
            self.db.close()
            raise datadir.DataProblem(datadir.database_problem(FILE, exc)) from None
        self._version = self._data_version()

    def _data_version(self) -> int:
        return int(self.db.execute("PRAGMA data_version").fetchone()[0])

    def changed(self) -> bool:
        """Whether another process wrote the file since the last call."""
        version = self._data_version()
        changed, self._version = version != self._version, version
        return changed

    def accounts(self) -> Dict[str, Account]:
        return {key: Account(name, hashed, bool(operator)) for key, name, hashed, operator
                in self.db.execute("SELECT key, name, hash, operator FROM accounts")}

    def load(self) -> Loaded:
        rooms = {key: RoomRules.from_value(json.loads(value))
                 for key, value in self.db.execute("SELECT key, value FROM rooms")}
        bans = {key: Sanction(**json.loads(value))
                for key, value in self.db.execute("SELECT key, value FROM bans")}
        return self.accounts(), rooms, bans

    def write(self, table: str, key: str, value: object) -> None:
        """One change (`selchat.effect_types.Persist`): None deletes."""
        if table == "account":
            if value is None:
                self.db.execute("DELETE FROM accounts WHERE key = ?", (key,))
            else:
                assert isinstance(value, Account)
                self.db.execute(
                    "INSERT INTO accounts (key, name, hash, operator, created) "
                    "VALUES (?, ?, ?, ?, ?) ON CONFLICT (key) DO UPDATE SET name = excluded.name, "
                    "hash = excluded.hash", (key, value.name, value.hash, value.operator,
                                             time.time()))
        else:
            name = {"room": "rooms", "ban": "bans"}[table]
            if value is None:
                self.db.execute(f"DELETE FROM {name} WHERE key = ?", (key,))
            else:
                saved = asdict(value) if isinstance(value, Sanction) else value
                self.db.execute(f"INSERT OR REPLACE INTO {name} (key, value) VALUES (?, ?)",
                                (key, json.dumps(saved)))
        self._version = self._data_version()  # our own write is no news

    def audit(self, at: float, by: str, action: str, target: str, room: str,
              detail: str) -> None:
        self.db.execute("INSERT INTO log VALUES (?, ?, ?, ?, ?, ?)",
                        (at, by, action, target, room, detail))
        self._version = self._data_version()

    # -- selchat admin ----------------------------------------------------------------

    def set_operator(self, key: str, on: bool) -> Optional[str]:
        """Give or take the server operator role; the account's name, or None
        if `key` is not registered."""
        row = self.db.execute("SELECT name FROM accounts WHERE key = ?", (key,)).fetchone()
        if row is None:
            return None
        self.db.execute("UPDATE accounts SET operator = ? WHERE key = ?", (int(on), key))
        return str(row[0])

    def operators(self) -> List[str]:
        return [name for (name,) in self.db.execute(
            "SELECT name FROM accounts WHERE operator ORDER BY key")]

    def close(self) -> None:
        self.db.close()
