"""The small things a class met (issue 34, items 1 and 11): the words a stopped training is told
with, the learning-rate finder's chart and text, the recipe buttons' labels, and a difference that
rounds to zero (Compare's labels and markers: tests/test_comparison_charts.py)."""

import json
import math
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from conftest import TINY_WORDS
from test_browser import open_page as open_in_browser
from makemore.data import WordDataset
from makemore.lr_finder import lr_sweep
from makemore.models import MODELS
from makemore.runs import Run
from makemore.serving.jobs import STOPPED, TrainingJob
from makemore.train import TrainConfig

APP = Path(__file__).resolve().parent.parent / "app"
sys.path.insert(0, str(APP))
import charts  # noqa: E402
from kit import bigram_numbers, training_ui  # noqa: E402  (the app's modules: the objects the pages use)
from kit.widgets import difference  # noqa: E402
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


# --- 11: the recipe buttons' labels ----------------------------------------------------------------

# every recipe button that is laid out (Streamlit keeps a hidden copy of each, 0 px wide): its label
# (after its icon's name) and whether a part of it is cut off
CUT_OFF = """() => Array.from(document.querySelectorAll('[data-testid=stMain] button')).filter(
    button => button.innerText.includes('recipe') && button.getBoundingClientRect().width > 0).map(
    button => [button.innerText.replace(/\\s+/g, ' '),
    [button, ...button.querySelectorAll('*')].some(part => part.scrollWidth > part.clientWidth + 1)])"""


@pytest.mark.browser
@pytest.mark.slow
@pytest.mark.parametrize("page_file", ["stages/recurrent.py", "stages/transformer.py", "stages/mlp.py"])
def test_the_recipe_buttons_show_their_whole_label_on_a_1024_px_screen(page_file, browser, app_server):
    # "makemore.py's rec…" on the RNN and Transformer pages: the buttons had a fifth of the row each
    context = browser.new_context(viewport={"width": 1024, "height": 768})
    try:
        tab = context.new_page()
        open_in_browser(tab, app_server, page_file)
        buttons = tab.evaluate(CUT_OFF)
        assert [label.split(" ", 1)[1].endswith(("Fast recipe", "'s recipe")) for label, _ in buttons] == [True, True]
        assert not [label for label, cut in buttons if cut], buttons
    finally:
        context.close()


# --- 11: the learning-rate finder ------------------------------------------------------------------

def sweep_frame(exponents, losses) -> pd.DataFrame:
    smoothed = pd.Series(losses).ewm(alpha=0.1).mean().tolist()
    return pd.DataFrame({"exponent": exponents, "loss": losses, "smoothed": smoothed})


def layers(spec: dict, mark: str) -> list[dict]:
    return [layer for layer in spec["layer"] if layer["mark"]["type"] == mark]


def test_the_sweep_chart_cuts_the_blow_up_off_so_the_valley_fills_it_and_its_label_stays_off_the_title():
    # a sweep that starts at 3.3, falls to a valley near 2.4 and then blows up to 20
    exponents = [-3 + 2.2 * i / 99 for i in range(100)]
    losses = [3.3 - 0.9 * math.sin(math.pi * i / 140) if i < 70 else 2.6 + (i - 70) ** 2 / 50 for i in range(100)]
    df = sweep_frame(exponents, losses)
    spec = charts.lr_sweep(df, -1.5, (-3.0, 0.0)).to_dict()
    low, high = spec["layer"][0]["encoding"]["y"]["scale"]["domain"]
    assert low <= min(losses) and 3.3 <= high < 3.3 + 0.5  # the start is in, 20 is far out
    assert all(layer["mark"].get("clip") for layer in layers(spec, "line"))  # the blow-up is cut at the edge
    assert spec["layer"][0]["encoding"]["x"]["scale"]["domain"] == [-3.0, 0.0]  # the whole range it was asked
    label = layers(spec, "text")[0]
    assert label["encoding"]["y"]["scale"]["domain"] == [low, high]  # placed in the data, inside the plot:
    assert label["mark"]["dy"] >= 0  # not lifted over the title as before (dy -110)
    assert chart_title(spec) == {"text": "Loss while the learning rate grows", "subtitle": "one step at each rate"}


