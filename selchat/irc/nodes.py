"""IRC and the other nodes' members (``--bus``): account-notify for another
node's member, whose node told a login or logout (`selchat.member_status`):
the clients here that asked and share a room with it get ``ACCOUNT``, as for
a member of this node (`selchat.irc.kind.IrcKind._account_changed`)."""
from typing import TYPE_CHECKING

from selchat.irc.message import encode
from selchat.irc.render import mask
from selchat.names import name_key

if TYPE_CHECKING:
    from selchat.irc.kind import IrcKind


def remote_account(kind: "IrcKind", name: str, account: str) -> None:
    """``ACCOUNT NAME ACCOUNT`` (``*``: logged out), made once, for the
    clients that asked and share a room with the member named `name`."""
    if not kind.account_notify:
        return
    rooms = kind._server._room.rooms
    key = name_key(name)
    shared = list(rooms.remote_of.get(key, ()))
    if key not in rooms.remote_outside:
        shared.append(rooms.default)
    line = [encode(mask(name, kind.server_name), "ACCOUNT", [account or "*"])]
    for other in kind.account_notify:
        if any(room.has(other) for room in shared):
            kind.reply(other, line)
