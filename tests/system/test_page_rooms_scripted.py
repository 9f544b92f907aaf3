"""The page's rooms (issue 20) in Chromium, the room lines scripted.

A real server serves the page and welcomes it; the lines of rooms are then
handed to the page's own socket handler (the ``__selchatSocket`` test hook),
exactly as issue 20 writes them, and what the page sends is recorded. So the
page's side of the protocol is tested whatever the server knows; the same
story against a server with rooms is tests/system/test_page_rooms.py.
"""
import pytest

from support.browser import has_line, join, members, type_into, wait_for, wait_line, \
    web_chat_server
from support.page_rooms import (click_room, inject, join_from_form, room_names, script, sent,
                                shown as visible, wait_sent)

pytestmark = pytest.mark.browser


@pytest.fixture
def page(browser):
    """page(name, width, height) -> the browser joined as `name` to a server of
    this test's own, then scripted (`support.page_rooms.script`)."""
    servers = []

    def open_as(name: str, width: int = 1000, height: int = 700):
        servers.append(web_chat_server())
        browser.set_window_size(width, height)
        join(browser, servers[-1].url, name)
        script(browser)
        return browser

    yield open_as
    for server in servers:
        server.stop()


def join_dev(driver) -> None:
    """Join #dev from the room form, and the server's answer."""
    join_from_form(driver, "dev")
    wait_sent(driver, "/join #dev")
    inject(driver, "*** You joined #dev. Online (2): bob, ann", "*** Topic for #dev: builds",
           "*** Last 1 line:", "#dev <bob> earlier", "*** End of history.")


def test_a_page_that_uses_no_room_shows_no_room_list(page):
    driver = page("solo")
    assert not visible(driver, "rooms") and not visible(driver, "topic")
    assert visible(driver, "rooms-toggle")
    from selenium.webdriver.common.by import By

    shown = [e for e in driver.find_elements(By.CSS_SELECTOR, ".log") if e.is_displayed()]
    assert [e.get_attribute("id") for e in shown] == ["log"]  # the default room's


def test_two_rooms_unread_switching_and_leaving(page):
    from selenium.webdriver.common.by import By

    driver = page("ann")
    join_dev(driver)
    wait_line(driver, "#log .line.notice", "You joined #dev.")
    assert has_line(driver, "#log .line.chat", "<bob> earlier")  # its history, in its log
    assert visible(driver, "rooms")  # two rooms: the list is shown
    assert room_names(driver) == ["#lobby", "#dev"]
    assert driver.find_element(By.ID, "topic").text == "#dev: builds"
    wait_for(driver, lambda d: members(d) == ["ann", "bob"], "#dev's members")
    assert not has_line(driver, "#log .line", "Welcome, ann")  # the lobby's log is hidden

    # Typed in #dev: sent plain (the server's current room is #dev), shown in #dev.
    type_into(driver, "input", "hello dev")
    wait_line(driver, "#log .line.chat.own", "hello dev")
    wait_sent(driver, "hello dev")

    # A lobby line while #dev is shown: counted, not shown here.
    inject(driver, "<tom> in the lobby", "#dev <bob> hi ann", "#dev *** carol has joined #dev.")
    wait_line(driver, "#log .line.chat", "<bob> hi ann")
    assert not has_line(driver, "#log .line", "in the lobby")
    assert room_names(driver) == ["#lobby1", "#dev"]  # the unread count in a badge
    wait_for(driver, lambda d: members(d) == ["ann", "bob", "carol"], "carol in #dev")

    # Scroll #dev to a place of its own; the lobby and back keep it.
    inject(driver, *[f"#dev <bob> line {n} " + "words that wrap " * 8 for n in range(40)])
    wait_line(driver, "#log .line.chat", "line 39")
    log = driver.find_element(By.ID, "log")
    driver.execute_script("arguments[0].scrollTop = 120", log)
    click_room(driver, "#lobby")
    wait_sent(driver, "/join #lobby")  # the server's current room follows
    wait_line(driver, "#log .line.chat", "<tom> in the lobby")
    assert room_names(driver) == ["#lobby", "#dev"]  # read now
    wait_for(driver, lambda d: members(d) == ["ann"], "the lobby's members")
    inject(driver, "*** Now talking in #lobby.")  # the answer to the page's switch: unseen
    assert not has_line(driver, "#log .line", "Now talking")
    assert not has_line(driver, "#log .line", "/join")  # the switch is not shown as typed
    click_room(driver, "#dev")
    wait_sent(driver, "/join #dev")
    wait_line(driver, "#log .line.chat", "line 39")
    assert driver.execute_script("return document.getElementById('log').scrollTop") == 120

    # A quit is told once, without a room: it leaves every room's list.
    inject(driver, "*** bob has left the chat room (gone).")
    wait_for(driver, lambda d: members(d) == ["ann", "carol"], "bob gone from #dev")
    wait_line(driver, "#log .line.notice", "bob has left the chat room (gone).")

    # Leaving #dev with its x: the lobby is shown again, #dev and its log are gone.
    click_room(driver, "#dev", part=True)
    wait_sent(driver, "/part #dev")
    inject(driver, "#dev *** ann has left #dev.")
    wait_line(driver, "#log .line.notice", "ann has left #dev.")
    assert has_line(driver, "#log .line.chat", "<tom> in the lobby")
    assert room_names(driver) == ["#lobby"] and not visible(driver, "rooms")
    assert len(driver.find_elements(By.CSS_SELECTOR, ".log")) == 2  # the lobby's, and no room's
    wait_sent(driver, "/join #lobby")  # told, whatever the server made current
    type_into(driver, "input", "back in the lobby")
    wait_sent(driver, "back in the lobby")
    assert sent(driver).count("/join #lobby") == 2


