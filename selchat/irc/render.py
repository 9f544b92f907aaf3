"""The room's lines as IRC lines: a pass's payload rendered once per variant.

The room speaks the line protocol (`selchat.wire`); a pass's lines are
joined once (`selchat.batch`) and each variant of its recipients gets them
rendered once (`selchat.output`). A variant is what a client's caps change
in the room's lines (`selchat.irc.caps.Caps.variant`): its tags (none,
``time`` for server-time, or every tag for message-tags: ``time`` and
``msgid``), whether a user's line carries its ``account`` (account-tag), and
whether a JOIN says the account and the realname (extended-join). A
`Renderer` makes one function per variant (`Renderer.variant`, at most 12,
each made once): a line-protocol item in, IRC lines out, the same bytes for
every IRC client of the variant. So an IRC user in a busy room costs what a
terminal user costs: a reference to shared bytes, not a line built per
recipient. The account is the *speaker's*: it is looked up once per line and
variant (`account_of`), never per recipient.

The mapping, item by item (``#room`` is the line's room prefix, or the
default room for a line without one)::

    <alice> hi                      :alice!alice@HOST PRIVMSG #room :hi
    * alice waves                   :alice!alice@HOST PRIVMSG #room :\\x01ACTION waves\\x01
    *alice* psst (direct)           :alice!alice@HOST PRIVMSG <recipient> :psst
    *** alice has joined ...        JOIN #room
    *** alice has left #dev (bye).  PART #dev :bye
    *** alice has left the chat room (bye).   QUIT :bye
    *** alice is now known as al    NICK al
    *** alice set the topic: T      TOPIC #room :T
    *** Server is shutting down.    ERROR :Closing link: the server is shutting down
    *** -alice- hi (a NOTICE)       :alice!alice@HOST NOTICE <#room or recipient> :hi
    any other *** or !!! line       :SERVER NOTICE <#room or recipient> :text

A ``msgid`` is the room line's number in the server's one sequence with the
history's epoch in front (``EPOCH-SEQ``): unique across restarts, and the
same number a ``/tags`` client sees as ``seq``. Lines longer than IRC's 512
bytes are split at character boundaries into several messages.
"""
import functools
import re
from typing import Callable, Dict, List, Optional, Tuple, cast

from selchat import wire
from selchat.batch import Render
from selchat.effect_types import OUTSIDE, Broadcast, Send
from selchat.irc.message import MAX_REST, encode, escape
from selchat.tags import format_time

#: The note of an item that is IRC already (the IRC kind's own replies): as it is.
RAW = object()
#: What IRC allows a line, CR LF included (tags aside).
LINE = 512
_TOPIC_SET = re.compile(r"(\S+) set the topic: (.*)")
#: An IRC client's NOTICE as the others read it (`selchat.irc.view.RoomView.notice`).
_NOTICE = re.compile(r"-(\S+)- (.*)")
#: Put off the server (`selchat.moderation`): its connection closes next, IRC's ERROR.
_PUT_OUT = re.compile(r"you were (?:kicked|banned) from this server .*")
#: Put out of a room: what the room is told, and what the member is told.
_KICKED = re.compile(r"(\S+) was (?:kicked|banned) from (#\S+) by (\S+)(.*)")
_YOU_KICKED = re.compile(r"you were (?:kicked|banned) from (#\S+) by (\S+)(.*)")
_INVITED = re.compile(r"(\S+) invites you to (#\S+): /join \S+")
#: An invitation told to the room: IRC tells only the one invited (and the
#: inviter, 341); its members hear of it with the invite-notify cap, not here.
_INVITED_ROOM = re.compile(r"\S+ invited \S+ to #\S+")
#: Moderation's announcements that are MODE changes: (pattern, mode, its argument's group).
_MODES = (
    (re.compile(r"(\S+) set mode ([+-](?:[imnst]+|[kl]))(?: (\S+))? on (#\S+)"), "", 3),
    (re.compile(r"(\S+) made (\S+) an operator of (#\S+)"), "+o", 2),
    (re.compile(r"(\S+) took (\S+)'s operator role in (#\S+)"), "-o", 2),
    (re.compile(r"(\S+) gave (\S+) a voice in (#\S+)"), "+v", 2),
    (re.compile(r"(\S+) took (\S+)'s voice in (#\S+)"), "-v", 2),
    (re.compile(r"(\S+) banned (\S+) from (#\S+).*"), "+b", 2),
    (re.compile(r"(\S+) lifted the ban on (\S+) in (#\S+)"), "-b", 2),
)


