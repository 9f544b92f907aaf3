"""The command line and the run of the baseline peers, shared so the bench starts them alike."""
import argparse
import asyncio
import signal
from typing import Awaitable, Callable


def parse(description: str) -> argparse.Namespace:
    """--host, --port and --max-clients, with the defaults of `selchat serve`."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=4000)
    parser.add_argument("--max-clients", type=int, default=10000)
    return parser.parse_args()


def run_asyncio(doc: str, serve: Callable[[str, int, int], Awaitable[None]]) -> int:
    """Parse the command line and run an asyncio peer's `serve` to its end."""
    args = parse(doc.split("\n\n")[0])
    asyncio.run(serve(args.host, args.port, args.max_clients))
    return 0


async def until_signalled() -> None:
    """Wait for SIGINT or SIGTERM (the bench stops a peer with SIGTERM)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
