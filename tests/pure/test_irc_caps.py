"""IRCv3 capability negotiation (selchat.irc.caps)."""
from selchat.irc.caps import SUPPORTED, Caps


def test_ls_302_holds_registration_and_turns_cap_notify_on():
    caps = Caps()
    [ls] = caps.handle(["LS", "302"], registered=False)
    assert ls.subcommand == "LS"
    assert [cap.partition("=")[0] for cap in ls.caps.split()] == list(SUPPORTED)
    assert "sasl=PLAIN" in ls.caps.split()  # 302's values
    assert caps.negotiating and caps.has("cap-notify")
    assert Caps().handle(["LS"], registered=False)[0].caps.split() == list(SUPPORTED)
    assert caps.handle(["END"], registered=False) == [] and not caps.negotiating


def test_ls_after_registration_holds_nothing():
    caps = Caps()
    caps.handle(["LS"], registered=True)
    assert not caps.negotiating and not caps.has("cap-notify")


def test_a_request_is_granted_or_refused_whole():
    caps = Caps()
    assert caps.handle(["REQ", "server-time nope"], False)[0].subcommand == "NAK"
    assert caps.enabled == set()
    assert caps.handle(["REQ", "server-time message-tags"], False)[0].subcommand == "ACK"
    assert caps.tags() == "all"
    assert caps.handle(["REQ", "-message-tags"], False)[0].subcommand == "ACK"
    assert caps.tags() == "time"
    assert caps.handle(["REQ", ""], False)[0].subcommand == "NAK"
    assert caps.handle(["LIST"], False)[0].caps == "server-time"


def test_an_unknown_subcommand_is_invalid():
    [reply] = Caps().handle(["FROB"], False)
    assert reply.invalid and reply.subcommand == "FROB"
    assert Caps().handle([], False)[0].invalid
