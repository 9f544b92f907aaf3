"""Headless Chromium for the page tests: a server with its web page, a terminal
user beside the browser, and the waits every browser test uses.

Debian's ``chromium`` and ``chromium-driver`` through Selenium. Without them a
test is skipped, unless ``SELCHAT_REQUIRE_BROWSER=1`` (CI), which makes their
absence a failure.
"""
import os
import re
import shutil
import socket
import time
from typing import List, Optional, Tuple

import pytest

from support.constants import REPO
from support.servers import ServerProcess

WAIT = 10.0  # every browser wait has this deadline


def web_chat_server(port: int = 0, web_port: int = 0, *args: str) -> ServerProcess:
    """`selchat serve` with its web page; raises ServerNotStarted without both addresses."""
    return ServerProcess("--web-port", str(web_port), *args, port=port, web=True,
                         log_level="info",
                         env={"PYTHONPATH": str(REPO)})


class LineClient:
    """A terminal user, as ``nc`` would be: lines over TCP."""

    def __init__(self, port: int, name: str) -> None:
        """Connected and joined as `name` (the welcome read)."""
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=WAIT)
        self.buf = b""
        self.seen: List[str] = []
        self.expect(r"^\*\*\* Hello")
        self.send(name)
        self.expect(rf"^\*\*\* Welcome, {name}!")

    def send(self, line: str) -> None:
        self.sock.sendall(line.encode() + b"\n")

    def expect(self, pattern: str) -> str:
        """The first line (from now on) matching regex `pattern`."""
        deadline = time.monotonic() + WAIT
        while True:
            while b"\n" in self.buf:
                raw, self.buf = self.buf.split(b"\n", 1)
                line = raw.decode()
                self.seen.append(line)
                if re.search(pattern, line):
                    return line
            if time.monotonic() > deadline:
                raise AssertionError(f"no line like {pattern!r}; got {self.seen[-10:]}")
            data = self.sock.recv(65536)
            if not data:
                raise AssertionError(f"closed while waiting for {pattern!r}")
            self.buf += data

    def close(self) -> None:
        self.sock.close()


def _browser_paths() -> Optional[Tuple[str, str]]:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    return (chromium, driver) if chromium and driver else None


def chromium():
    """start(width, height) -> a headless Chromium WebDriver; skips the test
    (fails it with SELCHAT_REQUIRE_BROWSER=1) when there is no browser."""
    paths = _browser_paths()
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        paths = None
    if paths is None:
        why = "needs selenium, chromium and chromedriver (Debian: chromium-driver)"
        if os.environ.get("SELCHAT_REQUIRE_BROWSER") == "1":
            pytest.fail(why + "; SELCHAT_REQUIRE_BROWSER=1")
        pytest.skip(why)

    def start(width: int, height: int, *extra: str):
        """`extra`: more Chromium switches (the TLS test's --ignore-certificate-errors)."""
        options = webdriver.ChromeOptions()
        options.binary_location = paths[0]
        for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                    "--disable-gpu", f"--window-size={width},{height}", *extra):
            options.add_argument(arg)
        return webdriver.Chrome(service=Service(paths[1]), options=options)

    return start


def wait_for(driver, predicate, what: str):
    """Poll `predicate(driver)` until true. An element the page re-rendered while
    the predicate read it (stale) is just another "not yet": it is asked again."""
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, WAIT, ignored_exceptions=(StaleElementReferenceException,)) \
        .until(lambda d: predicate(d), f"waiting for {what}")


def texts(driver, selector: str) -> List[str]:
    from selenium.webdriver.common.by import By

    return [e.text for e in driver.find_elements(By.CSS_SELECTOR, selector)]


def has_line(driver, selector: str, fragment: str) -> bool:
    return any(fragment in t for t in texts(driver, selector))


def wait_line(driver, selector: str, fragment: str) -> None:
    wait_for(driver, lambda d: has_line(d, selector, fragment), f"{selector} with {fragment!r}")


def members(driver) -> List[str]:
    return texts(driver, "#members li:not(#members-title)")


def type_into(driver, element_id: str, text: str) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    field = driver.find_element(By.ID, element_id)
    field.clear()
    field.send_keys(text + Keys.ENTER)


def join(driver, url: str, name: str) -> None:
    from selenium.webdriver.common.by import By

    driver.get(url)
    wait_for(driver, lambda d: d.find_element(By.ID, "name").is_displayed(), "the name form")
    type_into(driver, "name", name)
    wait_for(driver, lambda d: d.find_element(By.ID, "input").is_displayed(), f"{name} joined")
