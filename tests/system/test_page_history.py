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
