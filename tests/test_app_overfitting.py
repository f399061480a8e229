"""Memorising met as a lesson: on a list of 200 made-up words the MLP page says that its model
learns the training words by heart, with the numbers, marks where val began to rise on the loss
chart, and offers fixes that set the page's widgets; on the lectures' list it says nothing."""

import json

import pytest
from streamlit.testing.v1 import AppTest

from test_app import metric
from test_app_mlp import APP, MLP_PAGE, chart_data, fresh_app, only_job  # noqa: F401  (fresh_app: autouse)
from test_overfitting import made_up_words
from training import shared  # noqa: E402  (on sys.path through test_app_mlp: the app's own module)

from makemore import cli
from makemore.serving.cache import SHIPPED_DIR
from makemore.models import MODELS
from makemore.train import TrainConfig
from makemore.runs import Run

STEPS = 1000  # enough for 160 words to be learned by heart, and a quick test


def memorising_warning(at: AppTest) -> str | None:
    return next((w.value for w in at.warning if "memorising its training words" in w.value), None)


def loss_spec(at: AppTest) -> dict:
    return json.loads(at.get("vega_lite_chart")[0].proto.spec)


def marks(spec: dict) -> list[str]:
    return [layer["mark"]["type"] if isinstance(layer["mark"], dict) else layer["mark"] for layer in spec["layer"]]


def wait_for_training(at: AppTest, job=None) -> AppTest:
    job = job or only_job()
    while not job.wait(0.5):
        job.seen()  # watched, as the live view would: not abandoned
    assert job.status == "done", job.stop_reason or job.error
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


@pytest.fixture
def made_up_page():
    """The MLP page on an upload of 200 made-up words, its steps at STEPS, trained."""
    at = AppTest.from_file(str(APP / "Home.py"), default_timeout=120)
    at.run()
    at.selectbox(key="dataset_choice").set_value("upload").run()
    at.file_uploader(key="dataset_upload").set_value(
        ("made-up.txt", ("\n".join(made_up_words()) + "\n").encode(), "text/plain")).run()
    at.switch_page(MLP_PAGE).run()
    assert not at.exception, [e.value for e in at.exception]
    at.select_slider(key="mlp_steps").set_value(STEPS).run()
    at.button(key="mlp_train").click().run()
    return wait_for_training(at)


def test_200_made_up_words_get_the_warning_the_chart_mark_and_fixes_that_train(made_up_page):
    at = made_up_page
    job = only_job()
    r, verdict_step = job.result, min(job.result.val_history, key=lambda p: p[1])[0]
    assert job.dataset.name == "made-up.txt" and len(job.dataset.splits["train"]) == 160
    warning = memorising_warning(at)
    assert warning is not None
    # the numbers: train against val, the bigram, the uniform guess, the copied samples
    assert f"train loss **{r.train_loss:.3f}**" in warning and f"val **{r.val_loss:.3f}**" in warning
    assert f"Val was lowest at step {verdict_step:,}" in warning and "train loss kept falling" in warning
    assert "above the bigram's" in warning and "above a uniform guess, −log(1/17) = 2.833" in warning
    assert "samples below are training words, copied" in warning
    assert r.train_loss < 2.0 < 2.833 < r.val_loss

    spec = loss_spec(at)
    assert marks(spec)[:3] == ["rect", "rule", "text"]  # the shading, the rule and its label, under the curves
    rows = chart_data(at, 0)
    label = rows.dropna(subset=["label"])
    assert f"val lowest: step {verdict_step:,}" in set(label["label"])
    assert set(rows.dropna(subset=["end"])["end"]) == {STEPS}  # shaded from the best step to the end

    assert set(fix_buttons(at)) == {"memorising_steps", "memorising_model", "memorising_decay", "memorising_keep"}
    fix_buttons(at)["memorising_keep"].click().run()
    assert at.toggle(key="mlp_keep").value is True
    at.button(key="mlp_train").click().run()
    again = next(j for j in shared.job_board()._jobs.values() if j is not job)
    assert again.train_config == TrainConfig(**{**MODELS["mlp"].train_defaults, "max_steps": STEPS, "keep_best": True})
    wait_for_training(at, again)
    # the same run, ending with the weights of its best validation point
    assert again.result.kept_step == verdict_step and again.result.val_loss == min(v for _, v in r.val_history)
    assert metric(at, "val loss") == f"{again.result.val_loss:.4f}"
    warning = memorising_warning(at)  # 160 words: even the best weights know them better than new ones
    assert f"These are the weights of step {verdict_step:,}, where val was lowest" in warning
    assert "memorising_keep" not in fix_buttons(at)
    assert f"val lowest: step {verdict_step:,} (its weights kept)" in set(chart_data(at, 0)["label"].dropna())


