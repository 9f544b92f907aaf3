"""The PROXY protocol parser, fed whole and a byte at a time."""
import socket
import struct

import pytest

from selchat.proxy_protocol import MAX_HEADER, ProxyError, ProxyHeader, V2_SIGNATURE, parse


def v2(command: int, family: int, payload: bytes) -> bytes:
    return V2_SIGNATURE + struct.pack("!BBH", 0x20 | command, family, len(payload)) + payload


def v2_inet(host: str, port: int, tlv: bytes = b"") -> bytes:
    return v2(1, 0x11, socket.inet_aton(host) + socket.inet_aton("10.0.0.1")
              + struct.pack("!HH", port, 4000) + tlv)


def v2_inet6(host: str, port: int) -> bytes:
    return v2(1, 0x21, socket.inet_pton(socket.AF_INET6, host)
              + socket.inet_pton(socket.AF_INET6, "::1") + struct.pack("!HH", port, 4000))


HEADERS = [
    (b"PROXY TCP4 203.0.113.7 10.0.0.1 51234 4000\r\n", ("203.0.113.7", 51234)),
    (b"PROXY TCP6 2001:db8::7 ::1 51234 4000\r\n", ("2001:db8::7", 51234)),
    (b"PROXY UNKNOWN\r\n", None),
    (b"PROXY UNKNOWN ffff::1 ffff::2 1 2\r\n", None),
    (v2_inet("203.0.113.7", 51234), ("203.0.113.7", 51234)),
    (v2_inet("203.0.113.7", 51234, tlv=b"\x04\x00\x03abc"), ("203.0.113.7", 51234)),
    (v2_inet6("2001:db8::7", 443), ("2001:db8::7", 443)),
    (v2(0, 0x00, b""), None),  # LOCAL: a health check
    (v2(1, 0x31, b"\x00" * 216), None),  # AF_UNIX: nothing to take
]


@pytest.mark.parametrize("header, address", HEADERS)
def test_whole_and_byte_by_byte(header, address):
    rest = b"alice\nhello\n"
    for cut in range(len(header)):
        assert parse(header[:cut]) is None, cut
    assert parse(header) == ProxyHeader(address, len(header))
    assert parse(header + rest) == ProxyHeader(address, len(header))


@pytest.mark.parametrize("data", [
    b"alice\n", b"GET / HTTP/1.1\r\n", b"\x16\x03\x01\x02\x00",  # a name, HTTP, a ClientHello
    b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n",  # LF without CR: never ends, then too long
    b"PROXY TCP5 1.2.3.4 5.6.7.8 1 2\r\n",
    b"PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n",
    b"PROXY TCP4 1.2.3.400 5.6.7.8 1 2\r\n",
    b"PROXY TCP4 ::1 ::1 1 2\r\n",  # the wrong family
    b"PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n",
    b"PROXY TCP4 1.2.3.4 5.6.7.8 01 2\r\n",
    b"PROXY TCP4 1.2.3.4 5.6.7.8 -1 2\r\n",
    v2(2, 0x11, b"\x00" * 12),  # an unknown command
    V2_SIGNATURE + b"\x11\x11\x00\x0c" + b"\x00" * 12,  # version 1 in a v2 header
    v2(1, 0x11, b"\x00" * 8),  # addresses cut short
    v2(1, 0x21, b"\x00" * 12),
    V2_SIGNATURE + struct.pack("!BBH", 0x21, 0x11, MAX_HEADER),  # too long
])
def test_what_is_not_a_header_is_refused(data):
    padded = data + b"x" * 120 if data.startswith(b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n") else data
    with pytest.raises(ProxyError):
        parse(padded)
