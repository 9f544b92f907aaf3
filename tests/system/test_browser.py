"""The browser client end to end: two Chromium pages and one TCP client in one room.

Runs ``python -m selchat serve --host 127.0.0.1 --port 0 --web-port 0``, reads
the two addresses it prints, and drives headless Chromium through Selenium
(Debian's ``chromium`` and ``chromium-driver``). Without them the test is
skipped, unless ``SELCHAT_REQUIRE_BROWSER=1`` (CI with a browser), which makes
their absence a failure.
"""
import re

import pytest

from support.browser import (
    LineClient, chromium, has_line, join, members, texts, type_into, wait_for, wait_line,
    web_chat_server,
)

pytestmark = pytest.mark.browser


@pytest.fixture
def open_page(tmp_path):
    """open_page(width, height) -> a headless Chromium WebDriver."""
    start = chromium()
    drivers = []

    def open_one(width: int, height: int):
        drivers.append(start(width, height))
        return drivers[-1]

    yield open_one
    for driver in drivers:
        driver.quit()


def test_two_pages_and_a_terminal_chat(open_page, tmp_path):
    from selenium.webdriver.common.by import By

    server = web_chat_server()
    carol = None
    try:
        carol = LineClient(server.port, "carol")

        # Page A, on a phone-sized screen: a refused name, then another, same socket.
        a = open_page(390, 844)
        a.get(server.url)
        wait_for(a, lambda d: d.find_element(By.ID, "name").is_displayed(), "the name form")
        type_into(a, "name", "Carol")
        wait_for(a, lambda d: "name taken" in d.find_element(By.ID, "name-error").text,
                 "the refusal")
        assert not a.find_element(By.ID, "chat").is_displayed()
        type_into(a, "name", "alice")
        wait_for(a, lambda d: d.find_element(By.ID, "input").is_displayed(), "alice joined")
        a.find_element(By.ID, "members-toggle").click()  # folded away on a phone
        wait_for(a, lambda d: members(d) == ["alice", "carol"], "alice's member list")
        carol.expect(r"^\*\*\* alice has joined")

        b = open_page(1200, 800)
        join(b, server.url, "bob")
        wait_for(a, lambda d: "bob" in members(d), "bob in alice's list")
        wait_for(b, lambda d: members(d) == ["alice", "bob", "carol"], "bob's member list")

        # A message each way: page -> everyone, terminal -> pages.
        type_into(b, "input", "hello from bob")
        wait_line(a, ".line.chat", "<bob> hello from bob")
        wait_line(b, ".line.chat.own", "hello from bob")  # shown as sent: no echo
        carol.expect(r"^<bob> hello from bob$")
        carol.send("hi from carol")
        wait_line(a, ".line.chat", "<carol> hi from carol")
        wait_line(b, ".line.chat", "<carol> hi from carol")

        type_into(a, "input", "/me waves")
        wait_line(b, ".line.action", "alice waves")
        wait_line(a, ".line.action.own", "alice waves")
        carol.expect(r"^\* alice waves$")

        type_into(a, "input", "/msg bob a secret")
        wait_line(b, ".line.private", "a secret")
        assert has_line(a, ".line.private.own", "a secret")

        type_into(b, "input", "/nick robert")
        carol.expect(r"^\*\*\* bob is now known as robert$")
        wait_for(a, lambda d: members(d) == ["alice", "carol", "robert"], "the renamed list")
        wait_for(b, lambda d: "as robert" in d.find_element(By.ID, "me").text, "b's new name")
        assert not any("a secret" in line for line in carol.seen)  # private stayed private

        # Hostile text is shown as text: no element, no script run.
        hostile = "<script>window.pwned=1</script><b>bold</b> &amp; <img src=x onerror=alert(1)>"
        carol.send(hostile)
        wait_line(a, ".line.chat", "<carol> " + hostile)
        assert a.find_elements(By.CSS_SELECTOR, "#log b, #log img, #log script") == []
        assert a.execute_script("return window.pwned === undefined")

        a.save_screenshot(str(tmp_path / "alice-phone.png"))
        b.save_screenshot(str(tmp_path / "robert-desktop.png"))
        assert (tmp_path / "alice-phone.png").stat().st_size > 1000

        # The server restarts on the same ports: the pages say so, reconnect and rejoin.
        carol.close()
        carol = None
        port, web_port = server.port, server.web_port
        server.stop()
        for page in (a, b):
            wait_for(page, lambda d: d.find_element(By.ID, "banner").is_displayed()
                     and "Disconnected" in d.find_element(By.ID, "banner").text, "the banner")
        server = web_chat_server(port, web_port)
        for page, name in ((a, "alice"), (b, "robert")):
            wait_for(page, lambda d: "Disconnected" not in d.find_element(By.ID, "banner").text
                     and d.find_element(By.ID, "input").is_displayed(), f"{name} back")
            # The old token is from another run: a gap, said in plain words, then a join by name.
            wait_line(page, ".line.notice.gap", "The server restarted while you were away")
        wait_for(a, lambda d: "robert" in members(d), "robert back in alice's list")
        type_into(a, "input", "back again")
        wait_line(b, ".line.chat", "<alice> back again")
    finally:
        if carol is not None:
            carol.close()
        server.stop()


def test_a_dropped_page_resumes_without_a_trace(open_page):
    """The page's socket ends without /quit: it reconnects by itself, resumes,
    shows what it missed once, and the room never sees it leave."""
    from selenium.webdriver.common.by import By

    server = web_chat_server(0, 0, "--replay", "20")
    carol = None
    try:
        carol = LineClient(server.port, "carol")

        a = open_page(1000, 700)
        join(a, server.url, "alice")
        wait_for(a, lambda d: members(d) == ["alice", "carol"], "alice's member list")
        wait_line(a, ".line.notice", "carol has joined")  # replayed history
        carol.expect(r"^\*\*\* alice has joined")
        type_into(a, "input", "mine, said before the drop")  # the page never gets it back
        carol.expect(r"^<alice> mine, said before the drop$")

        # A close frame without /quit: the server holds the session (test hook).
        a.execute_script("window.__selchatSocket.close()")
        wait_for(a, lambda d: "Disconnected" in d.find_element(By.ID, "banner").text,
                 "the banner")
        carol.send("said while alice was away")
        carol.send("/msg alice a private word while away")
        wait_line(a, ".line.notice", "reconnected")
        wait_line(a, ".line.chat", "<carol> said while alice was away")
        wait_line(a, ".line.private", "a private word while away")
        wait_for(a, lambda d: not d.find_element(By.ID, "banner").is_displayed(),
                 "the banner gone")

        type_into(a, "input", "after the resume")
        carol.expect(r"^<alice> after the resume$")
        assert not [line for line in carol.seen if "alice has" in line and "joined" not in line]
        assert sum("alice has joined" in line for line in carol.seen) == 1  # the first join only
        log = texts(a, "#log .line")
        assert sum("said while alice was away" in t for t in log) == 1
        assert sum("mine, said before the drop" in t for t in log) == 1  # not replayed twice
        assert sum("carol has joined" in t for t in log) == 1
        assert not [t for t in log if "@" in t or "seq=" in t]  # tags are never shown
        times = texts(a, "#log .line .time")
        assert times and all(re.fullmatch(r"\d\d:\d\d(\s?[AP]M)?", t) for t in times), times
        wait_for(a, lambda d: members(d) == ["alice", "carol"], "the list after the resume")
    finally:
        if carol is not None:
            carol.close()
        server.stop()
