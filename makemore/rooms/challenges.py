"""The lectures' own exercises as a room's challenges: beat the figure a lecture reports, on the
lectures' list (data/names.txt), where that figure was measured. The targets are the registry's
(makemore.models: each LectureRecipe's val_loss), so a challenge and a page never disagree."""

from __future__ import annotations

from dataclasses import dataclass

from makemore.models import MODELS

# makemore.py's Transformer reaches 2.085; a smaller one that still gets under this is the exercise
SMALL_TRANSFORMER_TARGET = 2.05


@dataclass(frozen=True)
class LectureChallenge:
    title: str
    model: str
    target: float
    smallest: bool = False  # the best run is the one with the fewest parameters


def _lecture_challenges() -> dict[str, LectureChallenge]:
    found = {}
    for name, spec in MODELS.items():
        if spec.lecture is not None and spec.lecture.val_loss is not None:
            figure = spec.lecture.val_loss
            found[name] = LectureChallenge(f"{name}: beat {spec.lecture.source}'s val {figure:g}", name, figure)
    found["transformer-small"] = LectureChallenge(
        f"The smallest transformer under val {SMALL_TRANSFORMER_TARGET:g}", "transformer", SMALL_TRANSFORMER_TARGET,
        smallest=True)
    return found


LECTURE = _lecture_challenges()


def lecture_fingerprint() -> str:
    from makemore.data import LECTURE_FINGERPRINT
    return LECTURE_FINGERPRINT
