"""One IRC client's session (selchat.irc.session) against a scripted room:
registration, CAP, the commands, their numerics, labels."""
import base64
from typing import Dict, List, Optional, Set, Tuple

import pytest

from selchat import wire
from selchat.accounts.login import NOT_OPERATOR
from selchat.irc.message import Message, parse
from selchat.irc.replay import BATCH_REF, CHATHISTORY, Said
from selchat.irc.session import IrcSession
from selchat.irc.world import User
from selchat.topics import Topic


class World:
    """A room that answers as it is told, and says what it was asked."""

    def __init__(self) -> None:
        self.said: List[Tuple[str, bool]] = []
        self.answers: Dict[str, List[wire.ServerLine]] = {}
        self.refusals: Dict[str, str] = {}  # channel -> why this client may not speak
        self.taken = {"bob"}
        self.rooms_: Dict[str, Tuple[str, List[str], str]] = {"#lobby": ("#lobby", ["bob"], "")}
        self.mine: List[str] = []
        self.away_texts: List[str] = []
        self.notices: List[Tuple[str, str, bool]] = []
        self.replays: Dict[str, list] = {}  # channel -> what the room replays on joining it
        self.secrets: Set[str] = set()  # secret (+s) rooms
        self.operators: Set[str] = set()  # nicks with a server operator's powers
        self.opers: List[Tuple[str, str]] = []  # OPERs asked (name, password)
        self.setters: Dict[str, Tuple[str, int]] = {}  # channel -> who set its topic, when (ms)

    def command(self, text: str, echo: bool = False, tags=None,
                exclude_self: bool = False) -> List[wire.ServerLine]:
        self.said.append((text, echo))
        self.tags = tags
        refused = any(line.kind is wire.LineType.ERROR for line in self.answers.get(text, []))
        if text.startswith("/join ") and not refused:
            name = text[6:]
            if name.lower() not in self.rooms_:
                self.rooms_[name.lower()] = (name, [], "")
            if name not in self.mine:
                self.mine.append(name)
        return self.answers.get(text, [])

    def names(self, channel: str) -> Optional[Tuple[str, List[str]]]:
        found = self.rooms_.get(channel.lower())
        if found is None:
            return None
        return found[0], [*found[1], *(["me"] if found[0] in self.mine else [])]

    def channels(self) -> List[str]:
        return list(self.mine)

    def replayed(self, channel: str) -> list:
        return self.replays.pop(channel, [])

    def secret(self, channel: str) -> Optional[bool]:
        found = self.rooms_.get(channel.lower())
        return None if found is None else found[0] in self.secrets

    def oper(self, name: str, password: str) -> None:
        self.opers.append((name, password))

    def unoper(self) -> None:
        self.operators.discard("me")

    def topic(self, channel: str) -> Optional[str]:
        found = self.rooms_.get(channel.lower())
        return None if found is None else found[2]

    def topic_who(self, channel: str) -> Optional[Topic]:
        text = self.topic(channel)
        return None if text is None else Topic(text, *self.setters.get(channel.lower(), ("", 0)))

    def rooms(self) -> List[Tuple[str, int, str]]:
        return [(name, len(members), topic) for name, members, topic in self.rooms_.values()]

    def user(self, nick: str) -> Optional[User]:
        if nick.lower() in ("bob", "me"):
            name = nick.lower()
            return User(name, name, "selchat user", "", ["#lobby"],
                        operator=name in self.operators)
        return None

    def counts(self) -> Tuple[int, int]:
        return 2, len(self.rooms_)

    def nicks(self) -> List[str]:
        return ["me", "bob"]

    def hang_up(self) -> None:
        self.hung_up = True

    def stamp(self):
        return {"msgid": "m1", "time": "T"}

    def clear_topic(self, channel):
        self.cleared = channel

    def speech_refusal(self, channel):
        return self.refusals.get(channel)

    def server_password_wanted(self):
        return False

    def modes(self, channel):
        return "+t"

    def bans(self, channel):
        return []

    def authenticate(self, account, password):
        self.authenticating = (account, password)

    def say(self, channel, text, kind, echo=False, tags=None):
        found = self.rooms_.get(channel.lower())
        if found is None:
            return None, False
        if found[0] not in self.mine:
            return found[0], False
        self.said.append((f"{kind} {found[0]} {text}", echo))
        self.tags = tags
        return found[0], True

    def refusal(self, nick: str) -> Optional[str]:
        if nick.lower() in self.taken:
            return f"name taken: {nick}"
        return None if nick.isalnum() else "names are letters or digits"

    def away(self, text: str) -> None:
        self.away_texts.append(text)

    def tagmsg(self, target, tags):
        return b":me!me@irc.test TAGMSG " + target.encode() + b"\r\n"

    def notice(self, target: str, text: str, echo: bool = False, tags=None) -> Optional[str]:
        self.notices.append((target, text, echo))
        return None if target.startswith("#") or target == "bob" else "no such user"


