"""The IRC port's listener, its startup line, and the server's name.

`listen` opens ``--irc-port`` on the chat port's host: a busy *default* port
(6667, often some other IRC server's) is a warning and a startup line, as the
web port's is; a port the operator chose that cannot be had is an error. It
answers the `selchat.server.Port` that makes the server's `IrcKind`, so
`selchat.cli` only passes it on. IRC over TLS is one more such port whose
listening kind is a `selchat.tls_port.TlsPort` around an `IrcKind`, as the
TLS chat port's is around `selchat.lines.LineKind`.
"""
import errno
import logging
import socket
from typing import TYPE_CHECKING, Callable, List, NamedTuple, Optional, Tuple

from selchat.addresses import format_address, os_problem
from selchat.connection import Kind

if TYPE_CHECKING:
    from selchat.server import Server

log = logging.getLogger(__name__)

#: IRC's registered port (RFC 7194 names 6697 for TLS).
DEFAULT_IRC_PORT = 6667


class IrcListening(NamedTuple):
    """What serving IRC adds: the server's port factories, and startup lines."""

    ports: List[Callable[["Server"], Tuple[Kind, Kind, socket.socket]]]
    lines: List[str]
    #: The port it listens on (None: none): ``--workers``' parent holds it,
    #: each worker listens on it too.
    port: Optional[int] = None


def server_name(chosen: Optional[str]) -> str:
    """``--server-name``, or this host's name (a name IRC accepts: no spaces)."""
    name = (chosen or socket.gethostname() or "selchat").strip()
    return "".join(name.split()) or "selchat"


def listen(host: str, port: Optional[int], optional: bool, name: Optional[str],
           bind: Callable[[str, int], socket.socket],
           fail: Callable[[str], None]) -> IrcListening:
    """The IRC listener on `host` (none for `port` None: ``--no-irc``); a port
    that cannot be had is `fail`'s, or with `optional` (the default port) a
    warning and a startup line."""
    if port is None:
        return IrcListening([], [])
    try:
        sock = bind(host, port)
    except OSError as exc:
        if not optional:
            fail(f"cannot listen on {host} IRC port {port}: {os_problem(exc)} "
                 "(try --irc-port PORT, or --no-irc)")
        log.warning("no IRC: cannot listen on %s IRC port %d: %s (try --irc-port)",
                    host, port, os_problem(exc))
        problem = f"port {port} is in use" if exc.errno == errno.EADDRINUSE \
            else f"cannot listen on port {port}: {os_problem(exc)}"
        return IrcListening([], [f"selchat IRC: {problem}; no IRC "
                                 "(use --irc-port PORT, or --irc-port 0 for a free one)"])
    names = server_name(name)
    address = format_address(*sock.getsockname()[:2])
    log.info("IRC on %s as %s", address, names)

    def make(server: "Server") -> Tuple[Kind, Kind, socket.socket]:
        from selchat.irc.kind import IrcKind

        kind = IrcKind(server, names)
        return kind, kind, sock
    return IrcListening([make], [f"selchat IRC on {address}"], sock.getsockname()[1])
