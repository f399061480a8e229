"""What every page that trains live shares, from its settings to its Train button: the training
controls (optimizer, learning rate, decay, steps, batch size, seed; weight decay and keeping the
best-val weights against overfitting) bound to the URL, the check of a link's settings, the recipe
buttons (fast and the lecture's), the line with the parameters and the time a run will take, and
the Train button with the live view of a background training (training/live.py) until it ends, or
an honest message when it failed."""

from __future__ import annotations

import dataclasses
import math

import streamlit as st

from makemore import limits
from makemore.data import WordDataset
from makemore.estimate import training_seconds
from makemore.serving.jobs import DIVERGED, FAILED, KILLED, STOPPED, TIMED_OUT, JobBoard, TrainingJob
from makemore.models import MODELS, WORDS, param_count
from makemore.runs import Run
from makemore.train import TrainConfig
from kit import polls_ui
from kit.datasets_ui import current_dataset
from kit.model_controls import BOUND, ModelSetting, initial, widget_values
from kit.references import lecture_sentence, source_title
from kit.urlstate import Setting, parse_query
from training.live import live_training
from training.shared import expected_seconds, job_board, start_training, viewer

# TrainConfig's fields by name: their metadata holds each setting's label, help and bounds (makemore/train.py)
TRAIN_FIELDS = {f.name: f for f in dataclasses.fields(TrainConfig)}
# field -> the last part of its widget's key and URL parameter (`{prefix}_{part}`); every field with a widget
KEYS = {"optimizer": "optimizer", "lr": "lr", "schedule": "decay", "max_steps": "steps", "batch_size": "batch",
        "seed": "seed", "weight_decay": "wd", "keep_best": "keep"}


def key(prefix: str, name: str) -> str:
    """The widget key and URL parameter of TrainConfig's field `name` on the page of `prefix`: "mlp_steps"."""
    return f"{prefix}_{KEYS[name]}"


def meta(name: str) -> dict:
    """The metadata of TrainConfig's field `name`."""
    return dict(TRAIN_FIELDS[name].metadata)


def allowed(name: str, value) -> bool:
    """Whether TrainConfig's field `name` may hold `value`, by its metadata's bounds or choices."""
    m = meta(name)
    if "choices" in m:
        return value in m["choices"]
    if isinstance(TRAIN_FIELDS[name].default, bool):
        return isinstance(value, bool)
    return m["min"] <= value <= m["max"] and not (m.get("positive") and value <= 0)


def choice_options(name: str) -> dict:
    """Shown text -> value, for a field with choices: {"AdamW": "adamw", "SGD": "sgd"}."""
    m = meta(name)
    return {m.get("choice_labels", {}).get(c, c): c for c in m["choices"]}


def checked(name: str, values: tuple) -> tuple:
    """`values`, a widget's for TrainConfig's field `name`, each within the field's bounds (a value
    outside them is a mistake in the app, refused when the page loads)."""
    wrong = [v for v in values if not allowed(name, v)]
    if wrong:
        raise ValueError(f"{name} cannot be {', '.join(map(str, wrong))} (makemore.train.TrainConfig's bounds)")
    return values


def offered(name: str, values: tuple) -> tuple:
    """A training page's widget values for TrainConfig's field `name`: `values`, and the recipes'
    within their range, checked against the field's bounds."""
    return checked(name, with_recipes(values, name))


def train_setting(parameter: str, name: str, default, options: tuple = (), lo=None, hi=None) -> Setting:
    """What the URL may hold in `parameter` for TrainConfig's field `name`: one of the widget's
    `options` (from `offered`), else a number within the field's bounds (or within `lo`-`hi`, a
    page's narrower slider)."""
    m = meta(name)
    if options:
        return Setting(parameter, m["label"], default, options=tuple(options))
    lo, hi = m.get("min") if lo is None else lo, m.get("max") if hi is None else hi
    if lo is not None and not (allowed(name, lo) and allowed(name, hi)):
        raise ValueError(f"{name} cannot range over {lo}-{hi} (makemore.train.TrainConfig's bounds)")
    return Setting(parameter, m["label"], default, lo=lo, hi=hi)


def with_recipes(values: tuple, field: str) -> tuple:
    """The slider's values, and every value within their range that a registered recipe or preset
    uses (its buttons set them; the Bigram page's full-batch steps are its own sliders')."""
    recipes = [spec.train_defaults for spec in MODELS.values()]
    recipes += [spec.lecture.train for spec in MODELS.values() if spec.lecture]
    recipes += [dataclasses.asdict(spec.preset_training(p)) for spec in MODELS.values() for p in spec.presets.values()]
    used = {r[field] for r in recipes if r.get(field) and min(values) <= r[field] <= max(values)}
    return tuple(sorted(set(values) | used))


