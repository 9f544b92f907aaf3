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

OpenSSL works on the socket itself (an ``ssl.SSLSocket``, non-blocking), not
through memory BIOs: a recipient's piece of a pass (one write) is one
``SSL_write``, which seals it and hands the records to the kernel in the same
C call, with no copy out of a BIO and no second Python call to send it: about
half the cost of a TLS write, measured alone (docs/benchmarks.rst, "TLS"). Two
things follow from OpenSSL writing to the socket:

* a write the socket cannot take whole raises ``SSLWantWriteError`` after
  OpenSSL sent what it could; the next write must begin with the same
  plaintext (OpenSSL skips what it already sent), so the queue
  (`PlaintextQueue`) holds plaintext and only ever hands OpenSSL its head,
  grown, never cut. The output limits count that plaintext (a record adds
  22 bytes to 16 KB of it);
* OpenSSL reads a record at a time from the kernel (no read-ahead), so what it
  holds decrypted and unread is at most the rest of one record a read budget
  cut short: such a connection puts itself on the server's owed reads, and
  everything else still in the kernel keeps the socket readable.

A pass's piece smaller than a record is *held* (`HOLD_BYTES`): queued, not
sealed, until the next pass, whose piece joins it in one ``SSL_write`` (fewer,
fuller records: each costs the server about 2 µs besides the cipher, and the
reader as much to open). Nothing waits longer than that one pass: what the
next pass does not join is sealed at its end (`selchat.output.Output.release`),
and while anything is held the loop does not wait for input (`Server.run_once`):
a quiet server sends it in a pass of its own at once.
"""
import logging
import selectors
import socket
import ssl
from typing import TYPE_CHECKING, Callable, Dict, List, NamedTuple, Optional, Tuple

from selchat.addresses import format_address, os_problem
from selchat.connection import GONE, Connection, Kind, Protocol, State
from selchat.flood import TokenBucket
from selchat.listeners import close_socket
from selchat.sendbuf import Buffer, SendBuffer
from selchat.timers import Timer
from selchat.tls import Certificates
from selchat.tls_heap import HeapTrimmer, malloc_trim

if TYPE_CHECKING:
    from selchat.server import Port, Server

log = logging.getLogger(__name__)

#: Handshake steps (one OpenSSL step on a readable or writable socket) per
#: pass, across all newcomers. A full handshake costs the server about half a
#: millisecond of signing (ECDSA P-256; more with RSA), so a pass spends at
#: most a few tens of them on handshakes.
HANDSHAKES_PER_PASS = 32
#: A newcomer that has not finished its handshake by then is closed: a peer
#: that stalls mid-handshake holds a socket, not the loop.
HANDSHAKE_TIMEOUT = 10.0
#: Plaintext handed to one ``SSL_write`` from a queue (at least: a head that
#: could not be sent whole is given again, grown). Four records: big enough
#: that a backlog goes in few calls, small enough that joining the head
#: copies little.
WRITE_CHUNK = 64 * 1024
#: A pass's piece under this many bytes is held for the next pass (see the
#: module's docstring): a full record's plaintext (16 KB), past which
#: joining two pieces saves no record.
HOLD_BYTES = 16 * 1024
#: What OpenSSL raises when the socket would block; the call is repeated later.
WOULD_BLOCK = (ssl.SSLWantReadError, ssl.SSLWantWriteError, BlockingIOError, InterruptedError)
OPEN = State.OPEN


class OverTls(NamedTuple):
    """A protocol served over TLS on a port of its own: one row of `OVER_TLS`."""

    #: The `Kind.name` of the server's kind its connections become once they
    #: shook hands (the server must have it: the IRC port's, for IRC).
    kind: str
    #: The option naming its port, and that port's default.
    option: str
    default: int
    #: Its startup line, "{}" standing for its address.
    line: str


#: Every protocol a server serves over TLS on a port of its own (the web port
#: is not one: with TLS it speaks https and wss itself). The chat port's TLS
#: twin is the server's own (`Server`'s ``tls_listener``); the others reach the
#: server as `Server` ``ports`` made by `over_tls`. Another protocol over TLS
#: is another row, and its option.
OVER_TLS: Dict[str, OverTls] = {
    "chat": OverTls("tcp", "--tls-port", 4443, "selchat TLS on {}"),
    # RFC 7194: IRC over TLS is 6697.
    "irc": OverTls("irc", "--ircs-port", 6697, "selchat IRC over TLS on {}"),
}

def listen_over_tls(row: OverTls, host: str, port: Optional[int], optional: bool,
                    bind: Callable[[str, int], socket.socket],
                    fail: Callable[[str], None]) -> Tuple[Optional[socket.socket], List[str]]:
    """`row`'s listener on `host` (None for `port` None), and its startup line.
    A port that cannot be had is `fail`'s, or with `optional` (its default
    port, which another server may hold) a warning and a line saying so."""
    if port is None:
        return None, []
    try:
        sock = bind(host, port)
    except OSError as exc:
        words = row.line.split(" on ")[0]
        if not optional:
            fail(f"cannot listen on {host} port {port} ({words}): {os_problem(exc)} "
                 f"(try {row.option} PORT)")
        log.warning("%s: cannot listen on %s port %d: %s", words, host, port, os_problem(exc))
        return None, [f"{words}: cannot listen on port {port}: {os_problem(exc)} "
                      f"(use {row.option} PORT, or {row.option} 0 for a free one)"]
    return sock, [row.line.format(format_address(*sock.getsockname()[:2]))]


def listen_more_tls(certificates: Optional[Certificates], host: str,
                    wanted: Dict[str, Tuple[Optional[int], bool]],
                    bind: Callable[[str, int], socket.socket],
                    fail: Callable[[str], None]) -> Tuple[List["Port"], List[str]]:
    """The TLS ports of `OVER_TLS` besides the chat one's, `wanted` by row name
    as (port or None, whether it is the default): the `Server` ``ports`` that
    serve them and their startup lines (none without `certificates`)."""
    ports: List["Port"] = []
    lines: List[str] = []
    for name, (port, optional) in wanted.items():
        row = OVER_TLS[name]
        sock, said = listen_over_tls(row, host, None if certificates is None else port,
                                     optional, bind, fail)
        lines += said
        if sock is not None and certificates is not None:
            ports.append(over_tls(row, sock, certificates))
    return ports, lines


def over_tls(row: OverTls, sock: socket.socket, certificates: Certificates) -> "Port":
    """The port `sock` of `row`'s protocol over TLS, for `Server`'s ``ports``
    (after the port that makes its kind)."""
    def make(server: "Server") -> Tuple[Kind, Kind, socket.socket]:
        inner = next(kind for kind in server._kinds if kind.name == row.kind)
        port = TlsPort(server, inner, certificates)
        server._tls_ports.append(port)
        return inner, server._behind_proxies(port), sock
    return make


def reload_certificates(certificates: Certificates) -> None:
    """SIGHUP: new connections shake hands with the files as they are now."""
    problem = certificates.reload()
    if problem:
        log.error("SIGHUP: kept the certificate in use: %s", problem)
    else:
        log.info("SIGHUP: certificate and key read again from %s and %s",
                 certificates.cert, certificates.key)


class PlaintextQueue(SendBuffer):
    """A TLS connection's output queue: plaintext, whose head is what OpenSSL
    was last given (see the module's docstring)."""

    __slots__ = ()

    def head(self) -> Buffer:
        """The next ``SSL_write``'s plaintext: the first chunk, joined with the
        next ones up to `WRITE_CHUNK` (it begins with what the last one was
        given, so a write OpenSSL left half done can be finished)."""
        chunks = self._chunks
        assert chunks is not None
        first = chunks[0]
        if len(chunks) == 1 or len(first) >= WRITE_CHUNK:
            return first
        size = count = 0
        for chunk in chunks:
            count += 1
            size += len(chunk)
            if size >= WRITE_CHUNK:
                break
        joined = b"".join(chunks[:count])
        chunks[:count] = [joined]
        return joined


def sealer(sock: ssl.SSLSocket) -> Callable[[Buffer], int]:
    """What `TlsConnection` calls for an ``SSL_write`` on `sock`: the C
    object's own ``write``, which ``SSLSocket.send`` calls after Python-level
    checks that cost 0.36 µs of each 7 µs write (measured alone, 2,700 bytes)
    and that a connection which shook hands does not need (a send with flags,
    a socket closed: `TlsConnection` goes back to ``send`` before it closes). ``_sslobj``
    is CPython's private name for it since 3.7: without it, ``send``."""
    sslobj = getattr(sock, "_sslobj", None)
    write = getattr(sslobj, "write", None)
    return write if callable(write) else sock.send


class TlsConnection(Connection):
    """A connection whose socket is an ``ssl.SSLSocket`` that shook hands."""

    __slots__ = ("_server", "_reading", "_seal", "_held")
    sock: ssl.SSLSocket
    out: PlaintextQueue

    def __init__(self, sock: ssl.SSLSocket, number: int, kind: Kind, proto: Protocol,
                 bucket: Optional[TokenBucket], server: "Server") -> None:
        self.sock = sock
        self._server = server
        self._seal = sealer(sock)
        self._held = False  # what `out` holds was held, not refused by the socket
        super().__init__(sock, number, kind, proto, bucket)
        self.out = PlaintextQueue()

    @property  # type: ignore[override]
    def reading(self) -> bool:
        return self._reading

    @reading.setter
    def reading(self, value: bool) -> None:
        # Reading again (flood control lets go): what OpenSSL holds decrypted
        # will not make the socket readable, so ask for a read next pass.
        self._reading = value
        if value and self.sock.pending():
            self._server._owed_reads.append(self)

    def read_once(self, buffer: memoryview, size: int) -> Optional[int]:
        recv_into = self.sock.recv_into
        done = 0
        try:
            while done < size:  # a record per call
                got = recv_into(buffer[done:], size - done)
                if not got:  # close_notify, or an end of stream without it: a close
                    return done or 0
                done += got
        except WOULD_BLOCK:
            pass
        except ssl.SSLError as exc:
            log.info("%r: TLS error: %s", self, exc.reason or exc)
            return GONE
        except OSError:
            return GONE
        if done == size and self.sock.pending():  # a budget, not the socket, stopped this read
            self._server._owed_reads.append(self)
        return done or None

    def write(self, data: Buffer) -> int:
        # The hot path of every broadcast to a TLS member, as `Connection.write`'s:
        # one SSL_write seals and sends, no helper call.
        out = self.out
        if out.pending:
            out.append(data)
            # Held since the last pass: sealed now with this pass's piece.
            return self.flush() if self._held else out.pending
        if data:
            if len(data) < HOLD_BYTES and self.state is OPEN:
                out.append(data)
                self._held = True
                self._server._output.hold(self)
                return 0  # as if sent: no write interest, and no limit comes near
            try:
                self._seal(data)
            except WOULD_BLOCK:  # OpenSSL sent what it could: the rest goes with the next write
                out.append(data)
            except OSError:
                return GONE
        return out.pending

    def write_pieces(self, pieces: List[Buffer]) -> int:
        return self.write(b"".join(pieces))

    def flush(self) -> int:
        self._held = False
        out = self.out
        if not out.pending:
            return 0
        head = out.head()
        try:
            self._seal(head)
        except WOULD_BLOCK:
            return out.pending
        except OSError:
            return GONE
        out.advance(len(head))
        return out.pending

    def discard_output(self) -> None:  # dropped: closed next, without before_close
        super().discard_output()
        self._held = False
        self._unseal()

    def _unseal(self) -> None:
        # Closing: writes (none are due) go through ``send`` again, whose checks
        # see the closed socket; OpenSSL's own holds the descriptor's number,
        # which the kernel gives to the next socket opened.
        self._seal = self.sock.send

    def before_close(self) -> None:
        self._unseal()
        try:
            self.sock.unwrap()  # sends close_notify; the peer's is not awaited
        except (OSError, ValueError):
            pass


class Handshake:
    """A newcomer on a TLS port, not yet a connection."""

    __slots__ = ("sock", "address", "group", "events", "timer")

    def __init__(self, sock: ssl.SSLSocket, address: Tuple, group: str) -> None:
        self.sock, self.address = sock, address
        self.group = group  # its address group, counted by `Listeners` until it is a connection
        self.events = selectors.EVENT_READ  # what the handshake waits for
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
        self._heap = HeapTrimmer(malloc_trim())  # gives back what a burst of handshakes freed

    def adopt(self, server: "Server", sock: socket.socket, address: Tuple, group: str) -> None:
        if len(server._conns) + len(self._shaking) >= server.limits.max_clients \
                and not server.make_room():
            log.warning("refused %s: server full", format_address(*address[:2]))
            self._drop(sock, group)
            return
        try:  # the current certificate: a SIGHUP reload counts from the next newcomer
            tls = self.certificates.context.wrap_socket(sock, server_side=True,
                                                        do_handshake_on_connect=False)
        except OSError as exc:  # gone already
            log.info("%s: %s", format_address(*address[:2]), exc.strerror or exc)
            self._drop(sock, group)
            return
        shake = Handshake(tls, address, group)
        self._shaking[tls] = shake
        shake.timer = server._timers.call_at(server._now + HANDSHAKE_TIMEOUT, self._timed_out,
                                             shake)
        server._selector.register(tls, selectors.EVENT_READ, lambda mask: self._step(shake))

    def _step(self, shake: Handshake) -> None:
        server = self._server
        if self._pass != server.counters.loop_passes:
            self._pass, self._steps = server.counters.loop_passes, 0
        if self._steps >= HANDSHAKES_PER_PASS:
            return  # still ready: the selector reports it again next pass
        self._steps += 1
        try:
            shake.sock.do_handshake()
        except ssl.SSLWantReadError:
            self._wait(shake, selectors.EVENT_READ)
        except ssl.SSLWantWriteError:  # its flight did not fit in the socket
            self._wait(shake, selectors.EVENT_WRITE)
        except ssl.SSLEOFError:
            self._give_up(shake, "closed during the TLS handshake")
        except ssl.SSLError as exc:  # OpenSSL sent the alert saying why
            self._give_up(shake, f"TLS handshake failed: {exc.reason or exc}")
        except OSError as exc:
            self._give_up(shake, "connection lost during the TLS handshake "
                                 f"({exc.strerror or exc})")
        else:
            self._finish(shake)

    def _wait(self, shake: Handshake, events: int) -> None:
        if events != shake.events:
            shake.events = events
            self._server._selector.modify(shake.sock, events, lambda mask: self._step(shake))

    def _finish(self, shake: Handshake) -> None:
        server = self._server
        self._forget(shake)
        server._selector.unregister(shake.sock)

        def make(sock: ssl.SSLSocket, number: int, kind: Kind, proto: Protocol,
                 bucket: Optional[TokenBucket]) -> Connection:
            return TlsConnection(sock, number, kind, proto, bucket, server)

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
        self._drop(shake.sock, shake.group)

    def _drop(self, sock: socket.socket, group: str) -> None:
        self._server._listeners.forget(group)
        close_socket(sock, reset=True)

    def _forget(self, shake: Handshake) -> None:
        del self._shaking[shake.sock]
        self._server._timers.cancel(shake.timer)
        shake.timer = None
        self._heap.ended(len(self._shaking))

    def close(self) -> None:
        """Shutdown: the handshakes still under way end here."""
        for shake in list(self._shaking.values()):
            self._give_up(shake, "")
