"""The pages under Streamlit's AppTest: they render without exceptions, show their charts, react
to their widgets, and report bad uploads in words."""

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

import makemore.serving.cache

HOME = str(Path(__file__).resolve().parent.parent / "app" / "Home.py")
BIGRAM = "stages/bigram.py"


@pytest.fixture(scope="module")
def disk_cache(tmp_path_factory):
    # one disk cache for the module: the first test trains, later ones may load
    return tmp_path_factory.mktemp("model-cache")


@pytest.fixture(autouse=True)
def fresh_app(monkeypatch, disk_cache):
    monkeypatch.setenv("MAKEMORE_CACHE_DIR", str(disk_cache))
    st.cache_resource.clear()  # shared by every AppTest in this process
    yield
    st.cache_resource.clear()


def test_a_training_process_does_not_load_the_app():
    # Streamlit makes Home.py the __main__ module, and multiprocessing has each training process
    # import __main__'s file again, as runpy.run_path(path, run_name="__mp_main__"): that must
    # neither draw the app nor import it
    check = ("import runpy, sys; runpy.run_path(sys.argv[1], run_name='__mp_main__'); "
             "print(sorted({'streamlit', 'altair', 'pandas', 'registry'} & set(sys.modules)))")
    out = subprocess.run([sys.executable, "-c", check, HOME], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and out.stdout.strip() == "[]", out.stdout + out.stderr


def open_app(page=None, query: dict | None = None) -> AppTest:
    """The app, on `page` if given, opened with the address's `query` parameters."""
    at = AppTest.from_file(HOME, default_timeout=120)
    for name, value in (query or {}).items():
        at.query_params[name] = value
    at.run()
    if page:
        at.switch_page(page).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def charts(at) -> list[dict]:
    return [json.loads(el.proto.spec) for el in at.get("vega_lite_chart")]


def chart_data(at, index: int) -> pd.DataFrame:
    """The rows Streamlit ships with a chart (sent apart from the spec, as Arrow)."""
    dataset = at.get("vega_lite_chart")[index].proto.datasets[0]
    return pa.ipc.open_stream(dataset.data.data).read_all().to_pandas()


def metric(at, label) -> str:
    return next(m.value for m in at.metric if m.label == label)


def titles(specs) -> list[str]:
    def title(spec):
        t = spec.get("title") or next((l.get("title") for l in spec.get("layer", []) if l.get("title")), "")
        return t["text"] if isinstance(t, dict) else t
    return [title(s) for s in specs]


def test_home_shows_dataset_stats_and_its_three_charts():
    at = open_app()
    assert metric(at, "words") == "32,033"
    assert metric(at, "vocabulary") == "27"
    assert titles(charts(at)) == ["Word lengths", "How often each character occurs",
                                  "Characters that start and end words"]
    stage_table = next(m.value for m in at.markdown if m.value.startswith("| stage |"))
    assert "| Bigram |" in stage_table


def test_choosing_another_dataset_changes_every_page():
    at = open_app()
    at.selectbox(key="dataset_choice").set_value("cities.txt").run()
    assert not at.exception
    assert metric(at, "words") != "32,033"
    assert metric(at, "vocabulary") == "28"  # a-z, '-' and the boundary
    at.switch_page(BIGRAM).run()
    assert not at.exception
    assert "cities.txt" in at.markdown[0].value or any("cities.txt" in m.value for m in at.markdown)


@pytest.mark.parametrize("content, words", [
    (b"", "empty"),
    (b"\x00\x01\x02binary\x00", "binary"),
    (b"caf\xe9\nna\xefve\n", "not UTF-8"),
    (b"onlyone\n", "only 1 word"),
])
def test_bad_upload_shows_a_message_and_the_app_keeps_working(content, words):
    at = open_app()
    at.selectbox(key="dataset_choice").set_value("upload").run()
    at.file_uploader(key="dataset_upload").set_value(("words.txt", content, "text/plain")).run()
    assert not at.exception
    errors = [e.value for e in at.error]
    assert errors and words in errors[0] and "can't be used" in errors[0]
    assert metric(at, "words") == "32,033"  # the default list stands in


def test_good_upload_becomes_the_dataset():
    at = open_app()
    at.selectbox(key="dataset_choice").set_value("upload").run()
    pets = "\r\n".join(["rex", "fido", "bella", "max", "luna", "kitty", "tom", "bo", "milo", "coco"] * 3)
    at.file_uploader(key="dataset_upload").set_value(("pets.txt", pets.encode(), "text/plain")).run()
    assert not at.exception and not at.error
    assert metric(at, "words") == "30"
    assert metric(at, "distinct words") == "10"


def test_bigram_page_shows_heatmap_loss_curve_and_weights_view():
    at = open_app(BIGRAM)
    specs = charts(at)
    assert len(specs) == 3
    heatmap, loss, weights = specs
    cells = chart_data(at, 0)
    assert len(cells) == 27 * 27 and {"pair", "count", "prob"} <= set(cells.columns)
    assert cells["count"].sum() == len(at.session_state["dataset"].examples("train", 1)[1])
    assert any(layer["mark"]["type"] == "text" for layer in heatmap["layer"])
    assert any(l["mark"]["type"] == "rule" for l in loss["layer"])  # the counts' NLL reference
    assert titles([weights]) == ["Learned W against the counts"]
    # the network reaches the counts' NLL
    net, counts = float(metric(at, "network train NLL")), float(metric(at, "train NLL"))
    assert abs(net - counts) < 0.01
    assert len(at.dataframe[0].value) == 20  # the samples


def test_smoothing_slider_changes_the_shown_nll():
    at = open_app(BIGRAM)
    before = metric(at, "train NLL"), metric(at, "val NLL")
    at.slider(key="bigram_alpha").set_value(8.0).run()
    assert not at.exception
    after = metric(at, "train NLL"), metric(at, "val NLL")
    assert float(after[0]) > float(before[0])  # smoothing costs training likelihood
    assert metric(at, "uniform guess") == f"{__import__('math').log(27):.4f}"


def test_switching_optimizer_sets_its_learning_rate_and_retrains():
    at = open_app(BIGRAM)
    adamw = metric(at, "network train NLL")
    at.radio(key="bigram_optimizer").set_value("sgd").run()
    assert not at.exception
    assert at.select_slider(key="bigram_lr").value == 50.0
    assert metric(at, "network train NLL") != adamw


def test_second_visit_with_same_settings_trains_nothing(monkeypatch):
    open_app(BIGRAM)  # trains (or loads) the defaults

    def no_training(*args, **kwargs):
        raise AssertionError("trained again")

    monkeypatch.setattr(makemore.serving.cache, "train", no_training)
    at = open_app(BIGRAM)  # a new session: served from memory
    assert metric(at, "network train NLL")
    st.cache_resource.clear()  # a server restart: served from disk
    at = open_app(BIGRAM)
    assert metric(at, "network train NLL")


def test_page_settings_survive_a_visit_to_another_page():
    at = open_app(BIGRAM)
    at.slider(key="bigram_alpha").set_value(3.0).run()
    at.switch_page("landing.py").run()
    assert not at.exception and metric(at, "words") == "32,033"
    at.switch_page(BIGRAM).run()
    assert at.slider(key="bigram_alpha").value == 3.0
