"""Runs over many rooms (``flood.py --rooms R --rooms-per-client K``): who is
where, what each sender says where, and the per-room receive-side checks.

Client i is in rooms ``(i*K + j) mod R`` for j < K: deterministic, every room
gets about ``clients*K/R`` members, and a client's K rooms are distinct while
K <= R. A sender's n-th message goes to its room ``n mod K`` (its rooms in
turn), as ``/msg #room BODY``; receivers get it as ``#room <name> BODY``.

The column check of `tally` needs one stream per sender; here a sender's
messages are split over its rooms, and a receiver sharing two of them gets two
interleaved streams. So receivers parse every line instead and count per
(room, sender): the copies received and the highest sequence number seen (the
numbers a sender sends to one room only go up, so a smaller one is a
reordering). Expected copies are known from the membership alone.
"""
from typing import Callable, Dict, Iterable, List, Optional, Tuple

from message import READY
from tally import Checker, Probe, Tally

#: A receiver's count for one (room, sender): [copies received, highest seq seen].
Key = Tuple[bytes, int]
NOTICE = b"*** "
#: selchat's default room (``serve --default-room``), where the ready marker goes:
#: every client is in it, whatever rooms it joined.
DEFAULT_ROOM = b"#lobby"


def rooms_of(client: int, rooms: int, per_client: int) -> List[int]:
    """The rooms (numbers) client `client` joins, in the order it sends to them."""
    return [(client * per_client + j) % rooms for j in range(per_client)]


def room_name(room: int, rooms: int) -> bytes:
    """Room names of one width (``#r007``), so no name is a prefix of another."""
    return b"#r%0*d" % (len(str(max(rooms - 1, 0))), room)


def sent_to(sent: int, per_client: int, slot: int) -> int:
    """Of a sender's first `sent` messages, how many went to its room `slot`."""
    return max(0, (sent - slot + per_client - 1) // per_client)


def members(clients: int, rooms: int, per_client: int) -> List[List[int]]:
    """Per room number: its members' client numbers."""
    table: List[List[int]] = [[] for _ in range(rooms)]
    for client in range(clients):
        for room in rooms_of(client, rooms, per_client):
            table[room].append(client)
    return table


def expected(sent: Dict[int, int], senders: Dict[int, int], clients: int, rooms: int,
             per_client: int) -> Dict[int, Dict[Key, int]]:
    """Per receiving client: the copies it should get per (room name, sender index).

    `sent` is each sender index's messages sent; `senders`, which client each
    sender index is. A sender gets none of its own.
    """
    table: Dict[int, Dict[Key, int]] = {c: {} for c in range(clients)}
    inside = members(clients, rooms, per_client)
    for index, client in senders.items():
        for slot, room in enumerate(rooms_of(client, rooms, per_client)):
            copies = sent_to(sent.get(index, 0), per_client, slot)
            name = room_name(room, rooms)
            for member in inside[room]:
                if member != client and copies:
                    table[member][(name, index)] = copies
    return table


def losses(got: Iterable[Dict[Key, List[int]]], wanted: Iterable[Dict[Key, int]],
           senders: int) -> Dict[str, List[int]]:
    """Per sender index: copies lost and duplicated, over every receiver and room."""
    lost, duplicated = [0] * senders, [0] * senders
    for have, want in zip(got, wanted):
        for key in set(have) | set(want):
            n, w = have.get(key, (0, -1))[0], want.get(key, 0)
            if n < w:
                lost[key[1]] += w - n
            elif n > w:
                duplicated[key[1]] += n - w
    return {"lost": lost, "duplicated": duplicated}


def take_lines(checker: Checker, parse: Callable[[bytes], Tuple[int, int, int]],
               data: bytes, tally: Tally, counts: Dict[Key, List[int]], now_us: int = 0,
               probe: Optional[Probe] = None) -> int:
    """Count `data`'s complete lines per (room, sender); returns messages counted.

    A room's line is ``#room <name> BODY``; the default room's (the ready
    marker) has no prefix; notices are skipped. Also keeps `tally.received`
    per sender (over every room), which the senders' windows are measured by.
    """
    received, disorder, senders = tally.received, checker.disorder, checker.fmt.senders
    counted = 0
    for line in data.split(b"\n")[:-1]:
        if not line.startswith(b"#"):
            if line.startswith(NOTICE) or READY in line:
                continue
            checker.other_lines += 1
            continue
        room, _, rest = line.partition(b" ")
        at = rest.find(b"> #")
        try:
            if at < 0:
                raise ValueError("no body")
            sender, seq, sent = parse(rest[at + 2:])
        except ValueError:
            checker.garbled += 1
            continue
        count = counts.get((room, sender))
        if count is None:
            count = counts[(room, sender)] = [0, -1]
        count[0] += 1
        if seq > count[1]:
            count[1] = seq
        else:
            disorder[sender] += 1
        received[sender] += 1
        counted += 1
        if probe is not None:
            probe.latencies.append(now_us - sent)
            probe.sent_at.append(sent)
            probe.heard.append(seq * senders + sender)
    return counted


def join_lines(client: int, rooms: int, per_client: int) -> bytes:
    """What client `client` sends after its name: one /join per room."""
    return b"".join(b"/join %s\n" % room_name(r, rooms)
                    for r in rooms_of(client, rooms, per_client))


def last_joined(client: int, rooms: int, per_client: int) -> bytes:
    """The answer to its last /join: once seen, every room of its is joined."""
    return b"*** You joined %s." % room_name(rooms_of(client, rooms, per_client)[-1], rooms)