def _arrived_outside(note: object) -> bool:
    """A line from the bus (its note: seq, time) that says a member arrived
    outside the default room (`selchat.bus.bridge`): an IRC client, which
    joins channels itself, so its "joined the chat" is no JOIN of any."""
    return len(cast(tuple, note)) > 2 and cast(tuple, note)[2] == OUTSIDE


def _reason(rest: str) -> str:
    """" (spam)" -> "spam": a put-out line's reason, if it has one."""
    rest = rest.strip()
    if rest.endswith(")") and "(" in rest:
        return rest[rest.rindex("(") + 1:-1]
    return rest


def mask(name: str, host: str) -> str:
    """A selchat name as an IRC source: ``name!name@host`` (every user, IRC or
    not, is shown this way: names are the one identity selchat has)."""
    return f"{name}!{name}@{host}"


def _no_account(name: str) -> Optional[str]:
    return None


class Renderer:
    """`server_name` in server notices; `host` in every user's mask;
    `default_room` is the channel of lines without a room prefix; `epoch()`
    and `time_ms()` the history's epoch and the pass's time; `nick_of(target)`
    a direct line's recipient's name; `account_of(name)` the account a
    member is logged in to (None: none), `realname_of(name)` its realname."""

    def __init__(self, server_name: str, host: str, default_room: str,
                 epoch: Callable[[], str], time_ms: Callable[[], int],
                 nick_of: Callable[[object], Optional[str]],
                 account_of: Callable[[str], Optional[str]] = _no_account,
                 realname_of: Callable[[str], str] = str) -> None:
        self.server_name = server_name
        self.host = host
        self.default_room = default_room
        self._epoch = epoch
        self._time_ms = time_ms
        self._nick_of = nick_of
        self._account_of = account_of
        self._realname_of = realname_of
        #: The render function of each variant, made once (`variant`).
        self._variants: Dict[Tuple[Optional[str], bool, bool], Render] = {
            (None, False, False): self.plain, ("time", False, False): self.with_time,
            ("all", False, False): self.with_tags}
        #: This pass's lines that carry an IRC client's own tags (``+draft/reply``),
        #: by their payload: for message-tags clients (`carries`; the IRC kind
        #: empties it after each pass).
        self.client_tags: Dict[bytes, str] = {}

    def carries(self, effect: object, tags: Dict[str, str]) -> None:
        """`effect`'s line (a room line or a direct one) carries `tags` (an
        IRC client's own, and a direct line's msgid) to message-tags clients."""
        if isinstance(effect, (Broadcast, Send)):
            prefix = effect.room.prefix if effect.room is not None else b""
            text = self.client_tags[prefix + wire.encode(effect.line)] = ";".join(
                f"{key}={escape(value)}" if value else key for key, value in tags.items())
            if isinstance(effect, Broadcast):  # a bus carries them to every node with it
                effect.tags = text

    # -- the variants (`selchat.batch.Render`) -------------------------------------------

    def variant(self, tags: Optional[str], account: bool = False,
                extended_join: bool = False) -> Render:
        """The render function of a variant (`selchat.irc.caps.Caps.variant`):
        always the same object, as `selchat.output` keys a pass's renderings by it."""
        key = (tags, account, extended_join)
        made = self._variants.get(key)
        if made is None:
            made = self._variants[key] = functools.partial(
                self.render, tags=tags, account=account, extended_join=extended_join)
        return made

    def plain(self, payload: bytes, note: object, target: object) -> bytes:
        if note is RAW:
            return payload
        if note.__class__ is tuple and _arrived_outside(note):
            return b""
        return self.lines(payload, target, "")

    def with_time(self, payload: bytes, note: object, target: object) -> bytes:
        if note is RAW:
            return payload
        if note.__class__ is tuple and _arrived_outside(note):
            return b""
        return self.lines(payload, target, self._time_tag(note))

    def with_tags(self, payload: bytes, note: object, target: object) -> bytes:
        if note is RAW:
            return payload
        if note.__class__ is tuple and _arrived_outside(note):
            return b""
        return self.lines(payload, target, self._every_tag(payload, note))

    def render(self, payload: bytes, note: object, target: object, tags: Optional[str] = None,
               account: bool = False, extended_join: bool = False) -> bytes:
        """Any variant: `tags` None, "time" or "all"; `account`: a user's line
        says its account; `extended_join`: a JOIN its account and realname."""
        if note is RAW:
            return payload
        if note.__class__ is tuple and _arrived_outside(note):
            return b""
        head = "" if tags is None else self._time_tag(note) if tags == "time" else \
            self._every_tag(payload, note)
        return self.lines(payload, target, head, account, extended_join)

    def _time_tag(self, note: object) -> str:
        return "@time=" + format_time(self._when(note)) + " "

    def _every_tag(self, payload: bytes, note: object) -> str:
        tags = "@time=" + format_time(self._when(note))
        seq = note[0] if isinstance(note, tuple) else note
        if isinstance(seq, int):
            tags += f";msgid={escape(self._epoch())}-{seq}"
        client = None
        if note.__class__ is tuple and len(cast(tuple, note)) > 2:
            client = cast(tuple, note)[2]  # a line from the bus, with its client's tags
        elif self.client_tags:
            client = self.client_tags.get(payload)
        if client:
            tags += ";" + client
        return tags + " "

    def _when(self, note: object) -> int:
        """A line from the bus was said when its note says; the rest, this pass."""
        if isinstance(note, tuple) and len(note) > 1 and isinstance(note[1], int):
            return note[1]
        return self._time_ms()

    # -- the mapping --------------------------------------------------------------------

    def lines(self, payload: bytes, target: object, tags: str, account: bool = False,
              extended_join: bool = False) -> bytes:
        """Every line of `payload` as IRC lines, each with `tags` in front
        (and its speaker's account, with `account`)."""
        texts = payload.decode("utf-8", "replace").split("\n")
        if len(texts) == 2 and texts[0] and not texts[1]:  # one line, as most payloads are
            text = texts[0]  # the hot path: a chat line, no decoding of sentences
            return self._chat(text, tags, account) or \
                self._sentence(text, target, tags, account, extended_join)
        return b"".join([self._chat(text, tags, account) or
                         self._sentence(text, target, tags, account, extended_join)
                         for text in texts if text])

    def _sentence(self, text: str, target: object, tags: str, account: bool,
                  extended_join: bool) -> bytes:
        """One line of a payload that is no plain chat line, as IRC lines."""
        if account:
            return b"".join([self._with_account(tags, _speaker(line)).encode() + line
                             for line in self.line(text, target, extended_join)])
        head = tags.encode()
        return b"".join([head + line for line in self.line(text, target, extended_join)])

    def _chat(self, text: str, tags: str, account: bool = False) -> Optional[bytes]:
        """``[#room ]<name> text`` as a PRIVMSG, when it fits one IRC line
        (else None: `line` splits it): what most of a pass's lines are."""
        channel = self.default_room
        if text[0] == "#":
            channel, _, text = text.partition(" ")
        if text[:1] != "<":
            return None
        name, found, body = text[1:].partition("> ")
        if not found or " " in name:
            return None
        if account:
            tags = self._with_account(tags, name)
        line = f"{tags}:{name}!{name}@{self.host} PRIVMSG {channel} :{body}\r\n".encode()
        return line if len(line) - len(tags) <= LINE else None

    def _with_account(self, tags: str, name: Optional[str]) -> str:
        """`tags` (``@...;... `` or "") with ``account=`` of `name`, if logged in."""
        account = self._account_of(name) if name else None
        if not account:
            return tags
        tag = "account=" + escape(account)
        return f"{tags[:-1]};{tag} " if tags else f"@{tag} "

    def _join(self, name: str, channel: str, extended: bool) -> bytes:
        """``JOIN #room``; with extended-join ``JOIN #room ACCOUNT :realname``
        (``*``: not logged in)."""
        if not extended:
            return encode(mask(name, self.host), "JOIN", [channel])
        return encode(mask(name, self.host), "JOIN", [
            channel, self._account_of(name) or "*", self._realname_of(name)], trailing=True)

    def line(self, text: str, target: object, extended_join: bool = False) -> List[bytes]:
        room, rest = wire.split_room(text)
        channel = room or self.default_room
        said = wire.decode(rest)
        host = self.host
        if isinstance(said, wire.ServerLine):
            kind, body, name = said
            if kind is wire.LineType.CHAT and name:
                return split_message(mask(name, host), "PRIVMSG", channel, body)
            if kind is wire.LineType.ACTION and name:
                return split_message(mask(name, host), "PRIVMSG", channel, body, action=True)
            if kind is wire.LineType.PRIVATE and name:
                to = self._nick_of(target) if target is not None else None
                return split_message(mask(name, host), "PRIVMSG", to or "*", body)
            if kind is wire.LineType.SENT:
                return []  # a /tags client's confirmation: an IRC client has echo-message
            if kind is wire.LineType.ERROR:
                if _PUT_OUT.fullmatch(body):
                    return [encode(None, "ERROR", [f"Closing link: {body}"], trailing=True)]
                kicked = _YOU_KICKED.fullmatch(body)
                if kicked and target is not None:
                    return [encode(mask(kicked[2], host), "KICK", [
                        kicked[1], self._nick_of(target) or "*", _reason(kicked[3]) or
                        kicked[2]], trailing=True)]
            if kind is wire.LineType.NOTICE:
                topic = _TOPIC_SET.fullmatch(body)
                if topic:
                    return [encode(mask(topic[1], host), "TOPIC", [channel, topic[2]],
                                   trailing=True)]
                moderated = self._moderation(body, channel, target)
                if moderated:
                    return moderated
                if _INVITED_ROOM.fullmatch(body):
                    return []
                noticed = _NOTICE.fullmatch(body)
                if noticed:
                    to = channel if target is None else (self._nick_of(target) or "*")
                    return split_message(mask(noticed[1], host), "NOTICE", to, noticed[2])
        elif isinstance(said, wire.JoinNotice):
            return [self._join(said.name, self.default_room, extended_join)]
        elif isinstance(said, wire.RoomJoinNotice):
            return [self._join(said.name, said.room, extended_join)]
        elif isinstance(said, wire.LeaveNotice):
            return [encode(mask(said.name, host), "QUIT", [said.reason or "Left"], trailing=True)]
        elif isinstance(said, wire.RoomLeaveNotice):
            params = [said.room or channel, *([said.reason] if said.reason else [])]
            return [encode(mask(said.name, host), "PART", params, trailing=bool(said.reason))]
        elif isinstance(said, wire.Renamed):
            return [encode(mask(said.old, host), "NICK", [said.new])]
        elif isinstance(said, wire.ShuttingDown):  # its connection closes next: IRC's ERROR
            return [encode(None, "ERROR", ["Closing link: the server is shutting down"],
                           trailing=True)]
        # Anything else is the server talking: a notice, to the room or the recipient.
        to = channel if target is None else (self._nick_of(target) or "*")
        return split_message(self.server_name, "NOTICE", to, rest)


    def _moderation(self, body: str, channel: str, target: object) -> List[bytes]:
        """A moderation announcement as IRC tells it (KICK, MODE, INVITE), or []."""
        host = self.host
        kicked = _KICKED.fullmatch(body)
        if kicked:
            return [encode(mask(kicked[3], host), "KICK", [
                kicked[2], kicked[1], _reason(kicked[4]) or kicked[3]], trailing=True)]
        invited = _INVITED.fullmatch(body)
        if invited and target is not None:
            return [encode(mask(invited[1], host), "INVITE",
                           [self._nick_of(target) or "*", invited[2]])]
        for pattern, mode, group in _MODES:
            found = pattern.fullmatch(body)
            if found:
                argument = found[group] or ""
                if mode.endswith("b"):
                    argument += "!*@*"
                return [encode(mask(found[1], host), "MODE", [
                    found.groups()[-1], mode or found[2], *([argument] if argument else [])])]
        return []


