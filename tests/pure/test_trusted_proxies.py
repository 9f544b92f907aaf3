"""Which peers may name their client, and what X-Forwarded-For names."""
import pytest

from selchat.trusted_proxies import TrustedProxies, forwarded_client


def test_only_the_trusted_networks_are_trusted():
    proxies = TrustedProxies(["10.0.0.0/8", "::1", "192.168.1.7"])
    assert proxies
    for host in ("10.1.2.3", "::1", "192.168.1.7", "::ffff:10.0.0.9"):
        assert proxies.trusts(host), host
    for host in ("11.0.0.1", "127.0.0.1", "192.168.1.8", "::2", "not an address", ""):
        assert not proxies.trusts(host), host
    assert not TrustedProxies()


def test_a_bad_cidr_is_refused():
    with pytest.raises(ValueError):
        TrustedProxies(["10.0.0.0/33"])


@pytest.mark.parametrize("header, client", [
    (b"203.0.113.7", "203.0.113.7"),
    (b"1.1.1.1, 203.0.113.7", "203.0.113.7"),  # the first was the client's own word
    (b"1.1.1.1,203.0.113.7 ", "203.0.113.7"),
    (b"2001:db8::7", "2001:db8::7"),
    (b"[2001:db8::7]:443", "2001:db8::7"),
    (b"203.0.113.7:51234", "203.0.113.7"),
    (b"", None), (None, None), (b"unknown", None), (b"1.1.1.1, garbage", None),
    (b"\xff", None),
])
def test_forwarded_for_names_the_last_hop(header, client):
    assert forwarded_client(header) == client
