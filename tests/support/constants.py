"""Numbers, lines and paths every kind of test shares."""
from pathlib import Path

#: The checkout the tests run from, and its load harness.
REPO = Path(__file__).resolve().parents[2]
BENCH = REPO / "bench"

TIMEOUT = 10.0  # seconds any single wait may take before the test fails
MiB = 1024 * 1024

#: What the server says first, and the lines it refuses a bad name or a full room with.
HELLO = "*** Hello! Please enter your name."
INVALID_NAME = ("!!! invalid name: names are 1-32 letters or digits, '_', '-' or '.', "
                "with at least one letter or digit")
SERVER_FULL = b"!!! server full\n"
