"""The event loop: one thread, one selector, every socket.

Theory of operation
-------------------
Each client is a `Connection` (socket, line buffer, output buffer) registered
with the selector, its `Connection` object hung on ``key.data``. The chat rules
live in `ChatRoom`, which answers each line with effects (Send, Broadcast,
Close); this module only carries them out. One call of `run_once` is one pass:

1. ``select()``, with a timeout taken from the nearest deadline (name timeout,
   flood refill, a closing connection's grace, accept back-off, shutdown).
2. The listener: accept a bounded batch; register each newcomer for reading.
3. A readable client: one ``recv``; feed its line buffer; hand complete lines
   (sanitised by the room) to the room while its flood budget lasts. An empty
   budget stops reading that client until it refills: the rest waits in the
   kernel.
4. Effects are *queued*, never sent: every Send and Broadcast joins the pass's
   batch, which is delivered once, after the reads. The room's broadcasts are
   joined into one payload shared by every ordinary member; the few with
   something particular (a sender, who gets no echo; a Send's target; one that
   joined or left during the pass) get their own join, in decision order.
5. Send: one ``send`` per connection with output, made as the batch is
   delivered when nothing was queued before, else by the flush. Write interest
   is asked of the selector only while output remains after that send; a
   connection whose backlog passes ``max_output`` is too slow and is dropped.
6. Reap: failed connections, and closing ones that drained, are unregistered
   and closed, and the room is told, which may queue leave notices: steps 4-6
   repeat until nothing is left to do, so nothing waits for the next wake-up.

Who closes: only `_reap`, at the end of a pass, closes sockets. Everything
else marks a connection (`failed`: drop it now; `closing`: close once its
output is flushed, within `CLOSE_GRACE`) so that no socket disappears while a
broadcast or the flush is walking the connections.
"""
import collections
import errno
import itertools
import logging
import selectors
import signal
import socket
import struct
import time
from typing import Callable, Deque, List, Optional, Set, Tuple

from selchat.batch import Batch
from selchat.connection import RECV_SIZE, Connection
from selchat.flood import TokenBucket
from selchat.framing import LINE_TOO_LONG, Line
from selchat.limits import Limits
from selchat.room import SERVER_FULL, Broadcast, ChatRoom, Effect, Send
from selchat.wire import encode

log = logging.getLogger(__name__)

EVENT_READ = selectors.EVENT_READ
EVENT_WRITE = selectors.EVENT_WRITE

#: Connections accepted per listener wake-up. A pass costs a send to every
#: member, so a connect storm should join in few, large passes (10,000 joins in
#: ~10); accepting 1024 takes tens of milliseconds, so chat is not kept waiting.
ACCEPT_BATCH = 1024
#: After EMFILE/ENFILE, stop accepting this long instead of spinning on a
#: listener that stays readable (asyncio waits 1 s too).
ACCEPT_RETRY_DELAY = 1.0
#: A connection that said goodbye (or sent EOF) gets this long to take its
#: last lines before it is closed anyway.
CLOSE_GRACE = 5.0
#: On Ctrl-C or SIGTERM, pending output is flushed for at most this long.
SHUTDOWN_GRACE = 2.0
#: Kernel keepalive: probe after a minute of silence, every 10 s, 6 times, so
#: a peer that vanished without a FIN is found within about two minutes.
KEEPALIVE = (("TCP_KEEPIDLE", 60), ("TCP_KEEPINTVL", 10), ("TCP_KEEPCNT", 6))
_FD_EXHAUSTED = {errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM}


def open_listener(host: str, port: int) -> socket.socket:
    """A listening socket on host:port; ``::`` also takes IPv4 where it can.

    Raises OSError (EADDRINUSE and the like) for the caller to report.
    """
    family, _, _, _, address = socket.getaddrinfo(
        host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )[0]
    dualstack = family == socket.AF_INET6 and host == "::" and socket.has_dualstack_ipv6()
    return socket.create_server(
        address, family=family, backlog=socket.SOMAXCONN, dualstack_ipv6=dualstack
    )


