"""The client's side of passwords: the server's first, a registered name's
when asked (given, asked of the person, or a clear refusal through a pipe)."""
from selchat import wire
from selchat.decisions import AskPassword, Finish
from selchat.session import EXIT_REFUSED, ClientSession
from selchat.tags import tag_prefix

ASKED = wire.encode(wire.password_wanted("alice"))
SERVER_ASKS = wire.encode(wire.server_password_wanted())


def test_the_server_password_goes_first_on_every_connection():
    session = ClientSession("alice", False, server_password="sesame")
    assert session.data_to_send() == b"sesame\n/tags\nalice\n"
    assert session.receive_data(SERVER_ASKS) == []


def test_a_missing_server_password_is_a_clear_refusal():
    session = ClientSession("alice", False)
    session.data_to_send()
    finish = session.receive_data(SERVER_ASKS)[0]
    assert finish == Finish(EXIT_REFUSED, "the server needs a password: give it with "
                                          "--server-password or SELCHAT_SERVER_PASSWORD")


def test_a_given_password_is_sent_when_asked():
    session = ClientSession("alice", False, password="alices-secret")
    session.data_to_send()
    assert session.receive_data(ASKED) == []
    assert session.data_to_send() == b"alices-secret\n"


def test_at_a_terminal_the_password_is_asked_for_and_kept():
    session = ClientSession("alice", True)
    session.data_to_send()
    assert session.receive_data(ASKED) == [AskPassword("alice")]
    session.give_password("typed-secret")
    assert session.data_to_send() == b"typed-secret\n"
    assert session.password == "typed-secret"  # for a join again after a gap


def test_through_a_pipe_without_a_password_the_refusal_says_what_to_do():
    session = ClientSession("alice", False)
    session.data_to_send()
    assert session.receive_data(ASKED) == [
        Finish(EXIT_REFUSED, "alice is registered: give its password in SELCHAT_PASSWORD")]


def test_a_wrong_password_ends_the_join():
    session = ClientSession("alice", False, password="nope-nope")
    session.data_to_send()
    session.receive_data(ASKED)
    finish = session.receive_data(tag_prefix(1, 0, {}) + b"!!! wrong password\n")[0]
    assert finish == Finish(EXIT_REFUSED, "wrong password")