def send(session: IrcSession, line: str) -> List[Message]:
    msg = parse(line.encode())
    assert isinstance(msg, Message)
    replies = session.handle(msg)
    assert all(reply.endswith(b"\r\n") and reply.count(b"\r\n") == 1 for reply in replies)
    return [parse(reply[:-2]) for reply in replies]


def commands(replies: List[Message]) -> List[str]:
    return [reply.command for reply in replies]


@pytest.fixture
def world() -> World:
    return World()


def registered(world: World, nick: str = "me") -> IrcSession:
    session = IrcSession(world, "irc.test", "irc.test")
    send(session, f"NICK {nick}")
    send(session, f"USER {nick} 0 * :Real Name")
    world.mine.append("#lobby")
    assert session.registered
    return session


def test_registration_says_001_to_005_lusers_and_motd_and_joins_nothing(world):
    session = IrcSession(world, "irc.test", "irc.test")
    assert send(session, "NICK me") == []
    replies = send(session, "USER me 0 * :Real Name")
    assert commands(replies) == ["001", "002", "003", "004", "005", "251", "252", "254", "255",
                                 "375", "372", "372", "376"]
    assert "JOIN #lobby" in replies[-2].params[-1]
    assert replies[0].params[0] == "me"
    isupport = replies[4].params
    for token in ("CASEMAPPING=rfc8265", "CHANTYPES=#", "CHANNELLEN=33", "NICKLEN=32",
                  "TOPICLEN=300", "PREFIX=(ov)@+", "CHANLIMIT=#:50", "NETWORK=selchat",
                  "LINELEN=512"):
        assert token in isupport
    assert world.said == [("me", False)]  # the name, as a terminal user's first line


def test_before_registering_only_registration_commands(world):
    session = IrcSession(world, "irc.test", "irc.test")
    assert commands(send(session, "PRIVMSG #lobby :hi")) == ["451"]
    assert commands(send(session, "PING :x")) == ["PONG"]
    assert world.said == []


def test_a_nick_taken_or_refused_is_433_or_432(world):
    session = IrcSession(world, "irc.test", "irc.test")
    replies = send(session, "NICK Bob")
    assert commands(replies) == ["433"] and replies[0].params[:2] == ["*", "Bob"]
    assert commands(send(session, "NICK b[o]b")) == ["432"]
    assert commands(send(session, "NICK")) == ["431"]


def test_cap_negotiation_holds_registration_until_end(world):
    session = IrcSession(world, "irc.test", "irc.test")
    ls = send(session, "CAP LS 302")
    assert ls[0].command == "CAP" and ls[0].params[:2] == ["*", "LS"]
    offered = ls[0].params[2].split()
    for cap in ("message-tags", "server-time", "echo-message", "batch", "labeled-response",
                "multi-prefix", "userhost-in-names", "away-notify", "cap-notify"):
        assert cap in offered
    send(session, "NICK me")
    assert send(session, "USER me 0 * :R") == []  # held: negotiating
    assert send(session, "CAP REQ :server-time bogus")[0].params[1] == "NAK"
    ack = send(session, "CAP REQ :server-time echo-message")
    assert ack[0].params[1:] == ["ACK", "server-time echo-message"]
    assert send(session, "CAP LIST")[0].params[2].split() == [
        "cap-notify", "echo-message", "server-time"]
    assert session.caps.tags() == "time"
    assert commands(send(session, "CAP END"))[0] == "001"
    assert commands(send(session, "CAP FOO")) == ["410"]


def test_unknown_commands_and_missing_params(world):
    session = registered(world)
    assert commands(send(session, "FROB x")) == ["421"]
    assert commands(send(session, "JOIN")) == ["461"]
    assert commands(send(session, "USER a b c d")) == ["462"]
    assert commands(send(session, "PRIVMSG")) == ["411"]
    assert commands(send(session, "PRIVMSG #lobby")) == ["412"]


