#!/usr/bin/env python3
"""Baseline: the asyncio-streams chat server a Python developer would write.

One coroutine per client over ``asyncio.start_server``: ``readline`` for
input, and a broadcast that ``write``s the line to every other client and then
awaits ``drain`` on each, which is how streams apply backpressure (asyncio's
transports already set TCP_NODELAY). It speaks selchat's protocol as far as
the bench uses it: the hello line, a name (unique ignoring case), the welcome
and join notices, chat lines to everyone else, leave notices. Start it like
selchat::

    python bench/peers/asyncio_chat.py --host 127.0.0.1 --port 0 --max-clients 1000

It prints ``asyncio listening on HOST:PORT`` and runs until SIGTERM or Ctrl-C.
"""
import asyncio
import itertools
import sys
from typing import Dict, Optional, Set

import peer_args  # the sibling module: peers run as scripts from bench/peers

HELLO = b"*** Hello! Please enter your name.\n"


class Room:
    def __init__(self, max_clients: int) -> None:
        self.max_clients = max_clients
        self.connected = 0
        self.closing = False  # shutting down: no leave notices for everyone
        self.members: Dict[asyncio.StreamWriter, str] = {}
        self.taken: Set[str] = set()  # casefolded names

    async def broadcast(self, data: bytes, exclude: Optional[asyncio.StreamWriter]) -> None:
        targets = [w for w in self.members if w is not exclude]
        for writer in targets:
            writer.write(data)
        for writer in targets:
            try:
                await writer.drain()
            except ConnectionError:  # that client's own coroutine notices and leaves
                pass

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.connected >= self.max_clients:
            writer.write(b"!!! server full\n")
            writer.close()
            return
        self.connected += 1
        name = None
        try:
            writer.write(HELLO)
            while name is None:
                line = await reader.readline()
                if not line:
                    return
                wanted = line.decode("utf-8", "replace").strip()
                if not wanted or len(wanted) > 32:
                    writer.write(b"!!! invalid name\n")
                elif wanted.casefold() in self.taken:
                    writer.write(f"!!! name taken: {wanted}\n".encode())
                else:
                    name = wanted
            self.taken.add(name.casefold())
            self.members[writer] = name
            shown = ", ".join(itertools.islice(self.members.values(), 50))
            writer.write(f"*** Welcome, {name}! Online ({len(self.members)}): {shown}\n".encode())
            await self.broadcast(f"*** {name} has joined the chat room.\n".encode(), writer)
            prefix = f"<{name}> ".encode()
            while True:
                line = await reader.readline()
                if not line:
                    break
                text = line.rstrip(b"\r\n")
                if text.strip():
                    await self.broadcast(prefix + text + b"\n", writer)
        except (ConnectionError, asyncio.LimitOverrunError, ValueError):
            pass
        finally:
            self.connected -= 1
            if self.members.pop(writer, None) is not None:
                self.taken.discard(name.casefold())
            if name is not None and not self.closing:
                await self.broadcast(f"*** {name} has left the chat room.\n".encode(), None)
            writer.close()


async def main_async(host: str, port: int, max_clients: int) -> None:
    room = Room(max_clients)
    server = await asyncio.start_server(room.serve, host, port, backlog=4096)
    bound_host, bound_port = server.sockets[0].getsockname()[:2]
    print(f"asyncio listening on {bound_host}:{bound_port}", flush=True)
    await peer_args.until_signalled()
    room.closing = True
    server.close()


if __name__ == "__main__":
    sys.exit(peer_args.run_asyncio(__doc__, main_async))
