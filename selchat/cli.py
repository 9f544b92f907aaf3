"""The ``selchat`` command: ``serve`` and ``join``.

Options only: this module parses them (every option also reads a ``SELCHAT_*``
environment variable), sets up logging, and turns startup failures into one
line on stderr and a non-zero exit status. The work happens elsewhere.
"""
import errno
import logging
import sys
from typing import Any, Callable

import click

from selchat import __version__
from selchat.fdlimit import fit_max_clients
from selchat.limits import Limits

DEFAULTS = Limits()
LOG_LEVELS = ("debug", "info", "warning", "error")


def _option(name: str, **kwargs: Any) -> Callable:
    """A click option that also reads SELCHAT_<NAME> and shows its default."""
    envvar = "SELCHAT_" + name.lstrip("-").replace("-", "_").upper()
    return click.option(name, envvar=envvar, show_default=True, show_envvar=True, **kwargs)


def _address_options(lowest_port: int, port_help: str, host_help: str) -> Callable:
    def decorate(command: Callable) -> Callable:
        command = _option("--port", default=4000, type=click.IntRange(lowest_port, 65535),
                          help=port_help)(command)
        return _option("--host", default="127.0.0.1", help=host_help)(command)
    return decorate


def fail(message: str, status: int = 1) -> None:
    """One line for people, no traceback."""
    click.echo(f"selchat: {message}", err=True)
    sys.exit(status)


@click.group()
@click.version_option(__version__, prog_name="selchat")
def cli() -> None:
    """A single-threaded chat server and its terminal client."""


@cli.command()
@_address_options(0, "TCP port to listen on (0: any free port).",
                  "Address to listen on: IPv4 or IPv6 (:: for every address).")
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
         help="Lines a client may send at once.")
@_option("--flood-rate", default=DEFAULTS.flood_rate, type=click.FloatRange(0),
         help="Lines per second a client may send after its burst (0: no limit).")
@_option("--name-timeout", default=DEFAULTS.name_timeout, type=click.FloatRange(0, min_open=True),
         help="Seconds a new connection has to choose a name.")
@_option("--max-clients", default=DEFAULTS.max_clients, type=click.IntRange(1),
         help="Connections held at once, named or not.")
@_option("--max-per-ip", default=DEFAULTS.max_per_ip, type=click.IntRange(0),
         help="Connections from one address that have not chosen a name yet "
              "(loopback too; 0: no limit).")
def serve(host: str, port: int, log_level: str, **limits: Any) -> None:
    """Run the chat server until Ctrl-C or SIGTERM."""
    from selchat.server import Server, open_listener

    logging.basicConfig(
        level=log_level.upper(), stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    limits["max_clients"] = fit_max_clients(limits["max_clients"])
    try:
        listener = open_listener(host, port)
    except OSError as exc:
        reason = "address already in use" if exc.errno == errno.EADDRINUSE else exc.strerror
        fail(f"cannot listen on {host} port {port}: {reason or exc}")
    server = Server(listener, Limits(**limits))

    def announce() -> None:
        click.echo(f"selchat listening on {server.address}")
        sys.stdout.flush()

    server.serve_forever(ready=announce)


@cli.command()
@click.argument("name")
@_address_options(1, "The server's TCP port.", "The server's host name or address.")
@_option("--no-color", is_flag=True,
         help="No colours (also when NO_COLOR is set, or output is not a terminal).")
@_option("--timestamps", is_flag=True, help="Show the local time (HH:MM) of each line.")
def join(name: str, host: str, port: int, no_color: bool, timestamps: bool) -> None:
    """Join the chat as NAME (type /help once in).

    NAME is 1-32 letters or digits, '_', '-' or '.', with at least one letter
    or digit, not taken (ignoring case), and not a look-alike of a name in use.

    In a terminal, lines arrive above the line you are typing. Private
    messages, /me actions, notices, errors, your own lines and lines naming
    you each look different. Leave with /quit (or /q), q alone, Ctrl-D on an
    empty line, or Ctrl-C. Through a pipe, every input line is sent as it is
    (even q) until the input ends, and lines come out plain.

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
      1  no connection, connection lost, server shut down or full
      2  name refused, or bad options
    """
    from selchat.client import run

    sys.exit(run(name, host, port, no_colour=no_color, timestamps=timestamps))


def main() -> None:
    try:
        cli()
    except KeyboardInterrupt:  # Ctrl-C before the server or client took over
        sys.exit(130)
