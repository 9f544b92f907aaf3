"""Who may say where a client really is (``--trusted-proxy CIDR``), and what an
``X-Forwarded-For`` header says. Pure.

Behind a reverse proxy every connection comes from the proxy's address; the
proxy names the client in a PROXY protocol header (`selchat.proxy_protocol`,
the chat ports) or in ``X-Forwarded-For`` (the web port). Only connections
from a trusted proxy are believed: from anyone else those headers are ignored,
or anyone could pick the address the per-address limit counts.
"""
import ipaddress
from typing import List, Optional, Sequence, Union

Network = Union[ipaddress.IPv4Network, ipaddress.IPv6Network]


class TrustedProxies:
    """The networks whose connections may name their client."""

    def __init__(self, cidrs: Sequence[str] = ()) -> None:
        """Raises ValueError for a CIDR that is not one (``10.0.0.0/8``, ``::1``)."""
        self._networks: List[Network] = [ipaddress.ip_network(c, strict=False) for c in cidrs]

    def __bool__(self) -> bool:
        return bool(self._networks)

    def trusts(self, host: str) -> bool:
        address = _address(host)
        return address is not None and any(address in network for network in self._networks)


def _address(host: str) -> Optional[Union[ipaddress.IPv4Address, ipaddress.IPv6Address]]:
    try:
        address = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped  # an IPv4 peer on a dual-stack listener
    return address


def forwarded_client(header: Optional[bytes]) -> Optional[str]:
    """The client ``X-Forwarded-For`` names: its last entry, the one the proxy
    in front of us added (the ones before it came from further out, or from
    the client itself, and prove nothing). None if there is none, or it is
    not an address."""
    if not header:
        return None
    last = header.rsplit(b",", 1)[-1].strip()
    if last.startswith(b"[") and b"]" in last:  # [2001:db8::1]:443
        last = last[1:last.index(b"]")]
    elif last.count(b":") == 1:  # 203.0.113.7:51234
        last = last.split(b":", 1)[0]
    try:
        address = _address(last.decode("ascii"))
    except UnicodeDecodeError:
        return None
    return None if address is None else str(address)
