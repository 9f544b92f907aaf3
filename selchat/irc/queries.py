"""The commands that look things up, and the replies' helpers: a part of
`selchat.irc.session.IrcSession` (as `selchat.room_commands` is of the room).

WHO, WHOIS, ISON, USERHOST, LIST, AWAY, MODE, MOTD, LUSERS, VERSION and the
ISUPPORT tokens: what the room holds, as numerics, through the session's
`selchat.irc.world.World`.
"""
import fnmatch
import re
from typing import List, Optional

from selchat.irc import chathistory, numerics as N
from selchat.irc.caps import Caps
from selchat.irc.message import Message, encode
from selchat.irc.operating import Operating
from selchat.irc.render import mask
from selchat.irc.world import User, World
from selchat.names import MAX_NAME
from selchat.room_commands import MAX_TOPIC
from selchat.sanitize import clean

VERSION = "selchat-1"
#: The MOTD, one line each (RPL_MOTD).
MOTD = (
    "selchat: terminal, web and IRC users in the same rooms.",
    "Every IRC channel is a selchat room: JOIN {default} to meet everyone.",
)
#: Replies to one WHO at most: 500 lines are about 50 KB, well under the
#: soft output limit, and a mask of ``*`` on a big server asks for everyone.
WHO_LIMIT = 500


class Queries(Operating):
    """The session's state these read (`selchat.irc.session.IrcSession` sets it)."""

    world: World
    server: str
    host: str
    network: str
    default_room: str
    channel_limit: int
    caps: Caps
    nick: Optional[str]
    registered: bool
    away: str
    invisible: bool

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

    def _needs(self, msg: Message, count: int) -> Optional[List[bytes]]:
        """ERR_NEEDMOREPARAMS unless `msg` has `count` parameters (non-empty first)."""
        if len(msg.params) < count or (count and not msg.params[0]):
            return [self.reply_text(N.ERR_NEEDMOREPARAMS, msg.command, "Not enough parameters")]
        return None

    def _in(self, channel: str) -> bool:
        """Whether this client is in `channel` (any spelling of it)."""
        found = self.world.names(channel)
        return found is not None and found[0].lower() in {
            each.lower() for each in self.world.channels()}

    def isupport(self) -> List[bytes]:
        tokens = [
            "CASEMAPPING=rfc8265", "CHANTYPES=#", f"CHANNELLEN={MAX_NAME + 1}",
            f"NICKLEN={MAX_NAME}", f"TOPICLEN={MAX_TOPIC}", "PREFIX=(ov)@+",
            f"CHANLIMIT=#:{self.channel_limit}", f"NETWORK={self.network}", "LINELEN=512",
            "CHANMODES=b,k,l,imnst", "UTF8ONLY", *chathistory.ISUPPORT,
        ]
        return [self.reply_text(N.RPL_ISUPPORT, *tokens, "are supported by this server")]

    def _list(self, msg: Message) -> List[bytes]:
        wanted = {each.lower() for each in msg.param(0).split(",") if each}
        out = [self.reply(N.RPL_LISTSTART, "Channel", "Users  Name")]
        for name, count, topic in self.world.rooms():
            if not wanted or name.lower() in wanted:
                out.append(self.reply_text(N.RPL_LIST, name, str(count), topic))
        return out + [self.reply_text(N.RPL_LISTEND, "End of /LIST")]

    # -- who is who ---------------------------------------------------------------------

    def _who(self, msg: Message) -> List[bytes]:
        target = msg.param(0, "*") or "*"
        out = []
        if target.startswith("#"):
            found = self.world.names(target)
            if found is not None and self.world.secret(found[0]) and not self._in(found[0]):
                found = None  # secret (+s): its members only
            if found is not None:
                name, members = found
                for nick in members[:WHO_LIMIT]:
                    bare = nick.lstrip("@+")
                    user = self.world.user(bare)
                    if user is not None:
                        prefix = nick[:len(nick) - len(bare)]
                        out.append(self._who_line(name, user, prefix if self.caps.has(
                            "multi-prefix") else prefix[:1]))
        elif "*" in target or "?" in target:  # a mask: every name it matches
            pattern = re.compile(fnmatch.translate(target), re.IGNORECASE)
            matched = [nick for nick in self.world.nicks() if pattern.match(nick)]
            mine = set(self.world.channels())
            for nick in matched[:WHO_LIMIT]:
                user = self.world.user(nick)
                if user is not None and (not user.invisible or user.nick == self.nick
                                         or mine.intersection(user.channels)):
                    out.append(self._who_line("*", user))
        else:
            user = self.world.user(target)
            if user is not None:
                out.append(self._who_line("*", user))
        return out + [self.reply_text(N.RPL_ENDOFWHO, clean(target)[:64], "End of WHO list")]

    def _who_line(self, channel: str, user: User, prefix: str = "") -> bytes:
        return self.reply_text(N.RPL_WHOREPLY, channel, user.user, self.host, self.server,
                               user.nick, ("G" if user.away else "H") +
                               ("*" if user.operator else "") + prefix,
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
        shown = [each for each in user.channels  # a secret (+s) one: to its members only
                 if not self.world.secret(each) or self._in(each)]
        if shown:
            out.append(self.reply_text(N.RPL_WHOISCHANNELS, user.nick, " ".join(shown)))
        out.append(self.reply_text(N.RPL_WHOISSERVER, user.nick, self.server, self.network))
        if user.operator:
            out.append(self.reply_text(N.RPL_WHOISOPERATOR, user.nick, "is an IRC operator"))
        if user.account:
            out.append(self.reply_text(N.RPL_WHOISACCOUNT, user.nick, user.account,
                                       "is logged in as"))
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
            return self._mode_of_channel(found[0], msg)
        if target.lower() != (self.nick or "").lower():
            if self.world.user(target) is None:
                return [self.reply_text(N.ERR_NOSUCHNICK, clean(target)[:64],
                                        "No such nick/channel")]
            return [self.reply_text(N.ERR_USERSDONTMATCH, "Can't change mode for other users")]
        if len(msg.params) < 2:
            return [self.reply(N.RPL_UMODEIS, "+" + "i" * self.invisible +
                               "o" * self._operator())]
        return self._user_modes(msg.params[1])

    def _operator(self) -> bool:
        """Whether this client has a server operator's powers (OPER, or its account's)."""
        user = self.world.user(self.nick or "")
        return user is not None and user.operator

    def _user_modes(self, modes: str) -> List[bytes]:
        adding, changed, unknown = True, "", False
        for char in modes:
            if char in "+-":
                adding = char == "+"
            elif char == "i":
                if self.invisible != adding:
                    self.invisible = adding
                    changed += ("+" if adding else "-") + "i"
            elif char == "o":  # only OPER gives +o (RFC 2812 3.1.5): "+o" is ignored
                if not adding and self._operator():
                    self.world.unoper()
                    if not self._operator():
                        changed += "-o"
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
