"""A training that runs in the background while the page stays usable: progress, a live loss
chart and a Stop button, redrawn by a fragment every second (the rest of the page is not
rerun); while it waits for a free core, its place in the queue, redrawn every 5 s. When the job
ends, the whole page reruns once to show the results."""

import streamlit as st

import charts
from makemore.serving.jobs import QUEUED, JobBoard, TrainingJob
from kit.widgets import smoothed_history
from training.shared import mark_mine, viewer

REFRESH_SECONDS = 1.0  # each redraw costs the training thread ~1-2 % of a second (bench/mlp.py)
# A waiting training has no chart to redraw, and a classroom may have dozens waiting: redrawn every
# second, their pages kept a 2-core server so busy (bench/classroom.py, N = 30) that the redraws
# came late. (A training is dropped only once its tab is closed: shared.connected.)
WAITING_REFRESH_SECONDS = 5.0


def live_training(board: JobBoard, job: TrainingJob) -> None:
    """The live view of a job: its place in the queue while it waits, then its progress."""
    mark_mine(job.key)  # a training this session watches is its own when it ends, whoever started it
    if job.snapshot().status == QUEUED:
        waiting(board, job)
    else:
        running(job)


@st.fragment(run_every=WAITING_REFRESH_SECONDS)
def waiting(board: JobBoard, job: TrainingJob) -> None:
    job.seen(viewer())  # someone is waiting for it: keep its place
    if job.snapshot().status != QUEUED:
        st.rerun()  # its turn came (or it ended): the page draws its progress or its outcome
    st.info(queue_line(board.queue_position(job), board.wait_seconds(job), on_cluster=board.backend.name == "ray"),
            icon=":material/hourglass_top:")
    st.button("Stop", key=f"stop_{job.key}", icon=":material/stop:", on_click=job.stop, kwargs={"by": viewer()},
              help="Leave the queue (nothing has been trained yet).")


@st.fragment(run_every=REFRESH_SECONDS)
def running(job: TrainingJob) -> None:
    job.seen(viewer())  # someone is watching: keep it running
    if not job.active:
        st.rerun()  # finished, stopped or failed: the page draws the outcome
    snap = job.snapshot()
    left, right = st.columns([5, 1], vertical_alignment="center")
    rate = snap.step / snap.seconds if snap.seconds > 0 else 0
    eta = (snap.max_steps - snap.step) / rate if rate > 0 else None
    text = f"Step {snap.step:,} of {snap.max_steps:,}"
    if snap.losses:
        text += f" · loss {snap.losses[-1]:.3f}"
    if snap.val:
        text += f" · val {snap.val[-1][1]:.3f}"
    if eta is not None:
        text += f" · about {eta:.0f} s left"
    left.progress(snap.step / max(1, snap.max_steps), text=text)
    right.button("Stop", key=f"stop_{job.key}", icon=":material/stop:", on_click=job.stop, kwargs={"by": viewer()},
                 help="Stop now and keep the model as it is (it is not saved for others).", width="stretch")
    if snap.steps:
        frame = smoothed_history(snap.steps, snap.losses, snap.val)
        st.altair_chart(charts.live_loss(frame), width="stretch")


def queue_line(position: int, wait: float, on_cluster: bool = False) -> str:
    """Where a waiting training stands: its place in the queue and a guess of the wait (on_cluster:
    this server trains on a Ray cluster, whose CPUs its students share with other servers')."""
    if position == 0:  # it has left the queue between two looks
        where = "It is about to start."
    else:
        ahead = "no other training" if position == 1 else f"{position - 1} other training{'s' * (position > 2)}"
        where = (f"It is **number {position} in the queue** ({ahead} ahead of it) and should start in about "
                 f"{max(1, round(wait)):,} s, by itself.")
    place = "the class's training cluster" if on_cluster else "this server"
    return (f"Waiting for a free CPU core: other trainings are running on {place}. " + where + " Look at "
            "other pages meanwhile if you like: it keeps its place, and its result is here when you come back. "
            "Closing the tab takes it out of the queue; nothing is lost, press **Train** again another time.")
