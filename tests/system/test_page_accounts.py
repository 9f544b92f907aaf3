"""The page's password fields: the server's, shown when it asks, and a
registered name's, sent when the server asks for it."""
import pytest

from support.browser import type_into, wait_for
from support.clients import LineClient
from support.constants import REPO
from support.servers import ServerProcess

pytestmark = pytest.mark.browser


@pytest.fixture
def server():
    server = ServerProcess("--web-port", "0", "--scrypt-n", "1024", web=True,
                           env={"PYTHONPATH": str(REPO), "SELCHAT_SERVER_PASSWORD": "sesame"})
    yield server
    server.stop()


def test_the_page_sends_the_server_password_and_a_registered_names_password(browser, server):
    from selenium.webdriver.common.by import By

    owner = LineClient(server.address)
    owner.line()
    owner.send("sesame", "alice", "/register alices-secret")
    owner.line()
    owner.expect_prefix("*** Welcome, alice!")
    owner.expect_prefix("*** alice is registered to you")
    owner.send("/quit")
    owner.expect_closed()

    browser.get(server.url)
    field = "server-password"
    wait_for(browser, lambda d: d.find_element(By.ID, field).is_displayed(), "its field")
    browser.find_element(By.ID, field).send_keys("sesame")
    browser.find_element(By.ID, "password").send_keys("alices-secret")
    type_into(browser, "name", "alice")
    wait_for(browser, lambda d: d.find_element(By.ID, "input").is_displayed(), "alice joined")


def test_an_operator_sees_marks_and_moderates_from_the_member_list(browser):
    from selenium.webdriver.common.by import By

    from support.browser import members
    from support.page_rooms import join_from_form

    server = ServerProcess("--web-port", "0", "--scrypt-n", "1024", web=True,
                           env={"PYTHONPATH": str(REPO)})
    try:
        owner = LineClient(server.address, "teach")
        owner.send("/register teacher-secret")
        owner.expect_prefix("*** teach is registered to you")
        owner.send("/quit")
        owner.expect_closed()
        browser.get(server.url)
        wait_for(browser, lambda d: d.find_element(By.ID, "name").is_displayed(), "the form")
        browser.find_element(By.ID, "password").send_keys("teacher-secret")
        type_into(browser, "name", "teach")
        wait_for(browser, lambda d: d.find_element(By.ID, "input").is_displayed(), "joined")
        join_from_form(browser, "#class")
        wait_for(browser, lambda d: members(d) == ["@teach"], "teach marked the operator")

        sam = LineClient(server.address, "sam")
        sam.send("/join #class")
        sam.expect_prefix("*** You joined #class. Online (2): sam, @teach")
        sam.expect("*** Modes of #class: +n; operators: teach")

        def listed(driver) -> list:  # the member list, without the menu buttons' "⋯"
            return [text.replace("\u22ef", "") for text in members(driver)]

        def act(who: str, action: str) -> None:
            item = f'#members li[data-name="{who}"]'
            browser.find_element(By.CSS_SELECTOR, f"{item} .member-actions").click()
            browser.find_element(By.CSS_SELECTOR, f'{item} [data-action="{action}"]').click()

        wait_for(browser, lambda d: d.find_elements(By.CSS_SELECTOR, '[data-name="sam"]'),
                 "sam listed")
        act("sam", "mute")
        assert sorted(sam.lines(2)) == ["!!! you are muted in #class until lifted by teach",
                                        "#class *** teach muted sam in #class until lifted"]
        wait_for(browser, lambda d: listed(d) == ["sam (muted)", "@teach"], "sam marked muted")
        act("sam", "voice")
        sam.expect("#class *** teach gave sam a voice in #class")
        wait_for(browser, lambda d: listed(d) == ["+sam (muted)", "@teach"], "sam voiced")
        act("sam", "kick")
        sam.expect_prefix("!!! you were kicked from #class by teach")
        wait_for(browser, lambda d: listed(d) == ["@teach"], "sam gone")
    finally:
        server.stop()
