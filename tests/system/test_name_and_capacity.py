"""Holding connections: the name timeout, --max-clients, and what a slot costs."""
import time

import pytest


from support.clients import join_when_there_is_room
from support.constants import HELLO, INVALID_NAME, SERVER_FULL
from support.waiting import wait_for


def test_no_name_in_time_is_an_error_and_a_close_while_joined_clients_idle_on(chat_server, clients):
    server = chat_server("--name-timeout", "0.5")
    alice = clients(server, "alice")
    started = time.monotonic()
    silent = clients(server)
    silent.expect(HELLO)
    typist = clients(server)  # half a name, never finished
    typist.expect(HELLO)
    typist.send_bytes(b"half a na")
    retrier = clients(server)  # wrong names do not buy more time
    retrier.expect(HELLO)
    retrier.send("no good!")
    retrier.expect(INVALID_NAME)
    for client in (silent, typist, retrier):
        assert client.expect_closed() == b"!!! name timeout: no name received in 0.5 s\n"
    assert time.monotonic() - started >= 0.45
    alice.send("/who")  # idle for longer than the timeout, still here, and told nothing
    alice.expect("*** Online (1): alice")


def test_server_full_then_room_again(chat_server, clients):
    server = chat_server("--max-clients", "2")
    alice = clients(server, "alice")
    stranger = clients(server)  # unnamed connections count too
    stranger.expect(HELLO)
    third = clients(server)
    assert third.expect_closed() == SERVER_FULL
    eager = clients(server)  # sends its name before reading anything: still told
    eager.send("eager")
    assert eager.expect_closed() == SERVER_FULL
    stranger.close()
    newcomer = join_when_there_is_room(server, "newcomer")
    alice.expect("*** newcomer has joined the chat room.")
    newcomer.close()


def test_an_unnamed_connection_holds_a_slot_only_until_its_name_timeout(chat_server, clients):
    server = chat_server("--max-clients", "1", "--name-timeout", "0.5")
    silent = clients(server)
    silent.expect(HELLO)
    assert clients(server).expect_closed() == SERVER_FULL
    assert silent.expect_closed() == b"!!! name timeout: no name received in 0.5 s\n"
    join_when_there_is_room(server, "alice").close()


# -- connections per address ---------------------------------------------------------------

TOO_MANY = b"!!! too many connections from your address\n"


def test_unnamed_connections_per_address_are_limited_until_they_choose_names(
        chat_server, clients):
    server = chat_server("--max-per-ip", "3")
    first, second, third = (clients(server) for _ in range(3))
    for client in (first, second, third):
        client.expect(HELLO)
    assert clients(server).expect_closed() == TOO_MANY
    eager = clients(server)  # sends a name before reading anything: still refused
    eager.send("eager")
    assert eager.expect_closed() == TOO_MANY
    first.send("alice")  # a member no longer counts against its address
    first.expect_prefix("*** Welcome, alice!")
    fourth = clients(server)
    fourth.expect(HELLO)
    assert clients(server).expect_closed() == TOO_MANY  # second, third, fourth: full again
    assert server.log().count("3 unnamed connections from that address") == 3
    second.close()  # leaving frees the slot too (once the server has seen the close)

    def accepted():
        client = clients(server)
        first_line = client.line()
        assert first_line in (HELLO, TOO_MANY.decode().strip()), first_line
        return first_line == HELLO

    wait_for(accepted, interval=0.05)
    first.send("/who")
    first.expect("*** Online (1): alice")


@pytest.mark.parametrize("limit, held", [("0", 80), (None, 64)])
def test_max_per_ip_zero_turns_the_limit_off_and_the_default_is_64(chat_server, clients,
                                                                   limit, held):
    server = chat_server(*(["--max-per-ip", limit] if limit else []))
    waiting = [clients(server) for _ in range(held)]
    for client in waiting:
        client.expect(HELLO)
    extra = clients(server)
    if limit == "0":
        extra.expect(HELLO)
    else:
        assert extra.expect_closed() == TOO_MANY
