"""The lectures' list is the default, its shipped models reproduce the lectures' figures on the first
view, and a lecture's figure appears only beside a result on that list: on another list a page
compares with the lecture's recipe as trained there, or offers to train it (app/kit/references.py).

These tests read the shipped models (data/models), as a fresh server does, and train nothing but
the small uploaded list's runs."""

import re
import sys
import time
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from makemore.data import LECTURE_FINGERPRINT, WordDataset
from makemore.models import MODELS
from makemore.models.bigram import LECTURE_COUNTS_NLL
from makemore.models.wavenet import LECTURE_VAL_LOSS

ROOT = Path(__file__).resolve().parent.parent
APP = ROOT / "app"
sys.path.insert(0, str(APP))
from training import shared  # noqa: E402  (the app's module: the same job board the pages use in this process)

# every number a lecture (or makemore.py) reports, as the pages could print it
LECTURE_FIGURES = sorted({LECTURE_COUNTS_NLL, *LECTURE_VAL_LOSS.values(),
                          *(s.lecture.val_loss for s in MODELS.values() if s.lecture and s.lecture.val_loss)})
PAGES = ["stages/bigram.py", "stages/mlp.py", "stages/batchnorm.py", "stages/wavenet.py", "stages/recurrent.py",
         "stages/transformer.py"]


@pytest.fixture(autouse=True)
def shipped_app(monkeypatch, tmp_path):
    monkeypatch.delenv("MAKEMORE_SHIPPED_DIR")  # the shipped models on, as a fresh deployment has them
    monkeypatch.setenv("MAKEMORE_CACHE_DIR", str(tmp_path / "cache"))
    st.cache_resource.clear()
    yield
    for job in list(shared.job_board()._jobs.values()):
        job.stop()
        job.wait(30)
    st.cache_resource.clear()


def open_page(page: str, dataset: str | None = None) -> AppTest:
    at = AppTest.from_file(str(APP / "Home.py"), default_timeout=120).run()
    if dataset is not None:
        at.selectbox(key="dataset_choice").set_value(dataset).run()
    at.switch_page(page).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def metric(at: AppTest, label: str):
    return next(m for m in at.metric if m.label == label)


def page_text(at: AppTest) -> str:
    """Everything a student reads on the page: text, metrics and tables."""
    parts = [e.value for kind in ("markdown", "caption", "info", "warning", "success", "title", "header",
                                  "subheader") for e in getattr(at, kind)]
    parts += [f"{m.label} {m.value} {m.proto.body}" for m in at.metric]
    parts += [df.value.to_string() for df in at.dataframe]
    return "\n".join(parts)


def figures_in(text: str) -> list[float]:
    """The lecture figures that stand in `text` as numbers of their own (2.164, not 2.1643)."""
    return [f for f in LECTURE_FIGURES if re.search(rf"(?<![\d.]){re.escape(str(f))}(?![\d])", text)]


def test_the_default_list_is_the_lectures_names():
    at = AppTest.from_file(str(APP / "Home.py"), default_timeout=120).run()
    assert at.selectbox(key="dataset_choice").value == "names.txt"
    dataset = WordDataset.from_file(ROOT / "data" / "names.txt")
    assert dataset.fingerprint == LECTURE_FINGERPRINT and dataset.is_lecture_list
    assert dataset.words[:3] == ["emma", "olivia", "ava"] and len(dataset.words) == 32_033
    assert not WordDataset.from_file(ROOT / "data" / "us-names.txt").is_lecture_list


def test_the_bigram_page_shows_lecture_1s_loss_on_its_first_view():
    at = open_page("stages/bigram.py")
    val = float(metric(at, "val NLL").value)
    assert abs(val - 2.45) < 0.01, val
    assert any(f"about {LECTURE_COUNTS_NLL}" in c.value for c in at.caption)


def test_the_mlp_page_shows_lecture_2s_recipe_trained_on_the_first_view():
    at = open_page("stages/mlp.py")
    next(b for b in at.button if b.label == "Lecture 2's recipe").click().run()
    assert not at.exception
    assert at.select_slider(key="mlp_steps").value == 200_000
    val = float(metric(at, "val loss").value)  # the shipped lecture recipe: no training
    assert abs(val - MODELS["mlp"].lecture.val_loss) < 0.02, val
    assert not shared.job_board().trainings_started
    text = page_text(at)
    assert f"lecture 2 reports val ≈ {MODELS['mlp'].lecture.val_loss}" in text
    measured = re.search(r"reached (\d\.\d{4}) on names\.txt here in (\d+) s", text)
    assert measured and float(measured.group(1)) == pytest.approx(val, abs=1e-4)


