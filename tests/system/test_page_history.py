"""The page loads older lines when its log is scrolled to the top (history on
disk, issue 23): headless Chromium against a real `selchat serve --data`."""
import pytest

from support.browser import LineClient, join, wait_for, web_chat_server

pytestmark = pytest.mark.browser


def chat_lines(driver):
    """The chat lines of the log shown, oldest first, as "<who> text"."""
    return driver.execute_script(
        "return [...document.querySelectorAll('#log .line.chat')].map("
        "e => e.textContent.slice(e.querySelector('.time').textContent.length))")


def test_scrolling_to_the_top_loads_older_lines_above(browser, tmp_path):
    server = web_chat_server(0, 0, "--data", str(tmp_path), "--flood-rate", "0",
                             "--replay", "20")
    tom = None
    try:
        tom = LineClient(server.port, "tom")
        for n in range(120):
            tom.send(f"line {n}")
        tom.send("/who")
        tom.expect(r"^\*\*\* Online")  # all said before the page comes
        browser.set_window_size(1000, 700)
        join(browser, server.url, "ann")
        wait_for(browser, lambda d: "<tom> line 119" in chat_lines(d), "the replay")
        assert chat_lines(browser)[0] == "<tom> line 100"  # the last 20 lines
        browser.execute_script("document.getElementById('log').scrollTop = 0;")
        wait_for(browser, lambda d: "<tom> line 50" in chat_lines(d), "50 older lines")
        lines = chat_lines(browser)
        assert lines == [f"<tom> line {n}" for n in range(50, 120)]  # in order, no repeats
        # The view stays on what was read: the older lines are above it.
        assert browser.execute_script("return document.getElementById('log').scrollTop") > 0
        browser.execute_script("document.getElementById('log').scrollTop = 0;")
        wait_for(browser, lambda d: "<tom> line 0" in chat_lines(d), "the oldest lines")
        assert chat_lines(browser) == [f"<tom> line {n}" for n in range(120)]
        browser.execute_script("document.getElementById('log').scrollTop = 0;")
        tom.send("after")
        wait_for(browser, lambda d: chat_lines(d)[-1:] == ["<tom> after"], "a new line")
        assert len(chat_lines(browser)) == 121  # nothing more to load, nothing twice
    finally:
        if tom is not None:
            tom.close()
        server.stop()


def test_the_page_resumes_across_a_restart_with_no_gap(browser, tmp_path):
    """A clean stop keeps the page's session; the page reconnects to the
    restarted server (same ports), resumes, and shows what it missed."""
    from selenium.webdriver.common.by import By

    first = web_chat_server(0, 0, "--data", str(tmp_path), "--flood-rate", "0")
    ports = (first.port, first.web_port)
    second = tom = None
    try:
        tom = LineClient(first.port, "tom")
        browser.set_window_size(1000, 700)
        join(browser, first.url, "ann")
        tom.send("before the restart")
        wait_for(browser, lambda d: "<tom> before the restart" in chat_lines(d), "a line")
        tom.close()
        tom = None
        first.stop()
        wait_for(browser, lambda d: "restarting" in d.find_element(By.ID, "log").text,
                 "the restart notice")
        second = web_chat_server(*ports, "--data", str(tmp_path), "--flood-rate", "0")
        tom = LineClient(second.port, "tom")
        tom.send("said while ann was away")
        wait_for(browser, lambda d: "<tom> said while ann was away" in chat_lines(d),
                 "the line missed")
        log = browser.find_element(By.ID, "log").text
        assert "reconnected" in log and "history gap" not in log
        assert chat_lines(browser).count("<tom> before the restart") == 1
    finally:
        if tom is not None:
            tom.close()
        for server in (first, second):
            if server is not None:
                server.stop()
