"""bench/sources.py: which loopback source addresses the harness binds to."""
import sys

import pytest

from support.constants import BENCH

sys.path.insert(0, str(BENCH))
import sources  # noqa: E402


def test_addresses_start_at_two_and_skip_network_and_broadcast_endings():
    found = sources.addresses(600)
    assert found[:2] == ["127.0.0.2", "127.0.0.3"]
    assert found[252] == "127.0.0.254" and found[253] == "127.0.1.1"
    assert not [a for a in found if a.endswith((".0", ".255"))]
    assert len(set(found)) == 600


def test_one_address_per_sixteen_thousand_clients():
    assert [sources.needed(n) for n in (1, 16_000, 16_001, 100_000)] == [1, 1, 2, 7]


def test_more_addresses_than_the_loopback_block_holds_are_refused():
    with pytest.raises(ValueError):
        sources.addresses(1 << 24)