def test_the_wavenet_page_meets_lecture_5s_figure_on_its_first_view_and_sets_only_its_recipe_beside_it():
    at = open_page("stages/wavenet.py")
    val = metric(at, "val loss")  # the page's fast recipe: the lecture's net, not the lecture's training
    assert abs(float(val.value) - LECTURE_VAL_LOSS["scaled-up"]) < 0.02, val.value
    assert "figure" not in val.proto.delta and "vs lecture 5's recipe trained here" in val.proto.delta
    table = next(df.value for df in at.dataframe if "preset" in df.value.columns)  # the lecture's path
    assert "lecture's val (200k SGD steps)" in table.columns
    assert table["lecture's val (200k SGD steps)"].tolist()[:5] == [LECTURE_VAL_LOSS[n] for n in list(LECTURE_VAL_LOSS)]


@pytest.mark.parametrize("page", PAGES)
def test_a_page_on_another_list_shows_no_lecture_number(page):
    at = open_page(page, dataset="us-names.txt")
    found = figures_in(page_text(at))
    assert not found, f"{page} on us-names.txt shows the lecture figures {found}"
    assert not any("lecture 5's figure" in m.proto.delta or "lecture 2's figure" in m.proto.delta for m in at.metric)


def test_on_another_list_the_mlp_page_compares_with_the_lecture_recipe_trained_there():
    at = open_page("stages/mlp.py", dataset="us-names.txt")
    text = page_text(at)
    match = re.search(r"Lecture 2's recipe \(200,000 steps\) reached (\d\.\d{4}) on us-names\.txt here", text)
    assert match, "the recipe line should give the lecture recipe's result on this list"
    assert re.search(r"lecture 2's recipe \(200,000 steps\) trained on us-names\.txt: val " + match.group(1), text)
    assert "Lecture 2's own figures are for its names, not for this list" in text


def test_an_uploaded_list_offers_to_train_the_lecture_recipe(tmp_path):
    words = sorted({"".join(chr(97 + (i * 7 + j * 3) % 26) for j in range(3 + i % 5)) for i in range(300)})
    at = AppTest.from_file(str(APP / "Home.py"), default_timeout=120).run()
    at.selectbox(key="dataset_choice").set_value("upload").run()
    at.file_uploader(key="dataset_upload").set_value(("made-up.txt", "\n".join(words).encode(), "text/plain")).run()
    at.switch_page("stages/mlp.py").run()
    assert any("it has not been trained on made-up.txt yet" in c.value for c in at.caption)
    at.select_slider(key="mlp_steps").set_value(500).run()
    at.button(key="mlp_train").click().run()
    board = shared.job_board()
    deadline = time.monotonic() + 120
    for job in list(board._jobs.values()):
        while not job.wait(0.5):
            job.seen()
            assert time.monotonic() < deadline
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert not figures_in(page_text(at))
    offer = at.button(key="mlp_lecture_train")
    assert offer.label.startswith("Train lecture 2's recipe on this list") and not offer.disabled
    started = board.trainings_started
    offer.click().run()
    assert board.trainings_started == started + 1
    lecture = MODELS["mlp"].lecture
    job = next(j for j in board._jobs.values() if j.train_config.max_steps == lecture.train["max_steps"])
    assert job.model_config.init == "naive"
    assert any("Training **lecture 2's recipe**" in c.value for c in at.caption)  # its live view


# --- a lecture's figure beside a result only when the result is the lecture's own recipe -----------

# page -> (its model, the recipe button, the val delta with the lecture's recipe, with the page's default)
RECIPE_PAGES = {
    "stages/mlp.py": ("mlp", "Lecture 2's recipe", "vs lecture 2's figure", "vs bigram"),
    "stages/batchnorm.py": ("mlp-bn", "Lecture 3's recipe", "vs lecture 3's figure",
                            "vs lecture 3's recipe trained here"),
    "stages/wavenet.py": ("wavenet", "Lecture 5's recipe", "vs lecture 5's figure",
                          "vs lecture 5's recipe trained here"),
    "stages/transformer.py": ("transformer", "makemore.py's recipe", "vs makemore.py's figure", "vs bigram"),
}


