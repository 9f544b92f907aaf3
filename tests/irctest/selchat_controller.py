"""irctest's server controller for selchat (see docs/irctest.rst).

irctest (github.com/progval/irctest) is not part of this project and CI does
not run it: clone it beside the repository and give it this module::

    PYTHONPATH=/path/to/selchat/tests/irctest \
        python -m pytest --controller selchat_controller irctest/server_tests/join.py

irctest calls `SelchatController.run` once per test with the host and port
the IRC port must take; the controller starts ``selchat serve`` there (its
chat port on a free port, no web page) and irctest waits for the port itself,
then `kill` stops the process group and removes the temporary directory.

What the controller chooses for selchat, and why:

* flood control off (``--flood-rate 0``) and no per-address limit: irctest
  opens a dozen connections from one address and sends bursts, as every
  server's controller in irctest turns fake lag off;
* ``--server-name My.Little.Server``, the name irctest's other controllers
  give their servers;
* ``--replay 0``: a test expects exactly the lines it provoked after a JOIN;
* ``XDG_STATE_HOME`` and the data directory (``--data``, accounts and room
  rules) in the test's own directory, so nothing lands in $HOME; scrypt at
  its cheapest cost (``--scrypt-n 1024``): tests need the rules, not the strength;
* no minimum password length (``--min-password-length 1``; selchat's default is
  8): irctest's accounts have passwords of 6 characters (``sesame``) and even 3
  (``bar``), and its tests are of SASL, not of the password rule;
* irctest's server password as ``--server-password``;
* "services" are selchat itself: `registerUser` registers a name the way a
  person does, over the line protocol (its name, then ``/register PASSWORD``),
  so SASL PLAIN can log in as it;
* a server operator for OPER: the account ``operuser`` with the password
  ``operpassword``, the name and password every controller in irctest
  configures (their O-lines), given the role as ``selchat admin op`` does, in
  the data directory before the server starts (`seed_operator`).

Features selchat's IRC port does not have raise `NotImplementedByController`,
which irctest reports as a skip: IRC over TLS and WebSocket.
"""
import atexit
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Optional, Set, Type

from irctest.basecontrollers import BaseServerController, DirectoryBasedController
from irctest.runner import NotImplementedByController

#: The repository this module lives in: ``python -m selchat`` runs from it.
REPO = Path(__file__).resolve().parents[2]
SERVER_NAME = "My.Little.Server"
#: The operator irctest's tests give OPER (who.py: ``OPER operuser operpassword``).
OPER_NAME, OPER_PASSWORD = "operuser", "operpassword"
#: The accounts file with that operator, made once per irctest run and
#: copied into each test's data directory (a Python start per test is slow).
_seeded: Optional[Path] = None


def selchat_python() -> str:
    """The Python that has selchat's dependencies: $SELCHAT_PYTHON, else the
    repository's .venv, else the one running irctest."""
    chosen = os.environ.get("SELCHAT_PYTHON")
    if chosen:
        return chosen
    venv = REPO / ".venv" / "bin" / "python"
    return str(venv) if venv.exists() else sys.executable


class SelchatController(BaseServerController, DirectoryBasedController):
    software_name = "selchat"
    supported_sasl_mechanisms: Set[str] = {"PLAIN"}
    chat_port = 0
    server_password: Optional[str] = None
    supports_sts = False

    def run(
        self,
        hostname: str,
        port: int,
        *,
        password: Optional[str],
        ssl: bool,
        run_services: bool,
        faketime: Optional[str],
        websocket_hostname: Optional[str],
        websocket_port: Optional[int],
    ) -> None:
        for wanted, feature in ((ssl, "IRC over TLS"),
                                (websocket_hostname or websocket_port, "WebSocket")):
            if wanted:
                raise NotImplementedByController(feature)
        assert self.proc is None
        self.hostname, self.port = hostname, port
        self.create_config()
        assert self.directory
        env = {**os.environ, "XDG_STATE_HOME": str(self.directory),
               "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO),
                                                           os.environ.get("PYTHONPATH")]))}
        env = {k: v for k, v in env.items() if not k.startswith("SELCHAT_")}
        self.chat_port, self.server_password = free_port(hostname), password
        seed_operator(self.directory / "data")
        self.proc = self.execute(
            [selchat_python(), "-m", "selchat", "serve", "--host", hostname,
             "--port", str(self.chat_port),
             "--no-web", "--irc-port", str(port), "--server-name", SERVER_NAME,
             "--flood-rate", "0", "--max-per-ip", "0", "--replay", "0",
             "--data", str(self.directory / "data"), "--scrypt-n", "1024",
             "--min-password-length", "1",
             *(["--server-password", password] if password else []),
             "--log-level", "debug" if self.debug_mode else "warning"],
            env=env,
        )

    def wait_for_services(self) -> None:
        """No services to wait for: accounts are selchat's own."""

    def registerUser(self, case: Any, username: str, password: Optional[str] = None) -> None:
        """`username` registered with `password`, as a person does it: over
        the line protocol, its name, then ``/register PASSWORD``."""
        assert password and self.hostname
        deadline = time.monotonic() + 10
        with self._chat_connection(deadline) as sock:
            lines = [*([self.server_password] if self.server_password else []), username,
                     f"/register {password}"]
            sock.sendall("".join(line + "\n" for line in lines).encode())
            got = b""
            while b" is registered to you" not in got:
                if time.monotonic() > deadline:
                    raise AssertionError(f"not registered: {got[-200:]!r}")
                chunk = sock.recv(4096)
                if not chunk:
                    raise AssertionError(f"closed before registering: {got[-200:]!r}")
                got += chunk
            sock.sendall(b"/quit\n")

    def _chat_connection(self, deadline: float) -> socket.socket:
        """The chat port, once the server is listening (irctest may ask first)."""
        assert self.hostname
        while True:
            try:
                return socket.create_connection((self.hostname, self.chat_port), timeout=10)
            except ConnectionRefusedError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)  # the server is starting: a real client would retry too


#: Run by selchat's Python: the operator's account, as /register and
#: ``selchat admin op`` would leave it in DATA/accounts.sqlite3 (argv[1]).
_SEED = """
import os, sys
from selchat.accounts.authority import Account
from selchat.accounts.passwords import MIN_N, make_hash
from selchat.accounts.store import Store
from selchat.names import name_key
store = Store(sys.argv[1])
store.write("account", name_key(sys.argv[2]),
            Account(sys.argv[2], make_hash(sys.argv[3], os.urandom(16), MIN_N), operator=True))
store.close()
"""


def seed_operator(data: Path) -> None:
    """`data` (a data directory to be) holds the operator irctest OPERs as."""
    global _seeded
    if _seeded is None or not _seeded.exists():
        made = Path(tempfile.mkdtemp(prefix="selchat-irctest-oper-"))
        atexit.register(shutil.rmtree, made, True)
        subprocess.run([selchat_python(), "-c", _SEED, str(made), OPER_NAME, OPER_PASSWORD],
                       check=True, env={**os.environ, "PYTHONPATH": str(REPO)}, timeout=60)
        _seeded = made / "accounts.sqlite3"
    data.mkdir(mode=0o700, parents=True, exist_ok=True)
    shutil.copyfile(_seeded, data / "accounts.sqlite3")


def free_port(hostname: str) -> int:
    """A port free on `hostname` now (selchat takes it a moment later)."""
    with socket.socket() as sock:
        sock.bind((hostname, 0))
        return int(sock.getsockname()[1])


def get_irctest_controller_class() -> Type[SelchatController]:
    return SelchatController
