"""A room's last lines for an IRC client that joins it (``serve --replay``). Pure.

A terminal or web user joining a room is sent its last ``--replay`` lines; an
IRC client is sent what was *said* among them, as Ergo replays history on
JOIN to a client that does not fetch it itself, and after the JOIN's topic
and names:

* only messages (PRIVMSG, ACTION, NOTICE from a user): a replayed JOIN, PART
  or QUIT would tell the client's nick list that people came and went now,
  and the server's notices are no conversation;
* each is the line a live client of its variant got (`selchat.irc.render`):
  with server-time its ``time`` is when it was said, with message-tags its
  ``msgid`` is the one everyone got (``EPOCH-SEQ``);
* with ``batch`` they come in one batch of IRCv3's type ``chathistory``
  (clients show them as history); without it, between two notices of the
  server to the channel (``Last N lines:``, ``End of history.``, the line
  protocol's words), so a client without server-time can tell them from new;
* a client that negotiated `CHATHISTORY` (IRCv3's ``draft/chathistory``)
  asks for history itself: it gets none on joining.
"""
from typing import Callable, List, NamedTuple, Optional, Sequence

from selchat import wire
from selchat.history import Line
from selchat.irc.chathistory import is_message
from selchat.irc.message import encode, escape
from selchat.tags import format_time

#: The capability of a client that fetches history itself (the CHATHISTORY
#: command): no replay on joining for it.
CHATHISTORY = "draft/chathistory"
#: IRCv3's batch type for history played back.
BATCH_TYPE = "chathistory"
#: The batch's reference: one replay is open at a time on a connection (in
#: one reply), so one name does, and it differs from labeled-response's ("L...").
BATCH_REF = "history"


class Said(NamedTuple):
    """A kept line someone said, as IRC shows it: its line (no tags; a long
    one is several), when it was said, its msgid."""

    line: bytes
    time_ms: int
    msgid: str


def said(lines: Sequence[Line], render: Callable[[bytes], bytes], epoch: str) -> List[Said]:
    """What someone said among a room's kept `lines` (`render`: a line's bytes
    to plain IRC lines, `selchat.irc.render.Renderer.lines`; `epoch`: the
    history's, for the msgids)."""
    return [Said(render(bytes(kept.data)), kept.time_ms, f"{epoch}-{kept.seq}")
            for kept in lines if is_message(kept)]  # CHATHISTORY's rule: a user's, said


def replay(lines: Sequence[Said], channel: str, server: str, variant: Optional[str],
           batch: bool) -> List[bytes]:
    """`lines` of `channel` as one client is sent them: `variant` is its
    tags (`selchat.irc.caps.Caps.tags`: None, "time" or "all"), `batch`
    whether it negotiated ``batch``; nothing for no lines."""
    if not lines:
        return []
    head = f"batch={BATCH_REF};" if batch else ""
    out = []
    for each in lines:
        tags = head
        if variant is not None:
            tags += "time=" + format_time(each.time_ms) + ";"
            if variant == "all":
                tags += "msgid=" + escape(each.msgid) + ";"
        prefix = b"@" + tags[:-1].encode() + b" " if tags else b""
        out += [prefix + piece + b"\r\n" for piece in each.line.split(b"\r\n") if piece]
    if batch:
        return [encode(server, "BATCH", ["+" + BATCH_REF, BATCH_TYPE, channel]), *out,
                encode(server, "BATCH", ["-" + BATCH_REF])]
    return [encode(server, "NOTICE", [channel, wire.history_start(len(lines)).text],
                   trailing=True),
            *out, encode(server, "NOTICE", [channel, wire.history_end().text], trailing=True)]
