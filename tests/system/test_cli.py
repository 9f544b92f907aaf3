"""The installed `selchat` command, as a user runs it."""
import os
import re
import signal
import socket
import subprocess
import sys

import pytest
from support.clients import LineClient
from support.constants import TIMEOUT
from support.servers import SELCHAT, selchat
from support.waiting import readline_with_deadline

#: An environment where `selchat` on PATH is SELCHAT, so serve's hint says just "selchat".
ON_PATH = {**os.environ, "PATH": os.pathsep.join([os.path.dirname(SELCHAT or ""),
                                                  os.environ.get("PATH", "")])}


def run(*args, env=None, timeout=TIMEOUT):
    return subprocess.run([SELCHAT, *args], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})})


def test_console_script_is_installed():
    assert SELCHAT, "the selchat console script is not on PATH"
    assert "serve" in run("--help").stdout


def test_installed_serve_end_to_end():
    proc = subprocess.Popen([SELCHAT, "serve", "--port", "0", "--web-port", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=ON_PATH)
    try:
        line = readline_with_deadline(proc.stdout, TIMEOUT).decode()
        assert line.startswith("selchat listening on 127.0.0.1:")
        port = int(line.rsplit(":", 1)[1])
        # One write: the next lines are in the pipe's buffer already (select() would not see them).
        page = proc.stdout.readline().decode()
        assert re.fullmatch(r"selchat web page on http://127\.0\.0\.1:\d+/\n", page), page
        assert proc.stdout.readline().decode().startswith("selchat keeps history in ")
        assert proc.stdout.readline().decode() == f"join with: selchat join NAME --port {port}\n"
        assert proc.stdout.readline().decode() == "stop with Ctrl-C\n"
        logged = readline_with_deadline(proc.stderr, TIMEOUT).decode()
        assert logged.endswith(f" INFO selchat.cli: listening on 127.0.0.1:{port}\n")
        alice = LineClient(("127.0.0.1", port), "alice")
        bob = LineClient(("127.0.0.1", port), "bob")
        alice.expect("*** bob has joined the chat room.")
        bob.send("hi alice")
        alice.expect("<bob> hi alice")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(TIMEOUT) == 0
        alice.close(), bob.close()
    finally:
        proc.kill()
        proc.stdout.close()
        proc.stderr.close()


def test_a_busy_default_web_port_is_a_warning_but_a_chosen_one_an_error():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy = taken.getsockname()[1]
        chosen = selchat("serve", "--port", "0", "--web-port", str(busy))
        assert chosen.returncode == 1
        assert chosen.stderr.splitlines()[-1] == (
            f"selchat: cannot listen on 127.0.0.1 web port {busy}: address already in use "
            "(is another selchat running? try --web-port)")
        env = {"SELCHAT_WEB_PORT": str(busy)}  # a chosen port too, from the environment
        assert selchat("serve", "--port", "0", env=env).returncode == 1


def test_port_in_use_is_one_line_and_status_1():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run("serve", "--port", str(port))
    assert result.returncode == 1
    assert result.stderr == (f"selchat: cannot listen on 127.0.0.1 port {port}: address already "
                             "in use (is another selchat running? try --port)\n")


def test_environment_sets_defaults():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run("serve", env={"SELCHAT_PORT": str(port)})
    assert result.returncode == 1 and f"port {port}" in result.stderr


def test_bad_option_is_one_line_naming_the_option_given():
    result = selchat("serve", "--port", "99999")
    assert result.returncode == 2
    assert result.stderr == ("selchat: invalid value for '--port': 99999 is not in the range "
                             "0<=x<=65535 (see 'selchat serve -h')\n")


def test_bad_environment_value_names_the_variable():
    result = selchat("join", "bob", env={"SELCHAT_PORT": "0"})
    assert result.returncode == 2
    assert result.stderr == ("selchat: invalid value for SELCHAT_PORT (environment variable): "
                             "0 is not in the range 1<=x<=65535 (see 'selchat join -h')\n")


def test_missing_argument_is_one_line():
    result = selchat("join")
    assert (result.returncode, result.stderr) == (
        2, "selchat: missing argument 'NAME' (see 'selchat join -h')\n")


EMPTY_HOST = ("empty; give an address, such as 127.0.0.1 (this machine only), 0.0.0.0 "
              "(every IPv4 address) or :: (every address)")


def test_empty_host_is_refused_as_option_or_variable():
    given = selchat("serve", "--host", "")
    assert (given.returncode, given.stderr) == (
        2, f"selchat: invalid value for '--host': {EMPTY_HOST} (see 'selchat serve -h')\n")
    from_env = selchat("join", "bob", env={"SELCHAT_HOST": ""})
    assert (from_env.returncode, from_env.stderr) == (
        2, f"selchat: invalid value for SELCHAT_HOST (environment variable): {EMPTY_HOST} "
           "(see 'selchat join -h')\n")


def test_unknown_host_is_one_plain_line():
    result = selchat("serve", "--host", "no-such-host.invalid", "--port", "0")
    assert (result.returncode, result.stderr) == (
        1, "selchat: cannot listen on no-such-host.invalid port 0: no such host name\n")


def test_address_not_on_this_machine_is_one_plain_line():
    result = selchat("serve", "--host", "192.0.2.1", "--port", "0")  # TEST-NET-1: never local
    assert (result.returncode, result.stderr) == (
        1, "selchat: cannot listen on 192.0.2.1 port 0: cannot assign requested address "
           "(this machine has no such address; try --host 127.0.0.1)\n")


@pytest.mark.skipif(not socket.has_ipv6, reason="no IPv6")
def test_bracketed_ipv6_host_works_for_serve_and_join():
    proc = subprocess.Popen([SELCHAT, "serve", "--host", "[::1]", "--port", "0",
                             "--web-port", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=ON_PATH)
    try:
        line = readline_with_deadline(proc.stdout, TIMEOUT).decode()
        if not line:
            pytest.skip("cannot listen on ::1 here")
        assert line.startswith("selchat listening on [::1]:")
        port = line.rstrip().rsplit(":", 1)[1]
        assert re.fullmatch(r"selchat web page on http://\[::1\]:\d+/\n",
                            proc.stdout.readline().decode())
        assert proc.stdout.readline().decode().startswith("selchat keeps history in ")
        assert proc.stdout.readline().decode() == (
            f"join with: selchat join NAME --host ::1 --port {port}\n")
        joined = subprocess.run([SELCHAT, "join", "bob", "--host", "[::1]", "--port", port],
                                input="/quit\n", capture_output=True, text=True, timeout=TIMEOUT)
        assert joined.returncode == 0
        assert joined.stdout.startswith("*** Welcome, bob!")
    finally:
        proc.kill()
        proc.wait(TIMEOUT)
        proc.stdout.close()


@pytest.mark.parametrize("args", [["-h"], ["serve", "-h"], ["join", "-h"]])
def test_dash_h_is_help(args):
    short, long = selchat(*args), selchat(*args[:-1], "--help")
    assert short.returncode == 0 and short.stdout == long.stdout
    assert short.stdout.startswith("Usage: ")


def test_python_dash_m():
    result = subprocess.run([sys.executable, "-m", "selchat", "--version"], capture_output=True,
                            text=True, timeout=TIMEOUT)
    assert result.returncode == 0 and "selchat" in result.stdout
