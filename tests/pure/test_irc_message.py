"""IRC lines to messages and back (selchat.irc.message), and the framing they
come out of: CR LF or LF, split anywhere, caps on tags and on the rest."""
from hypothesis import given, strategies as st

from selchat.framing import LineBuffer
from selchat.irc.message import (
    MAX_LINE, MAX_REST, MAX_TAGS, Message, TooLong, encode, escape, parse, unescape,
)


def test_command_params_and_trailing():
    assert parse(b"PRIVMSG #dev :hello there") == Message("PRIVMSG", ["#dev", "hello there"])
    assert parse(b"privmsg #dev hi") == Message("PRIVMSG", ["#dev", "hi"])
    assert parse(b"USER al 0 * :Alice A") == Message("USER", ["al", "0", "*", "Alice A"])
    assert parse(b"PING :") == Message("PING", [""])
    assert parse(b"NICK   bob  ") == Message("NICK", ["bob"])


def test_a_clients_source_is_ignored_and_tags_are_read():
    msg = parse(rb"@label=a\sb;+draft/x=1\:2;flag :me!u@h PRIVMSG bob :x :y")
    assert msg == Message("PRIVMSG", ["bob", "x :y"],
                          {"label": "a b", "+draft/x": "1;2", "flag": ""})


def test_empty_lines_are_nothing():
    assert parse(b"") is None
    assert parse(b"   ") is None
    assert parse(b"@a=b ") is None


def test_bad_utf8_is_decoded_leniently():
    msg = parse(b"PRIVMSG #dev :caf\xe9")
    assert isinstance(msg, Message) and msg.params[1] == "caf\ufffd"


def test_caps_on_the_rest_and_on_the_tags():
    assert parse(b"PRIVMSG #d :" + b"x" * (MAX_REST - 12)) is not None
    assert parse(b"PRIVMSG #d :" + b"x" * MAX_REST) == TooLong(tags=False)
    assert parse(b"@a=" + b"x" * 4096 + b" PING x") == TooLong(tags=True)  # a client's: 4094
    assert isinstance(parse(b"@a=" + b"x" * 4090 + b" PING x"), Message)
    assert MAX_LINE > MAX_TAGS + MAX_REST  # what the framing holds: a server's worth


def test_more_than_fifteen_params_are_joined_into_the_last():
    msg = parse(b"X " + b" ".join(b"p%d" % n for n in range(20)))
    assert isinstance(msg, Message) and len(msg.params) == 15
    assert msg.params[-1] == " ".join(f"p{n}" for n in range(14, 20))


def test_encode_puts_a_colon_where_it_must():
    assert encode("srv", "001", ["bob", "Welcome here"]) == b":srv 001 bob :Welcome here\r\n"
    assert encode("srv", "PONG", ["srv", "tok"]) == b":srv PONG srv tok\r\n"
    assert encode("srv", "PONG", ["srv", "tok"], trailing=True) == b":srv PONG srv :tok\r\n"
    assert encode(None, "X", [""]) == b"X :\r\n"
    assert encode(None, "X", [":a"]) == b"X ::a\r\n"
    assert encode("s", "ACK", [], tags={"label": "a b;c", "k": ""}) == \
        b"@label=a\\sb\\:c;k :s ACK\r\n"


@given(st.text())
def test_tag_values_round_trip(value):
    assert unescape(escape(value)) == value


WORD = st.characters(blacklist_characters="\r\n\x00 :", blacklist_categories=("Cs",))
TEXT = st.characters(blacklist_characters="\r\n\x00", blacklist_categories=("Cs",))


@given(st.lists(st.text(alphabet=WORD, min_size=1), min_size=1, max_size=5), st.text(alphabet=TEXT))
def test_encode_then_parse_gives_the_params_back(middle, last):
    line = encode(None, "CMD", [*middle, last])
    assert parse(line[:-2]) == Message("CMD", [*middle, last])


@given(st.lists(st.integers(1, 40), max_size=10))
def test_a_stream_split_anywhere_gives_the_same_messages(cuts):
    stream = b"NICK a\r\nUSER a 0 * :A b\nPRIVMSG #x :hi\r\n"
    lines = LineBuffer(MAX_LINE)
    got, start = [], 0
    for cut in [*sorted(cuts), len(stream)]:
        if cut > start:
            lines.feed(stream[start:cut])
            start = cut
        while isinstance(line := lines.next_line(), bytes):
            got.append(parse(line))
    assert [m.command for m in got if isinstance(m, Message)] == ["NICK", "USER", "PRIVMSG"]
