"""What a page sets its result beside, honestly: a lecture's own figure only on the lectures' list
(data/names.txt, recognised by its content); on any other list, the lecture's recipe as trained on
that list (shipped, cached, or offered to train), never a number measured on other words. The time a
recipe takes is the one measured when it was trained, else the code's estimate, never prose."""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from live import live_training
from makemore import limits
from makemore.data import WordDataset
from makemore.estimate import training_seconds
from makemore.serving.jobs import JobBoard, TrainingJob
from makemore.models import MODELS
from trainer import start_training


@dataclass(frozen=True)
class Reference:
    """A val loss to compare with, and what it is."""

    label: str  # short, for a metric's delta and a chart's line: "lecture 2's figure"
    val_loss: float
    lecture_figure: bool  # True: the source's reported number; False: trained here on this list


def source_title(source: str) -> str:
    """A recipe's source at the start of a sentence: "Lecture 2", "makemore.py"."""
    return source[0].upper() + source[1:] if source.startswith("lecture") else source


def lecture_job(board: JobBoard, dataset: WordDataset, model_name: str) -> TrainingJob | None:
    """The lecture recipe's training on this list, if anyone has started or finished it."""
    if MODELS[model_name].lecture is None:
        return None
    return board.find(dataset, MODELS[model_name].lecture_run())


def finished(job: TrainingJob | None) -> bool:
    return job is not None and job.finished


def lecture_reference(board: JobBoard, dataset: WordDataset, model_name: str) -> Reference | None:
    """The lecture's figure on the lectures' list; elsewhere its recipe's result on this list, when
    trained; else None."""
    lecture = MODELS[model_name].lecture
    if lecture is None:
        return None
    if dataset.is_lecture_list and lecture.val_loss is not None:
        return Reference(f"{lecture.source}'s figure", lecture.val_loss, lecture_figure=True)
    job = lecture_job(board, dataset, model_name)
    if finished(job):
        return Reference(f"{lecture.source}'s recipe here", job.result.val_loss, lecture_figure=False)
    return None


def recipe_seconds(board: JobBoard, dataset: WordDataset, model_name: str) -> tuple[float, bool]:
    """(seconds, measured?) of the lecture recipe on this list: as measured when it was trained, else
    the estimate (one core, as the app trains)."""
    job = lecture_job(board, dataset, model_name)
    if finished(job):
        return job.result.seconds, True
    run = MODELS[model_name].lecture_run()
    return training_seconds(model_name, dataset, run.model_config, run.train_config), False


def lecture_sentence(board: JobBoard, dataset: WordDataset, model_name: str) -> str:
    """"Lecture 2's recipe (200,000 steps) reaches val 2.164 in the lecture; here it reached 2.1671 in
    49 s (one CPU core)." or, on another list, only what was measured on it."""
    lecture = MODELS[model_name].lecture
    training = MODELS[model_name].lecture_run().train_config
    text = f"{source_title(lecture.source)}'s recipe ({training.max_steps:,} steps)"
    job = lecture_job(board, dataset, model_name)
    parts = []
    if dataset.is_lecture_list and lecture.val_loss is not None:
        parts.append(f"reaches a validation loss of {lecture.val_loss} in {lecture.source}")
    if finished(job):
        parts.append(f"reached {job.result.val_loss:.4f} on {dataset.name} here in {job.result.seconds:.0f} s "
                     "(one CPU core)")
    else:
        seconds, _ = recipe_seconds(board, dataset, model_name)
        parts.append(f"takes about {seconds:.0f} s here (estimated, one CPU core)"
                     + ("" if dataset.is_lecture_list else f"; it has not been trained on {dataset.name} yet"))
    return f"{text} {'; it '.join(parts)}."


def lecture_comparison(board: JobBoard, dataset: WordDataset, model_name: str, key: str) -> None:
    """A caption with the lecture's result to compare with (see the module's docstring); on a list
    where its recipe has not been trained, a button that trains it in the background, with its
    progress while it runs."""
    lecture = MODELS[model_name].lecture
    if lecture is None:
        return
    job = lecture_job(board, dataset, model_name)
    if job is not None and job.active:
        st.caption(f"Training {lecture.source}'s recipe on {dataset.name}, to compare with…")
        live_training(board, job)
        return
    reference = lecture_reference(board, dataset, model_name)
    training = MODELS[model_name].lecture_run().train_config
    if reference is not None and reference.lecture_figure:
        st.caption(f"For comparison, {lecture.source} reports val ≈ {lecture.val_loss} with its recipe "
                   f"({training.max_steps:,} steps) on these names." + (
                       f" Trained here, that recipe reached {job.result.val_loss:.4f} in {job.result.seconds:.0f} s."
                       if finished(job) else ""))
        return
    if reference is not None:
        st.caption(f"For comparison, {lecture.source}'s recipe ({training.max_steps:,} steps) trained on "
                   f"{dataset.name}: val {reference.val_loss:.4f}, in {job.result.seconds:.0f} s. "
                   f"{source_title(lecture.source)}'s own figures are for its names, not for this list.")
        return
    seconds, _ = recipe_seconds(board, dataset, model_name)
    allowed = seconds <= limits.MAX_TRAIN_SECONDS
    st.caption(f"{source_title(lecture.source)}'s figures are for its own names, not for {dataset.name}. To compare "
               f"with its recipe on this list, train it here ({training.max_steps:,} steps, about {seconds:.0f} s)."
               + ("" if allowed else f" That is over the playground's {limits.MAX_TRAIN_SECONDS / 60:.0f} minutes."))
    if st.button(f"Train {lecture.source}'s recipe on this list (about {seconds:.0f} s)", key=key,
                 icon=":material/school:", disabled=not allowed):
        start_training(board, dataset, MODELS[model_name].lecture_run(), estimate=seconds)
        st.rerun()
