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
