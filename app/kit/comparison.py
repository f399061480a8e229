"""What the Compare page compares: every registered stage's default model on the current word list
(its config's defaults and its fast recipe, from the job board: shipped, cached or trained now in the
background), the student's own runs and imported files; and the numbers behind its charts, computed
once per (model, word list) and shared by every visitor."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from makemore import runs
from makemore.data import WordDataset
from makemore.models import MODELS
from makemore.position_loss import loss_by_position
from makemore.sample import Sample
from makemore.train import evaluate, split_tensors
from kit.results import Run, run_samples
from kit.training_ui import training_summary
from registry import STAGES

MIN_POSITION_SHARE = 0.01  # the per-position chart stops where fewer than 1 % of the words still go on


def defaults() -> dict[str, runs.Run]:
    """Every model of every registered stage with its defaults, by name, in lecture order (a new
    stage appears by itself)."""
    return {name: MODELS[name].default_run() for stage in STAGES for name in stage.models if name in MODELS}


# --- the numbers behind the table and the charts, once per (model, word list) --------------------

# No spinner of its own: the warm-up (training/warmup.py) fills this cache outside a script run, where a
# cached function's spinner logs a warning; comparison_frame draws one around its calls.
@st.cache_data(max_entries=512, show_spinner=False)
def model_numbers(ident: str, fingerprint: str, _run: Run, _dataset: WordDataset) -> dict:
    """The run's val loss on this word list and its loss at each position of the val words.
    `ident` names the run (a cache key, or an imported file's hash), `fingerprint` the list."""
    model = _run.model
    X, Y = split_tensors(model, _dataset, "val")
    positions = loss_by_position(model, _dataset, "val")
    return {"val": evaluate(model, X, Y), "positions": [(p.position, p.loss, p.words) for p in positions]}


def train_words(run: Run, dataset: WordDataset):
    """The words a run's samples are checked against: its own, else this list's when it trained on it."""
    if run.train_words is not None:
        return run.train_words
    return dataset.splits["train"] if run.fingerprint == dataset.fingerprint else ()


def samples_of(run: Run, dataset: WordDataset, options: dict) -> list[Sample]:
    return run_samples(run.ident, dataset.fingerprint, options["num"], options["seed"], options["temperature"],
                       options.get("top_k"), run, train_words(run, dataset))


def training_text(run: Run) -> str:
    """How it was trained, in a table's words; a counting model takes no gradient steps."""
    if run.train_config.max_steps == 0 and not run.result.steps:
        return "counted (no gradient steps)"
    steps, planned = run.result.steps, run.train_config.max_steps
    return training_summary(run.train_config) + (f" · {steps:,} steps" if steps == planned
                                                 else f" · stopped at step {steps:,} of {planned:,}")


def comparison_frame(entries: list[tuple[str, Run]], dataset: WordDataset) -> pd.DataFrame:
    """One row per model: label, where it comes from, settings, parameters, val loss on this list,
    time and training."""
    rows = []
    for label, run in entries:
        with st.spinner("Evaluating…"):  # shown only if it takes a moment: a cache miss
            numbers = model_numbers(run.ident, dataset.fingerprint, run, dataset)
        r = run.result
        rows.append({"model": label, "val loss": round(numbers["val"], 4), "params": r.params,
                     "seconds": round(r.seconds, 2), "page": run.page, "config": run.config_text,
                     "training": training_text(run), "trained on": run.dataset_name})
    return pd.DataFrame(rows, columns=["model", "val loss", "params", "seconds", "page", "config", "training",
                                       "trained on"])


def positions_frame(entries: list[tuple[str, Run]], dataset: WordDataset) -> pd.DataFrame:
    """model, position, loss, words: the loss at each position of the val words, up to the position
    that at least MIN_POSITION_SHARE of them reach (further on, a handful of long words make noise)."""
    n_words = len(dataset.splits["val"])
    rows = [(label, position, loss, words)
            for label, run in entries
            for position, loss, words in model_numbers(run.ident, dataset.fingerprint, run, dataset)["positions"]
            if words >= max(1, MIN_POSITION_SHARE * n_words)]
    return pd.DataFrame(rows, columns=["model", "position", "loss", "words"])
