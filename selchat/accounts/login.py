"""Logging in: the server password, registered names and their passwords,
and /register, /password, /unregister. A part of `selchat.room.ChatRoom`.

* With a server password, a connection's first line is it: right, the name
  prompt follows; wrong, ``!!! wrong server password`` and the connection
  closes (a guess costs a connection, and counts against its address).
* A registered name (or a look-alike of one: names compare by
  `selchat.names.name_key`) is answered ``*** NAME is registered: send its
  password``; the next line is the password, checked off the loop (the
  ``CheckPassword`` effect); ``!!! wrong password`` and the next line is a
  name again. Right, and the name is its owner's even if a ghost of theirs
  holds it (a connection still open, or a held session): that one ends.
* Wrong passwords are limited per name and per address group
  (`selchat.accounts.authority`: GUESSES_PER_NAME, GUESSES_PER_GROUP).
* A server ban (by name or address group) refuses the name and closes.

Pure: effects out, the hashing worker's answers in (`password_checked`,
`password_hashed`); a password is never logged nor put in an effect's repr.
"""
import logging
import math
from typing import TYPE_CHECKING, Dict, Generic, List, Optional

from selchat import wire
from selchat.accounts import commands
from selchat.accounts.authority import Account, Authority, Awaiting
from selchat.accounts.passwords import MAX_PASSWORD
from selchat.effect_types import (
    AccountChanged, Authenticated, CheckPassword, Close, Effect, HashPassword, Persist, Send,
    Session,
)
from selchat.names import name_key, name_problem

log = logging.getLogger("selchat.room")

SERVER_PASSWORD_PLEASE = wire.server_password_wanted()
WRONG_PASSWORD = wire.error("wrong password")
CHECKING = wire.error("wait: your password is being checked")
NOT_CHECKED = wire.error("the password could not be checked now: try again")
NOT_OPERATOR = "is not a server operator"


