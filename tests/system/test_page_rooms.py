"""The page with two rooms (issue 20, "Tests": unread count, switching, leaving,
a phone-sized window) in Chromium, against a real server that speaks rooms.

tom is a terminal user on TCP: he hears what each room hears, with the room's
prefix for every room but the default one (#lobby). This needs the server's
rooms: without them it fails (at the first "You joined"), never skips.
The page's side alone, its room lines scripted, is test_page_rooms_scripted.py.
"""
import pytest

from support.browser import LineClient, chromium, has_line, join, members, type_into, wait_for, \
    wait_line, web_chat_server
from support.page_rooms import click_room, join_from_form, room_names

pytestmark = pytest.mark.browser


def join_room(driver, room: str) -> None:
    join_from_form(driver, room)
    wait_line(driver, "#log .line.notice", f"You joined #{room}.")


@pytest.mark.parametrize("size", [(1000, 700), (390, 844)], ids=["desktop", "phone"])
def test_two_rooms_in_the_page_against_the_server(size):
    from selenium.webdriver.common.by import By

    start = chromium()
    server = web_chat_server()
    tom = driver = None
    try:
        tom = LineClient(server.port, "tom")
        tom.send("/join #dev")
        answer = tom.expect(r"^(\*\*\* You joined #dev\.|!!! )")
        assert answer == "*** You joined #dev. Online (1): @tom", f"no rooms here: {answer}"
        driver = start(*size)
        join(driver, server.url, "ann")
        tom.expect(r"^\*\*\* ann has joined the chat room\.$")  # the default room: no prefix

        join_room(driver, "dev")
        tom.expect(r"^#dev \*\*\* ann has joined #dev\.$")
        wait_for(driver, lambda d: room_names(d) == ["#lobby", "#dev"], "two rooms")
        if size[0] < 600:
            assert driver.find_element(By.ID, "rooms-toggle").text == "#dev"
        else:
            assert driver.find_element(By.ID, "rooms").is_displayed()
        if size[0] < 600:  # the member list is folded away too
            driver.find_element(By.ID, "members-toggle").click()
        wait_for(driver, lambda d: members(d) == ["ann", "@tom"], "#dev's members")  # its maker

        # Typed in #dev goes to #dev; tom's #dev line shows there.
        type_into(driver, "input", "hello dev")
        tom.expect(r"^#dev <ann> hello dev$")
        tom.send("hi ann")
        wait_line(driver, "#log .line.chat", "<tom> hi ann")

        # A lobby line while #dev is shown: an unread count on the lobby.
        tom.send("/msg #lobby lobby news")
        wait_for(driver, lambda d: room_names(d) == ["#lobby1", "#dev"], "the lobby's count")
        assert not has_line(driver, "#log .line", "lobby news")

        # Switching: the lobby's lines, and what is typed now goes to the lobby.
        if size[0] < 600:
            driver.find_element(By.ID, "rooms-toggle").click()
        click_room(driver, "#lobby")
        wait_line(driver, "#log .line.chat", "<tom> lobby news")
        assert room_names(driver) == ["#lobby", "#dev"]
        type_into(driver, "input", "to the lobby")
        tom.expect(r"^<ann> to the lobby$")
        assert not has_line(driver, "#log .line", "Now talking")

        # Leaving #dev with its x.
        click_room(driver, "#dev", part=True)
        tom.expect(r"^#dev \*\*\* ann has left #dev\.$")
        wait_for(driver, lambda d: room_names(d) == ["#lobby"], "#dev gone")
        type_into(driver, "input", "still in the lobby")
        tom.expect(r"^<ann> still in the lobby$")
    finally:
        if driver is not None:
            driver.quit()
        if tom is not None:
            tom.close()
        server.stop()
