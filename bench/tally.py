"""Receive-side accounting: every copy of every message, checked and counted.

A receiver must notice a lost, duplicated or reordered message, yet a Python
loop over every received line costs several times what a fast server spends
per delivery. So reads are checked in columns instead of lines.

Every bench message has the same length (see `message`), so a read that is a
clean run of records holds one every `size` bytes, and a strided slice such as
``buf[offset:end:size]`` pulls one column out of all of them in one C-level
step. A read costs two such checks (each record ends in a newline, and has the
magic where the body starts) and one append: the token column goes to the
receiver's backlog. Every few thousand records `settle` splits the backlog by
sender, again without a Python loop: each sender owns its tokens, so one
``bytes.translate`` that deletes every other byte leaves that sender's tokens
in arrival order, and they must be exactly the next ones of its cycle. A gap,
a repeat or a swap breaks the cycle (only two messages of one sender exactly a
whole number of cycles apart trading places would pass: 9 apart with 10
senders, 64 with one); the counts, compared at the end with what was sent,
give the losses and duplicates. A broken cycle is replayed token by token to
count what went wrong.

Anything that is not a clean run of records (a notice, a stray byte) goes
through `lines`, which parses each line; the probe receivers always take that
path, since they also read each message's send time for the latency figures,
and they check the full sequence numbers. A probe also keeps which message
came when (`Probe.heard`): the probes sit on every node of a bus, and
`one_order` checks they all got the room's lines in one interleaving.

Storm lines (``flood.py --burst``: a few thousand lines as long as the server
allows, from clients of their own) come in the middle of the messages. They
have one length too, so a read made only of storm lines (most reads, while
the storm lasts) passes the same column check with the storm's stride
(`storm_records`). A read with both fails both checks; `storm` then counts
its storm lines and cuts them out (one ``bytes.find`` per storm line: a few
hundred nanoseconds beside the 4 KB each one costs to receive), and what is
left takes the usual paths.
Receivers count storm lines, compared at the end with what was sent, but do
not check their order: the storm is there to load the server, the messages to
check it.
"""
from array import array
from itertools import combinations
from typing import AbstractSet, Callable, Dict, List, Optional, Sequence, Set, Tuple

from message import READY, STORM, TOKEN_AT, BodyFormat
from protocols import Record

#: How a node on a bus tells its members the bus went away, or came back.
BUS_NOTICE = b"*** other servers "


class Tally:
    """What one receiving connection has seen from each sender."""

    __slots__ = ("received", "top", "tokens", "storm", "rooms")

    def __init__(self, senders: int) -> None:
        self.received = [0] * senders  #: copies received, per sender
        self.top = [-1] * senders  #: highest sequence number seen, per sender
        self.tokens = bytearray()  #: the token column of records not yet settled
        self.storm = 0  #: storm lines received
        #: With --rooms: per (room, sender), [copies received, highest seq seen] (`rooms`).
        self.rooms: Dict[Tuple[bytes, int], List[int]] = {}


class Probe:
    """What a probe keeps of every message it parses, in arrival order."""

    __slots__ = ("latencies", "sent_at", "heard")

    def __init__(self) -> None:
        self.latencies = array("q")  #: µs from send to receipt
        self.sent_at = array("q")  #: send times, µs since the run's epoch
        self.heard = array("q")  #: which message: seq * senders + sender


