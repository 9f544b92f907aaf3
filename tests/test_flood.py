import pytest
from selchat.flood import TokenBucket

pytestmark = pytest.mark.pure


def test_burst_then_rate():
    bucket = TokenBucket(burst=3, rate=2.0, now=100.0)
    for _ in range(3):
        assert bucket.ready(100.0)
        bucket.take(100.0)
    assert not bucket.ready(100.0)
    assert bucket.wait(100.0) == 0.5
    assert not bucket.ready(100.4)
    assert bucket.ready(100.5)


def test_refill_is_capped_at_the_burst():
    bucket = TokenBucket(burst=2, rate=10.0, now=0.0)
    taken = 0
    while bucket.ready(1000.0):
        bucket.take(1000.0)
        taken += 1
    assert taken == 2