def test_join_echoes_and_names_and_part_echoes(world):
    session = registered(world)
    world.said.clear()
    replies = send(session, "JOIN #dev,#lobby")
    assert world.said == [("/join #dev", False)]  # #lobby: already in it
    assert commands(replies) == ["JOIN", "353", "366"]
    assert str(replies[0].params) == "['#dev']"
    world.answers["/part #dev bye now"] = [wire.left_room("me", "#dev", "bye now")]
    assert send(session, "PART #dev :bye now")[0].params == ["#dev", "bye now"]
    assert commands(send(session, "PART #nowhere")) == ["403"]


def test_a_join_gives_the_topic_and_who_set_it_when(world):
    session = registered(world)
    world.rooms_["#dev"] = ("#dev", ["bob"], "builds")
    world.setters["#dev"] = ("bob", 1_796_677_111_250)
    replies = send(session, "JOIN #dev")
    assert commands(replies) == ["JOIN", "332", "333", "353", "366"]
    assert replies[2].params == ["me", "#dev", "bob!bob@irc.test", "1796677111"]


def test_a_refused_join_is_a_numeric(world):
    session = registered(world)
    world.answers["/join #a"] = [wire.error("you are in 50 rooms, at most 50")]
    world.rooms_["#a"] = ("#a", [], "")
    assert commands(send(session, "JOIN #a")) == ["405"]
    world.answers["/join bad"] = [wire.error("invalid room")]
    assert commands(send(session, "JOIN bad")) == ["403"]


def test_privmsg_to_channels_and_nicks(world):
    session = registered(world)
    world.said.clear()
    assert send(session, "PRIVMSG #lobby :hello there") == []
    assert send(session, "PRIVMSG #lobby :\x01ACTION waves\x01") == []
    assert send(session, "PRIVMSG bob :psst") == []
    assert send(session, "PRIVMSG #lobby :\x01VERSION\x01") == []
    assert world.said == [("chat #lobby hello there", False), ("action #lobby waves", False),
                          ("/msg bob psst", False)]
    world.answers["/msg nobody x"] = [wire.error("no such user: nobody")]
    assert commands(send(session, "PRIVMSG nobody :x")) == ["401"]
    assert send(session, "NOTICE nobody :x") == []  # a NOTICE is never answered
    assert send(session, "NOTICE #lobby :hear ye") == []
    assert world.notices == [("nobody", "x", False)]
    assert world.said[-1] == ("notice #lobby hear ye", False)
    assert commands(send(session, "PRIVMSG #nosuch :x")) == ["403"]
    world.rooms_["#other"] = ("#other", ["bob"], "")
    assert commands(send(session, "PRIVMSG #other :x")) == ["404"]


def test_echo_message_rides_the_room_line_unless_labelled(world):
    session = registered(world)
    send(session, "CAP REQ :echo-message labeled-response")
    world.said.clear()
    assert send(session, "PRIVMSG #lobby :hi") == []
    assert world.said == [("chat #lobby hi", True)]  # the room's own line comes back
    echo = send(session, "@label=x1 PRIVMSG #lobby :hi")
    assert echo[0].command == "PRIVMSG" and echo[0].tags["label"] == "x1"
    assert world.said[-1] == ("chat #lobby hi", False)
    assert send(session, "PRIVMSG bob :psst")[0].params == ["bob", "psst"]


def test_client_tags_go_with_the_line_and_the_echo(world):
    session = registered(world)
    send(session, "CAP REQ :echo-message message-tags")
    echo = send(session, "@+draft/reply=abc;label=x PRIVMSG bob :yes")
    assert world.tags == {"+draft/reply": "abc"}
    assert echo[0].tags == {"+draft/reply": "abc", "msgid": "m1"}  # the delivery's msgid


def test_labeled_response_ack_single_and_batch(world):
    session = registered(world)
    send(session, "CAP REQ :labeled-response batch")
    pong = send(session, "@label=p PING :t")
    assert pong[0].command == "PONG" and pong[0].tags == {"label": "p"}
    ack = send(session, "@label=n PONG :t")
    assert ack[0].command == "ACK" and ack[0].tags == {"label": "n"}
    many = send(session, "@label=w WHOIS bob")
    assert many[0].command == "BATCH" and many[0].tags["label"] == "w"
    ref = many[0].params[0][1:]
    assert many[0].params[1] == "labeled-response"
    assert all(reply.tags.get("batch") == ref for reply in many[1:-1])
    assert many[-1].params == ["-" + ref]


