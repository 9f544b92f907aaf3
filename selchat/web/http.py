"""The web port's HTTP/1.1, for one TCP connection, over h11 (sans-I/O).

The driver feeds `HttpConnection` what ``recv`` returned (``b""`` at end of
stream) and then calls `next_action` until it says to wait or to close. An
action is one of:

* `Respond`: send these bytes; then close the connection if ``close``.
* `Upgrade`: send the 101 response, then the connection is a WebSocket:
  drop this object, and hand ``trailing`` (bytes the client sent after the
  request head, already part of the WebSocket stream) to a
  `selchat.web.websocket.WebSocketLines`.
* `NEED_DATA`: read more; `CLOSE`: close the connection (the peer finished,
  or an error response has been handed out before).

Keep-alive and pipelining come from h11: requests are answered one at a time,
in order, and the next is parsed only after the previous one's response
(h11 pauses until then), so a pipelining client costs at most what one
``recv`` brought. Requests carry no body on this port: one that has a body
is answered at once and the connection closed after the response, so that
no unread body is mistaken for the next request.

Routes: ``/`` the page, ``/ws`` the WebSocket, ``/metrics`` Prometheus text
(the driver's callable makes it), ``/healthz`` ``ok``. GET everywhere, HEAD
except on ``/ws``; another method is 405 with ``Allow``, another path 404.

The WebSocket handshake follows RFC 6455 §4.2: ``Upgrade: websocket``,
``Connection: upgrade``, a 16-byte base64 ``Sec-WebSocket-Key`` and version 13
(another version gets 426 with ``Sec-WebSocket-Version: 13``). No extension
and no subprotocol is ever accepted: every browser gets the same frames, so a
broadcast is framed once. ``Origin`` protects the chat from other web sites
(a page elsewhere could otherwise join from its visitor's browser): the
page's own origin, ``http://`` + the request's ``Host``, is allowed, and so
is every origin the operator listed; a request without ``Origin`` is no
browser's and is allowed too; any other origin gets 403.

``Host`` protects the port from DNS rebinding: a site that points its own
name at 127.0.0.1 would otherwise be same-origin with itself and could read
the page, open ``/ws`` and scrape ``/metrics`` from a visitor's browser. So
every route checks ``Host`` (webpack-dev-server's ``allowedHosts`` and
Jupyter do the same): an IP address is always allowed (a rebinding needs a
name: a page from elsewhere cannot be same-origin with an address), and so
are the names `served_names` gives (``localhost`` on a loopback or wildcard
address, the machine's host name on a wildcard one, and the operator's
``--web-host`` names). Any other name gets 403. The port is not compared: a
proxy forwards its own, and a rebinding site has to use the server's anyway.
A request without ``Host`` (HTTP/1.0 allows it) is no browser's, and passes.

Costs are bounded for the driver to enforce: `has_request` tells it whether
bytes that may hold a request wait here, so it can stop answering when the
connection's budget is spent and come back later (the requests wait here
unparsed, then in the kernel); after `MAX_REQUESTS` answers a connection is
told ``Connection: close``, as nginx's ``keepalive_requests`` does.
"""
import base64
import binascii
import ipaddress
import re
from http import HTTPStatus
from typing import (
    Callable, Collection, Dict, FrozenSet, Iterable, List, NamedTuple, Optional, Sequence, Tuple,
    Union,
)

import h11
from wsproto.utilities import generate_accept_token

from selchat.web.page import CSP, PAGE

#: Largest request head accepted (431 beyond). Browsers send well under 2 KiB
#: here (no cookies are set); tomcat's default is 8 KiB too.
MAX_HEAD = 8 * 1024
#: Requests answered on one keep-alive connection; the last one's response says
#: ``Connection: close``. A page load takes two, a Prometheus scraping every
#: 15 s reconnects after 25 minutes; a pipelining client must come back through
#: accept (and the per-address limit). nginx's ``keepalive_requests`` was 100
#: for years (1000 since 1.19.10), Apache's ``MaxKeepAliveRequests`` is 100.
MAX_REQUESTS = 100
#: Requests the driver answers on one connection in one loop pass; the rest
#: wait for a later pass (and for the connection's flood budget, see
#: `selchat.flood.REQUEST_COST`). A browser asks one at a time; a pipelining
#: client must not make one pass answer 1,700 requests (one 64 KiB read).
REQUESTS_PER_PASS = 4

