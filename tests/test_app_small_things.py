"""The small things a class met (issue 34, items 1 and 11): the words a stopped training is told
with, the learning-rate finder's chart and text, the recipe buttons' labels, Compare's labels and
markers, and a difference that rounds to zero."""

import sys
import time
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from conftest import TINY_WORDS
from makemore.data import WordDataset
from makemore.models import MODELS
from makemore.runs import Run
from makemore.serving.jobs import STOPPED, TrainingJob
from makemore.train import TrainConfig

APP = Path(__file__).resolve().parent.parent / "app"
sys.path.insert(0, str(APP))
from kit import training_ui  # noqa: E402  (the app's modules: the same objects the pages use in this process)
from training import shared  # noqa: E402

MLP_PAGE = "stages/mlp.py"


@pytest.fixture
def fresh_app(monkeypatch, tmp_path):
    monkeypatch.setenv("MAKEMORE_CACHE_DIR", str(tmp_path / "cache"))
    st.cache_resource.clear()  # the job board is shared by every AppTest in this process
    yield
    for job in list(shared.job_board()._jobs.values()):
        job.stop()
        job.wait(30)
    st.cache_resource.clear()


def open_page(page: str, query: dict | None = None) -> AppTest:
    at = AppTest.from_file(str(APP / "Home.py"), default_timeout=120)
    for name, value in (query or {}).items():
        at.query_params[name] = value
    at.run()
    at.switch_page(page).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


# --- 1: "you stopped it" ---------------------------------------------------------------------------

def test_a_stop_keeps_the_first_reason_and_who_gave_it():
    job = TrainingJob("k", WordDataset("tiny.txt", TINY_WORDS), Run("bigram", MODELS["bigram"].config(), TrainConfig()))
    job.stop("nobody was watching")
    job.stop(by="a tab")  # a later press changes nothing: the server had stopped it already
    assert (job.stop_reason, job.stopped_by) == ("nobody was watching", None)
    pressed = TrainingJob("k2", job.dataset, job.run)
    pressed.stop(by="a tab")
    assert (pressed.stop_reason, pressed.stopped_by) == ("stopped by a visitor", "a tab")


def stopped_warning(at: AppTest) -> str:
    return next(w.value for w in at.warning if w.value.startswith("Stopped at step"))


def test_the_page_says_you_stopped_it_to_the_one_who_pressed_stop_and_names_another_visitor_to_others(
        fresh_app, monkeypatch):
    at = open_page(MLP_PAGE, {"mlp_steps": "20000"})
    at.button(key="mlp_train").click().run()
    job = next(iter(shared.job_board()._jobs.values()))
    deadline = time.monotonic() + 120
    while job.snapshot().step == 0:  # the live view draws its Stop button once the training runs
        job.seen()
        assert job.active and time.monotonic() < deadline, job.error
        time.sleep(0.2)
    at.run()
    at.button(key=f"stop_{job.key}").click().run()  # the page's own Stop, as the student presses it
    assert job.wait(60) and job.status == STOPPED and job.result is not None
    assert job.stopped_by is not None  # the tab that pressed it (its Streamlit session)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    mine = stopped_warning(at)
    assert "(you stopped it)" in mine and "visitor" not in mine, mine
    # another tab (another Streamlit session) that asked for the same settings watched the same job
    monkeypatch.setattr(training_ui, "viewer", lambda: "another tab's session")
    theirs = stopped_warning(open_page(MLP_PAGE, {"mlp_steps": "20000"}))
    assert "(another visitor watching the same training stopped it)" in theirs and "you stopped" not in theirs


def test_a_training_the_server_stopped_keeps_its_reason(fresh_app):
    at = open_page(MLP_PAGE, {"mlp_steps": "20000"})
    at.button(key="mlp_train").click().run()
    job = next(iter(shared.job_board()._jobs.values()))
    job.stop("nobody was watching")
    assert job.wait(60)
    at.run()
    shown = [m.value for m in [*at.warning, *at.info] if "nobody was watching" in m.value]
    assert shown and not any("you stopped" in text or "visitor" in text for text in shown), shown
