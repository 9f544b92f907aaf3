"""The room's lines as IRC lines (selchat.irc.render): every kind of line,
each variant, long lines split, and one render shared by every recipient."""
from selchat import wire
from selchat.batch import Batch
from selchat.irc.render import LINE, RAW, Renderer, split_message

NAMES = {"t1": "carol"}


def renderer() -> Renderer:
    return Renderer("irc.test", "h", "#lobby", lambda: "ep0ch", lambda: 1_700_000_000_000,
                    NAMES.get)


def render(line: bytes, target=None, note=None, variant="plain") -> bytes:
    return getattr(renderer(), variant)(line, note, target)


def test_chat_action_and_private_lines():
    assert render(wire.encode(wire.chat("alice", "hi"))) == \
        b":alice!alice@h PRIVMSG #lobby :hi\r\n"
    assert render(b"#dev " + wire.encode(wire.chat("alice", "hi"))) == \
        b":alice!alice@h PRIVMSG #dev :hi\r\n"
    assert render(wire.encode(wire.action("alice", "waves"))) == \
        b":alice!alice@h PRIVMSG #lobby :\x01ACTION waves\x01\r\n"
    assert render(wire.encode(wire.private("alice", "psst")), target="t1") == \
        b":alice!alice@h PRIVMSG carol :psst\r\n"


def test_joins_parts_quits_nicks_and_topics():
    assert render(wire.encode(wire.joined("bob"))) == b":bob!bob@h JOIN #lobby\r\n"
    assert render(b"#dev " + wire.encode(wire.joined_room("bob", "#dev"))) == \
        b":bob!bob@h JOIN #dev\r\n"
    assert render(b"#dev " + wire.encode(wire.left_room("bob", "#dev", "bye now"))) == \
        b":bob!bob@h PART #dev :bye now\r\n"
    assert render(b"#dev " + wire.encode(wire.left_room("bob", "#dev"))) == \
        b":bob!bob@h PART #dev\r\n"
    assert render(wire.encode(wire.left("bob", "gone"))) == b":bob!bob@h QUIT :gone\r\n"
    assert render(wire.encode(wire.renamed("bob", "rob"))) == b":bob!bob@h NICK rob\r\n"
    assert render(b"#dev " + wire.encode(wire.topic_set("bob", "a topic"))) == \
        b":bob!bob@h TOPIC #dev :a topic\r\n"


def test_an_irc_clients_notice_is_a_notice_again():
    assert render(b"#dev " + wire.encode(wire.notice("-alice- hear ye"))) == \
        b":alice!alice@h NOTICE #dev :hear ye\r\n"
    assert render(wire.encode(wire.notice("-alice- psst")), target="t1") == \
        b":alice!alice@h NOTICE carol :psst\r\n"


def test_other_server_lines_are_notices_and_shutting_down_is_an_error():
    assert render(wire.encode(wire.shutting_down()), target="t1") == \
        b"ERROR :Closing link: the server is shutting down\r\n"
    assert render(wire.encode(wire.notice("Something else."))) == \
        b":irc.test NOTICE #lobby :*** Something else.\r\n"
    assert render(wire.encode(wire.error("oops")), target="t1") == \
        b":irc.test NOTICE carol :!!! oops\r\n"
    assert render(wire.encode(wire.sent("bob", "x")), target="t1") == b""


def test_variants_add_time_and_msgid():
    line = wire.encode(wire.chat("alice", "hi"))
    assert render(line, note=41, variant="with_time") == \
        b"@time=2023-11-14T22:13:20.000Z :alice!alice@h PRIVMSG #lobby :hi\r\n"
    assert render(line, note=41, variant="with_tags") == \
        b"@time=2023-11-14T22:13:20.000Z;msgid=ep0ch-41 :alice!alice@h PRIVMSG #lobby :hi\r\n"
    assert render(line, note=(41, 1_000), variant="with_tags").startswith(
        b"@time=1970-01-01T00:00:01.000Z;msgid=ep0ch-41 ")
    assert render(b":irc.test 001 x :hi\r\n", note=RAW, variant="with_tags") == \
        b":irc.test 001 x :hi\r\n"


def test_a_line_carries_its_client_tags_to_message_tags_clients_only():
    from selchat.effect_types import Broadcast
    made = renderer()
    line = wire.chat("alice", "hi")
    made.carries(Broadcast(line), {"+draft/reply": "m 1"})
    payload = wire.encode(line)
    assert made.with_tags(payload, 7, None).startswith(
        b"@time=2023-11-14T22:13:20.000Z;msgid=ep0ch-7;+draft/reply=m\\s1 :alice")
    assert b"draft" not in made.with_time(payload, 7, None)
    assert b"draft" not in made.plain(payload, 7, None)


def test_a_long_line_is_split_within_512_bytes_at_character_boundaries():
    text = "é" * 600
    lines = split_message("alice!alice@h", "PRIVMSG", "#lobby", text, action=True)
    assert len(lines) > 1
    assert all(len(line) <= LINE for line in lines)
    bodies = [line.decode().split(" :", 1)[1][len("\x01ACTION "):-3] for line in lines]
    assert "".join(bodies) == text


def test_a_pass_is_rendered_once_per_variant_and_cut_for_the_sender():
    batch: Batch[str] = Batch()
    calls = []
    plain = renderer().plain

    def counting(payload, note, target):
        calls.append(payload)
        return plain(payload, note, target)
    batch.broadcast(wire.encode(wire.chat("alice", "one")), exclude="a")
    batch.broadcast(wire.encode(wire.chat("bob", "two")), exclude="b")
    shared, own = batch.split(["a", "b", "c"], counting)
    assert len(calls) == 2  # once per line, not per recipient
    assert shared == (b":alice!alice@h PRIVMSG #lobby :one\r\n"
                      b":bob!bob@h PRIVMSG #lobby :two\r\n")
    assert b"".join(own["a"]) == b":bob!bob@h PRIVMSG #lobby :two\r\n"


