"""Several runs on one page (a stage's path, the other stages' models, every stage on Compare): the
ones anyone has trained in full, the live progress of those training now, a failure said once, and
a button that trains the rest in the background.

    done = train_missing(board, dataset, {"MLP": MODELS["mlp"].default_run(), ...}, key="rec_compare_train")
    done["MLP"].result.val_loss      # only the runs trained in full (in memory, on disk or shipped)
"""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from makemore.data import WordDataset
from makemore.estimate import training_seconds
from makemore.serving.jobs import FAILED, JobBoard, TrainingJob
from makemore.runs import Run
from training.live import live_training
from training.shared import start_training, viewer


def start_all(board: JobBoard, dataset: WordDataset, runs: list[Run], estimates: list[float]) -> None:
    for run, estimate in zip(runs, estimates):
        start_training(board, dataset, run, estimate)


def train_missing(board: JobBoard, dataset: WordDataset, runs: dict[str, Run], key: str,
                  button: str = "Train {names} (about {total:.0f} s)", help: str | None = None,
                  note: Callable[[str], str] | None = None, each: str | None = None, charts: bool = True,
                  watched: set | None = None) -> dict[str, TrainingJob]:
    """The runs (by label) that anyone has trained in full. For those training now, their progress:
    each one's live view (charts=True), else one bar each. A failed one is said, and trained again
    with the others: those nobody has trained in full (not yet, stopped part way, or failed) get one
    button (widget key `key`) that trains them all, and with `each` (a key prefix) one button each.

    `button` is the big button's text, formatted with names, count, total (seconds of training)
    and wall (seconds until all are done, two at a time); `help`, its tooltip, with names, a comma
    between them; `note(names)` the text of an info above the buttons. `watched` holds the jobs whose
    live view this script run has drawn already: a page draws each once (the board shares one job
    among all who ask for the same run)."""
    watched = set() if watched is None else watched
    jobs = {label: board.find(dataset, run) for label, run in runs.items()}
    running = {label: job for label, job in jobs.items() if job is not None and job.active}
    if charts:
        for label, job in running.items():
            if job.key in watched:
                st.caption(f"{label} is training: its progress is shown above.")
            else:
                watched.add(job.key)
                st.caption(f"Training **{label}**…")
                live_training(board, job)
    elif running:
        progress_bars(running)
    missing = [label for label, job in jobs.items() if job is None or (not job.active and not job.finished)]
    for label in missing:
        if jobs[label] is not None and jobs[label].status == FAILED:
            st.warning(f"{label}'s training failed: {jobs[label].error}.", icon=":material/error:")
    if missing:
        estimates = [training_seconds(runs[label].model_name, dataset, runs[label].model_config,
                                      runs[label].train_config) for label in missing]
        names = " and ".join(missing)
        total = sum(estimates)
        wall = max(max(estimates), total / board.max_running)  # the server's cores, or a Ray cluster's
        listed = ", ".join(missing)
        help = help.format(names=listed) if help else None
        if note:
            st.info(note(listed), icon=":material/model_training:")
        wanted = [runs[label] for label in missing]
        text = button.format(names=names, count=len(missing), total=total, wall=wall)
        if each is None:
            st.button(text, key=key, icon=":material/play_arrow:", help=help, on_click=start_all,
                      args=(board, dataset, wanted, estimates))
        else:
            columns = st.columns(min(4, len(missing) + 1))
            columns[0].button(text, key=key, type="primary", icon=":material/play_arrow:", help=help,
                              on_click=start_all, args=(board, dataset, wanted, estimates), width="stretch")
            for i, (label, run, estimate) in enumerate(zip(missing, wanted, estimates)):
                columns[(i + 1) % len(columns)].button(f"Train {label} (about {estimate:.0f} s)", width="stretch",
                                                       key=f"{each}_{label}", on_click=start_all,
                                                       args=(board, dataset, [run], [estimate]))
    return {label: job for label, job in jobs.items() if job is not None and job.finished}


@st.fragment(run_every=1.0)
def progress_bars(jobs: dict[str, TrainingJob]) -> None:
    """One progress bar per training, redrawn every second; when all are over, the page is drawn
    again with them."""
    if not any(job.active for job in jobs.values()):
        st.rerun()
    for label, job in jobs.items():
        job.seen(viewer())  # someone is watching: keep it running
        snap = job.snapshot()
        if job.status == FAILED:
            st.warning(f"{label}'s training failed: {job.error}.", icon=":material/error:")
        elif not job.active:
            st.progress(1.0, text=f"{label}: done")
        elif snap.step == 0:
            st.progress(0.0, text=f"{label}: waiting for a free CPU core…")
        else:
            st.progress(snap.step / max(1, snap.max_steps),
                        text=f"{label}: step {snap.step:,} of {snap.max_steps:,}"
                        + (f" · loss {snap.losses[-1]:.3f}" if snap.losses else ""))
