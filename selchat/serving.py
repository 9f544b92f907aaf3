"""``selchat serve``'s wiring: where it listens, one server or workers, what it prints.

`listen_and_serve` takes the options `selchat.cli` has checked and turned into values
(`Ports`, the certificates, `Sharing`), opens the listeners (a busy default
port is a startup line, any other port that cannot be had one line and exit
status 1: `selchat.cli.fail`), runs the lone server or supervises the workers,
and prints the startup lines once everything listens. Its log lines keep the
name ``selchat.cli``: operators and tools read them (``INFO selchat.cli:
listening on ...``). `selchat.cli` imports this module only when serve runs,
so importing its `fail` and join's defaults here makes no import cycle at load.
"""
import errno
import functools
import logging
import os
import shlex
import shutil
import socket
import sys
from typing import TYPE_CHECKING, Any, Callable, Dict, List, NamedTuple, Optional, Sequence, Tuple

from selchat.accounts.driver import AccountOptions
from selchat.addresses import format_address, os_problem
from selchat.bus.address import BusAddress
from selchat.cli import DEFAULT_HOST, DEFAULT_PORT, fail
from selchat.limits import Limits
from selchat.storage import Storage

if TYPE_CHECKING:
    from selchat.tls import Certificates

#: The logger of the command's lines (not __name__: their name is part of what people read).
log = logging.getLogger("selchat.cli")


class Ports(NamedTuple):
    """Where serve listens, from its options: a port None is not served."""

    host: str
    chat: Optional[int]  # None with --no-clear
    web: Optional[int]  # None with --no-web
    web_optional: bool  # the default web port: busy is a startup line, not an error
    tls: int  # with certificates only
    irc: Optional[int]  # None with --no-irc
    irc_optional: bool  # the default IRC port, as the web one
    ircs: int  # with certificates and IRC only
    ircs_optional: bool
    server_name: Optional[str]


def listen_and_serve(ports: Ports, certificates: "Optional[Certificates]", workers: int,
                     log_level: str, limits: Dict[str, Any],
                     web_access: Tuple[Sequence[str], Sequence[str]], sharing: "Sharing",
                     shared: Sequence[str]) -> None:
    """Listen on `ports` and serve until stopped: one server, or `workers` of them
    (`web_access`: --web-origin and --web-host; `shared`: the startup lines of
    the bus and the data directory)."""
    from selchat.irc.port import listen as listen_irc
    from selchat.listeners import open_listener, reserve_port
    from selchat.tls_port import OVER_TLS, listen_more_tls, listen_over_tls, reload_certificates

    host = ports.host
    wanted = (host, ports.chat, ports.web, ports.web_optional)
    if workers == 1:
        listener, web_listener, no_web_page = _listen(*wanted, open_listener)
        tls_listener = _tls_listen(certificates, host, ports.tls, open_listener)
        irc = listen_irc(host, ports.irc, ports.irc_optional, ports.server_name,
                         open_listener, fail)
        ircs = None if not irc.ports else ports.ircs  # IRC over TLS needs IRC
        tls_ports, tls_lines = listen_more_tls(certificates, host, {"irc": (
            ircs, ports.ircs_optional)}, open_listener, fail)
        also = [*filter(None, [no_web_page]), *irc.lines, *tls_lines, *shared]
        _run_server(listener, web_listener, limits, web_access, sharing,
                    ready=lambda: _announce(listener, web_listener, also, tls_listener),
                    certificates=certificates, tls_listener=tls_listener,
                    ports=[*irc.ports, *tls_ports])
        return

    from selchat.workers import WorkersFailed, supervise

    # The parent only holds the ports (port 0 becomes one port for all);
    # each worker listens on them itself.
    chat, web, no_web_page = _listen(*wanted, reserve_port)
    tls = _tls_listen(certificates, host, ports.tls, reserve_port)
    irc_held = listen_irc(host, ports.irc, ports.irc_optional, ports.server_name,
                          reserve_port, fail)
    ircs_held, ircs_lines = listen_over_tls(
        OVER_TLS["irc"], host, None if certificates is None or irc_held.port is None
        else ports.ircs, ports.ircs_optional, reserve_port, fail)

    def run_worker(number: int, ready: Callable[[], None]) -> None:
        log_to_stderr(log_level, f"worker {number} ")
        same_port = functools.partial(open_listener, reuse_port=True)
        listener, web_listener, _ = _listen(host, _port_of(chat), _port_of(web), False, same_port)
        tls_listener = _tls_listen(certificates, host, _port_of(tls), same_port)
        irc = listen_irc(host, irc_held.port, False, ports.server_name, same_port, fail)
        tls_ports, _ = listen_more_tls(certificates, host, {"irc": (_port_of(ircs_held), False)},
                                       same_port, fail)
        _run_server(listener, web_listener, limits, web_access, sharing, ready,
                    certificates, tls_listener, [*irc.ports, *tls_ports])

    try:
        also = [*filter(None, [no_web_page]), *irc_held.lines, *ircs_lines, *shared,
                f"selchat workers: {workers}"]
        supervise(workers, run_worker, lambda: _announce(chat, web, also, tls),
                  None if certificates is None else functools.partial(reload_certificates,
                                                                      certificates))
    except WorkersFailed as exc:
        fail(str(exc))


