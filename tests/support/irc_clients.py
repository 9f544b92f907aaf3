"""Real IRC clients for the tests: Debian's ``ii`` driven through its files,
and a pump for the ``irc`` library's reactor.

``ii`` keeps one directory per server and per channel, each with an ``in``
FIFO (what is written there is said, or is a command such as ``/j #dev``)
and an ``out`` file (every line it got, after a time stamp). Without ``ii``
a test is skipped, unless ``SELCHAT_REQUIRE_IRC_CLIENTS=1`` (CI installs
it), which makes its absence a failure.
"""
import errno
import os
import re
import shutil
import signal
import subprocess
from pathlib import Path
from typing import Callable, List

import pytest

from support.constants import TIMEOUT
from support.waiting import wait_for


def require_program(name: str, package: str) -> str:
    """The path of `name`, or a skip (a failure with SELCHAT_REQUIRE_IRC_CLIENTS=1)."""
    path = shutil.which(name)
    if path is None:
        why = f"{name} not installed (apt-get install {package})"
        if os.environ.get("SELCHAT_REQUIRE_IRC_CLIENTS") == "1":
            pytest.fail(why + "; SELCHAT_REQUIRE_IRC_CLIENTS=1")
        pytest.skip(why)
    return path


class Ii:
    """One ``ii`` process as nick `nick`, its tree under `folder`."""

    def __init__(self, folder: Path, port: int, nick: str) -> None:
        program = require_program("ii", "ii")
        self.root = folder / "127.0.0.1"
        self.proc = subprocess.Popen([program, "-s", "127.0.0.1", "-p", str(port), "-n", nick,
                                      "-i", str(folder)], stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def write(self, where: str, line: str) -> None:
        """`line` into the ``in`` FIFO of `where` ("" for the server, "#dev"...),
        once ii has made it and reads it."""
        path = self.root / where / "in"

        def opened() -> int:
            try:
                return os.open(path, os.O_WRONLY | os.O_NONBLOCK)
            except OSError as exc:  # not made yet, or not yet read (ENXIO)
                if exc.errno not in (errno.ENOENT, errno.ENXIO):
                    raise
                return 0
        fd = wait_for(opened)
        try:
            os.write(fd, line.encode() + b"\n")
        finally:
            os.close(fd)

    def lines(self, where: str) -> List[str]:
        """What ``out`` of `where` holds so far, time stamps cut off."""
        try:
            text = (self.root / where / "out").read_text(errors="replace")
        except FileNotFoundError:
            return []
        return [line.split(" ", 1)[-1] for line in text.splitlines()]

    def expect(self, where: str, pattern: str) -> str:
        """The first line in `where`'s ``out`` matching regex `pattern`."""
        def found() -> str:
            return next((line for line in self.lines(where) if re.search(pattern, line)), "")
        try:
            return wait_for(found)
        except AssertionError:
            raise AssertionError(f"no {pattern!r} in {where or 'the server'}'s out: "
                                 f"{self.lines(where)[-10:]}") from None

    def quit(self) -> int:
        """/q, and its exit status (ii ends when the server closes the link)."""
        self.write("", "/q")
        return self.proc.wait(TIMEOUT)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(TIMEOUT)


def pump(reactor, until: Callable[[], object], timeout: float = TIMEOUT):
    """Run the ``irc`` library's `reactor` until `until()` is truthy (its value)."""
    return wait_for(lambda: reactor.process_once(0.05) or until(), timeout, interval=0)
