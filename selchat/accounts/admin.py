"""``selchat admin``: server operators, set in the data directory; and the
account options ``serve`` hands the server.

``selchat admin op NAME`` / ``deop NAME`` / ``list`` open the accounts
database of ``--data DIR`` (the default as ``serve``'s) beside a running
server, which reads the change within `selchat.accounts.driver.POLL_SECONDS`.
Errors are one line, exit status 1 (2 for a data directory that cannot be
used).
"""
import sys
from typing import Any, Callable, Dict, Optional

import click

from selchat import datadir
from selchat.accounts.driver import POLL_SECONDS, AccountOptions
from selchat.accounts.authority import MIN_PASSWORD
from selchat.accounts.passwords import DEFAULT_N, MAX_PASSWORD, MIN_N
from selchat.accounts.store import Store
from selchat.names import name_key

#: How long an admin command waits for a running server's write to finish.
ADMIN_BUSY_MS = 2000


def serve_options(option: Callable[..., Callable]) -> Callable[[Callable], Callable]:
    """``serve``'s account options, declared with the command's own `option`
    (which reads SELCHAT_* too)."""
    def declare(command: Callable) -> Callable:
        command = option("--scrypt-n", default=DEFAULT_N, type=click.IntRange(MIN_N),
                         help="scrypt's cost for new password hashes (docs/accounts.rst).",
                         )(command)
        command = option("--min-password-length", default=MIN_PASSWORD,
                         type=click.IntRange(1, MAX_PASSWORD),
                         help="The shortest password /register takes (8: NIST SP 800-63B's "
                              "minimum; lower it only for tests).")(command)
        return option("--server-password", default=None, metavar="PASSWORD",
                      help="A password every client must send before anything else (the "
                           "line protocol's first line, the page's field); better set in "
                           "SELCHAT_SERVER_PASSWORD.")(command)
    return declare


def account_options(limits: Dict[str, Any], path: Optional[str]) -> AccountOptions:
    """``serve``'s account options, taken out of its other options; the
    accounts database is opened once to check it (raises DataProblem)."""
    options = AccountOptions(limits.pop("server_password", None) or "",
                             limits.pop("scrypt_n", DEFAULT_N),
                             limits.pop("min_password_length", MIN_PASSWORD))
    Store(path, ADMIN_BUSY_MS).close()
    return options


def _store(data: Optional[str]) -> Store:
    path = datadir.resolve(data, False)
    assert path is not None
    try:
        return Store(path, ADMIN_BUSY_MS)
    except datadir.DataProblem as exc:
        click.echo(f"selchat: {exc}", err=True)
        sys.exit(2)


_data = click.option("--data", envvar="SELCHAT_DATA", metavar="DIR", default=None,
                     help="The server's data directory [default: $XDG_STATE_HOME/selchat "
                          "or ~/.local/state/selchat].")


@click.group()
def admin() -> None:
    """Server operators: registered names that may kick, ban and mute anywhere
    and set any room's topic and modes. A running server using the same data
    directory sees a change within a few seconds."""


def _set(data: Optional[str], name: str, on: bool) -> None:
    store = _store(data)
    try:
        shown = store.set_operator(name_key(name), on)
    finally:
        store.close()
    if shown is None:
        click.echo(f"selchat: {name} is not registered: its owner sends /register PASSWORD "
                   "first", err=True)
        sys.exit(1)
    what = "a server operator now" if on else "not a server operator any more"
    click.echo(f"{shown} is {what} (a running server sees it within {POLL_SECONDS:g} s)")


@admin.command()
@click.argument("name")
@_data
def op(name: str, data: Optional[str]) -> None:
    """Make the registered NAME a server operator."""
    _set(data, name, True)


@admin.command()
@click.argument("name")
@_data
def deop(name: str, data: Optional[str]) -> None:
    """Take NAME's server operator role away."""
    _set(data, name, False)


@admin.command(name="list")
@_data
def list_operators(data: Optional[str]) -> None:
    """List the server operators."""
    store = _store(data)
    try:
        names = store.operators()
    finally:
        store.close()
    click.echo("\n".join(names) if names else "no server operators")
