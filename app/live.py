"""A training that runs in the background while the page stays usable: progress, a live loss
chart and a Stop button, redrawn by a fragment every second (the rest of the page is not
rerun). When the job ends, the whole page reruns once to show the results."""

import streamlit as st

import charts
from makemore.jobs import QUEUED, TrainingJob
from widgets import smoothed_history

REFRESH_SECONDS = 1.0  # each redraw costs the training thread ~1-2 % of a second (bench/mlp.py)


@st.fragment(run_every=REFRESH_SECONDS)
def live_training(job: TrainingJob) -> None:
    job.seen()  # someone is watching: keep it running
    if not job.active:
        st.rerun()  # finished, stopped or failed: the page draws the outcome
    snap = job.snapshot()
    if snap.status == QUEUED:
        st.info("Waiting for a free CPU core: other trainings are running on this server. "
                "It starts by itself; keep this tab open.", icon=":material/hourglass_top:")
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
    right.button("Stop", key=f"stop_{job.key}", icon=":material/stop:", on_click=job.stop,
                 help="Stop now and keep the model as it is (it is not saved for others).", width="stretch")
    if snap.steps:
        frame = smoothed_history(snap.steps, snap.losses, snap.val)
        st.altair_chart(charts.live_loss(frame), width="stretch")
