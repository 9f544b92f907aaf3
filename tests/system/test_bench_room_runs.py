"""The load harness over many rooms (bench/flood.py --rooms): exact counts, per
room, through the command line as a user would type it."""
import json
import subprocess
import sys

from support.constants import BENCH

FLOOD = BENCH / "flood.py"
TIMEOUT = 90


def flood_json(tmp_path, *args):
    out = tmp_path / "run.json"
    done = subprocess.run([sys.executable, str(FLOOD), *args, "--json", str(out)],
                          capture_output=True, text=True, timeout=TIMEOUT,
                          stdin=subprocess.DEVNULL)
    return done, json.loads(out.read_text()) if out.exists() else None


def test_counts_over_six_rooms_are_exact(tmp_path):
    done, doc = flood_json(tmp_path, "--clients", "30", "--rooms", "6", "--rooms-per-client",
                           "2", "--senders", "3", "--messages", "5")
    assert done.returncode == 0, done.stdout + done.stderr
    run, = doc["runs"]
    m = run["messages"]
    # 30 clients x 2 rooms over 6 rooms: 10 members a room. Each sender's 5
    # messages go to its 2 rooms in turn (3 and 2), each to the 9 others there.
    assert (m["sent"], m["expected"], m["received"]) == (15, 135, 135)
    assert (m["lost"], m["duplicated"], m["out_of_order"], m["garbled"]) == (0, 0, 0, 0)
    assert [s["received"] for s in m["per_sender"]] == [45, 45, 45]
    assert "30 clients in 6 rooms (2 each)" in done.stdout


def test_a_client_in_many_rooms_gets_every_line_once(tmp_path):
    done, doc = flood_json(tmp_path, "--clients", "6", "--rooms", "50", "--rooms-per-client",
                           "50", "--senders", "2", "--messages", "100")
    assert done.returncode == 0, done.stdout + done.stderr
    m = doc["runs"][0]["messages"]
    # Everyone is in all 50 rooms: each message reaches the 5 others.
    assert (m["sent"], m["expected"], m["received"]) == (200, 1000, 1000)
    assert (m["lost"], m["duplicated"], m["out_of_order"]) == (0, 0, 0)


def test_rooms_need_selchat_over_tcp():
    done = subprocess.run([sys.executable, str(FLOOD), "--rooms", "4", "--transport", "ws"],
                          capture_output=True, text=True, timeout=TIMEOUT)
    assert done.returncode == 2 and "--rooms needs selchat over TCP" in done.stderr
    done = subprocess.run([sys.executable, str(FLOOD), "--rooms", "4", "--rooms-per-client",
                           "5"], capture_output=True, text=True, timeout=TIMEOUT)
    assert done.returncode == 2 and "--rooms-per-client must be 1..4" in done.stderr


def test_compare_rooms_alternates_one_room_and_many(tmp_path):
    done, doc = flood_json(tmp_path, "--clients", "20", "--rooms", "4", "--rooms-per-client",
                           "2", "--senders", "2", "--messages", "4", "--compare-rooms",
                           "--repeat", "1")
    assert done.returncode == 0, done.stdout + done.stderr
    one, many = doc["runs"]
    assert (one["scenario"]["rooms"], many["scenario"]["rooms"]) == (1, 4)
    # One room: 8 messages to the 19 others; four rooms of 10: to the 9 others.
    assert (one["messages"]["expected"], one["messages"]["received"]) == (152, 152)
    assert (many["messages"]["expected"], many["messages"]["received"]) == (72, 72)
    assert "rooms cost: server " in done.stdout
    assert " µs/delivery in 4 rooms (2 each)" in done.stdout
