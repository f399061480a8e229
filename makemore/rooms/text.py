"""What a person may type for a room (its title, a nickname) and the codes the app hands out.

A title or a nickname is shown to a whole class on a projector, so it is checked before it is
stored: letters, digits, spaces and a little punctuation, nothing that HTML or Markdown would read
as markup, no control or direction-changing characters, within a length. The pages still show it as
plain text; the check means a refused name gets a message that says why.
"""

from __future__ import annotations

import secrets
from functools import cache
import unicodedata

from makemore import limits

# No look-alikes (0/O, 1/I/L, 5/S, 2/Z, 8/B): a code read off a projector is typed right.
CODE_ALPHABET = "ACDEFGHJKMNPQRTUVWXY3479"
CODE_LENGTH = 8  # 24**8 ≈ 1.1e11 codes: guessing one of the open rooms takes billions of tries
KEY_LENGTH = 16  # a student's or teacher's key: 24**16 ≈ 1.2e22

NICKNAME_PUNCTUATION = set(" -_.'")
TITLE_PUNCTUATION = NICKNAME_PUNCTUATION | set(",:!?&()/+")


class TextError(ValueError):
    pass


def new_code(length: int = CODE_LENGTH) -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(length))


def new_key() -> str:
    return new_code(KEY_LENGTH)


def normal_code(text: str) -> str:
    """What a student typed as a code, as the code is stored: upper case, no spaces or dashes."""
    return "".join(c for c in unicodedata.normalize("NFKC", str(text)).upper() if c not in " -")


def shown_code(code: str) -> str:
    """ "ACDE-FGHJ": easier to read aloud."""
    half = len(code) // 2
    return f"{code[:half]}-{code[half:]}"


def checked_nickname(text) -> str:
    return _checked(text, "A nickname", limits.MAX_NICKNAME_CHARS, NICKNAME_PUNCTUATION)


def checked_title(text) -> str:
    return _checked(text, "A room's title", limits.MAX_TITLE_CHARS, TITLE_PUNCTUATION)


def nickname_key(nickname: str) -> str:
    """Two nicknames that read the same ("Ada", "ada ") are one nickname in a room."""
    return " ".join(nickname.casefold().split())


def _checked(text, what: str, max_chars: int, punctuation: set[str]) -> str:
    if not isinstance(text, str):
        raise TextError(f"{what} is text.")
    text = " ".join(unicodedata.normalize("NFKC", text).split())  # one space between words
    if not text:
        raise TextError(f"{what} needs at least one letter or digit.")
    refused = sorted({c for c in text if not _allowed(c, punctuation)})
    if refused:
        shown = " ".join(repr(c) if c.isprintable() else f"U+{ord(c):04X}" for c in refused[:5])
        allowed = "".join(sorted(punctuation - {" "}))
        raise TextError(f"{what} may hold letters, digits, spaces and {allowed} only, not {shown}.")
    if not any(c.isalnum() for c in text):
        raise TextError(f"{what} needs at least one letter or digit.")
    if len(text) > max_chars:
        raise TextError(f"{what} is at most {max_chars} characters (this one has {len(text)}).")
    return text


def _allowed(c: str, punctuation: set[str]) -> bool:
    # letters and digits of any script, with their combining marks; never a control, format
    # (right-to-left override, zero-width joiner) or symbol character
    return c in punctuation or unicodedata.category(c)[0] in "LNM"


# --- look-alike nicknames (Unicode's confusables, UTS #39) -----------------------------------------
# Scripts that one word of one language writes together: Japanese (kanji with kana), Korean (hangul
# with hanja), Chinese with bopomofo. Any other mix inside one word is how a look-alike is made.
SCRIPTS_WRITTEN_TOGETHER = ({"HAN", "HIRAGANA", "KATAKANA"}, {"HAN", "HANGUL"}, {"HAN", "BOPOMOFO"})
NO_SCRIPT = {"COMMON", "INHERITED"}  # digits, punctuation, combining accents: part of any script
WORD_BREAKS = NICKNAME_PUNCTUATION


def nickname_skeleton(nickname: str) -> str:
    """UTS #39's skeleton of the casefolded nickname: two nicknames with one skeleton look the same
    ("аnn" with a Cyrillic а, "ann"). Format characters (a zero-width joiner) are dropped."""
    text = unicodedata.normalize("NFD", " ".join(unicodedata.normalize("NFKC", nickname).casefold().split()))
    prototypes = _prototypes()
    shown = "".join(prototypes.get(c, c) for c in text if unicodedata.category(c) != "Cf")
    return unicodedata.normalize("NFD", shown)


def looks_like(nickname: str, others) -> str | None:
    """The first of `others` that `nickname` is confusable with (the same skeleton), else None."""
    skeleton = nickname_skeleton(nickname)
    return next((other for other in others if nickname_skeleton(other) == skeleton), None)


def mixed_scripts(nickname: str) -> list[str] | None:
    """The scripts one word of the nickname mixes ("jοhn": Latin with a Greek ο), else None."""
    from confusable_homoglyphs.categories import alias

    word = []
    for c in unicodedata.normalize("NFC", nickname) + " ":
        if c not in WORD_BREAKS:
            word.append(c)
            continue
        scripts = {alias(ch) for ch in word} - NO_SCRIPT
        if len(scripts) > 1 and not any(scripts <= together for together in SCRIPTS_WRITTEN_TOGETHER):
            return sorted(s.title() for s in scripts)
        word = []
    return None


@cache
def _prototypes() -> dict[str, str]:
    """Each confusable character -> one string that stands for all it can be confused with.

    confusable_homoglyphs keeps Unicode's confusables.txt as a graph with both directions of each
    "source -> prototype" line, so it does not say which end is the prototype. Every line's source
    is one character and a prototype is never a source, so each connected set holds one prototype
    and its sources; a set with a longer string ("rn" for "m") has that string as its prototype.
    Otherwise any fixed member stands for the set (its smallest), which gives the same equality as
    the prototype itself: two nicknames have one skeleton exactly when UTS #39's skeletons agree.
    """
    from confusable_homoglyphs.confusables import confusables_data

    def bare(text: str) -> str:
        return text.replace("\u200e", "")  # the package wraps right-to-left letters in LRMs for display

    parent: dict[str, str] = {}

    def root(x: str) -> str:
        while parent.setdefault(x, x) != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for source, homoglyphs in confusables_data.items():
        for glyph in homoglyphs:
            a, b = root(bare(source)), root(bare(glyph["c"]))
            if a != b:
                parent[a] = b
    groups: dict[str, list[str]] = {}
    for node in list(parent):
        groups.setdefault(root(node), []).append(node)
    standing: dict[str, str] = {}
    for nodes in groups.values():
        longer = [n for n in nodes if len(n) > 1]
        standing.update({n: min(longer) if longer else min(nodes) for n in nodes if len(n) == 1})
    # a longer prototype's own letters stand for their sets too ("rn" -> the sets of "r" and "n")
    return {c: "".join(standing.get(ch, ch) for ch in s) if len(s) > 1 else s for c, s in standing.items()}
