"""One IRC client's side of the chat: registration, then its commands. Pure.

An `IrcSession` turns the client's `selchat.irc.message.Message`\\ s into
replies (IRC lines, bytes) and into line-protocol commands for the room,
through a `World`: the room as this client sees it (the IRC kind's
adapter of `selchat.room.ChatRoom`, or a test's). What the room answers
this client (``*** You joined #dev``, ``!!! name taken: bob``) comes back
from `World.command` and is turned into the reply IRC gives (a JOIN
echo and its names, ERR_NICKNAMEINUSE); what the room tells others is the
room's business and reaches IRC clients rendered (`selchat.irc.render`).

Registration: NICK and USER (PASS is accepted and ignored until the server
has a password), held while CAP negotiation is open; then 001-005, LUSERS,
the MOTD, and a JOIN of the default room, which every member is in.
Nicks are selchat names: one namespace with one set of rules
(`selchat.names`), so a nick a terminal user holds, or one that looks like
it, is in use, and a name selchat refuses is ERR_ERRONEUSNICKNAME.
"""
import fnmatch
import re
from typing import Dict, List, NamedTuple, Optional, Protocol, Sequence, Tuple

from selchat import wire
from selchat.irc import numerics as N
from selchat.irc.caps import Caps
from selchat.irc.message import Message, encode, escape
from selchat.irc.render import mask
from selchat.names import MAX_NAME
from selchat.room_commands import MAX_TOPIC
from selchat.sanitize import clean
from selchat.wire import ServerLine

VERSION = "selchat-1"
#: The MOTD, one line each (RPL_MOTD).
MOTD = (
    "selchat: terminal, web and IRC users in the same rooms.",
    "Every IRC channel is a selchat room: JOIN {default} to meet everyone.",
)
#: The commands a client may send before it registers.
_BEFORE = frozenset({"CAP", "NICK", "USER", "PASS", "PING", "PONG", "QUIT"})
_ACTION = "\x01ACTION "
#: Replies to one WHO at most: 500 lines are about 50 KB, well under the
#: soft output limit, and a mask of ``*`` on a big server asks for everyone.
WHO_LIMIT = 500


class User(NamedTuple):
    """What WHO, WHOIS and USERHOST say of a member."""

    nick: str
    user: str
    realname: str
    away: str  # "" when not away
    channels: List[str]


class World(Protocol):
    """The room as one IRC client sees it (the IRC kind implements it)."""

    def command(self, text: str, echo: bool = False,
                tags: Optional[Dict[str, str]] = None) -> List[ServerLine]:
        """A line-protocol line from this client (a name, ``/join #dev``...),
        acted on; answers the room's lines for this client. `echo`: its
        room line comes back to it too (echo-message); `tags`: the client's
        own tags (``+draft/reply``...) its line carries to message-tags clients."""

    def names(self, channel: str) -> Optional[Tuple[str, List[str]]]:
        """A room's name as created and its members' names; None: no such room."""

    def channels(self) -> List[str]:
        """This client's rooms."""

    def topic(self, channel: str) -> Optional[str]:
        """A room's topic ("" for none); None: no such room."""

    def rooms(self) -> List[Tuple[str, int, str]]:
        """Every room: name, members, topic."""

    def user(self, nick: str) -> Optional[User]:
        """A member by name (any member: IRC, terminal, web, another node's)."""

    def counts(self) -> Tuple[int, int]:
        """Members and rooms."""

    def nicks(self) -> List[str]:
        """Every member's name."""

    def leave_default_room(self) -> None:
        """This client, just named, leaves the default room without a word."""

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