_LISTEN_HINTS = {
    errno.EADDRINUSE: "is another selchat running? try {option}",
    errno.EACCES: "ports below 1024 need privileges; try {option}",
    errno.EADDRNOTAVAIL: "this machine has no such address; try --host 127.0.0.1",
}


def listen_problem(exc: OSError, option: str = "--port") -> str:
    """Why the server could not listen, with what to try next (`option` names the port)."""
    hint = _LISTEN_HINTS.get(exc.errno, "").format(option=option) if exc.errno else None
    return f"{os_problem(exc)} ({hint})" if hint else os_problem(exc)


def startup_lines(host: str, port: int, address: str, also: Sequence[str] = (),
                  program: str = "selchat") -> List[str]:
    """What serve prints once it listens on (host, port), its socket address.

    The first line, ``selchat listening on HOST:PORT``, never changes: tools
    and tests read it to learn the port. Then `also` (lines for further
    listeners, such as a web page), then how to join (`program`: how this
    selchat is run from a new shell, `this_program`) and how to stop.
    """
    host = _reachable(host)
    join = f"{program} join NAME"
    if host != DEFAULT_HOST:
        join += f" --host {host}"
    if port != DEFAULT_PORT:
        join += f" --port {port}"
    return [f"selchat listening on {address}", *also, f"join with: {join}", "stop with Ctrl-C"]


def this_program(argv0: str, executable: str,
                 which: Callable[[str], Optional[str]] = shutil.which) -> str:
    """This selchat as it must be typed in a new shell: ``selchat`` when that is
    what PATH finds, else its full path (a virtual environment not activated),
    or ``PYTHON -m selchat`` when run so."""
    found = which("selchat")
    if os.path.basename(argv0) == "__main__.py":  # python -m selchat
        if found and _same(os.path.dirname(found), os.path.dirname(executable)):
            return "selchat"  # the script beside this interpreter
        return f"{shlex.quote(executable)} -m selchat"
    if found and _same(found, argv0):
        return "selchat"
    return shlex.quote(os.path.abspath(argv0))


def _same(path: str, other: str) -> bool:
    try:
        return os.path.samefile(path, other)
    except OSError:
        return False


def _reachable(host: str) -> str:
    """An address this machine reaches a listener on: loopback for "every address"."""
    if host in ("0.0.0.0", "::"):
        return "::1" if host == "::" else DEFAULT_HOST
    return host


def _tls_listen(certificates: "Optional[Certificates]", host: str, port: Optional[int],
                bind: Callable[[str, int], socket.socket]) -> Optional[socket.socket]:
    """The TLS port's socket (None without TLS); one that cannot be had exits."""
    if certificates is None or port is None:
        return None
    try:
        return bind(host, port)
    except OSError as exc:
        fail(f"cannot listen on {host} TLS port {port}: {listen_problem(exc, '--tls-port')}")
        raise  # not reached: fail exits


def _port_of(sock: Optional[socket.socket]) -> Optional[int]:
    return None if sock is None else sock.getsockname()[1]


def log_to_stderr(level: str, prefix: str = "") -> None:
    """Log lines on stderr, after a time stamp and `prefix` (which worker)."""
    logging.basicConfig(
        level=level.upper(), stream=sys.stderr, force=True,
        format=f"%(asctime)s {prefix}%(levelname)s %(name)s: %(message)s",
    )


