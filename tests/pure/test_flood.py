import pytest
from selchat.flood import FREE_BYTES, TokenBucket, line_cost


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


def test_a_long_line_costs_by_its_size_and_a_typed_one_costs_one():
    assert line_cost(0) == line_cost(80) == line_cost(FREE_BYTES) == 1.0
    assert line_cost(2 * FREE_BYTES) == 2.0
    assert line_cost(4096) == 8.0  # a maximum-length line: 3 of them per burst of 20


def test_a_burst_of_long_lines_is_held_back_sooner():
    bucket = TokenBucket(burst=20, rate=10, now=0.0)
    taken = 0
    while bucket.ready(0.0):
        bucket.take(0.0, 8.0)
        taken += 1
    assert taken == 3  # 20 tokens: three lines of 8 (the last one overdrawn), not twenty
    assert bucket.wait(0.0) == pytest.approx(0.5)  # back to one token after 0.5 s