def test_nick_change_goes_through_the_room(world):
    session = registered(world)
    world.said.clear()
    nick = send(session, "NICK me2")  # said by the session (a label goes on it)
    assert nick[0].command == "NICK" and nick[0].params == ["me2"]
    assert world.said == [("/nick me2", False)] and session.nick == "me2"
    send(session, "NICK me3")
    assert commands(send(session, "NICK bob")) == ["433"]
    assert session.nick == "me3"


def test_who_whois_ison_userhost(world):
    session = registered(world)
    who = send(session, "WHO bob")
    assert commands(who) == ["352", "315"] and who[0].params[5] == "bob"
    assert who[0].params[1] == "*" and who[0].params[6] == "H"
    assert commands(send(session, "WHO b*")) == ["352", "315"]
    assert commands(send(session, "WHO *")) == ["352", "352", "315"]
    assert send(session, "WHO nobody")[0].params[1:2] == ["nobody"]
    assert commands(send(session, "WHOIS bob")) == ["311", "319", "312", "318"]
    assert commands(send(session, "WHOIS nobody")) == ["401", "318"]
    assert send(session, "ISON bob nobody")[0].params[1] == "bob"
    assert send(session, "USERHOST bob")[0].params[1] == "bob=+bob@irc.test"


def test_topic_list_mode_away_motd_version(world):
    session = registered(world)
    assert commands(send(session, "TOPIC #lobby")) == ["331"]
    assert commands(send(session, "TOPIC #nosuch")) == ["403"]
    world.rooms_["#dev"] = ("#dev", [], "")
    assert commands(send(session, "TOPIC #dev :x")) == ["442"]
    assert send(session, "TOPIC #lobby :")[0].params == ["#lobby", ""]  # cleared
    assert world.cleared == "#lobby"
    assert commands(send(session, "LIST")) == ["321", "322", "322", "323"]
    # A topic: 332, then 333 with who set it (a mask, as its TOPIC line's source) and when.
    world.rooms_["#dev"] = ("#dev", [], "builds")
    world.setters["#dev"] = ("alice", 1_765_000_123_456)
    topic, who = send(session, "TOPIC #dev")
    assert (topic.command, topic.params) == ("332", ["me", "#dev", "builds"])
    assert (who.command, who.params) == ("333", ["me", "#dev", "alice!alice@irc.test",
                                                 "1765000123"])
    world.setters.clear()  # a topic kept without its setter (an older selchat's): no 333
    assert commands(send(session, "TOPIC #dev")) == ["332"]
    assert commands(send(session, "MODE #lobby")) == ["324", "329"]
    world.answers["/mode #lobby +m"] = [wire.error("you are not an operator of #lobby")]
    assert commands(send(session, "MODE #lobby +m")) == ["482"]  # the room's answer
    assert commands(send(session, "MODE #lobby b")) == ["368"]
    assert send(session, "MODE me +i")[0].params == ["me", "+i"]
    assert send(session, "MODE me")[0].params == ["me", "+i"]
    assert commands(send(session, "MODE bob +i")) == ["502"]
    assert commands(send(session, "AWAY :lunch")) == ["306"]
    assert commands(send(session, "AWAY")) == ["305"]
    assert world.away_texts == ["lunch", ""]
    assert commands(send(session, "MOTD"))[0] == "375"
    assert commands(send(session, "VERSION")) == ["351", "005"]


def test_quit_says_error_and_tells_the_room(world):
    session = registered(world)
    world.said.clear()
    assert commands(send(session, "QUIT :gone fishing")) == ["ERROR"]
    assert world.said == [("/quit gone fishing", False)]
    early = IrcSession(world, "irc.test", "irc.test")
    send(early, "NICK early")
    assert commands(send(early, "QUIT")) == ["ERROR"] and world.hung_up


def test_join_0_parts_every_channel(world):
    session = registered(world)
    send(session, "JOIN #a,#b")
    world.said.clear()
    parts = send(session, "JOIN 0")
    assert [(msg.command, msg.params) for msg in parts] == [
        ("PART", ["#lobby"]), ("PART", ["#a"]), ("PART", ["#b"])]
    assert [text for text, _ in world.said] == ["/part #lobby", "/part #a", "/part #b"]


