"""A member's login and room roles across nodes (`selchat.member_status`):
the status string, its place in Redis' ``joined`` values, what the other
nodes keep of it and how a room's marks and a /op use it. Exact values."""
from selchat import member_status as ms
from selchat.accounts.authority import Account
from selchat.bus.protocol import Outbox, Told, decode
from selchat.effect_types import Presence, Unannounced
from selchat.room import ChatRoom
from selchat.rooms import Rooms

A, B = 1, 2


def test_a_status_says_an_account_and_the_rooms_operated_and_reads_back():
    field = ms.field("Jilles", ["#Dev", "#ops"])
    assert field == "%=Jilles\t%@#Dev\t%@#ops"
    assert ms.parse(field) == ms.Status("Jilles", frozenset({"#dev", "#ops"}))
    assert ms.parse("") == ms.NONE and ms.field("", []) == ""
    assert ms.parse("%@nohash\t%?later\t%=x") == ms.Status("x", frozenset())  # unknown: skipped


def test_a_status_rides_after_the_rooms_in_redis_and_is_split_off_again():
    assert ms.with_rooms("", "", "#lobby") == ""  # nothing to say: the default room only
    assert ms.with_rooms("", "%=ann", "#lobby") == "#lobby\t#lobby\t%=ann"
    assert ms.with_rooms("#dev\t#dev", "%@#dev", "#lobby") == "#dev\t#dev\t%@#dev"
    assert ms.split("#dev\t#dev\t%@#dev") == ("#dev\t#dev", "%@#dev")
    assert ms.split("\t") == ("\t", "") and ms.split("") == ("", "")


def test_an_older_reader_of_rooms_skips_the_status_items():
    rooms: Rooms = Rooms("#lobby")
    rooms.remote_set("bob", "#dev\t#dev\t%=bob\t%@#dev")
    assert [room.name for room in rooms.remote_of["bob"]] == ["#dev"]
    assert rooms.remote_in_default(1) == 0


def test_a_status_travels_as_a_presence_no_line_says():
    box = Outbox("N1", retention_ms=1000, lease_ms=1000)
    box.presence(ms.presence("bob", "%=jilles"), "")
    batch = box.seal(5)
    assert batch is not None and batch.ops == ["P", "%bob\t%=jilles", ""]
    told = decode([b"n", b"N1", b"p", b"%bob\t%=jilles"])
    assert told == Told("N1", "%bob\t%=jilles", "")
    assert ms.told(told.presence) == ("bob", "%=jilles")
    assert ms.told("+bob") is None and ms.told("%") is None
    assert Presence.parse(told.presence) is None  # an older node skips it


def test_other_nodes_keep_statuses_and_say_when_an_account_changed():
    status = ms.RemoteStatus()
    assert status.set("Bob", "%=jilles") == "jilles"
    assert status.set("bob", "%=jilles\t%@#dev") is None  # same account: nothing to tell
    assert status.account("bob") == "jilles"
    assert status.set("bob", "%@#dev") == ""  # logged out
    status.forget("BOB")
    assert status.account("bob") == "" and len(status) == 0
    status.synced({"ann": "#dev\t#dev\t%=ann", "cat": "#ops\t#ops"})
    assert status.account("ann") == "ann" and len(status) == 1


def test_a_remote_role_counts_while_its_member_is_listed_in_the_room():
    room = ChatRoom(default_room="#lobby")
    room.connect(A)
    room.receive(A, "alice")
    room.remote_presence("N2", Presence("+", "bob"))
    room.remote_room_presence("#dev", Presence("+", "bob"))
    room.remote_status.set("bob", ms.field("", ["#dev"]))
    room.receive(A, "/join #dev")
    assert room.receive(A, "/who #dev")[0].line.text == "Online in #dev (2): alice, @bob"
    room.remote_room_presence("#dev", Presence("-", "bob"))  # its part ends it at once
    room.remote_room_presence("#dev", Presence("+", "bob"))
    room.remote_status.set("bob", "")  # and its node says so
    assert room.receive(A, "/who #dev")[0].line.text == "Online in #dev (2): alice, bob"
    room.remote_status.set("bob", ms.field("", ["#dev"]))
    room.remote_presence("N2", Presence("-", "bob"))  # off the server: forgotten
    assert room.remote_status.operators(room.rooms.get("#dev")) == set()
    assert len(room.remote_status) == 0


