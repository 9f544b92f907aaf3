"""The loop's contracts with the room and the lifecycle: an effect nobody
handles and a state change `TRANSITIONS` forbids are bugs, and raise."""
from dataclasses import dataclass

import pytest

from selchat.connection import IllegalTransition, State
from selchat.effects import UnknownEffect
from selchat.effect_types import Close


@dataclass
class Stray:
    """An effect type the server was never taught."""

    session: object


def test_an_effect_with_no_handler_raises_instead_of_closing_its_session(in_process_server):
    loop = in_process_server()
    loop.peer("alice")
    conn = loop.conn("alice")
    with pytest.raises(UnknownEffect, match="Stray"):
        loop.server._apply([Stray(conn)])  # type: ignore[list-item]
    assert conn.state is State.OPEN  # not taken for a Close
    loop.server._apply([Close(conn)])  # the known one still works
    assert conn.state is State.DRAINING


@pytest.mark.parametrize("new", [State.OPEN, State.CLOSED])
def test_a_state_change_that_transitions_forbid_raises_and_changes_nothing(in_process_server, new):
    loop = in_process_server()
    loop.peer("alice")
    conn = loop.conn("alice")
    with pytest.raises(IllegalTransition, match=f"open -> {new.value}"):
        loop.server._set_state(conn, new)
    assert conn.state is State.OPEN
    assert conn in loop.server._conns


def test_a_closed_connection_cannot_change_state_again(in_process_server):
    loop = in_process_server()
    loop.peer("alice")
    conn = loop.conn("alice")
    loop.server._set_state(conn, State.DROPPING, "test")
    loop.run(1)
    assert conn.state is State.CLOSED
    with pytest.raises(IllegalTransition):
        loop.server._set_state(conn, State.DROPPING)
