"""Which page shows a model, under which URL parameters, and the link that opens a page on one run:
the page's own widgets read the parameters (they are bound to the URL), so the page trains, or finds,
exactly that run (the same cache key).

    link = run_link(MODELS["mlp"].lecture_run())   # Link("stages/mlp.py", {"mlp_init": "naive", ...})

The pages take their model widgets from PAGES, so a page and its links cannot drift apart.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from urllib.parse import urlencode

from makemore.models import MODELS
from makemore.runs import Run
from makemore.train import TrainConfig
from kit.model_controls import ModelSetting, model_setting
from kit.training_ui import (BATCH_SIZES, LEARNING_RATES, RECIPE, STEPS, WEIGHT_DECAYS, WIDGET_FIELDS, checked,
                             details, train_setting, training_settings, training_values)
from kit.urlstate import Setting


@dataclass(frozen=True)
class PageModel:
    """A model as one page sets it: the page, its model widgets, the prefix of its training widgets."""

    page: str  # relative to app/, as st.switch_page takes it
    fields: tuple[ModelSetting, ...]
    training: str  # the training widgets' prefix ("mlp" -> mlp_lr, mlp_steps, ...)
    lecture_details: bool = False  # the page offers "Recipe details": the lecture's recipe for what no slider sets
    presets_own_recipe: bool = False  # the page reads a preset with a recipe of its own as that preset (preset_run)
    fixed: dict = field(default_factory=dict)  # parameters that choose this model on its page ({"rec_cell": "GRU"})


def _fields(model: str, *names_and_keys: tuple[str, str]) -> tuple[ModelSetting, ...]:
    return tuple(model_setting(model, name, key=key) for name, key in names_and_keys)


def _recurrent(model: str, cell: str) -> PageModel:
    # each cell has its own widgets (and URL parameters): their defaults differ, and switching cells keeps both
    return PageModel("stages/recurrent.py", _fields(model, ("n_embd", f"{model}_embd"), ("n_hidden", f"{model}_hidden"),
                                                    ("n_layers", f"{model}_layers")),
                     model, lecture_details=True, fixed={"rec_cell": cell})


PAGES: dict[str, PageModel] = {
    "mlp": PageModel("stages/mlp.py", _fields("mlp", ("block_size", "mlp_block"), ("n_embd", "mlp_embd"),
                                              ("n_hidden", "mlp_hidden"), ("init", "mlp_init")), "mlp"),
    "mlp-bn": PageModel("stages/batchnorm.py", _fields("mlp-bn", ("n_layers", "bn_layers"), ("n_hidden", "bn_hidden"),
                                                       ("n_embd", "bn_embd"), ("batchnorm", "bn_batchnorm"),
                                                       ("init", "bn_init"), ("out_scale", "bn_out")), "bn"),
    "wavenet": PageModel("stages/wavenet.py", _fields("wavenet", ("context", "wn_context"), ("n_embd", "wn_embd"),
                                                      ("n_hidden", "wn_hidden"), ("hierarchical", "wn_tree"),
                                                      ("bn_over_time", "wn_bn")),
                         "wn", lecture_details=True, presets_own_recipe=True),
    "rnn": _recurrent("rnn", "RNN"),
    "gru": _recurrent("gru", "GRU"),
    "transformer": PageModel("stages/transformer.py", _fields(
        "transformer", ("n_layer", "tf_layers"), ("n_head", "tf_heads"), ("n_embd", "tf_embd"),
        ("dropout", "tf_dropout"), ("attention", "tf_attention"), ("feed_forward", "tf_mlp"),
        ("residual", "tf_residual"), ("layernorm", "tf_layernorm")),
        "tf", lecture_details=True, presets_own_recipe=True),
}


# The Bigram page: its counts have one slider (α), and its network trains on the full batch with
# widgets of its own (two optimizers, full-batch steps) rather than a training page's. They are set
# here, as PAGES sets the others, so that the page and its links cannot drift apart.
BIGRAM_PAGE = "stages/bigram.py"
BIGRAM_ALPHA = model_setting("bigram", "alpha", key="bigram_alpha")
BIGRAM_OPTIMIZERS = {"adamw": "AdamW", "sgd": "SGD (the lecture's)"}  # as shown, and written in the URL
BIGRAM_LEARNING_RATES = checked("lr", (0.01, 0.03, 0.1, 0.3, 0.5, 1.0, 3.0, 10.0, 30.0, 50.0, 100.0))
BIGRAM_WEIGHT_DECAYS = checked("weight_decay", (0.0, 0.001, 0.01, 0.1))
BIGRAM_STEPS = dict(lo=10, hi=500, step=10)  # each on the full training set


def bigram_network_training() -> TrainConfig:
    """The network's training at the page's defaults (the fast recipe), which its widgets change."""
    return MODELS["bigram-nn"].fast_training()


def bigram_settings() -> list[Setting]:
    """What the Bigram page's address may hold: α, then the network's training."""
    network = bigram_network_training()
    return [
        BIGRAM_ALPHA.url_setting(),
        train_setting("bigram_optimizer", "optimizer", BIGRAM_OPTIMIZERS[network.optimizer],
                      tuple(BIGRAM_OPTIMIZERS.values())),
        train_setting("bigram_lr", "lr", network.lr, BIGRAM_LEARNING_RATES),
        train_setting("bigram_steps", "max_steps", network.max_steps, lo=BIGRAM_STEPS["lo"], hi=BIGRAM_STEPS["hi"]),
        train_setting("bigram_wd", "weight_decay", network.weight_decay, BIGRAM_WEIGHT_DECAYS),
        train_setting("bigram_seed", "seed", network.seed),
    ]


def bigram_training(optimizer: str, lr: float, max_steps: int, weight_decay: float, seed: int) -> TrainConfig:
    """The network's training as the page's widgets set it."""
    return dataclasses.replace(bigram_network_training(), optimizer=optimizer, lr=lr, max_steps=max_steps,
                               weight_decay=weight_decay, seed=int(seed))


def _bigram_link(run: Run) -> Link:
    spec = MODELS[run.model_name]
    if run.model_name == "bigram":  # the counts: only α, with nothing trained
        if run.train_config != spec.default_run().train_config:
            raise ValueError("the bigram page counts with no training settings")
        return Link(BIGRAM_PAGE, _params(bigram_settings()[:1], {BIGRAM_ALPHA.key: run.model_config.alpha}))
    if run.model_config != spec.config():
        raise ValueError("the bigram page has no widget for the network's initial weight scale")
    config = run.train_config
    steps = BIGRAM_STEPS
    if (config.optimizer not in BIGRAM_OPTIMIZERS or config.lr not in BIGRAM_LEARNING_RATES
            or config.weight_decay not in BIGRAM_WEIGHT_DECAYS
            or not steps["lo"] <= config.max_steps <= steps["hi"] or config.max_steps % steps["step"]):
        raise ValueError("the bigram page's widgets have no such optimizer, learning rate, weight decay or steps")
    if bigram_training(config.optimizer, config.lr, config.max_steps, config.weight_decay, config.seed) != config:
        raise ValueError(f"the bigram page's widgets cannot set this training: "
                         f"{', '.join(sorted(details(config)))} match no recipe it offers")
    values = {"bigram_optimizer": BIGRAM_OPTIMIZERS[config.optimizer], "bigram_lr": config.lr,
              "bigram_steps": config.max_steps, "bigram_wd": config.weight_decay, "bigram_seed": config.seed}
    return Link(BIGRAM_PAGE, _params(bigram_settings()[1:], values))


@dataclass(frozen=True)
class Link:
    page: str  # the page file, relative to app/
    params: dict[str, str]  # its query parameters; a value at its widget's default is left out, as the widgets do

    @property
    def query(self) -> str:
        """"mlp_hidden=64&mlp_steps=8000": what follows the page's address and "?"."""
        return urlencode(self.params)


