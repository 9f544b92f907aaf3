"""`selchat serve --trusted-proxy`: the option, from the command line and a bad value."""
from support.clients import LineClient
from support.servers import ServerProcess, selchat
from support.waiting import wait_for


def test_a_proxied_client_is_logged_with_its_own_address():
    server = ServerProcess("--trusted-proxy", "127.0.0.0/8", "--trusted-proxy", "::1")
    try:
        client = LineClient(server.address)
        client.send_bytes(b"PROXY TCP4 203.0.113.7 127.0.0.1 51234 4000\r\n")
        client.expect("*** Hello! Please enter your name.")
        wait_for(lambda: "is 203.0.113.7:51234 (PROXY protocol)" in server.log())
        assert "from 203.0.113.7:51234" in server.log()
        client.close()
    finally:
        server.stop()


def test_a_bad_network_is_refused():
    done = selchat("serve", "--port", "0", "--no-web", "--trusted-proxy", "10.0.0.0/33")
    assert done.returncode == 2
    assert "'10.0.0.0/33' is not an address or network" in done.stderr
    assert done.stderr.count("\n") == 1