Headers = List[Tuple[bytes, bytes]]

#: Sent with every response.
_COMMON: Headers = [(b"X-Content-Type-Options", b"nosniff")]
_NO_STORE: Headers = [(b"Cache-Control", b"no-store")]
_PAGE_HEADERS: Headers = [
    (b"Content-Type", b"text/html; charset=utf-8"),
    # The page is static, but a restarted (upgraded) server should be seen.
    (b"Cache-Control", b"no-cache"),
    (b"Content-Security-Policy", CSP.encode()),
    (b"Referrer-Policy", b"no-referrer"),
]
_TEXT = (b"Content-Type", b"text/plain; charset=utf-8")
_METRICS_TYPE = (b"Content-Type", b"text/plain; version=0.0.4; charset=utf-8")
_ALLOW_READ = b"GET, HEAD"


class Respond(NamedTuple):
    data: bytes
    close: bool  #: close the connection once `data` is sent


class Upgrade(NamedTuple):
    data: bytes  #: the 101 response
    trailing: bytes  #: the first bytes of the WebSocket stream


class _Sentinel:
    def __init__(self, name: str) -> None:
        self._name = name

    def __repr__(self) -> str:
        return self._name


NEED_DATA = _Sentinel("NEED_DATA")
CLOSE = _Sentinel("CLOSE")

Action = Union[Respond, Upgrade, _Sentinel]


def normalize_origin(origin: str) -> str:
    """An origin as browsers send it: lower case, no trailing slash, no
    default port (``--web-origin https://chat.example.org/`` matches)."""
    origin = origin.strip().rstrip("/").lower()
    for scheme, port in (("http://", ":80"), ("https://", ":443")):
        if origin.startswith(scheme) and origin.endswith(port):
            return origin[: -len(port)]
    return origin


