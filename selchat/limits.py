"""The server's limits in one place, with the reasoning behind each default.

Every limit is a `selchat serve` option (and a ``SELCHAT_*`` variable); this
module only holds the values, so the pure logic and the I/O driver agree on them.
"""
from dataclasses import dataclass


@dataclass(frozen=True)
class Limits:
    #: Longest accepted line in bytes, newline excluded. IRC allows 512 bytes; chat
    #: pastes are longer, and 4 KiB still keeps a half-read line cheap to hold.
    max_line: int = 4096
    #: Output queued in selchat for one connection after a pass's send, before the
    #: client is judged too slow and dropped. Redis' pubsub class uses 8-32 MB; a
    #: chat line is tiny, so 1 MiB is thousands of lines behind: the reader is gone.
    max_output: int = 1024 * 1024
    #: Lines a client may send at once, then lines per second sustained (token
    #: bucket); 0 turns flood control off. IRC servers allow a similar burst.
    flood_burst: int = 20
    flood_rate: float = 10.0
    #: Seconds a new connection has to send an acceptable name.
    name_timeout: float = 30.0
    #: Connections held at once, named or not.
    max_clients: int = 10000
