"""Accounts, room rules and server bans shared by every node of a ``--bus``.

The same shape as the rooms' members and topics in Redis
(`selchat.bus.scripts`): each change is written to a Redis hash, ``rules``
("table<TAB>key" -> the value's JSON), in the same script call as the stream
entry that announces it (an ``a`` entry); every other node applies the entry
to its `Authority` and writes it to its own data directory, so it also holds
after a restart without Redis; a node starting (or coming back) reads the
whole hash (`synced`). Redis' copy wins: a value there replaces the node's;
a row the node has and Redis lacks (a data directory from before ``--bus``,
or a Redis that lost its data) is published, unless another node's came
first. A deletion is kept in the hash as "" so a node that was away deletes
its copy too, rather than publishing it again.
A change the node made while Redis was away (still in its outbox) is kept
over Redis' older copy: it is published when the outbox is.

``selchat admin op NAME`` acts on one node's data directory: that node sees
the change within `selchat.accounts.driver.POLL_SECONDS` and publishes the
accounts that differ (`reread`), so every node knows the operator.

The encoding (`encode`, `decode`) is pure; `SharedRules` does the applying.
"""
import json
import logging
from dataclasses import asdict
from typing import Any, Callable, Dict, Optional, Tuple

from selchat.accounts.authority import Account, Authority, RoomRules, Sanction
from selchat.accounts.store import Store

log = logging.getLogger(__name__)

#: Publishes one change: field, value, only_new (`selchat.bus.protocol.Outbox.rule`).
Publish = Callable[[str, str, bool], None]


def encode(table: str, key: str, value: object) -> Tuple[str, str]:
    """A `selchat.effect_types.Persist`'s change as the rules hash keeps it."""
    if value is None:
        return f"{table}\t{key}", ""
    saved = asdict(value) if isinstance(value, (Account, Sanction)) else value
    return f"{table}\t{key}", json.dumps(saved, sort_keys=True)


def decode(field: str, text: str) -> Optional[Tuple[str, str, object]]:
    """(table, key, value as the store takes it; None: deleted), or None for a
    field or value this version does not understand."""
    table, _, key = field.partition("\t")
    if not key or table not in ("account", "room", "ban"):
        return None
    if not text:
        return table, key, None
    try:
        saved = json.loads(text)
        value: object
        if table == "account":
            value = Account(**saved)
        elif table == "ban":
            value = Sanction(**saved)
        else:
            RoomRules.from_value(saved)  # checked now, not when applied
            value = saved
    except (ValueError, TypeError, AttributeError) as exc:
        log.warning("bus: a %s change not understood (%s): %s", table, key, exc)
        return None
    return table, key, value


class SharedRules:
    """One node's side: `published` its own changes, `arrived` the others'."""

    def __init__(self, authority: Authority[Any], store: Store, publish: Publish) -> None:
        self.authority = authority
        self.store = store
        self._publish = publish
        #: This node's changes not read back from the stream yet: a node
        #: connecting again after an outage keeps them over Redis' older copy
        #: (they follow in the outbox). Field -> its latest value.
        self._unconfirmed: Dict[str, str] = {}

    def published(self, table: str, key: str, value: object) -> None:
        """This node's change (already applied and written here): to every node."""
        field, text = encode(table, key, value)
        self._unconfirmed[field] = text
        self._publish(field, text, False)

    def read_back(self, field: str, text: str) -> None:
        """This node's own change, read back from the stream: Redis has it."""
        if self._unconfirmed.get(field) == text:
            del self._unconfirmed[field]

    def arrived(self, field: str, text: str) -> Optional[Sanction]:
        """Another node's change: applied here and written to the data
        directory; a new server ban is returned (its member here must go)."""
        change = decode(field, text)
        if change is None:
            return None
        self._apply(*change)
        table, _, value = change
        return value if table == "ban" and isinstance(value, Sanction) else None

    def synced(self, rules: Dict[str, str]) -> None:
        """Connected: Redis' rules replace this node's; what only this node
        has is published (unless another node's comes first)."""
        for field, text in rules.items():
            if field not in self._unconfirmed:
                self.arrived(field, text)
        auth = self.authority
        tables: Tuple[Tuple[str, Dict[str, Any]], ...] = (
            ("account", auth.accounts), ("room", auth.rooms), ("ban", auth.bans))
        for table, rows in tables:
            for key, row in list(rows.items()):
                field, text = encode(table, key, row.value() if table == "room" else row)
                if field not in rules and field not in self._unconfirmed:
                    self._publish(field, text, True)

    def reread(self, before: Dict[str, Account], after: Dict[str, Account]) -> None:
        """The accounts were read again (``selchat admin``): publish what changed."""
        for key in sorted(before.keys() | after.keys()):
            if before.get(key) != after.get(key):
                self.published("account", key, after.get(key))

    def _apply(self, table: str, key: str, value: object) -> None:
        auth = self.authority
        if table == "account":
            if value is None:
                auth.accounts.pop(key, None)
            else:
                assert isinstance(value, Account)
                auth.accounts[key] = value
        elif table == "ban":
            if value is None:
                auth.bans.pop(key, None)
            else:
                assert isinstance(value, Sanction)
                auth.bans[key] = value
        elif value is None:
            auth.rooms.pop(key, None)
            for keys in (auth.restricted, auth.secret, auth.inviting):
                keys.discard(key)
        else:
            assert isinstance(value, dict)
            rules = auth.rooms[key] = RoomRules.from_value(value)
            auth.restrict(rules)
        try:
            self.store.write(table, key, value)
            if isinstance(value, Account):
                self.store.set_operator(key, value.operator)
                self.store.changed()  # our own write is no news to the poll
        except Exception as exc:  # a full or locked disk: the node goes on, the log says it
            log.error("cannot keep another node's %s change (%s): %s", table, key, exc)
