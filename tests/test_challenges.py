"""The lectures' challenges (makemore.rooms.challenges) are worth playing: none is met by what a page
opens or trains without a change of the student's (its default, its preset buttons, its recipe buttons:
every one ships in data/models, trained on the lectures' list), and each is met by a change a student
can make on its page (measured with `python -m makemore train --model ... --json`; the slow test trains
each of those changes again)."""

import math
import re
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from makemore.data import LECTURE_FINGERPRINT, WordDataset
from makemore.models import MODELS, create_model, param_count
from makemore.rooms import Challenge, RoomRun
from makemore.rooms.challenges import LECTURE, STAGE_TITLES, LectureChallenge, figure, lecture_fingerprint
from makemore.runs import Run
from makemore.serving.cache import SHIPPED_DIR
from makemore.serving.checkpoint import load_checkpoint
from makemore.serving.pretrain import DATA_DIR, LECTURE_LIST, shipped_runs
from makemore.train import train

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "app"))
import registry  # noqa: E402  (app/registry.py: the stages, without streamlit)

STAGE_OF_MODEL = {model: Path(stage.page).stem for stage in registry.STAGES for model in stage.models}

# The change that meets each challenge, from the page's default (run.model_config and train_config
# fields), with what the CLI measured for it on names.txt (one core, seed 1337):
REACHED_BY = {
    # python -m makemore train --model mlp --n-embd 8 --n-hidden 64: val 2.1775 with 3,571 parameters
    "mlp-small": (dict(n_embd=8, n_hidden=64), {}),
    # python -m makemore train --model mlp --n-hidden 96: val 2.1442 with 5,865 parameters
    "mlp": (dict(n_hidden=96), {}),
    # python -m makemore train --model mlp --n-hidden 64: loss at step 1 3.2955 (the default's 200 units: 3.3241)
    "mlp-first-loss": (dict(n_hidden=64), {}),
    # python -m makemore train --model transformer --n-embd 32 --n-layer 2: val 2.0139 with 28,283 parameters
    "transformer-small": (dict(n_embd=32, n_layer=2), {}),
}


@pytest.fixture(scope="module")
def names():
    return WordDataset.from_file(DATA_DIR / LECTURE_LIST)


def challenge(name: str) -> Challenge:
    """The store's own Challenge for a lecture exercise, as add_lecture_challenge stores it."""
    c = LECTURE[name]
    return Challenge(0, c.title, c.stage, c.model, c.target, c.max_params, c.max_seconds, c.smallest, name,
                     metric=c.metric)


def room_run(model_name: str, result) -> RoomRun:
    return RoomRun(0, "ada", 1, STAGE_OF_MODEL[model_name], model_name, {}, result.val_loss, result.params,
                   result.seconds, "", 0.0, first_loss=result.loss_history[0] if result.loss_history else None)


@pytest.fixture(scope="module")
def shipped_on_names(names):
    """(why, run, its result) for every shipped model on the lectures' list: each page's default, its
    presets and the lecture's recipe, which is everything a page's buttons open without a change."""
    return [(shipped.why, shipped.run, load_checkpoint(SHIPPED_DIR / f"{shipped.key(names)}.pt").result)
            for shipped in shipped_runs() if shipped.data == LECTURE_LIST]


def test_the_lectures_challenges_are_on_the_lectures_list():
    assert lecture_fingerprint() == LECTURE_FINGERPRINT
    assert len(LECTURE) >= 4


@pytest.mark.parametrize("name", list(LECTURE))
def test_a_challenge_names_its_lecture_and_its_stage_as_the_app_titles_it(name):
    c = LECTURE[name]
    training_stages = {Path(s.page).stem: s for s in registry.STAGES if s.models}
    assert c.stage in training_stages, f"{name}: {c.stage!r} is not a page that trains (Backprop trains nothing)"
    assert c.model in training_stages[c.stage].models
    assert c.lecture and c.lecture.startswith("lecture ") and c.lecture in c.title
    assert c.title.startswith(training_stages[c.stage].title + ", ")
    assert c.model not in re.findall(r"[\w-]+", c.title), f"{name}: the model's id in its title: {c.title}"
    assert c.metric in ("val_loss", "first_loss") and len(c.title) <= 120


def test_the_package_titles_the_stages_as_the_app_does():
    app_titles = {Path(s.page).stem: s.title for s in registry.STAGES if s.models}
    assert STAGE_TITLES and all(app_titles.get(stage) == title for stage, title in STAGE_TITLES.items()), app_titles


def test_a_figure_keeps_its_own_digits():
    assert [figure(2.1057), figure(1.993), figure(2.2), figure(2.164)] == ["2.1057", "1.993", "2.2", "2.164"]
    assert "2.164" in LECTURE["mlp"].title
    assert "3.2958" in LECTURE["mlp-first-loss"].title and LECTURE["mlp-first-loss"].target == pytest.approx(math.log(27))


@pytest.mark.parametrize("name", list(LECTURE))
def test_no_default_preset_or_recipe_button_meets_a_challenge(name, shipped_on_names):
    rule = challenge(name)
    checked = 0
    for why, run, result in shipped_on_names:
        posted = room_run(run.model_name, result)
        assert not rule.met_by(posted), (f"{rule.title} is met by {run.model_name}'s {why}: val "
                                         f"{posted.val_loss:.4f}, {posted.params:,} parameters, first loss "
                                         f"{posted.first_loss}")
        checked += run.model_name == rule.model
    assert checked >= 2  # the page's default and its lecture recipe at least


@pytest.mark.parametrize("name", list(LECTURE))
def test_a_challenge_is_met_by_a_change_a_student_can_make_on_its_page(name):
    c = LECTURE[name]
    network, training = REACHED_BY[name]
    run = MODELS[c.model].default_run()
    changed = Run(c.model, replace(run.model_config, **network), replace(run.train_config, **training))
    assert changed.model_config != run.model_config or changed.train_config != run.train_config
    for field_name, value in network.items():  # within the page's own bounds for each setting
        bounds = next(f.metadata for f in MODELS[c.model].config.__dataclass_fields__.values() if f.name == field_name)
        assert bounds.get("min", value) <= value <= bounds.get("max", value)
    if c.max_params is not None:
        assert param_count(c.model, 27, changed.model_config) <= c.max_params


@pytest.mark.slow  # trains each change (about 2 minutes on one core)
@pytest.mark.parametrize("name", list(LECTURE))
def test_the_change_meets_the_challenge_when_trained(name, names):
    c = LECTURE[name]
    network, training = REACHED_BY[name]
    run = MODELS[c.model].default_run()
    model_config, train_config = replace(run.model_config, **network), replace(run.train_config, **training)
    if c.metric == "first_loss":  # the loss at step 1 comes before the first update: one step tells it
        train_config = replace(train_config, max_steps=1)
    result = train(create_model(c.model, len(names.vocab), model_config, seed=train_config.seed), names, train_config,
                   diagnostics=False)
    assert challenge(name).met_by(room_run(c.model, result)), (c.title, result.val_loss, result.params,
                                                               result.loss_history[0])


def test_a_lecture_challenge_carries_every_field_the_store_reads():
    fields = set(LectureChallenge.__dataclass_fields__)
    assert {"title", "model", "target", "stage", "max_params", "max_seconds", "smallest", "metric",
            "lecture"} <= fields
