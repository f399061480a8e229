"""The MLP page under AppTest: settings, live training in the background, results, the
learning-rate finder, and settings carried by the URL."""

import json
import sys
import time
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

import pandas as pd
import pyarrow as pa

from test_app import charts, metric, titles

APP = Path(__file__).resolve().parent.parent / "app"
MLP_PAGE = "stages/mlp.py"
sys.path.insert(0, str(APP))
from training import shared  # noqa: E402  (the app's module: the same objects the pages use in this process)


@pytest.fixture(autouse=True)
def fresh_app(monkeypatch, tmp_path):
    monkeypatch.setenv("MAKEMORE_CACHE_DIR", str(tmp_path / "cache"))
    st.cache_resource.clear()
    yield
    for job in list(shared.job_board()._jobs.values()):
        job.stop()
        job.wait(30)
    st.cache_resource.clear()


def open_mlp(query: dict | None = None) -> AppTest:
    at = AppTest.from_file(str(APP / "Home.py"), default_timeout=120)
    for name, value in (query or {}).items():
        at.query_params[name] = value
    at.run()
    at.switch_page(MLP_PAGE).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def chart_data(at: AppTest, index: int) -> pd.DataFrame:
    """Every row a chart ships (a layered chart sends one dataset per layer's data)."""
    datasets = at.get("vega_lite_chart")[index].proto.datasets
    return pd.concat([pa.ipc.open_stream(d.data.data).read_all().to_pandas() for d in datasets],
                     ignore_index=True)


def summary(at: AppTest) -> str:
    return next(c.value for c in at.caption if "parameters**" in c.value)


def only_job():
    jobs = list(shared.job_board()._jobs.values())
    assert len(jobs) == 1
    return jobs[0]


def finish_trainings(at: AppTest) -> AppTest:
    """Wait for every training on the board, watching each as the page's live view would (or it
    counts as abandoned), then draw the page again with the results."""
    deadline = time.monotonic() + 120
    for job in list(shared.job_board()._jobs.values()):
        while not job.wait(0.5):
            job.seen()
            assert time.monotonic() < deadline, "training did not finish"
        assert job.status == "done", job.stop_reason or job.error
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def train_quickly(at: AppTest, steps: int = 500) -> AppTest:
    at.select_slider(key="mlp_steps").set_value(steps).run()
    at.button(key="mlp_train").click().run()
    assert not at.exception, [e.value for e in at.exception]
    only_job()
    return finish_trainings(at)


def test_page_renders_settings_with_estimate_before_training():
    at = open_mlp()
    assert at.title[0].value.startswith("MLP")
    assert at.slider(key="mlp_block").value == 3 and at.slider(key="mlp_embd").value == 10
    assert "11,897 parameters" in summary(at)  # the lecture's network
    assert at.button(key="mlp_train").label.startswith("Train (about")
    assert not at.get("vega_lite_chart")  # nothing trained yet: no results


def test_slider_change_and_train_shows_loss_chart_samples_and_embeddings():
    at = open_mlp()
    at.slider(key="mlp_hidden").set_value(64).run()
    assert "4,009 parameters" in summary(at)
    train_quickly(at)
    assert float(metric(at, "val loss")) < 2.6  # far below the uniform guess (log 27 = 3.30)
    assert "Loss during training (train averaged, log scale)" in titles(charts(at))
    loss = chart_data(at, 0)
    assert set(loss["split"].dropna()) == {"train", "val"} and loss["step"].max() == 500
    assert any("samples are new words" in c.value for c in at.caption)
    scatter = chart_data(at, 1)
    assert sorted(scatter["char"]) == sorted(only_job().dataset.vocab.itos)  # one point per character
    assert len(scatter) == len(only_job().dataset.vocab)


def test_the_live_view_shows_progress_and_stop_keeps_the_partial_model():
    at = open_mlp()
    at.select_slider(key="mlp_steps").set_value(200_000).run()
    at.select_slider(key="mlp_batch").set_value(16).run()
    at.button(key="mlp_train").click().run()
    job = only_job()
    assert job.active
    assert at.get("progress"), "no progress bar while training"
    stop = next(b for b in at.button if b.label == "Stop")
    stop.click().run()
    assert job.wait(60) and job.status == "stopped"
    at.run()
    assert not at.exception
    assert any("Stopped at step" in w.value for w in at.warning)
    assert at.button(key="mlp_train").label.startswith("Train again")
    assert chart_data(at, 0)["step"].max() < 200_000


def test_a_second_visit_with_the_same_settings_trains_nothing():
    at = train_quickly(open_mlp())
    val = metric(at, "val loss")
    st.cache_resource.clear()  # a server restart: only the disk cache is left
    again = open_mlp()
    again.select_slider(key="mlp_steps").set_value(500).run()
    assert metric(again, "val loss") == val and shared.job_board().trainings_started == 0
    assert "loaded from the cache" in next(m for m in again.metric if m.label == "trained in").help


def test_recipe_buttons_set_every_setting():
    at = open_mlp()
    next(b for b in at.button if b.label == "Lecture 2's recipe").click().run()
    assert at.select_slider(key="mlp_steps").value == 200_000
    assert at.select_slider(key="mlp_batch").value == 32
    assert at.radio(key="mlp_optimizer").value == "SGD" and at.radio(key="mlp_init").value == "naive"
    assert at.selectbox(key="mlp_decay").value == "step"
    next(b for b in at.button if b.label == "Fast recipe").click().run()
    assert at.radio(key="mlp_optimizer").value == "AdamW"


