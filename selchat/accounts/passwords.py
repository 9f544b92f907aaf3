"""Password hashes: scrypt, its parameters in the stored string, compared in
constant time; and the worker pipe's request and answer lines.

A stored hash reads ``scrypt$N$r$p$SALT$HASH`` (base64), so the strength can
be raised later and old hashes still check. The default, N=2**15, r=8, p=1
(32 MiB, some 50-100 ms here), is what Go's ``x/crypto/scrypt`` recommends for
interactive logins (2017) and above RFC 7914's 2**14; OWASP's 2**17 is
``--scrypt-n 131072``. Hashing is slow on purpose, so the server never calls
these functions itself: `selchat.accounts.worker` does, in another process.
Pure: no I/O; the salt is the caller's randomness.
"""
import base64
import hashlib
import hmac
from typing import NamedTuple, Optional, Tuple

#: scrypt's cost (N) for new hashes; r and p as every guide has them.
DEFAULT_N = 2 ** 15
MIN_N = 2 ** 10  # tests only: refused below this
BLOCK_SIZE = 8
PARALLEL = 1
SALT_BYTES = 16
HASH_BYTES = 32
#: Passwords longer than this are refused before hashing: a 1 MB password
#: would cost the worker for nothing (Django caps at 4096 too).
MAX_PASSWORD = 1024


def _memory(n: int, r: int, p: int) -> int:
    """scrypt's memory for these parameters, plus slack (hashlib wants maxmem)."""
    return 128 * r * (n + p + 2) + 1024 * 1024


def make_hash(password: str, salt: bytes, n: int = DEFAULT_N) -> str:
    key = hashlib.scrypt(password.encode(), salt=salt, n=n, r=BLOCK_SIZE, p=PARALLEL,
                         maxmem=_memory(n, BLOCK_SIZE, PARALLEL), dklen=HASH_BYTES)
    return "$".join(["scrypt", str(n), str(BLOCK_SIZE), str(PARALLEL),
                     base64.b64encode(salt).decode(), base64.b64encode(key).decode()])


def check(password: str, stored: str) -> bool:
    """Whether `password` is the one `stored` was made from (constant-time compare)."""
    try:
        kind, n, r, p, salt, expected = stored.split("$")
        if kind != "scrypt":
            return False
        key = hashlib.scrypt(password.encode(), salt=base64.b64decode(salt), n=int(n),
                             r=int(r), p=int(p), maxmem=_memory(int(n), int(r), int(p)),
                             dklen=len(base64.b64decode(expected)))
    except ValueError:  # a damaged entry matches nothing
        return False
    return hmac.compare_digest(key, base64.b64decode(expected))


# -- the worker's pipe: one line per request, one per answer ---------------------------


class Request(NamedTuple):
    """``ID hash N PASSWORD`` or ``ID check STORED PASSWORD`` (password in base64)."""

    number: int
    op: str  # "hash" or "check"
    argument: str  # N for hash, the stored hash for check
    password: str

    def line(self) -> bytes:
        secret = "p" + base64.b64encode(self.password.encode()).decode()  # never empty
        return f"{self.number} {self.op} {self.argument} {secret}\n".encode()

    @classmethod
    def parse(cls, line: bytes) -> Optional["Request"]:
        try:
            number, op, argument, secret = line.decode().split()
            return cls(int(number), op, argument, base64.b64decode(secret[1:]).decode())
        except ValueError:
            return None


def answer(request: Request, salt: bytes) -> bytes:
    """The worker's answer line: ``ID HASH`` or ``ID 1`` / ``ID 0``."""
    if request.op == "hash":
        result = make_hash(request.password, salt, max(MIN_N, int(request.argument)))
    else:
        result = "1" if check(request.password, request.argument) else "0"
    return f"{request.number} {result}\n".encode()


def parse_answer(line: bytes) -> Optional[Tuple[int, str]]:
    """(number, result) of an answer line, or None."""
    number, _, result = line.decode("ascii", "replace").strip().partition(" ")
    return (int(number), result) if number.isdecimal() and result else None