def url_text(setting: Setting, value) -> str:
    """A value as a bound widget writes it in the URL."""
    if isinstance(value, bool):
        return str(value).lower()
    if setting.options:
        return str(value)  # a select slider, radio or selectbox writes its formatted option
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # a number widget writes 3.0 as 3
    return str(value)


def _params(settings: list[Setting], values: dict) -> dict[str, str]:
    by_key = {s.key: s for s in settings}
    return {key: url_text(by_key[key], value) for key, value in values.items() if value != by_key[key].default}


def run_link(run: Run) -> Link:
    """The page and query that open on this run; ValueError when no page's widgets can set it."""
    if run.model_name in ("bigram", "bigram-nn"):
        return _bigram_link(run)
    page = PAGES.get(run.model_name)
    if page is None:
        raise ValueError(f"no page sets a {run.model_name} run from its address")
    spec = MODELS[run.model_name]
    shown = {f.name for f in page.fields}
    hidden = [f.name for f in dataclasses.fields(run.model_config)
              if f.name not in shown and getattr(run.model_config, f.name) != getattr(spec.config(), f.name)]
    if hidden:
        raise ValueError(f"the {run.model_name} page has no widget for {', '.join(hidden)}")
    model_values = {}
    for f in page.fields:
        value = getattr(run.model_config, f.name)
        model_values[f.key] = f.shown(value) if "choices" in f.meta else value  # the URL holds what a choice shows
    fast = spec.fast_training()
    training = training_widgets(page, run, fast)
    return Link(page.page, dict(page.fixed) | _params([f.url_setting() for f in page.fields], model_values)
                | _params(training_settings(page.training, fast), training))


def training_widgets(page: PageModel, run: Run, fast: TrainConfig) -> dict:
    """The training widgets' values (by key) that make the page's training config `run.train_config`."""
    config, prefix = run.train_config, page.training
    for name, allowed in (("lr", LEARNING_RATES), ("max_steps", STEPS), ("batch_size", BATCH_SIZES)):
        if getattr(config, name) not in allowed:
            raise ValueError(f"the page's {name} widget has no {getattr(config, name)}")

    spec = MODELS[run.model_name]

    def values(recipe: str, decay=RECIPE) -> dict:
        # the "Recipe details" radio reads the text it shows ("makemore.py's recipe"), as training_controls labels it
        shown = recipe if recipe == "fast" else f"{spec.lecture.source}'s recipe"
        return training_values(prefix, config, shown) | {f"{prefix}_seed": config.seed, f"{prefix}_wd": decay}

    if page.presets_own_recipe:  # a preset's button: its sliders, the fast recipe's details (presets.preset_run)
        for preset in spec.presets.values():
            if preset.train and preset.config == run.model_config and spec.preset_training(preset) == config:
                return values("fast")
    lecture = spec.lecture_run().train_config if spec.lecture is not None else None
    recipes = [("fast", fast)] + ([("lecture", lecture)]
                                  if page.lecture_details and details(lecture) != details(fast) else [])
    for recipe, base in recipes:
        rest = dataclasses.replace(config, **{f: getattr(base, f) for f in WIDGET_FIELDS}, keep_best=base.keep_best)
        if rest == base:
            return values(recipe)
        if dataclasses.replace(rest, weight_decay=base.weight_decay) == base and config.weight_decay in WEIGHT_DECAYS:
            return values(recipe, config.weight_decay)
    raise ValueError(f"the page's widgets cannot set this training: its details ({', '.join(sorted(details(config)))}) "
                     "match no recipe the page offers")
