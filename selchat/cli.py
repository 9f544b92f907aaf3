"""The ``selchat`` command: ``serve`` and ``join``.

Options only: this module parses them (every option also reads a ``SELCHAT_*``
environment variable), sets up logging, and turns startup failures, bad options
included, into one line on stderr and a non-zero exit status: people read these,
so no tracebacks, errno numbers or Python tuples. The work happens elsewhere.
"""
import os
import sys
from typing import TYPE_CHECKING, Any, Callable, List, Optional, Sequence

import click
from click.core import ParameterSource

from selchat import __version__, config
from selchat.addresses import format_address, os_problem
from selchat.bus.address import BusAddress, parse_bus_url
from selchat.bus.protocol import MAX_STREAM_BYTES
from selchat.datadir import DataProblem
from selchat.fdlimit import fit_max_clients
from selchat.limits import Limits
from selchat.storage import Storage
from selchat.accounts.admin import account_options, admin, serve_options

if TYPE_CHECKING:
    from selchat.tls import Certificates

DEFAULTS = Limits()
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 4000
DEFAULT_WEB_PORT = 4080
DEFAULT_TLS_PORT = 4443
LOG_LEVELS = ("debug", "info", "warning", "error")


class _Option(click.Option):
    """An option whose error names where the bad value came from.

    Click names both the option and its variable (``'--port' (env var:
    'SELCHAT_PORT')``) even when the variable is not set; this names the one
    that was used.
    """

    def get_error_hint(self, ctx: Optional[click.Context]) -> str:
        source = None if ctx is None or self.name is None else \
            ctx.get_parameter_source(self.name)
        if source is ParameterSource.ENVIRONMENT and isinstance(self.envvar, str):
            return f"{self.envvar} (environment variable)"
        if source is ParameterSource.DEFAULT_MAP and ctx is not None and self.name is not None:
            return config.error_hint(ctx, self.name)
        return click.Parameter.get_error_hint(self, ctx)


def _option(name: str, **kwargs: Any) -> Callable:
    """A click option that also reads SELCHAT_<NAME> and shows its default."""
    envvar = "SELCHAT_" + name.lstrip("-").replace("-", "_").upper()
    return click.option(name, cls=_Option, envvar=envvar, show_default=True, show_envvar=True,
                        **kwargs)


def _host(ctx: click.Context, param: click.Parameter, value: str) -> str:
    """The host as given, less the brackets of an IPv6 address (``[::1]``, as serve prints it).

    An empty host is refused, and so is an empty SELCHAT_HOST (which click
    would quietly take for unset): to the server an empty host would mean every
    address, which nobody should get by accident.
    """
    if value.startswith("[") and value.endswith("]"):
        value = value[1:-1]
    envvar = "SELCHAT_HOST"
    if ctx.get_parameter_source("host") is ParameterSource.DEFAULT and os.environ.get(envvar) == "":
        value, hint = "", f"{envvar} (environment variable)"
    else:
        hint = None
    if not value:
        raise click.BadParameter(
            "empty; give an address, such as 127.0.0.1 (this machine only), "
            "0.0.0.0 (every IPv4 address) or :: (every address)", ctx, param, hint)
    return value


def _room_name(ctx: click.Context, param: click.Parameter, value: str) -> str:
    """--default-room: a room name, with or without its "#" (kept without)."""
    from selchat.rooms import room_problem

    name = value.lstrip("#") if isinstance(value, str) else value
    problem = room_problem(f"#{name}")
    if problem:
        raise click.BadParameter(problem)
    return name


