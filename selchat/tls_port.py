"""TLS in the loop: handshakes on a TLS port, then connections that encrypt.

A TLS port's listener is keyed by a `TlsPort`, which wraps the kind its
connections become (the chat port's `LineKind`, the web port's `HttpKind`).
A newcomer first shakes hands here, outside the server's connections, without
blocking: each readable step is bounded per pass (`HANDSHAKES_PER_PASS`; the
rest stay readable and are served by the next passes, so a flood of handshakes
cannot freeze the loop) and the whole handshake by a timer
(`HANDSHAKE_TIMEOUT`). Then it becomes a `TlsConnection` of the inner kind,
the same interface the loop calls for every connection (Redis's
``ConnectionType``): plaintext out of `read_once`, plaintext into `write`.

Output is sealed where it is queued, so a recipient's piece of a pass (one
write) is one ``SSLObject.write``, not one per line, and the queue, which the
output limits judge, holds ciphertext. Bytes OpenSSL already decrypted are
served without waiting for the socket: the connection puts itself on the
server's owed reads.
"""
import logging
import selectors
import socket
import ssl
from typing import TYPE_CHECKING, Dict, List, Optional, Sequence, Tuple

from selchat.addresses import format_address
from selchat.connection import GONE, Connection, Kind, Protocol
from selchat.flood import TokenBucket
from selchat.listeners import close_socket
from selchat.sendbuf import Buffer, SendBuffer
from selchat.timers import Timer
from selchat.tls import Certificates, TlsLayer

if TYPE_CHECKING:
    from selchat.server import Server

log = logging.getLogger(__name__)

#: Handshake steps (one read, one OpenSSL step, one send) per pass, across all
#: newcomers. A full handshake costs the server about a millisecond of
#: signing, so a pass spends at most a few tens of them on handshakes.
HANDSHAKES_PER_PASS = 32
#: A newcomer that has not finished its handshake by then is closed: a peer
#: that stalls mid-handshake holds a socket, not the loop.
HANDSHAKE_TIMEOUT = 10.0
#: Ciphertext read per handshake step: a ClientHello fits, with room.
HANDSHAKE_READ = 16 * 1024


def reload_certificates(certificates: Certificates) -> None:
    """SIGHUP: new connections shake hands with the files as they are now."""
    problem = certificates.reload()
    if problem:
        log.error("SIGHUP: kept the certificate in use: %s", problem)
    else:
        log.info("SIGHUP: certificate and key read again from %s and %s",
                 certificates.cert, certificates.key)


class SealingBuffer(SendBuffer):
    """A connection's output queue that seals what is queued: it holds ciphertext."""

    __slots__ = ("_tls",)

    def __init__(self, tls: TlsLayer) -> None:
        super().__init__()
        self._tls = tls

    def append(self, data: Buffer) -> None:
        super().append(self._tls.seal(data))

    def extend(self, pieces: Sequence[Buffer], size: int) -> None:
        super().append(self._tls.seal(b"".join(pieces)))

    def append_sealed(self, ciphertext: Buffer) -> None:
        if ciphertext:
            super().append(ciphertext)


class TlsConnection(Connection):
    """A connection whose bytes cross the socket through a `TlsLayer`."""

    __slots__ = ("tls", "_server", "_reading")
    out: SealingBuffer

    def __init__(self, sock: socket.socket, number: int, kind: Kind, proto: Protocol,
                 bucket: Optional[TokenBucket], tls: TlsLayer, server: "Server") -> None:
        self.tls = tls
        self._server = server
        super().__init__(sock, number, kind, proto, bucket)
        self.out = SealingBuffer(tls)

    @property  # type: ignore[override]
    def reading(self) -> bool:
        return self._reading

    @reading.setter
    def reading(self, value: bool) -> None:
        # Reading (from the start: the first lines may have come with the
        # last handshake bytes; or again, when flood control lets go): what
        # is decrypted already will not make the socket readable, so ask for
        # a read next pass.
        self._reading = value
        if value and self.tls.more():
            self._server._owed_reads.append(self)

    def read_once(self, buffer: memoryview, size: int) -> Optional[int]:
        tls = self.tls
        try:
            got = tls.read_into(buffer, size)
            if not got:
                try:
                    received = self.sock.recv_into(buffer)
                except (BlockingIOError, InterruptedError):
                    return None
                except OSError:
                    return GONE
                if not received:  # no close_notify: an ordinary end of stream
                    return 0
                tls.feed(buffer[:received])
                got = tls.read_into(buffer, size)
        except ssl.SSLZeroReturnError:  # close_notify
            return 0
        except ssl.SSLError as exc:
            log.info("%r: TLS error: %s", self, exc.reason or exc)
            return GONE
        owed = tls.take_output()  # a key update answered, say
        if owed:
            self.out.append_sealed(owed)
            self._server._output.dirty.add(self)
        if got == size and tls.more():  # a budget, not the socket, stopped this read
            self._server._owed_reads.append(self)
        return got or None

    def write(self, data: bytes) -> int:
        out = self.out
        if out.pending:
            out.append(data)
            return out.pending
        # The hot path of every broadcast to a TLS member, as `Connection.write`'s:
        # one seal, one send, no helper call.
        sealed = self.tls.seal(data)
        try:
            sent = self.sock.send(sealed)
        except (BlockingIOError, InterruptedError):
            sent = 0
        except OSError:
            return GONE
        if sent < len(sealed):
            out.append_sealed(memoryview(sealed)[sent:] if sent else sealed)
        return out.pending

    def write_pieces(self, pieces: List[Buffer]) -> int:
        out = self.out
        waiting = out.pending
        out.extend(pieces, 0)
        return out.pending if waiting else self.flush()

    def before_close(self) -> None:
        try:
            self.sock.send(self.tls.close())
        except OSError:
            pass