def fix_buttons(at: AppTest) -> dict:
    return {b.key: b for b in at.button if b.key and b.key.startswith("memorising_")}


def test_each_fix_sets_its_widget(made_up_page):
    at = made_up_page
    for button_key, kind, key, value, label in [
            ("memorising_steps", "select_slider", "mlp_steps", 500, "Fewer steps: 500"),
            ("memorising_model", "slider", "mlp_hidden", 96, "A smaller model: hidden width 96"),
            ("memorising_decay", "select_slider", "mlp_wd", 0.1, "Weight decay 0.1")]:
        button = fix_buttons(at)[button_key]
        assert button.label == label
        before = getattr(at, kind)(key=key).value
        button.click().run()
        assert getattr(at, kind)(key=key).value == value and memorising_warning(at) is None  # not trained yet
        getattr(at, kind)(key=key).set_value(before).run()  # back to the trained run: its results and fixes
        assert memorising_warning(at) is not None


def assert_no_memorising(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert float(metric(at, "val loss")) < 2.2
    assert memorising_warning(at) is None
    assert not fix_buttons(at)
    assert {"rect", "rule"}.isdisjoint(marks(loss_spec(at))[:2])


def test_the_lectures_recipe_on_a_list_of_32k_names_gets_no_warning_and_no_mark(monkeypatch):
    monkeypatch.setenv("MAKEMORE_SHIPPED_DIR", str(SHIPPED_DIR))  # its 200,000 steps ship: nothing to train
    at = AppTest.from_file(str(APP / "Home.py"), default_timeout=120)
    at.run()
    at.selectbox(key="dataset_choice").set_value("us-names.txt").run()
    at.switch_page(MLP_PAGE).run()
    assert_no_memorising(at)  # the page's default, shipped too
    next(b for b in at.button if b.label == "Lecture 2's recipe").click().run()
    assert_no_memorising(at)
    lecture = TrainConfig(**MODELS["mlp"].lecture.train)
    job = next(j for j in shared.job_board()._jobs.values() if j.train_config == lecture)
    assert job.from_disk and job.result.steps == 200_000 and shared.job_board().trainings_started == 0


@pytest.mark.slow  # trains on the 32,033 names (~10 s on one core)
def test_the_pages_default_on_the_lectures_list_gets_no_warning_and_no_mark():
    at = AppTest.from_file(str(APP / "Home.py"), default_timeout=120)
    at.run()
    at.switch_page(MLP_PAGE).run()
    at.button(key="mlp_train").click().run()
    assert_no_memorising(wait_for_training(at))
    assert only_job().train_config == TrainConfig(**MODELS["mlp"].train_defaults)


def test_the_settings_against_overfitting_live_in_the_link_and_are_the_clis():
    at = AppTest.from_file(str(APP / "Home.py"), default_timeout=120)
    at.query_params["mlp_wd"] = "0.1"
    at.query_params["mlp_keep"] = "true"
    at.run()
    at.switch_page(MLP_PAGE).run()
    assert not at.exception and not at.warning  # nothing in the link refused
    assert at.select_slider(key="mlp_wd").value == 0.1 and at.toggle(key="mlp_keep").value is True
    at.button(key="mlp_train").click().run()
    job = only_job()
    job.stop()
    args = cli.build_parser("mlp").parse_args(["train", "--model", "mlp", "--weight-decay", "0.1", "--keep-best"])
    assert job.key == shared.job_board().key(job.dataset, Run("mlp", *cli.configs_from_args(args)))
    assert job.train_config.weight_decay == 0.1 and job.train_config.keep_best


def test_a_link_with_a_weight_decay_the_slider_lacks_says_so():
    at = AppTest.from_file(str(APP / "Home.py"), default_timeout=120)
    at.query_params["mlp_wd"] = "7"
    at.run()
    at.switch_page(MLP_PAGE).run()
    assert any("Weight decay: '7' is not one of" in w.value for w in at.warning)
    assert at.select_slider(key="mlp_wd").value == "recipe's"
