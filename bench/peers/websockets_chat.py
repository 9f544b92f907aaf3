#!/usr/bin/env python3
"""Baseline: the WebSocket chat server a Python developer would write with `websockets`.

One coroutine per client over ``websockets.asyncio.server.serve`` with the
library's defaults, and ``websockets.broadcast()`` for fan-out (it frames a
message once and writes it to every connection without waiting for any).
It speaks selchat's protocol over WebSocket as far as the bench uses it: the
hello line, a name (unique ignoring case), the welcome and join notices, chat
lines to everyone else, leave notices. Every server message is one text
message holding one ``\\n``-terminated line, as selchat's web port sends
them; every client message is one line. Start it like the other peers::

    python bench/peers/websockets_chat.py --host 127.0.0.1 --port 0 --max-clients 1000

It prints ``websockets listening on HOST:PORT`` and runs until SIGTERM or
Ctrl-C. WebSocket only: point WebSocket clients at that port.
"""
import itertools
import sys
from typing import Dict, Set

import peer_args  # the sibling module: peers run as scripts from bench/peers
from websockets import broadcast
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed

HELLO = "*** Hello! Please enter your name.\n"


class Room:
    def __init__(self, max_clients: int) -> None:
        self.max_clients = max_clients
        self.connected = 0
        self.closing = False  # shutting down: no leave notices for everyone
        self.members: Dict[ServerConnection, str] = {}
        self.taken: Set[str] = set()  # casefolded names

    def others(self, exclude: ServerConnection) -> list:
        return [ws for ws in self.members if ws is not exclude]

    async def serve(self, ws: ServerConnection) -> None:
        if self.connected >= self.max_clients:
            await ws.send("!!! server full\n")
            return
        self.connected += 1
        name = None
        try:
            await ws.send(HELLO)
            while name is None:
                wanted = str(await ws.recv()).strip()
                if not wanted or len(wanted) > 32 or "\n" in wanted:
                    await ws.send("!!! invalid name\n")
                elif wanted.casefold() in self.taken:
                    await ws.send(f"!!! name taken: {wanted}\n")
                else:
                    name = wanted
            self.taken.add(name.casefold())
            self.members[ws] = name
            shown = ", ".join(itertools.islice(self.members.values(), 50))
            await ws.send(f"*** Welcome, {name}! Online ({len(self.members)}): {shown}\n")
            broadcast(self.others(ws), f"*** {name} has joined the chat room.\n")
            prefix = f"<{name}> "
            async for message in ws:
                text = str(message).rstrip("\r\n")
                if text.strip():
                    broadcast(self.others(ws), prefix + text + "\n")
        except ConnectionClosed:
            pass
        finally:
            self.connected -= 1
            if self.members.pop(ws, None) is not None:
                self.taken.discard(name.casefold())
                if not self.closing:
                    broadcast(self.members, f"*** {name} has left the chat room.\n")


async def main_async(host: str, port: int, max_clients: int) -> None:
    room = Room(max_clients)
    async with serve(room.serve, host, port, backlog=4096) as server:
        bound_host, bound_port = next(iter(server.sockets)).getsockname()[:2]
        print(f"websockets listening on {bound_host}:{bound_port}", flush=True)
        await peer_args.until_signalled()
        room.closing = True


if __name__ == "__main__":
    sys.exit(peer_args.run_asyncio(__doc__, main_async))
