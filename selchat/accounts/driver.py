"""Accounts in the loop: the hashing worker's answers back to the room, the
rules written to the data directory, and ``selchat admin``'s changes read.

`Accounts` opens the store and loads the `Authority` before the room exists;
`start` then hangs its effect handlers (``CheckPassword``, ``HashPassword``,
``Persist``, ``Audit``) in the server's table and sets the poll timer. The
hashing worker (`selchat.accounts.hasher`) starts at the first password, so a
server nobody logs in to runs no extra process.

How a running server learns of ``selchat admin op NAME``: every POLL_SECONDS
it asks SQLite whether another process committed (``PRAGMA data_version``,
one cheap query), and if so reads the accounts again. With ``--bus``, every
change is also shared with the other nodes (`selchat.accounts.shared`).
"""
import logging
import time
from typing import TYPE_CHECKING, Any, Callable, NamedTuple, Optional

from selchat.accounts.authority import MIN_PASSWORD, Authority
from selchat.accounts.hasher import Hasher
from selchat.accounts.passwords import DEFAULT_N
from selchat.accounts.shared import Publish, SharedRules
from selchat.accounts.store import Store
from selchat.effect_types import Audit, CheckPassword, HashPassword, Persist

if TYPE_CHECKING:
    from selchat.connection import Connection
    from selchat.server import Server

log = logging.getLogger(__name__)

#: Seconds between looks for ``selchat admin``'s changes: "within a few
#: seconds", for one query costing microseconds.
POLL_SECONDS = 2.0


class AccountOptions(NamedTuple):
    """``serve``'s account options: ``--server-password``, ``--scrypt-n``,
    ``--min-password-length``."""

    server_password: str = ""
    scrypt_n: int = DEFAULT_N
    min_password: int = MIN_PASSWORD


#: No server password, scrypt's default cost.
DEFAULT_OPTIONS = AccountOptions()


class Accounts:
    """The server's accounts: the store in data directory `path` (None: memory)."""

    def __init__(self, path: Optional[str], options: AccountOptions = DEFAULT_OPTIONS,
                 wall_clock: Callable[[], float] = time.time) -> None:
        self.options = options
        self.store = Store(path)
        self.authority: Authority[Any] = Authority(wall_clock, options.server_password,
                                                   options.min_password)
        self.authority.load(*self.store.load())
        self._hasher: Optional[Hasher] = None
        self._server: Optional["Server"] = None
        #: With ``--bus``: the changes every node shares.
        self.shared: Optional[SharedRules] = None

    def start(self, server: "Server") -> None:
        self._server = server
        server._effects._handlers.update({
            CheckPassword: self._check, HashPassword: self._hash,
            Persist: self._persist, Audit: self._audit})
        server._timers.call_at(server._now + POLL_SECONDS, self._poll)

    def share(self, publish: Publish) -> SharedRules:
        """``--bus``: changes go to every node through `publish`."""
        self.shared = SharedRules(self.authority, self.store, publish)
        return self.shared

    def _worker(self) -> Hasher:
        if self._hasher is None:
            assert self._server is not None
            self._hasher = Hasher(self._server._selector, self.options.scrypt_n)
        return self._hasher

    def _check(self, effect: CheckPassword["Connection"]) -> None:
        session, server = effect.session, self._server
        assert server is not None

        def checked(result: Optional[str]) -> None:
            server._apply(server._room.password_checked(
                session, None if result is None else result == "1"))

        if not self._worker().check(effect.password, effect.stored, checked):
            checked(None)  # too many waiting: "try again"

    def _hash(self, effect: HashPassword["Connection"]) -> None:
        session, server = effect.session, self._server
        assert server is not None

        def hashed(result: Optional[str]) -> None:
            server._apply(server._room.password_hashed(session, result))

        if not self._worker().hash(effect.password, hashed):
            hashed(None)

    def _persist(self, effect: Persist) -> None:
        try:
            self.store.write(effect.table, effect.key, effect.value)
        except Exception as exc:  # a full or locked disk: chat goes on, the log says it
            log.error("cannot keep a %s change (%s): %s", effect.table, effect.key, exc)
        if self.shared is not None:
            self.shared.published(effect.table, effect.key, effect.value)

    def _audit(self, effect: Audit) -> None:
        where = f" in {effect.room}" if effect.room else ""
        detail = f" ({effect.detail})" if effect.detail else ""
        log.info("moderation: %s %s %s%s%s", effect.by, effect.action, effect.target, where,
                 detail)
        try:
            self.store.audit(self.authority.clock(), effect.by, effect.action, effect.target,
                             effect.room, effect.detail)
        except Exception as exc:
            log.error("cannot keep the moderation log: %s", exc)

    def _poll(self, _: object = None) -> None:
        server = self._server
        assert server is not None
        try:
            if self.store.changed():
                before, self.authority.accounts = self.authority.accounts, self.store.accounts()
                if self.shared is not None:
                    self.shared.reread(before, self.authority.accounts)
                log.info("accounts read again (changed by another process): %d operators",
                         sum(each.operator for each in self.authority.accounts.values()))
        except Exception as exc:
            log.error("cannot read the accounts: %s", exc)
        server._timers.call_at(server._now + POLL_SECONDS, self._poll)

    def close(self) -> None:
        if self._hasher is not None:
            self._hasher.close()
        self.store.close()
