"""The web page as a person meets it (issue 25, "The page"): headless Chromium
against a real server, one browser and one server for the whole module.

Each test loads the page afresh and joins under a name of its own; "tom" is a
terminal user (TCP) who sees what the room sees. Leaving a page (a new load)
is a /quit, so no test sees another's members except tom and the held dave.
"""
import re
import socket
import time

import pytest

from support.browser import (
    LineClient, web_chat_server, members, texts, type_into, wait_for, wait_line,
)

pytestmark = pytest.mark.browser

WAIT = 10.0


@pytest.fixture(scope="module")
def room():
    """(server, tom): a server with its web page and default limits, and tom on TCP."""
    server = web_chat_server()
    tom = None
    try:
        tom = LineClient(server.port, "tom")
        yield server, tom
    finally:
        if tom is not None:
            tom.close()
        server.stop()


@pytest.fixture
def page(browser, room):
    """page(name, width=1000, height=700) -> the browser, joined as `name`."""
    from selenium.webdriver.common.by import By

    server, tom = room

    def open_as(name: str, width: int = 1000, height: int = 700):
        browser.set_window_size(width, height)
        browser.get(server.url)
        wait_for(browser, lambda d: d.find_element(By.ID, "name").is_displayed(), "the name form")
        type_into(browser, "name", name)
        wait_for(browser, lambda d: d.find_element(By.ID, "input").is_displayed(), f"{name} joined")
        tom.expect(rf"^\*\*\* {re.escape(name)} has joined")
        return browser

    return open_as


def js(driver, script: str, *args):
    return driver.execute_script(script, *args)


def submit(driver, text: str) -> None:
    """Type `text` (newlines and all, as a paste would) and press Send."""
    js(driver, "const f = document.getElementById('input'); f.value = arguments[0];"
               "document.getElementById('say-form').requestSubmit();", text)


def said_by(tom: LineClient, name: str, count: int):
    """The texts of the next `count` chat lines `name` said."""
    return [tom.expect(rf"^<{name}> ")[len(name) + 3:] for _ in range(count)]


def assert_no_line(tom: LineClient, pattern: str, seconds: float) -> None:
    """No line like `pattern` arrives within `seconds` (an absence needs a bound)."""
    tom.sock.settimeout(0.2)
    deadline = time.monotonic() + seconds
    try:
        while time.monotonic() < deadline:
            try:
                line = tom.expect(pattern)
            except (AssertionError, socket.timeout):
                continue
            raise AssertionError(f"unexpected {line!r}")
    finally:
        tom.sock.settimeout(WAIT)


def test_on_a_phone_the_log_scrolls_under_a_header_that_stays(page, room):
    from selenium.webdriver.common.by import By

    _, tom = room
    phone = page("phone", 390, 844)
    assert js(phone, "return window.innerWidth") < 600
    for n in range(20):  # within tom's flood burst; each wraps to several rows
        tom.send(f"line {n} " + "words that wrap " * 12)
    wait_line(phone, ".line.chat", "line 19 ")
    log = phone.find_element(By.ID, "log")
    assert js(phone, "return arguments[0].scrollHeight > arguments[0].clientHeight", log)
    bottom = js(phone, "return arguments[0].scrollTop", log)
    assert bottom > 0  # it followed the new lines
    js(phone, "arguments[0].scrollTop = 0", log)
    assert js(phone, "return arguments[0].scrollTop", log) == 0
    header = js(phone, "return document.querySelector('header').getBoundingClientRect().toJSON()")
    assert header["top"] >= 0 and header["bottom"] > 10
    field = phone.find_element(By.ID, "input")
    assert field.is_displayed()
    assert js(phone, "return arguments[0].getBoundingClientRect().bottom", field) <= 844
    assert float(field.value_of_css_property("font-size").rstrip("px")) >= 16
    assert field.get_attribute("enterkeyhint") == "send"
    assert field.get_attribute("maxlength") is None
    # The member list folds away behind a header button.
    assert not phone.find_element(By.ID, "members").is_displayed()
    phone.find_element(By.ID, "members-toggle").click()
    wait_for(phone, lambda d: "tom" in members(d), "the member list opened")
    assert js(phone, "return document.querySelector('header').getBoundingClientRect().top") >= 0
    # The page's own /who refreshed the list without a word in the log.
    assert not [t for t in texts(phone, "#log .line") if "Online (" in t and "Welcome" not in t]


