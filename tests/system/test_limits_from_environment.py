"""Every limit of `selchat serve` can come from a SELCHAT_* variable."""
import time

import pytest

from support.constants import HELLO, SERVER_FULL
from support.flood import assert_rate_limited, times_of_answers
from support.waiting import wait_for


@pytest.mark.parametrize("variable", ["MAX_LINE", "MAX_CLIENTS", "NAME_TIMEOUT", "FLOOD",
                                      "MAX_OUTPUT"])
def test_selchat_environment_variables_set_the_limits(chat_server, clients, variable):
    if variable == "MAX_LINE":
        server = chat_server(env={"SELCHAT_MAX_LINE": "50", "SELCHAT_FLOOD_RATE": "0"})
        bob = clients(server, "bob")
        bob.send("x" * 51, "/who")
        bob.expect("!!! line too long: over 50 bytes, discarded")
        bob.expect("*** Online (1): bob")
    elif variable == "MAX_CLIENTS":
        server = chat_server(env={"SELCHAT_MAX_CLIENTS": "1"})
        clients(server).expect(HELLO)
        assert clients(server).expect_closed() == SERVER_FULL
    elif variable == "NAME_TIMEOUT":
        server = chat_server(env={"SELCHAT_NAME_TIMEOUT": "0.3"})
        silent = clients(server)
        silent.expect(HELLO)
        assert silent.expect_closed() == b"!!! name timeout: no name received in 0.3 s\n"
    elif variable == "FLOOD":
        server = chat_server(env={"SELCHAT_FLOOD_BURST": "2", "SELCHAT_FLOOD_RATE": "10"})
        alice = clients(server, "alice")
        started = time.monotonic()
        alice.send(*["/who"] * 6)
        seen = times_of_answers(alice, 6, 10.0)
        assert [line for line, _ in seen] == ["*** Online (1): alice"] * 6
        assert_rate_limited([at for _, at in seen], started, 2, 10.0)
    else:
        server = chat_server(env={"SELCHAT_MAX_OUTPUT": "4096", "SELCHAT_FLOOD_RATE": "0"})
        slow = clients(server, "slow", rcvbuf=4096)
        sender = clients(server, "sender")
        line = "y" * 1000

        def dropped() -> bool:
            sender.send(*[line] * 64)
            return "(slow) is not reading" in server.log()

        wait_for(dropped)
        assert "over the hard limit of 4096" in server.log()
        slow.expect_closed()
