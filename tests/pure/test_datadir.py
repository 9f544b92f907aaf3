"""The data directory (`selchat.datadir`, `selchat.storage`): where it is,
made on first start, locked, and every problem one line."""
import os
import sqlite3

import pytest

from selchat import datadir, store
from selchat.datadir import DataProblem
from selchat.storage import Storage


def test_the_default_is_the_xdg_state_directory():
    assert datadir.default_dir({"XDG_STATE_HOME": "/s", "HOME": "/h"}) == "/s/selchat"
    assert datadir.default_dir({"HOME": "/h"}) == "/h/.local/state/selchat"
    assert datadir.default_dir({"XDG_STATE_HOME": "rel", "HOME": "/h"}) == \
        "/h/.local/state/selchat"  # a relative one is ignored, as the spec says


def test_no_data_means_none_and_an_option_wins(tmp_path):
    env = {"XDG_STATE_HOME": "/s"}
    assert datadir.resolve(None, True, env) is None
    assert datadir.resolve(str(tmp_path), False, env) == str(tmp_path)
    assert datadir.resolve(None, False, env) == "/s/selchat"


def test_made_on_first_start_private(tmp_path):
    path = str(tmp_path / "a" / "b")
    assert datadir.prepare(path) == path
    assert os.stat(path).st_mode & 0o777 == 0o700
    assert os.listdir(path) == []


def test_a_directory_that_cannot_be_made_is_one_line(tmp_path):
    (tmp_path / "file").write_text("")
    with pytest.raises(DataProblem, match=r"^cannot create the data directory .*/file/x: "):
        datadir.prepare(str(tmp_path / "file" / "x"))
    with pytest.raises(DataProblem, match="is not a directory"):
        datadir.prepare(str(tmp_path / "file"))


def test_a_directory_that_cannot_be_written_is_one_line(tmp_path, monkeypatch):
    real_open = open

    def refuse(name, *args, **kwargs):
        if ".write-test-" in str(name):
            raise PermissionError(13, "Permission denied")
        return real_open(name, *args, **kwargs)
    monkeypatch.setattr("builtins.open", refuse)
    with pytest.raises(DataProblem, match=r"^cannot write in the data directory .*: "
                                          r"permission denied"):
        datadir.prepare(str(tmp_path))


def test_a_second_server_is_refused(tmp_path):
    first = Storage.open(str(tmp_path), False)
    try:
        with pytest.raises(DataProblem, match="in use by another selchat server"):
            Storage.open(str(tmp_path), False)
    finally:
        first.close()
    Storage.open(str(tmp_path), False).close()  # free again once the first has gone


def test_a_damaged_database_is_one_line(tmp_path):
    (tmp_path / store.FILE).write_bytes(b"not a database, just bytes" * 100)
    with pytest.raises(DataProblem, match=r"history.db is damaged \(file is not a database\): "
                                          "restore a backup, or move it away"):
        Storage.open(str(tmp_path), False)


def test_a_locked_database_is_one_line(tmp_path, monkeypatch):
    monkeypatch.setattr(datadir, "STARTUP_BUSY_MS", 10)
    Storage.open(str(tmp_path), False).close()
    other = sqlite3.connect(str(tmp_path / store.FILE), isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(DataProblem, match="is locked by another process"):
            Storage.open(str(tmp_path), False)
    finally:
        other.close()


def test_a_read_only_database_is_one_line(tmp_path, monkeypatch):
    def read_only(*args):
        raise sqlite3.OperationalError("attempt to write a readonly database")
    monkeypatch.setattr(store, "migrate", read_only)
    with pytest.raises(DataProblem, match="cannot be written"):
        Storage.open(str(tmp_path), False)


def test_the_epoch_outlives_a_restart_and_the_startup_line_says_where(tmp_path):
    first = Storage.open(str(tmp_path), False)
    first.close()
    again = Storage.open(str(tmp_path), False, fts=False)
    assert again.epoch == first.epoch
    assert again.startup_line.startswith(f"selchat keeps history in {tmp_path}/history.db")
    again.close()
    assert Storage.open(None, True).startup_line is None
    assert "bus" in Storage.open(str(tmp_path), False, bus=True).startup_line
