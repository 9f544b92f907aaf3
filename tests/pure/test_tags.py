"""Tags, the new client commands and the history sentences, in `selchat.wire`."""
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from selchat import commands
from selchat import wire
from selchat.commands import BadUsage, Resume, Tags
from selchat.tags import (
    escape_tag_value, format_time, line_ends, parse_time, split_tags, tag_prefix,
    unescape_tag_value,
)


FAST = settings(max_examples=300, deadline=None, database=None)
TIME = 1796189493929  # 2026-12-02T05:31:33.929Z


@pytest.mark.parametrize("line, command", [
    ("/tags", Tags()),
    ("/TAGS", Tags()),
    ("/tags on", BadUsage("tags")),
    ("/resume abc.0123 1041", Resume("abc.0123", 1041)),
    ("/resume abc 0", Resume("abc", 0)),
    ("/resume abc  7 ", Resume("abc", 7)),
    ("/resume abc", BadUsage("resume")),
    ("/resume", BadUsage("resume")),
    ("/resume abc -1", BadUsage("resume")),
    ("/resume abc +1", BadUsage("resume")),
    ("/resume abc ٣", BadUsage("resume")),
    ("/resume abc 1 2", BadUsage("resume")),
])
def test_parse_client_commands(line, command):
    assert commands.parse(line) == command


def test_usage_covers_client_commands_which_help_does_not_list():
    assert commands.usage("resume") == "/resume TOKEN LASTSEQ"
    assert commands.usage("msg") == "/msg NAME text"
    assert "tags" not in commands.COMMANDS and "resume" not in commands.COMMANDS


@pytest.mark.parametrize("line, command", [
    ("/tags", Tags()),
    ("/resume t 3", Resume("t", 3)),
    ("/resume", BadUsage("resume")),
    ("ann", None),
    ("/nick", None),  # a name, and an invalid one: the room says so
    ("/tagsx", None),
])
def test_before_name(line, command):
    assert commands.before_name(line) == command


def test_format_time_is_utc_iso_8601_with_milliseconds():
    assert format_time(TIME) == "2026-12-02T05:31:33.929Z"
    assert format_time(0) == "1970-01-01T00:00:00.000Z"
    assert format_time(1005) == "1970-01-01T00:00:01.005Z"


@pytest.mark.parametrize("text, ms", [
    ("2026-12-02T05:31:33.929Z", TIME),
    ("2026-12-02T05:31:33Z", TIME - 929),
    ("2026-12-02T05:31:33.9Z", TIME - 29),
    ("2026-12-02T05:31:33.929123Z", TIME),
    ("2026-02-30T05:31:33.929Z", None),
    ("2026-12-02T25:31:33.929Z", None),
    ("2026-12-02 05:31:33.929Z", None),
    ("2026-12-02T05:31:33.929", None),
    ("", None),
])
def test_parse_time(text, ms):
    assert parse_time(text) == ms


@FAST
@given(st.integers(min_value=0, max_value=253402300799999))  # up to 9999-12-31
def test_time_round_trips(ms):
    assert parse_time(format_time(ms)) == ms


def test_tag_prefix():
    assert tag_prefix(1041, TIME) == b"@seq=1041;time=2026-12-02T05:31:33.929Z "
    assert tag_prefix(None, TIME, {"resume": "e.ff"}) == (
        b"@time=2026-12-02T05:31:33.929Z;resume=e.ff ")
    assert tag_prefix(None, 0, {"k": "a b;c\\d\r\n"}) == (
        b"@time=1970-01-01T00:00:00.000Z;k=a\\sb\\:c\\\\d\\r\\n ")


@pytest.mark.parametrize("line, tags, rest", [
    ("<bob> hi", {}, "<bob> hi"),
    ("@seq=1;time=T <bob> hi", {"seq": "1", "time": "T"}, "<bob> hi"),
    ("@a;b=;c=x\\sy\\:z\\\\\\q\\ *** ok", {"a": "", "b": "", "c": "x y;z\\q"}, "*** ok"),
    ("@a=1;a=2 x", {"a": "2"}, "x"),
    ("@a=1", {"a": "1"}, ""),
    ("@ x", {}, "x"),
    ("@a=1 <bob> @b=2 not a tag", {"a": "1"}, "<bob> @b=2 not a tag"),
])
def test_split_tags(line, tags, rest):
    assert split_tags(line) == (tags, rest)


keys = st.text(st.characters(whitelist_categories=("Ll", "Lu", "Nd")), min_size=1, max_size=8)
values = st.text(max_size=20).filter(lambda v: "\x00" not in v)


@FAST
@given(st.one_of(st.none(), st.integers(min_value=0)), st.integers(min_value=0, max_value=2**45),
       st.dictionaries(keys.filter(lambda k: k not in ("seq", "time")), values, max_size=4),
       st.text(max_size=30))
def test_tags_round_trip(seq, time_ms, extra, text):
    line = tag_prefix(seq, time_ms, extra).decode() + text
    tags, rest = split_tags(line)
    assert rest == text
    expected = {} if seq is None else {"seq": str(seq)}
    expected.update(time=format_time(time_ms), **extra)
    assert tags == expected


@FAST
@given(st.text(max_size=30))
def test_escaping_round_trips_and_leaves_no_separator(value):
    escaped = escape_tag_value(value)
    assert not set(escaped) & {" ", ";", "\r", "\n"}
    assert unescape_tag_value(escaped) == value


def test_line_ends():
    assert line_ends(b"") == []
    assert line_ends(b"a\nbc\n\n") == [2, 5, 6]


@pytest.mark.parametrize("line, decoded", [
    (wire.welcome_back("ann"), wire.WelcomeBack("ann")),
    (wire.history_start(20), wire.HistoryStart(20)),
    (wire.history_start(1), wire.HistoryStart(1)),
    (wire.history_end(), wire.HistoryEnd()),
    (wire.history_gap(37, "older than the history kept"),
     wire.HistoryGap(37, "older than the history kept")),
    (wire.history_gap(1, "x (y)"), wire.HistoryGap(1, "x (y)")),
    (wire.history_gap(None, "the server restarted"), wire.HistoryGap(None, "the server restarted")),
])
def test_history_sentences_round_trip(line, decoded):
    assert wire.decode(wire.text_of(line)) == decoded


def test_history_sentence_texts():
    assert wire.text_of(wire.welcome_back("ann")) == "*** Welcome back, ann."
    assert wire.text_of(wire.history_start(20)) == "*** Last 20 lines:"
    assert wire.text_of(wire.history_start(1)) == "*** Last 1 line:"
    assert wire.text_of(wire.history_end()) == "*** End of history."
    assert wire.text_of(wire.history_gap(3, "the server restarted")) == (
        "!!! history gap: 3 lines missed (the server restarted)")
    assert wire.text_of(wire.history_gap(None, "r")) == (
        "!!! history gap: an unknown number of lines missed (r)")
    assert wire.decode("!!! history gap is a phrase") == wire.error("history gap is a phrase")