class HttpConnection:
    """One TCP connection on the web port, until it closes or upgrades.

    `metrics` returns the body of ``/metrics``; `allowed_origins` are the
    origins (besides the page's own) that may open ``/ws``; `page` is ``/``
    (`selchat.web.page.page_for` the server's limits); `hosts` are the names
    ``Host`` may give besides an address (`served_names`; None: any); after
    `max_requests` answers the connection is closed.
    """

    def __init__(self, metrics: Callable[[], bytes], allowed_origins: Iterable[str] = (),
                 page: bytes = PAGE, hosts: Optional[Collection[str]] = None,
                 max_requests: int = MAX_REQUESTS) -> None:
        self._metrics = metrics
        self._page = page
        self._origins = frozenset(normalize_origin(o) for o in allowed_origins)
        self._hosts = hosts
        self._requests_left = max_requests
        self._unread = False  # fed bytes not yet parsed: a request may be waiting
        self._h11: Optional[h11.Connection] = h11.Connection(
            h11.SERVER, max_incomplete_event_size=MAX_HEAD
        )
        self._request: Optional[h11.Request] = None
        self._eof = False
        self._done = False  # an action said close: nothing more to do

    def feed(self, data: Union[bytes, memoryview]) -> None:
        """Store bytes from the peer (``b""``: end of stream); they are copied,
        so a buffer the caller reuses is fine."""
        if self._h11 is not None and not self._done:
            self._eof = self._eof or not data
            self._unread = True
            self._h11.receive_data(bytes(data))

    def has_request(self) -> bool:
        """True if `next_action` may have something other than NEED_DATA to
        answer (bytes fed since it last said NEED_DATA)."""
        return self._unread

    def next_action(self) -> Action:
        """What the driver must do next (see the module docstring)."""
        conn = self._h11
        if conn is None:
            raise RuntimeError("the connection was upgraded: it is a WebSocket now")
        while not self._done:
            try:
                event = conn.next_event()
            except h11.RemoteProtocolError as exc:
                if self._eof:  # cut off mid-request: nobody to answer
                    return self._close()
                return self._error(exc.error_status_hint)
            if event is h11.NEED_DATA:
                self._unread = False
                return NEED_DATA
            if isinstance(event, h11.Request):
                self._request = event
                if _head_size(event) > MAX_HEAD:
                    return self._error(431)
                if _has_body(event):  # none of ours takes one: answer, then close
                    return self._answer(event, close=True)
            elif isinstance(event, h11.EndOfMessage):
                assert self._request is not None
                return self._answer(self._request, close=False)
            elif isinstance(event, h11.ConnectionClosed):
                return self._close()
            # h11.Data: a body, answered already (the connection closes after).
        return CLOSE

    # -- answering ----------------------------------------------------------

    def _answer(self, request: h11.Request, close: bool) -> Action:
        path = request.target.split(b"?", 1)[0]
        method = request.method
        if self._hosts is not None and not host_allowed(_field(request, b"host"), self._hosts):
            return self._respond(403, b"host not allowed\n", close=close)
        if path == b"/ws":
            if method != b"GET":
                return self._respond(405, b"", [(b"Allow", b"GET")], close=close)
            return self._upgrade(request, close)
        if path not in (b"/", b"/metrics", b"/healthz"):
            return self._respond(404, b"not found\n", close=close)
        if method not in (b"GET", b"HEAD"):
            return self._respond(405, b"", [(b"Allow", _ALLOW_READ)], close=close)
        if path == b"/":
            status, body, headers = 200, self._page, _PAGE_HEADERS
        elif path == b"/metrics":
            status, body, headers = 200, self._metrics(), [_METRICS_TYPE] + _NO_STORE
        else:
            status, body, headers = 200, b"ok\n", [_TEXT] + _NO_STORE
        return self._respond(status, body, headers, close=close, head=method == b"HEAD")

    def _upgrade(self, request: h11.Request, close: bool) -> Action:
        """RFC 6455 §4.2.1's checks, in order; 101 or the refusal."""
        fields = _fields(request.headers)
        if request.http_version != b"1.1" or close:
            return self._respond(400, b"bad websocket request\n", close=close)
        if b"websocket" not in _tokens(fields.get(b"upgrade")) or b"upgrade" not in _tokens(
            fields.get(b"connection")
        ):
            return self._respond(
                426, b"websocket upgrade required\n", [(b"Upgrade", b"websocket")]
            )
        if fields.get(b"sec-websocket-version") != b"13":
            return self._respond(
                426, b"websocket version 13 only\n", [(b"Sec-WebSocket-Version", b"13")]
            )
        key = fields.get(b"sec-websocket-key", b"")
        if not _valid_key(key):
            return self._respond(400, b"bad Sec-WebSocket-Key\n")
        origin = fields.get(b"origin")
        if origin is not None and not self._origin_allowed(origin, fields.get(b"host", b"")):
            return self._respond(403, b"origin not allowed\n")
        conn = self._h11
        assert conn is not None
        data = conn.send(h11.InformationalResponse(status_code=101, headers=[
            (b"Upgrade", b"websocket"),
            (b"Connection", b"Upgrade"),
            (b"Sec-WebSocket-Accept", generate_accept_token(key)),
        ], reason=b"Switching Protocols"))
        trailing, eof = conn.trailing_data
        self._h11 = None  # nothing of HTTP is kept for the WebSocket's lifetime
        self._request = None
        if eof:  # the client already finished sending: no session to have
            self._done = True
            return CLOSE
        return Upgrade(data, trailing)

    def _origin_allowed(self, origin: bytes, host: bytes) -> bool:
        text = normalize_origin(origin.decode("ascii", "replace"))
        own = normalize_origin("http://" + host.decode("ascii", "replace"))
        return text == own or text in self._origins

    def _respond(
        self, status: int, body: bytes, headers: Sequence[Tuple[bytes, bytes]] = (),
        close: bool = False,
        head: bool = False,
    ) -> Action:
        """A whole response through h11 (it adds the framing it must)."""
        conn = self._h11
        assert conn is not None
        if status >= 400 and not any(name == b"Content-Type" for name, _ in headers):
            headers = [_TEXT, *_NO_STORE, *headers]  # an error page: plain text
        all_headers = [*headers, *_COMMON, (b"Content-Length", b"%d" % len(body))]
        self._requests_left -= 1
        close = close or self._requests_left <= 0
        if close:
            all_headers.append((b"Connection", b"close"))
        reason = HTTPStatus(status).phrase.encode()
        data = conn.send(h11.Response(status_code=status, headers=all_headers, reason=reason))
        if body and not head:
            data += conn.send(h11.Data(data=body))
        data += conn.send(h11.EndOfMessage())
        self._request = None
        if conn.our_state is h11.MUST_CLOSE:  # close asked, or an HTTP/1.0 peer
            self._done = True
            return Respond(data, True)
        conn.start_next_cycle()
        return Respond(data, False)

    def _error(self, status: int) -> Action:
        """A bad request (400) or head too large (431): answer, then close."""
        try:
            return self._respond(status, b"%s\n" % HTTPStatus(status).phrase.encode(), close=True)
        except h11.LocalProtocolError:  # a response was under way: just close
            return self._close()

    def _close(self) -> Action:
        self._done = True
        return CLOSE


