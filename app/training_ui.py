"""What every page that trains live shares: the training controls (optimizer, learning rate, decay,
steps, batch size, seed) bound to the URL, the check of a link's settings, and the Train button
with the live view of a background training (live.py) until it ends."""

from __future__ import annotations

import math

import streamlit as st

from live import live_training
from makemore.data import WordDataset
from makemore.jobs import FAILED, STOPPED, JobBoard, TrainingJob
from makemore.train import TrainConfig
from urlstate import Setting, parse_query

LEARNING_RATES = (0.0001, 0.0002, 0.0003, 0.0005, 0.001, 0.002, 0.003, 0.005, 0.01, 0.02, 0.03, 0.05,
                  0.1, 0.2, 0.3, 0.5, 1.0)
STEPS = (500, 1000, 2000, 3000, 4000, 6000, 8000, 10_000, 15_000, 20_000, 30_000, 50_000, 100_000,
         200_000)
BATCH_SIZES = (16, 32, 64, 128, 256, 512, 1024, 2048)
# option -> what it means in makemore; the options are what the widgets show and the URL holds
DECAYS = {"off": "constant", "step": "step", "cosine": "cosine"}
OPTIMIZERS = {"AdamW": "adamw", "SGD": "sgd"}
BOUND = dict(bind="query-params", persist_state="session")  # in the URL, and kept across pages


def option(options, value):
    """The key of `options` (a dict) whose value is `value`."""
    return next(k for k, v in options.items() if v == value)


def training_values(prefix: str, config: TrainConfig) -> dict:
    """The widget values (by key) that stand for a training config: for recipe buttons."""
    return {f"{prefix}_optimizer": option(OPTIMIZERS, config.optimizer), f"{prefix}_lr": config.lr,
            f"{prefix}_decay": option(DECAYS, config.schedule), f"{prefix}_steps": config.max_steps,
            f"{prefix}_batch": config.batch_size}


def training_settings(prefix: str, defaults: TrainConfig) -> list[Setting]:
    values = training_values(prefix, defaults)
    return [
        Setting(f"{prefix}_optimizer", "Optimizer", values[f"{prefix}_optimizer"], options=tuple(OPTIMIZERS)),
        Setting(f"{prefix}_lr", "Learning rate", defaults.lr, options=LEARNING_RATES),
        Setting(f"{prefix}_decay", "Learning-rate decay", values[f"{prefix}_decay"], options=tuple(DECAYS)),
        Setting(f"{prefix}_steps", "Steps", defaults.max_steps, options=STEPS),
        Setting(f"{prefix}_batch", "Batch size", defaults.batch_size, options=BATCH_SIZES),
        Setting(f"{prefix}_seed", "Seed", defaults.seed, lo=0, hi=1_000_000),
    ]


def training_summary(config: TrainConfig) -> str:
    """One line for a table of runs: "AdamW lr 0.01 · decay cosine · batch 512"."""
    return (f"{option(OPTIMIZERS, config.optimizer)} lr {config.lr:g} · decay {option(DECAYS, config.schedule)} "
            f"· batch {config.batch_size}")


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


def training_controls(prefix: str, defaults: TrainConfig, eval_every: int = 20, lr_help: str = "") -> TrainConfig:
    """Optimizer, learning rate, decay, steps, batch size and seed, in two rows of three."""
    settings = {s.key: s for s in training_settings(prefix, defaults)}

    def index(name: str, options) -> int:
        return list(options).index(settings[f"{prefix}_{name}"].default)

    c1, c2, c3 = st.columns(3)
    optimizer = c1.radio("Optimizer", list(OPTIMIZERS), key=f"{prefix}_optimizer", horizontal=True, **BOUND,
                         index=index("optimizer", OPTIMIZERS),
                         help="**SGD** (the lectures'): step against the gradient. **AdamW**: per-weight step "
                         "sizes from running averages of the gradient; much less sensitive to the learning rate.")
    lr = c2.select_slider("Learning rate", LEARNING_RATES, defaults.lr, key=f"{prefix}_lr", **BOUND,
                          help=f"Log scale. {lr_help}".strip())
    decay = c3.selectbox("Learning-rate decay", list(DECAYS), key=f"{prefix}_decay", **BOUND,
                         index=index("decay", DECAYS),
                         help="**step**: the rate ÷ 10 for the second half (the lectures'). **cosine**: a smooth "
                         "fall to a tenth of the rate by the last step. **off**: one rate throughout.")
    c1, c2, c3 = st.columns(3)
    steps = c1.select_slider("Steps", STEPS, defaults.max_steps, key=f"{prefix}_steps", **BOUND)
    batch_size = c2.select_slider("Batch size", BATCH_SIZES, defaults.batch_size, key=f"{prefix}_batch", **BOUND,
                                  help="Examples per step. Bigger: a less noisy gradient, slower steps.")
    seed = c3.number_input("Seed", 0, 1_000_000, defaults.seed, key=f"{prefix}_seed", **BOUND,
                           help="Sets the initial weights and the order of the minibatches.")
    return TrainConfig(max_steps=steps, batch_size=batch_size, optimizer=OPTIMIZERS[optimizer], lr=lr,
                       schedule=DECAYS[decay], seed=int(seed), eval_interval=max(100, steps // eval_every))


def trained_live(board: JobBoard, dataset: WordDataset, model_name: str, model_config, train_config: TrainConfig,
                 estimate: float, allowed: bool, key: str, start: bool = False) -> TrainingJob:
    """The finished training for these settings. Until there is one, this draws the Train button
    or the live view and ends the script run (st.stop), so a page goes on only with a result.

    start=True trains at once (a preset button asked for it), when allowed and not yet trained."""
    job = board.find(dataset, model_name, model_config, train_config)
    if job is None or job.status in (STOPPED, FAILED):
        label = "Train again" if job is not None else "Train"
        pressed = st.button(f"{label} (about {estimate:.0f} s)", type="primary", icon=":material/play_arrow:",
                            disabled=not allowed, key=key)
        if allowed and (pressed or (start and job is None)):
            board.start(dataset, model_name, model_config, train_config)
            st.rerun()  # draw the page again without this button, with the live view in its place
    if job is None:
        st.info("Press **Train** to watch this model learn. Trained models are kept: anyone who asks for the "
                "same settings later gets the result at once.", icon=":material/model_training:")
        st.stop()
    if job.active:
        live_training(job)
        st.stop()
    if job.status == FAILED:
        st.error(f"Training failed: {job.error}. Lower the learning rate and train again.", icon=":material/error:")
        st.stop()
    if job.result is None:  # stopped while it waited for a free core
        st.info(f"This training was stopped before it began ({job.stop_reason}). Press **Train again**.")
        st.stop()
    if job.status == STOPPED:
        st.warning(f"Stopped at step {job.result.steps:,} of {train_config.max_steps:,} ({job.stop_reason}): "
                   "below is the model as it was then. It is not kept for others; train again for the full run.",
                   icon=":material/stop_circle:")
    return job
