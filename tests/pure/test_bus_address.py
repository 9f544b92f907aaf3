"""The bus plumbing that needs no socket: bus URLs and RESP commands."""
from typing import Any

import hiredis
import pytest

from selchat.bus.address import BusAddress, parse_bus_url
from selchat.bus.resp import command


# -- bus URLs ----------------------------------------------------------------------------


@pytest.mark.parametrize("url, expected", [
    ("redis://localhost", BusAddress("localhost", 6379, None, 0)),
    ("redis://10.0.0.5:6380", BusAddress("10.0.0.5", 6380, None, 0)),
    ("redis://10.0.0.5:6380/", BusAddress("10.0.0.5", 6380, None, 0)),
    ("redis://redis.example/3", BusAddress("redis.example", 6379, None, 3)),
    ("REDIS://h:1/15", BusAddress("h", 1, None, 15)),
    ("redis://[::1]", BusAddress("::1", 6379, None, 0)),
    ("redis://[::1]:7000/2", BusAddress("::1", 7000, None, 2)),
    ("redis://:secret@h", BusAddress("h", 6379, "secret", 0)),
    ("redis://default:secret@h:6390/1", BusAddress("h", 6390, "secret", 1)),
    ("redis://:p%40ss%3Aw%2Fd%20x@[fe80::2]:1/0", BusAddress("fe80::2", 1, "p@ss:w/d x", 0)),
    ("redis://:@h", BusAddress("h", 6379, None, 0)),
    ("redis://:a@b@h", BusAddress("h", 6379, "a@b", 0)),  # the last @ ends the password
])
def test_good_bus_urls(url: str, expected: BusAddress) -> None:
    assert parse_bus_url(url) == expected


@pytest.mark.parametrize("url, message", [
    ("localhost:6379", "bus URL must start with redis://"),
    ("http://h", "bus URL must start with redis://"),
    ("rediss://h", "rediss:// (Redis over TLS) is not supported; use redis://"),
    ("redis://", "bus URL needs a host"),
    ("redis://:6379/0", "bus URL needs a host"),
    ("redis://h:0", "bus port must be 1-65535"),
    ("redis://h:65536", "bus port must be 1-65535"),
    ("redis://h:http", "bus port must be 1-65535"),
    ("redis://h:", "bus port must be 1-65535"),
    ("redis://h:-1", "bus port must be 1-65535"),
    ("redis://h/one", "bus database must be a number"),
    ("redis://h/-1", "bus database must be a number"),
    ("redis://h/1/2", "bus database must be a number"),
    ("redis://h/\N{SUPERSCRIPT TWO}", "bus database must be a number"),
    ("redis://::1/0", "bus host: an IPv6 address goes in brackets"),
    ("redis://[::1/0", "bus host: an IPv6 address goes in brackets"),
    ("redis://[::1]x/0", "bus host: an IPv6 address goes in brackets"),
    ("redis://alice:secret@h", "bus URL user names are not supported"),
    ("redis://secret@h", "bus password goes after a colon"),
    ("redis://h/0?db=1", "bus URL options after '?' or '#' are not supported"),
])
def test_bad_bus_urls(url: str, message: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_bus_url(url)
    assert str(caught.value).startswith(message)


def test_no_message_or_display_shows_the_password() -> None:
    for url in ("redis://alice:hunter2@h", "redis://:hunter2@h:99999", "rediss://:hunter2@h"):
        with pytest.raises(ValueError) as caught:
            parse_bus_url(url)
        assert "hunter2" not in str(caught.value)
    address = parse_bus_url("redis://:hunter2@h:7/2")
    assert address.display() == "redis://h:7/2"
    assert "hunter2" not in repr(address) and "hunter2" not in str(address)
    assert parse_bus_url("redis://[::1]").display() == "redis://[::1]:6379/0"


# -- RESP commands -----------------------------------------------------------------------


def test_command_is_an_array_of_bulk_strings() -> None:
    assert command("PING") == b"*1\r\n$4\r\nPING\r\n"
    assert command("SET", b"k\r\n", 42) == b"*3\r\n$3\r\nSET\r\n$3\r\nk\r\n\r\n$2\r\n42\r\n"
    assert command("SET", "é", -7, b"") == (
        b"*4\r\n$3\r\nSET\r\n$2\r\n\xc3\xa9\r\n$2\r\n-7\r\n$0\r\n\r\n")


def test_command_parses_back_whole_and_byte_by_byte() -> None:
    data = command("XADD", "room", "*", "line", b"\x00\xff<a> hi\r\n")
    whole = hiredis.Reader()
    whole.feed(data)
    assert whole.gets() == [b"XADD", b"room", b"*", b"line", b"\x00\xff<a> hi\r\n"]
    trickle = hiredis.Reader()
    for i in range(len(data) - 1):
        trickle.feed(data[i:i + 1])
        assert trickle.gets() is False
    trickle.feed(data[-1:])
    assert trickle.gets() == [b"XADD", b"room", b"*", b"line", b"\x00\xff<a> hi\r\n"]


@pytest.mark.parametrize("args, error", [((), ValueError), (("SET", True), TypeError),
                                         (("SET", 1.5), TypeError), (("SET", None), TypeError)])
def test_command_refuses(args: Any, error: type) -> None:
    with pytest.raises(error):
        command(*args)
