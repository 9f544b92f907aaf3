"""A client that asked for /tags, and what resume tests do with one: drop it,
wait until the server holds its session, resume it on a new connection."""
import re
import socket
import struct
from typing import Dict, List, Optional, Tuple

from selchat.tags import split_tags
from support.clients import LineClient
from support.constants import TIMEOUT
from support.waiting import wait_for

TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")
RESTARTED = "!!! history gap: an unknown number of lines missed (the server restarted)"
UNKNOWN = "!!! history gap: an unknown number of lines missed (session expired or unknown)"


class Tagged(LineClient):
    """A client that asked for /tags; `token` is the resume token of its welcome,
    `last_seq` the last room line it saw."""

    def __init__(self, address, name: Optional[str] = None) -> None:
        super().__init__(address)
        self.token: Optional[str] = None
        self.last_seq = 0
        self.expect("*** Hello! Please enter your name.")  # sent before /tags
        self.send("/tags")
        if name is not None:
            self.send(name)
            tags, rest = self.tagged_line()
            assert rest.startswith(f"*** Welcome, {name}!"), rest
            self.token = tags.get("resume")

    def tagged_line(self, timeout: float = TIMEOUT) -> Tuple[Dict[str, str], str]:
        tags, rest = split_tags(self.line(timeout))
        assert TIME.fullmatch(tags["time"]), tags
        if "seq" in tags:
            self.last_seq = int(tags["seq"])
        return tags, rest

    def text(self, timeout: float = TIMEOUT) -> str:
        return self.tagged_line(timeout)[1]

    def texts(self, count: int) -> List[str]:
        return [self.text() for _ in range(count)]

    def until(self, last: str) -> List[str]:
        """Lines (tags off) up to and including `last`."""
        got = []
        while not got or got[-1] != last:
            got.append(self.text())
        return got

    def drop(self) -> None:
        """Reset the connection: no /quit, no FIN."""
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.sock.close()


def wait_held(server, name: str) -> None:
    """Until the server has seen `name`'s connection end and holds its session: it
    tells nobody (that is the point), so its log is the only witness."""
    wait_for(lambda: f"{name} held for" in server.log())


def resume(address, token: str, last_seq: int) -> Tagged:
    """A new connection whose first line is /resume (the hello comes first)."""
    client = LineClient(address)
    client.expect("*** Hello! Please enter your name.")
    client.send(f"/resume {token} {last_seq}")
    resumed = Tagged.__new__(Tagged)
    resumed.__dict__.update(client.__dict__)
    resumed.token, resumed.last_seq = token, last_seq
    return resumed
