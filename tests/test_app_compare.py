"""The Compare page under AppTest: every registered stage's default model trained when missing and
compared (table, charts, samples, the loss at each position), "my runs" kept per browser session,
and a model taken home (the download button's own bytes) and brought back (the upload widget),
with the files the import refuses.

The defaults train here with at most 500 steps (the real recipes take minutes on 2 cores): the page
reads the recipes from the registry, so it does the same thing, only sooner. They train on a small
uploaded list, and once for the whole module (the job board is shared by every session, as on a
server)."""

import dataclasses
import io
import json
import math
import sys
import time
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest
import streamlit as st
import torch
from streamlit.elements.widgets import button as button_module
from streamlit.testing.v1 import AppTest

from conftest import TINY_WORDS
from makemore.serving.checkpoint import FORMAT, Checkpoint, checkpoint_bytes
from makemore.data import WordDataset
from makemore.models import MODELS, create_model
from makemore.models.mlp import MLPConfig
from makemore.train import TrainConfig, train

APP = Path(__file__).resolve().parent.parent / "app"
sys.path.insert(0, str(APP))
import charts  # noqa: E402
from registry import STAGES  # noqa: E402
from training import shared  # noqa: E402  (the app's module: the same job board the pages use)

COMPARE = "compare.py"
SHORT_STEPS = 500  # the shortest run the pages' Steps slider offers
WORDS = ("\n".join(TINY_WORDS * 3) + "\n").encode()  # 120 words: every model trains in about a second
DEFAULTS = [name for stage in STAGES for name in stage.models if name in MODELS]