class Checker:
    """Checks and counts reads for one run's record layout; shared by all receivers.

    `record` gives a received message's length and where its body starts
    (`layout` changes it once the run knows better: IRC's); `backlog` is how
    many records a receiver keeps before settling them (one byte each);
    `is_framing` tells the lines a protocol wraps around a message body (they
    are neither messages nor surprises); `storm`, the layout of a received
    storm line, if the run has any; `mark`, what a line's body is found by
    (its first occurrence ends with the body's magic).
    """

    def __init__(self, fmt: BodyFormat, record: Record, backlog: int,
                 is_framing: Callable[[bytes], bool], storm: Optional[Record] = None,
                 mark: bytes = b"#") -> None:
        self.fmt, self.backlog = fmt, backlog
        self.storm_record = storm
        self._is_framing = is_framing
        self._mark, self._mark_skip = mark, len(mark) - 1
        self.layout(record)
        every = set(range(256))
        #: Per sender: the bytes to delete from a token column to keep only its own.
        self._others = [bytes(sorted(every - set(a))) for a in fmt.alphabets]
        self._cycles = [a * (backlog // len(a) + 2) for a in fmt.alphabets]
        self.disorder = [0] * fmt.senders  #: arrivals below a number already seen
        self.garbled = 0  #: records or lines that looked like bench messages but were not
        self.other_lines = 0  #: lines that are not bench messages at all
        self.bus_notices = 0  #: a node's notices that the bus went away or came back
        self.samples: List[bytes] = []  #: the first few of those, for the report

    def layout(self, record: Record) -> None:
        """Check records of this length, with the body at this offset."""
        self.size = record.size
        self._magic_at, self._token_at = record.body, record.body + TOKEN_AT

    # -- the fast path -----------------------------------------------------------

    def records(self, buf: bytearray, end: int, tally: Tally) -> bool:
        """Take ``buf[:end]``, a whole number of records, if it is a clean run.

        False means nothing was taken: hand the read to `lines` instead.
        """
        size = self.size
        k = end // size
        if buf[size - 1:end:size].count(10) != k or buf[self._magic_at:end:size].count(35) != k:
            return False
        tally.tokens += buf[self._token_at:end:size]
        if len(tally.tokens) >= self.backlog:
            self.settle(tally)
        return True

    def settle(self, tally: Tally) -> None:
        """Check and count the records `records` has put aside."""
        if not tally.tokens:
            return
        tokens = bytes(tally.tokens)  # bytes.translate is twice bytearray's speed
        cycle = self.fmt.cycle
        claimed = 0
        for sender, others in enumerate(self._others):
            mine = tokens.translate(None, others)
            count = len(mine)
            if not count:
                continue
            claimed += count
            start = (tally.top[sender] + 1) % cycle
            expected = self._cycles[sender]
            if len(expected) < start + count:
                expected = self._cycles[sender] = self.fmt.alphabets[sender] * (count // cycle + 2)
            if mine == expected[start:start + count]:
                tally.received[sender] += count
                tally.top[sender] += count
            else:
                self._replay(sender, mine, tally)
        self.garbled += len(tokens) - claimed
        tally.tokens.clear()

    def _replay(self, sender: int, tokens: bytes, tally: Tally) -> None:
        """Count a sender's broken cycle one token at a time.

        Each token is read as the sequence number nearest to the one expected
        next (within half a cycle either way): exact for any local fault.
        """
        alphabet, cycle, top = self.fmt.alphabets[sender], self.fmt.cycle, tally.top[sender]
        for token in tokens:
            delta = (alphabet.find(token) - (top + 1)) % cycle
            seq = top + 1 + (delta - cycle if delta > cycle // 2 else delta)
            top = self._arrived(sender, seq, top)
        tally.received[sender] += len(tokens)
        tally.top[sender] = top

    def _arrived(self, sender: int, seq: int, top: int) -> int:
        """The new highest number seen; counts an arrival that comes too late."""
        if seq > top:
            return seq
        self.disorder[sender] += 1
        return top

    # -- storm lines ----------------------------------------------------------------

    def storm_records(self, buf: bytearray, end: int, tally: Tally) -> bool:
        """Count ``buf[:end]`` if it is storm lines and nothing else.

        Each column sample must be a storm line's ``%`` (which occurs nowhere
        else) followed, a line length on, by a newline: so storm lines tile it.
        """
        size, at = self.storm_record.size, self.storm_record.body
        k = end // size
        if not k or buf[size - 1:end:size].count(10) != k or buf[at:end:size].count(37) != k:
            return False
        tally.storm += k
        return True

    def storm(self, data: bytes, tally: Tally) -> bytes:
        """Count the storm lines in `data` (complete lines) and return the rest.

        A storm line is found by what precedes and starts its body (``> %``),
        then must have its exact length; one that does not is garbled (and cut
        out up to its newline all the same).
        """
        record = self.storm_record
        mark = b"> " + STORM
        at = data.find(mark)
        if record is None or at < 0:
            return data
        back = record.body - 2  # from the mark back to the "<"
        pieces, pos, count = [], 0, 0
        while at >= 0:
            start, end = at - back, at - back + record.size
            if (start >= pos and data[start] == 60 and (start == 0 or data[start - 1] == 10)
                    and data[end - 1:end] == b"\n"):
                count += 1
            else:
                self.garbled += 1
                start = max(pos, data.rfind(b"\n", pos, at) + 1)
                end = data.find(b"\n", at) + 1 or len(data)
            pieces.append(data[pos:start])
            pos = end
            at = data.find(mark, pos)
        pieces.append(data[pos:])
        tally.storm += count
        return b"".join(pieces)

    # -- the slow path, and the probes' path ---------------------------------------

    def lines(self, data: bytes, tally: Tally, now_us: int = 0,
              probe: Optional[Probe] = None) -> int:
        """Parse `data`'s complete lines one by one; returns the messages counted.

        Settles the backlog first, so that numbers are seen in arrival order.
        A `probe` keeps each message's delay (`now_us` minus its send time, in
        µs), its send time and which message it was.
        """
        self.settle(tally)
        parse, received, top = self.fmt.parse, tally.received, tally.top
        senders = self.fmt.senders
        counted = 0
        mark, skip = self._mark, self._mark_skip
        for line in data.split(b"\n")[:-1]:
            at = line.find(mark)
            if at < 0:
                if not self._is_framing(line):
                    self._other(line)
                continue
            at += skip
            if line.startswith(READY, at):  # some receivers get two
                continue
            try:
                sender, seq, sent = parse(line[at:])
            except ValueError:
                self.garbled += 1
                continue
            counted += 1
            received[sender] += 1
            top[sender] = self._arrived(sender, seq, top[sender])
            if probe is not None:
                probe.latencies.append(now_us - sent)
                probe.sent_at.append(sent)
                probe.heard.append(seq * senders + sender)
        return counted

    def _other(self, line: bytes) -> None:
        if line.startswith(BUS_NOTICE):
            self.bus_notices += 1
            return
        self.other_lines += 1
        if len(self.samples) < 3:
            self.samples.append(line[:120])


def losses(tallies: List[Tally], expected: List[List[int]],
           senders: int) -> Dict[str, List[int]]:
    """Per sender: copies lost and copies duplicated, over all receivers.

    `expected[i][s]` is what receiver i should have had from sender s.
    """
    lost, duplicated = [0] * senders, [0] * senders
    for tally, wanted in zip(tallies, expected):
        for s, (got, want) in enumerate(zip(tally.received, wanted)):
            if got < want:
                lost[s] += want - got
            elif got > want:
                duplicated[s] += got - want
    return {"lost": lost, "duplicated": duplicated}


def one_order(heard: Sequence[Sequence[int]],
              skip: AbstractSet[int] = frozenset()) -> Tuple[Optional[bool], int]:
    """Did the probes get the room's messages in one order?

    `heard` is each probe's messages in arrival order (`Probe.heard`). Every
    two probes must have got the messages both got in the same order, each at
    its first arrival (duplicates are counted elsewhere); pairs, not all at
    once, because a probe that sends does not get its own. Returns the verdict
    (None if no two probes got a message in common) and how many messages
    were got by two probes or more. Messages in `skip` are not compared.
    """
    firsts = [[k for k in dict.fromkeys(h) if k not in skip] for h in heard]
    got = [set(f) for f in firsts]
    shared: Set[int] = set()
    same = True
    for i, j in combinations(range(len(firsts)), 2):
        common = got[i] & got[j]
        shared |= common
        same = same and ([k for k in firsts[i] if k in common]
                         == [k for k in firsts[j] if k in common])
    return (same if shared else None), len(shared)