def test_the_mlp_pages_sweep_says_what_it_covered(fresh_app):
    at = open_page(MLP_PAGE, {"mlp_lr": "0.1"})
    text = next(m.value for m in at.markdown if "grows from 10⁻³" in m.value)
    assert "towards 10⁰" in text and "stop short of 10⁰" in text
    at.button(key="mlp_sweep_run").click().run()
    assert not at.exception, [e.value for e in at.exception]
    sweep = at.session_state["mlp_sweep"][1]
    spec = next(s for s in page_charts(at) if chart_title(s).get("text") == "Loss while the learning rate grows")
    assert spec["layer"][0]["encoding"]["x"]["scale"]["domain"] == [sweep.lo, sweep.hi] == [-3.0, 0.0]
    ended = [c.value for c in at.caption if c.value.startswith("This sweep ended at")]
    if sweep.ended_early:
        assert ended and f"10^{sweep.exponents[-1]:.2f}" in ended[0]
    else:
        assert not ended and sweep.exponents[-1] == sweep.hi


def test_a_sweep_that_blows_up_says_it_ended_early(tiny_dataset):
    sweep = lr_sweep(tiny_dataset, "mlp", MODELS["mlp"].config(), optimizer="sgd", batch_size=32, steps=200,
                     lo=-1.0, hi=3.0)  # rates up to 1,000 blow any net up
    assert sweep.ended_early and sweep.exponents[-1] < 3.0 and (sweep.lo, sweep.hi) == (-1.0, 3.0)


def page_charts(at: AppTest) -> list[dict]:
    return [json.loads(el.proto.spec) for el in at.get("vega_lite_chart")]


def chart_title(spec: dict) -> dict:
    """A chart's title (a layered chart's is its first layer's that has one), as {"text": ...}."""
    title = spec.get("title") or next((layer["title"] for layer in spec.get("layer", []) if "title" in layer), {})
    return title if isinstance(title, dict) else {"text": title}


# --- 11: the Bigram page's differences -------------------------------------------------------------

def test_a_difference_that_rounds_to_zero_reads_equal_never_minus_zero():
    assert difference(2.45361, 2.45364, "counts") == {"delta": "= counts", "delta_arrow": "off"}
    assert difference(2.45364, 2.45361, "counts") == {"delta": "= counts", "delta_arrow": "off"}
    assert difference(2.4536, 2.4547, "counts (α = 1)") == {"delta": "-0.0011 vs counts (α = 1)"}
    assert difference(2.5, 2.4, "bigram", digits=2) == {"delta": "+0.10 vs bigram"}


def network_deltas(at: AppTest) -> dict[str, str]:
    return {m.label: m.proto.delta for m in at.metric if m.label.startswith("network")}


def test_the_bigram_page_says_equal_where_the_network_matches_the_counts_to_the_digits_shown(fresh_app, monkeypatch):
    at = open_page("stages/bigram.py")
    deltas = network_deltas(at)
    assert len(deltas) == 2 and all(" vs counts (α = " in d for d in deltas.values()), deltas
    # move each split's counts by the difference shown: the network and the counts then agree to 4 digits
    shown = {"train": float(deltas["network train NLL"].split()[0]), "val": float(deltas["network val NLL"].split()[0])}
    counts_nll = bigram_numbers.counts_nll
    monkeypatch.setattr(bigram_numbers, "counts_nll", lambda fingerprint, alpha, split, *rest:
                        counts_nll(fingerprint, alpha, split, *rest) + shown[split])
    deltas = network_deltas(open_page("stages/bigram.py"))
    assert deltas == {"network train NLL": "= counts (α = 0)", "network val NLL": "= counts (α = 1)"}, deltas
