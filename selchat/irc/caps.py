"""IRCv3 capability negotiation (CAP LS 302, REQ, ACK, NAK, LIST, END). Pure.

A client that sends ``CAP LS`` or ``CAP REQ`` before it registers holds its
registration until ``CAP END``. A request is granted whole or refused whole
(``NAK``), as the specification says. ``cap-notify`` is on by itself for a
client that said ``CAP LS 302``.
"""
from typing import FrozenSet, List, NamedTuple, Optional, Set, Tuple

#: What selchat offers, in the order CAP LS lists it.
SUPPORTED = (
    "account-notify", "account-tag", "away-notify", "batch", "cap-notify", "echo-message",
    "extended-join", "labeled-response", "message-tags", "multi-prefix", "sasl",
    "server-time", "userhost-in-names",
    "draft/chathistory", "draft/event-playback",
)
#: Values CAP LS 302 shows (``sasl=PLAIN``: the mechanisms, `selchat.irc.sasl`).
VALUES = {"sasl": "PLAIN"}
_OFFERED: FrozenSet[str] = frozenset(SUPPORTED)


class CapReply(NamedTuple):
    """``CAP <nick> <subcommand> :<caps>`` (or ERR_INVALIDCAPCMD when `invalid`)."""

    subcommand: str
    caps: str
    invalid: bool = False


class Caps:
    __slots__ = ("enabled", "negotiating", "version")

    def __init__(self) -> None:
        self.enabled: Set[str] = set()
        #: Registration waits for CAP END.
        self.negotiating = False
        self.version = 0  # the LS version asked for (0: none, 302: values and cap-notify)

    def handle(self, params: List[str], registered: bool) -> List[CapReply]:
        """One CAP command's `params`: the replies."""
        sub = params[0].upper() if params else ""
        if sub == "LS":
            self.negotiating = self.negotiating or not registered
            version = params[1] if len(params) > 1 else ""
            if version.isdecimal() and version.isascii():
                self.version = max(self.version, int(version))
                if self.version >= 302:
                    self.enabled.add("cap-notify")
            if self.version >= 302:
                return [CapReply("LS", " ".join(
                    f"{cap}={VALUES[cap]}" if cap in VALUES else cap for cap in SUPPORTED))]
            return [CapReply("LS", " ".join(SUPPORTED))]
        if sub == "LIST":
            return [CapReply("LIST", " ".join(sorted(self.enabled)))]
        if sub == "REQ":
            self.negotiating = self.negotiating or not registered
            asked = params[1] if len(params) > 1 else ""
            return [self._request(asked)]
        if sub == "END":
            self.negotiating = False
            return []
        return [CapReply(sub or "*", "Invalid CAP command", invalid=True)]

    def _request(self, asked: str) -> CapReply:
        wanted = asked.split()
        names = [cap[1:] if cap.startswith("-") else cap for cap in wanted]
        if not wanted or any(name not in _OFFERED for name in names):
            return CapReply("NAK", asked)
        for cap, name in zip(wanted, names):
            if cap.startswith("-"):
                self.enabled.discard(name)
            else:
                self.enabled.add(name)
        return CapReply("ACK", asked)

    def has(self, cap: str) -> bool:
        return cap in self.enabled

    def tags(self) -> Optional[str]:
        """Which tagged variant of room lines this client gets: None (plain),
        "time" (server-time alone) or "all" (message-tags: time, msgid, label)."""
        if "message-tags" in self.enabled:
            return "all"
        if "server-time" in self.enabled:
            return "time"
        return None

    def variant(self) -> Tuple[Optional[str], bool, bool]:
        """What this client's caps change in the room's lines (the render
        variant, `selchat.irc.render.Renderer.variant`): its `tags`, whether
        they carry ``account`` (account-tag), and extended-join's JOIN."""
        enabled = self.enabled
        return self.tags(), "account-tag" in enabled, "extended-join" in enabled
