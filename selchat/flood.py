"""Flood control: a token bucket per client, with the clock passed in.

A client may send `burst` lines at once and `rate` lines per second after that.
The server asks before taking each line; when the bucket is empty it stops
reading that client until `wait(now)` has passed, so the excess waits in the
client's kernel buffers (TCP backpressure) instead of being dropped. The clock
is a parameter, never read here, so tests drive time by hand.
"""


class TokenBucket:
    __slots__ = ("burst", "rate", "_tokens", "_stamp")

    def __init__(self, burst: int, rate: float, now: float) -> None:
        self.burst = burst
        self.rate = rate
        self._tokens = float(burst)
        self._stamp = now

    def _refill(self, now: float) -> None:
        if now > self._stamp:
            self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate)
            self._stamp = now

    def ready(self, now: float) -> bool:
        """True if a line may be taken now."""
        self._refill(now)
        return self._tokens >= 1.0

    def take(self, now: float) -> None:
        """Spend one token (call only after `ready` said yes)."""
        self._refill(now)
        self._tokens -= 1.0

    def wait(self, now: float) -> float:
        """Seconds until the next token is available (0 if it already is)."""
        self._refill(now)
        return max(0.0, (1.0 - self._tokens) / self.rate)
