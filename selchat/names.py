"""Which names may be taken, and when two names are the same name.

A name is who said a line, so no one may take a name that reads like another's.
Three rules keep that true:

* A name holds at least one letter or digit and no invisible character (zero
  width spaces, bidi controls, Hangul fillers, variation selectors: Unicode's
  *default ignorable* code points), so ``.`` or ``alice`` plus a zero width
  space cannot pass for someone.
* Two names are one name when they look alike: ``name_key`` folds case and
  compatibility forms (``ALICE``, ``ａｌｉｃｅ``) and then maps every character to
  its prototype in Unicode's confusables table (UTS #39 section 4, the
  *skeleton*), so a Cyrillic ``аlice`` is ``alice`` and is taken while she is
  online. The table comes from the ``confusable_homoglyphs`` package.
* A name may not mix scripts the way a spoof does (UTS #39 section 5.2,
  "moderately restrictive"): Latin with Cyrillic or Greek letters is refused
  even when no one holds the look-alike; Latin with one other script, and
  Japanese, Chinese or Korean mixes, are fine.

Pure: no I/O. The tables are built once at import; ``name_key`` is one
``str.translate`` after normalising, and runs once per join, nick or /msg.
"""
import unicodedata
from typing import Dict, FrozenSet, Optional

from confusable_homoglyphs.categories import unique_aliases
from confusable_homoglyphs.confusables import confusables_data

MAX_NAME = 32
NAME_RULE = (f"names are 1-{MAX_NAME} letters or digits, '_', '-' or '.', "
             "with at least one letter or digit")

# Default_Ignorable_Code_Point, from Unicode's DerivedCoreProperties.txt: the
# characters a renderer may draw as nothing at all.
_INVISIBLE_RANGES = (
    (0x00AD, 0x00AD), (0x034F, 0x034F), (0x061C, 0x061C), (0x115F, 0x1160),
    (0x17B4, 0x17B5), (0x180B, 0x180F), (0x200B, 0x200F), (0x202A, 0x202E),
    (0x2060, 0x206F), (0x3164, 0x3164), (0xFE00, 0xFE0F), (0xFEFF, 0xFEFF),
    (0xFFA0, 0xFFA0), (0xFFF0, 0xFFF8), (0x1BCA0, 0x1BCA3), (0x1D173, 0x1D17A),
    (0xE0000, 0xE0FFF),
)

# Script sets a name may combine (UTS #39 5.2, highly restrictive), beyond Latin
# plus any one script that is not Cyrillic or Greek (moderately restrictive).
_IGNORED_SCRIPTS = frozenset({"COMMON", "INHERITED"})
_LOOK_LIKE_LATIN = frozenset({"CYRILLIC", "GREEK"})
_SCRIPT_MIXES = (
    frozenset({"LATIN", "HAN", "HIRAGANA", "KATAKANA"}),
    frozenset({"LATIN", "HAN", "BOPOMOFO"}),
    frozenset({"LATIN", "HAN", "HANGUL"}),
)


def _is_invisible(ch: str) -> bool:
    code = ord(ch)
    return any(low <= code <= high for low, high in _INVISIBLE_RANGES)


def _fold_case(name: str) -> str:
    """Case and compatibility folded, decomposed: the form skeletons are taken of."""
    return unicodedata.normalize("NFD", unicodedata.normalize("NFKC", name).casefold())


def _skeleton_table() -> Dict[int, str]:
    """Character -> the (case folded) prototype it looks like, for str.translate.

    ``confusables_data`` holds each line of confusables.txt both ways round
    (source -> prototype and prototype -> source), with right-to-left
    characters wrapped in U+200E for display. A source has exactly one partner,
    its prototype; a prototype with a single source is told apart by order:
    the data lists a group's first source before its prototype.
    """
    partners = {key.replace("\u200e", ""): [entry["c"].replace("\u200e", "") for entry in entries]
                for key, entries in confusables_data.items()}
    position = {key: index for index, key in enumerate(partners)}
    prototype = {}
    for key, found in partners.items():
        if len(key) == 1 and len(found) == 1:
            other = found[0]
            if len(partners[other]) > 1 or position[key] < position[other]:
                prototype[ord(key)] = other
    # Fold each prototype's case and map it again until nothing changes, so that
    # one translate gives a key that folding and mapping leave alone ('0' -> 'O' -> 'o').
    table = {}
    for code, text in prototype.items():
        for _ in range(8):
            folded = _fold_case(text).translate(prototype)
            if folded == text:
                break
            text = folded
        if text != chr(code):
            table[code] = text
    return table


_SKELETON = _skeleton_table()


def name_key(name: str) -> str:
    """The form two names are compared in: equal keys mean look-alike names.

    Case folded (``ALICE`` == ``ａｌｉｃｅ`` == ``alice``), then the UTS #39
    skeleton (Cyrillic ``аlice`` == ``alice``, ``b0b`` == ``bob``). Skeletons
    spell ``m`` as ``rn`` and never contain ``m``, so turning ``rn`` back into
    ``m`` keeps exactly the same equalities and lets keys sort like names.
    """
    key = _fold_case(name).translate(_SKELETON).replace("rn", "m")
    return name if key == name else key  # share the string: one less per member


def _scripts(name: str) -> FrozenSet[str]:
    return frozenset(unique_aliases(name)) - _IGNORED_SCRIPTS


def name_problem(name: str) -> Optional[str]:
    """Why `name` cannot be a name, or None if it can."""
    rule = f"invalid name: {NAME_RULE}"
    if not 1 <= len(name) <= MAX_NAME:
        return rule
    if any(_is_invisible(ch) for ch in name):
        return "invalid name: no invisible characters"
    has_letter_or_digit = False
    for ch in name:
        category = unicodedata.category(ch)
        if category[0] == "L" or category == "Nd":
            has_letter_or_digit = True
        elif not (category in ("Mn", "Mc") or ch in "_-."):
            return rule
    if not has_letter_or_digit or unicodedata.category(name[0])[0] == "M":
        return rule
    scripts = _scripts(name)
    if len(scripts) > 1 and not _may_mix(scripts):
        shown = " and ".join(sorted(script.title() for script in scripts))
        return f"invalid name: mixes {shown} letters; use one script"
    return None


def _may_mix(scripts: FrozenSet[str]) -> bool:
    if any(scripts <= allowed for allowed in _SCRIPT_MIXES):
        return True
    others = scripts - {"LATIN"}
    return "LATIN" in scripts and len(others) == 1 and not others & _LOOK_LIKE_LATIN