def test_a_remote_rename_forgets_the_old_names_status():
    room = ChatRoom(default_room="#lobby")
    room.remote_presence("N2", Presence("+", "bob"))
    room.remote_status.set("bob", "%=bob")
    room.remote_presence("N2", Presence("=", "bob", "rob"))
    assert room.remote_status.account("bob") == "" and room.remote_status.account("rob") == ""


def test_a_snapshot_gives_a_node_every_members_status():
    room = ChatRoom(default_room="#lobby")
    room.connect(A)
    room.receive(A, "alice")
    room.remote_synced({"bob": ("bob", "N2")}, "N1", {"bob": "#dev\t#dev\t%=bob\t%@#dev"})
    room.receive(A, "/join #dev")
    assert room.receive(A, "/who #dev")[0].line.text == "Online in #dev (2): alice, @bob"
    assert room.remote_status.account("bob") == "bob"


def test_an_op_of_a_name_that_is_not_registered_is_told_as_a_status():
    room = ChatRoom(default_room="#lobby")
    for session, name in ((A, "alice"), (B, "bob")):
        room.connect(session)
        room.receive(session, name)
        room.receive(session, "/join #dev")
    effects = room.receive(A, "/op #dev bob")
    assert effects[-1] == Unannounced(Presence(ms.STATUS, "bob"))
    assert room.receive(A, "/deop #dev bob")[-1] == Unannounced(Presence(ms.STATUS, "bob"))


def test_a_role_given_elsewhere_travels_as_a_presence_an_older_node_skips():
    box = Outbox("N1", retention_ms=1000, lease_ms=1000)
    box.presence(Presence(ms.ROLE, "bob", "+").field(), "#dev")
    batch = box.seal(5)
    assert batch is not None and batch.ops == ["P", "@bob\t+", "#dev"]
    told = decode([b"n", b"N1", b"p", b"@bob\t+", b"r", b"#dev"])
    assert told == Told("N1", "@bob\t+", "#dev")
    assert ms.role_told(told.presence) == ("bob", True)
    assert ms.role_told("@bob\t-") == ("bob", False)
    assert ms.role_told("@bob") is None and ms.role_told("%bob\t+") is None
    assert Presence.parse(told.presence) is None and ms.told(told.presence) is None


def test_a_role_counts_until_its_members_status_says_otherwise():
    room = ChatRoom(default_room="#lobby")
    room.remote_presence("N2", Presence("+", "bob"))
    room.remote_room_presence("#dev", Presence("+", "bob"))
    room.remote_status.set("bob", "%=bob")
    room.remote_status.role("bob", "#dev", True)
    dev = room.rooms.get("#dev")
    assert room.remote_status.operators(dev) == {"bob"}
    assert room.remote_status.account("bob") == "bob"  # the login stays
    room.remote_status.role("Bob", "#dev", False)
    assert room.remote_status.operators(dev) == set() and len(room.remote_status) == 1
    room.remote_status.set("bob", "")
    room.remote_status.role("bob", "#dev", True)
    assert room.remote_status.set("bob", "") is None and len(room.remote_status) == 0


def test_a_session_moved_here_keeps_its_login_and_its_roles_while_it_stays():
    room = ChatRoom(default_room="#lobby")
    room.authority.accounts["jilles"] = Account("jilles", "")
    room.connect(A)
    room.adopt(A, "bar", "token")
    for name in ("#dev", "#ops"):
        room.rooms.enter(A, name, "bar")
    room.status_moved(A, ms.field("Jilles", ["#dev", "#gone", "#lobby"]))
    assert room.authority.identified[A] == "jilles"
    assert [each.name for each in room.rooms if A in each.operators] == ["#dev"]
    room.connect(B)
    room.adopt(B, "kim", "token2")
    room.status_moved(B, ms.field("deleted", []))  # an account gone meanwhile: no login
    assert B not in room.authority.identified
