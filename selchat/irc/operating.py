"""KICK, INVITE and channel MODE changes: IRC's words for selchat's
moderation (`selchat.moderation`). Pure: a part of
`selchat.irc.session.IrcSession`.

Each becomes the line protocol's command (``/kick``, ``/invite``, ``/op``,
``/mode #room +m``, ``/ban``...), so the room decides who may, as for every
other front; what it tells the room comes back rendered as KICK, INVITE and
MODE lines (`selchat.irc.render`). A refusal is the numeric IRC gives:
ERR_CHANOPRIVSNEEDED for "you are not an operator", ERR_USERNOTINCHANNEL,
ERR_NOSUCHNICK, ERR_USERONCHANNEL, ERR_UNKNOWNMODE, ERR_INVALIDMODEPARAM.
"""
from typing import TYPE_CHECKING, List, Optional

from selchat.accounts.commands import FLAGS
from selchat.irc import numerics as N
from selchat.irc.message import Message, encode
from selchat.sanitize import clean
from selchat.wire import LineType, ServerLine

#: Channel modes a MODE change may carry, and whether they take a parameter
#: when set (+) and when unset (-).
CHANNEL_MODES = {"o": (True, True), "v": (True, True), "b": (True, True),
                 "i": (False, False), "m": (False, False), "n": (False, False),
                 "t": (False, False), "s": (False, False), "k": (True, False),
                 "l": (True, False)}


