"""`selchat serve --data`: history on disk across restarts and crashes, and a
bad data directory refused at startup with one line and exit status 2."""
import re
import signal
import socket
import sqlite3
import subprocess
import time

import pytest

from selchat import store
from support.clients import LineClient
from support.constants import TIMEOUT
from support.servers import SELCHAT, ServerNotStarted, selchat
from support.waiting import readline_with_deadline
from support.topics import set_by


def _startup_lines(*options: str):
    """What `selchat serve OPTIONS` prints before it serves (then it is stopped)."""
    proc = subprocess.Popen([SELCHAT, "serve", "--port", "0", "--no-web", *options],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    first = readline_with_deadline(proc.stdout, TIMEOUT)  # the lines come in one write
    proc.send_signal(signal.SIGTERM)
    rest = proc.stdout.read()  # to the end: the server exits on SIGTERM
    proc.wait(TIMEOUT)
    proc.stdout.close()
    return (first + rest).decode().splitlines()


def test_the_startup_lines_say_where_the_history_lives(tmp_path, private_state):
    assert (f"selchat keeps history in {tmp_path}/d/history.db; search: full-text (FTS5)"
            in _startup_lines("--data", str(tmp_path / "d")))
    assert (tmp_path / "d" / "history.db").exists()
    # By default, the XDG state directory (a temporary one in the tests).
    assert (f"selchat keeps history in {private_state}/selchat/history.db; search: "
            "full-text (FTS5)" in _startup_lines())
    assert not any("keeps" in line for line in _startup_lines("--no-data"))


@pytest.mark.parametrize("setup, says", [
    ("file", "is not a directory"),
    ("damaged", "is damaged (file is not a database): restore a backup, or move it away"),
])
def test_a_bad_data_directory_is_one_line_and_status_2(tmp_path, setup, says):
    path = tmp_path / "data"
    if setup == "file":
        path.write_text("")
    else:
        path.mkdir()
        (path / store.FILE).write_bytes(b"this is no database" * 100)
    result = selchat("serve", "--port", "0", "--no-web", "--data", str(path))
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("selchat: ")
    assert says in result.stderr
    assert "Traceback" not in result.stderr


def test_a_second_server_on_the_same_data_is_refused(chat_server, tmp_path):
    chat_server("--data", str(tmp_path))
    result = selchat("serve", "--port", "0", "--no-web", "--data", str(tmp_path))
    assert result.returncode == 2
    assert result.stderr == (f"selchat: the data directory {tmp_path} is in use by another "
                             "selchat server (use another --data DIR, or --no-data)\n")


def _lines(data: str):
    """(The text of) every line the database holds, in order."""
    try:
        db = sqlite3.connect(f"file:{data}/{store.FILE}?mode=ro", uri=True)
    except sqlite3.OperationalError:
        return []
    try:
        return [row.line for row in store.every_line(db)]
    except sqlite3.OperationalError:
        return []
    finally:
        db.close()


def test_a_restart_replays_the_rooms_and_keeps_their_topics(chat_server, tmp_path):
    data = str(tmp_path)
    first = chat_server("--data", data, "--replay", "3", "--flood-rate", "0")
    ann = LineClient(first.address, "ann")
    ann.send("/topic our lobby", "/join #dev", "/topic dev talk", "in dev", "/msg ann secret")
    ann.expect("*** ann set the topic: our lobby")
    ann.expect("*** You joined #dev. Online (1): @ann")
    ann.expect_prefix("*** You are the operator of #dev")
    ann.expect("#dev *** ann set the topic: dev talk")
    ann.expect("*ann* secret")
    assert first.stop() == 0
    assert not any("secret" in line for line in _lines(data))

    second = chat_server("--data", data, "--replay", "3", port=first.port)
    bob = LineClient(second.address, "bob")
    assert bob.lines(4) == ["*** Last 2 lines:", "*** ann has joined the chat room.",
                            "*** ann set the topic: our lobby", "*** End of history."]
    bob.send("/join #dev")
    lines = []
    while "*** End of history." not in lines:
        lines.append(bob.line())
    assert "*** Topic for #dev: dev talk" in lines
    assert "#dev <ann> in dev" in lines
    bob.send("/topic #dev", "/topic #lobby")  # who set them and when, kept too
    assert set_by(bob.line(), "#dev", "dev talk") == "ann"
    assert set_by(bob.line(), "#lobby", "our lobby") == "ann"


def test_kill_9_during_a_saturating_run_loses_no_line_anyone_was_sent(chat_server, tmp_path):
    """Every line is committed (to the write-ahead log) before any member is
    sent it: after a kill -9, every line a member received is in the database."""
    data = str(tmp_path)
    server = chat_server("--data", data, "--flood-rate", "0", "--max-output", str(1 << 26),
                         "--soft-output", str(1 << 25))
    reader = socket.create_connection(server.address)
    reader.sendall(b"/tags\nreader\n")
    senders = [LineClient(server.address, f"s{n}") for n in range(4)]
    received = bytearray()
    deadline = time.monotonic() + TIMEOUT
    reader.settimeout(TIMEOUT)
    payload = "".join(f"line {n} " + "x" * 60 + "\n" for n in range(200)).encode()
    while received.count(b"\n") < 5000 and time.monotonic() < deadline:
        for sender in senders:
            sender.sock.sendall(payload)
        received += reader.recv(1 << 20)
    server.stop(signal.SIGKILL)
    while True:  # what the kernel had sent before the kill, then the end
        chunk = reader.recv(1 << 20)
        if not chunk:
            break
        received += chunk
    got = {}
    for line in received.decode().split("\n")[:-1]:
        match = re.match(r"@seq=(\d+);([^ ]*) (.*)$", line)
        if match and "resume=" not in match.group(2):  # (the welcome: its join's number)
            got[int(match.group(1))] = match.group(3)
    assert len(got) > 1000
    db = sqlite3.connect(f"{data}/{store.FILE}")  # opens: the database survived
    kept = {row.seq: row.line for row in store.every_line(db)}
    db.close()
    missing = {seq: text for seq, text in got.items() if kept.get(seq) != text}
    assert not missing, f"{len(missing)} delivered lines not on disk, e.g. {list(missing)[:5]}"
    again = chat_server("--data", data)  # and a server starts on it, and welcomes
    LineClient(again.address, "later")


def test_the_terminal_client_resumes_across_a_restart(chat_server, piped, tmp_path):
    data = str(tmp_path)
    first = chat_server("--data", data, "--flood-rate", "0")
    proc = piped("ann", first.port)
    proc.output.expect(b"*** Welcome, ann!")
    bob = LineClient(first.address, "bob")
    bob.send("before")
    proc.output.expect(b"<bob> before\n")
    bob.close()
    proc.output.expect(b"*** bob has left the chat room.\n")
    assert first.stop() == 0
    proc.output.expect(b"*** Server is restarting: reconnect to resume your session.\n")
    proc.output.expect(b"*** connection lost; reconnecting...\n")
    try:
        second = chat_server("--data", data, "--flood-rate", "0", port=first.port)
    except ServerNotStarted:
        pytest.skip("the port was taken meanwhile")
    carol = LineClient(second.address, "carol")
    carol.send("said after the restart")
    proc.output.expect(b"*** reconnected\n")
    proc.output.expect(b"<carol> said after the restart\n")
    assert b"history gap" not in proc.output.data
    assert proc.poll() is None


def test_a_node_on_a_bus_keeps_no_history_of_its_own(chat_server, redis_server, tmp_path):
    """With --bus the Redis stream is the room's history: --data names the
    node's directory, and no history database is written there."""
    node = chat_server("--bus", redis_server.url, "--data", str(tmp_path), "--flood-rate", "0")
    ann = LineClient(node.address, "ann")
    ann.send("hello", "/search hello", "/history")
    ann.expect("!!! /search: this node keeps no history on disk (--bus)")
    ann.expect("!!! /history: this node keeps no history on disk (--bus)")
    assert tmp_path.is_dir() and not (tmp_path / store.FILE).exists()
