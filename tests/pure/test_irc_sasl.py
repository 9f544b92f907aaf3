"""SASL PLAIN's pieces and credentials (selchat.irc.sasl)."""
from base64 import b64encode

from selchat.irc.sasl import PIECE, Credentials, Plain, credentials, mechanism


def encoded(text: str) -> str:
    return b64encode(text.encode()).decode()


def test_plain_credentials_and_what_is_refused():
    assert credentials(encoded("\0alice\0secret")) == Credentials("alice", "secret")
    assert credentials(encoded("alice\0alice\0secret")) == Credentials("alice", "secret")
    assert credentials(encoded("bob\0alice\0secret")) == "malformed"  # nobody logs in as another
    assert credentials(encoded("alice\0secret")) == "malformed"
    assert credentials("not base64!") == "malformed"
    assert credentials(b64encode(b"\0a\0\xff").decode()) == "malformed"
    assert mechanism("plain") == "PLAIN" and mechanism("SCRAM-SHA-256") is None


def test_pieces_of_400_say_more_follow_and_plus_ends_them():
    whole = encoded("\0alice\0" + "p" * 293)  # exactly 400 characters of base64
    assert len(whole) == PIECE
    exchange = Plain()
    assert exchange.piece(whole) is None
    assert exchange.piece("+") == Credentials("alice", "p" * 293)
    longer = encoded("\0alice\0" + "q" * 400)
    exchange = Plain()
    assert exchange.piece(longer[:PIECE]) is None
    assert exchange.piece(longer[PIECE:]) == Credentials("alice", "q" * 400)
    exchange = Plain()
    for _ in range(4):
        assert exchange.piece("A" * PIECE) is None
    assert exchange.piece("A" * PIECE) == "too long"  # an endless answer: 904
    assert Plain().piece("A" * (PIECE + 1)) == "piece too long"  # not split: 905