class Handshake:
    """A newcomer on a TLS port, not yet a connection."""

    __slots__ = ("sock", "address", "group", "tls", "unsent", "done", "timer")

    def __init__(self, sock: socket.socket, address: Tuple, group: str, tls: TlsLayer) -> None:
        self.sock, self.address, self.tls = sock, address, tls
        self.group = group  # its address group, counted by `Listeners` until it is a connection
        self.unsent = b""  # handshake bytes the socket did not take yet
        self.done = False  # OpenSSL is done: once `unsent` went, it is a connection
        self.timer: Optional[Timer] = None


class TlsPort(Kind):
    """A TLS listener's newcomers: handshakes, then connections of `inner`'s kind."""

    told_why_refused = False  # a clear line would be garbage to a TLS client

    def __init__(self, server: "Server", inner: Kind, certificates: Certificates) -> None:
        self._server = server
        self.inner = inner
        self.name = f"tls+{inner.name}"
        self.certificates = certificates
        self._shaking: Dict[socket.socket, Handshake] = {}
        self._pass = -1  # the pass the steps were counted in
        self._steps = 0

    def adopt(self, server: "Server", sock: socket.socket, address: Tuple, group: str) -> None:
        shake = Handshake(sock, address, group, TlsLayer(self.certificates.context))
        if len(server._conns) + len(self._shaking) >= server.limits.max_clients:
            log.warning("refused %s: server full", format_address(*address[:2]))
            self._give_up(shake, "")
            return
        self._shaking[sock] = shake
        shake.timer = server._timers.call_at(server._now + HANDSHAKE_TIMEOUT, self._timed_out,
                                             shake)
        server._selector.register(sock, selectors.EVENT_READ, lambda mask: self._step(shake))

    def _step(self, shake: Handshake) -> None:
        server = self._server
        if self._pass != server.counters.loop_passes:
            self._pass, self._steps = server.counters.loop_passes, 0
        if self._steps >= HANDSHAKES_PER_PASS:
            return  # still readable: the selector reports it again next pass
        self._steps += 1
        if shake.unsent:
            if not self._send(shake):
                return
            if shake.done:  # its last flight went on this writable event
                self._finish(shake)
                return
        try:
            data = shake.sock.recv(HANDSHAKE_READ)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:
            self._give_up(shake, f"connection lost during the TLS handshake ({exc.strerror})")
            return
        if not data:
            self._give_up(shake, "closed during the TLS handshake")
            return
        shake.tls.feed(data)
        try:
            shake.done = shake.tls.handshake()
        except ssl.SSLError as exc:
            shake.unsent += shake.tls.take_output()  # the alert saying why
            self._send(shake)
            self._give_up(shake, f"TLS handshake failed: {exc.reason or exc}")
            return
        shake.unsent += shake.tls.take_output()
        if self._send(shake) and shake.done:
            self._finish(shake)

    def _send(self, shake: Handshake) -> bool:
        """Send what the handshake owes the peer: True if all went."""
        try:
            sent = shake.sock.send(shake.unsent) if shake.unsent else 0
        except (BlockingIOError, InterruptedError):
            sent = 0
        except OSError:
            sent = len(shake.unsent)  # the next recv finds the peer gone
        shake.unsent = shake.unsent[sent:]
        events = selectors.EVENT_READ | (selectors.EVENT_WRITE if shake.unsent else 0)
        self._server._selector.modify(shake.sock, events, lambda mask: self._step(shake))
        return not shake.unsent

    def _finish(self, shake: Handshake) -> None:
        server = self._server
        self._forget(shake)
        server._selector.unregister(shake.sock)
        tls = shake.tls

        def make(sock: socket.socket, number: int, kind: Kind, proto: Protocol,
                 bucket: Optional[TokenBucket]) -> Connection:
            return TlsConnection(sock, number, kind, proto, bucket, tls, server)

        server._add_connection(shake.sock, shake.address, self.inner, shake.group, make)

    def _timed_out(self, shake: Handshake) -> None:
        shake.timer = None
        self._give_up(shake, f"no TLS handshake in {HANDSHAKE_TIMEOUT:g} s")

    def _give_up(self, shake: Handshake, why: str) -> None:
        if shake.sock in self._shaking:
            self._forget(shake)
            self._server._selector.unregister(shake.sock)
        if why:
            log.info("%s: %s", format_address(*shake.address[:2]), why)
        self._server._listeners.forget(shake.group)
        close_socket(shake.sock, reset=True)

    def _forget(self, shake: Handshake) -> None:
        del self._shaking[shake.sock]
        self._server._timers.cancel(shake.timer)
        shake.timer = None

    def close(self) -> None:
        """Shutdown: the handshakes still under way end here."""
        for shake in list(self._shaking.values()):
            self._give_up(shake, "")