class Login(Generic[Session]):
    """The login rules of `selchat.room.ChatRoom`, which sets these up."""

    authority: Authority[Session]
    members: Dict[Session, str]
    _unnamed: Dict[Session, str]
    _owners: Dict[str, Session]
    _held: Dict[Session, str]

    if TYPE_CHECKING:  # ChatRoom's, used here
        def _take_name(self, session: Session, name: str) -> List[Effect]:
            ...

        def release(self, session: Session) -> List[Effect]:
            ...

        def disconnect(self, session: Session, reason: str = "", now: float = 0.0,
                       quitting: bool = False) -> List[Effect]:
            ...

    # -- before a name --------------------------------------------------------------

    def _greeting(self, session: Session, hello: wire.ServerLine) -> List[Effect]:
        if self.authority.server_password:
            self.authority.unpassed.add(session)
            return [Send(session, SERVER_PASSWORD_PLEASE)]
        return [Send(session, hello)]

    def _login_line(self, session: Session, text: str,
                    hello: wire.ServerLine) -> Optional[List[Effect]]:
        """What an unnamed session's line is if it is a password (the
        server's, or a registered name's): its answer; None if it is a name."""
        auth = self.authority
        group = self._unnamed.get(session, "")
        if session in auth.unpassed:
            wait = auth.guess_wait(None, group)
            if wait:
                return [Send(session, _too_many("from your address", wait)), Close(session)]
            if auth.check_server_password(text):
                auth.unpassed.discard(session)
                return [Send(session, hello)]
            auth.guessed_wrong(None, group)
            log.info("%r: wrong server password", session)
            return [Send(session, wire.error("wrong server password")), Close(session)]
        waiting = auth.awaiting.get(session)
        if waiting is None:
            return None
        if waiting.purpose != "name":
            return [Send(session, CHECKING)]
        del auth.awaiting[session]
        key = name_key(waiting.name)
        account = auth.accounts.get(key)
        if account is None:  # unregistered meanwhile
            return self._claim_name(session, waiting.name)
        wait = auth.guess_wait(key, group)
        if wait:
            return [Send(session, _too_many(f"for {account.name}", wait))]
        auth.awaiting[session] = Awaiting("login", waiting.name)
        return [CheckPassword(session, text, account.hash)]

    def _claim_name(self, session: Session, name: str) -> List[Effect]:
        """A name sent: refused if banned, asked its password if registered."""
        auth = self.authority
        if name_problem(name) is None:
            key, group = name_key(name), self._unnamed.get(session, "")
            ban = auth.server_ban(key, group)
            if ban is not None:
                reason = f" ({ban.reason})" if ban.reason else ""
                return [Send(session, wire.error(
                    f"you are banned from this server {ban.ending()}{reason}")), Close(session)]
            if key in auth.accounts and auth.identified.get(session) != key:
                auth.awaiting[session] = Awaiting("name", name)
                return [Send(session, wire.password_wanted(auth.accounts[key].name))]
            auth.groups[session] = group
        return self._take_name(session, name)

    def check_account(self, session: Session, name: str, password: str) -> List[Effect]:
        """A login apart from the name, for a front that sends both at once
        (IRC's SASL), before the name or after it: `Authenticated` answers,
        once the worker checked it. Right, and the session may take the name
        (or keep another); the guess limits and the server password hold as
        for a name's password line."""
        auth = self.authority
        key = name_key(name)
        group = auth.groups.get(session) or self._unnamed.get(session, "")
        account = auth.accounts.get(key)
        if (session not in self._unnamed and session not in self.members) or \
                session in auth.unpassed or session in auth.awaiting:
            return [Authenticated(session, None, "not now")]
        if account is None:
            return [Authenticated(session, None, f"{name} is not registered")]
        wait = auth.guess_wait(key, group)
        if wait:
            return [Authenticated(session, None, _too_many(f"for {account.name}", wait).text)]
        auth.awaiting[session] = Awaiting("account", account.name)
        return [CheckPassword(session, password, account.hash)]

    def check_operator(self, session: Session, name: str, password: str) -> List[Effect]:
        """A member gives a server operator's name and password (IRC's OPER),
        checked off the loop and limited as any password: right, and it has
        the operator's powers (`Authority.opered`) whatever its own name.
        `Authenticated` (``oper``) answers; `NOT_OPERATOR` when `name` is
        not a server operator's account."""
        auth = self.authority
        key, group = name_key(name), auth.groups.get(session, "")
        account = auth.accounts.get(key)
        if session in auth.awaiting or session not in self.members:
            return [Authenticated(session, None, CHECKING.text, oper=True)]
        if account is None or not account.operator:
            return [Authenticated(session, None, f"{name} {NOT_OPERATOR}", oper=True)]
        wait = auth.guess_wait(key, group)
        if wait:
            return [Authenticated(session, None, _too_many(f"for {account.name}", wait).text,
                                  oper=True)]
        auth.awaiting[session] = Awaiting("oper", account.name)
        return [CheckPassword(session, password, account.hash)]

    def _registered_refusal(self, session: Session, name: str) -> Optional[str]:
        """Why `session` may not rename itself to `name`: another's account."""
        key = name_key(name)
        if key in self.authority.accounts and self.authority.identified.get(session) != key:
            return f"{name} is registered: only its owner may take it (join as it, " \
                   "with its password)"
        return None

    # -- the worker's answers -------------------------------------------------------

    def password_checked(self, session: Session, ok: Optional[bool]) -> List[Effect]:
        """The worker's answer to `CheckPassword` (None: it could not check)."""
        auth = self.authority
        waiting = auth.awaiting.pop(session, None)
        if waiting is None:  # gone meanwhile
            return []
        oper = waiting.purpose == "oper"
        sasl = oper or waiting.purpose == "account"
        if ok is None:
            return [Authenticated(session, None, NOT_CHECKED.text, oper=oper) if sasl
                    else Send(session, NOT_CHECKED)]
        key = name_key(waiting.name)
        group = auth.groups.get(session) or self._unnamed.get(session, "")
        if not ok:
            auth.guessed_wrong(key, group)
            log.info("%r: wrong password for %s", session, waiting.name)
            return [Authenticated(session, None, WRONG_PASSWORD.text, oper=oper) if sasl
                    else Send(session, WRONG_PASSWORD)]
        if oper:
            auth.opered[session] = key
            log.info("%r has %s's server operator powers (OPER)", session, waiting.name)
            return [Authenticated(session, waiting.name, oper=True)]
        if sasl:
            auth.identified[session] = key
            log.info("%r logged in as %s", session, waiting.name)
            return [Authenticated(session, waiting.name), AccountChanged(session, waiting.name)]
        if waiting.purpose == "login":
            return self._logged_in(session, waiting.name)
        if waiting.purpose == "password":
            auth.awaiting[session] = Awaiting("rehash", waiting.name)
            return [HashPassword(session, waiting.new)]
        assert waiting.purpose == "unregister"
        account = auth.accounts.pop(key, None)
        auth.identified.pop(session, None)
        log.info("%s unregistered", waiting.name)
        name = account.name if account else waiting.name
        return [Persist("account", key, None),
                Send(session, wire.notice(f"{name} is not registered any more.")),
                AccountChanged(session, None)]

    def _logged_in(self, session: Session, name: str) -> List[Effect]:
        """The right password for `name`: its owner takes it, from a ghost too."""
        auth, key = self.authority, name_key(name)
        auth.identified[session] = key
        auth.groups[session] = self._unnamed.get(session, "")
        log.info("%r logged in as %s", session, name)
        effects: List[Effect] = []
        ghost = self._owners.get(key)
        if ghost is not None and ghost != session:
            log.info("%s: its owner takes it over from %r", name, ghost)
            if ghost in self._held:
                effects += self.release(ghost)
            else:
                effects += [Send(ghost, wire.error("your name was taken over by its owner")),
                            Close(ghost),
                            *self.disconnect(ghost, "taken over by its owner", quitting=True)]
        return [*effects, *self._take_name(session, name)]

    def password_hashed(self, session: Session, hashed: Optional[str]) -> List[Effect]:
        """The worker's answer to `HashPassword` (None: it could not)."""
        auth = self.authority
        waiting = auth.awaiting.pop(session, None)
        if waiting is None:
            return []
        if hashed is None:
            return [Send(session, NOT_CHECKED)]
        key = name_key(waiting.name)
        name = self.members.get(session)
        if name is None or name_key(name) != key:
            return [Send(session, wire.error(
                f"your name changed before {waiting.name} was registered: not registered"))]
        old = auth.accounts.get(key)
        account = Account(name, hashed, old.operator if old else False)
        auth.accounts[key] = account
        auth.identified[session] = key
        if waiting.purpose == "rehash":
            log.info("%s changed its password", name)
            said = "Your password is changed."
        else:
            log.info("%s registered", name)
            said = (f"{name} is registered to you: from now on it takes its password "
                    "(keep it safe: it cannot be recovered).")
            return [Persist("account", key, account), Send(session, wire.notice(said)),
                    AccountChanged(session, name)]
        return [Persist("account", key, account), Send(session, wire.notice(said))]

    # -- commands -------------------------------------------------------------------

    def _password_step(self, session: Session, name: str, password: str) -> Optional[Effect]:
        """Why a password command cannot start now, or None."""
        auth = self.authority
        if session in auth.awaiting:
            return Send(session, CHECKING)
        if not auth.min_password <= len(password) <= MAX_PASSWORD:
            return Send(session, wire.error(
                f"a password is {auth.min_password} to {MAX_PASSWORD} characters"))
        wait = auth.guess_wait(name_key(name), auth.groups.get(session, ""))
        if wait:
            return Send(session, _too_many(f"for {name}", wait))
        return None

    def _do_register(self, session: Session, name: str,
                     command: commands.Register) -> List[Effect]:
        if name_key(name) in self.authority.accounts:
            return [Send(session, wire.error(
                f"{name} is registered already (/password OLD NEW changes it)"))]
        refusal = self._password_step(session, name, command.password)
        if refusal is not None:
            return [refusal]
        self.authority.awaiting[session] = Awaiting("register", name)
        return [HashPassword(session, command.password)]

    def _own_account(self, session: Session, name: str) -> Optional[Account]:
        key = name_key(name)
        if self.authority.identified.get(session) != key:
            return None
        return self.authority.accounts.get(key)

    def _do_password(self, session: Session, name: str,
                     command: commands.Password) -> List[Effect]:
        account = self._own_account(session, name)
        if account is None:
            return [Send(session, wire.error(f"{name} is not registered: /register PASSWORD"))]
        refusal = self._password_step(session, name, command.new)
        if refusal is not None:
            return [refusal]
        self.authority.awaiting[session] = Awaiting("password", name, command.new)
        return [CheckPassword(session, command.old, account.hash)]

    def _do_unregister(self, session: Session, name: str,
                       command: commands.Unregister) -> List[Effect]:
        account = self._own_account(session, name)
        if account is None:
            return [Send(session, wire.error(f"{name} is not registered"))]
        if session in self.authority.awaiting:
            return [Send(session, CHECKING)]
        self.authority.awaiting[session] = Awaiting("unregister", name)
        return [CheckPassword(session, command.password, account.hash)]


def _too_many(whose: str, wait: float) -> wire.ServerLine:
    return wire.error(f"too many wrong passwords {whose}: try again in {math.ceil(wait)} s")
