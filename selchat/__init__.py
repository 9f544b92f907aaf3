"""selchat: one process, one thread, one selector, many chatters."""

__version__ = "0.1.0"