def format_address(address: Tuple) -> str:
    host, port = address[:2]
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


class Server:
    """A chat server on one listening socket; drive it with `serve_forever`."""

    def __init__(
        self,
        listener: socket.socket,
        limits: Limits = Limits(),
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limits = limits
        self._listener: Optional[socket.socket] = listener
        self._clock = clock
        self._now = clock()
        self._selector = selectors.DefaultSelector()
        self._room = ChatRoom()
        # The room's sessions are the Connection objects themselves.
        self._conns: Set[Connection] = set()
        self._conn_ids = itertools.count(1)  # numbers connections in the log
        self._recv_buffer = memoryview(bytearray(RECV_SIZE))  # shared: one recv at a time
        self._batch = Batch()  # this pass's lines, delivered once at its end
        self._dirty: Set[Connection] = set()  # output queued since the last flush
        self._doomed: Set[Connection] = set()  # to close at the end of the pass
        self._throttled: Set[Connection] = set()  # out of flood budget
        self._closing: Set[Connection] = set()  # draining before close
        self._awaiting_names: Deque[Connection] = collections.deque()  # in deadline order
        self._accept_resume_at: Optional[float] = None
        self._out_of_fds = False  # warned already: retries stay quiet until an accept works
        self._stop_requested = False
        self._stop_deadline: Optional[float] = None
        listener.setblocking(False)
        self._selector.register(listener, EVENT_READ, self._accept)

    @property
    def address(self) -> str:
        assert self._listener is not None
        return format_address(self._listener.getsockname())

    # -- the loop ---------------------------------------------------------------

    def serve_forever(self, ready: Callable[[], None] = lambda: None) -> None:
        """Run until SIGINT or SIGTERM, then shut down gracefully.

        `ready` is called once the signal handlers are in place, so whoever
        waits for it may signal the server at once.
        """
        wake_reader, wake_writer = socket.socketpair()
        for sock in (wake_reader, wake_writer):
            sock.setblocking(False)
        self._selector.register(wake_reader, EVENT_READ, lambda: _drain(wake_reader))
        old_wakeup = signal.set_wakeup_fd(wake_writer.fileno())
        old_handlers = {
            signum: signal.signal(signum, self._on_signal)
            for signum in (signal.SIGINT, signal.SIGTERM)
        }
        try:
            ready()
            while not self._finished():
                self.run_once()
        finally:
            signal.set_wakeup_fd(old_wakeup)
            for signum, handler in old_handlers.items():
                signal.signal(signum, handler)
            self._selector.unregister(wake_reader)
            wake_reader.close()
            wake_writer.close()
            self.close()

    def run_once(self) -> None:
        """One pass of the loop (see the module docstring)."""
        events = self._selector.select(self._next_timeout())
        self._now = self._clock()
        for key, mask in events:
            conn = key.data
            if conn.__class__ is Connection:
                if mask & EVENT_READ and conn.reading:
                    try:
                        self._on_readable(conn)
                    except Exception:  # a bug one client found must not stop everyone
                        log.exception("connection %d: unexpected error", conn.session)
                        self._lose(conn, "unexpected error")
                if mask & EVENT_WRITE:
                    self._dirty.add(conn)
            else:
                conn()  # the listener, or the signal wake-up
        if self._stop_requested:
            self._stop_requested = False
            self.stop()
        self._run_timers()
        while True:
            self._deliver_batch()
            self._flush()
            if not self._doomed:
                break
            self._reap()

    def stop(self) -> None:
        """Begin a graceful shutdown: notify everyone, flush, then close."""
        if self._stop_deadline is not None:
            return
        log.info("shutting down: %d connections", len(self._conns))
        self._stop_deadline = self._now + SHUTDOWN_GRACE
        self._close_listener()
        self._apply(self._room.shutdown())
        self._throttled.clear()
        for conn in list(self._conns):
            self._close_when_drained(conn)

    def close(self) -> None:
        """Close every socket now, flushed or not."""
        for conn in list(self._conns):
            self._lose(conn, None)
        self._reap()
        self._close_listener()
        self._selector.close()

    def _finished(self) -> bool:
        if self._stop_deadline is None:
            return False
        return not self._conns or self._now >= self._stop_deadline

    def _on_signal(self, signum: int, frame: object) -> None:
        # Only set a flag: the wake-up fd makes select() return, and run_once
        # acts on it at a safe point.
        self._stop_requested = True

    def _next_timeout(self) -> Optional[float]:
        """Seconds until the nearest deadline, or None to wait for I/O only."""
        deadlines = [conn.deadline for conn in self._closing]
        if self._awaiting_names:
            deadlines.append(self._awaiting_names[0].deadline)
        if self._accept_resume_at is not None:
            deadlines.append(self._accept_resume_at)
        if self._stop_deadline is not None:
            deadlines.append(self._stop_deadline)
        now = self._clock()
        waits = [conn.bucket.wait(now) for conn in self._throttled]  # type: ignore[union-attr]
        if deadlines:
            waits.append(min(deadlines) - now)
        return max(0.0, min(waits)) if waits else None

    def _run_timers(self) -> None:
        now = self._now
        awaiting = self._awaiting_names
        while awaiting:
            conn = awaiting[0]
            waiting = not (conn.closing or conn.failed) and self._room.name_of(conn) is None
            if waiting and conn.deadline > now:
                break
            awaiting.popleft()
            if waiting:
                log.info("connection %d: no name in time", conn.session)
                self._decide(conn, self._room.name_timeout, self.limits.name_timeout)
            elif not conn.closing:
                conn.deadline = 0.0  # named: drop the float (idle memory adds up)
        for conn in [c for c in self._closing if c.deadline <= now]:
            self._lose(conn, "did not drain in time")
        if self._accept_resume_at is not None and self._accept_resume_at <= now:
            self._accept_resume_at = None
            if self._listener is not None:
                self._selector.register(self._listener, EVENT_READ, self._accept)
        for conn in [c for c in self._throttled if c.bucket.ready(now)]:  # type: ignore[union-attr]
            self._throttled.discard(conn)
            conn.reading = True
            self._handle_lines(conn)
            self._update_interest(conn)

    # -- accepting --------------------------------------------------------------

    def _accept(self) -> None:
        assert self._listener is not None
        for _ in range(ACCEPT_BATCH):
            try:
                sock, address = self._listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                if exc.errno in _FD_EXHAUSTED:
                    self._pause_accepting(exc)
                    return
                log.debug("accept failed: %s", exc)  # e.g. ECONNABORTED: already gone
                continue
            if self._out_of_fds:
                self._out_of_fds = False
                log.info("accepting again")
            if len(self._conns) >= self.limits.max_clients:
                log.warning("refused %s: server full", format_address(address))
                _refuse(sock)
            else:
                self._add_connection(sock, address)

    def _pause_accepting(self, exc: OSError) -> None:
        if not self._out_of_fds:  # once per episode; the retries are not news
            self._out_of_fds = True
            log.warning("out of file descriptors (%s): not accepting; retrying every %g s",
                        exc.strerror, ACCEPT_RETRY_DELAY)
        assert self._listener is not None
        self._selector.unregister(self._listener)
        self._accept_resume_at = self._now + ACCEPT_RETRY_DELAY

    def _add_connection(self, sock: socket.socket, address: Tuple) -> None:
        sock.setblocking(False)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        for option, value in KEEPALIVE:
            if hasattr(socket, option):
                sock.setsockopt(socket.IPPROTO_TCP, getattr(socket, option), value)
        limits = self.limits
        bucket = (
            TokenBucket(limits.flood_burst, limits.flood_rate, self._now)
            if limits.flood_rate > 0 else None
        )
        conn = Connection(sock, next(self._conn_ids), limits.max_line, bucket)
        conn.deadline = self._now + limits.name_timeout
        self._conns.add(conn)
        self._update_interest(conn)
        self._awaiting_names.append(conn)
        log.info("connection %d from %s", conn.session, format_address(address))
        self._decide(conn, self._room.connect)

    # -- reading ----------------------------------------------------------------

    def _on_readable(self, conn: Connection) -> None:
        received = conn.read_once(self._recv_buffer)
        if received is None:
            return
        if received:
            conn.lines.feed(self._recv_buffer[:received])
            self._handle_lines(conn)
            return
        if conn.failed:
            self._lose(conn, "connection reset")
            return
        # An orderly end of stream (maybe only half-closed): an unterminated
        # last line still counts; then the session ends and its output drains.
        rest = conn.lines.take_rest()
        if rest:
            self._hand_over(conn, rest)
        self._end_session(conn)

    def _handle_lines(self, conn: Connection) -> None:
        """Hand complete lines to the room while the client's budget lasts."""
        lines, bucket, now = conn.lines, conn.bucket, self._now
        while conn.reading:
            if bucket is not None and not bucket.ready(now):
                conn.reading = False
                self._throttled.add(conn)
                self._update_interest(conn)
                return
            line = lines.next_line()
            if line is None:
                return
            if bucket is not None:
                bucket.take(now)
            self._hand_over(conn, line)

    def _hand_over(self, conn: Connection, line: Line) -> None:
        """One line from `conn` to the room (an overlong one as its error)."""
        if line is LINE_TOO_LONG:
            self._decide(conn, self._room.line_too_long, self.limits.max_line)
        else:
            self._decide(conn, self._room.receive, line.decode("utf-8", "replace"))  # type: ignore[union-attr]

    # -- effects ------------------------------------------------------------------

    def _decide(self, conn: Connection, ask: Callable[..., List[Effect]], *args: object) -> None:
        """Ask the room about `conn`; queue the effects, noting a join or a leave."""
        members = self._room.members
        was_member = conn in members
        effects = ask(conn, *args)
        if (conn in members) != was_member:
            if was_member:
                self._batch.left(conn)
            else:
                self._batch.joined(conn)
        self._apply(effects)

    def _apply(self, effects: List[Effect]) -> None:
        batch = self._batch
        for effect in effects:
            kind = effect.__class__
            if kind is Broadcast:
                batch.broadcast(encode(effect.line), effect.exclude)  # type: ignore[union-attr]
            elif kind is Send:
                batch.send(encode(effect.line), effect.to)  # type: ignore[union-attr]
            else:  # Close
                self._close_when_drained(effect.session)  # type: ignore[union-attr]

    def _deliver_batch(self) -> None:
        """Append the pass's lines to every recipient's output: one piece each."""
        if not self._batch:
            return
        members = self._room.members
        shared, own = self._batch.split(members)
        self._batch = Batch()
        # Each connection's one send of the pass: write() sends at once unless
        # output is already queued (then the flush sends it all, once).
        write = self._write
        if shared:
            for conn in list(members):  # a failed send leaves the room meanwhile
                if conn not in own:
                    write(conn, shared)
        for conn, data in own.items():
            if data and not conn.failed:  # type: ignore[attr-defined]
                write(conn, data)  # type: ignore[arg-type]

    def _write(self, conn: Connection, data: bytes) -> None:
        queued = conn.out.pending
        if conn.write(data):
            return
        if queued:  # behind earlier output: the flush sends it all, once
            self._dirty.add(conn)
        else:  # this was the pass's send, and some is left (or the peer failed)
            self._sent(conn, drained=False)

    # -- writing and closing ------------------------------------------------------

    def _flush(self) -> None:
        """One send per connection whose output was queued."""
        dirty, self._dirty = self._dirty, set()
        for conn in dirty:
            if not conn.failed:
                self._sent(conn, conn.flush())

    def _sent(self, conn: Connection, drained: bool) -> None:
        """After a send: close, drop, or ask for write readiness as it turned out."""
        if drained:  # the common case: everything went
            if conn.closing:
                self._doomed.add(conn)
            elif conn.events & EVENT_WRITE:
                self._update_interest(conn)
        elif conn.failed:
            self._lose(conn, "connection lost while sending")
        elif conn.out.pending > self.limits.max_output:
            log.warning(
                "connection %d (%s) dropped: %d bytes of output pending, over the "
                "%d-byte limit (client not reading)",
                conn.session, self._room.name_of(conn) or "unnamed",
                conn.out.pending, self.limits.max_output,
            )
            self._lose(conn, "too slow")
        else:
            self._update_interest(conn)

    def _update_interest(self, conn: Connection) -> None:
        """Register exactly the readiness this connection waits for."""
        wanted = (EVENT_READ if conn.reading else 0) | (EVENT_WRITE if conn.out.pending else 0)
        if wanted == conn.events:
            return
        if not conn.events:
            self._selector.register(conn.sock, wanted, conn)
        elif not wanted:
            self._selector.unregister(conn.sock)
        else:
            self._selector.modify(conn.sock, wanted, conn)
        conn.events = wanted

    def _end_session(self, conn: Connection) -> None:
        """The client is done sending: leave the room, drain, close."""
        self._decide(conn, self._room.disconnect)
        self._close_when_drained(conn)

    def _close_when_drained(self, conn: Connection) -> None:
        if conn.closing or conn.failed:
            return
        conn.closing = True
        conn.reading = False
        conn.deadline = self._now + CLOSE_GRACE
        self._throttled.discard(conn)
        self._closing.add(conn)
        self._dirty.add(conn)  # the flush closes it once nothing is pending

    def _lose(self, conn: Connection, why: Optional[str]) -> None:
        """Drop a connection now, output and all (reset, too slow, timeout)."""
        if conn in self._doomed:
            return
        if why:
            log.info("connection %d: %s", conn.session, why)
        conn.failed = True
        conn.reading = False
        self._throttled.discard(conn)
        self._doomed.add(conn)
        if self._stop_deadline is None:
            self._decide(conn, self._room.disconnect)

    def _reap(self) -> None:
        """Close the doomed connections' sockets; tell the room."""
        doomed, self._doomed = self._doomed, set()
        for conn in doomed:
            if conn not in self._conns:
                continue
            dropped, conn.failed = conn.failed, True
            if self._stop_deadline is None:
                self._decide(conn, self._room.disconnect)
            self._conns.discard(conn)
            for pending in (self._throttled, self._closing, self._dirty):
                pending.discard(conn)
            if conn.events:
                self._selector.unregister(conn.sock)
            _close_socket(conn.sock, reset=dropped)
            log.info("connection %d closed", conn.session)

    def _close_listener(self) -> None:
        if self._listener is None:
            return
        if self._accept_resume_at is None:
            self._selector.unregister(self._listener)
        self._accept_resume_at = None
        self._listener.close()
        self._listener = None


def _drain(sock: socket.socket) -> None:
    """Empty the signal wake-up socket (its bytes only mean "look at the flags")."""
    try:
        while sock.recv(4096):
            pass
    except (BlockingIOError, InterruptedError):
        pass


def _refuse(sock: socket.socket) -> None:
    """Best effort: tell a newcomer the server is full, then close."""
    sock.setblocking(False)
    try:
        sock.send(encode(SERVER_FULL))
    except OSError:
        pass
    _close_socket(sock)


def _close_socket(sock: socket.socket, reset: bool = False) -> None:
    """Close, first reading what the peer sent that nobody will read.

    Closing with unread input makes the kernel send a reset, which may destroy
    the last lines queued for the peer (a goodbye, "server full"). A dropped
    connection (`reset`) is reset on purpose: the kernel frees what it still
    held for a reader that stopped reading, instead of keeping it for minutes.
    """
    if reset:
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
        sock.close()
        return
    try:
        for _ in range(16):
            if not sock.recv(65536):
                break
    except OSError:
        pass
    sock.close()
