"""Every training setting declared once: TrainConfig's field metadata (makemore/train.py) makes the
CLI's option, the training pages' widget and the check of a link, so a CLI option, a URL parameter
and a widget for the same setting accept and refuse the same values (a widget offers some of the
values the bounds allow: a select-slider's options; each of them the CLI takes too)."""

import dataclasses

import pytest

from test_app import open_app
from test_app_mlp import fresh_app  # noqa: F401  (autouse: a clean cache and job board)
from kit import training_ui  # noqa: E402  (on sys.path through test_app_mlp: the app's own module)
from kit.urlstate import parse_query  # noqa: E402

from makemore import limits
from makemore.cli import main, parse_args
from makemore.models import MODELS
from makemore.train import TrainConfig

FIELDS = {f.name: f for f in dataclasses.fields(TrainConfig)}

# One row per TrainConfig field: (below min, min, max, above max, wrong type or choice), as typed.
# None where a field has no such edge (choices have no order; a flag has two values).
EDGES = {
    "max_steps": ("-1", "0", str(limits.MAX_STEPS), str(limits.MAX_STEPS + 1), "2.5"),
    "batch_size": ("-1", "0", str(limits.MAX_BATCH_SIZE), str(limits.MAX_BATCH_SIZE + 1), "big"),
    "optimizer": (None, "adamw", "sgd", None, "adam"),
    "lr": ("0", "1e-06", str(limits.MAX_LR), "100.5", "fast"),  # above 0: 0 is below the smallest
    "schedule": (None, "constant", "cosine", None, "linear"),
    "weight_decay": ("-0.001", "0.0", "10.0", "10.5", "nan"),
    "lr_floor": ("-0.1", "0.0", "1.0", "1.1", "half"),
    "warmup": ("-1", "0", str(limits.MAX_STEPS), str(limits.MAX_STEPS + 1), "1e3"),
    "beta2": ("-0.1", "0.0", "0.9999", "1.0", "inf"),
    "seed": ("-1", "0", str(limits.MAX_SEED), str(limits.MAX_SEED + 1), "0x10"),
    "eval_interval": ("-1", "0", str(limits.MAX_STEPS), str(limits.MAX_STEPS + 1), "often"),
    "device": (None, "auto", "mps", None, "tpu"),
    "keep_best": (None, "false", "true", None, "yes"),
}
ACCEPTED = (1, 2)  # columns: min and max
PREFIX = "mlp"  # the MLP page's training widgets
PAGE_SETTINGS = training_ui.training_settings(PREFIX, TrainConfig(**MODELS["mlp"].train_defaults))


def edges():
    return [(name, column, text) for name, row in EDGES.items() for column, text in enumerate(row) if text is not None]


def cli_words(name: str, text: str) -> list[str]:
    flag = "--" + name.replace("_", "-")
    if isinstance(FIELDS[name].default, bool):  # a flag: --keep-best / --no-keep-best
        return {"true": [flag], "false": ["--no-" + flag[2:]]}.get(text, [f"{flag}={text}"])
    return [flag, text]


def cli_value(name: str, text: str):
    """What `train --model mlp` reads from the option, or the one error line and exit status 2."""
    return getattr(parse_args(["train", "--model", "mlp", *cli_words(name, text)]), name)


def typed(name: str, text: str):
    kind = type(FIELDS[name].default)
    return text == "true" if kind is bool else kind(text)


def url_setting(name: str):
    """The MLP page's URL setting for the field, or None when no widget on the page sets it."""
    if name not in training_ui.KEYS:
        return None
    return next(s for s in PAGE_SETTINGS if s.key == training_ui.key(PREFIX, name))


def url_accepts(name: str, text: str) -> bool:
    _, problems, unknown = parse_query({training_ui.key(PREFIX, name): text}, PAGE_SETTINGS)
    assert not unknown
    return not problems


def test_the_table_covers_every_field_and_no_more():
    assert list(EDGES) == list(FIELDS)