#: What moderation tells a room -> the IRC line its IRC members get.
MODERATION = {
    "bob was kicked from #class by teach (bye now)": "KICK #class bob :bye now",
    "bob was banned from #class by teach until lifted": "KICK #class bob :until lifted",
    "teach set mode +k sesame on #class": "MODE #class +k sesame",
    "teach set mode -m on #class": "MODE #class -m",
    "teach set mode -int on #class": "MODE #class -int",
    "teach made bob an operator of #class": "MODE #class +o bob",
    "teach took bob's voice in #class": "MODE #class -v bob",
    "teach banned bob from #class until lifted": "MODE #class +b bob!*@*",
    "teach lifted the ban on bob in #class": "MODE #class -b bob!*@*",
}


def test_moderation_is_told_as_kick_mode_invite_and_error():
    for told, shown in MODERATION.items():
        assert render(b"#class " + wire.encode(wire.notice(told))) == \
            f":teach!teach@h {shown}\r\n".encode(), told
    assert render(wire.encode(wire.error("you were kicked from #class by teach (out)")),
                  target="t1") == b":teach!teach@h KICK #class carol :out\r\n"
    assert render(wire.encode(wire.error("you were banned from this server by boss until "
                                         "lifted")), target="t1") == \
        b"ERROR :Closing link: you were banned from this server by boss until lifted\r\n"
    assert render(wire.encode(wire.notice("teach invites you to #class: /join #class")),
                  target="t1") == b":teach!teach@h INVITE carol #class\r\n"


ACCOUNTS = {"bar": "jilles", "rob": "bob"}  # logged in: name -> account


def with_accounts(lookups=None) -> Renderer:
    def account_of(name):
        if lookups is not None:
            lookups.append(name)
        return ACCOUNTS.get(name)
    return Renderer("irc.test", "h", "#lobby", lambda: "ep0ch", lambda: 1_700_000_000_000,
                    NAMES.get, account_of, lambda name: {"bar": "Bar B."}.get(name, name))


def test_each_variant_is_one_object_and_the_old_three_are_the_plain_ones():
    made = with_accounts()
    assert made.variant(None) == made.plain and made.variant("all") == made.with_tags
    assert made.variant("time", True, False) is made.variant("time", True, False)
    assert made.variant("time", True, False) is not made.variant("time", True, True)


def test_account_tag_names_the_speakers_account_in_every_user_line():
    made = with_accounts()
    signed = made.variant(None, account=True)
    chat = wire.encode(wire.chat("bar", "hi"))
    assert signed(chat, 7, None) == b"@account=jilles :bar!bar@h PRIVMSG #lobby :hi\r\n"
    assert made.variant("all", account=True)(chat, 7, None) == (
        b"@time=2023-11-14T22:13:20.000Z;msgid=ep0ch-7;account=jilles "
        b":bar!bar@h PRIVMSG #lobby :hi\r\n")
    assert made.variant("time")(chat, 7, None).startswith(b"@time=2023-11-14T22:13:20.000Z :")
    assert signed(wire.encode(wire.chat("alice", "hi")), 7, None) == \
        b":alice!alice@h PRIVMSG #lobby :hi\r\n"  # not logged in: no tag
    assert signed(wire.encode(wire.private("bar", "psst")), None, "t1") == \
        b"@account=jilles :bar!bar@h PRIVMSG carol :psst\r\n"
    assert signed(wire.encode(wire.notice("bar invites you to #dev: /join #dev")), None,
                  "t1") == b"@account=jilles :bar!bar@h INVITE carol #dev\r\n"
    assert signed(wire.encode(wire.renamed("robert", "rob")), None, None) == \
        b"@account=bob :robert!robert@h NICK rob\r\n"  # found by the name it has now
    assert signed(wire.encode(wire.notice("Something else.")), None, None) == \
        b":irc.test NOTICE #lobby :*** Something else.\r\n"  # the server's: none
    long = signed(wire.encode(wire.chat("bar", "é" * 600)), 7, None).split(b"\r\n")[:-1]
    assert len(long) > 1 and all(line.startswith(b"@account=jilles :bar!") for line in long)


def test_extended_join_says_the_account_and_the_realname():
    made = with_accounts()
    extended = made.variant(None, extended_join=True)
    assert extended(b"#dev " + wire.encode(wire.joined_room("bar", "#dev")), None, None) == \
        b":bar!bar@h JOIN #dev jilles :Bar B.\r\n"
    assert made.variant(None, True, True)(wire.encode(wire.joined("alice")), None, None) == \
        b":alice!alice@h JOIN #lobby * :alice\r\n"  # not logged in: "*"
    assert made.plain(wire.encode(wire.joined("bar")), None, None) == \
        b":bar!bar@h JOIN #lobby\r\n"


def test_accounts_are_looked_up_once_per_line_and_variant_not_per_recipient():
    lookups: list = []
    signed = with_accounts(lookups).variant("all", account=True)
    batch: Batch[str] = Batch()
    batch.broadcast(wire.encode(wire.chat("bar", "one")), exclude="a")
    batch.broadcast(wire.encode(wire.chat("alice", "two")))
    shared, own = batch.split([f"member{n}" for n in range(50)] + ["a"], signed)
    assert lookups == ["bar", "alice"]
    assert shared.count(b"account=jilles") == 1 and b"account" not in b"".join(own["a"])
