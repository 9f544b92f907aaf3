"""The Redis bus: several selchat processes share one room through a Redis Stream.

`address` reads the bus URL, `resp` encodes commands (replies are parsed by
``hiredis.Reader``), `link` is one non-blocking connection to Redis in the
server's own selector: no threads, no blocking I/O.
"""