LEARNING_RATES = offered("lr", (0.0001, 0.0002, 0.0003, 0.0005, 0.001, 0.002, 0.003, 0.005, 0.01, 0.02, 0.03,
                                0.05, 0.1, 0.2, 0.3, 0.5, 1.0))
STEPS = offered("max_steps", (500, 1000, 2000, 3000, 4000, 6000, 8000, 10_000, 15_000, 20_000, 30_000, 50_000,
                              100_000, 200_000))
BATCH_SIZES = offered("batch_size", (16, 32, 64, 128, 256, 512, 1024, 2048))
# The six widgets in two rows set these TrainConfig fields (their metadata's widget "training"); the
# others come from a recipe (the fast one, or the lecture's: "Recipe details"), weight decay and
# keeping the best weights changed by the expander against overfitting (widget "overfitting").
WIDGET_FIELDS = tuple(name for name, f in TRAIN_FIELDS.items() if f.metadata.get("widget") == "training")
DETAILS = {"fast": "the fast recipe", "lecture": "the lecture's recipe"}
# "Against overfitting": weight decay (RECIPE keeps the recipe's own, so that a page's runs and links
# stay what they were) and keeping the weights of the best validation loss
RECIPE = "recipe's"
WEIGHT_DECAYS = (RECIPE, *offered("weight_decay", (0.0, 0.0001, 0.001, 0.01, 0.03, 0.1, 0.3, 1.0)))
PAGE_TRAINING = "page_training_prefix"  # session_state: the prefix of the training widgets this page drew
# option -> what it means in makemore; the options are what the widgets show and the URL holds
DECAYS = choice_options("schedule")  # {"off": "constant", "step": "step", "cosine": "cosine"}
OPTIMIZERS = choice_options("optimizer")  # {"AdamW": "adamw", "SGD": "sgd"}


def option(options, value):
    """The key of `options` (a dict) whose value is `value`."""
    return next(k for k, v in options.items() if v == value)


def training_values(prefix: str, config: TrainConfig, recipe: str = "fast") -> dict:
    """The widget values (by key) that stand for a training config: for recipe buttons."""
    return {key(prefix, "optimizer"): option(OPTIMIZERS, config.optimizer), key(prefix, "lr"): config.lr,
            key(prefix, "schedule"): option(DECAYS, config.schedule), key(prefix, "max_steps"): config.max_steps,
            key(prefix, "batch_size"): config.batch_size, f"{prefix}_details": recipe,
            key(prefix, "weight_decay"): RECIPE, key(prefix, "keep_best"): config.keep_best}


def training_settings(prefix: str, defaults: TrainConfig) -> list[Setting]:
    """What the URL may hold for the training widgets of a page (keys `{prefix}_...`)."""
    values = training_values(prefix, defaults) | {key(prefix, "seed"): defaults.seed}  # no recipe sets the seed

    def setting(name: str, options: tuple = ()) -> Setting:
        return train_setting(key(prefix, name), name, values[key(prefix, name)], options)

    return [
        Setting(f"{prefix}_details", "Recipe details", "fast", options=tuple(DETAILS)),
        setting("optimizer", tuple(OPTIMIZERS)),
        setting("lr", LEARNING_RATES),
        setting("schedule", tuple(DECAYS)),
        setting("max_steps", STEPS),
        setting("batch_size", BATCH_SIZES),
        setting("seed"),
        setting("weight_decay", WEIGHT_DECAYS),
        setting("keep_best"),
    ]


def training_summary(config: TrainConfig) -> str:
    """One line for a table of runs: "AdamW lr 0.01 · decay cosine · batch 512"."""
    return (f"{option(OPTIMIZERS, config.optimizer)} lr {config.lr:g} · decay {option(DECAYS, config.schedule)} "
            f"· batch {config.batch_size}" + (f" · weight decay {config.weight_decay:g}" if config.weight_decay else "")
            + (" · best-val weights" if config.keep_best else ""))


def apply(values: dict) -> None:
    """Set widgets by key (a button's on_click: before the widgets are drawn)."""
    for key, value in values.items():
        st.session_state[key] = value


def use_rate(key: str, rate: float) -> None:
    """Set the learning-rate slider to the rate of its options nearest to `rate`."""
    st.session_state[key] = min(LEARNING_RATES, key=lambda r: abs(math.log10(r / rate)))


