"""Accounts, room rules and bans shared through the bus (`selchat.accounts.shared`):
the encoding, and what a node does with Redis' copy and its own."""
from selchat.accounts.authority import Account, Authority, RoomRules, Sanction
from selchat.accounts.shared import SharedRules, decode, encode
from selchat.accounts.store import Store
from selchat.bus.protocol import Outbox, Ruled, decode as decode_entry


def node():
    """A node's authority and in-memory store, and what it publishes."""
    store = Store(None)
    authority: Authority = Authority(lambda: 1000.0)
    sent: list = []
    return authority, store, sent, SharedRules(authority, store,
                                               lambda *change: sent.append(change))


def test_each_change_round_trips_and_nonsense_is_skipped():
    for table, value in (("account", Account("Alice", "scrypt$x", True)),
                         ("ban", Sanction("troll", 2000.0, "spam", "boss", "10.0.0.1")),
                         ("room", RoomRules("#class", ops={"teach"}, moderated=True).value())):
        field, text = encode(table, "k", value)
        assert decode(field, text) == (table, "k", value)
    assert decode(*encode("ban", "k", None)) == ("ban", "k", None)
    assert decode("table\tk", "{}") is None
    assert decode("account\tk", "not json") is None
    assert decode("account\tk", '{"unknown": 1}') is None


def test_redis_copy_wins_local_only_rows_are_offered_and_deletions_reach_a_node_away():
    authority, store, sent, shared = node()
    for key, account in (("mine", Account("mine", "h1")), ("gone", Account("gone", "h2")),
                         ("both", Account("both", "old"))):
        authority.accounts[key] = account
        store.write("account", key, account)
    redis = dict([encode("account", "both", Account("both", "new", True)),
                  encode("account", "gone", None),
                  encode("room", "#class", RoomRules("#class", mutes={
                      "sam": Sanction("sam")}).value())])
    shared.synced(redis)
    assert authority.accounts == {"mine": Account("mine", "h1"),
                                  "both": Account("both", "new", True)}
    assert store.accounts() == authority.accounts  # kept for a restart without Redis
    assert authority.speech_refusal(object(), "sam", "#class", "#class") == \
        "you are muted in #class until lifted"
    assert sent == [(*encode("account", "mine", Account("mine", "h1")), True)]
    assert not store.changed()  # the poll does not take our own writes for admin's


def test_an_admin_change_read_again_is_published():
    _, _, sent, shared = node()
    before = {"boss": Account("boss", "h"), "old": Account("old", "h")}
    after = {"boss": Account("boss", "h", True), "new": Account("new", "h")}
    shared.reread(before, after)
    assert sorted(sent) == sorted([(*encode("account", "boss", after["boss"]), False),
                                   (*encode("account", "new", after["new"]), False),
                                   (*encode("account", "old", None), False)])


def test_a_change_made_during_an_outage_is_kept_over_redis_older_copy():
    authority, store, sent, shared = node()
    muted = RoomRules("#class", mutes={"sam": Sanction("sam")})
    authority.rooms["#class"] = muted
    shared.published("room", "#class", muted.value())  # in the outbox, Redis down
    older = dict([encode("room", "#class", RoomRules("#class").value())])
    shared.synced(older)  # connected again, before the outbox is published
    assert "sam" in authority.rooms["#class"].mutes
    shared.read_back(*encode("room", "#class", muted.value()))  # published, read back
    shared.synced(older)  # a later sync: Redis' copy wins again
    assert authority.rooms["#class"].mutes == {}


def test_a_change_is_one_operation_of_the_pass_and_one_stream_entry():
    box = Outbox("N1", 600_000, 15_000)
    box.rule("ban\ttroll", '{"name": "troll"}', only_new=True)
    batch = box.seal(5)
    assert batch is not None and list(batch.ops) == ["A", "ban\ttroll", '{"name": "troll"}', 1]
    assert decode_entry([b"n", b"N2", b"a", b"ban\ttroll", b"d", b""]) == \
        Ruled("N2", "ban\ttroll", "")
