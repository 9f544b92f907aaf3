"""A room's last lines for an IRC client joining it (selchat.irc.replay):
what is kept (what was said) and how it looks to each client (its tags, a
batch or two notices)."""
from selchat import wire
from selchat.history import Line
from selchat.irc.message import Message, parse
from selchat.irc.render import Renderer
from selchat.irc.replay import BATCH_REF, Said, replay, said

T0 = 1_764_000_000_000  # 2025-11-24T16:00:00.000Z
RENDERER = Renderer("irc.test", "irc.test", "#lobby", lambda: "E", lambda: T0, lambda _: None)


def kept(*texts: str) -> list:
    """Room lines as a history keeps them, numbered from 7, a second apart."""
    return [Line(7 + number, T0 + 1000 * number, (text + "\n").encode(), b"")
            for number, text in enumerate(texts)]


def render(data: bytes) -> bytes:
    return RENDERER.plain(data, None, None)


def parsed(lines) -> list:
    out = []
    for line in lines:
        assert line.endswith(b"\r\n") and line.count(b"\r\n") == 1, line
        msg = parse(line[:-2])
        assert isinstance(msg, Message)
        out.append(msg)
    return out


def test_only_what_someone_said_is_kept_joins_and_server_notices_are_not():
    lines = kept(wire.encode(wire.joined("alice")).decode().rstrip("\n"),
                 "<alice> hi", "* alice waves", "*** -alice- hear ye",
                 "#dev <bob> in dev", "*** bob has left the chat room (bye).",
                 "*** alice set the topic: cats", "*** Server notice of some kind.")
    found = said(lines, render, "E")
    assert [each.line for each in found] == [
        b":alice!alice@irc.test PRIVMSG #lobby :hi\r\n",
        b":alice!alice@irc.test PRIVMSG #lobby :\x01ACTION waves\x01\r\n",
        b":alice!alice@irc.test NOTICE #lobby :hear ye\r\n",
        b":bob!bob@irc.test PRIVMSG #dev :in dev\r\n"]
    assert [(each.time_ms, each.msgid) for each in found] == [
        (T0 + 1000, "E-8"), (T0 + 2000, "E-9"), (T0 + 3000, "E-10"), (T0 + 4000, "E-11")]


def test_a_plain_client_gets_the_lines_between_two_notices():
    lines = replay(said(kept("<alice> hi", "<bob> yo"), render, "E"), "#lobby", "irc.test",
                   None, batch=False)
    assert lines == [b":irc.test NOTICE #lobby :Last 2 lines:\r\n",
                     b":alice!alice@irc.test PRIVMSG #lobby :hi\r\n",
                     b":bob!bob@irc.test PRIVMSG #lobby :yo\r\n",
                     b":irc.test NOTICE #lobby :End of history.\r\n"]


def test_server_time_says_when_and_message_tags_the_msgid_everyone_got():
    found = said(kept("<alice> hi"), render, "E")
    timed = parsed(replay(found, "#lobby", "irc.test", "time", batch=False))[1]
    assert timed.tags == {"time": "2025-11-24T16:00:00.000Z"}
    tagged = parsed(replay(found, "#lobby", "irc.test", "all", batch=False))[1]
    assert tagged.tags == {"time": "2025-11-24T16:00:00.000Z", "msgid": "E-7"}
    assert tagged.params == ["#lobby", "hi"]


def test_with_batch_the_lines_are_one_chathistory_batch():
    msgs = parsed(replay(said(kept("<alice> hi", "<bob> yo"), render, "E"), "#dev",
                         "irc.test", "all", batch=True))
    assert [msg.command for msg in msgs] == ["BATCH", "PRIVMSG", "PRIVMSG", "BATCH"]
    assert msgs[0].params == ["+" + BATCH_REF, "chathistory", "#dev"]
    assert msgs[-1].params == ["-" + BATCH_REF]
    assert all(msg.tags["batch"] == BATCH_REF for msg in msgs[1:-1])
    assert msgs[1].tags["msgid"] == "E-7"


def test_a_long_line_is_several_messages_each_tagged():
    found = [Said(b":a!a@h PRIVMSG #lobby :one\r\n:a!a@h PRIVMSG #lobby :two\r\n", T0, "E-1")]
    msgs = parsed(replay(found, "#lobby", "irc.test", "time", batch=True))
    assert [msg.params[-1] for msg in msgs[1:-1]] == ["one", "two"]
    assert all(msg.tags == {"batch": BATCH_REF, "time": "2025-11-24T16:00:00.000Z"}
               for msg in msgs[1:-1])


def test_nothing_said_is_no_replay_at_all():
    assert replay([], "#lobby", "irc.test", "all", batch=True) == []
    assert said(kept("*** carol has joined #lobby."), render, "E") == []
