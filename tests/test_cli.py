"""The installed `selchat` command, as a user runs it."""
import os
import shutil
import signal
import socket
import subprocess
import sys

from conftest import TIMEOUT, LineClient, _readline_with_deadline

SELCHAT = shutil.which("selchat", path=os.path.dirname(sys.executable)) or shutil.which("selchat")


def run(*args, env=None, timeout=TIMEOUT):
    return subprocess.run([SELCHAT, *args], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})})


def test_console_script_is_installed():
    assert SELCHAT, "the selchat console script is not on PATH"
    assert "serve" in run("--help").stdout


def test_installed_serve_end_to_end():
    proc = subprocess.Popen([SELCHAT, "serve", "--port", "0"], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL)
    try:
        line = _readline_with_deadline(proc.stdout, TIMEOUT).decode()
        assert line.startswith("selchat listening on 127.0.0.1:")
        port = int(line.rsplit(":", 1)[1])
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


def test_port_in_use_is_one_line_and_status_1():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run("serve", "--port", str(port))
    assert result.returncode == 1
    assert result.stderr == f"selchat: cannot listen on 127.0.0.1 port {port}: address already in use\n"


def test_environment_sets_defaults():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run("serve", env={"SELCHAT_PORT": str(port)})
    assert result.returncode == 1 and f"port {port}" in result.stderr


def test_bad_option_is_a_usage_error():
    result = run("serve", "--port", "99999")
    assert result.returncode == 2 and "Traceback" not in result.stderr


def test_python_dash_m():
    result = subprocess.run([sys.executable, "-m", "selchat", "--version"], capture_output=True,
                            text=True, timeout=TIMEOUT)
    assert result.returncode == 0 and "selchat" in result.stdout
