"""The lectures' own exercises as a room's challenges, on the lectures' list (data/names.txt), where the
lectures' figures were measured. Each is a rule that no page's default and none of its preset or recipe
buttons meets: a student has to change something (tests/test_challenges.py checks it against every
shipped model, and trains the change that meets each one).

A lecture's figure is the registry's (makemore.models: MODELS[name].lecture.val_loss), written with its
own digits, so that a challenge and a page never disagree; the fast recipes beat most of those figures
as they stand, so a challenge adds a parameter budget, or asks for lecture 3's first loss instead."""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache

# The stages' titles (app/registry.py's; makemore does not import the app): a title names its page
# as the app does, never by the model's id. tests/test_challenges.py keeps the two in step.
STAGE_TITLES = {"mlp": "MLP", "batchnorm": "BatchNorm", "wavenet": "WaveNet", "recurrent": "RNN & GRU",
                "transformer": "Transformer"}

UNIFORM_GUESS = math.log(27)  # the loss of a net that gives all 27 characters the same probability

# lecture 2's exercise is "beat 2.2"; the page's fast recipe gets its net (11,897 parameters) to 2.1088, so
# with a third of them; and the lecture's own figure with half of them
SMALL_MLP_TARGET, SMALL_MLP_SHARE, HALF_MLP_SHARE = 2.2, 3, 2
# makemore.py's Transformer reaches 2.085; a smaller one under this is the exercise. The LayerNorm step
# (53,691 parameters) reaches 2.0330, so the budget is under it.
SMALL_TRANSFORMER_TARGET, SMALL_TRANSFORMER_PARAMS = 2.05, 30_000


@dataclass(frozen=True)
class LectureChallenge:
    title: str
    model: str | None
    target: float
    stage: str | None = None  # the page's id (app/stages/<id>.py), what the board stores for a run
    max_params: int | None = None
    max_seconds: float | None = None
    smallest: bool = False  # the best run is the one with the fewest parameters
    metric: str = "val_loss"  # or "first_loss": the loss at step 1 within 0.01 of target
    lecture: str = ""  # "lecture 2": whose exercise it is


def figure(value: float) -> str:
    """A figure with the digits it was given with (2.1057, 1.993, 2.2): the shortest that reads back the same."""
    return repr(float(value))


def _title(stage: str, lecture: str, goal: str) -> str:
    return f"{STAGE_TITLES[stage]}, {lecture}: {goal}"


@cache
def _lecture_challenges() -> dict[str, LectureChallenge]:
    from makemore.models import MODELS, param_count  # imported here: the models bring torch, which a room's page does not need

    mlp = MODELS["mlp"].lecture
    lecture_net = param_count("mlp", 27, MODELS["mlp"].lecture_run().model_config)  # 11,897
    return {
        "mlp-small": LectureChallenge(
            _title("mlp", mlp.source, f"beat val {figure(SMALL_MLP_TARGET)} with at most "
                   f"{lecture_net // SMALL_MLP_SHARE:,} parameters, a third of the lecture's {lecture_net:,}"),
            "mlp", SMALL_MLP_TARGET, stage="mlp", max_params=lecture_net // SMALL_MLP_SHARE, lecture=mlp.source),
        "mlp": LectureChallenge(
            _title("mlp", mlp.source, f"beat the lecture's val {figure(mlp.val_loss)} with at most "
                   f"{lecture_net // HALF_MLP_SHARE:,} parameters, half its net's {lecture_net:,}"),
            "mlp", mlp.val_loss, stage="mlp", max_params=lecture_net // HALF_MLP_SHARE, lecture=mlp.source),
        # lecture 3's first lesson, on lecture 2's net: the page's scaled init still starts at 3.3241
        "mlp-first-loss": LectureChallenge(
            _title("mlp", "lecture 3", f"a loss at step 1 within 0.01 of the uniform guess, "
                   f"ln 27 = {UNIFORM_GUESS:.4f}"),
            "mlp", UNIFORM_GUESS, stage="mlp", metric="first_loss", lecture="lecture 3"),
        "transformer-small": LectureChallenge(
            _title("transformer", "lecture 7", f"the smallest net under val {figure(SMALL_TRANSFORMER_TARGET)}, "
                   f"at most {SMALL_TRANSFORMER_PARAMS:,} parameters"),
            "transformer", SMALL_TRANSFORMER_TARGET, stage="transformer", max_params=SMALL_TRANSFORMER_PARAMS,
            smallest=True, lecture="lecture 7"),
    }


def __getattr__(name: str):
    # LECTURE is built when first read, so that importing the rooms (every page's sidebar does) costs no torch
    if name == "LECTURE":
        return _lecture_challenges()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def lecture_fingerprint() -> str:
    from makemore.data import LECTURE_FINGERPRINT
    return LECTURE_FINGERPRINT
