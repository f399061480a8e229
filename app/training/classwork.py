"""What a class room's members are training on this server right now, for the teacher's view. The
job board keeps no owner for a job, so a member's job is noted here when the member starts it
(shared.start_training), by room; so is a quick model that a page trains within its own run
(shared.trained: the bigram network)."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pandas as pd
import streamlit as st

if TYPE_CHECKING:  # the jobs bring torch: every page's sidebar reads SEAT, the home page needs no torch
    from makemore.serving.jobs import JobBoard, TrainingJob

SEAT = "room_seat"  # session_state: this session's seat in a class room (a kit.rooms_ui.Seat), or absent
KEPT_PER_ROOM = 300  # the most jobs a room keeps noted (only those still waiting or running are)


@dataclass
class PageTraining:
    """A quick model trained within its page's own run (the bigram network), not on the job board:
    its step, as the page's progress bar shows it."""

    model_name: str
    max_steps: int
    step: int = 0
    active: bool = True


@dataclass(frozen=True)
class ClassJob:
    nickname: str
    job: TrainingJob | PageTraining
    started_at: float


@st.cache_resource(show_spinner=False)
def _noted() -> tuple[dict[str, list[ClassJob]], threading.Lock]:
    return {}, threading.Lock()  # room code -> its members' jobs, oldest first; one for every visitor


def note_page_training(model_name: str, max_steps: int) -> PageTraining | None:
    """Note a training this session runs within its page (when it is a member of a room); the
    caller moves its step and ends it."""
    training = PageTraining(model_name, max_steps)
    return training if note_started(training) else None


def note_started(job: TrainingJob | PageTraining) -> bool:
    """Note a job this session just put on the board, when the session is a member of a room."""
    seat = st.session_state.get(SEAT)
    if seat is None:
        return False
    noted, lock = _noted()
    with lock:
        # an ended job is done with; the same student asking again for the same job is one line
        jobs = [j for j in noted.get(seat.code, []) if j.job.active and (j.job, j.nickname) != (job, seat.nickname)]
        jobs.append(ClassJob(seat.nickname, job, time.time()))
        noted[seat.code] = jobs[-KEPT_PER_ROOM:]
    return True


def class_trainings(board: JobBoard, code: str) -> pd.DataFrame:
    """The room's trainings that are waiting or running now: who, which model, where it is."""
    from makemore.serving.jobs import QUEUED, RUNNING
    noted, lock = _noted()
    with lock:
        jobs = [j for j in noted.get(code, []) if j.job.active]
    rows = []
    for j in jobs:
        if isinstance(j.job, PageTraining):
            rows.append({"nickname": j.nickname, "model": j.job.model_name,
                         "now": f"training within its page: step {j.job.step:,} of {j.job.max_steps:,}",
                         "for": f"{time.time() - j.started_at:.0f} s"})
            continue
        snap = j.job.snapshot()
        if snap.status == QUEUED:
            where = f"waiting: number {board.queue_position(j.job)} in the server's queue"
        elif snap.status == RUNNING:
            where = f"training: step {snap.step:,} of {snap.max_steps:,}"
        else:
            continue
        rows.append({"nickname": j.nickname, "model": j.job.model_name, "now": where,
                     "for": f"{time.time() - j.started_at:.0f} s"})
    return pd.DataFrame(rows, columns=["nickname", "model", "now", "for"])
