"""Bytes a terminal might obey, invalid UTF-8 and random garbage: never relayed,
never fatal, and a name with a control character is refused."""
import random
import re


from support.clients import join_when_there_is_room, read_until
from support.constants import HELLO, INVALID_NAME


# What a terminal may obey: C0 except tab, DEL, C1 (ESC and CSI among them).
CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f]")
# Every kind of line the server may send (PROTOCOL.md); names have no spaces, "<>" or "*".
SERVER_LINE = re.compile(r"<[^ <>*]+> .+|\*\*\* .+|!!! .+|\* [^ <>*]+ .+|\*[^ <>*]+\* .+")



def test_relayed_text_is_decoded_and_stripped_of_controls(chat_server, clients):
    server = chat_server("--flood-rate", "0")
    alice, bob = clients(server, "alice"), clients(server, "bob")
    alice.line()
    cases = [
        (b"\x1b[31mred\x1b[0m", "<bob> red"),
        (b"\x1b[2J\x1b[Hwiped", "<bob> wiped"),
        (b"\x1b]0;pwned\x07title", "<bob> title"),
        (b"\x1b]8;;http://evil/\x1b\\link\x1b]8;;\x1b\\", "<bob> link"),
        (b"bell\x07 nul\x00 bs\x08 del\x7f", "<bob> bell nul bs del"),
        ("c1\u009b6n \u0085nel".encode(), "<bob> c1 nel"),
        (b"lone\rcr", "<bob> lonecr"),
        (b"caf\xc3 \xff\xfe ok", "<bob> caf\ufffd \ufffd\ufffd ok"),
        (b"tab\tkept", "<bob> tab\tkept"),
        (b"/me \x1b[5mwaves", "* bob waves"),
        (b"/msg alice \x1b]52;c;Zm9v\x07psst", "*bob* psst"),
        (b"//\x1b[1m/slash", "<bob> //slash"),
    ]
    for raw, seen in cases:
        bob.send_bytes(raw + b"\n")
        assert alice.line() == seen, raw
    bob.send_bytes(b"\x1b[31m\x1b[0m\n")  # nothing left after cleaning: nothing relayed
    bob.send_bytes(b"/quit \x1b[31mbye\x07\n")
    alice.expect("*** bob has left the chat room (bye).")


def test_a_name_with_a_control_character_is_refused(chat_server, clients):
    server = chat_server("--flood-rate", "0")
    alice = clients(server, "alice")
    names = {
        "escape sequence": b"\x1b[31mbob",
        "trailing ESC": b"bob\x1b",
        "NUL": b"bo\x00b",
        "BEL": b"bob\x07",
        "DEL": b"bob\x7f",
        "C1 CSI inside": "bo\u009bb".encode(),
        "invalid UTF-8": b"b\xffob",
        # str.strip() would quietly drop these rather than refuse them:
        "trailing unit separator": b"bob\x1f",
        "trailing vertical tab": b"bob\x0b",
        "trailing form feed": b"bob\x0c",
        "leading C1 NEL": "\u0085bob".encode(),
        "stray CR before CRLF": b"bob\r\r",
    }
    answers = {}
    for case, raw in names.items():
        client = clients(server)
        client.expect(HELLO)
        client.send_bytes(raw + b"\n")
        answers[case] = client.line()
        client.close()
    assert answers == {case: INVALID_NAME for case in names}
    # Renaming is judged the same way.
    bob = clients(server, "bob")
    alice.expect("*** bob has joined the chat room.")
    renames = {}
    for case, raw in {"escape": b"\x1b[31mevil", "trailing US": b"evil\x1f",
                      "trailing C1 NEL": "evil\u0085".encode()}.items():
        bob.send_bytes(b"/nick " + raw + b"\n")
        renames[case] = bob.line()
    assert renames == {case: INVALID_NAME for case in renames}
    bob.send("/who")
    bob.expect("*** Online (2): alice, bob")


def test_random_bytes_from_many_sockets_harm_nobody(chat_server, clients):
    """Garbage from six sockets (three of them joined, so it is relayed) while alice and
    bob chat: both get each other's every line, in order, and nothing unsafe at all."""
    server = chat_server("--flood-rate", "0")
    alice, bob = clients(server, "alice"), clients(server, "bob")
    alice.line()
    rng = random.Random(6)
    nasty = [b"\x1b[31m", b"\x1b[2J", b"\x1b]0;pwned\x07", b"\x1b]8;;http://evil/\x1b\\",
             b"\x1bP+q\x1b\\", b"\xc2\x9b6n", b"\xc2\x85", b"\x00", b"\x07", b"\x08", b"\x7f",
             b"\r", b"\n", b"\r\n", b"\xff", b"\xc3", b"\xed\xa0\x80", b"\xf4\x90\x80\x80",
             b"x" * 5000, b"/me ", b"/msg alice ", b"/msg bob ", b"//", b"/nick ", b"/who\n",
             b"/help\n", b"/", b"hello ", "ünï ".encode(), b"\t", b"\x1b"]

    def garbage(size: int) -> bytes:
        out = bytearray()
        while len(out) < size:
            out += rng.choice(nasty) if rng.random() < 0.5 else rng.randbytes(rng.randint(1, 64))
        return bytes(out)

    vandals = [clients(server) for _ in range(3)]
    vandals += [clients(server, f"vandal{i}") for i in range(3)]
    alive = list(vandals)
    for round_ in range(8):
        for vandal in list(alive):
            try:
                vandal.send_bytes(garbage(8192))
            except OSError:  # the server may close a vandal; that is its right
                alive.remove(vandal)
        alice.send(*[f"a{round_}.{i}" for i in range(5)])
        bob.send(*[f"b{round_}.{i}" for i in range(5)])
    alice.send("alice done")
    bob.send("bob done")
    for me, other in ((alice, "bob"), (bob, "alice")):
        lines = read_until(me, f"<{other}> {other} done")
        said = [line for line in lines if line.startswith(f"<{other}> ")]
        assert said == [f"<{other}> {other[0]}{r}.{i}" for r in range(8) for i in range(5)] \
            + [f"<{other}> {other} done"]
        for line in lines:
            assert SERVER_LINE.fullmatch(line) and not CONTROL.search(line), ascii(line)
    newcomer = join_when_there_is_room(server, "newcomer")
    newcomer.send("hello after the storm")
    read_until(alice, "<newcomer> hello after the storm")
    newcomer.close()
    assert server.stop() == 0
    assert "Traceback" not in server.log()
