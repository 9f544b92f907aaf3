"""One IRC client's side of the chat: registration, then its commands. Pure.

An `IrcSession` turns the client's `selchat.irc.message.Message`\\ s into
replies (IRC lines, bytes) and into line-protocol commands for the room,
through a `selchat.irc.world.World`: the room as this client sees it (the
IRC kind's adapter of `selchat.room.ChatRoom`, or a test's). Its lookups
(WHO, WHOIS, MODE, MOTD...) are its part `selchat.irc.queries`. What the room answers
this client (``*** You joined #dev``, ``!!! name taken: bob``) comes back
from `World.command` and is turned into the reply IRC gives (a JOIN
echo and its names, ERR_NICKNAMEINUSE); what the room tells others is the
room's business and reaches IRC clients rendered (`selchat.irc.render`).

Registration: PASS (with ``--server-password``: given before NICK and USER,
else ERR_PASSWDMISMATCH and the link closes), NICK and USER, held while
CAP negotiation is open; then 001-005, LUSERS,
and the MOTD; then the client JOINs the channels it wants (the default room
too), as on any IRC server.
Nicks are selchat names: one namespace with one set of rules
(`selchat.names`), so a nick a terminal user holds, or one that looks like
it, is in use, and a name selchat refuses is ERR_ERRONEUSNICKNAME. A
registered name (docs/accounts.rst) is in use too for anyone but its owner.
"""
from typing import Dict, List, Optional, Sequence, Tuple

from selchat import wire
from selchat.accounts.login import NOT_OPERATOR
from selchat.irc import numerics as N
from selchat.irc.caps import Caps
from selchat.irc.chathistory import History
from selchat.irc.message import Message, encode, escape
from selchat.irc.queries import VERSION, Queries
from selchat.irc.render import mask
from selchat.irc.replay import CHATHISTORY, replay
from selchat.irc.sasl import MECHANISMS, Credentials, Plain, mechanism
from selchat.irc.topic import topic_replies
from selchat.irc.world import World
from selchat.names import MAX_NAME
from selchat.sanitize import clean
from selchat.wire import ServerLine

#: The commands a client may send before it registers.
_BEFORE = frozenset({"CAP", "NICK", "USER", "PASS", "PING", "PONG", "QUIT", "AUTHENTICATE"})
_ACTION = "\x01ACTION "


