#!/usr/bin/env python3
"""A deliberately broken chat server, to prove the bench notices.

It is `threaded.py` with one fault: one client (the third to join, which is
neither of the bench's probes, so the cheap column check must catch it) gets
the fifth chat line dropped (``--fault drop``), twice (``dup``), or after the
sixth, in the same write (``swap``). Test use only.
"""
import argparse
import socket
from typing import Optional

import threaded

VICTIM_RANK = 2  # join order, from 0
AT = 5  # the victim's n-th chat line is the one mishandled


class FaultyRoom(threaded.Room):
    def __init__(self, fault: str) -> None:
        super().__init__()
        self.fault = fault
        self.chat_lines = 0
        self.held: Optional[bytes] = None

    def broadcast(self, data: bytes, exclude: Optional[socket.socket]) -> None:
        members = list(self.members)
        victim = members[VICTIM_RANK] if len(members) > VICTIM_RANK else None
        for sock in members:
            if sock is exclude:
                continue
            if sock is victim and data.startswith(b"<"):
                self.chat_lines += 1
                data_for_victim = self._mishandle(data)
                if data_for_victim:
                    self.deliver(sock, data_for_victim)
            else:
                self.deliver(sock, data)

    def _mishandle(self, data: bytes) -> bytes:
        n = self.chat_lines
        if n == AT:
            if self.fault == "drop":
                return b""
            if self.fault == "dup":
                return data + data
            self.held = data  # swap: keep it for after the next one
            return b""
        if n == AT + 1 and self.held is not None:
            data, self.held = data + self.held, None
        return data


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fault", choices=("drop", "dup", "swap"), required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    return threaded.run(FaultyRoom(args.fault), args.host, args.port, 100, "faulty")


if __name__ == "__main__":
    raise SystemExit(main())