def test_sasl_plain_holds_registration_until_the_rooms_answer(world):
    session = IrcSession(world, "irc.test", "irc.test")
    send(session, "CAP LS 302")
    send(session, "CAP REQ :sasl")
    send(session, "NICK me")
    send(session, "USER me 0 * :Me")
    assert commands(send(session, "AUTHENTICATE SCRAM-SHA-256")) == ["908", "904"]
    assert send(session, "AUTHENTICATE PLAIN")[0].params == ["+"]
    assert send(session, "AUTHENTICATE " + base64.b64encode(b"\0me\0secret").decode()) == []
    assert world.authenticating == ("me", "secret")
    assert send(session, "CAP END") == [] and not session.registered  # still being checked
    got = [parse(line[:-2]) for line in session.authenticated("me", "")]
    assert commands(got)[:3] == ["900", "903", "001"] and session.registered
    assert commands(send(session, "AUTHENTICATE PLAIN")) == ["907"]


def test_sasl_after_registration_logs_in_too(world):
    session = registered(world)
    send(session, "CAP REQ :sasl")
    assert send(session, "AUTHENTICATE PLAIN")[0].params == ["+"]
    send(session, "AUTHENTICATE " + base64.b64encode(b"\0jilles\0sesame").decode())
    assert world.authenticating == ("jilles", "sesame")
    assert commands(send(session, "AUTHENTICATE PLAIN")) == ["904"]  # one at a time
    got = [parse(line[:-2]) for line in session.authenticated("jilles", "")]
    assert commands(got) == ["900", "903"]
    assert got[0].params[1:3] == ["me!me@irc.test", "jilles"] and session.account == "jilles"


def test_own_join_and_echo_say_the_account_with_extended_join_and_account_tag(world):
    session = IrcSession(world, "irc.test", "irc.test")
    send(session, "CAP REQ :sasl extended-join account-tag echo-message")
    send(session, "NICK bar")
    send(session, "USER b 0 * :Bar B.")
    send(session, "AUTHENTICATE PLAIN")
    send(session, "AUTHENTICATE " + base64.b64encode(b"\0jilles\0sesame").decode())
    session.authenticated("jilles", "")
    send(session, "CAP END")
    assert session.registered
    joined = send(session, "JOIN #dev")[0]
    assert (joined.command, joined.params, joined.tags) == (
        "JOIN", ["#dev", "jilles", "Bar B."], {"account": "jilles"})
    echo = send(session, "PRIVMSG bob :hi")[0]
    assert echo.command == "PRIVMSG" and echo.tags == {"account": "jilles"}
    send(session, "CAP REQ :-account-tag")
    assert send(session, "PRIVMSG bob :hi")[0].tags == {}
    plain = registered(World(), "alice")
    send(plain, "CAP REQ extended-join")
    assert send(plain, "JOIN #dev")[0].params == ["#dev", "*", "Real Name"]


def test_an_endless_sasl_answer_is_904_and_an_unsplit_piece_905(world):
    session = IrcSession(world, "irc.test", "irc.test")
    send(session, "CAP REQ :sasl")
    send(session, "AUTHENTICATE PLAIN")
    replies: List[str] = []
    for _ in range(6):
        replies += commands(send(session, "AUTHENTICATE " + "A" * 400))
    assert replies[0] == "904"  # then each is a mechanism it has not: 908 and 904
    send(session, "AUTHENTICATE PLAIN")
    assert commands(send(session, "AUTHENTICATE " + "A" * 401)) == ["905"]


def test_a_wrong_sasl_password_is_904_and_abort_is_906(world):
    session = IrcSession(world, "irc.test", "irc.test")
    send(session, "CAP REQ :sasl")
    assert commands(send(session, "AUTHENTICATE PLAIN")) == ["AUTHENTICATE"]
    assert commands(send(session, "AUTHENTICATE *")) == ["906"]
    send(session, "AUTHENTICATE PLAIN")
    assert commands(send(session, "AUTHENTICATE bm90IGJhc2U2NA")) == ["904"]  # malformed
    send(session, "AUTHENTICATE PLAIN")
    send(session, "AUTHENTICATE " + base64.b64encode(b"\0me\0nope").decode())
    got = [parse(line[:-2]) for line in session.authenticated(None, "wrong password")]
    assert commands(got) == ["904"] and got[0].params[-1].endswith("wrong password")


def test_kick_invite_and_mode_changes_become_the_rooms_commands(world):
    session = registered(world)
    world.answers["/kick #lobby bob"] = [wire.error("bob is not in #lobby")]
    assert commands(send(session, "KICK #lobby bob")) == ["441"]
    assert commands(send(session, "KICK #nowhere bob")) == ["403"]
    send(session, "MODE #lobby +o-v+k bob bob sesame")
    assert [text for text, _ in world.said[-3:]] == [
        "/op #lobby bob", "/mode #lobby -v bob", "/mode #lobby +k sesame"]
    send(session, "MODE #lobby +b bob!*@*")
    assert world.said[-1][0] == "/ban #lobby bob"
    assert commands(send(session, "MODE #lobby +b")) == ["368"]
    assert commands(send(session, "MODE #lobby +x")) == ["472"]
    send(session, "MODE #lobby -int+m-l+s")  # a run of one sign is one change: MODE -int
    assert [text for text, _ in world.said[-4:]] == [
        "/mode #lobby -int", "/mode #lobby +m", "/mode #lobby -l", "/mode #lobby +s"]