def served_names(bound: str, web_hosts: Iterable[str] = (), hostname: str = "") -> FrozenSet[str]:
    """The names ``Host`` may give on a web port bound to address `bound`.

    `web_hosts` are the operator's (``--web-host``; each may hold several,
    separated by commas or spaces, and may carry a port); `hostname` is the
    machine's, allowed with ``localhost`` when `bound` is a wildcard address.
    """
    names = {_host_name(n) for value in web_hosts for n in re.split(r"[\s,]+", value) if n}
    address = ipaddress.ip_address(bound.split("%", 1)[0])
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if address.is_loopback or address.is_unspecified:
        names.add("localhost")
    if address.is_unspecified and hostname:
        names.add(_host_name(hostname))
    return frozenset(names)


def host_allowed(host: Optional[bytes], names: Collection[str]) -> bool:
    """True if a request with this ``Host`` may be answered (module docstring)."""
    if host is None:
        return True
    name = _host_name(host.decode("ascii", "replace"))
    return name in names or _is_address(name)


def _host_name(host: str) -> str:
    """``Host``'s name or address: lower case, no port, no brackets, no final dot."""
    host = host.strip().lower()
    if host.startswith("["):  # an IPv6 address, maybe with a port after "]"
        return host[1:].split("]", 1)[0]
    name, colon, port = host.rpartition(":")
    if colon and port.isdigit() and ":" not in name:
        host = name
    return host.rstrip(".")


def _is_address(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def _field(request: h11.Request, wanted: bytes) -> Optional[bytes]:
    """One header's value (repeats joined by commas), None if absent."""
    return _fields(request.headers).get(wanted)


def _fields(headers: Iterable[Tuple[bytes, bytes]]) -> Dict[bytes, bytes]:
    """Header name (lower case, as h11 gives it) -> value; repeats joined by commas."""
    fields: Dict[bytes, bytes] = {}
    for name, value in headers:
        fields[name] = fields[name] + b", " + value if name in fields else value
    return fields


def _tokens(value: Optional[bytes]) -> List[bytes]:
    return [t.strip().lower() for t in value.split(b",")] if value else []


def _valid_key(key: bytes) -> bool:
    """RFC 6455 §4.1: the key is 16 random bytes, base64-encoded."""
    try:
        return len(base64.b64decode(key, validate=True)) == 16
    except (binascii.Error, ValueError):
        return False


def _has_body(request: h11.Request) -> bool:
    for name, value in request.headers:
        if name == b"transfer-encoding" or (name == b"content-length" and value != b"0"):
            return True
    return False


def _head_size(request: h11.Request) -> int:
    """The request head's size, near enough (h11 strips what it does not keep).

    h11 enforces MAX_HEAD only on a head still incomplete; one that arrives
    whole in a single ``recv`` is measured here.
    """
    size = len(request.method) + len(request.target) + 12  # " " " HTTP/1.1\r\n"
    return size + sum(len(n) + len(v) + 4 for n, v in request.headers) + 2