class Operating:
    """The moderation commands of an `selchat.irc.session.IrcSession`."""

    if TYPE_CHECKING:
        from selchat.irc.world import World
        world: World
        nick: Optional[str]
        server: str

        def reply_text(self, numeric: str, *params: str) -> bytes:
            ...

        def reply(self, numeric: str, *params: str) -> bytes:
            ...

        def mask(self) -> str:
            ...

        def _needs(self, msg: Message, count: int) -> Optional[List[bytes]]:
            ...

    def _refused(self, channel: str, answer: List[ServerLine],
                 target: str = "") -> Optional[List[bytes]]:
        """The numeric for the room's refusal in `answer`, or None (done)."""
        for line in answer:
            if line.kind is not LineType.ERROR:
                continue
            text = line.text
            if text.startswith("you are not an operator of"):
                return [self.reply_text(N.ERR_CHANOPRIVSNEEDED, channel, text)]
            if text.startswith("no such user") or text.startswith("no such"):
                return [self.reply_text(N.ERR_NOSUCHNICK, clean(target)[:64] or "*", text)]
            if " is not in " in text:
                return [self.reply_text(N.ERR_USERNOTINCHANNEL, clean(target)[:64], channel,
                                        text)]
            return [encode(self.server, "NOTICE", [self.nick or "*", f"{channel}: {text}"],
                           trailing=True)]
        return None

    def _channel(self, target: str) -> Optional[str]:
        found = self.world.names(target)
        return None if found is None else found[0]

    def _no_channel(self, target: str) -> List[bytes]:
        return [self.reply_text(N.ERR_NOSUCHCHANNEL, clean(target)[:64], "No such channel")]

    def _kick(self, msg: Message) -> List[bytes]:
        missing = self._needs(msg, 2)
        if missing:
            return missing
        channel = self._channel(msg.params[0])
        if channel is None:
            return self._no_channel(msg.params[0])
        reason = clean(msg.param(2))
        out: List[bytes] = []
        for nick in msg.params[1].split(","):
            if nick:
                answer = self.world.command(f"/kick {channel} {nick} {reason}".rstrip())
                out += self._refused(channel, answer, nick) or []
        return out

    def _invite(self, msg: Message) -> List[bytes]:
        missing = self._needs(msg, 2)
        if missing:
            return missing
        nick, target = msg.params[0], msg.params[1]
        channel = self._channel(target)
        if channel is None:
            return self._no_channel(target)
        if channel.lower() not in {each.lower() for each in self.world.channels()}:
            return [self.reply_text(N.ERR_NOTONCHANNEL, channel, "You're not on that channel")]
        user = self.world.user(nick)
        if user is None:
            return [self.reply_text(N.ERR_NOSUCHNICK, clean(nick)[:64], "No such nick/channel")]
        if channel.lower() in {each.lower() for each in user.channels}:
            return [self.reply_text(N.ERR_USERONCHANNEL, user.nick, channel,
                                    "is already on channel")]
        answer = self.world.command(f"/invite {user.nick} {channel}")
        return self._refused(channel, answer, nick) or [
            self.reply(N.RPL_INVITING, user.nick, channel)]

    def _channel_mode(self, channel: str, modes: str, arguments: List[str]) -> List[bytes]:
        """A MODE change of `channel`, flag by flag, through the room's commands;
        a run of flags without a parameter and of one sign (``-int``) is one
        command, so the channel hears one ``MODE #chan -int``."""
        out: List[bytes] = []
        adding, unknown, run = True, "", ""
        for flag in modes + "+":  # the last "+" ends the last run
            if flag in "+-" or (run and flag not in FLAGS):
                if run:
                    out += self._mode_command(channel, f"{'+' if adding else '-'}{run}", "")
                    run = ""
                    if out and _chanop_refusal(out[-1]):
                        break  # one is enough: the rest would say the same
                if flag in "+-":
                    adding = flag == "+"
                    continue
            takes = CHANNEL_MODES.get(flag)
            if takes is None:
                unknown += flag
                continue
            if flag in FLAGS:
                run += flag
                continue
            argument = ""
            if takes[0 if adding else 1]:
                if not arguments:
                    if flag == "b":
                        out += self._ban_list(channel)
                    continue
                argument = arguments.pop(0)
            out += self._mode_command(channel, f"{'+' if adding else '-'}{flag}", argument)
            if out and _chanop_refusal(out[-1]):
                break
        for flag in unknown:
            out.append(self.reply_text(N.ERR_UNKNOWNMODE, flag, "is an unknown mode char to me"))
        return out

    def _mode_command(self, channel: str, change: str, argument: str) -> List[bytes]:
        """One change (``+o NAME``, ``-int``) as the room's command: its refusal, if any."""
        sign, flag = change[0], change[1]
        if flag == "o":
            command = f"/{'op' if sign == '+' else 'deop'} {channel} {argument}"
        elif flag == "b":
            name = argument.partition("!")[0]
            if not name or "*" in name or "?" in name:
                return []  # selchat bans names (and a server ban, addresses): no masks
            command = f"/{'ban' if sign == '+' else 'unban'} {channel} {name}"
        else:
            command = f"/mode {channel} {change} {argument}".rstrip()
        answer = self.world.command(command)
        if any(line.kind is LineType.ERROR and line.text.startswith("usage: /mode")
               for line in answer):  # a key is a secret: not repeated
            shown = "*" if flag == "k" or not argument else clean(argument)[:64]
            return [self.reply_text(N.ERR_INVALIDMODEPARAM, channel, flag, shown,
                                    f"Invalid {change} parameter")]
        return self._refused(channel, answer, argument) or []

    def _mode_of_channel(self, channel: str, msg: Message) -> List[bytes]:
        """MODE #channel [CHANGES [ARGUMENTS]]: its modes, or changes."""
        if len(msg.params) < 2:
            return [self.reply(N.RPL_CHANNELMODEIS, channel, *self.world.modes(channel).split()),
                    self.reply(N.RPL_CREATIONTIME, channel, "0")]
        return self._channel_mode(channel, msg.params[1], msg.params[2:])

    def _ban_list(self, channel: str) -> List[bytes]:
        return [*(self.reply(N.RPL_BANLIST, channel, f"{name}!*@*")
                  for name in self.world.bans(channel)),
                self.reply_text(N.RPL_ENDOFBANLIST, channel, "End of channel ban list")]


def _chanop_refusal(line: bytes) -> bool:
    """Whether `line` is ERR_CHANOPRIVSNEEDED."""
    return line.split(b" ")[1] == N.ERR_CHANOPRIVSNEEDED.encode()