class IrcSession(Queries, History):
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
        self.password: Optional[str] = None  # PASS's, until registration uses it
        self.passed = False  # the server password was right (or none is wanted)
        self.account: Optional[str] = None  # logged in with SASL as
        self.sasl: Optional[Plain] = None  # a SASL exchange under way
        self.checking = False  # its password is being checked: registration waits
        self.away = ""
        self.invisible = False

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
        missing = self._needs(msg, 1)
        if missing:
            return missing
        self.password = msg.params[0]  # checked at registration (none wanted: ignored)
        return []

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
            refusal = self.world.refusal(new)
            if refusal and " is registered: " not in refusal:  # that: SASL may log in first
                return self._nick_error(new, refusal)
            self.nick = new
            return self._try_register()
        if new == self.nick:
            return []
        refused = self._nick_refused(new)
        if refused:
            return refused
        old = self.mask()
        answer = self.world.command(f"/nick {new}", exclude_self=True)
        refused = self._refusal_lines(new, answer)
        if refused:
            return refused
        self.nick = new
        return [encode(old, "NICK", [new])]  # its own, so a label goes on it

    def _nick_refused(self, nick: str) -> List[bytes]:
        refusal = self.world.refusal(nick)
        return self._nick_error(nick, refusal) if refusal else []

    def _nick_error(self, nick: str, refusal: str) -> List[bytes]:
        if refusal.startswith("name taken"):
            return [self.reply_text(N.ERR_NICKNAMEINUSE, clean(nick)[:64],
                                    "Nickname is already in use")]
        if " is registered: " in refusal:  # another's account: in use (log in with SASL)
            return [self.reply_text(N.ERR_NICKNAMEINUSE, clean(nick)[:64], refusal)]
        if refusal.startswith("you are banned from this server"):
            return [self.reply_text(N.ERR_YOUREBANNEDCREEP, refusal),
                    encode(None, "ERROR", [f"Closing link: {refusal}"], trailing=True)]
        return [self.reply_text(N.ERR_ERRONEUSNICKNAME, clean(nick)[:64] or "*",
                                f"Erroneous nickname: {refusal}")]

    def _refusal_lines(self, nick: str, answer: List[ServerLine]) -> List[bytes]:
        for line in answer:
            if line.kind is wire.LineType.ERROR:
                return self._nick_error(nick, line.text)
        return []

    def _try_register(self) -> List[bytes]:
        if self.registered or self.nick is None or self.user is None or self.caps.negotiating \
                or self.checking:
            return []
        refused = self._server_password()
        if refused:
            return refused
        refused = self._nick_refused(self.nick)  # registered meanwhile? (no password prompt)
        if refused:
            self.nick = None
            return refused
        answer = self.world.command(self.nick)
        refused = self._refusal_lines(self.nick, answer)
        if refused:
            self.nick = None
            return refused
        # IRC's way: a client starts in no channel and joins what it wants
        # (the default room too, as #lobby): the kind names it outside.
        self.registered = True
        return self.welcome()

    def _server_password(self) -> List[bytes]:
        """ERR_PASSWDMISMATCH and the link's end unless PASS gave the server's
        password (the room closes the connection and counts the guess)."""
        if self.passed or not self.world.server_password_wanted():
            return []
        answer = self.world.command(self.password or "")
        if _error_of(answer) is not None:
            return [self.reply_text(N.ERR_PASSWDMISMATCH, "Password incorrect"),
                    encode(None, "ERROR", ["Closing link: wrong server password"],
                           trailing=True)]
        self.password, self.passed = None, True
        return []

    # -- SASL (PLAIN): a registered name's password, before registration or after -------

    def _authenticate(self, msg: Message) -> List[bytes]:
        missing = self._needs(msg, 1)
        if missing:
            return missing
        if not self.caps.has("sasl"):
            return [self.reply_text(N.ERR_SASLFAIL, "SASL authentication failed: CAP REQ sasl")]
        if self.account is not None:
            return [self.reply_text(N.ERR_SASLALREADY, "You have already authenticated")]
        if msg.params[0] == "*":
            self.sasl = None
            return [self.reply_text(N.ERR_SASLABORTED, "SASL authentication aborted")]
        if self.checking:
            return [self.reply_text(N.ERR_SASLFAIL, "SASL authentication failed: wait: "
                                                    "being checked")]
        if self.sasl is None:
            if mechanism(msg.params[0]) is None:
                return [self.reply_text(N.RPL_SASLMECHS, MECHANISMS,
                                        "are the available SASL mechanisms"),
                        self.reply_text(N.ERR_SASLFAIL, "SASL authentication failed")]
            self.sasl = Plain()
            return [encode(None, "AUTHENTICATE", ["+"])]
        got = self.sasl.piece(msg.params[0])
        if got is None:
            return []
        self.sasl = None
        if got == "piece too long":
            return [self.reply_text(N.ERR_SASLTOOLONG, "SASL message too long")]
        if not isinstance(got, Credentials):
            return [self.reply_text(N.ERR_SASLFAIL, f"SASL authentication failed: {got}")]
        refused = self._server_password()  # it comes first (PASS)
        if refused:
            return refused
        self.checking = True
        self.world.authenticate(got.account, got.password)
        return []

    def authenticated(self, account: Optional[str], why: str) -> List[bytes]:
        """The room's answer to `World.authenticate` (`account`: logged in as)."""
        self.checking = False
        if account is None:
            return [self.reply_text(N.ERR_SASLFAIL, f"SASL authentication failed: {why}"),
                    *self._try_register()]
        self.account = account
        nick = self.nick or "*"
        return [self.reply_text(N.RPL_LOGGEDIN, mask(nick, self.host), account,
                                f"You are now logged in as {account}"),
                self.reply_text(N.RPL_SASLSUCCESS, "SASL authentication successful"),
                *self._try_register()]

    # -- OPER: a server operator's name and password -------------------------------------

    def _oper(self, msg: Message) -> List[bytes]:
        missing = self._needs(msg, 2)
        if missing:
            return missing
        self.world.oper(msg.params[0], msg.params[1])  # checked off the loop: `opered`
        return []

    def opered(self, account: Optional[str], why: str) -> List[bytes]:
        """The room's answer to `World.oper`: RPL_YOUREOPER and user mode +o,
        or ERR_NOOPERHOST (not an operator's account) / ERR_PASSWDMISMATCH."""
        if account is None:
            if NOT_OPERATOR in why:
                return [self.reply_text(N.ERR_NOOPERHOST, f"No O-lines for your host: {why}")]
            return [self.reply_text(N.ERR_PASSWDMISMATCH, f"Password incorrect: {why}")]
        return [self.reply_text(N.RPL_YOUREOPER, f"You are now an IRC operator (as {account})"),
                encode(self.mask(), "MODE", [self.me, "+o"])]

    def welcome(self) -> List[bytes]:
        """001-005, LUSERS and the MOTD."""
        nick = self.me
        return [
            self.reply_text(N.RPL_WELCOME, f"Welcome to the {self.network} IRC network, "
                                           f"{self.mask()}"),
            self.reply_text(N.RPL_YOURHOST, f"Your host is {self.server}, running {VERSION}"),
            self.reply_text(N.RPL_CREATED, "This server was created for chatting"),
            self.reply(N.RPL_MYINFO, self.server, VERSION, "io", "bikmlnostv"),
            *self.isupport(),
            *self._lusers(Message("LUSERS", [])),
            *self._motd(Message("MOTD", [])),
        ] if nick else []

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
        else:  # not a member yet (a SASL check may be under way): the link just ends
            self.world.hang_up()
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
        keys = msg.param(1).split(",")
        for index, channel in enumerate(msg.params[0].split(",")):
            if not channel or channel.lower() in mine:
                continue  # already in it: nothing to say, as most servers
            key = keys[index] if index < len(keys) and " " not in keys[index] else ""
            answer = self.world.command(f"/join {channel} {key}".rstrip())
            error = _error_of(answer)
            if error is not None and not self._in(channel):  # (in, it may be muted: +m)
                out.append(self._join_error(channel, error))
                continue
            out += self._joined(channel)
        return out

    def _join_error(self, channel: str, error: str) -> bytes:
        shown = clean(channel)[:64]
        for words, numeric in _JOIN_REFUSALS:
            if words in error:
                return self.reply_text(numeric, shown, error)
        return self.reply_text(N.ERR_NOSUCHCHANNEL, shown, error)

    def _joined(self, channel: str) -> List[bytes]:
        """The JOIN echo, the topic and the names of a room just joined."""
        found = self.world.names(channel)
        name = found[0] if found else channel
        if self.caps.has("extended-join"):  # as the others with it see it (`selchat.irc.render`)
            params = [name, self.account or "*", self.user[1] if self.user else self.me]
            out = [encode(self.mask(), "JOIN", params, tags=self._signed(), trailing=True)]
        else:
            out = [encode(self.mask(), "JOIN", [name], tags=self._signed())]
        out += topic_replies(self, name, self.world.topic_who(name))
        return out + self._names_of(name) + self._replayed(name)

    def _replayed(self, channel: str) -> List[bytes]:
        """The room's last lines on joining it (`selchat.irc.replay`): none
        for a client that fetches history itself."""
        if self.caps.has(CHATHISTORY):
            return []
        return replay(self.world.replayed(channel), channel, self.server, self.caps.tags(),
                      self.caps.has("batch"))

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
        symbol = "="
        if found is not None and self.world.secret(found[0]):  # +s: its members only
            symbol = "@"
            if not self._in(found[0]):
                found = None
        if found is not None:
            name, members = found
            with_host, every = self.caps.has("userhost-in-names"), self.caps.has("multi-prefix")
            shown = []
            for each in members:
                bare = each.lstrip("@+")
                prefix = each[:len(each) - len(bare)]
                shown.append((prefix if every else prefix[:1]) +
                             (mask(bare, self.host) if with_host else bare))
            # Lines of at most about 400 bytes of names: far under 512 with the rest.
            line: List[str] = []
            size = 0
            for each in shown:
                if line and size + len(each.encode()) > 400:
                    out.append(self.reply_text(N.RPL_NAMREPLY, symbol, name, " ".join(line)))
                    line, size = [], 0
                line.append(each)
                size += len(each.encode()) + 1
            if line:
                out.append(self.reply_text(N.RPL_NAMREPLY, symbol, name, " ".join(line)))
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
            return topic_replies(self, name, self.world.topic_who(name)) or [
                self.reply_text(N.RPL_NOTOPIC, name, "No topic is set")]
        if name.lower() not in {each.lower() for each in self.world.channels()}:
            return [self.reply_text(N.ERR_NOTONCHANNEL, name, "You're not on that channel")]
        text = clean(msg.params[1])
        if not text.strip():
            refusal = self.world.clear_topic(name)
            if refusal is not None:
                return [self.reply_text(N.ERR_CHANOPRIVSNEEDED, name, refusal)]
            return [encode(self.mask(), "TOPIC", [name, ""])]
        # The room's own line comes back (its time and msgid, as CHATHISTORY gives
        # it later), unless labelled: then the reply is the TOPIC, with the label.
        labelled = bool(msg.tags.get("label")) and self.caps.has("labeled-response")
        answer = self.world.command(f"/topic {name} {text}", echo=not labelled)
        error = _error_of(answer)
        if error is not None:
            return [self.reply_text(N.ERR_CHANOPRIVSNEEDED, name, error)]
        if not labelled:
            return []
        return [encode(self.mask(), "TOPIC", [name, self.world.topic(name) or text],
                       trailing=True)]

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
                why = self.world.speech_refusal(name) or "Cannot send to channel"
                return [] if notice else [self.reply_text(N.ERR_CANNOTSENDTOCHAN, name, why)]
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
            stamp = {} if target.startswith("#") else self.world.stamp()
            shown: Dict[str, str] = {}
            if self.caps.has("server-time") and "time" in stamp:
                shown["time"] = stamp["time"]
            if self.caps.has("message-tags"):
                shown.update({key: value for key, value in stamp.items() if key == "msgid"})
                shown.update(client or {})
            shown.update(self._signed() or {})
            return [encode(self.mask(), command, [target, body], tags=shown or None,
                           trailing=True)]
        return []

    def _signed(self) -> Optional[Dict[str, str]]:
        """account-tag on this client's own lines shown back to it: its account."""
        if self.account is not None and self.caps.has("account-tag"):
            return {"account": self.account}
        return None

    def _tagmsg(self, msg: Message) -> List[bytes]:
        if not msg.params or not msg.params[0]:
            return [self.reply_text(N.ERR_NORECIPIENT, "No recipient given (TAGMSG)")]
        client = {key: value for key, value in msg.tags.items() if key.startswith("+")}
        out: List[bytes] = []
        for target in msg.params[0].split(","):
            if not target:
                continue
            if target.startswith("#") and (target.lower() not in {
                    each.lower() for each in self.world.channels()}
                    or self.world.speech_refusal(target)):  # muted, +m: no reactions either
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

