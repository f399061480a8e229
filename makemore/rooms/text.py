"""What a person may type for a room (its title, a nickname) and the codes the app hands out.

A title or a nickname is shown to a whole class on a projector, so it is checked before it is
stored: letters, digits, spaces and a little punctuation, nothing that HTML or Markdown would read
as markup, no control or direction-changing characters, within a length. The pages still show it as
plain text; the check means a refused name gets a message that says why.
"""

from __future__ import annotations

import secrets
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
