"""The lectures' own exercises as a room's challenges: beat the figure a lecture reports, on the
lectures' list (data/names.txt), where that figure was measured. The targets are the registry's
(makemore.models: each LectureRecipe's val_loss), so a challenge and a page never disagree."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

# makemore.py's Transformer reaches 2.085; a smaller one that still gets under this is the exercise
SMALL_TRANSFORMER_TARGET = 2.05


@dataclass(frozen=True)
class LectureChallenge:
    title: str
    model: str
    target: float
    smallest: bool = False  # the best run is the one with the fewest parameters


@cache
def _lecture_challenges() -> dict[str, LectureChallenge]:
    from makemore.models import MODELS  # imported here: the models bring torch, which a room's page does not need

    found = {}
    for name, spec in MODELS.items():
        if spec.lecture is not None and spec.lecture.val_loss is not None:
            figure = spec.lecture.val_loss
            found[name] = LectureChallenge(f"{name}: beat {spec.lecture.source}'s val {figure:g}", name, figure)
    found["transformer-small"] = LectureChallenge(
        f"The smallest transformer under val {SMALL_TRANSFORMER_TARGET:g}", "transformer", SMALL_TRANSFORMER_TARGET,
        smallest=True)
    return found


def __getattr__(name: str):
    # LECTURE is built when first read, so that importing the rooms (every page's sidebar does) costs no torch
    if name == "LECTURE":
        return _lecture_challenges()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def lecture_fingerprint() -> str:
    from makemore.data import LECTURE_FINGERPRINT
    return LECTURE_FINGERPRINT
