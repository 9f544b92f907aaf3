"""The page's room list in Chromium: read it, click it, join from its form, and
script a room's lines into the page (its ``__selchatSocket`` test hook)."""
import json
from typing import List

from support.browser import type_into, wait_for


def room_names(driver) -> List[str]:
    """The rooms listed, unread counts included ("#lobby2"), shown or not
    (a page in one room does not show its list)."""
    from selenium.webdriver.common.by import By

    return [e.get_attribute("textContent")
            for e in driver.find_elements(By.CSS_SELECTOR, "#room-list .room-name")]


def click_room(driver, key: str, part: bool = False) -> None:
    """Select the room `key` ("#dev") in the list, or leave it (its x) if `part`."""
    selector = f"#room-list .{'room-part' if part else 'room-name'}[data-room={json.dumps(key)}]"
    driver.execute_script("document.querySelector(arguments[0]).click()", selector)


def shown(driver, element_id: str) -> bool:
    from selenium.webdriver.common.by import By

    return driver.find_element(By.ID, element_id).is_displayed()


def join_from_form(driver, room: str) -> None:
    """Type `room` into the room form (opening the rooms first if folded away)."""
    from selenium.webdriver.common.by import By

    if not shown(driver, "room-name"):
        driver.find_element(By.ID, "rooms-toggle").click()
    type_into(driver, "room-name", room)


def script(driver) -> None:
    """From now on the page's socket sends nothing: what it would send is kept
    (`sent`), and `inject` plays the server."""
    driver.execute_script("window.__sent = [];"
                          "window.__selchatSocket.send = (m) => { window.__sent.push(m); };")


def inject(driver, *lines: str) -> None:
    """Lines as the server would send them to the page."""
    driver.execute_script("window.__selchatSocket.onmessage({data: arguments[0]})",
                          "".join(line + "\n" for line in lines))


def sent(driver) -> List[str]:
    return driver.execute_script("return window.__sent")


def wait_sent(driver, line: str) -> None:
    wait_for(driver, lambda d: line in sent(d), f"{line!r} sent")