def _speaker(line: bytes) -> Optional[str]:
    """Whose line `line` is (``:name!name@host ...``): None for the server's.
    A NICK is the member's under its new name (the one it is found by now)."""
    if line[:1] != b":":
        return None
    bang, space = line.find(b"!"), line.find(b" ")
    if not 0 < bang < space:
        return None
    if line.startswith(b"NICK ", space + 1):
        return line[space + 6:].rstrip(b"\r\n").lstrip(b":").decode("utf-8", "replace")
    return line[1:bang].decode("utf-8", "replace")


def split_message(source: str, command: str, to: str, text: str,
                  action: bool = False) -> List[bytes]:
    """``:source COMMAND to :text``, as several lines when one would be over
    `LINE` bytes (cut at character boundaries; an action stays an action).
    A text an IRC client could send in one line is never cut: it goes whole,
    a little over 512 bytes with its source in front (as clients take it),
    rather than with a tail of a few characters in a message of its own."""
    wrap = ("\x01ACTION ", "\x01") if action else ("", "")
    room = LINE - len(f":{source} {command} {to} :{wrap[0]}{wrap[1]}\r\n".encode())
    data = text.encode()
    sendable = MAX_REST - len(f"{command} {to} {wrap[0]}{wrap[1]}".encode())
    if len(data) <= max(room, sendable) or room < 16:
        return [encode(source, command, [to, wrap[0] + text + wrap[1]], trailing=True)]
    lines = []
    while data:
        cut = min(room, len(data))
        while cut < len(data) and (data[cut] & 0xC0) == 0x80:  # not inside a character
            cut -= 1
        chunk, data = data[:cut], data[cut:]
        lines.append(encode(source, command, [to, wrap[0] + chunk.decode() + wrap[1]],
                            trailing=True))
    return lines
