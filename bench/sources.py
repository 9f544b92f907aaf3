"""Client source addresses spread over 127.0.0.0/8, so ports do not run out.

A TCP connection is told apart by its four-tuple, but a client that does not
bind gets its source port from one range per source address
(``net.ipv4.ip_local_port_range``, 32768-60999 by default: about 28,000), so
one source address connects about 28,000 clients to a server and no more.
Every address of 127.0.0.0/8 reaches the loopback interface, so the harness
binds each client to one of `count` of them in turn (127.0.0.2, 127.0.0.3,
...; never one ending in .0 or .255) before it connects. With
``IP_BIND_ADDRESS_NO_PORT`` the port is picked at connect, by the whole
four-tuple, rather than at bind.
"""
import ipaddress
import socket
from typing import List, Optional

#: Clients per source address the harness plans for: well inside one
#: address's default ephemeral ports (about 28,000), with room for TIME_WAIT
#: left by the run before.
PER_ADDRESS = 16_000
#: The first source address used: 127.0.0.1 is left to the server.
FIRST = int(ipaddress.IPv4Address("127.0.0.2"))
#: Linux's IP_BIND_ADDRESS_NO_PORT (include/uapi/linux/in.h), missing from
#: older Pythons' socket module.
IP_BIND_ADDRESS_NO_PORT = getattr(socket, "IP_BIND_ADDRESS_NO_PORT", 24)
#: Addresses of 127.0.0.0/8 ending in 1-254, but for 127.0.0.1.
AVAILABLE = 256 * 256 * 254 - 1


def needed(clients: int) -> int:
    """Source addresses for `clients` connections to one server address."""
    return max(1, -(-clients // PER_ADDRESS))


def addresses(count: int) -> List[str]:
    """`count` loopback addresses from 127.0.0.2 on, skipping .0 and .255."""
    if count > AVAILABLE:
        raise ValueError(f"{count} source addresses do not fit in 127.0.0.0/8")
    found: List[str] = []
    number = FIRST
    while len(found) < count:
        if number & 0xFF not in (0, 255):
            found.append(str(ipaddress.IPv4Address(number)))
        number += 1
    return found


def bind(sock: socket.socket, source: Optional[str]) -> None:
    """Bind `sock` to `source` (port chosen at connect); None: leave it to connect."""
    if source is None:
        return
    try:
        sock.setsockopt(socket.IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, 1)
    except OSError:  # not Linux: the port is chosen at bind, per source address
        pass
    sock.bind((source, 0))
