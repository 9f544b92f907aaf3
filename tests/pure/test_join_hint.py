"""The startup hint names the command as it must be typed in a new shell."""
import os
import shutil
import sys

from selchat.serving import this_program

SELCHAT = shutil.which("selchat", path=os.path.dirname(sys.executable)) or shutil.which("selchat")
BIN = os.path.dirname(SELCHAT or sys.executable)


def fake_which(found):
    return lambda name: found


def test_this_program(tmp_path):
    script = tmp_path / "bin" / "selchat"
    script.parent.mkdir()
    script.write_text("")
    other = tmp_path / "other-selchat"
    other.write_text("")
    python = str(tmp_path / "bin" / "python")
    assert this_program(str(script), python, fake_which(str(script))) == "selchat"
    assert this_program(str(script), python, fake_which(str(other))) == str(script)
    assert this_program(str(script), python, fake_which(None)) == str(script)
    main = "/x/selchat/__main__.py"
    assert this_program(main, python, fake_which(str(script))) == "selchat"  # beside python
    assert this_program(main, python, fake_which(str(other))) == f"{python} -m selchat"
    assert this_program(main, "/a b/python", fake_which(None)) == "'/a b/python' -m selchat"
