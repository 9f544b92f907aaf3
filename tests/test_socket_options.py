"""Options on accepted sockets: keepalive and TCP_USER_TIMEOUT bound a vanished peer."""
import os

import pytest

from conftest import wait_for


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
