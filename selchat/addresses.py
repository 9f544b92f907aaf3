"""Socket addresses and socket errors in the words people read.

One place for both, shared by the server, the client and the command line:
``host:port`` with an IPv6 host in brackets, as in a URL, and an OSError as a
few plain words, with no errno number and no Python tuple.
"""
import os
import socket


def format_address(host: str, port: int) -> str:
    """host:port, with an IPv6 host in brackets (``[::1]:4000``)."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def os_problem(exc: OSError) -> str:
    """An OSError in a few plain words, starting in lower case."""
    if isinstance(exc, socket.gaierror):
        words = "no such host name" if exc.errno == socket.EAI_NONAME else exc.strerror
    else:  # not exc.strerror: socket.create_server appends "(while attempting to bind on ...)"
        words = os.strerror(exc.errno) if exc.errno else exc.strerror
    words = words or type(exc).__name__
    return words[:1].lower() + words[1:]
