"""The server's limits in one place, with the reasoning behind each default.

Every limit is a `selchat serve` option (and a ``SELCHAT_*`` variable); this
module only holds the values, so the pure logic and the I/O driver agree on them.
"""
from dataclasses import dataclass

KiB = 1024
MiB = 1024 * KiB


@dataclass(frozen=True)
class Limits:
    #: Longest accepted line in bytes, newline excluded. IRC allows 512 bytes; chat
    #: pastes are longer, and 4 KiB still keeps a half-read line cheap to hold.
    max_line: int = 4 * KiB
    #: Hard output limit: a connection with this much output queued in selchat is
    #: dropped at once. It judges a runaway backlog, not a burst: 100 clients'
    #: legal bursts (20 lines of 4 KiB each) are 8 MiB for every reader, so the
    #: limit sits well above that. Redis' pubsub class closes at 32 MB too. The
    #: queued bytes are shared by every member, so this is not memory per client.
    max_output: int = 32 * MiB
    #: Soft output limit: a connection whose queue stays over this for
    #: `soft_output_seconds` is dropped. A reader that reads drains any burst
    #: well within that time; a client that stopped reading does not.
    #: (Redis' pubsub class: 8 MB for 60 s; chat lines are smaller.)
    soft_output: int = 256 * KiB
    soft_output_seconds: float = 10.0
    #: Lines a client may send at once, then lines per second sustained (token
    #: bucket); 0 turns flood control off. IRC servers allow a similar burst.
    flood_burst: int = 20
    flood_rate: float = 10.0
    #: Seconds a new connection has to send an acceptable name.
    name_timeout: float = 30.0
    #: Connections held at once, named or not.
    max_clients: int = 10000
    #: Connections from one address that have not chosen a name yet; 0 turns it
    #: off. Named members are not counted: a LAN behind one NAT address holds
    #: many people, but they join within seconds, while one host parking
    #: hundreds of nameless connections would keep everyone else out.
    #: "One address" is an address group (`selchat.addresses.address_group`):
    #: an IPv6 /64, an IPv4 address, loopback as one host. The same number caps
    #: the sessions held for /resume from one address group (the oldest hold
    #: gives way): a NAT's people dropping at once are still held, and one
    #: host cannot keep more names than that without a connection.
    max_per_ip: int = 64
    #: Sessions held for /resume at once, from every address (0: no cap; the
    #: oldest hold gives way). A held session costs about 2.5 KB and no
    #: descriptor, so this many is about 25 MB; a server sized for
    #: `max_clients` connections can hold as many members who dropped.
    max_held: int = 10000
    #: Room lines kept for replay and resume; 0 turns history and resume off.
    #: A thousand lines is minutes of a busy room, and at most a few MiB.
    history: int = 1000
    #: Lines a newcomer is shown on joining (ssh-chat shows 20).
    replay: int = 20
    #: Seconds a tagged member's session is held after its connection drops
    #: without /quit: a laptop lid or a phone changing networks is back well
    #: within two minutes (Socket.IO's recovery window is two minutes too).
    resume_window: float = 120.0
    #: The room every member joins on naming, whose lines carry no prefix
    #: (``lobby`` is ``#lobby``).
    default_room: str = "lobby"
    #: Rooms at once, and rooms one member may be in; members past which a
    #: room's joins and leaves are not announced (0: always). The reasons
    #: are in `selchat.rooms`.
    max_rooms: int = 10_000
    max_rooms_per_member: int = 50
    announce_limit: int = 1000