def check_link(settings: list[Setting]) -> None:
    """Say which of the address's parameters cannot be used (Streamlit drops them silently when
    widgets bind to the URL), and drop the ones no setting of this page knows."""
    _, problems, unknown = parse_query(st.query_params.to_dict(), settings, also_known=("dataset_choice",))
    with st.container():  # always there: when the notice goes, the elements below keep their places
        if problems or unknown:
            lines = problems + [f"`{name}` is not a setting of this page; ignored." for name in unknown]
            st.warning("Some settings in this link could not be used:\n\n" + "\n".join(f"- {line}" for line in lines),
                       icon=":material/link_off:")
    for name in unknown:
        del st.query_params[name]


def details(config: TrainConfig) -> dict:
    """A recipe's fields that no widget sets, each different from TrainConfig's default."""
    plain = TrainConfig()
    return {f.name: getattr(config, f.name) for f in dataclasses.fields(TrainConfig)
            if f.name not in WIDGET_FIELDS and getattr(config, f.name) != getattr(plain, f.name)}


def phrase(name: str) -> str:
    """How TrainConfig's field `name` reads inside a sentence: "weight decay", "AdamW β₂"."""
    m = meta(name)
    return m.get("phrase", m["label"].lower())


def details_text(config: TrainConfig) -> str:
    return ", ".join(f"{phrase(k)} {v:g}" if isinstance(v, float) else f"{phrase(k)} {v}"
                     for k, v in details(config).items()) or "none"


def training_controls(prefix: str, defaults: TrainConfig, lr_help: str = "", lecture: TrainConfig | None = None
                      ) -> TrainConfig:
    """Optimizer, learning rate, decay, steps, batch size and seed, in two rows of three. The other
    fields keep `defaults`' values (or, when the page has a `lecture` recipe whose other fields
    differ, those of the recipe chosen under "Recipe details"), so that the page's config for given
    settings is exactly the one `python -m makemore train` builds for them (the same cache key)."""
    settings = {s.key: s for s in training_settings(prefix, defaults)}
    base = defaults

    def index(name: str, options) -> int:
        return initial(key(prefix, name), list(options).index(settings[key(prefix, name)].default), 0)

    def value(name: str, unset=None):
        return initial(key(prefix, name), getattr(defaults, name), unset)

    def common(name: str, help_text: str | None = None) -> dict:  # the field's label, help and widget key
        m = meta(name)
        return dict(label=m["label"], help=help_text or m.get("help"), key=key(prefix, name), **BOUND)

    c1, c2, c3 = st.columns(3)
    optimizer = c1.radio(options=list(OPTIMIZERS), index=index("optimizer", OPTIMIZERS), horizontal=True,
                         **common("optimizer"))
    lr = c2.select_slider(options=LEARNING_RATES, value=value("lr"), **common("lr", f"Log scale. {lr_help}".strip()))
    decay = c3.selectbox(options=list(DECAYS), index=index("schedule", DECAYS), **common("schedule"))
    c1, c2, c3 = st.columns(3)
    steps = c1.select_slider(options=STEPS, value=value("max_steps"), **common("max_steps"))
    batch_size = c2.select_slider(options=BATCH_SIZES, value=value("batch_size"), **common("batch_size"))
    seed = c3.number_input(min_value=meta("seed")["min"], max_value=meta("seed")["max"], value=value("seed", "min"),
                           **common("seed"))
    if lecture is not None and details(lecture) != details(defaults):
        source = next((spec.lecture.source for spec in MODELS.values()
                       if spec.lecture and TrainConfig(**spec.lecture.train) == lecture), "the lecture")
        labels = {"fast": "the fast recipe", "lecture": f"{source}'s recipe"}
        choice = st.radio("Recipe details", list(DETAILS), key=f"{prefix}_details", horizontal=True, **BOUND,
                          format_func=labels.get,
                          help=f"What no slider sets. The fast recipe: {details_text(defaults)}. {source_title(source)}'s: "
                          f"{details_text(lecture)}. The recipe buttons choose it too.")
        base = lecture if choice == "lecture" else defaults
    base = against_overfitting(prefix, base)
    st.session_state[PAGE_TRAINING] = prefix  # the results' fixes for memorising set these widgets
    return dataclasses.replace(base, max_steps=steps, batch_size=batch_size, optimizer=OPTIMIZERS[optimizer],
                               lr=lr, schedule=DECAYS[decay], seed=int(seed))


