"""`selchat serve --config FILE` (or SELCHAT_CONFIG) and `--print-config`, as the
installed command runs them: every level of precedence, and every kind of error
as one line naming the key, with exit status 2."""
import os
import shutil
import subprocess
import sys

import pytest

from support.constants import REPO, TIMEOUT

SELCHAT = shutil.which("selchat", path=os.path.dirname(sys.executable)) or shutil.which("selchat")


def serve(*args, env=None, cwd=None):
    """`selchat serve ARGS` with no SELCHAT_* variable but those in `env`."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("SELCHAT_")}
    return subprocess.run([SELCHAT, "serve", *args], capture_output=True, text=True,
                          timeout=TIMEOUT, env={**clean, **(env or {})}, cwd=cwd)


def settings(*args, env=None):
    """The effective settings, {key: (value, source)}, from --print-config."""
    result = serve(*args, "--print-config", env=env)
    assert (result.returncode, result.stderr) == (0, ""), result.stderr
    found = {}
    for line in result.stdout.splitlines():
        setting, _, source = line.partition("  # ")
        key, _, value = setting.partition(" = ")
        found[key] = (value, source)
    return found


@pytest.fixture
def config_file(tmp_path):
    def write(text: str) -> str:
        path = tmp_path / "selchat.toml"
        path.write_text(text)
        return str(path)
    return write


def test_every_level_of_precedence(config_file):
    path = config_file("max-clients = 100\nmax-line = 2048\nflood-burst = 5\nhistory = 7\n")
    env = {"SELCHAT_MAX_LINE": "3000", "SELCHAT_FLOOD_BURST": "6"}
    got = settings("--config", path, "--flood-burst", "9", env=env)
    assert got["flood-burst"] == ("9", "command line")  # over environment and file
    assert got["max-line"] == ("3000", "SELCHAT_MAX_LINE")  # environment over file
    assert got["max-clients"] == ("100", "config file")  # file over default
    assert got["history"] == ("7", "config file")
    assert got["max-per-ip"] == ("64", "default")  # nothing else: the default


def test_the_file_from_the_environment_and_both_spellings_of_a_key(config_file):
    path = config_file('max_clients = 100\nweb-origin = ["https://a.example"]\nno_web = true\n'
                       'log-level = "debug"\nresume_window = 30\n')
    got = settings(env={"SELCHAT_CONFIG": path})
    assert got["max-clients"] == ("100", "config file")
    assert got["web-origin"] == ('["https://a.example"]', "config file")
    assert got["no-web"] == ("true", "config file")
    assert got["log-level"] == ('"debug"', "config file")
    assert got["resume-window"] == ("30.0", "config file")


def test_the_file_sets_what_the_server_does(config_file, tmp_path):
    path = config_file("port = 0\nno-web = true\nmax-clients = 1\nhost = \"127.0.0.1\"\n")
    proc = subprocess.Popen([SELCHAT, "serve", "--config", path], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)
    try:
        line = proc.stdout.readline()
        assert line.startswith("selchat listening on 127.0.0.1:")
        assert "web page" not in proc.stdout.readline()  # no-web from the file
    finally:
        proc.terminate()
        proc.wait(TIMEOUT)
        proc.stdout.close()


def test_the_bus_password_is_masked(config_file):
    path = config_file('bus = "redis://:s3cret@127.0.0.1:6390/2"\n')
    result = serve("--config", path, "--print-config")
    assert 'bus = "redis://:***@127.0.0.1:6390/2"  # config file' in result.stdout
    assert "s3cret" not in result.stdout + result.stderr


@pytest.mark.parametrize("text, message", [
    ("maxclients = 3\n", "config file {path}: unknown key 'maxclients' "
                         "(keys are the options of 'selchat serve -h', without '--')"),
    ("max-clients = 3\nmax_clients = 4\n",
     "config file {path}: max_clients is given twice (as max-clients too)"),
    ('max-clients = "many"\n', "config file {path}: max-clients: an integer is expected"),
    ("max-clients = true\n", "config file {path}: max-clients: a boolean is not expected"),
    ("no-web = 1\n", "config file {path}: no-web: true or false is expected"),
    ('web-origin = "https://a.example"\n',
     "config file {path}: web-origin: an array of strings is expected"),
    ("max-clients = 0\n", "invalid value for max-clients in {path}: 0 is not in the range x>=1 "
                          "(see 'selchat serve -h')"),
    ('log_level = "loud"\n', "invalid value for log_level in {path}: 'loud' is not one of "
                             "'debug', 'info', 'warning', 'error' (see 'selchat serve -h')"),
    ("max-clients = \n", "config file {path}: not TOML: Invalid value (at line 1, column 15)"),
])
def test_a_bad_file_is_one_line_naming_the_key_and_status_2(config_file, text, message):
    path = config_file(text)
    result = serve("--config", path)
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == f"selchat: {message.format(path=path)}\n"


def test_a_missing_file_is_one_line_and_status_2(tmp_path):
    missing = str(tmp_path / "nothing.toml")
    result = serve(env={"SELCHAT_CONFIG": missing})
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == (
        f"selchat: cannot read config file {missing}: no such file or directory\n")


def test_an_option_overrides_a_bad_value_never_read(config_file):
    """The file's value is only a default: one given on the command line wins,
    so the file's is not judged."""
    path = config_file("max-clients = 0\n")
    assert settings("--config", path, "--max-clients", "5")["max-clients"] == ("5", "command line")


def test_the_example_file_in_contrib_is_valid():
    example = str(REPO / "contrib" / "selchat.toml")
    got = settings("--config", example)
    assert got["host"] == ('"0.0.0.0"', "config file")
    assert got["max-clients"] == ("10000", "config file")
