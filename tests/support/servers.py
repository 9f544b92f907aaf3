"""Processes the tests start: `selchat serve` (or any server that says where it
listens), and the installed `selchat` command."""
import os
import re
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from typing import List, Optional

import psutil

from support.constants import TIMEOUT

#: What every server the tests start prints once it listens (selchat, and the bench's
#: peers: "threaded listening on 127.0.0.1:PORT"); selchat's web page line.
LISTENING = re.compile(rb"listening on \[?([^\]\s]+)\]?:(\d+)\s*$")
WEB_PAGE = re.compile(rb"selchat web page on (https?://\S+:(\d+)/)\s*$")
#: With TLS (--tls-cert): where the line protocol over TLS listens.
TLS_ON = re.compile(rb"selchat TLS on \[?([^\]\s]+)\]?:(\d+)\s*$")
#: With --irc-port: where IRC clients connect.
IRC_ON = re.compile(rb"selchat IRC on \[?([^\]\s]+)\]?:(\d+)\s*$")
#: With TLS and --ircs-port: where IRC clients connect over TLS.
IRCS_ON = re.compile(rb"selchat IRC over TLS on \[?([^\]\s]+)\]?:(\d+)\s*$")


class ServerNotStarted(RuntimeError):
    """The server exited, or did not print its address(es) in time."""


class ServerProcess:
    """`python -m selchat serve` on 127.0.0.1 and a free port, or any `command` that
    prints "... listening on HOST:PORT"; the one way tests start a server.

    With `web`, also waits for selchat's "selchat web page on URL" line (`url`,
    `web_port`). Stdout is read unbuffered, so lines that arrive together are
    all seen; stderr goes to a file, `log()`.
    """

    def __init__(self, *args: str, env: Optional[dict] = None, preexec_fn=None,
                 host: str = "127.0.0.1", port: int = 0, web: bool = False,
                 log_level: str = "debug", command: Optional[List[str]] = None) -> None:
        if command is None:
            # No web page unless a test asks for one (web, or a --web option): its
            # default port is the same for every server, and most tests speak TCP.
            web = web or any(arg.startswith("--web") for arg in args)
            extra = [] if web else ["--no-web"]
            if "--web-port" not in args and web:
                extra += ["--web-port", "0"]
            # No history replay unless asked for either: tests assert the exact
            # lines after a welcome, and the replay's are tested on their own.
            if "--replay" not in args:
                extra += ["--replay", "0"]
            # Nothing on disk unless asked for (--data): a test about something
            # else needs no database, and two servers of one test would share
            # its XDG_STATE_HOME's data directory (the second one refused).
            if "--data" not in args and "SELCHAT_DATA" not in (env or {}):
                extra += ["--no-data"]
            # No IRC port unless asked for (--irc-port): its default, 6667, is
            # every server's, and maybe another IRC server's on this machine.
            if not any(arg.startswith("--irc") for arg in args):
                extra += ["--no-irc"]
            command = [sys.executable, "-m", "selchat", "serve", "--host", host,
                       "--port", str(port), "--log-level", log_level, *extra, *args]
        # stderr goes to a file: a pipe nobody drains would block a chatty server.
        self._log = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=self._log, stdin=subprocess.DEVNULL,
            env=_environment(args, env), preexec_fn=child_setup(preexec_fn),
        )
        self.url: Optional[str] = None
        self.web_port: Optional[int] = None
        self.tls_port: Optional[int] = None
        self.irc_port: Optional[int] = None
        self.ircs_port: Optional[int] = None
        try:
            self.port = self._wait_for_addresses(web, "--irc-port" in (command or []))
        except BaseException:
            self.stop(signal.SIGKILL)
            raise
        self.host = host.strip("[]")
        self.address = (self.host, self.port)

    def _wait_for_addresses(self, web: bool, irc: bool = False) -> int:
        port, pending = None, b""
        fd, deadline = self.proc.stdout.fileno(), time.monotonic() + TIMEOUT
        with selectors.DefaultSelector() as sel:
            sel.register(fd, selectors.EVENT_READ)
            ircs = "--ircs-port" in self.proc.args
            while (port is None and self.tls_port is None) or (web and self.url is None) \
                    or (irc and self.irc_port is None) or (ircs and self.ircs_port is None):
                if not sel.select(max(0.0, deadline - time.monotonic())):
                    raise ServerNotStarted(f"no address within {TIMEOUT} s: {self.log()[-2000:]}")
                data = os.read(fd, 4096)
                if not data:
                    raise ServerNotStarted(f"exited: {self.log()[-2000:]}")
                *lines, pending = (pending + data).split(b"\n")
                for line in lines:
                    listening, page = LISTENING.search(line), WEB_PAGE.search(line)
                    tls, irc_on = TLS_ON.search(line), IRC_ON.search(line)
                    ircs_on = IRCS_ON.search(line)
                    if ircs_on:
                        self.ircs_port = int(ircs_on.group(2))
                    elif irc_on:
                        self.irc_port = int(irc_on.group(2))
                    elif listening and port is None:
                        port = int(listening.group(2))
                    elif tls:
                        self.tls_port = int(tls.group(2))
                    elif page:
                        self.url, self.web_port = page.group(1).decode(), int(page.group(2))
        return port if port is not None else self.tls_port  # --no-clear: the TLS port

    def stop(self, sig: int = signal.SIGTERM) -> int:
        """Signal the server and wait for it to exit; returns its status."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(TIMEOUT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(TIMEOUT)
            raise
        finally:
            self.proc.stdout.close()

    def log(self) -> str:
        """Everything the server wrote to stderr so far."""
        self._log.seek(0)
        return self._log.read().decode(errors="replace")


def _environment(args, env: Optional[dict]) -> dict:
    """The server's environment: the run's, with `env`; a server asked for an
    IRC port (``--irc-port``) does not inherit the run's ``SELCHAT_NO_IRC``."""
    environment = {**os.environ, **(env or {})}
    if any(arg.startswith("--irc-port") for arg in args):
        environment.pop("SELCHAT_NO_IRC", None)
    return environment


def default_sigint() -> None:
    """In the child before exec: SIGINT back to its default.

    A test run started in the background (``cmd &`` in a script, nohup, some
    CI runners) has SIGINT ignored, and a server or client rightly keeps a
    signal it inherited as ignored: Ctrl-C tests would then wait for nothing.
    """
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def child_setup(then=None):
    """In the child before exec: `default_sigint`, then `then()`."""
    def setup() -> None:
        default_sigint()
        if then is not None:
            then()
    return setup


def process(server: ServerProcess) -> psutil.Process:
    """The server's process, to read its memory, descriptors and CPU."""
    return psutil.Process(server.proc.pid)


#: The installed console script (next to this Python first).
SELCHAT = shutil.which("selchat", path=os.path.dirname(sys.executable)) or shutil.which("selchat")


def selchat(*args, env=None):
    """`selchat ARGS` with no SELCHAT_* variable but those in `env`."""
    clean_env = {k: v for k, v in os.environ.items() if not k.startswith("SELCHAT_")}
    return subprocess.run([SELCHAT, *args], capture_output=True, text=True, timeout=TIMEOUT,
                          env={**clean_env, **(env or {})})