def test_quit_leaves_and_stays_left_until_join_again(page, room):
    from selenium.webdriver.common.by import By

    _, tom = room
    driver = page("leaver")
    type_into(driver, "input", "/quit")
    tom.expect(r"^\*\*\* leaver has left the chat room")
    wait_for(driver, lambda d: "You left the room" in d.find_element(By.ID, "banner").text,
             "the left banner")
    assert_no_line(tom, r"leaver has joined", 3.0)  # a reconnect comes within 1.25 s
    assert "Reconnecting" not in driver.find_element(By.ID, "banner").text
    driver.find_element(By.ID, "rejoin").click()
    tom.expect(r"^\*\*\* leaver has joined")
    wait_for(driver, lambda d: d.find_element(By.ID, "leave").is_displayed(), "the leave button")
    driver.find_element(By.ID, "leave").click()
    tom.expect(r"^\*\*\* leaver has left the chat room")
    assert_no_line(tom, r"leaver has joined", 2.0)


def test_an_over_long_line_is_split_and_every_part_arrives(page, room):
    from selenium.webdriver.common.by import By

    _, tom = room
    driver = page("longer")
    cyrillic = "ж" * 2400  # 4,800 bytes: over the default --max-line of 4,096
    submit(driver, cyrillic)
    parts = said_by(tom, "longer", 2)
    assert "".join(parts) == cyrillic
    assert all(len(f"{p}".encode()) <= 4096 for p in parts)
    wait_line(driver, ".line.notice", "sent as 2 lines")

    family = "\U0001F469\u200D\U0001F469\u200D\U0001F467"  # one grapheme, 18 bytes
    emoji = "a" + family * 300  # cut between graphemes: 4,087 bytes, not inside the 228th
    submit(driver, emoji)
    parts = said_by(tom, "longer", 2)
    assert "".join(parts) == emoji and parts[1].startswith(family)

    words = " ".join(f"w{n:04d}" for n in range(832))  # 4,991 ASCII characters
    submit(driver, words)
    parts = said_by(tom, "longer", 2)
    assert "".join(parts) == words and parts[0].endswith(" ")  # cut at a space

    # A paste of several lines: several lines, none of them a command.
    submit(driver, "first\n/second\n\nthird")
    assert said_by(tom, "longer", 3) == ["first", "/second", "third"]
    wait_line(driver, ".line.notice", "Sent as 3 lines")

    # A long paste goes out at the server's flood rate: all of it, never held back.
    paste = [f"pasted {n}" for n in range(30)]
    submit(driver, "\n".join(paste))
    assert said_by(tom, "longer", 30) == paste
    assert not [t for t in texts(driver, "#log .line") if "slow down" in t]

    # A command cannot be split: refused, said, and kept in the field.
    nick = "/nick " + "x" * 5000
    submit(driver, nick)
    wait_line(driver, ".line.error", "nothing was sent")
    assert driver.find_element(By.ID, "input").get_attribute("value") == nick
    submit(driver, "still here")
    assert said_by(tom, "longer", 1) == ["still here"]  # nothing else went out


def test_a_background_tab_counts_unread_marks_them_and_highlights_a_mention(page, room):
    _, tom = room
    driver = page("bg")
    wait_for(driver, lambda d: d.title == "selchat", "the plain title")
    js(driver, "Object.defineProperty(document, 'hidden', {value: true, configurable: true});"
               "document.dispatchEvent(new Event('visibilitychange'));")
    for line in ("first unread", "hello bg, are you there?", "ask bgx instead"):
        tom.send(line)
    wait_line(driver, ".line.chat", "ask bgx instead")
    wait_for(driver, lambda d: d.title == "(3) selchat", "the unread count")
    assert js(driver, "const m = document.querySelector('.unread-marker');"
                      "return m.nextElementSibling.textContent") .endswith("first unread")
    assert texts(driver, ".line.mention") == [t for t in texts(driver, ".line.chat")
                                              if "hello bg," in t]
    js(driver, "Object.defineProperty(document, 'hidden', {value: false, configurable: true});"
               "document.dispatchEvent(new Event('visibilitychange'));")
    wait_for(driver, lambda d: d.title == "selchat", "the title back")


