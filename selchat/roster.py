"""A room's names in the order ``/who`` lists them, kept sorted as they change.

``/who`` in a room of 10,000 must not sort 10,000 names per asker. A
`Roster` is kept in order as names come and go (a join, a leave, a rename,
another node's member): each change is one `bisect` and a list insert or
delete, a memmove of a few pointers. So the first names are a slice, and a
search walks the names in that order at C speed (``map`` of
``operator.contains`` over the keys, ``compress`` picks the names) with no
sort. A search still compares every name (its answer counts the matches), so
the room charges the asker for it and shares its answer (`selchat.room`).

The order is alphabetical ignoring case (then by the exact name), not by name
key: a key is a look-alike skeleton ("bob1" is "bobl"), which would put bob2
before bob1. A search compares keys, as names are compared. A name is
ordered by itself and listed as the room says (a held member's marked away),
so the mark never moves it.

Per room: one `Roster` per room, nothing global. Pure, no I/O.
"""
import bisect
import itertools
import operator
from typing import Dict, List, Optional, Tuple, Union

#: Names one /who answer lists. The whole list of a 10,000-person room is a
#: 340 KB line: 50 askers' bursts would queue gigabytes. /who PATTERN searches.
WHO_NAMES = 100
#: Names a /who PATTERN search compares per flood token it costs, beyond its
#: line's own token (whole thousands: free in a room under 1,000). A search
#: compares every name (at C speed, about 0.04 us a name here); in a room of
#: 10,000 it costs 10 tokens more, so a member at the sustained flood rate
#: searches about once a second: under 0.1 % of a core, where unpriced
#: searches (3.8 ms each in a room of 10,000) let 15 members take most of one.
SEARCH_NAMES_PER_TOKEN = 1000
#: /who PATTERN answers kept until membership changes: a burst of the same
#: search is answered once (and costs only its lines). Each is at most a
#: pattern and WHO_NAMES names, a few KB; past this the oldest goes.
WHO_CACHED = 64


def _order(name: str) -> Tuple[str, str]:
    return (name.casefold(), name)


def _name(entry: Union[str, Tuple[str, str]]) -> str:
    return entry if isinstance(entry, str) else entry[0]


class Roster:
    __slots__ = ("_names", "_sorted", "_shown", "_keys")

    def __init__(self) -> None:
        #: Name key -> its name, or (name, as shown) when it is shown otherwise
        #: (held: marked away): the common case keeps no tuple.
        self._names: Dict[str, Union[str, Tuple[str, str]]] = {}
        #: Three lists in the same (sorted) order: names, names shown, name keys.
        #: The names are the members' own strings, ordered by `_order` as
        #: `bisect` compares them (its ``key``): no sort key kept per name.
        self._sorted: List[str] = []
        self._shown: List[str] = []
        self._keys: List[str] = []

    def __len__(self) -> int:
        return len(self._shown)

    def set(self, key: str, name: Optional[str], shown: Optional[str] = None) -> bool:
        """Name key `key` is now `name`, listed as `shown` (default: `name`;
        a held member's is marked away) in `name`'s place; None: nobody holds
        it. True if that changed anything."""
        new: Union[None, str, Tuple[str, str]] = (
            None if name is None else (name, shown) if shown and shown != name else name)
        old = self._names.get(key)
        if old == new:
            return False
        if old is not None:
            at = bisect.bisect_left(self._sorted, _order(_name(old)), key=_order)
            del self._sorted[at], self._shown[at], self._keys[at]
            del self._names[key]
        if new is not None:
            name = _name(new)
            at = bisect.bisect_left(self._sorted, _order(name), key=_order)
            self._sorted.insert(at, name)
            self._shown.insert(at, new if isinstance(new, str) else new[1])
            self._keys.insert(at, key)
            self._names[key] = new
        return True

    def first(self, count: int) -> List[str]:
        """The first `count` names, in order."""
        return self._shown[:count]

    def search(self, wanted: str, count: int) -> Tuple[List[str], int]:
        """(the first `count` names whose key contains `wanted`, how many do).
        Compares every name once: the caller charges ``len(self)``."""
        hits = map(operator.contains, self._keys, itertools.repeat(wanted))
        shown = list(itertools.islice(itertools.compress(self._shown, hits), count))
        return shown, len(shown) + sum(hits)  # the rest of `hits`, where islice stopped
