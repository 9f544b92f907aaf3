"""The room as one IRC client sees it: the `World` interface an
`selchat.irc.session.IrcSession` talks to, and `User`, what it learns of a
member. The IRC kind implements it over `selchat.room.ChatRoom`
(`selchat.irc.view.RoomView`); tests script one.
"""
from typing import Dict, List, NamedTuple, Optional, Protocol, Tuple

from selchat.room_lines import RoomLines
from selchat.irc.replay import Said
from selchat.topics import Topic
from selchat.wire import ServerLine


class User(NamedTuple):
    """What WHO, WHOIS and USERHOST say of a member."""

    nick: str
    user: str
    realname: str
    away: str  # "" when not away
    channels: List[str]
    invisible: bool = False  # user mode +i: WHO masks find it only from a shared channel
    operator: bool = False  # a server operator (WHO's "*", WHOIS's 313)
    account: str = ""  # the account it is logged in to (WHOIS's 330), "": none


class World(Protocol):
    """The room as one IRC client sees it (the IRC kind implements it)."""

    def command(self, text: str, echo: bool = False,
                tags: Optional[Dict[str, str]] = None,
                exclude_self: bool = False) -> List[ServerLine]:
        """A line-protocol line from this client (a name, ``/join #dev``...),
        acted on; answers the room's lines for this client. `echo`: its
        room line comes back to it too (echo-message); `tags`: the client's
        own tags (``+draft/reply``...) its line carries to message-tags clients;
        `exclude_self`: its own room line does not come back (the session says it)."""

    def stamp(self) -> Dict[str, str]:
        """The msgid and time of this client's last direct line (its echo's)."""

    def clear_topic(self, channel: str) -> Optional[str]:
        """A room of this client's has no topic from now on (told to its
        members); or why not (+t: only its operators set it)."""

    def speech_refusal(self, channel: str) -> Optional[str]:
        """Why this client may not speak in `channel` (muted, +m), or None."""

    def authenticate(self, account: str, password: str) -> None:
        """Check `account`'s password (SASL), off the loop: the answer comes
        later, to `selchat.irc.session.IrcSession.authenticated`."""

    def oper(self, name: str, password: str) -> None:
        """OPER: check a server operator's name and password, off the loop:
        the answer comes later, to `selchat.irc.session.IrcSession.opered`."""

    def unoper(self) -> None:
        """MODE -o of oneself: this client gives up the operator powers OPER gave."""

    def modes(self, channel: str) -> str:
        """The channel's modes as IRC writes them ("+mt", "+kl KEY 10", "+")."""

    def bans(self, channel: str) -> List[str]:
        """The names banned from the channel (for the ban list)."""

    def server_password_wanted(self) -> bool:
        """The server has a password (``--server-password``): PASS must give it."""

    def names(self, channel: str) -> Optional[Tuple[str, List[str]]]:
        """A room's name as created and its members' names; None: no such room."""

    def secret(self, channel: str) -> Optional[bool]:
        """Whether the channel is secret (+s: NAMES, WHO and LIST show it to
        its members only); None: no such room."""

    def channels(self) -> List[str]:
        """This client's rooms."""

    def topic(self, channel: str) -> Optional[str]:
        """A room's topic ("" for none); None: no such room."""

    def topic_who(self, channel: str) -> Optional[Topic]:
        """A room's topic with who set it and when; None: no such room."""

    def rooms(self) -> List[Tuple[str, int, str]]:
        """Every room: name, members, topic."""

    def user(self, nick: str) -> Optional[User]:
        """A member by name (any member: IRC, terminal, web, another node's)."""

    def counts(self) -> Tuple[int, int]:
        """Members and rooms."""

    def nicks(self) -> List[str]:
        """Every member's name."""

    def hang_up(self) -> None:
        """This client, not registered, quits: its connection closes after
        its replies (a password check under way is forgotten)."""

    def replayed(self, channel: str) -> List[Said]:
        """What was said in `channel` lately, if the room replays it to this
        client for joining it just now (``--replay``; else none)."""

    def say(self, channel: str, text: str, kind: str, echo: bool = False,
            tags: Optional[Dict[str, str]] = None) -> Tuple[Optional[str], bool]:
        """A line of this client's in a room (`kind`: "chat", "action" or
        "notice"): (the room's name, or None if there is no such room; whether
        it was said: not in a room one is not in). `echo`, `tags`: as `command`'s."""

    def refusal(self, nick: str) -> Optional[str]:
        """Why `nick` cannot be this client's name now (None: it can)."""

    def away(self, text: str) -> None:
        """This client is away (`text`) or back (""): away-notify clients are told."""

    def tagmsg(self, target: str, tags: Dict[str, str]) -> Optional[bytes]:
        """A TAGMSG (tags, no text) for the message-tags clients of a room of
        this client's or of a name: the line they got (None: no such target)."""

    def notice(self, target: str, text: str, echo: bool = False,
               tags: Optional[Dict[str, str]] = None) -> Optional[str]:
        """A NOTICE to a name (the line protocol has no command for it); the
        refusal, if any. `echo`, `tags`: as `command`'s."""

    # -- history (CHATHISTORY, `selchat.irc.chathistory`) ------------------------------

    def epoch(self) -> str:
        """The numbering every msgid belongs to (``EPOCH-SEQ``)."""

    def history(self, channel: str) -> Optional[Tuple[str, RoomLines]]:
        """A room of this client's: its name and its lines (memory, then the
        database). None when there is no such room or the client is not in it."""

    def histories(self) -> List[Tuple[str, RoomLines]]:
        """Every room of this client's, with its lines (CHATHISTORY TARGETS)."""

    def render(self, line: bytes, tags: str) -> bytes:
        """A room line (the line protocol's bytes) as IRC lines, each with `tags` in front."""
