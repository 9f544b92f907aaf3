"""A room with accounts for the pure tests: the hashing worker's part played
in this process, at the cheapest scrypt cost."""
from typing import List

from selchat.accounts import passwords
from selchat.accounts.authority import Authority
from selchat.effect_types import CheckPassword, Effect, HashPassword
from selchat.room import ChatRoom

#: scrypt's cheapest cost the worker takes: tests need the rule, not the strength.
CHEAP_N = passwords.MIN_N


class Clock:
    """Wall time, moved by hand."""

    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def room_with_accounts(clock: Clock, server_password: str = "") -> ChatRoom:
    return ChatRoom(authority=Authority(clock, server_password))


def worked(room: ChatRoom, effects: List[Effect]) -> List[Effect]:
    """`effects` with every password step done as the worker would, its
    answers' effects in their place."""
    done: List[Effect] = []
    for effect in effects:
        if isinstance(effect, CheckPassword):
            ok = passwords.check(effect.password, effect.stored)
            done += worked(room, room.password_checked(effect.session, ok))
        elif isinstance(effect, HashPassword):
            hashed = passwords.make_hash(effect.password, b"0123456789abcdef", CHEAP_N)
            done += worked(room, room.password_hashed(effect.session, hashed))
        else:
            done.append(effect)
    return done


def say(room: ChatRoom, session: object, line: str) -> List[Effect]:
    return worked(room, room.receive(session, line))


def texts(effects: List[Effect], session: object = None) -> List[str]:
    """The text of every line in `effects` (sent to `session` only, if given)."""
    from selchat import wire
    found = []
    for effect in effects:
        line = getattr(effect, "line", None)
        if line is None or (session is not None and getattr(effect, "to", None) != session):
            continue
        found.append(wire.text_of(line))
    return found