@pytest.fixture(scope="module", autouse=True)
def short_recipes(tmp_path_factory):
    """Every registered recipe cut to SHORT_STEPS, a fresh job board and disk cache for the module."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MAKEMORE_CACHE_DIR", str(tmp_path_factory.mktemp("compare-cache")))
        for name, spec in list(MODELS.items()):
            steps = min(spec.train_defaults.get("max_steps", 0), SHORT_STEPS)
            patch.setitem(MODELS, name, dataclasses.replace(spec, train_defaults={**spec.train_defaults,
                                                                                  "max_steps": steps}))
        st.cache_resource.clear()
        st.cache_data.clear()
        yield
        for job in list(shared.job_board()._jobs.values()):
            job.stop()
            job.wait(30)
        st.cache_resource.clear()
        st.cache_data.clear()


@pytest.fixture(autouse=True)
def downloads(monkeypatch):
    """What each download button would send, by file name: the data given to st.download_button
    (a callable's result, as the browser's click would get it)."""
    sent = {}
    marshall = button_module.marshall_file

    def record(coordinates, data, proto, mimetype, file_name=None, **kwargs):
        sent[file_name] = data
        return marshall(coordinates, data, proto, mimetype, file_name, **kwargs)

    monkeypatch.setattr(button_module, "marshall_file", record)

    def get(file_name: str) -> bytes:
        data = sent[file_name]
        data = data() if callable(data) else data
        return data.encode() if isinstance(data, str) else data

    return get


def check(at: AppTest) -> AppTest:
    assert not at.exception, [e.value for e in at.exception]
    return at


def session(page: str = COMPARE) -> AppTest:
    """A new browser session on the small list, on `page`."""
    at = AppTest.from_file(str(APP / "Home.py"), default_timeout=120)
    at.run()
    at.selectbox(key="dataset_choice").set_value("upload").run()
    at.file_uploader(key="dataset_upload").set_value(("tiny.txt", WORDS, "text/plain")).run()
    return check(at.switch_page(page).run())


def finish_trainings() -> None:
    """Wait for every training on the board, watching all of them as the page's progress view does
    (the page shows every missing run's progress: a queued one left unwatched for
    ABANDONED_AFTER_SECONDS would stop itself on a slow machine)."""
    deadline = time.monotonic() + 300
    jobs = list(shared.job_board()._jobs.values())
    for job in jobs:
        while not job.wait(0.5):
            for other in jobs:
                other.seen()
            assert time.monotonic() < deadline, "training did not finish"
        assert job.status in ("done", "stopped"), job.error


def trained_session() -> AppTest:
    """A session on the Compare page with every default trained (trained now if need be)."""
    at = session()
    if any(b.key == "compare_train_all" for b in at.button):
        at.button(key="compare_train_all").click().run()
        finish_trainings()
        check(at.run())
    return at


def table(at: AppTest, index: int = 0) -> pd.DataFrame:
    return at.dataframe[index].value


def comparison(at: AppTest) -> pd.DataFrame:
    return next(df.value for df in at.dataframe if "val loss" in df.value.columns and "trained on" in df.value.columns)


def samples_table(at: AppTest) -> pd.DataFrame:
    models = set(comparison(at)["model"])
    return next(df.value for df in at.dataframe if set(df.value.columns) == models)


def chart_data(at: AppTest, title: str) -> pd.DataFrame:
    """The rows of the chart whose title includes `title` (every layer's data)."""
    for element in at.get("vega_lite_chart"):
        spec = json.loads(element.proto.spec)
        if title in json.dumps(spec.get("title", "")) or any(title in json.dumps(l.get("title", ""))
                                                              for l in spec.get("layer", [])):
            return pd.concat([pa.ipc.open_stream(d.data.data).read_all().to_pandas()
                              for d in element.proto.datasets], ignore_index=True)
    raise AssertionError(f"no chart titled {title!r}")


# --- the page ----------------------------------------------------------------------------------------

def test_missing_defaults_train_with_progress_then_every_stage_model_is_compared():
    at = session()
    missing = next(i.value for i in at.info if "Not trained on tiny.txt yet" in i.value)
    assert all(name in missing for name in DEFAULTS)  # a new stage's model appears with no edit to the page
    at.button(key="compare_train_all").click().run()
    check(at)
    assert at.get("progress"), "no progress while the models train"
    finish_trainings()
    check(at.run())
    assert not any("Not trained" in i.value for i in at.info)

    rows = comparison(at)
    assert list(rows["model"]) == DEFAULTS
    assert all(math.isfinite(v) and 0 < v < math.log(27) + 1 for v in rows["val loss"])
    assert list(rows["page"]) == [s.title for s in STAGES for name in s.models if name in MODELS]
    params = chart_data(at, "against the number of parameters")
    assert sorted(params["model"]) == sorted(DEFAULTS) and "config" in params.columns  # the tooltip's settings
    assert sorted(chart_data(at, "against training time")["model"]) == sorted(DEFAULTS)

    samples = samples_table(at)
    assert len(samples) == 20 and list(samples.columns) == DEFAULTS

    positions = chart_data(at, "Loss at each position")
    assert set(positions["model"]) == set(DEFAULTS) and positions["position"].min() == 1
    first = positions[positions["position"] == 1].set_index("model")["loss"]
    assert len(first) == len(DEFAULTS)  # one line per model, from the word's first character

    commands = [c.value for c in at.code]
    assert any(c.startswith("python -m makemore train --model bigram") for c in commands)


def test_the_same_sampling_seed_draws_the_same_words_and_another_seed_others():
    at = trained_session()
    before = samples_table(at)
    check(at.run())
    assert samples_table(at).equals(before)
    at.number_input(key="compare_samples_seed").set_value(5).run()
    assert not samples_table(at).equals(before)


def test_the_charts_draw_one_model_and_a_model_trained_in_no_time():
    one = pd.DataFrame([{"model": "bigram", "val loss": 2.41, "params": 729, "seconds": 0.0, "page": "Bigram",
                         "config": "alpha 1.0", "training": "counted (no gradient steps)", "trained on": "names.txt"}])
    two = pd.concat([one, one.assign(model="mlp", params=11_897, seconds=5.2)], ignore_index=True)
    for frame in (one, two):
        for chart in (charts.val_loss_against_params(frame), charts.val_loss_against_time(frame)):
            spec = chart.to_dict()  # validates against Vega-Lite's schema
            assert "config" in str(spec["encoding"]["tooltip"]) and spec["encoding"]["x"]["scale"]["type"] == "log"
    ticks = charts.val_loss_against_params(two).to_dict()["encoding"]["x"]["axis"]["values"]
    assert ticks == [100.0, 1000.0, 10_000.0, 100_000.0]


# --- export and import ---------------------------------------------------------------------------------

def test_an_exported_model_imported_again_samples_the_same_words(downloads):
    at = trained_session()
    at.selectbox(key="compare_export_model").set_value("mlp").run()
    raw = downloads("mlp-tiny.pt")
    blob = torch.load(io.BytesIO(raw), weights_only=True)
    assert blob["model"] == "mlp" and blob["train_words"] and "state_dict" in blob
    assert downloads("mlp-tiny-samples.csv").decode().startswith("sample,origin")

    at.file_uploader(key="compare_import").set_value(("mlp-tiny.pt", raw, "application/octet-stream")).run()
    check(at)
    assert any("added to the comparison" in s.value for s in at.success)
    assert at.multiselect(key="compare_added").value == [next(iter(at.session_state["imported_models"]))]
    samples = samples_table(at)
    assert "mlp · mlp-tiny.pt" in samples.columns
    assert samples["mlp · mlp-tiny.pt"].equals(samples["mlp"])  # the same model, the same seed: the same words
    rows = comparison(at).set_index("model")
    assert rows.loc["mlp · mlp-tiny.pt", "val loss"] == rows.loc["mlp", "val loss"]


def upload_refused(at: AppTest, name: str, raw: bytes) -> str:
    at.file_uploader(key="compare_import").set_value((name, raw, "application/octet-stream")).run()
    check(at)
    errors = [e.value for e in at.error]
    assert len(errors) == 1, errors
    assert not at.session_state["imported_models"]  # nothing of a refused file is kept
    assert len(comparison(at)) == len(DEFAULTS)
    return errors[0]


def test_a_crafted_pickle_is_refused_and_creates_no_file(tmp_path):
    target = tmp_path / "pwned.txt"

    class Payload:
        def __reduce__(self):
            return (open, (str(target), "w"))

    buffer = io.BytesIO()
    torch.save({"format": FORMAT, "model": "mlp", "state_dict": {"C": Payload()}}, buffer)
    message = upload_refused(trained_session(), "evil.pt", buffer.getvalue())
    assert "refused without being run" in message
    assert not target.exists()


def test_a_truncated_file_is_refused(downloads):
    at = trained_session()
    raw = downloads("bigram-tiny.pt")  # the first model of the comparison, chosen for export by default
    message = upload_refused(at, "cut.pt", raw[: len(raw) // 2])
    assert "cut.pt" in message and "truncated" in message


def test_a_model_of_another_vocabulary_is_refused_naming_its_list():
    cities = WordDataset("cities.txt", ["paris", "lyon", "nice", "lille", "nantes", "rennes", "brest", "metz",
                                        "reims", "le-havre", "saint-malo", "dijon"])
    config, training = MLPConfig(n_hidden=16), TrainConfig(max_steps=20, batch_size=16)
    model = create_model("mlp", len(cities.vocab), config)
    result = train(model, cities, training)
    raw = checkpoint_bytes(Checkpoint.of("mlp", model, config, training, result, cities, with_words=True))
    message = upload_refused(trained_session(), "cities-mlp.pt", raw)
    assert "trained on cities.txt" in message and "Pick cities.txt in the sidebar" in message


# --- my runs -------------------------------------------------------------------------------------------

def test_my_runs_list_each_sessions_own_trainings_and_download_as_csv(downloads):
    trained_session()  # the defaults exist: the MLP page below shows its default at once
    student = session("stages/mlp.py")
    student.slider(key="mlp_hidden").set_value(64).run()
    student.select_slider(key="mlp_steps").set_value(SHORT_STEPS).run()
    student.button(key="mlp_train").click().run()
    finish_trainings()
    check(student.run())
    check(student.switch_page("stages/bigram.py").run())  # its default (the page trains it if no one has)
    check(student.slider(key="bigram_steps").set_value(40).run())  # another one: it trains in the page
    check(student.switch_page(COMPARE).run())
    other = session()

    mine = table(student, 0)
    # the student's trainings, not the MLP default the page showed first (trained already by another session)
    assert list(mine["page"])[0] == "MLP" and list(mine["page"]).count("MLP") == 1
    assert set(mine["dataset"]) == {"tiny.txt"}
    assert "n_hidden 64" in mine["config"][0] and mine["steps"][0] == SHORT_STEPS
    assert mine["model"].iloc[-1] == "bigram-nn" and mine["steps"].iloc[-1] == 40
    assert {"val loss", "params", "seconds"} <= set(mine.columns)
    csv = pd.read_csv(io.BytesIO(downloads("my-runs.csv")))
    assert list(csv["model"]) == list(mine["model"])
    assert csv["command"][0].startswith("python -m makemore train --model mlp --data tiny.txt --n-hidden 64")
    assert any("not trained anything in this session" in i.value for i in other.info)
    assert "my_runs" not in other.session_state

    # a run joins the comparison (the runs with default settings are in it already)
    added = student.multiselect(key="compare_added")
    assert added.options == ["mlp · your run 1", f"bigram-nn · your run {len(mine)}"]
    own = next(run.ident for run in student.session_state["my_runs"].values() if run.model_config.n_hidden == 64)
    check(added.select(own).run())
    rows = comparison(student)
    assert list(rows["model"]) == [*DEFAULTS, "mlp · your run 1"]
    assert "n_hidden 64" in rows["config"].iloc[-1]
