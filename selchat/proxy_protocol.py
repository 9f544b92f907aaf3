"""The PROXY protocol (HAProxy's, versions 1 and 2): the real client's address,
sent by a reverse proxy at the start of the connection. Pure: bytes in,
an answer out.

`parse` is given the bytes received so far from a trusted proxy and answers
None (not enough yet: read more), or a `ProxyHeader`: the client's address
(None for ``PROXY UNKNOWN``, a v2 LOCAL command such as a health check, or
an address family other than IPv4/IPv6: the connection's own address
stands) and how many bytes the header took (the rest is the client's). Bytes
that cannot be a header raise `ProxyError`. The header is bounded, so a
proxy cannot make the server hold more than `MAX_HEADER` bytes for it.
"""
import ipaddress
import struct
from typing import NamedTuple, Optional, Tuple

V1_PREFIX = b"PROXY "
#: Version 1's header is one line of at most 107 bytes, CRLF included.
V1_MAX = 107
V2_SIGNATURE = b"\r\n\r\n\x00\r\nQUIT\n"
V2_FIXED = 16  # signature, version and command, family, length
#: The most a version 2 header may take here: its addresses (36 bytes for
#: IPv6) and room for TLVs (which are skipped). HAProxy's own cap is similar.
V2_MAX_PAYLOAD = 512
MAX_HEADER = V2_FIXED + V2_MAX_PAYLOAD


class ProxyError(ValueError):
    """Not a PROXY protocol header: the connection is closed."""


class ProxyHeader(NamedTuple):
    address: Optional[Tuple[str, int]]  #: the client's (host, port), or None: keep the socket's
    length: int  #: bytes the header took


def parse(data: bytes) -> Optional[ProxyHeader]:
    """The header at the start of `data`, None if more bytes are needed."""
    if not data:
        return None
    head = bytes(data[:V2_FIXED])
    if V2_SIGNATURE.startswith(head[:len(V2_SIGNATURE)]):
        return _parse_v2(data)
    if V1_PREFIX.startswith(head[:len(V1_PREFIX)]):
        return _parse_v1(data)
    raise ProxyError("no PROXY protocol header")


def _parse_v1(data: bytes) -> Optional[ProxyHeader]:
    end = bytes(data[:V1_MAX]).find(b"\r\n")
    if end < 0:
        if len(data) >= V1_MAX:
            raise ProxyError("PROXY v1 line too long")
        return None
    words = bytes(data[:end]).split(b" ")
    if len(words) >= 2 and words[1] == b"UNKNOWN":
        return ProxyHeader(None, end + 2)
    if len(words) != 6 or words[1] not in (b"TCP4", b"TCP6"):
        raise ProxyError("bad PROXY v1 line")
    try:
        host = ipaddress.ip_address(words[2].decode("ascii"))
        ipaddress.ip_address(words[3].decode("ascii"))
        port = _port(words[4])
        _port(words[5])
    except (ValueError, UnicodeDecodeError):
        raise ProxyError("bad address in PROXY v1 line") from None
    if host.version != (4 if words[1] == b"TCP4" else 6):
        raise ProxyError("PROXY v1 address of the wrong family")
    return ProxyHeader((str(host), port), end + 2)


def _port(word: bytes) -> int:
    if not word.isdigit() or len(word) > 5 or (len(word) > 1 and word[:1] == b"0"):
        raise ValueError(word)
    port = int(word)
    if port > 65535:
        raise ValueError(word)
    return port


def _parse_v2(data: bytes) -> Optional[ProxyHeader]:
    if len(data) < V2_FIXED:
        return None
    version_command, family, size = struct.unpack("!BBH", bytes(data[12:V2_FIXED]))
    if version_command >> 4 != 2 or version_command & 0xF > 1:
        raise ProxyError("bad PROXY v2 version or command")
    if size > V2_MAX_PAYLOAD:
        raise ProxyError("PROXY v2 header too long")
    if len(data) < V2_FIXED + size:
        return None
    length = V2_FIXED + size
    if version_command & 0xF == 0:  # LOCAL: the proxy's own connection (a health check)
        return ProxyHeader(None, length)
    payload = bytes(data[V2_FIXED:length])
    if family >> 4 == 1:  # AF_INET
        if size < 12:
            raise ProxyError("PROXY v2 IPv4 addresses cut short")
        return ProxyHeader((str(ipaddress.IPv4Address(payload[:4])),
                            struct.unpack("!H", payload[8:10])[0]), length)
    if family >> 4 == 2:  # AF_INET6
        if size < 36:
            raise ProxyError("PROXY v2 IPv6 addresses cut short")
        return ProxyHeader((str(ipaddress.IPv6Address(payload[:16])),
                            struct.unpack("!H", payload[32:34])[0]), length)
    return ProxyHeader(None, length)  # AF_UNSPEC, AF_UNIX: no address to take
