"""One loop pass's decisions, delivered in one go.

Sending is the expensive part of a chat server (a ``send`` costs microseconds
of kernel time; a Python append costs nanoseconds), so the server collects a
whole pass's lines here and hands each recipient one piece of bytes:

* everything broadcast to the room is joined once into ``shared``, and that
  single object is what almost every member gets;
* the few recipients with something particular in the pass get their ``own``
  bytes: a sender (no echo of its own lines), the target of a direct line, a
  connection that joined or left during the pass (a newcomer hears only what
  was decided after it joined, a leaver only what came before it left).

Each recipient's bytes keep the order in which the lines were decided. An
``own`` piece is a short list of memoryview slices of ``shared`` (and of the
direct lines' payloads), cut by offsets: it copies nothing, and the sender's
connection hands the list to ``sendmsg`` as it is. Recipients are any hashable
values, compared by equality as a dict would; this module never sees a socket.
"""
from typing import (
    Callable, Collection, Dict, Generic, Hashable, List, Optional, Tuple, TypeVar, Union, cast,
)

#: A recipient: the server's connections; any hashable value will do.
Who = TypeVar("Who", bound=Hashable)
Piece = Union[bytes, memoryview]
#: (payload, note, target) -> the bytes a variant of recipients gets (target: a
#: direct line's recipient, None for a broadcast).
Render = Callable[[bytes, object, object], bytes]
#: A send's bytes: one object, or a list of pieces sent as they are (a
#: replay: references to the history's bytes, never joined into a copy).
Payload = Union[bytes, List[Piece]]
#: (payload, excluded, target, note): a broadcast has target None.
Item = Tuple[Payload, Optional[Who], Optional[Who], object]


class Batch(Generic[Who]):
    __slots__ = ("_items", "_windows")

    def __init__(self) -> None:
        #: The note is the caller's, handed to `split`'s `render`: a room
        #: line's sequence number, a direct line's tagged bytes.
        self._items: List[Item[Who]] = []
        #: Membership that changed during the pass: [joined at, left at or None].
        self._windows: Dict[Who, List[Optional[int]]] = {}

    def __bool__(self) -> bool:
        return bool(self._items)

    def broadcast(self, payload: bytes, exclude: Optional[Who] = None, note: object = None) -> None:
        """`payload` for every member but `exclude`."""
        self._items.append((payload, exclude, None, note))

    def send(self, payload: Payload, target: Who, note: object = None) -> None:
        """`payload` for `target` alone, member or not (a list of pieces goes
        as it is, tagged member or not: `split` does not render it)."""
        self._items.append((payload, None, target, note))

    def joined(self, who: Who, whole_pass: bool = False) -> None:
        """`who` became a member: broadcasts from here on are for it too (with
        `whole_pass`, the pass's earlier ones too: a resume of a room whose
        pass is not in its history yet)."""
        self._windows[who] = [0 if whole_pass else len(self._items), None]

    def number(self, first: int) -> List[int]:
        """Number the broadcasts from `first` on (their notes, for `split`'s
        `render`); returns where each ends in `split`'s ``shared``."""
        ends: List[int] = []
        position = 0
        seq = first
        for index, (payload, exclude, target, _) in enumerate(self._items):
            if target is None:
                position += len(payload)
                ends.append(position)
                self._items[index] = (payload, exclude, target, seq)
                seq += 1
        return ends

    def left(self, who: Who) -> None:
        """`who` stopped being a member: broadcasts from here on are not for it."""
        self._windows.setdefault(who, [0, None])[1] = len(self._items)

    def deliveries(self, member_count: int) -> int:
        """Lines this batch delivers: a direct line once, a broadcast once per
        member but the one it excludes (the pass's joins and leaves aside)."""
        count = 0
        for _, exclude, target, _ in self._items:
            count += 1 if target is not None else member_count - (exclude is not None)
        return count

    def split(self, members: Collection[Who], render: Optional[Render] = None,
              ) -> Tuple[bytes, Dict[Who, List[Piece]]]:
        """(shared, own): members not in `own` get `shared`; `own[who]` is who's,
        as pieces to send in order (an empty list: nothing for who).

        `members` are the members at the end of the pass. `render(payload,
        note, target)`, if given, replaces each item's bytes (tagged lines,
        IRC lines): the same cut then gives everyone the rendered form.
        """
        items = self._items
        if len(items) == 1 and not self._windows and render is None:
            # The commonest pass of a small room: one line, said by a member.
            payload, exclude, target, _ = items[0]
            if target is None:
                return cast(bytes, payload), {} if exclude is None else {exclude: []}
        if render is not None:
            items = [(payload if isinstance(payload, list) else render(payload, note, target),
                      exclude, target, note)
                     for payload, exclude, target, note in items]
        offsets: List[int] = []  # where each item's bytes start in `shared`
        parts: List[bytes] = []
        particular: Dict[Who, List[int]] = {who: [] for who in self._windows}
        position = 0
        for index, (payload, exclude, target, _) in enumerate(items):
            offsets.append(position)
            if target is None:
                # A broadcast is one object (an assert narrows it: no call to `cast` an item).
                assert not isinstance(payload, list)
                parts.append(payload)
                position += len(payload)
                if exclude is not None:
                    particular.setdefault(exclude, []).append(index)
            else:
                particular.setdefault(target, []).append(index)
        offsets.append(position)
        shared = b"".join(parts)
        view = memoryview(shared)  # slices of it copy nothing
        everything = len(items)
        own = {}
        for who, indices in particular.items():
            if who in self._windows:
                joined_at, left_at = self._windows[who]
                start = joined_at or 0
                end = everything if left_at is None else left_at
            else:
                start, end = (0, everything) if who in members else (0, 0)
            own[who] = _cut(items, view, offsets, indices, offsets[start], offsets[end], who)
        return shared, own


def _cut(items: List[Item[Who]], shared: memoryview, offsets: List[int], indices: List[int],
         low: int, high: int, who: Who) -> List[Piece]:
    """shared[low:high] without the broadcasts excluding `who`, with its sends
    placed where they were decided."""
    pieces: List[Piece] = []
    cursor = low
    for index in indices:
        payload, _, target, _ = items[index]
        at = offsets[index]
        if target is not None and target == who:  # a direct line: in at its place, always
            at = min(max(at, low), high)
            if at > cursor:
                pieces.append(shared[cursor:at])
                cursor = at
            if payload.__class__ is list:
                pieces += cast(List[Piece], payload)
            else:
                pieces.append(cast(bytes, payload))
        elif low <= at < high:  # a broadcast `who` is excluded from: skip it
            if at > cursor:
                pieces.append(shared[cursor:at])
            cursor = at + len(payload)
    if high > cursor:
        pieces.append(shared[cursor:high])
    return pieces
