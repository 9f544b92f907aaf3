#!/usr/bin/env python3
"""The irctest families issues 21 and 24 name, and a table of a run's results per family.

``python tests/irctest/families.py --files [21|24]`` prints the test files to give
irctest (both issues' families by default); ``python tests/irctest/families.py
RESULTS.xml`` reads the JUnit XML irctest's pytest wrote (``--junitxml``) and prints
passed, failed and skipped per family, and each failure's first line (docs/irctest.rst).
"""
import sys
import xml.etree.ElementTree as ET
from collections import Counter
from typing import Dict, List

#: Family name -> irctest's module (irctest/server_tests/MODULE.py).
FAMILIES = {
    "registration": "connection_registration", "ping/pong": "pingpong", "join": "join",
    "part": "part", "messages": "messages", "nick changes (regressions)": "regressions",
    "who": "who", "names": "names", "quit": "quit", "topic": "topic",
    "buffering": "buffering", "cap": "cap", "message-tags": "message_tags",
    "echo-message": "echo_message", "labeled-responses": "labeled_responses",
    "isupport": "isupport",
}
#: Issue 24's families (accounts and moderation); the password registration test is
#: in "registration" above. ``chmodes`` is a folder of modules, one per mode.
ACCOUNT_FAMILIES = {
    "sasl": "sasl", "account-tag": "account_tag", "extended-join": "extended_join",
    "chathistory": "chathistory",
    "kick": "kick", "invite": "invite", "channel modes": "chmodes",
}
ISSUES = {"21": FAMILIES, "24": ACCOUNT_FAMILIES}
#: What irctest's Makefile leaves out for servers like this one.
MARKERS = "not services and not implementation-specific and not deprecated and not strict"
#: Issue 24's families test accounts: selchat is its own services, so those run too.
ACCOUNT_MARKERS = "not implementation-specific and not deprecated and not strict"


def files(issues: List[str]) -> List[str]:
    found = []
    for issue in issues:
        for module in ISSUES[issue].values():
            found.append(f"irctest/server_tests/{module}" + ("/" if module == "chmodes" else ".py"))
    return found


def module_of(classname: str) -> str:
    """irctest.server_tests.chmodes.key.KeyTestCase -> chmodes; ...kick.KickTestCase -> kick."""
    return classname.split(".")[2] if classname.count(".") >= 3 else ""


def outcomes(path: str) -> Dict[str, Counter]:
    """Per module: passed, failed, skipped (an expected failure counts as skipped)."""
    counts: Dict[str, Counter] = {}
    for case in ET.parse(path).iter("testcase"):
        module = module_of(case.get("classname", ""))
        kinds = {child.tag for child in case}
        outcome = ("failed" if kinds & {"failure", "error"} else
                   "skipped" if "skipped" in kinds else "passed")
        counts.setdefault(module, Counter())[outcome] += 1
    return counts


def failures(path: str) -> List[str]:
    found = []
    for case in ET.parse(path).iter("testcase"):
        for child in case:
            if child.tag in ("failure", "error"):
                first = (child.get("message") or "").strip().splitlines()[:1]
                found.append(f"{module_of(case.get('classname', ''))}::{case.get('name')}: "
                             f"{first[0][:160] if first else ''}")
    return found


def table(path: str) -> str:
    counts = outcomes(path)
    rows = [f"{'family':30s} {'passed':>6s} {'failed':>6s} {'skipped':>7s}"]
    total: Counter = Counter()
    for family, module in {**FAMILIES, **ACCOUNT_FAMILIES}.items():
        if module not in counts:
            continue
        got = counts[module]
        total += got
        rows.append(f"{family:30s} {got['passed']:6d} {got['failed']:6d} {got['skipped']:7d}")
    rows.append(f"{'total':30s} {total['passed']:6d} {total['failed']:6d} {total['skipped']:7d}")
    return "\n".join(rows)


def main(argv: List[str]) -> int:
    if argv[:1] == ["--files"] and set(argv[1:]) <= set(ISSUES):
        print(" ".join(files(argv[1:] or list(ISSUES))))
        return 0
    if argv in (["--markers"], ["--markers", "21"], ["--markers", "24"]):
        print(ACCOUNT_MARKERS if argv[1:] == ["24"] else MARKERS)
        return 0
    if len(argv) != 1:
        print("usage: families.py --files [21|24] | --markers [21|24] | RESULTS.xml",
              file=sys.stderr)
        return 2
    try:
        print(table(argv[0]))
        for line in failures(argv[0]):
            print("FAILED", line)
    except BrokenPipeError:
        raise
    except (OSError, ET.ParseError) as exc:
        print(f"families.py: cannot read {argv[0]}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except BrokenPipeError:  # `| head`: the reader has what it wanted
        sys.exit(0)
