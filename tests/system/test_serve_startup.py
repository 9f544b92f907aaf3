"""What `selchat serve` prints when it starts: a join hint that works as typed in
a new shell, and a word when the default web port is taken."""
import errno
import os
import shutil
import socket
import subprocess
import sys

import pytest

from support.constants import TIMEOUT
from support.waiting import readline_with_deadline
from selchat.cli import DEFAULT_WEB_PORT

SELCHAT = shutil.which("selchat", path=os.path.dirname(sys.executable)) or shutil.which("selchat")
BIN = os.path.dirname(SELCHAT or sys.executable)


def startup_lines(command, env):
    """The lines up to "stop with Ctrl-C", then the server is stopped."""
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            env=env)
    try:
        lines = [readline_with_deadline(proc.stdout, TIMEOUT).decode()]
        while lines[-1] not in ("stop with Ctrl-C\n", ""):
            lines.append(proc.stdout.readline().decode())
        return lines
    finally:
        proc.terminate()
        proc.wait(TIMEOUT)
        proc.stdout.close()


def env_with_path(path: str) -> dict:
    return {k: v for k, v in os.environ.items() if not k.startswith("SELCHAT_")} | {"PATH": path}


@pytest.mark.parametrize("on_path, program", [
    (True, "selchat"),
    (False, SELCHAT),  # a venv not activated: the full path
])


def test_the_join_hint_is_the_command_as_typed(on_path, program):
    path = os.pathsep.join([BIN, "/usr/bin:/bin"]) if on_path else "/usr/bin:/bin"
    lines = startup_lines([SELCHAT, "serve", "--port", "0", "--no-web", "--no-data"],
                          env_with_path(path))
    port = lines[0].rstrip().rsplit(":", 1)[1]
    assert lines[1] == f"join with: {program} join NAME --port {port}\n"
    assert shutil.which(program, path=path) == SELCHAT  # what a new shell would run


def test_a_busy_default_web_port_is_said_in_the_startup_lines():
    holder = socket.socket()
    try:
        holder.bind(("127.0.0.1", DEFAULT_WEB_PORT))
        holder.listen()
    except OSError as exc:  # someone else holds it already: busy all the same
        assert exc.errno == errno.EADDRINUSE
    try:
        lines = startup_lines([SELCHAT, "serve", "--port", "0", "--no-data"], env_with_path(BIN))
    finally:
        holder.close()
    assert lines[1] == (f"selchat web page: port {DEFAULT_WEB_PORT} is in use; no web page "
                        "(use --web-port PORT, or --web-port 0 for a free one)\n")
    assert lines[2].startswith("join with: selchat join NAME --port ")
