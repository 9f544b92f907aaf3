"""The floor under a delivery: CPU per ``send`` of a small buffer, from Python.

A chat server's cheapest possible delivery is a share of one ``send``: in one
big room a member's send of a pass carries dozens of lines, so a line costs a
fraction of a syscall; in many small rooms a member's send carries the few
lines its rooms had that pass. This measures what one send costs on this
machine, whatever the server: N loopback TCP connections whose far ends a
child process drains, and this process sending SIZE bytes to each in turn
(``send``, and ``sendmsg`` of one and of two buffers), CPU time per call.
Divide by the lines a send carries (``/metrics``: deliveries over sends) for
the floor of server µs per delivery. Loopback only; nothing is written.

    python bench/send_floor.py --connections 2000 --size 720
"""
import argparse
import os
import selectors
import socket
import time
from typing import Callable, List

#: Rounds of one send per connection, with a pause between for the reader.
ROUNDS = 200


def drain(port: int, count: int) -> None:
    """The child: connect `count` times, read everything until every end closes."""
    selector = selectors.DefaultSelector()
    for _ in range(count):
        sock = socket.create_connection(("127.0.0.1", port))
        sock.setblocking(False)
        selector.register(sock, selectors.EVENT_READ)
    left = count
    while left:
        for key, _ in selector.select():
            try:
                data = key.fileobj.recv(65536)  # type: ignore[union-attr]
            except BlockingIOError:
                continue
            if not data:
                selector.unregister(key.fileobj)
                key.fileobj.close()  # type: ignore[union-attr]
                left -= 1


def cpu_per_call(conns: List[socket.socket], call: Callable[[socket.socket], object]) -> float:
    """µs of this process's CPU per call that went through (not would-block)."""
    start, calls = time.process_time(), 0
    for _ in range(ROUNDS):
        for conn in conns:
            try:
                call(conn)
                calls += 1
            except BlockingIOError:
                pass
        time.sleep(0.001)  # let the reader catch up
    return (time.process_time() - start) / max(calls, 1) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--connections", type=int, default=2000)
    parser.add_argument("--size", type=int, default=720, help="bytes a send carries")
    options = parser.parse_args()
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4096)
    child = os.fork()
    if child == 0:
        try:
            drain(listener.getsockname()[1], options.connections)
        finally:
            os._exit(0)
    conns = [listener.accept()[0] for _ in range(options.connections)]
    for conn in conns:
        conn.setblocking(False)
    data = b"x" * (options.size - 1) + b"\n"
    half = options.size // 2
    calls = {"send": lambda conn: conn.send(data),
             "sendmsg, 1 buffer": lambda conn: conn.sendmsg([data]),
             "sendmsg, 2 buffers": lambda conn: conn.sendmsg([data[:half], data[half:]])}
    for label, call in calls.items():
        print(f"{label:<20} {options.size} B: {cpu_per_call(conns, call):.2f} µs CPU per call")
    for conn in conns:
        conn.close()
    os.waitpid(child, 0)


if __name__ == "__main__":
    main()
