"""The web page over https, its WebSocket over wss, in headless Chromium, chatting
with a terminal user on the TLS chat port. The test CA is not in Chromium's
store: certificate errors are accepted here, in the test only."""
import pytest

from support.browser import chromium, join, type_into, wait_line, web_chat_server
from support.certificates import make_pki, tls_line_client

pytestmark = pytest.mark.browser


def test_the_page_over_https_chats_over_wss(tmp_path):
    start = chromium()
    pki = make_pki(tmp_path)
    server = web_chat_server(0, 0, "--tls-cert", pki.cert_file, "--tls-key", pki.key_file,
                             "--tls-port", "0")
    driver = carol = None
    try:
        assert server.url.startswith("https://")
        carol = tls_line_client(server.tls_port, pki.ca_file, "carol")
        driver = start(1200, 800, "--ignore-certificate-errors")
        join(driver, server.url, "alice")
        assert driver.execute_script("return location.protocol") == "https:"
        carol.expect("*** alice has joined the chat room.")
        type_into(driver, "input", "hello over wss")
        carol.expect("<alice> hello over wss")
        carol.send("hi alice")
        wait_line(driver, ".line.chat", "<carol> hi alice")
    finally:
        if driver is not None:
            driver.quit()
        if carol is not None:
            carol.close()
        server.stop()