def against_overfitting(prefix: str, recipe: TrainConfig) -> TrainConfig:
    """Weight decay and keeping the best-val weights, in an expander (open once either is set):
    `recipe` with what they change."""
    wd_key, keep_key = key(prefix, "weight_decay"), key(prefix, "keep_best")
    changed = st.session_state.get(wd_key, RECIPE) != RECIPE or st.session_state.get(keep_key, False)
    with st.expander("Against overfitting: weight decay, keeping the best-val weights", expanded=bool(changed),
                     icon=":material/shield:"):
        c1, c2 = st.columns(2, vertical_alignment="center")
        decay = c1.select_slider(
            meta("weight_decay")["label"], WEIGHT_DECAYS, initial(wd_key, RECIPE), key=wd_key, **BOUND,
            help=f"{meta('weight_decay')['help']} **{RECIPE}**: the recipe's own ({recipe.weight_decay:g} here).")
        keep = c2.toggle(meta("keep_best")["label"], initial(keep_key, False, False), key=keep_key, **BOUND,
                         help=meta("keep_best")["help"])
    if decay != RECIPE:
        recipe = dataclasses.replace(recipe, weight_decay=decay)
    return dataclasses.replace(recipe, keep_best=keep)


# --- recipes -------------------------------------------------------------------------------------

def fast_training(model_name: str) -> TrainConfig:
    """The model's fast recipe: the page's default training, and the CLI's."""
    return MODELS[model_name].fast_training()


def lecture_training(model_name: str) -> TrainConfig:
    """How the model's lecture trains it (MODELS[...].lecture); the model changes it asks for are
    in lecture.model."""
    return MODELS[model_name].lecture_run().train_config


def recipe_text(config: TrainConfig) -> str:
    """"SGD at 0.1, then 0.01 for the second half, batches of 32, 200,000 steps"."""
    optimizer = option(OPTIMIZERS, config.optimizer)
    decay = {"constant": "", "step": f", then {config.lr / 10:g} for the second half",
             "cosine": f" with a cosine decay to {config.lr / 10:g}"}[config.schedule]
    batch = f"batches of {config.batch_size:,}" if config.batch_size else "the whole training set at each step"
    return f"{optimizer} at {config.lr:g}{decay}, {batch}, {config.max_steps:,} steps"


def recipe_buttons(model_name: str, prefix: str, fields: list[ModelSetting] = (), note: str = "") -> None:
    """The Fast recipe button and, when the model has one, the lecture's, with a caption: the
    lecture's loss (on the lectures' list only) and its time on this list, then `note`. A button sets
    the training widgets; with `fields` (the page's model widgets) it sets the network too: its
    defaults, with the lecture's changes."""
    spec = MODELS[model_name]
    network = spec.config()
    fast = fast_training(model_name)
    # Buttons as wide as their labels, in a row that wraps: in fixed columns "makemore.py's recipe" was
    # cut to "make…" on a 1,024 px screen
    row = st.container(horizontal=True, vertical_alignment="center")
    row.button("Fast recipe", on_click=apply, args=(widget_values(fields, network) | training_values(prefix, fast),),
               icon=":material/bolt:", width="content", help=f"{recipe_text(fast)}: the page's default.")
    lecture = spec.lecture
    if lecture is None:
        row.caption(note)
        return
    training = lecture_training(model_name)
    source = source_title(lecture.source)
    values = (widget_values(fields, dataclasses.replace(network, **lecture.model))
              | training_values(prefix, training, "lecture"))
    row.button(f"{source}'s recipe", on_click=apply, args=(values,), icon=":material/school:", width="content",
               help=f"{source}'s own run: {recipe_text(training)}.")
    row.caption(" ".join([lecture_sentence(job_board(), current_dataset(), model_name), note]))


# --- before training: its size and its time ------------------------------------------------------

