"""The server as several processes: selchat nodes sharing one room on a Redis bus.

``flood.py --nodes N`` starts a Redis of its own (a free loopback port, a
temporary directory, an append-only file synced at every write, no
snapshots) and N ``selchat serve ... --bus redis://127.0.0.1:PORT``, each
started as the bench starts selchat alone; ``--compare-bus`` runs one node
on a bus beside selchat without one. A `Cluster` is what a run measures
either way: its nodes (one, for every other server) and its bus, if any.

``--bus-outage`` makes the bus unavailable in the middle of the run
(`Outage`; `swarm` decides when): ``stop`` freezes Redis (SIGSTOP, then
SIGCONT), so the nodes' connections to it stall; ``kill`` kills it (SIGKILL)
and starts it again on the same port with the same directory, so the stream
comes back from its file and the nodes must reconnect.
"""
import signal
import tempfile
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence

import servers

OUTAGES = ("stop", "kill")
#: Redis connections: the nodes' (a few each), and room to spare.
BUS_CLIENTS = 1000


class Bus:
    """The Redis a cluster's nodes share; its CPU counts every process it was."""

    def __init__(self) -> None:
        self._store = tempfile.TemporaryDirectory(prefix="selchat-bus-")
        self._spent = 0.0  # CPU seconds of the processes killed before this one
        self.paused = False
        try:
            self.server = servers.start("redis", BUS_CLIENTS, store=self._store.name)
        except BaseException:
            self._store.cleanup()
            raise
        self.port = self.server.port

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}"

    def cpu_seconds(self) -> Optional[float]:
        if self.server.proc.poll() is not None:
            return self._spent  # down (killed): nothing more to read
        now = self.server.cpu_seconds()
        return None if now is None else self._spent + now

    def pause(self) -> None:
        self.server.proc.send_signal(signal.SIGSTOP)
        self.paused = True

    def resume(self) -> None:
        self.server.proc.send_signal(signal.SIGCONT)
        self.paused = False

    def kill(self) -> None:
        self._spent = self.cpu_seconds() or 0.0
        self.server.proc.kill()
        self.server.stop()  # reaps it

    def restart(self) -> None:
        """The same port, directory and file: the stream as it was."""
        self.server = servers.start("redis", BUS_CLIENTS, store=self._store.name,
                                    port=self.port)

    def describe(self) -> dict:
        return {**self.server.describe(), "url": self.url}

    def stop(self) -> None:
        if self.paused:
            self.resume()  # a stopped process would take SIGTERM only once continued
        try:
            self.server.stop()
        finally:
            self._store.cleanup()


@dataclass
class Outage:
    """The bus unavailable for `seconds`: `begin` and `end` it (see the module)."""

    bus: Bus
    how: str
    seconds: float

    def begin(self) -> None:
        (self.bus.pause if self.how == "stop" else self.bus.kill)()

    def end(self) -> None:
        (self.bus.resume if self.how == "stop" else self.bus.restart)()


class Cluster:
    """The processes one run measures: its nodes, and their bus if they have one."""

    def __init__(self, nodes: List[servers.Server], bus: Optional[Bus] = None) -> None:
        self.nodes, self.bus = nodes, bus

    def describe(self) -> dict:
        """The first node as the server, every node and the bus beside it."""
        return {**self.nodes[0].describe(),
                "nodes": [node.describe() for node in self.nodes] if self.bus else None,
                "bus": self.bus.describe() if self.bus else None}

    def signal_stop(self) -> None:
        for node in self.nodes:
            node.signal_stop()

    def stop(self) -> None:
        """Stop everything started here, the bus last (nodes leave it cleanly)."""
        try:
            for node in self.nodes:
                node.stop()
        finally:
            if self.bus is not None:
                self.bus.stop()


def start(kind: str, max_clients: int, web: bool = False, count: int = 0,
          settings: Optional[Dict[str, str]] = None, options: Sequence[str] = (),
          irc: bool = False) -> Cluster:
    """`kind` alone (`count` 0), or `count` selchat nodes on a bus started here;
    `settings`: more environment for the server, `options`: more of selchat's
    own options, `irc`: clients speak IRC (`servers.start`)."""
    if not count:
        return Cluster([servers.start(kind, max_clients, web=web, settings=settings,
                                      options=options, irc=irc)])
    cluster = Cluster([], Bus())
    try:
        for _ in range(count):
            cluster.nodes.append(servers.start(kind, max_clients, web=web, bus=cluster.bus.url,
                                               options=options))
    except BaseException:
        cluster.stop()
        raise
    return cluster
