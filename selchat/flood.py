"""Flood control: a token bucket per client, with the clock passed in.

A client may send `burst` lines at once and `rate` lines per second after that
(a line longer than `FREE_BYTES` costs more, by its size).
The server asks before taking each line; when the bucket is empty it stops
reading that client until `wait(now)` has passed, so the excess waits in the
client's kernel buffers (TCP backpressure) instead of being dropped.

Reads cost too: a ``recv`` that completes no line takes `READ_COST` of a
token, so a client that trickles one byte per segment (no newline, so no line
to charge) is read a few dozen times a second, not thousands, while typing,
whose reads bring whole lines, is charged for its lines alone. The clock is a
parameter, never read here, so tests drive time by hand.

WebSocket frames and HTTP requests draw on the same kind of bucket, so no read
makes the server work for free: a frame that completes no line (a ping, an
empty or partial message) costs `1 / FRAMES_PER_TOKEN`, and a request on the
web port costs `REQUEST_COST` (see their comments for the prices).
"""

#: Tokens a ``recv`` that completed no line costs: five weigh as much as a line.
READ_COST = 0.2
#: A line costs one token up to this many bytes (far more than anyone types in
#: one go), and a token per this many bytes beyond: a pasted 4 KiB line costs
#: 8, so a client's burst is 20 typed lines but only 3 of the longest. Bytes,
#: not lines, are what a broadcast multiplies by the room: a storm of
#: maximum-length bursts would otherwise queue megabytes in front of every
#: line said after it.
FREE_BYTES = 512
#: WebSocket frames that complete no line, per token. wsproto decodes a frame in
#: 10-20 us here (about thirty Python calls per frame, whatever its payload), so
#: a token of frames costs about what a line said to a small room does. A client
#: sending nothing but empty pings, empty continuations or empty messages gets
#: 50 frames a second at the default rate and 100 at once: about 1 ms of CPU a
#: second and 2 ms in one pass per connection, where it used to get about 5 s
#: of CPU a second. Their bytes need no price of their own: data frames' text
#: is charged as lines, and a control frame's payload (echoed in a pong) is at
#: most 125 bytes. The page sends one frame per line, and a frame that
#: completes a line is paid for by that line; a client pinging to keep its
#: connection alive (every 30 s or so) spends a fifth of a token.
FRAMES_PER_TOKEN = 5
#: Tokens one HTTP request on the web port costs: 5 a second at the default
#: rate, a burst of 10. A request costs about 0.15 ms here (h11's parsing and
#: framing; `/metrics` is rendered at most once a second and shared), so a
#: connection pipelining at that rate costs under 0.1 % of a core, and the 64
#: connections one address may hold under 5 %. A page load is two requests
#: (the page, the WebSocket), a Prometheus scrape one every 15 s.
REQUEST_COST = 2.0


def line_cost(size: int) -> float:
    """Tokens a line of `size` bytes costs."""
    return 1.0 if size <= FREE_BYTES else 1.0 + (size - FREE_BYTES) / FREE_BYTES


class TokenBucket:
    __slots__ = ("burst", "rate", "_tokens", "_stamp", "_rested")

    def __init__(self, burst: int, rate: float, now: float) -> None:
        self.burst = burst
        self.rate = rate
        self._tokens = float(burst)
        self._stamp = now
        self._rested = True  # full since the last throttling episode began

    def _refill(self, now: float) -> None:
        if now > self._stamp:
            tokens = self._tokens + (now - self._stamp) * self.rate
            if tokens >= self.burst:
                tokens = self.burst
                self._rested = True
            self._tokens = tokens
            self._stamp = now

    def ready(self, now: float) -> bool:
        """True if a line may be taken now."""
        self._refill(now)
        return self._tokens >= 1.0

    def take(self, now: float, tokens: float = 1.0) -> None:
        """Spend `tokens` (one line by default; a read costs `READ_COST`).

        The balance may go below zero (a read is charged after it happened);
        the client then waits longer.
        """
        self._refill(now)
        self._tokens -= tokens

    def wait(self, now: float) -> float:
        """Seconds until the next token is available (0 if it already is)."""
        self._refill(now)
        return max(0.0, (1.0 - self._tokens) / self.rate)

    def new_episode(self) -> bool:
        """Called when the client is held back: True the first time since the
        bucket was last full, so the client is told once per episode."""
        rested, self._rested = self._rested, False
        return rested