class IrcSession:
    """`server` names the server in every reply, `host` is in every mask,
    `network` is ISUPPORT's NETWORK, `default_room` the channel everyone is in,
    `channel_limit` how many rooms one member may be in."""

    def __init__(self, world: World, server: str, host: str, network: str = "selchat",
                 default_room: str = "#lobby", channel_limit: int = 50) -> None:
        self.world = world
        self.server = server
        self.host = host
        self.network = network
        self.default_room = default_room
        self.channel_limit = channel_limit
        self.caps = Caps()
        self.nick: Optional[str] = None
        self.user: Optional[Tuple[str, str]] = None  # (username, realname)
        self.registered = False
        self.away = ""
        self.invisible = False

    # -- replies ------------------------------------------------------------------------

    @property
    def me(self) -> str:
        """The target of numerics: the nick, "*" before there is one."""
        return self.nick if self.registered and self.nick else "*"

    def reply(self, numeric: str, *params: str) -> bytes:
        return encode(self.server, numeric, [self.me, *params])

    def reply_text(self, numeric: str, *params: str) -> bytes:
        """A numeric whose last parameter is text (always trailing)."""
        return encode(self.server, numeric, [self.me, *params], trailing=True)

    def mask(self) -> str:
        return mask(self.nick or "*", self.host)

    # -- one message --------------------------------------------------------------------

    def handle(self, msg: Message) -> List[bytes]:
        """The replies to `msg`, labelled when it had a ``label`` tag and the
        client asked for labeled-response."""
        replies = self._dispatch(msg)
        label = msg.tags.get("label")
        if label and self.caps.has("labeled-response") and self.registered:
            return labeled(replies, label, self.server)
        return replies

    def _dispatch(self, msg: Message) -> List[bytes]:
        command = msg.command
        if not self.registered and command not in _BEFORE:
            if command.isdigit():
                return []
            return [self.reply_text(N.ERR_NOTREGISTERED, "You have not registered")]
        handler = getattr(self, "_" + command.lower(), None) if command.isalpha() else None
        if handler is None:
            return [self.reply_text(N.ERR_UNKNOWNCOMMAND, command[:32], "Unknown command")]
        return handler(msg)

    def _needs(self, msg: Message, count: int) -> Optional[List[bytes]]:
        """ERR_NEEDMOREPARAMS unless `msg` has `count` parameters (non-empty first)."""
        if len(msg.params) < count or (count and not msg.params[0]):
            return [self.reply_text(N.ERR_NEEDMOREPARAMS, msg.command, "Not enough parameters")]
        return None

    # -- registration -------------------------------------------------------------------

    def _cap(self, msg: Message) -> List[bytes]:
        out = []
        for answer in self.caps.handle(msg.params, self.registered):
            if answer.invalid:
                out.append(self.reply_text(N.ERR_INVALIDCAPCMD, answer.subcommand, answer.caps))
            else:
                out.append(encode(self.server, "CAP", [self.nick or "*", answer.subcommand,
                                                       answer.caps], trailing=True))
        return out + self._try_register()

    def _pass(self, msg: Message) -> List[bytes]:
        if self.registered:
            return [self.reply_text(N.ERR_ALREADYREGISTERED, "You may not reregister")]
        return self._needs(msg, 1) or []  # no server password yet: any is accepted

    def _user(self, msg: Message) -> List[bytes]:
        if self.registered:
            return [self.reply_text(N.ERR_ALREADYREGISTERED, "You may not reregister")]
        missing = self._needs(msg, 4)
        if missing or not msg.params[3]:  # an empty realname too (modern.ircdocs.horse)
            return missing or [self.reply_text(N.ERR_NEEDMOREPARAMS, "USER",
                                               "Not enough parameters")]
        self.user = (clean(msg.params[0])[:MAX_NAME] or "user", clean(msg.params[3]))
        return self._try_register()

    def _nick(self, msg: Message) -> List[bytes]:
        if not msg.params or not msg.params[0]:
            return [self.reply_text(N.ERR_NONICKNAMEGIVEN, "No nickname given")]
        new = msg.params[0]
        if not self.registered:
            refused = self._nick_refused(new)
            if refused:
                return refused
            self.nick = new
            return self._try_register()
        if new == self.nick:
            return []
        refused = self._nick_refused(new)
        if refused:
            return refused
        old = self.mask()
        answer = self.world.command(f"/nick {new}")
        refused = self._refusal_lines(new, answer)
        if refused:
            return refused
        self.nick = new
        if self.default_room not in self.world.channels():  # else the room's line says it
            return [encode(old, "NICK", [new])]
        return []

    def _nick_refused(self, nick: str) -> List[bytes]:
        refusal = self.world.refusal(nick)
        return self._nick_error(nick, refusal) if refusal else []

    def _nick_error(self, nick: str, refusal: str) -> List[bytes]:
        if refusal.startswith("name taken"):
            return [self.reply_text(N.ERR_NICKNAMEINUSE, clean(nick)[:64],
                                    "Nickname is already in use")]
        return [self.reply_text(N.ERR_ERRONEUSNICKNAME, clean(nick)[:64] or "*",
                                f"Erroneous nickname: {refusal}")]

    def _refusal_lines(self, nick: str, answer: List[ServerLine]) -> List[bytes]:
        for line in answer:
            if line.kind is wire.LineType.ERROR:
                return self._nick_error(nick, line.text)
        return []

    def _try_register(self) -> List[bytes]:
        if self.registered or self.nick is None or self.user is None or self.caps.negotiating:
            return []
        answer = self.world.command(self.nick)
        refused = self._refusal_lines(self.nick, answer)
        if refused:
            self.nick = None
            return refused
        self.registered = True
        # IRC's way: a client starts in no channel and joins what it wants
        # (the default room too, as #lobby): a member out of it hears none of it.
        self.world.leave_default_room()
        return self.welcome()

    def welcome(self) -> List[bytes]:
        """001-005, LUSERS and the MOTD."""
        nick = self.me
        return [
            self.reply_text(N.RPL_WELCOME, f"Welcome to the {self.network} IRC network, "
                                           f"{self.mask()}"),
            self.reply_text(N.RPL_YOURHOST, f"Your host is {self.server}, running {VERSION}"),
            self.reply_text(N.RPL_CREATED, "This server was created for chatting"),
            self.reply(N.RPL_MYINFO, self.server, VERSION, "i", "nt"),
            *self.isupport(),
            *self._lusers(Message("LUSERS", [])),
            *self._motd(Message("MOTD", [])),
        ] if nick else []

    def isupport(self) -> List[bytes]:
        tokens = [
            "CASEMAPPING=rfc8265", "CHANTYPES=#", f"CHANNELLEN={MAX_NAME + 1}",
            f"NICKLEN={MAX_NAME}", f"TOPICLEN={MAX_TOPIC}", "PREFIX=(ov)@+",
            f"CHANLIMIT=#:{self.channel_limit}", f"NETWORK={self.network}", "LINELEN=512",
            "CHANMODES=b,,,nt", "UTF8ONLY",
        ]
        return [self.reply_text(N.RPL_ISUPPORT, *tokens, "are supported by this server")]

    # -- connection ---------------------------------------------------------------------

    def _ping(self, msg: Message) -> List[bytes]:
        if not msg.params:
            return [self.reply_text(N.ERR_NEEDMOREPARAMS, "PING", "Not enough parameters")]
        return [encode(self.server, "PONG", [self.server, msg.params[0]], trailing=True)]

    def _pong(self, msg: Message) -> List[bytes]:
        return []  # any input counts as an answer (the kind's idle timer)

    def _quit(self, msg: Message) -> List[bytes]:
        reason = clean(msg.param(0))
        if self.registered:
            self.world.command(f"/quit {reason}".rstrip())
        else:
            self.world.command("/quit")
        return [encode(None, "ERROR", [f"Closing link: {reason or 'Quit'}"], trailing=True)]

    # -- channels -----------------------------------------------------------------------

    def _join(self, msg: Message) -> List[bytes]:
        missing = self._needs(msg, 1)
        if missing:
            return missing
        if msg.params[0] == "0":
            return [line for channel in self.world.channels()
                    for line in self._part_one(channel, "")]
        out: List[bytes] = []
        mine = {channel.lower() for channel in self.world.channels()}
        for channel in msg.params[0].split(","):
            if not channel or channel.lower() in mine:
                continue  # already in it: nothing to say, as most servers
            answer = self.world.command(f"/join {channel}")
            error = _error_of(answer)
            if error is not None:
                out.append(self._join_error(channel, error))
                continue
            out += self._joined(channel)
        return out

    def _join_error(self, channel: str, error: str) -> bytes:
        shown = clean(channel)[:64]
        if "too many" in error or "at most" in error:
            return self.reply_text(N.ERR_TOOMANYCHANNELS, shown, error)
        return self.reply_text(N.ERR_NOSUCHCHANNEL, shown, error)

    def _joined(self, channel: str) -> List[bytes]:
        """The JOIN echo, the topic and the names of a room just joined."""
        found = self.world.names(channel)
        name = found[0] if found else channel
        out = [encode(self.mask(), "JOIN", [name])]
        topic = self.world.topic(name)
        if topic:
            out.append(self.reply_text(N.RPL_TOPIC, name, topic))
        return out + self._names_of(name)

    def _part(self, msg: Message) -> List[bytes]:
        missing = self._needs(msg, 1)
        if missing:
            return missing
        reason = clean(msg.param(1))
        return [line for channel in msg.params[0].split(",") if channel
                for line in self._part_one(channel, reason)]

    def _part_one(self, channel: str, reason: str) -> List[bytes]:
        found = self.world.names(channel)
        if found is None:
            return [self.reply_text(N.ERR_NOSUCHCHANNEL, clean(channel)[:64], "No such channel")]
        name = found[0]
        answer = self.world.command(f"/part {name} {reason}".rstrip())
        if _error_of(answer) is not None:
            return [self.reply_text(N.ERR_NOTONCHANNEL, name, "You're not on that channel")]
        return [encode(self.mask(), "PART", [name, *([reason] if reason else [])],
                       trailing=bool(reason))]

    def _names(self, msg: Message) -> List[bytes]:
        if not msg.params or not msg.params[0]:
            return [self.reply_text(N.RPL_ENDOFNAMES, "*", "End of /NAMES list")]
        return [line for channel in msg.params[0].split(",") if channel
                for line in self._names_of(channel)]

    def _names_of(self, channel: str) -> List[bytes]:
        found = self.world.names(channel)
        out = []
        if found is not None:
            name, members = found
            with_host = self.caps.has("userhost-in-names")
            shown = [each[:1] + mask(each[1:], self.host) if each.startswith("@") else
                     mask(each, self.host) for each in members] if with_host else members
            # Lines of at most about 400 bytes of names: far under 512 with the rest.
            line: List[str] = []
            size = 0
            for each in shown:
                if line and size + len(each.encode()) > 400:
                    out.append(self.reply_text(N.RPL_NAMREPLY, "=", name, " ".join(line)))
                    line, size = [], 0
                line.append(each)
                size += len(each.encode()) + 1
            if line:
                out.append(self.reply_text(N.RPL_NAMREPLY, "=", name, " ".join(line)))
            channel = name
        return out + [self.reply_text(N.RPL_ENDOFNAMES, clean(channel)[:64], "End of /NAMES list")]

    def _topic(self, msg: Message) -> List[bytes]:
        missing = self._needs(msg, 1)
        if missing:
            return missing
        found = self.world.names(msg.params[0])
        if found is None:
            return [self.reply_text(N.ERR_NOSUCHCHANNEL, clean(msg.params[0])[:64],
                                    "No such channel")]
        name = found[0]
        if len(msg.params) < 2:
            topic = self.world.topic(name)
            if not topic:
                return [self.reply_text(N.RPL_NOTOPIC, name, "No topic is set")]
            return [self.reply_text(N.RPL_TOPIC, name, topic)]
        if name.lower() not in {each.lower() for each in self.world.channels()}:
            return [self.reply_text(N.ERR_NOTONCHANNEL, name, "You're not on that channel")]
        text = clean(msg.params[1])
        if not text.strip():
            return []  # selchat has no empty topic to set: nothing changes
        answer = self.world.command(f"/topic {name} {text}")
        error = _error_of(answer)
        if error is not None:
            return [self.reply_text(N.ERR_CHANOPRIVSNEEDED, name, error)]
        return [encode(self.mask(), "TOPIC", [name, self.world.topic(name) or text],
                       trailing=True)]

    def _list(self, msg: Message) -> List[bytes]:
        wanted = {each.lower() for each in msg.param(0).split(",") if each}
        out = [self.reply(N.RPL_LISTSTART, "Channel", "Users  Name")]
        for name, count, topic in self.world.rooms():
            if not wanted or name.lower() in wanted:
                out.append(self.reply_text(N.RPL_LIST, name, str(count), topic))
        return out + [self.reply_text(N.RPL_LISTEND, "End of /LIST")]

    # -- messages -----------------------------------------------------------------------

    def _privmsg(self, msg: Message, notice: bool = False) -> List[bytes]:
        if not msg.params or not msg.params[0]:
            return [] if notice else [self.reply_text(N.ERR_NORECIPIENT,
                                                      f"No recipient given ({msg.command})")]
        if len(msg.params) < 2 or not msg.params[1]:
            return [] if notice else [self.reply_text(N.ERR_NOTEXTTOSEND, "No text to send")]
        out: List[bytes] = []
        for target in msg.params[0].split(","):
            if target:
                out += self._message(msg.command, target, msg.params[1], notice, msg.tags)
        return out

    def _notice(self, msg: Message) -> List[bytes]:
        return self._privmsg(msg, notice=True)

    def _message(self, command: str, target: str, text: str, notice: bool,
                 tags: Dict[str, str]) -> List[bytes]:
        action = text.startswith(_ACTION) or text == _ACTION.rstrip()
        if action:
            text = text[len(_ACTION):].rstrip("\x01")
        elif text.startswith("\x01"):
            return []  # other CTCP (VERSION, PING...): selchat has no answer to give
        said = clean(text)
        if not said.strip():
            return [] if notice else [self.reply_text(N.ERR_NOTEXTTOSEND, "No text to send")]
        echo = self.caps.has("echo-message")
        # A labelled message's echo is its reply, with the label; else the
        # room's own line comes back (one msgid for everyone).
        echo_by_room = echo and not (tags.get("label") and self.caps.has("labeled-response"))
        client = {key: value for key, value in tags.items() if key.startswith("+")} or None
        if target.startswith("#"):
            name, said_it = self.world.say(target, said, "notice" if notice else
                                           "action" if action else "chat", echo_by_room, client)
            if name is None:
                return [] if notice else [self.reply_text(N.ERR_NOSUCHCHANNEL,
                                                          clean(target)[:64], "No such channel")]
            if not said_it:
                return [] if notice else [self.reply_text(N.ERR_CANNOTSENDTOCHAN, name,
                                                          "Cannot send to channel")]
            answer = []
            target = name
        else:
            answer = self._noticed(target, said, False, client) if notice else \
                self.world.command(f"/msg {target} {'* ' if action else ''}{said}", False, client)
            echo_by_room = False
        error = _error_of(answer)
        if error is not None:
            if notice:
                return []
            if error.startswith("no such user"):
                return [self.reply_text(N.ERR_NOSUCHNICK, clean(target)[:64],
                                        "No such nick/channel")]
            return [self.reply_text(N.ERR_CANNOTSENDTOCHAN, clean(target)[:64], error)]
        if echo and not echo_by_room:
            body = f"{_ACTION}{said}\x01" if action else said
            shown = client if self.caps.has("message-tags") else None
            return [encode(self.mask(), command, [target, body], tags=shown, trailing=True)]
        return []

    def _tagmsg(self, msg: Message) -> List[bytes]:
        if not msg.params or not msg.params[0]:
            return [self.reply_text(N.ERR_NORECIPIENT, "No recipient given (TAGMSG)")]
        client = {key: value for key, value in msg.tags.items() if key.startswith("+")}
        out: List[bytes] = []
        for target in msg.params[0].split(","):
            if not target:
                continue
            if target.startswith("#") and target.lower() not in {
                    each.lower() for each in self.world.channels()}:
                out.append(self.reply_text(N.ERR_CANNOTSENDTOCHAN, clean(target)[:64],
                                           "Cannot send to channel"))
            else:
                line = self.world.tagmsg(target, client)
                if line is None:
                    out.append(self.reply_text(N.ERR_NOSUCHNICK, clean(target)[:64],
                                               "No such nick/channel"))
                elif self.caps.has("echo-message"):
                    out.append(line)  # the same line, the same msgid
        return out

    def _noticed(self, target: str, text: str, echo: bool = False,
                 tags: Optional[Dict[str, str]] = None) -> List[ServerLine]:
        refusal = self.world.notice(target, text, echo, tags)
        return [] if refusal is None else [wire.error(refusal)]

    # -- who is who ---------------------------------------------------------------------

    def _who(self, msg: Message) -> List[bytes]:
        target = msg.param(0, "*") or "*"
        out = []
        if target.startswith("#"):
            found = self.world.names(target)
            if found is not None:
                name, members = found
                for nick in members[:WHO_LIMIT]:
                    user = self.world.user(nick.lstrip("@"))
                    if user is not None:
                        out.append(self._who_line(name, user, "@" if nick[0] == "@" else ""))
        elif "*" in target or "?" in target:  # a mask: every name it matches
            pattern = re.compile(fnmatch.translate(target), re.IGNORECASE)
            matched = [nick for nick in self.world.nicks() if pattern.match(nick)]
            for nick in matched[:WHO_LIMIT]:
                user = self.world.user(nick)
                if user is not None:
                    out.append(self._who_line("*", user))
        else:
            user = self.world.user(target)
            if user is not None:
                out.append(self._who_line("*", user))
        return out + [self.reply_text(N.RPL_ENDOFWHO, clean(target)[:64], "End of WHO list")]

    def _who_line(self, channel: str, user: User, prefix: str = "") -> bytes:
        return self.reply_text(N.RPL_WHOREPLY, channel, user.user, self.host, self.server,
                               user.nick, ("G" if user.away else "H") + prefix,
                               f"0 {user.realname}")

    def _whois(self, msg: Message) -> List[bytes]:
        missing = self._needs(msg, 1)
        if missing:
            return [self.reply_text(N.ERR_NONICKNAMEGIVEN, "No nickname given")]
        nick = msg.params[-1]
        user = self.world.user(nick)
        if user is None:
            return [self.reply_text(N.ERR_NOSUCHNICK, clean(nick)[:64], "No such nick/channel"),
                    self.reply_text(N.RPL_ENDOFWHOIS, clean(nick)[:64], "End of /WHOIS list")]
        out = [self.reply_text(N.RPL_WHOISUSER, user.nick, user.user, self.host, "*",
                               user.realname)]
        if user.channels:
            out.append(self.reply_text(N.RPL_WHOISCHANNELS, user.nick, " ".join(user.channels)))
        out.append(self.reply_text(N.RPL_WHOISSERVER, user.nick, self.server, self.network))
        if user.away:
            out.append(self.reply_text(N.RPL_AWAY, user.nick, user.away))
        return out + [self.reply_text(N.RPL_ENDOFWHOIS, user.nick, "End of /WHOIS list")]

    def _ison(self, msg: Message) -> List[bytes]:
        missing = self._needs(msg, 1)
        if missing:
            return missing
        online = [user.nick for nick in " ".join(msg.params).split()
                  for user in [self.world.user(nick)] if user is not None]
        return [self.reply_text(N.RPL_ISON, " ".join(online))]

    def _userhost(self, msg: Message) -> List[bytes]:
        missing = self._needs(msg, 1)
        if missing:
            return missing
        found = [f"{user.nick}={'-' if user.away else '+'}{user.user}@{self.host}"
                 for nick in msg.params[:5] for user in [self.world.user(nick)]
                 if user is not None]
        return [self.reply_text(N.RPL_USERHOST, " ".join(found))]

    def _away(self, msg: Message) -> List[bytes]:
        self.away = clean(msg.param(0))[:MAX_TOPIC]
        self.world.away(self.away)
        if self.away:
            return [self.reply_text(N.RPL_NOWAWAY, "You have been marked as being away")]
        return [self.reply_text(N.RPL_UNAWAY, "You are no longer marked as being away")]

    def _mode(self, msg: Message) -> List[bytes]:
        missing = self._needs(msg, 1)
        if missing:
            return missing
        target = msg.params[0]
        if target.startswith("#"):
            found = self.world.names(target)
            if found is None:
                return [self.reply_text(N.ERR_NOSUCHCHANNEL, clean(target)[:64],
                                        "No such channel")]
            name = found[0]
            if len(msg.params) < 2:
                return [self.reply(N.RPL_CHANNELMODEIS, name, "+nt"),
                        self.reply(N.RPL_CREATIONTIME, name, "0")]
            if msg.params[1].lstrip("+") == "b":
                return [self.reply_text(N.RPL_ENDOFBANLIST, name, "End of channel ban list")]
            return [self.reply_text(N.ERR_CHANOPRIVSNEEDED, name,
                                    "You're not channel operator")]
        if target.lower() != (self.nick or "").lower():
            if self.world.user(target) is None:
                return [self.reply_text(N.ERR_NOSUCHNICK, clean(target)[:64],
                                        "No such nick/channel")]
            return [self.reply_text(N.ERR_USERSDONTMATCH, "Can't change mode for other users")]
        if len(msg.params) < 2:
            return [self.reply(N.RPL_UMODEIS, "+i" if self.invisible else "+")]
        return self._user_modes(msg.params[1])

    def _user_modes(self, modes: str) -> List[bytes]:
        adding, changed, unknown = True, "", False
        for char in modes:
            if char in "+-":
                adding = char == "+"
            elif char == "i":
                if self.invisible != adding:
                    self.invisible = adding
                    changed += ("+" if adding else "-") + "i"
            else:
                unknown = True
        out = [encode(self.mask(), "MODE", [self.nick or "*", changed], trailing=True)] \
            if changed else []
        if unknown:
            out.append(self.reply_text(N.ERR_UMODEUNKNOWNFLAG, "Unknown MODE flag"))
        return out

    # -- the server ---------------------------------------------------------------------

    def _motd(self, msg: Message) -> List[bytes]:
        return [self.reply_text(N.RPL_MOTDSTART, f"- {self.server} Message of the day -"),
                *(self.reply_text(N.RPL_MOTD, "- " + line.format(default=self.default_room))
                  for line in MOTD),
                self.reply_text(N.RPL_ENDOFMOTD, "End of /MOTD command.")]

    def _lusers(self, msg: Message) -> List[bytes]:
        members, rooms = self.world.counts()
        return [
            self.reply_text(N.RPL_LUSERCLIENT,
                            f"There are {members} users and 0 invisible on 1 servers"),
            self.reply(N.RPL_LUSEROP, "0", "operator(s) online"),
            self.reply_text(N.RPL_LUSERCHANNELS, str(rooms), "channels formed"),
            self.reply_text(N.RPL_LUSERME, f"I have {members} clients and 0 servers"),
        ]

    def _version(self, msg: Message) -> List[bytes]:
        return [self.reply_text(N.RPL_VERSION, VERSION, self.server, "selchat"),
                *self.isupport()]


def _error_of(answer: Sequence[ServerLine]) -> Optional[str]:
    """The room's error line in `answer`, if it refused."""
    for line in answer:
        if line.kind is wire.LineType.ERROR:
            return line.text
    return None


def labeled(replies: List[bytes], label: str, server: str) -> List[bytes]:
    """IRCv3 labeled-response: no reply is an ACK, one carries the label, more
    go in a ``labeled-response`` batch (named by the label's own characters)."""
    tag = f"label={escape(label)}"
    if not replies:
        return [encode(server, "ACK", [], tags={"label": label})]
    if len(replies) == 1:
        return [_with_tag(replies[0], tag)]
    ref = "L" + "".join(ch for ch in label if ch.isalnum())[:16]
    return [_with_tag(encode(server, "BATCH", ["+" + ref, "labeled-response"]), tag),
            *(_with_tag(reply, f"batch={ref}") for reply in replies),
            encode(server, "BATCH", ["-" + ref])]


def _with_tag(line: bytes, tag: str) -> bytes:
    if line.startswith(b"@"):
        return b"@" + tag.encode() + b";" + line[1:]
    return b"@" + tag.encode() + b" " + line