def cost_line(model_name: str, dataset: WordDataset, model_config, train_config: TrainConfig,
              notes: tuple[str, ...] = (), lower: str = "the steps, the batch size or the size of the model"
              ) -> tuple[float, bool]:
    """The caption under the settings: parameters, examples seen, the estimated time (and `notes`);
    a warning when the run is over the time cap. Returns (estimate in seconds, whether it may run)."""
    params = param_count(model_name, len(dataset.vocab), model_config)
    estimate = training_seconds(model_name, dataset, model_config, train_config)
    train_words = dataset.splits["train"]
    words = getattr(MODELS[model_name].cls, "layout", None) == WORDS
    rows = len(train_words) if words else sum(len(w) + 1 for w in train_words)  # one row per example
    seen = train_config.max_steps * (train_config.batch_size or rows)
    unit = "words" if words else "training examples"
    seconds, why = expected_seconds(job_board(), estimate)  # scaled by how this server's trainings went lately
    parts = [f"**{params:,} parameters**", f"{seen:,} {unit} seen ({seen / rows:.1f} passes over the training set)",
             f"about **{seconds:.0f} s** on 2 CPU cores" + (f" ({why})" if why else ""), *notes,
             "address bar: these settings, ready to share."]
    st.caption(" · ".join(parts))
    allowed = estimate <= limits.MAX_TRAIN_SECONDS
    if not allowed:
        st.warning(f"This run would take about {estimate / 60:.0f} minutes; the playground allows "
                   f"{limits.MAX_TRAIN_SECONDS / 60:.0f} so that the server stays quick for everyone. "
                   f"Lower {lower}.", icon=":material/timer_off:")
    return estimate, allowed


# --- training ------------------------------------------------------------------------------------

def failure_message(job: TrainingJob) -> str:
    """What went wrong, and what to do about it: only a diverged loss is the learning rate's fault."""
    what = job.error or "no reason was given"
    what = what[0].upper() + what[1:]
    if job.failure == DIVERGED:
        return f"Training failed: {what}. Lower the learning rate and train again."
    again = "Press **Train again** to start afresh: nothing of this run is left behind."
    if job.failure == KILLED:
        return f"Training stopped: {what}. A smaller model or a smaller batch needs less memory. {again}"
    if job.failure == TIMED_OUT:
        return (f"Training stopped: {what}. The server may be busier than usual. {again} Fewer steps or a "
                "smaller model finish sooner.")
    # CRASHED, or a kind of failure this page does not know: the training code failed, not the settings
    return f"Training failed: {what}. This is a fault in the playground, not in your settings. {again}"


def stop_text(job: TrainingJob) -> str:
    """Why a training stopped, as its viewer reads it: "you stopped it" to the one who pressed Stop,
    another visitor's Stop to the others who watched the same training (one job serves everyone who
    asks for the same settings), and the server's own reasons ("nobody was watching") as they are."""
    if job.stopped_by is None:
        return job.stop_reason or "stopped"
    if job.stopped_by == viewer():
        return "you stopped it"
    return "another visitor watching the same training stopped it"


def trained_live(board: JobBoard, dataset: WordDataset, run: Run, estimate: float, allowed: bool, key: str,
                 start: bool = False) -> TrainingJob:
    """The finished training of this run. Until there is one, this draws the Train button
    or the live view and ends the script run (st.stop), so a page goes on only with a result.

    start=True, or `{key}_now` set in the session (a preset button asked for it: presets.py), trains
    at once when allowed and not yet trained."""
    start = st.session_state.pop(f"{key}_now", False) or start
    job = board.find(dataset, run)
    polls_ui.poll_controls(dataset, run, job)  # in a class room: the teacher's poll on this run, a student's prediction
    if job is None or job.status in (STOPPED, FAILED):
        label = "Train again" if job is not None else "Train"
        seconds, why = expected_seconds(board, estimate)
        busy = f", {board.pace.headline()}" if why else ""  # the label says it short, its tooltip in full
        pressed = st.button(f"{label} (about {seconds:.0f} s{busy})", type="primary", icon=":material/play_arrow:",
                            disabled=not allowed, key=key, help=f"{why[0].upper()}{why[1:]}." if why else None)
        if allowed and (pressed or (start and job is None)):
            start_training(board, dataset, run, estimate)
            st.rerun()  # draw the page again without this button, with the live view in its place
    if job is None:
        st.info("Press **Train** to watch this model learn. Trained models are kept: anyone who asks for the "
                "same settings later gets the result at once.", icon=":material/model_training:")
        st.stop()
    if job.active:
        live_training(board, job)
        st.stop()
    if job.status == FAILED:
        st.error(failure_message(job), icon=":material/error:")
        st.stop()
    if job.result is None:  # stopped while it waited for a free core
        st.info(f"This training was stopped before it began ({stop_text(job)}). Press **Train again**.")
        st.stop()
    if job.status == STOPPED:
        st.warning(f"Stopped at step {job.result.steps:,} of {run.train_config.max_steps:,} ({stop_text(job)}): "
                   "below is the model as it was then. It is not kept for others; train again for the full run.",
                   icon=":material/stop_circle:")
    polls_ui.poll_result_shown(dataset, run, job)  # a class's open poll on this run takes its result
    return job
