"""The load harness's IRC transport (``flood.py --transport irc``): what a client
sends, the layout of a message as it arrives (learnt from the first JOIN), the
checks on it, the options it goes with, and the peers' configurations."""
import sys

import pytest

from support.constants import BENCH

sys.path.insert(0, str(BENCH))
import flood  # noqa: E402
import ircds  # noqa: E402
import servers  # noqa: E402
from message import BodyFormat  # noqa: E402
from protocols import PROTOCOLS, Irc  # noqa: E402
from tally import Checker, Probe, Tally  # noqa: E402

NGIRCD_REPLY = (b":bench.ngircd 376 c000 :End of MOTD command\r\n"
                b":c000!~c000@127.0.0.1 JOIN :#lobby\r\n"
                b":bench.ngircd 353 c000 = #lobby :@c000\r\n"
                b":bench.ngircd 366 c000 #lobby :End of NAMES list\r\n")


def test_a_client_registers_then_joins_then_talks():
    assert PROTOCOLS["irc"] is Irc
    assert Irc.join("c007") == b"NICK c007\r\nUSER c007 0 * :c007\r\n"
    assert Irc.enter() == b"JOIN #lobby\r\n"
    assert Irc.frame(b"#!ready") == b"PRIVMSG #lobby :#!ready\r\n"
    assert Irc.registered in b":srv 001 c007 :Welcome\r\n"
    assert Irc.joined in NGIRCD_REPLY


def test_the_layout_is_learnt_from_the_first_clients_own_join():
    record = Irc.record("c123", 40, NGIRCD_REPLY)
    head = len(b":c123!~c000@127.0.0.1 PRIVMSG #lobby :")
    assert record == (head + 40 + 2, head)
    # InspIRCd gives no "~"; without any JOIN, a guess of that shape.
    inspircd = b":c000!c000@127.0.0.1 JOIN :#lobby\r\n"
    assert Irc.record("c123", 40, inspircd) == Irc.record("c123", 40, b"") == (
        head - 1 + 42, head - 1)


def _received(fmt: BodyFormat, source: bytes, sender: int, seqs) -> bytes:
    return b"".join(source + b" PRIVMSG #lobby :" + fmt.body(sender, seq, 5) + b"\r\n"
                    for seq in seqs)


def test_a_clean_run_of_received_privmsgs_passes_the_column_check():
    fmt = BodyFormat(2, 40)
    checker = Checker(fmt, Irc.record("c000", 40), 256, Irc.is_framing, mark=Irc.body_mark)
    checker.layout(Irc.record("c000", 40, NGIRCD_REPLY))
    data = bytearray(_received(fmt, b":c001!~c001@127.0.0.1", 0, range(5))
                     + _received(fmt, b":c002!~c002@127.0.0.1", 1, range(3)))
    tally = Tally(2)
    assert checker.records(data, len(data), tally)
    checker.settle(tally)
    assert tally.received == [5, 3] and checker.garbled == 0
    # A message one byte longer breaks the columns: the read goes to `lines`.
    longer = bytearray(_received(fmt, b":c001!~c0001@127.0.0.1", 0, range(5)))
    assert not checker.records(longer, len(longer) - len(longer) % checker.size, tally)


def test_lines_find_the_body_after_the_channel_and_skip_pings():
    fmt = BodyFormat(1, 40)
    checker = Checker(fmt, Irc.record("c000", 40), 256, Irc.is_framing, mark=Irc.body_mark)
    tally, probe = Tally(1), Probe()
    data = (b"PING :bench.ngircd\r\n" + _received(fmt, b":c001!c001@h", 0, [0, 2, 1])
            + b":bench.ngircd NOTICE c000 :hello\r\n")
    assert checker.lines(data, tally, 1000, probe) == 3
    assert tally.received == [3] and checker.disorder == [1]
    assert list(probe.latencies) == [995] * 3
    assert checker.other_lines == 1 and checker.garbled == 0  # the NOTICE, not the PING


def test_a_receiver_answers_the_servers_pings():
    data = b"PING :srv\r\n:srv PING srv :abc\r\n:a!a@h PRIVMSG #lobby :PING me\r\n"
    assert Irc.pongs(data) == b"PONG :srv\r\nPONG srv :abc\r\n"
    assert Irc.pings in data and not Irc.pongs(b":a!a@h PRIVMSG #lobby :#x\r\n")
    assert Irc.is_framing(b":srv PONG srv :t\r") and not Irc.is_framing(b":a PRIVMSG #l :PING")


