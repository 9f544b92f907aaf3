"""An IRC client over a raw socket, for the IRC port's system tests."""
import base64
from typing import Callable, List, Optional, Union

from selchat.irc.message import Message, parse
from support.clients import LineClient
from support.constants import TIMEOUT


class IrcClient(LineClient):
    """Lines end in CR LF both ways; `message` parses one (its source dropped,
    as the parser does, and kept in `source`)."""

    def __init__(self, address, nick: Optional[str] = None, caps: str = "") -> None:
        super().__init__(address)
        self.source = ""
        if nick is not None:
            self.register(nick, caps)

    def send(self, *lines: str) -> None:
        self.sock.sendall("".join(line + "\r\n" for line in lines).encode())

    def line(self, timeout: float = TIMEOUT) -> str:
        return super().line(timeout).removesuffix("\r")

    def message(self, timeout: float = TIMEOUT) -> Message:
        line = self.line(timeout)
        rest = line.partition(" ")[2] if line.startswith("@") else line
        self.source = rest[1:].partition(" ")[0] if rest.startswith(":") else ""
        msg = parse(line.encode())
        assert isinstance(msg, Message), line
        return msg

    def until(self, wanted: Union[str, Callable[[Message], bool]],
              timeout: float = TIMEOUT) -> List[Message]:
        """Messages up to and including the first `wanted` (a command, or a test)."""
        test = (lambda msg: msg.command == wanted) if isinstance(wanted, str) else wanted
        got: List[Message] = []
        while not got or not test(got[-1]):
            got.append(self.message(timeout))
        return got

    def register(self, nick: str, caps: str = "") -> List[Message]:
        """NICK and USER (with CAP REQ `caps` first): up to the end of the MOTD."""
        if caps:
            self.send("CAP LS 302", f"NICK {nick}", f"USER {nick} 0 * :{nick} R",
                      f"CAP REQ :{caps}", "CAP END")
        else:
            self.send(f"NICK {nick}", f"USER {nick} 0 * :{nick} R")
        return self.until("376")


#: ``serve``'s options for a test of accounts over IRC: scrypt at its cheapest
#: (tests need the rules, not the strength), no flood control, the IRC port.
ACCOUNTS_OVER_IRC = ("--scrypt-n", "1024", "--flood-rate", "0", "--irc-port", "0",
                     "--server-name", "irc.test")


def plain(account: str, password: str) -> str:
    """SASL PLAIN's credentials, as AUTHENTICATE carries them."""
    return base64.b64encode(f"\0{account}\0{password}".encode()).decode()


def sasl_client(address, nick: str, account: str, password: str,
                realname: str = "R") -> IrcClient:
    """An IRC client logged in to `account` with SASL PLAIN as it registers
    `nick`, then in #lobby (up to its NAMES' end)."""
    client = IrcClient(address)
    client.send("CAP LS 302", f"NICK {nick}", f"USER {nick} 0 * :{realname}", "CAP REQ :sasl",
                "AUTHENTICATE PLAIN", f"AUTHENTICATE {plain(account, password)}")
    client.until("903")
    client.send("CAP END", "JOIN #lobby")
    client.until("366")
    return client
