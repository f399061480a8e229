"""What a page that trains shows once a training is done: the metrics, the loss curve, the runs of
the session side by side, and the lecture's result for comparison."""

from __future__ import annotations

import math

import pandas as pd
import streamlit as st

import charts
from makemore.jobs import TrainingJob
from makemore.models import MODELS
from training_ui import lecture_training, training_summary
from widgets import show_table, smoothed_history


def result_metrics(job: TrainingJob, compare_to: tuple[str, float] | None = None, first_loss: bool = False,
                   params: bool = False) -> None:
    """One row: val loss (its difference from `compare_to`, a (name, val loss) pair), train loss,
    the loss at step 1 against the uniform guess (first_loss), the training time, the parameters."""
    r = job.result
    metrics = [
        dict(label="val loss", value=f"{r.val_loss:.4f}", delta_color="inverse",
             delta=f"{r.val_loss - compare_to[1]:+.4f} vs {compare_to[0]}" if compare_to else None),
        dict(label="train loss", value=f"{r.train_loss:.4f}", help="A train loss far below val means overfitting."),
    ]
    if first_loss:
        ideal = uniform_loss(job)
        metrics.append(dict(label="loss at step 1", value=f"{r.loss_history[0]:.3f}", delta_color="inverse",
                            delta=f"{r.loss_history[0] - ideal:+.3f} vs uniform guess",
                            help=f"The uniform guess, −log(1/{len(job.dataset.vocab)}) = {ideal:.3f}, is what a "
                            "network that knows nothing yet should score."))
    metrics.append(dict(label="trained in", value=f"{r.seconds:.1f} s",
                        help=f"{r.steps:,} steps at {r.steps_per_sec:,.0f} steps/s"
                        + (" (loaded from the cache: nothing was trained now)" if job.from_disk else "")))
    if params:
        metrics.append(dict(label="parameters", value=f"{r.params:,}"))
    for column, metric in zip(st.columns(len(metrics)), metrics):
        column.metric(**metric)


def uniform_loss(job: TrainingJob) -> float:
    """−log(1/V): the loss of a model that gives every character the same probability."""
    return math.log(len(job.dataset.vocab))


def loss_chart(job: TrainingJob, reference: float, reference_label: str, container=st) -> None:
    """Train loss (averaged) and val loss over the run, log scale, with a reference line."""
    r = job.result
    frame = smoothed_history(r.step_history, r.loss_history, r.val_history)
    container.altair_chart(charts.loss_curve(frame, reference=reference, reference_label=reference_label, log_y=True,
                                             title="Loss during training (train averaged, log scale)"),
                           width="stretch")


def remember_run(page: str, job: TrainingJob, **columns) -> pd.DataFrame:
    """Add this run to the page's runs of the session (once per training, however often the page
    reruns) and return them all, in the order trained. `columns` come first (what the page varies),
    then the losses, the time and the training."""
    r = job.result
    runs = st.session_state.setdefault(f"{page}_runs", {})
    runs[job.key] = {**columns, "val": round(r.val_loss, 4), "train": round(r.train_loss, 4),
                     "first loss": round(r.loss_history[0], 3) if r.loss_history else None,
                     "seconds": round(r.seconds, 1), "steps": r.steps, "training": training_summary(job.train_config)}
    return pd.DataFrame(runs.values())


def show_runs(runs: pd.DataFrame, best_first: bool = False, max_height: int = 330) -> None:
    if best_first:
        st.markdown("**Your runs on this page**, best first")
        runs = runs.sort_values("val")
    else:
        st.markdown("**Your runs on this page**, in the order you trained them")
    show_table(runs, max_height=max_height)


def lecture_comparison(model_name: str) -> str:
    """"For comparison, lecture 2's recipe: val ≈ 2.164 after 200,000 steps, ≈ 130 s." (a caption;
    empty when the model has no reference recipe with a known loss)."""
    lecture = MODELS[model_name].lecture
    if lecture is None or lecture.val_loss is None:
        return ""
    text = f"For comparison, {lecture.source}'s recipe: val ≈ {lecture.val_loss} after " \
           f"{lecture_training(model_name).max_steps:,} steps"
    return text + (f", ≈ {lecture.seconds:.0f} s." if lecture.seconds is not None else ".")