def test_lr_finder_charts_the_sweep_and_applies_its_suggestion():
    at = open_mlp()
    at.radio(key="mlp_optimizer").set_value("SGD").run()
    at.select_slider(key="mlp_lr").set_value(0.0001).run()
    at.button(key="mlp_sweep_run").click().run()
    assert not at.exception
    spec = charts(at)[0]
    assert "learning rate grows" in titles([spec])[0]
    use = at.button(key="mlp_sweep_use")
    suggested = float(use.label.split()[1])
    use.click().run()
    assert at.select_slider(key="mlp_lr").value == pytest.approx(suggested, rel=0.5)
    assert at.select_slider(key="mlp_lr").value != 0.0001


def test_a_link_opens_its_settings():
    at = open_mlp({"mlp_block": "5", "mlp_hidden": "64", "mlp_optimizer": "SGD", "mlp_lr": "0.1",
                   "mlp_steps": "1000", "mlp_decay": "step", "mlp_batch": "32", "mlp_init": "naive",
                   "mlp_seed": "7", "mlp_embd": "2"})
    assert at.slider(key="mlp_block").value == 5 and at.slider(key="mlp_hidden").value == 64
    assert at.radio(key="mlp_optimizer").value == "SGD"
    assert at.select_slider(key="mlp_lr").value == 0.1 and at.select_slider(key="mlp_steps").value == 1000
    assert at.selectbox(key="mlp_decay").value == "step" and at.select_slider(key="mlp_batch").value == 32
    assert at.radio(key="mlp_init").value == "naive" and at.number_input(key="mlp_seed").value == 7
    assert at.slider(key="mlp_embd").value == 2
    assert not at.warning


@pytest.mark.parametrize("query", [
    {"mlp_block": "abc"}, {"mlp_block": "-3"}, {"mlp_lr": "1e-1"}, {"mlp_batch": "0"}, {"mlp_hidden": "1e12"}, {"mlp_lr": "7"},
    {"mlp_optimizer": "sgd"}, {"mlp_steps": "99999999999999999999"}, {"nonsense": "1"},
])
def test_bad_link_parameters_fall_back_to_defaults_with_a_notice(query):
    at = open_mlp(query)
    assert any("could not be used" in w.value for w in at.warning)
    assert at.slider(key="mlp_block").value == 3 and at.slider(key="mlp_hidden").value == 200
    assert at.select_slider(key="mlp_lr").value == 0.01 and at.radio(key="mlp_optimizer").value == "AdamW"


def test_a_run_over_the_time_budget_cannot_start():
    at = open_mlp()
    at.slider(key="mlp_block").set_value(10).run()
    at.slider(key="mlp_embd").set_value(32).run()
    at.slider(key="mlp_hidden").set_value(512).run()
    at.select_slider(key="mlp_batch").set_value(2048).run()
    at.select_slider(key="mlp_steps").set_value(200_000).run()
    assert any("the playground allows" in w.value for w in at.warning)
    assert at.button(key="mlp_train").disabled


def test_my_runs_hold_the_trainings_of_the_session_not_a_shipped_model_it_looked_at(monkeypatch):
    monkeypatch.delenv("MAKEMORE_SHIPPED_DIR")  # the shipped models, as a fresh clone has them
    at = open_mlp()
    at.selectbox(key="dataset_choice").set_value("surnames.txt").run()
    assert any(m.label == "val loss" for m in at.metric)  # the default's result, from data/models
    assert shared.job_board().trainings_started == 0
    assert not at.session_state["my_runs"] if "my_runs" in at.session_state else True
    at.select_slider(key="mlp_steps").set_value(500).run()  # a setting nobody has trained
    at = finish_trainings(at.button(key="mlp_train").click().run())
    runs = list(at.session_state["my_runs"].values())
    assert [(run.model_name, run.result.steps) for run in runs] == [("mlp", 500)]


def test_tables_are_tall_enough_for_every_row_and_wrap_long_text_when_their_columns_would_not_fit():
    from kit import widgets  # the app's module (on sys.path above)

    at = train_quickly(open_mlp())
    splits = next(d for d in at.dataframe if list(d.value.columns) == ["model", "train", "val", "test"])
    assert splits.proto.row_height == widgets.ROW_HEIGHT  # set, so the height below is exact
    assert widgets.table_height(len(splits.value)) >= widgets.ROW_HEIGHT * (len(splits.value) + 1) + widgets.SCROLLBAR

    wide = pd.DataFrame({"page": ["MLP"], "model": ["mlp-bn"], "config": ["block_size 3 · n_embd 10 · n_hidden 200 · "
                                                                          "n_layers 1 · batchnorm True · init kaiming"],
                         "val loss": [2.1], "train loss": [2.0], "params": [12_097], "seconds": [7.9], "steps": [4000],
                         "training": ["AdamW lr 0.01 · decay cosine · batch 1024"], "status": ["done"]})
    configs, row_height = widgets.table_layout(wide)
    assert set(configs) == {"config", "training"}  # the long text wraps in columns of a set width
    assert all(c["width"] == widgets.WRAPPED_WIDTH for c in configs.values())
    assert row_height >= 3 * widgets.LINE_HEIGHT  # the config takes three lines at that width: none is cut
    assert widgets.table_layout(wide[["model", "val loss"]]) == ({}, widgets.ROW_HEIGHT)  # a narrow table: as is

    runs = next(d for d in at.dataframe if "first loss" in d.value.columns)  # "Your runs on this page"
    configs, row_height = widgets.table_layout(runs.value)  # with "trained or opened" it is wider than the page
    assert runs.proto.placeholder == widgets.MISSING and runs.proto.row_height == row_height
    hidden_index = {"_index": {"hidden": True}}
    assert set(json.loads(runs.proto.columns)) == {"_index", *configs}  # its long text wraps, nothing scrolls away
    embeddings = next(d for d in at.dataframe if "nearest (distance)" in d.value.columns)
    assert json.loads(embeddings.proto.columns) == hidden_index