def test_a_muted_member_gets_404_for_tagmsg_too(world):
    session = registered(world)
    world.refusals["#lobby"] = "you are muted in #lobby until lifted"
    send(session, "CAP REQ :message-tags")
    assert commands(send(session, "@+draft/react=x TAGMSG #lobby")) == ["404"]


SAID = Said(b":bob!bob@irc.test PRIVMSG #dev :earlier\r\n", 1_764_000_000_000, "E-3")


def test_a_join_replays_what_was_said_after_the_names(world):
    session = registered(world)
    world.replays["#dev"] = [SAID]
    replies = send(session, "JOIN #dev")
    assert commands(replies) == ["JOIN", "353", "366", "NOTICE", "PRIVMSG", "NOTICE"]
    assert replies[4].params == ["#dev", "earlier"]


def test_a_labelled_join_keeps_its_replays_batch_inside_the_labels(world):
    session = registered(world)
    send(session, "CAP REQ :batch labeled-response server-time")
    world.replays["#dev"] = [SAID]
    replies = send(session, "@label=j1 JOIN #dev")
    assert commands(replies) == ["BATCH", "JOIN", "353", "366", "BATCH", "PRIVMSG", "BATCH",
                                 "BATCH"]
    outer = replies[0].params[0][1:]
    assert [reply.tags.get("batch") for reply in replies[1:-1]] == [
        outer, outer, outer, outer, BATCH_REF, outer]
    assert replies[4].params == ["+" + BATCH_REF, "chathistory", "#dev"]


def test_a_client_that_fetches_history_itself_gets_no_replay(world):
    session = registered(world)
    session.caps.enabled.add(CHATHISTORY)  # (negotiated: draft/chathistory)
    world.replays["#dev"] = [SAID]
    assert commands(send(session, "JOIN #dev")) == ["JOIN", "353", "366"]


def test_oper_is_checked_by_the_room_then_381_and_mode_o_or_464_491(world):
    session = registered(world)
    assert commands(send(session, "OPER boss")) == ["461"]
    assert send(session, "OPER boss right-password") == []  # the worker checks it
    assert world.opers == [("boss", "right-password")]
    world.operators.add("me")
    replies = [parse(line[:-2]) for line in session.opered("boss", "")]
    assert commands(replies) == ["381", "MODE"] and replies[1].params == ["me", "+o"]
    assert send(session, "MODE me")[0].params == ["me", "+o"]
    assert [m.params for m in send(session, "MODE me -o")] == [["me", "-o"]]
    assert "me" not in world.operators
    wrong = session.opered(None, "wrong password")
    assert [parse(line[:-2]).command for line in wrong] == ["464"]
    other = session.opered(None, f"bob {NOT_OPERATOR}")
    assert [parse(line[:-2]).command for line in other] == ["491"]


def test_who_and_whois_mark_server_operators(world):
    session = registered(world)
    world.operators.add("bob")
    assert send(session, "WHO bob")[0].params[6] == "H*"
    assert "313" in commands(send(session, "WHOIS bob"))
    world.operators.clear()
    assert send(session, "WHO bob")[0].params[6] == "H"
    assert "313" not in commands(send(session, "WHOIS bob"))


def test_a_secret_channel_is_named_with_at_and_hidden_from_non_members(world):
    session = registered(world)
    world.rooms_["#hidden"] = ("#hidden", ["bob"], "")
    world.secrets.add("#hidden")
    assert commands(send(session, "NAMES #hidden")) == ["366"]
    assert commands(send(session, "WHO #hidden")) == ["315"]
    world.user = lambda nick: User("bob", "bob", "b", "", ["#lobby", "#hidden"])
    assert send(session, "WHOIS bob")[1].params[2] == "#lobby"
    send(session, "JOIN #hidden")
    names = send(session, "NAMES #hidden")
    assert names[0].command == "353" and names[0].params[1:3] == ["@", "#hidden"]
    assert send(session, "NAMES #lobby")[0].params[1] == "="