def test_links_are_links_and_markup_is_text(page, room):
    from selenium.webdriver.common.by import By

    _, tom = room
    driver = page("reader")
    tom.send("see https://example.org/x_(y). or javascript:alert(1) ftp://a.b <b>x</b>")
    wait_line(driver, ".line.chat", "<b>x</b>")
    links = driver.find_elements(By.CSS_SELECTOR, "#log .line a")
    assert [a.get_attribute("href") for a in links] == ["https://example.org/x_(y)"]
    assert links[0].get_attribute("rel") == "noopener noreferrer"
    assert links[0].get_attribute("target") == "_blank"
    assert driver.find_elements(By.CSS_SELECTOR, "#log b") == []


def test_the_name_is_remembered_and_offered(page, room):
    from selenium.webdriver.common.by import By

    server, tom = room
    driver = page("rememberme")
    driver.get(server.url)
    tom.expect(r"^\*\*\* rememberme has left")  # leaving the page left the room
    wait_for(driver, lambda d: d.find_element(By.ID, "name").is_displayed(), "the name form")
    assert driver.find_element(By.ID, "name").get_attribute("value") == "rememberme"
    assert not driver.find_element(By.ID, "chat").is_displayed()  # offered, not forced


def test_a_held_member_is_away_and_the_welcome_counts_it(page, room):
    from selenium.webdriver.common.by import By

    server, tom = room
    dave = socket.create_connection(("127.0.0.1", server.port), timeout=WAIT)
    dave.sendall(b"/tags\ndave\n")
    tom.expect(r"^\*\*\* dave has joined")
    dave.close()  # no /quit: the server holds dave's session for a resume
    wait_for_away = time.monotonic() + WAIT
    while True:
        tom.send("/who")
        if "dave (away)" in tom.expect(r"^\*\*\* Online \("):
            break
        assert time.monotonic() < wait_for_away, "dave not held"
    crowd = [LineClient(server.port, f"m{n:02d}") for n in range(50)]  # past the welcome's 50
    try:
        driver = page("watcher")
        welcome = [t for t in texts(driver, ".line.notice") if "Welcome, watcher" in t][0]
        count = int(re.search(r"Online \((\d+)\)", welcome).group(1))
        assert count >= 53 and re.search(r"and \d+ more \(type /help", welcome)
        wait_for(driver, lambda d: "dave (away)" in members(d), "dave away in the list")
        assert len(members(driver)) == count
        assert driver.find_element(By.CSS_SELECTOR, "#members li.away").text == "dave (away)"
        assert driver.find_element(By.ID, "members-title").text == f"Online ({count})"
    finally:
        for member in crowd:
            member.close()


#: A stand-in for the browser's Notification API (headless Chromium has no
#: desktop to show them on): it records permission requests and notifications.
FAKE_NOTIFICATION = """
window.__asked = 0; window.__notes = [];
window.Notification = class {
  constructor(title, options) { window.__notes.push(title + ": " + options.body); }
  static requestPermission() { window.__asked++; Notification.permission = "granted";
                               return Promise.resolve("granted"); }
};
window.Notification.permission = "default";
"""


def test_notifications_are_asked_for_only_when_turned_on(page, room, browser):
    from selenium.webdriver.common.by import By

    _, tom = room
    script = browser.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument",
                                      {"source": FAKE_NOTIFICATION})
    try:
        driver = page("notified")
        assert js(driver, "return window.__asked") == 0  # not on loading
        button = driver.find_element(By.ID, "notify")
        assert button.text == "Notify: off"
        button.click()
        wait_for(driver, lambda d: button.text == "Notify: on", "notifications on")
        assert js(driver, "return window.__asked") == 1
        js(driver, "Object.defineProperty(document, 'hidden', {value: true, configurable: true});")
        tom.send("no need to notify this")
        tom.send("/msg notified a private word")
        tom.send("notified: look at this")
        wait_line(driver, ".line.chat", "look at this")
        assert js(driver, "return window.__notes") == [
            "tom in selchat: a private word", "tom in selchat: notified: look at this"]
    finally:
        browser.execute_cdp_cmd("Page.removeScriptToEvaluateOnNewDocument",
                                {"identifier": script["identifier"]})