def _bus_address(ctx: click.Context, param: click.Parameter,
                 value: Optional[str]) -> Optional[BusAddress]:
    if value is None:
        return None
    try:
        return parse_bus_url(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


def _cidrs(ctx: click.Context, param: click.Parameter, values: Sequence[str]) -> List[str]:
    import ipaddress

    for value in values:
        try:
            ipaddress.ip_network(value, strict=False)
        except ValueError:
            raise click.BadParameter(f"{value!r} is not an address or network "
                                     "(10.0.0.0/8, ::1)") from None
    return list(values)


def _read_config(ctx: click.Context, param: click.Parameter, path: Optional[str]) -> None:
    """--config FILE (eager): its values become the defaults of the other options,
    so the command line and the environment still win (`selchat.config`)."""
    if not path:
        return
    values, written = config.read(path, ctx.command.params)
    ctx.default_map = {**(ctx.default_map or {}), **values}
    ctx.meta[config.META_KEY] = (path, written)


def _address_options(lowest_port: int, port_help: str, host_help: str) -> Callable:
    def decorate(command: Callable) -> Callable:
        command = _option("--port", default=DEFAULT_PORT, type=click.IntRange(lowest_port, 65535),
                          help=port_help)(command)
        return _option("--host", default=DEFAULT_HOST, callback=_host, help=host_help)(command)
    return decorate


def fail(message: str, status: int = 1) -> None:
    """One line for people, no traceback."""
    click.echo(f"selchat: {message}", err=True)
    sys.exit(status)


CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"]}


@click.group(context_settings=CONTEXT_SETTINGS)
@click.version_option(__version__, prog_name="selchat")
def cli() -> None:
    """A single-threaded chat server and its terminal client."""


@cli.command()
@_address_options(0, "TCP port to listen on (0: any free port).",
                  "Address to listen on: IPv4 or IPv6, brackets optional ([::1]); "
                  "0.0.0.0 or :: for every address.")
@_option("--log-level", default="info", type=click.Choice(LOG_LEVELS, case_sensitive=False),
         help="Connections, joins and leaves log at info; each message at debug.")
@_option("--max-line", default=DEFAULTS.max_line, type=click.IntRange(16),
         help="Longest line a client may send, in bytes.")
@_option("--max-output", default=DEFAULTS.max_output, type=click.IntRange(1024),
         help="Hard output limit: bytes queued for one client before it is dropped "
              "at once as not reading.")
@_option("--soft-output", default=DEFAULTS.soft_output, type=click.IntRange(1024),
         help="Soft output limit: a client whose queue stays over this many bytes for "
              "--soft-output-seconds is dropped as not reading.")
@_option("--soft-output-seconds", default=DEFAULTS.soft_output_seconds,
         type=click.FloatRange(0, min_open=True),
         help="How long a client's queue may stay over --soft-output.")
@_option("--flood-burst", default=DEFAULTS.flood_burst, type=click.IntRange(1),
         help="Lines a client may send at once (a line over 512 bytes counts as one "
              "per 512 bytes).")
@_option("--flood-rate", default=DEFAULTS.flood_rate, type=click.FloatRange(0),
         help="Lines per second a client may send after its burst (0: no limit).")
@_option("--name-timeout", default=DEFAULTS.name_timeout, type=click.FloatRange(0, min_open=True),
         help="Seconds a new connection has to choose a name.")
@_option("--max-clients", default=DEFAULTS.max_clients, type=click.IntRange(1),
         help="Connections held at once, named or not.")
@_option("--max-per-ip", default=DEFAULTS.max_per_ip, type=click.IntRange(0),
         help="Connections from one address that have not chosen a name yet "
              "(loopback too; 0: no limit).")
@_option("--max-held", default=DEFAULTS.max_held, type=click.IntRange(0),
         help="Dropped members held for /resume at once, from all addresses (0: no limit); "
              "--max-per-ip caps them per address. Past a limit the oldest hold ends.")
@_option("--history", default=DEFAULTS.history, type=click.IntRange(0),
         help="Room lines kept for newcomers and for resuming (0: no history, no resume).")
@_option("--replay", default=DEFAULTS.replay, type=click.IntRange(0),
         help="Lines of history a newcomer is shown after the welcome.")
@_option("--default-room", default=DEFAULTS.default_room, callback=_room_name,
         help="The room every member is in on joining; its lines carry no room prefix.")
@_option("--max-rooms", default=DEFAULTS.max_rooms, type=click.IntRange(1),
         help="Rooms at once, the default room included.")
@_option("--max-rooms-per-member", default=DEFAULTS.max_rooms_per_member,
         type=click.IntRange(1), help="Rooms one member may be in at once.")
@_option("--announce-limit", default=DEFAULTS.announce_limit, type=click.IntRange(0),
         help="Members past which a room's joins and leaves are not told to everyone "
              "(counts and /who stay exact; 0: always tell).")
@_option("--resume-window", default=DEFAULTS.resume_window, type=click.FloatRange(0),
         help="Seconds a dropped member (one that asked for /tags) is held for /resume "
              "before the others are told it left (0: no holding).")
@_option("--web-port", default=DEFAULT_WEB_PORT, type=click.IntRange(0, 65535),
         help="HTTP port for the web page and its WebSocket, on the same --host "
              "(0: any free port). If the default port is busy, the server runs without it "
              "and its startup lines say so.")
@_option("--no-web", is_flag=True, help="Serve no web page: the chat port only.")
@_option("--irc-port", default=6667, type=click.IntRange(0, 65535),  # irc.port.DEFAULT_IRC_PORT
         help="IRC port, on the same --host (0: a free port); docs/irc.rst.")
@_option("--no-irc", is_flag=True, help="Serve no IRC port.")
@_option("--ircs-port", default=6697, type=click.IntRange(0, 65535),  # tls_port.OVER_TLS
         help="With TLS and the IRC port: IRC over TLS on this port (0: a free port).")
@_option("--server-name", default=None, metavar="NAME",
         help="The server's name in IRC replies (default: this host's name).")
@_option("--web-origin", multiple=True, metavar="URL",
         help="Another origin (scheme://host:port) whose pages may open the WebSocket; "
              "repeatable. The page's own origin always may.")
@_option("--web-host", multiple=True, metavar="NAME",
         help="Another name the web port answers to in the Host header (one a proxy or "
              "DNS gives it); repeatable, or several separated by commas or spaces. IP "
              "addresses, and localhost and this machine's name where the port listens on "
              "them, always work; any other name gets 403 (DNS rebinding).")
@_option("--tls-cert", default=None, metavar="FILE",
         help="PEM certificate (chain) for TLS; with --tls-key, turns TLS on: the line "
              "protocol on --tls-port, and the web page over https and wss. SIGHUP reads "
              "both files again (a renewal) for new connections.")
@_option("--tls-key", default=None, metavar="FILE", help="PEM private key of --tls-cert.")
@_option("--tls-port", default=DEFAULT_TLS_PORT, type=click.IntRange(0, 65535),
         help="TCP port for the chat line protocol over TLS (0: any free port).")
@_option("--no-clear", is_flag=True,
         help="With TLS, no clear-text chat port: clients connect over TLS only.")
@_option("--trusted-proxy", multiple=True, metavar="CIDR", callback=_cidrs,
         help="A reverse proxy's address or network (repeatable): connections from it "
              "name their client with the PROXY protocol (v1 or v2) on the chat ports and "
              "X-Forwarded-For on the web port; from anyone else both are ignored.")
@_option("--workers", default=1, type=click.IntRange(0),
         help="Server processes sharing the ports, each with its own loop, to use more "
              "cores (0: one per CPU). Any number but 1 needs --bus.")
@_option("--bus", default=None, metavar="URL", callback=_bus_address,
         help="redis://[:PASSWORD@]HOST[:PORT][/DB]: share the room with every selchat "
              "process using this Redis (see docs/running.rst, Running several servers).")
@_option("--bus-retention", default=600.0, type=click.FloatRange(1),
         help="Seconds of room lines the bus keeps (its stream is trimmed to them).")
@_option("--bus-max-bytes", default=MAX_STREAM_BYTES, type=click.IntRange(0),
         help="Bytes of room lines the bus's stream may take in Redis, beside "
              "--bus-retention (0: no byte cap).")
@_option("--bus-lease", default=15.0, type=click.FloatRange(1),
         help="Seconds after which a node that stopped answering is counted gone by "
              "the others, and its members' names are freed.")
@_option("--data", default=None, metavar="DIR",
         help="Directory for what outlives a restart (room history, search); made on "
              "first start [default: $XDG_STATE_HOME/selchat or ~/.local/state/selchat].")
@_option("--no-data", is_flag=True, help="Keep everything in memory: nothing on disk.")
@_option("--retention-days", default=30.0, type=click.FloatRange(0),
         help="Days room lines are kept on disk (0: forever).")
@_option("--history-max-mb", default=0.0, type=click.FloatRange(0),
         help="Megabytes of room lines kept on disk, the oldest deleted past it (0: no cap).")
@serve_options(_option)
@_option("--config", metavar="FILE", is_eager=True, expose_value=False, callback=_read_config,
         help="A TOML file setting any of these options: a key is the option's name "
              "without '--' (max-clients = 100, or max_clients). The command line "
              "and the environment override the file, which overrides the defaults.")
@click.option("--print-config", is_flag=True,
              help="Print the settings in effect (as TOML, each with where it came from; "
                   "the bus password masked) and exit.")
@click.pass_context
def serve(ctx: click.Context, host: str, port: int, log_level: str, web_port: int,
          no_web: bool, web_origin: Sequence[str], web_host: Sequence[str], workers: int,
          bus: Optional[BusAddress], bus_retention: float, bus_lease: float, bus_max_bytes: int,
          print_config: bool, tls_cert: Optional[str], tls_key: Optional[str], tls_port: int,
          no_clear: bool, trusted_proxy: Sequence[str], data: Optional[str], no_data: bool,
          retention_days: float, history_max_mb: float, irc_port: int, no_irc: bool,
          ircs_port: int,
          server_name: Optional[str], **limits: Any) -> None:
    """Run the chat server until Ctrl-C or SIGTERM (SIGHUP, with TLS: read the
    certificate and key again)."""
    from selchat.serving import Ports, Sharing, listen_and_serve, log_to_stderr

    if print_config:
        shown = {} if bus is None else {"bus": _masked(bus)}
        if limits.get("server_password"):  # never printed, as the bus's password
            shown["server_password"] = "***"
        click.echo(config.effective(ctx, shown, skip={"print_config"}), nl=False)
        return
    if workers != 1 and bus is None:
        raise click.UsageError(
            "--workers needs --bus: without a shared bus each worker would be a separate room",
            ctx)
    certificates = _certificates(ctx, tls_cert, tls_key, no_clear)
    workers = workers or os.cpu_count() or 1
    log_to_stderr(log_level)
    limits["max_clients"] = fit_max_clients(limits["max_clients"])
    # Where to listen, and whether a busy default port is only a warning.
    ports = Ports(host, None if no_clear else port, None if no_web else web_port,
                  _default(ctx, "web_port"), tls_port, None if no_irc else irc_port,
                  _default(ctx, "irc_port"), ircs_port, _default(ctx, "ircs_port"), server_name)
    shared = [] if bus is None else [f"selchat shares its room through {bus.display()}"]
    try:
        storage = Storage.open(data, no_data, bus is not None, retention_days, history_max_mb)
        accounts = account_options(limits, storage.path)
    except DataProblem as exc:
        fail(str(exc), 2)
    shared += filter(None, [storage.startup_line])
    sharing = Sharing(bus, bus_retention, bus_lease, bus_max_bytes, tuple(trusted_proxy),
                      storage, accounts)
    listen_and_serve(ports, certificates, workers, log_level, limits, (web_origin, web_host),
                     sharing, shared)


def _default(ctx: click.Context, option: str) -> bool:
    return ctx.get_parameter_source(option) is ParameterSource.DEFAULT


def _certificates(ctx: click.Context, cert: Optional[str], key: Optional[str],
                  no_clear: bool) -> "Optional[Certificates]":
    """The TLS certificate and key read (None: no TLS); a bad one exits 2."""
    from selchat.tls import CertificateProblem, Certificates

    if (cert is None) != (key is None):
        raise click.UsageError("--tls-cert and --tls-key go together", ctx)
    if cert is None or key is None:
        if no_clear:
            raise click.UsageError("--no-clear needs TLS (--tls-cert and --tls-key)", ctx)
        return None
    try:
        return Certificates(cert, key)
    except CertificateProblem as exc:
        fail(str(exc), 2)
        raise  # not reached: fail exits


def _masked(bus: BusAddress) -> str:
    """The bus URL with its password, if any, as ***."""
    password = "" if bus.password is None else ":***@"
    return f"redis://{password}{format_address(bus.host, bus.port)}/{bus.db}"


@cli.command()
@click.argument("name")
@_address_options(1, "The server's TCP port.",
                  "The server's host name or address (IPv6 brackets optional: [::1]).")
@_option("--no-color", is_flag=True,
         help="No colours (also when NO_COLOR is set, or output is not a terminal).")
@_option("--timestamps", is_flag=True,
         help="Show the time (HH:MM, local) of each line: when the server sent it, if it says.")
@_option("--resume-window", default=120.0, type=click.FloatRange(0),  # session.RESUME_WINDOW
         help="Seconds to go on reconnecting after a lost connection (0: never).")
@_option("--welcome-timeout", default=60.0, type=click.FloatRange(0, min_open=True),
         help="Seconds a server that accepted the connection has to welcome you.")
@_option("--tls", is_flag=True,
         help="Speak TLS (the server's --tls-port), checking its certificate against the "
              "system's CA store, or --ca.")
@_option("--ca", default=None, metavar="FILE",
         help="PEM certificate(s) of the CA that signed the server's certificate.")
@_option("--insecure", is_flag=True,
         help="With --tls, accept any certificate (a test server): anyone between you "
              "and the server could read and change the chat.")
@_option("--default-room", default="lobby",  # session.DEFAULT_ROOM
         help="The server's default room (its --default-room): the prompt names any other.")
@_option("--server-password", default=None, metavar="PASSWORD",
         help="The server's --server-password, sent first (better in SELCHAT_SERVER_PASSWORD).")
def join(name: str, host: str, port: int, no_color: bool, timestamps: bool,
         resume_window: float, welcome_timeout: float, tls: bool, ca: Optional[str],
         insecure: bool, default_room: str, server_password: Optional[str]) -> None:
    """Join the chat as NAME (type /help once in).

    NAME is 1-32 letters or digits, '_', '-' or '.', with at least one letter
    or digit, not taken (ignoring case), and not a look-alike of a name in use.

    In a terminal, lines arrive above the line you are typing. Private
    messages, /me actions, notices, errors, your own lines and lines naming
    you each look different. Leave with /quit (or /q), q alone, Ctrl-D on an
    empty line, or Ctrl-C. Through a pipe, every input line is sent as it is
    (even q) until the input ends, and lines come out plain.

    If the connection is lost (not a shutdown), the client reconnects for
    --resume-window seconds and takes the session back: the lines missed
    are shown, nothing is lost. If the server cannot fill the gap, it says
    so and the client joins again as NAME. The session's resume token is
    kept in $XDG_STATE_HOME/selchat (~/.local/state/selchat), so a client
    that crashed, started again with the same NAME, takes its session back.

    A registered NAME takes its password: SELCHAT_PASSWORD, or typed without
    echo when the server asks for it (docs/accounts.rst).

    \b
    Editing keys:
      Left/Right, Ctrl-B/Ctrl-F     one character
      Alt-B/Alt-F, Ctrl-Left/Right  one word
      Home/End, Ctrl-A/Ctrl-E       start or end of the line
      Backspace, Delete, Ctrl-D     delete a character
      Ctrl-W                        delete the word before the cursor
      Ctrl-U / Ctrl-K               delete to the start / to the end
      Up/Down, Ctrl-P/Ctrl-N        lines sent before (to fix and send again)
      Ctrl-L                        clear the screen and redraw

    \b
    Exit status:
      0  you left
      1  no connection, connection lost (for good), server shut down, full
         or silent
      2  name refused, or bad options
    """
    from selchat.client import run
    from selchat.tls import client_context

    if (ca or insecure) and not tls:
        raise click.UsageError("--ca and --insecure go with --tls")
    try:
        context = client_context(ca, insecure) if tls else None
    except OSError as exc:  # an unreadable --ca (ssl.SSLError: not PEM)
        fail(f"{ca}: cannot use it as a CA: {getattr(exc, 'reason', None) or os_problem(exc)}", 2)
    sys.exit(run(name, host, port, no_colour=no_color, timestamps=timestamps,
                 resume_window=resume_window, welcome_timeout=welcome_timeout, tls=context,
                 default_room=default_room, server_password=server_password))


cli.add_command(admin)


def main() -> None:
    try:
        status = cli.main(standalone_mode=False)
    except click.UsageError as exc:
        if type(exc).__name__ == "NoArgsIsHelpError":  # bare `selchat`: click shows the help
            exc.show()
            sys.exit(exc.exit_code)
        fail(_usage_problem(exc), exc.exit_code)
    except click.ClickException as exc:
        fail(exc.format_message(), exc.exit_code)
    except (click.Abort, KeyboardInterrupt):  # Ctrl-C before the server or client took over
        sys.exit(130)
    sys.exit(status if isinstance(status, int) else 0)


def _usage_problem(exc: click.UsageError) -> str:
    """Click's message as one line, and where to read more."""
    words = exc.format_message().rstrip(".")
    if not words[1:2].isupper():  # "Invalid value" reads on in lower case; "TLS" stays
        words = words[:1].lower() + words[1:]
    return f"{words} (see '{exc.ctx.command_path} -h')" if exc.ctx else words
