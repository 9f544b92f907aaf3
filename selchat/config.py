"""``selchat serve --config FILE``: the options of a command, from a TOML file.

A key is an option's long name without its dashes, written with dashes or
underscores (``max-clients = 100`` or ``max_clients = 100``); the value has the
option's type: an integer, a float (an integer will do), a string, a boolean for
a flag (``no-web = true``), an array of strings for a repeatable option
(``web-origin = ["https://a.example"]``). The file's values become click's
`default_map`, so the order of precedence is click's own and exact: the command
line, then the environment (``SELCHAT_*``), then the file, then the default.

This module reads and checks the file only: an unknown key, a key given twice
(in both spellings), a value of the wrong type or an unreadable file is a
`ConfigError` naming the file and the key. Ranges and choices are checked by
the options themselves, whose error then names the key in the file (cli's
`_Option.get_error_hint`).
"""
import sys
from typing import Any, Dict, Iterable, Mapping, Tuple

import click

from selchat.addresses import os_problem

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10: the same parser, as a package
    import tomli as tomllib


class ConfigError(click.ClickException):
    """A configuration file that cannot be used: one line, exit status 2 (as a bad option)."""

    exit_code = 2


#: What ctx.meta holds for the file read: (path, {parameter name: key as written}).
META_KEY = "selchat.config"


def key_of(param: click.Parameter) -> str:
    """The file's key for an option: its long name without the dashes."""
    longest = max(getattr(param, "opts", []), key=len, default=param.name or "")
    return longest.lstrip("-")


def read(path: str, params: Iterable[click.Parameter]) -> Tuple[Dict[str, Any], Dict[str, str]]:
    """The file's values by parameter name (a `default_map`), and the key each
    was written as; ConfigError for anything that is not right."""
    try:
        with open(path, "rb") as file:
            document = tomllib.load(file)
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {os_problem(exc)}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"config file {path}: not TOML: {exc}") from None
    by_key = {key_of(param): param for param in params if param.name}
    values: Dict[str, Any] = {}
    written: Dict[str, str] = {}
    for key, value in document.items():
        param = by_key.get(key.replace("_", "-"))
        if param is None or param.name is None:
            raise ConfigError(f"config file {path}: unknown key {key!r} "
                              "(keys are the options of 'selchat serve -h', without '--')")
        if param.name in values:
            raise ConfigError(f"config file {path}: {key} is given twice "
                              f"(as {written[param.name]} too)")
        problem = _type_problem(param, value)
        if problem:
            raise ConfigError(f"config file {path}: {key}: {problem}")
        values[param.name] = value
        written[param.name] = key
    return values, written


def _type_problem(param: click.Parameter, value: object) -> str:
    """Why `value` cannot be `param`'s ("" if it can): TOML's types, not strings."""
    if getattr(param, "multiple", False):
        if not isinstance(value, list) or not all(isinstance(each, str) for each in value):
            return "an array of strings is expected"
        return ""
    if getattr(param, "is_flag", False):
        return "" if isinstance(value, bool) else "true or false is expected"
    if isinstance(value, bool):  # a bool is an int to Python, not to TOML
        return "a boolean is not expected"
    if isinstance(param.type, click.types.IntParamType):
        return "" if isinstance(value, int) else "an integer is expected"
    if isinstance(param.type, click.types.FloatParamType):
        return "" if isinstance(value, (int, float)) else "a number is expected"
    return "" if isinstance(value, str) else "a string is expected"


def error_hint(ctx: click.Context, name: str) -> str:
    """Where a bad value from the file came from, for the option's error."""
    path, written = ctx.meta[META_KEY]
    return f"{written[name]} in {path}"


def effective(ctx: click.Context, shown: Mapping[str, str], skip: Iterable[str] = ()) -> str:
    """The settings `ctx` runs with, as TOML a file could hold, each with where
    it came from. `shown`: values to print in place of the real ones (secrets);
    `skip`: parameters that are no settings."""
    sources = {
        click.core.ParameterSource.COMMANDLINE: "command line",
        click.core.ParameterSource.ENVIRONMENT: "environment",
        click.core.ParameterSource.DEFAULT_MAP: "config file",
        click.core.ParameterSource.DEFAULT: "default",
    }
    lines = []
    for param in ctx.command.params:
        name = param.name
        if name is None or name in skip or name not in ctx.params:
            continue
        value = shown.get(name, ctx.params[name])
        source = ctx.get_parameter_source(name)
        where = sources.get(source, "default") if source is not None else "default"
        envvar = getattr(param, "envvar", None)
        if source is click.core.ParameterSource.ENVIRONMENT and isinstance(envvar, str):
            where = envvar
        if value is None:  # TOML has no null
            lines.append(f"# {key_of(param)} is not set  # {where}")
        else:
            lines.append(f"{key_of(param)} = {_toml(value)}  # {where}")
    return "\n".join(lines) + "\n"


def _toml(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml(each) for each in value) + "]"
    text = str(value).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{text}"'
