"""The bus plumbing: `RedisLink` against a real Redis (bus URLs and RESP commands:
pure/test_bus_address.py).

The link tests run a `selectors.DefaultSelector` loop in the test itself, as the
server would: flush every link, select, dispatch ``key.data(mask)``, until a
condition holds or a deadline passes. A few fake "Redis" servers (a listening
socket in the test) play the failures a real one will not.
"""
import selectors
import socket
import time
from typing import Any, Callable, List
from urllib.parse import quote

import hiredis
import pytest

from selchat.bus import link as link_module
from selchat.bus.address import parse_bus_url
from selchat.bus.link import LinkState, RedisLink
from selchat.bus.resp import command
from support.constants import TIMEOUT
from support.redis_server import RedisServer

needs_redis = pytest.mark.redis


# -- the link, driven the way the server's loop drives it ---------------------------------


class LinkLoop:
    """A selector and the links in it; `until` runs passes as a server would."""

    def __init__(self) -> None:
        self.selector = selectors.DefaultSelector()
        self.links: List[RedisLink] = []
        self.failures: List[str] = []

    def link(self, url: str, name: str = "selchat-test", connect: bool = True) -> RedisLink:
        link = RedisLink(parse_bus_url(url), self.selector, name,
                         on_failure=self.failures.append)
        self.links.append(link)
        if connect:
            link.connect()
        return link

    def run_once(self) -> None:
        for link in self.links:
            link.flush()
        for key, mask in self.selector.select(0.05):
            key.data(mask)

    def until(self, condition: Callable[[], object], timeout: float = TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise AssertionError(f"condition not met within {timeout} s; "
                                     f"links: {[(k.state, k.failure) for k in self.links]}")
            self.run_once()

    def run_for(self, seconds: float) -> None:
        """A measuring window (after something proved the loop works), not a wait."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            self.run_once()

    def interest(self, link: RedisLink) -> int:
        """The events the selector watches for `link` (0: not registered)."""
        keys = [key for key in self.selector.get_map().values() if key.data == link.on_event]
        assert len(keys) <= 1
        return keys[0].events if keys else 0

    def close(self) -> None:
        for link in self.links:
            link.close()
        self.selector.close()


@pytest.fixture
def loop():
    """The links' loop (this file's own: conftest's in-process server is `in_process_server`)."""
    made = LinkLoop()
    yield made
    made.close()


def ready(loop: LinkLoop, link: RedisLink) -> None:
    loop.until(lambda: link.state is not LinkState.CONNECTING)
    assert link.state is LinkState.READY, link.failure


def reply_of(loop: LinkLoop, link: RedisLink, *args: Any) -> Any:
    got: List[Any] = []
    link.call(args, got.append)
    loop.until(lambda: got)
    return got[0]


@needs_redis
def test_connect_then_replies_in_order(loop: LinkLoop, redis_server: RedisServer) -> None:
    link = loop.link(redis_server.url, "selchat-n1-pub")
    assert link.state is LinkState.CONNECTING
    replies: List[Any] = []
    link.call(["PING"], replies.append)  # allowed while connecting
    link.call(["SET", "k", "v1"], replies.append)
    link.call(["GET", "k"], replies.append)
    assert link.waiting() == 3
    loop.until(lambda: len(replies) == 3)
    assert replies == [b"PONG", b"OK", b"v1"]
    assert link.state is LinkState.READY and link.waiting() == 0 and link.failure == ""
    assert b"name=selchat-n1-pub " in redis_server.query("CLIENT", "LIST")
    assert redis_server.query("GET", "k") == b"v1"
    assert loop.interest(link) == selectors.EVENT_READ  # nothing pending: no write interest
    assert loop.failures == []


@needs_redis
def test_pipelined_calls_and_a_large_value_stay_in_order(
        loop: LinkLoop, redis_server: RedisServer) -> None:
    link = loop.link(redis_server.url)
    ready(loop, link)
    big = bytes(range(256)) * (5 * 1024 * 1024 // 256)  # 5 MiB: many partial sends
    replies: List[Any] = []
    for i in range(2000):
        link.call(["RPUSH", "list", i], replies.append)
        if i == 1000:
            link.call(["SET", "big", big], replies.append)
            link.call(["STRLEN", "big"], replies.append)
    link.call(["GET", "big"], replies.append)  # a 5 MiB reply, read in pieces
    link.call(["LRANGE", "list", 0, -1], replies.append)
    loop.until(lambda: len(replies) == 2004)
    assert replies[:1001] == list(range(1, 1002))
    assert replies[1001:1003] == [b"OK", len(big)]
    assert replies[1003:2002] == list(range(1002, 2001))
    assert replies[2002] == big
    assert replies[2003] == [b"%d" % i for i in range(2000)]
    assert link.waiting() == 0 and loop.interest(link) == selectors.EVENT_READ


@needs_redis
def test_an_error_reply_goes_to_its_callback_as_a_value(
        loop: LinkLoop, redis_server: RedisServer) -> None:
    link = loop.link(redis_server.url)
    replies: List[Any] = []
    link.call(["SET", "s", "text"], replies.append)
    link.call(["INCR", "s"], replies.append)
    link.call(["NOSUCHCOMMAND"], replies.append)
    link.call(["INCR", "n"], replies.append)
    loop.until(lambda: len(replies) == 4)
    assert replies[0] == b"OK" and replies[3] == 1
    assert isinstance(replies[1], hiredis.ReplyError)
    assert str(replies[1]).startswith("ERR value is not an integer")
    assert isinstance(replies[2], hiredis.ReplyError)
    assert link.state is LinkState.READY and loop.failures == []


@needs_redis
def test_callbacks_may_call_again_and_close(loop: LinkLoop, redis_server: RedisServer) -> None:
    link = loop.link(redis_server.url)
    counted: List[Any] = []

    def count(reply: Any) -> None:
        counted.append(reply)
        if reply < 50:
            link.call(["INCR", "c"], count)

    link.call(["INCR", "c"], count)
    loop.until(lambda: len(counted) == 50)
    assert counted == list(range(1, 51)) and link.waiting() == 0

    after_close: List[Any] = []

    def close(reply: Any) -> None:
        after_close.append(reply)
        link.close()

    link.call(["PING"], close)
    for _ in range(3):
        link.call(["PING"], after_close.append)
    loop.until(lambda: after_close)
    loop.run_for(0.1)
    assert after_close == [b"PONG"]  # the replies behind it were dropped
    assert link.state is LinkState.IDLE and link.waiting() == 0
    assert loop.interest(link) == 0 and loop.failures == []
    link.close()  # idempotent


@needs_redis
def test_password_and_database(loop: LinkLoop, start_redis: Callable[..., RedisServer]) -> None:
    password = "s3 cr@t:/%"
    redis = start_redis("--requirepass", password)
    url = f"redis://:{quote(password, safe='')}@127.0.0.1:{redis.port}/3"
    link = loop.link(url)
    ready(loop, link)
    assert reply_of(loop, link, "SET", "in-three", "yes") == b"OK"
    assert redis.query("GET", "in-three", db=3) == b"yes"
    assert redis.query("EXISTS", "in-three") == 0
    assert b" db=3 " in reply_of(loop, link, "CLIENT", "INFO")
    assert loop.failures == []

    wrong = loop.link(f"redis://:wrong@127.0.0.1:{redis.port}")
    pending: List[Any] = []
    wrong.call(["PING"], pending.append)
    loop.until(lambda: wrong.state is LinkState.FAILED)
    assert wrong.failure.startswith("authentication failed: WRONGPASS"), wrong.failure
    assert loop.failures == [wrong.failure] and pending == [] and wrong.waiting() == 0

    none = loop.link(f"redis://127.0.0.1:{redis.port}")
    loop.until(lambda: none.state is LinkState.FAILED)
    assert none.failure.startswith("authentication failed: NOAUTH"), none.failure


@needs_redis
def test_a_database_that_does_not_exist(loop: LinkLoop, redis_server: RedisServer) -> None:
    link = loop.link(redis_server.url + "/99")
    loop.until(lambda: link.state is LinkState.FAILED)
    assert link.failure.startswith("cannot select database 99: ERR"), link.failure


def test_connection_refused(loop: LinkLoop) -> None:
    with socket.socket() as probe:  # a port nobody listens on: bound, never listening
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
        link = loop.link(f"redis://127.0.0.1:{port}")
        pending: List[Any] = []
        link.call(["PING"], pending.append)
        loop.until(lambda: link.state is LinkState.FAILED)
    assert link.failure == "connection refused"
    loop.run_for(0.1)
    assert loop.failures == ["connection refused"] and pending == []
    assert loop.interest(link) == 0 and not loop.selector.get_map()


@needs_redis
def test_redis_killed_under_a_connection(loop: LinkLoop, redis_server: RedisServer) -> None:
    link = loop.link(redis_server.url)
    ready(loop, link)
    pending: List[Any] = []
    link.call(["BLPOP", "never", 0], pending.append)  # a command in flight
    loop.until(lambda: b"cmd=blpop" in redis_server.query("CLIENT", "LIST"))
    redis_server.kill()
    loop.until(lambda: link.state is LinkState.FAILED)
    assert link.failure in ("Redis closed the connection", "connection reset by Redis")
    loop.run_for(0.1)
    assert loop.failures == [link.failure] and pending == [] and link.waiting() == 0
    assert not loop.selector.get_map()

    redis_server.restart()  # connect() again on the same link: a fresh connection
    link.connect()
    assert reply_of(loop, link, "PING") == b"PONG"
    assert link.state is LinkState.READY and link.failure == ""


@needs_redis
def test_a_paused_redis_keeps_calls_waiting(loop: LinkLoop, redis_server: RedisServer) -> None:
    link = loop.link(redis_server.url)
    ready(loop, link)
    assert reply_of(loop, link, "PING") == b"PONG"
    big = b"x" * (16 * 1024 * 1024)  # more than loopback buffers take from one sender
    replies: List[Any] = []
    redis_server.pause()
    link.call(["SET", "big", big], replies.append)
    link.call(["PING"], replies.append)
    loop.run_for(0.3)
    assert replies == [] and link.waiting() == 2 and link.state is LinkState.READY
    assert loop.interest(link) == selectors.EVENT_READ | selectors.EVENT_WRITE
    redis_server.resume()
    loop.until(lambda: len(replies) == 2)
    assert replies == [b"OK", b"PONG"] and link.waiting() == 0
    assert loop.interest(link) == selectors.EVENT_READ


# -- what a real Redis does not do: a fake one in the test --------------------------------


@pytest.fixture
def fake_redis():
    """A listening socket: the test accepts the link's connection and plays Redis."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(TIMEOUT)
    yield listener
    listener.close()


def accept_handshake(loop: LinkLoop, listener: socket.socket, link: RedisLink) -> socket.socket:
    """Accept the link's connection and answer its CLIENT SETNAME."""
    peer, _ = listener.accept()
    peer.settimeout(TIMEOUT)
    received = bytearray()
    loop.until(lambda: received.extend(_recv_ready(peer)) or received.endswith(b"selchat-test\r\n"))
    assert bytes(received) == command("CLIENT", "SETNAME", "selchat-test")
    peer.sendall(b"+OK\r\n")
    loop.until(lambda: link.state is not LinkState.CONNECTING)
    return peer


def _recv_ready(peer: socket.socket) -> bytes:
    peer.setblocking(False)
    try:
        return peer.recv(65536)
    except BlockingIOError:
        return b""
    finally:
        peer.setblocking(True)


def test_end_of_stream_fails_the_link(loop: LinkLoop, fake_redis: socket.socket) -> None:
    link = loop.link("redis://127.0.0.1:%d" % fake_redis.getsockname()[1])
    peer = accept_handshake(loop, fake_redis, link)
    assert link.state is LinkState.READY
    peer.close()
    loop.until(lambda: link.state is LinkState.FAILED)
    assert loop.failures == ["Redis closed the connection"]


@pytest.mark.parametrize("garbage, reason", [
    (b"?what\r\n", "protocol error: "),
    (b"+OK\r\n", "unexpected reply from Redis"),
])
def test_garbage_fails_the_link(loop: LinkLoop, fake_redis: socket.socket,
                                garbage: bytes, reason: str) -> None:
    link = loop.link("redis://127.0.0.1:%d" % fake_redis.getsockname()[1])
    with accept_handshake(loop, fake_redis, link) as peer:
        peer.sendall(garbage)
        loop.until(lambda: link.state is LinkState.FAILED)
    assert link.failure.startswith(reason) and loop.failures == [link.failure]


def test_a_reply_too_large(loop: LinkLoop, fake_redis: socket.socket,
                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(link_module, "MAX_REPLY", 100_000)
    link = loop.link("redis://127.0.0.1:%d" % fake_redis.getsockname()[1])
    got: List[Any] = []
    with accept_handshake(loop, fake_redis, link) as peer:
        link.call(["GET", "small"], got.append)
        link.call(["GET", "huge"], got.append)
        peer.sendall(b"$5\r\nsmall\r\n$1000000\r\n" + b"x" * 60_000)
        loop.until(lambda: got)
        assert link.state is LinkState.READY  # 60 kB of a reply is still fine
        peer.sendall(b"x" * 60_000)
        loop.until(lambda: link.state is LinkState.FAILED)
    assert got == [b"small"] and loop.failures == ["reply too large"]


def test_connect_refuses_to_run_twice(loop: LinkLoop, fake_redis: socket.socket) -> None:
    link = loop.link("redis://127.0.0.1:%d" % fake_redis.getsockname()[1])
    with pytest.raises(RuntimeError):
        link.connect()


@needs_redis
def test_the_test_redis_keeps_its_data_across_a_crash(redis_server: RedisServer) -> None:
    pid, port = redis_server.pid, redis_server.port
    assert redis_server.query("SET", "kept", "yes") == b"OK"
    redis_server.kill()
    with pytest.raises(OSError):
        redis_server.query("PING", timeout=1.0)
    redis_server.restart()
    assert redis_server.pid != pid and redis_server.port == port
    assert redis_server.query("GET", "kept") == b"yes"
