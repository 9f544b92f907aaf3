"""Where the bus is: a ``redis://`` URL, read once at startup.

Accepted: ``redis://[[default]:PASSWORD@]HOST[:PORT][/DB]``, port 6379 and
database 0 by default, an IPv6 host in brackets (``redis://[::1]/0``) and the
password percent-encoded when it holds ``@``, ``:`` or ``/``. Anything else is
a `ValueError` with one sentence for a person; no message repeats the URL,
which may hold the password.
"""
from typing import NamedTuple, Optional, Tuple
from urllib.parse import unquote

from selchat.addresses import format_address

DEFAULT_PORT = 6379
FORM = "redis://[:PASSWORD@]HOST[:PORT][/DB]"


class BusAddress(NamedTuple):
    host: str
    port: int
    password: Optional[str]
    db: int

    def display(self) -> str:
        """The address for logs and startup lines: never the password."""
        return f"redis://{format_address(self.host, self.port)}/{self.db}"

    def __repr__(self) -> str:  # a stray log of the tuple must not show the password
        password = None if self.password is None else "***"
        return (f"BusAddress(host={self.host!r}, port={self.port}, "
                f"password={password!r}, db={self.db})")


def parse_bus_url(url: str) -> BusAddress:
    """The `BusAddress` in `url`, or ValueError saying what is wrong.

    Redis 6 ACL user names are refused, except ``default`` (the user a bare
    password authenticates): AUTH is sent with the password alone, so another
    user name would be silently ignored and the password checked against the
    wrong user. ``rediss://`` (TLS) is refused: selchat speaks plain TCP.
    """
    scheme, sep, rest = url.partition("://")
    if sep and scheme.lower() == "rediss":
        raise ValueError("rediss:// (Redis over TLS) is not supported; use redis://")
    if not sep or scheme.lower() != "redis":
        raise ValueError(f"bus URL must start with redis:// ({FORM})")
    if "?" in rest or "#" in rest:
        raise ValueError(f"bus URL options after '?' or '#' are not supported ({FORM})")
    netloc, _, path = rest.partition("/")
    userinfo, at, hostport = netloc.rpartition("@")
    password = _password(userinfo) if at else None
    host, port = _host_port(hostport)
    if path and not (path.isascii() and path.isdigit()):
        raise ValueError(f"bus database must be a number ({FORM})")
    return BusAddress(host, port, password, int(path or 0))


def _password(userinfo: str) -> Optional[str]:
    user, colon, password = userinfo.partition(":")
    if not colon:
        raise ValueError(f"bus password goes after a colon ({FORM})")
    if unquote(user) not in ("", "default"):
        raise ValueError("bus URL user names are not supported, only the default user "
                         f"({FORM})")
    return unquote(password) or None


def _host_port(hostport: str) -> Tuple[str, int]:
    if hostport.startswith("["):
        host, bracket, tail = hostport[1:].partition("]")
        if not bracket or (tail and not tail.startswith(":")):
            raise ValueError(f"bus host: an IPv6 address goes in brackets ({FORM})")
        port = tail[1:] if tail else None
    elif hostport.count(":") > 1:
        raise ValueError(f"bus host: an IPv6 address goes in brackets ({FORM})")
    else:
        host, colon, port_text = hostport.partition(":")
        port = port_text if colon else None
    if not host:
        raise ValueError(f"bus URL needs a host ({FORM})")
    if port is None:
        return host, DEFAULT_PORT
    if not (port.isascii() and port.isdigit()) or not 1 <= int(port) <= 65535:
        raise ValueError("bus port must be 1-65535")
    return host, int(port)
