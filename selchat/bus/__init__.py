"""The Redis bus: several selchat processes share one room through a Redis Stream.

`address` reads the bus URL, `resp` encodes commands (replies are parsed by
``hiredis.Reader``), `link` is one non-blocking connection to Redis in the
server's own selector: no threads, no blocking I/O. `protocol` is what goes
to and comes from the stream, `scripts` the Lua that runs in Redis, `driver`
the node's link to Redis, and `bridge` the server's side: what the room does
for the other nodes, and what their lines do here.
"""