def test_on_a_phone_the_rooms_are_a_drawer(page):
    from selenium.webdriver.common.by import By

    driver = page("phil", 390, 844)
    join_dev(driver)
    wait_line(driver, "#log .line.notice", "You joined #dev.")
    wait_for(driver, lambda d: not visible(d, "rooms"), "the drawer closed on selecting #dev")
    toggle = driver.find_element(By.ID, "rooms-toggle")
    assert toggle.text == "#dev"
    inject(driver, "<tom> lobby news")
    wait_for(driver, lambda d: d.find_element(By.ID, "rooms-toggle").text == "#dev (1)",
             "the unread count on the drawer's button")
    toggle.click()
    assert visible(driver, "rooms")
    assert js_bottom(driver, "rooms") <= 844
    click_room(driver, "#lobby")
    wait_line(driver, "#log .line.chat", "<tom> lobby news")
    assert not visible(driver, "rooms")
    field = driver.find_element(By.ID, "input")
    assert field.is_displayed() and js_bottom(driver, "input") <= 844


def test_a_line_to_a_room_and_no_room_at_all(page):
    driver = page("nell")
    join_dev(driver)
    wait_line(driver, "#log .line.notice", "You joined #dev.")
    type_into(driver, "input", "/msg #lobby from dev")
    wait_sent(driver, "/msg #lobby from dev")
    click_room(driver, "#lobby")
    wait_line(driver, "#log .line.chat.own", "from dev")  # shown in the room it went to
    inject(driver, "*** nell has left #lobby.")  # parted by a typed /part
    wait_for(driver, lambda d: room_names(d) == ["#dev"], "the lobby gone")
    inject(driver, "#dev *** nell has left #dev.")
    wait_line(driver, "#log .line.notice", "You are in no room")
    type_into(driver, "input", "anyone?")
    wait_sent(driver, "anyone?")
    assert not has_line(driver, "#log .line.own", "anyone?")  # the server says why not
    inject(driver, "!!! you are in no room: /join #ROOM")
    wait_line(driver, "#log .line.error", "you are in no room")


def js_bottom(driver, element_id: str) -> float:
    return driver.execute_script(
        "return document.getElementById(arguments[0]).getBoundingClientRect().bottom", element_id)