def _refused(capsys, *argv: str) -> str:
    with pytest.raises(SystemExit):
        flood.parse_args(list(argv))
    return capsys.readouterr().err


def test_irc_options_at_odds_are_refused(capsys, monkeypatch):
    monkeypatch.setattr(servers, "available", lambda kind: True)
    assert "ngircd speaks IRC only: add --transport irc" in _refused(
        capsys, "--server", "ngircd")
    for extra in (["--rooms", "3"], ["--nodes", "2"]):
        assert "--transport irc runs selchat, ngircd or inspircd" in _refused(
            capsys, "--transport", "irc", *extra)
    for extra in (["--churn", "5"], ["--tls"], ["--burst", "5"]):  # by their own rules
        assert "--transport tcp" in _refused(capsys, "--transport", "irc", *extra)
    assert "--transport irc runs" in _refused(capsys, "--transport", "irc", "--server",
                                              "threaded")
    args = flood.parse_args(["--transport", "irc", "--server", "inspircd"])
    assert flood._targets(args)[0].kind == "inspircd"


def test_compare_over_irc_runs_the_installed_ircds_beside_selchat(monkeypatch):
    monkeypatch.setattr(servers, "available", lambda kind: kind != "inspircd")
    args = flood.parse_args(["--compare", "--transport", "irc"])
    targets = flood._targets(args)
    assert [(t.label, t.kind, t.transport) for t in targets] == [
        ("selchat", "selchat", None), ("selchat-line", "selchat", "tcp"),
        ("ngircd", "ngircd", None)]


def _fig(us: float, rate: float) -> dict:
    return {"server_cpu": {"us_per_delivery": us}, "throughput": {"deliveries_per_s": rate}}


def test_the_irc_cost_lines_weigh_each_figure_against_its_target():
    grouped = {(None, "selchat"): [_fig(0.30, 2e6), _fig(0.40, 1e6), _fig(0.35, 3e6)],
               (None, "selchat-line"): [_fig(0.25, 3e6)],
               (None, "ngircd"): [_fig(0.80, 1e6)], (None, "inspircd"): [_fig(0.60, 1.1e6)]}
    text = flood._irc_cost_lines(None, None, grouped,
                                 ["selchat", "selchat-line", "ngircd", "inspircd"])
    assert text.splitlines() == [
        "IRC cost: server 0.350 µs/delivery over IRC, 0.250 over the line protocol: "
        "1.40× (OUTSIDE the 1.3× target)",
        "selchat/ngircd: server µs/delivery 0.44× (within the 0.5× target); "
        "deliveries/s 2.00× (within the 2.0× target)",
        "selchat/inspircd: server µs/delivery 0.58× (OUTSIDE the 0.5× target); "
        "deliveries/s 1.82× (OUTSIDE the 2.0× target)"]


def test_an_ircd_missing_is_said(capsys, monkeypatch):
    monkeypatch.setattr(servers, "available", lambda kind: kind != "ngircd")
    assert "ngircd is not installed" in _refused(capsys, "--transport", "irc", "--server",
                                                 "ngircd")


def test_selchat_opens_its_irc_port_only_for_irc_runs():
    with_irc = servers.command("selchat", 0, 10, irc=True)
    assert with_irc[with_irc.index("--irc-port") + 1] == "0" and "--no-irc" not in with_irc
    without = servers.command("selchat", 0, 10)
    assert "--no-irc" in without and "--irc-port" not in without


def test_the_peers_configurations_turn_flood_control_off(tmp_path):
    ngircd = ircds.command("ngircd", str(tmp_path), 6001, 500)
    assert ngircd[1:3] == ["--nodaemon", "--config"]
    text = (tmp_path / "ngircd.conf").read_text()
    assert "Ports = 6001" in text and "MaxPenaltyTime = 0" in text
    assert "MaxConnectionsIP = 0" in text and "DNS = no" in text
    inspircd = ircds.command("inspircd", str(tmp_path), 6002, 500)
    assert "--nofork" in inspircd
    text = (tmp_path / "inspircd.conf").read_text()
    assert 'port="6002"' in text and 'fakelag="no"' in text
    assert f'hardsendq="{ircds.SEND_QUEUE}"' in text and 'localmax="500"' in text
    with pytest.raises(ValueError):
        ircds.command("unrealircd", str(tmp_path), 6003, 500)