class Listeners(NamedTuple):
    chat: Optional[socket.socket]  # None with --no-clear
    web: Optional[socket.socket]
    #: The startup line saying why there is no web page (a busy default port).
    no_web_page: Optional[str] = None


def _listen(host: str, port: Optional[int], web_port: Optional[int], web_optional: bool,
            bind: Callable[[str, int], socket.socket]) -> Listeners:
    """The chat port's socket and the web port's (none for web_port None),
    from `bind`; a failure is one line and exit status 1, but if
    `web_optional` (the default port), a busy web port is only a startup
    line saying so, and how to have the page."""
    try:
        listener = None if port is None else bind(host, port)
    except OSError as exc:
        fail(f"cannot listen on {host} port {port}: {listen_problem(exc)}")
    if web_port is None:
        return Listeners(listener, None)
    try:
        return Listeners(listener, bind(host, web_port))
    except OSError as exc:
        if not web_optional:
            fail(f"cannot listen on {host} web port {web_port}: "
                 f"{listen_problem(exc, '--web-port')}")
        log.warning("no web page: cannot listen on %s web port %d: %s (try --web-port)",
                    host, web_port, os_problem(exc))
        problem = f"port {web_port} is in use" if exc.errno == errno.EADDRINUSE \
            else f"cannot listen on port {web_port}: {os_problem(exc)}"
        return Listeners(listener, None, f"selchat web page: {problem}; no web page "
                                         "(use --web-port PORT, or --web-port 0 for a free one)")


class Sharing(NamedTuple):
    """The bus options: where, how long lines are kept, how long a lease lasts."""

    bus: Optional[BusAddress]
    retention: float
    lease: float
    max_bytes: int
    trusted_proxies: Sequence[str] = ()  # not the bus's, but every worker's too
    storage: Optional[Storage] = None  # the data directory, the history on disk
    accounts: AccountOptions = AccountOptions()  # --server-password, --scrypt-n


def _run_server(listener: Optional[socket.socket], web_listener: Optional[socket.socket],
                limits: Dict[str, Any], web: Tuple[Sequence[str], Sequence[str]],
                sharing: Sharing, ready: Callable[[], None],
                certificates: "Optional[Certificates]" = None,
                tls_listener: Optional[socket.socket] = None, ports: Sequence[Any] = ()) -> None:
    """One server, the lone one or a worker, until it has shut down."""
    from selchat.server import Server

    server = Server(listener, Limits(**limits), web_listener=web_listener,
                    web_origins=web[0], web_hosts=web[1], bus=sharing.bus,
                    bus_retention=sharing.retention, bus_lease=sharing.lease,
                    bus_max_bytes=sharing.max_bytes, certificates=certificates,
                    tls_listener=tls_listener, trusted_proxies=sharing.trusted_proxies,
                    storage=sharing.storage, accounts=sharing.accounts, ports=ports)
    server.serve_forever(ready=ready)


def _announce(listener: Optional[socket.socket], web_listener: Optional[socket.socket],
              also: Sequence[str] = (), tls_listener: Optional[socket.socket] = None) -> None:
    """Log and print where the server listens (startup_lines), once."""
    main = listener if listener is not None else tls_listener
    assert main is not None  # --no-clear needs TLS
    host, port = main.getsockname()[:2]
    address = format_address(host, port)
    if listener is not None:
        log.info("listening on %s", address)
    lines = list(also)
    if tls_listener is not None:
        tls_address = format_address(*tls_listener.getsockname()[:2])
        log.info("TLS on %s", tls_address)
        if listener is not None:  # else its line comes first, in place of "listening on"
            lines.insert(0, f"selchat TLS on {tls_address}")
    if web_listener is not None:
        web_host, web_port = web_listener.getsockname()[:2]
        scheme = "http" if tls_listener is None else "https"
        page = f"{scheme}://{format_address(_reachable(web_host), web_port)}/"
        log.info("web page on %s", page)
        lines.insert(0, f"selchat web page on {page}")
    try:
        program = this_program(sys.argv[0], sys.executable)
        lines = startup_lines(host, port, address, lines, program)
        if listener is None:  # TLS only: joining needs --tls
            lines[0], lines[-2] = f"selchat TLS on {address}", lines[-2] + " --tls"
        sys.stdout.write("".join(line + "\n" for line in lines))
        sys.stdout.flush()
    except BrokenPipeError:  # whoever read the address has gone: the server goes on
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
