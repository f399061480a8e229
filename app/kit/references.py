"""What a page sets its result beside, honestly: a lecture's own figure only beside the lecture's own
recipe on the lectures' list (data/names.txt, recognised by its content; result_reference); any other
result beside the page's baseline, named (the lecture's recipe as trained on this list, or the
bigram); on any other list, the lecture's recipe as trained on that list (shipped, cached, or offered
to train), never a number measured on other words. The time a recipe takes is the one measured when
it was trained, else the code's estimate, never prose."""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from makemore import limits
from makemore.data import WordDataset
from makemore.estimate import training_seconds
from makemore.serving.jobs import JobBoard, TrainingJob
from makemore.models import MODELS
from training.missing import train_missing


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


def lecture_reference(board: JobBoard, dataset: WordDataset, model_name: str) -> Reference | None:
    """The lecture's figure on the lectures' list; elsewhere its recipe's result on this list, when
    trained; else None."""
    lecture = MODELS[model_name].lecture
    if lecture is None:
        return None
    if dataset.is_lecture_list and lecture.val_loss is not None:
        return Reference(f"{lecture.source}'s figure", lecture.val_loss, lecture_figure=True)
    job = lecture_job(board, dataset, model_name)
    if job is not None and job.finished:
        return Reference(f"{lecture.source}'s recipe here", job.result.val_loss, lecture_figure=False)
    return None


def result_reference(dataset: WordDataset, job: TrainingJob, baseline: Reference | None) -> Reference | None:
    """What a page sets a result's val loss beside: the lecture's own figure only when the result is
    the lecture's own recipe (MODELS[name].lecture_run()), trained to its end, on the lectures' list,
    since the figure was measured for those settings alone; any other result gets the page's
    `baseline`, whose label says what it is."""
    spec = MODELS[job.model_name]
    lecture = spec.lecture
    if (lecture is not None and lecture.val_loss is not None and dataset.is_lecture_list
            and job.run == spec.lecture_run() and not job.result.stopped_early):
        return Reference(f"{lecture.source}'s figure", lecture.val_loss, lecture_figure=True)
    return baseline


def recipe_reference(board: JobBoard, dataset: WordDataset, job: TrainingJob) -> Reference | None:
    """The lecture recipe's result as trained on this list (never the lecture's figure), when it is
    trained and is not this result itself; else None."""
    spec = MODELS[job.model_name]
    recipe = lecture_job(board, dataset, job.model_name)
    if recipe is None or not recipe.finished or job.run == spec.lecture_run():
        return None
    return Reference(f"{spec.lecture.source}'s recipe trained here", recipe.result.val_loss, lecture_figure=False)


def estimated_seconds(dataset: WordDataset, model_name: str) -> float:
    """The lecture recipe's estimated time on this list (one core, as the app trains)."""
    run = MODELS[model_name].lecture_run()
    return training_seconds(model_name, dataset, run.model_config, run.train_config)


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
    if job is not None and job.finished:
        parts.append(f"reached {job.result.val_loss:.4f} on {dataset.name} here in {job.result.seconds:.0f} s "
                     "(one CPU core)")
    else:
        parts.append(f"takes about {estimated_seconds(dataset, model_name):.0f} s here (estimated, one CPU core)"
                     + ("" if dataset.is_lecture_list else f"; it has not been trained on {dataset.name} yet"))
    return f"{text} {'; it '.join(parts)}."


def lecture_comparison(board: JobBoard, dataset: WordDataset, model_name: str, key: str) -> None:
    """A caption with the lecture's result to compare with (see the module's docstring); on a list
    where its recipe has not been trained, the one way a page trains what is missing
    (training.missing.train_missing): a button, the live progress, a failure said."""
    lecture = MODELS[model_name].lecture
    if lecture is None:
        return
    job = lecture_job(board, dataset, model_name)
    reference = lecture_reference(board, dataset, model_name)
    training = MODELS[model_name].lecture_run().train_config
    if reference is not None and reference.lecture_figure:
        st.caption(f"For comparison, {lecture.source} reports val ≈ {lecture.val_loss} with its recipe "
                   f"({training.max_steps:,} steps) on these names." + (
                       f" Trained here, that recipe reached {job.result.val_loss:.4f} in {job.result.seconds:.0f} s."
                       if job is not None and job.finished else ""))
        return
    if reference is not None:
        st.caption(f"For comparison, {lecture.source}'s recipe ({training.max_steps:,} steps) trained on "
                   f"{dataset.name}: val {reference.val_loss:.4f}, in {job.result.seconds:.0f} s. "
                   f"{source_title(lecture.source)}'s own figures are for its names, not for this list.")
        return
    seconds = estimated_seconds(dataset, model_name)
    st.caption(f"{source_title(lecture.source)}'s figures are for its own names, not for {dataset.name}. To compare "
               f"with its recipe on this list, train it here ({training.max_steps:,} steps, about {seconds:.0f} s).")
    if seconds > limits.MAX_TRAIN_SECONDS:
        st.caption(f"That is over the playground's {limits.MAX_TRAIN_SECONDS / 60:.0f} minutes a training.")
        return
    train_missing(board, dataset, {f"{lecture.source}'s recipe": MODELS[model_name].lecture_run()}, key=key,
                  button="Train {names} on this list (about {total:.0f} s)")
