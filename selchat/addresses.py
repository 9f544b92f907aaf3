"""Socket addresses and socket errors in the words people read.

One place for both, shared by the server, the client and the command line:
``host:port`` with an IPv6 host in brackets, as in a URL, and an OSError as a
few plain words, with no errno number and no Python tuple.
"""
import ipaddress
import os
import socket


def format_address(host: str, port: int) -> str:
    """host:port, with an IPv6 host in brackets (``[::1]:4000``)."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def os_problem(exc: OSError) -> str:
    """An OSError in a few plain words, starting in lower case."""
    if isinstance(exc, socket.gaierror):
        words = "no such host name" if exc.errno == socket.EAI_NONAME else exc.strerror
    else:  # not exc.strerror: socket.create_server appends "(while attempting to bind on ...)"
        words = os.strerror(exc.errno) if exc.errno else exc.strerror
    words = words or type(exc).__name__
    return words[:1].lower() + words[1:]


#: Prefix lengths that make one address group for the per-address limits
#: (unnamed connections, held sessions). An IPv6 host is given a /64 (a home
#: or a cloud server gets one and can use every address in it); Ergo groups by
#: /64 too. IPv4 addresses are scarce, so one is usually one host, or one NAT
#: for many people: a wider IPv4 group (/24) would lump neighbours of an ISP
#: or a carrier-grade NAT together, so IPv4 stays exact (/32), as Ergo's default.
IPV6_GROUP_PREFIX = 64
IPV4_GROUP_PREFIX = 32


def address_group(host: str) -> str:
    """The group `host` counts against for the per-address limits.

    IPv6 by its /64 (``2001:db8:1:2::/64``); IPv4 exact, and an IPv4-mapped
    IPv6 address (``::ffff:192.0.2.1``, what a dual-stack listener reports) as
    the IPv4 address it is. Loopback is one host however many addresses it
    has (all of 127.0.0.0/8, and ::1): ``loopback``. An IPv6 link-local
    address stays exact: every host of a LAN has one in fe80::/64. Anything
    that is not an IP address (a test's fake host) is its own group."""
    try:
        address = ipaddress.ip_address(host.partition("%")[0])  # no zone: fe80::1%eth0
    except ValueError:
        return host
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if address.is_loopback:
        return "loopback"
    if isinstance(address, ipaddress.IPv4Address):
        prefix = IPV4_GROUP_PREFIX
    else:
        prefix = address.max_prefixlen if address.is_link_local else IPV6_GROUP_PREFIX
    if prefix == address.max_prefixlen:
        return str(address)
    return str(ipaddress.ip_network((address, prefix), strict=False))
