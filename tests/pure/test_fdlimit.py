"""fit_max_clients: the descriptor limit raised to fit --max-clients, or the clients cut to fit."""
import pytest

from selchat import fdlimit


class FakeResource:
    """`resource`'s RLIMIT_NOFILE calls, with a hard limit only `privileged` may raise."""

    RLIMIT_NOFILE = 7
    RLIM_INFINITY = -1

    def __init__(self, soft: int, hard: int, privileged: bool) -> None:
        self.limits, self.privileged = (soft, hard), privileged

    def getrlimit(self, which: int):
        return self.limits

    def setrlimit(self, which: int, limits) -> None:
        soft, hard = limits
        if hard > self.limits[1] and not self.privileged:
            raise ValueError("not allowed to raise maximum limit")
        if soft > hard:
            raise ValueError("current limit exceeds maximum limit")
        self.limits = (soft, hard)


@pytest.fixture
def limits(monkeypatch):
    def make(soft: int, hard: int, privileged: bool) -> FakeResource:
        fake = FakeResource(soft, hard, privileged)
        monkeypatch.setattr(fdlimit, "resource", fake)
        return fake
    return make


def test_the_soft_limit_is_raised_to_the_hard_one(limits):
    fake = limits(1024, 20_000, privileged=False)
    assert fdlimit.fit_max_clients(10_000) == 10_000
    assert fake.limits == (20_000, 20_000)


def test_a_privileged_server_raises_the_hard_limit_too(limits):
    fake = limits(1024, 20_000, privileged=True)
    assert fdlimit.fit_max_clients(100_000) == 100_000
    assert fake.limits == (100_000 + fdlimit.RESERVE,) * 2


def test_otherwise_the_clients_are_cut_to_fit_with_a_reserve(limits, caplog):
    fake = limits(1024, 20_000, privileged=False)
    assert fdlimit.fit_max_clients(100_000) == 20_000 - fdlimit.RESERVE
    assert fake.limits == (20_000, 20_000)
    assert "max clients lowered from 100000" in caplog.text