def val_delta(at: AppTest) -> str:
    return metric(at, "val loss").proto.delta


def assert_measured_against(at: AppTest, reference: float) -> None:
    """The val metric's delta is its value minus `reference` (both shown rounded to 4 places)."""
    delta = val_delta(at)
    difference = 0.0 if delta.startswith("= ") else float(delta.split()[0])  # "= x": equal to the digits shown
    assert abs(difference - (float(metric(at, "val loss").value) - reference)) <= 2e-4, (difference, reference)


@pytest.mark.parametrize("page", list(RECIPE_PAGES))
def test_the_lecture_figure_stands_beside_the_lectures_recipe_only(page):
    model_name, button, with_recipe, otherwise = RECIPE_PAGES[page]
    at = open_page(page)  # the page's default: not the lecture's settings
    delta = val_delta(at)
    assert "figure" not in delta and not figures_in(delta), f"{page}'s default shows {delta!r}"
    assert otherwise in delta, delta
    next(b for b in at.button if b.label == button).click().run()  # shipped: nothing trains
    assert not at.exception, [e.value for e in at.exception]
    delta = val_delta(at)
    # a difference, never the figure; "= lecture 5's figure" where the two agree to the digits shown
    assert (with_recipe in delta or delta == "= " + with_recipe.removeprefix("vs ")) and not figures_in(delta)
    assert_measured_against(at, MODELS[model_name].lecture.val_loss)  # the lecture's own number
    assert not shared.job_board().trainings_started


def test_on_the_batchnorm_page_another_setting_compares_with_lecture_3s_recipe_trained_here():
    at = open_page("stages/batchnorm.py")
    next(b for b in at.button if b.label == "Lecture 3's recipe").click().run()
    recipe_val = float(metric(at, "val loss").value)
    next(b for b in at.button if b.label == "Fast recipe").click().run()
    delta = val_delta(at)
    assert "vs lecture 3's recipe trained here" in delta and "figure" not in delta
    assert_measured_against(at, recipe_val)


def test_the_recurrent_page_has_no_lecture_figure_even_for_makemore_pys_recipe():
    # makemore.py reports no val loss for its RNN or GRU: the page compares both settings with the bigram
    at = open_page("stages/recurrent.py")
    assert "vs bigram" in val_delta(at)
    next(b for b in at.button if b.label == "makemore.py's recipe").click().run()
    assert not at.exception, [e.value for e in at.exception]
    delta = val_delta(at)
    assert "vs bigram" in delta and "figure" not in delta and not figures_in(delta)
    assert not shared.job_board().trainings_started


def test_the_bigram_page_shows_lecture_1s_count_figure_only_at_its_smoothing():
    at = open_page("stages/bigram.py")
    assert at.slider(key="bigram_alpha").value == 1.0  # the lecture's own α
    assert any(f"about {LECTURE_COUNTS_NLL}" in c.value for c in at.caption)
    at.slider(key="bigram_alpha").set_value(3.0).run()
    assert not at.exception, [e.value for e in at.exception]
    assert LECTURE_COUNTS_NLL not in figures_in(page_text(at))
    assert any("Lecture 1's figure is for α = 1" in c.value for c in at.caption)


def test_a_narrower_wavenet_is_set_beside_lecture_5s_recipe_trained_here_not_its_figure():
    # the case: hidden width 64 is not the lecture's 76,579-parameter net
    at = AppTest.from_file(str(APP / "Home.py"), default_timeout=120)
    at.query_params["wn_hidden"] = "64"
    at.query_params["wn_steps"] = "500"
    at.run()
    at.switch_page("stages/wavenet.py").run()
    at.button(key="wn_train").click().run()
    for job in list(shared.job_board()._jobs.values()):
        deadline = time.monotonic() + 120
        while not job.wait(0.5):
            job.seen()
            assert time.monotonic() < deadline
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert metric(at, "parameters").value != "76,579"
    delta = val_delta(at)
    assert "vs lecture 5's recipe trained here" in delta and "figure" not in delta
    recipe = shared.job_board().find(WordDataset.from_file(ROOT / "data" / "names.txt"), MODELS["wavenet"].lecture_run())
    assert_measured_against(at, recipe.result.val_loss)
