"""Fakes for the listeners' rules: a bind that finds the port busy, and a
`fail` that raises instead of exiting (selchat.irc.port, selchat.tls_port)."""
import errno


def busy(host, port):
    raise OSError(errno.EADDRINUSE, "Address already in use")


class Failed(Exception):
    pass


def fail(message):
    raise Failed(message)
