"""Training for the pages, cached in memory (st.cache_resource, shared by every visitor) and on
disk (makemore.serving.cache): `trained` trains in the script run with a progress bar (quick models);
`job_board` runs longer trainings in background threads that a page watches live (live.py)."""

import streamlit as st
from streamlit import runtime
from streamlit.runtime.scriptrunner import get_script_run_ctx

from makemore import limits
from makemore.serving.cache import DiskCache, Trained, load_or_train
from makemore.data import WordDataset
from makemore.serving.jobs import JobBoard
from makemore.runs import Run
from training.classwork import note_page_training, note_started


# Streamlit holds a lock per key: two visitors asking for the same model at once train it once,
# and the second waits under the spinner.
@st.cache_resource(max_entries=limits.MEMORY_CACHE_ENTRIES, show_spinner="Preparing the model…")
def _trained(fingerprint: str, run: Run, _dataset: WordDataset) -> Trained:
    # The dataset is keyed by its fingerprint (the leading underscore keeps Streamlit from hashing
    # the whole word list on every rerun). The progress bar must be made in here: see README.
    bar = st.progress(0.0, text=f"Training {run.model_name}…")
    every = max(1, run.train_config.max_steps // 50)
    in_class = []  # the class room's note of this training (the teacher's "training now"), made at its first step

    def show(p):
        if not in_class:
            in_class.append(note_page_training(run.model_name, p.max_steps))
        if in_class[0] is not None:
            in_class[0].step = p.step
        if p.step % every == 0 or p.step == p.max_steps:
            bar.progress(p.step / p.max_steps, text=f"Training {run.model_name}: step {p.step:,} of "
                         f"{p.max_steps:,}, loss {p.loss:.3f}")

    try:
        done = load_or_train(_dataset, run, callback=show, cache=DiskCache())
    finally:
        bar.empty()
        if in_class and in_class[0] is not None:
            in_class[0].active = False
    if not done.from_cache:  # trained now, in the session whose page asked for it
        mark_mine(run.key(fingerprint))
    return done


def trained(dataset: WordDataset, run: Run) -> Trained:
    """The model trained for this run: from memory, from disk, or trained now."""
    return _trained(dataset.fingerprint, run, dataset)


MINE = "my_trainings"  # session_state key: the cache keys of the trainings this session started or watched


def mark_mine(key: str) -> None:
    """Count the training with this cache key as this browser session's own ("my runs", kit/results.py)."""
    st.session_state.setdefault(MINE, set()).add(key)


def is_mine(key: str) -> bool:
    """Did this session start (or watch live) the training with this cache key? A model it only
    looked at, loaded from the shipped files or the cache, or trained by someone else, is not its own."""
    return key in st.session_state.get(MINE, ())


def start_training(board: JobBoard, dataset: WordDataset, run: Run, estimate: float | None) -> None:
    """Start a background training for this browser session: the board's job, and the session's own
    (and its class room's, for the teacher's view: classwork.py)."""
    job = board.start(dataset, run, estimate=estimate, viewer=viewer())
    mark_mine(run.key(dataset))
    note_started(job)


def expected_seconds(board: JobBoard, estimate: float) -> tuple[float, str]:
    """The estimate as this server will likely take it now (board.pace: its recent trainings against
    their estimates), and why it differs from the estimate ("" when it does not). The time cap is the
    estimate's, not this: a run allowed a minute ago is not refused because the class is training."""
    return board.pace.seconds(estimate), board.pace.note()


@st.cache_resource(show_spinner=False)
def job_board() -> JobBoard:
    """Background trainings shared by every visitor of this server (pages that train live)."""
    return JobBoard(DiskCache(), connected=connected)


def viewer() -> str | None:
    """This browser tab (its Streamlit session), so that the board can ask later whether it is open."""
    context = get_script_run_ctx()
    return context.session_id if context is not None else None


def connected(session_id: str) -> bool:
    """Is this browser tab still open? A training someone still waits for is kept, however late a
    busy server redraws their page (makemore.serving.jobs: TrainingJob.abandoned)."""
    return runtime.exists() and runtime.get_instance().is_active_session(session_id)