#: A refused JOIN's words (`selchat.accounts.authority.join_refusal`) and
#: the numeric IRC gives for it.
_JOIN_REFUSALS = (("you are banned from", N.ERR_BANNEDFROMCHAN),
                  ("is invite-only", N.ERR_INVITEONLYCHAN),
                  ("needs its key", N.ERR_BADCHANNELKEY),
                  ("is full", N.ERR_CHANNELISFULL),
                  ("not an operator of", N.ERR_CHANOPRIVSNEEDED),
                  ("too many", N.ERR_TOOMANYCHANNELS),
                  ("at most", N.ERR_TOOMANYCHANNELS))


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
    if _one_batch(replies):  # a batch already (chathistory): its opening line carries the label
        return [_with_tag(replies[0], tag), *replies[1:]]
    ref = "L" + "".join(ch for ch in label if ch.isalnum())[:16]
    # A line of a batch inside (a JOIN's replay) keeps its own; its BATCH lines are ours.
    return [_with_tag(encode(server, "BATCH", ["+" + ref, "labeled-response"]), tag),
            *(reply if reply.startswith(b"@batch=") else _with_tag(reply, f"batch={ref}")
              for reply in replies),
            encode(server, "BATCH", ["-" + ref])]


def _one_batch(replies: List[bytes]) -> bool:
    """`replies` are one batch, from its ``BATCH +ref`` to its ``BATCH -ref``."""
    opening = replies[0].split(b" ", 3)
    if len(opening) < 3 or opening[1] != b"BATCH" or not opening[2].startswith(b"+"):
        return False
    return replies[-1].rstrip(b"\r\n").split(b" ")[1:3] == [b"BATCH", b"-" + opening[2][1:]]


def _with_tag(line: bytes, tag: str) -> bytes:
    if line.startswith(b"@"):
        return b"@" + tag.encode() + b";" + line[1:]
    return b"@" + tag.encode() + b" " + line