@pytest.mark.parametrize("name, column, text", edges())
def test_the_cli_accepts_the_bounds_and_refuses_past_them_in_one_line(capsys, name, column, text):
    if column in ACCEPTED:
        assert cli_value(name, text) == typed(name, text)
        assert training_ui.allowed(name, typed(name, text))  # what the app's own check says
        return
    code = main(["train", "--model", "mlp", "--data", "no-such-file.txt", *cli_words(name, text)])
    out, err = capsys.readouterr()
    assert code == 2 and out == "" and len(err.splitlines()) == 1, err
    assert "--" + name.replace("_", "-") in err  # refused before the missing word list is even read


@pytest.mark.parametrize("name, column, text", edges())
def test_a_link_accepts_what_the_widget_offers_within_the_bounds_and_refuses_the_rest(name, column, text):
    setting = url_setting(name)
    if setting is None:  # only a recipe sets it: no link can, and no widget shows it
        assert "widget" not in FIELDS[name].metadata
        _, _, unknown = parse_query({f"{PREFIX}_{name}": text}, PAGE_SETTINGS)
        assert unknown == [f"{PREFIX}_{name}"]
        return
    if column not in ACCEPTED:
        assert not url_accepts(name, text)
        return
    shown = {str(o) for o in setting.options}
    if "choices" in FIELDS[name].metadata:  # the URL holds a choice as the widget shows it
        text = training_ui.option(training_ui.choice_options(name), text)
    assert url_accepts(name, text) == (not shown or text in shown)


@pytest.mark.parametrize("name", [name for name in FIELDS if name in training_ui.KEYS])
def test_every_value_a_link_may_hold_the_cli_takes_too(name):
    setting = url_setting(name)
    options = [o for o in setting.options if o != training_ui.RECIPE]  # "recipe's": the recipe's own decay
    if "choices" in FIELDS[name].metadata:
        options = [training_ui.choice_options(name)[o] for o in options]
        assert options == list(FIELDS[name].metadata["choices"])
    for option in options:
        assert cli_value(name, str(option).lower() if isinstance(option, bool) else str(option)) == option
    if not setting.options and not isinstance(setting.default, bool):  # a number input: the field's bounds
        assert (setting.lo, setting.hi) == (FIELDS[name].metadata["min"], FIELDS[name].metadata["max"])


def test_the_widgets_offer_what_the_link_may_hold_with_the_fields_labels():
    at = open_app("stages/mlp.py")
    widgets = {"optimizer": at.radio, "lr": at.select_slider, "schedule": at.selectbox, "max_steps": at.select_slider,
               "batch_size": at.select_slider, "seed": at.number_input, "weight_decay": at.select_slider,
               "keep_best": at.toggle}
    assert set(widgets) == set(training_ui.KEYS) == {n for n, f in FIELDS.items() if "widget" in f.metadata}
    for name, kind in widgets.items():
        widget, setting, meta = kind(key=training_ui.key(PREFIX, name)), url_setting(name), FIELDS[name].metadata
        assert widget.label == meta["label"]
        if setting.options:
            assert widget.options == [str(o) for o in setting.options]
        elif name == "seed":
            assert (widget.min, widget.max) == (meta["min"], meta["max"]) == (0, limits.MAX_SEED)
    assert at.radio(key="mlp_optimizer").options == ["AdamW", "SGD"]  # as before: the fast recipes' first
    assert at.selectbox(key="mlp_decay").options == ["off", "step", "cosine"]


def test_the_seed_has_one_upper_bound_everywhere():
    assert FIELDS["seed"].metadata["max"] == limits.MAX_SEED == 2**31 - 1
    assert cli_value("seed", str(limits.MAX_SEED)) == limits.MAX_SEED
    assert url_accepts("seed", str(limits.MAX_SEED)) and not url_accepts("seed", str(limits.MAX_SEED + 1))


def test_details_text_reads_the_fields_labels():
    config = TrainConfig(weight_decay=0.1, lr_floor=0.01, beta2=0.99, keep_best=True)
    assert training_ui.details_text(config) == ("weight decay 0.1, cosine floor (× lr) 0.01, AdamW β₂ 0.99, "
                                                "keep the best-val weights True")
