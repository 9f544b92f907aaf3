"""Options on accepted sockets: keepalive and TCP_USER_TIMEOUT bound a vanished peer."""
import os
import socket

import pytest

from selchat.listeners import KEEPALIVE, USER_TIMEOUT_MS, open_listener
from selchat.server import Server
from support.waiting import wait_for


@pytest.mark.skipif(not os.path.exists("/proc/net/tcp"), reason="reads Linux /proc/net/tcp")
def test_accepted_connections_have_tcp_keepalive_after_about_a_minute(chat_server, clients):
    """/proc/net/tcp shows the server side's timer: 02 is keepalive, `when` in clock ticks."""
    server = chat_server()
    alice = clients(server, "alice")
    local = f"0100007F:{server.port:04X}"
    remote = f"0100007F:{alice.sock.getsockname()[1]:04X}"

    def timer():
        with open("/proc/net/tcp") as table:
            for row in table:
                fields = row.split()
                if fields[1:3] == [local, remote]:
                    active, when = fields[5].split(":")
                    return (active, int(when, 16)) if active == "02" else None
        return None

    _, when = wait_for(timer)
    ticks = os.sysconf("SC_CLK_TCK")
    assert 30 * ticks < when <= 60 * ticks  # idle probe after about a minute, not two hours


def test_accepted_sockets_have_keepalive_user_timeout_and_no_nagle():
    """Read back from the server's own accepted socket (white box: `Server._conns`)."""
    server = Server(open_listener("127.0.0.1", 0))
    client = socket.create_connection(("127.0.0.1", int(server.address.rsplit(":", 1)[1])))
    try:
        wait_for(lambda: server.run_once(0) or server._conns)
        (conn,) = server._conns
        sock = conn.sock
        tcp = socket.IPPROTO_TCP
        assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE) == 1
        assert sock.getsockopt(tcp, socket.TCP_NODELAY) == 1
        assert sock.getblocking() is False
        if not hasattr(socket, "TCP_USER_TIMEOUT"):
            pytest.skip("no TCP_USER_TIMEOUT here (not Linux)")
        assert sock.getsockopt(tcp, socket.TCP_USER_TIMEOUT) == USER_TIMEOUT_MS == 120_000
        assert {name: sock.getsockopt(tcp, getattr(socket, name)) for name, _ in KEEPALIVE} \
            == {"TCP_KEEPIDLE": 60, "TCP_KEEPINTVL": 10, "TCP_KEEPCNT": 6}
        # The client's own socket, untouched, shows the kernel defaults: the values
        # above were set, not inherited.
        assert client.getsockopt(tcp, socket.TCP_USER_TIMEOUT) == 0
        assert client.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE) == 0
    finally:
        client.close()
        server.close()
