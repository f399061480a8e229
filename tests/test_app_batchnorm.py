"""The BatchNorm page under AppTest: the lecture's presets, each trained with its charts; the
diagnostics at a chosen step; the comparison of runs; settings in the URL."""

import pytest
from streamlit.proto.Metric_pb2 import Metric as MetricProto
from streamlit.testing.v1 import AppTest

from test_app import charts, metric, open_app, titles
from test_app_mlp import chart_data, finish_trainings, fresh_app  # noqa: F401  (fresh_app: autouse, a clean cache and job board)
from training import shared  # noqa: E402  (on sys.path through test_app_mlp: the app's own module)

from makemore.models.mlp_bn import PRESETS

PAGE = "stages/batchnorm.py"
DIAGNOSTIC_CHARTS = ["Activations of each tanh layer", "Saturated units: |tanh| > 0.97",
                     "Gradients flowing back into each tanh layer", "Gradient to weight: std(grad) / std(W)",
                     "How much each step changes the weights: log10(std(update) / std(W))"]


def open_page(query: dict | None = None) -> AppTest:
    return open_app(PAGE, query)


def quick(at: AppTest) -> AppTest:
    """The shortest run the sliders allow, on small batches: a few seconds even for a deep net."""
    at.select_slider(key="bn_steps").set_value(500).run()
    at.select_slider(key="bn_batch").set_value(64).run()
    return at


def click(at: AppTest, key: str) -> AppTest:
    at.button(key=key).click().run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_page_opens_on_the_lectures_batchnorm_net_with_its_estimate():
    at = open_page()
    assert at.title[0].value == "Activations, gradients and BatchNorm"
    assert at.slider(key="bn_layers").value == 1 and at.slider(key="bn_hidden").value == 200
    assert at.toggle(key="bn_batchnorm").value is True
    assert any(i.value.startswith("**BatchNorm.**") for i in at.info)  # the preset it matches, explained
    assert any("**12,097 parameters**" in c.value for c in at.caption)
    assert at.button(key="bn_train").label.startswith("Train (about")
    assert not at.get("vega_lite_chart")


@pytest.mark.parametrize("preset", list(PRESETS))
def test_each_preset_sets_its_network_trains_and_shows_every_chart(preset):
    at = click(quick(open_page()), f"bn_preset_{preset}")
    config = PRESETS[preset]
    assert at.slider(key="bn_layers").value == config.n_layers and at.slider(key="bn_hidden").value == config.n_hidden
    assert at.toggle(key="bn_batchnorm").value == config.batchnorm
    assert shared.job_board().trainings_started == 1  # a preset trains at once
    at = finish_trainings(at)

    shown = titles(charts(at))
    assert shown[:2] == ["Loss during training (train averaged, log scale)",
                         "Loss at step 1 against the uniform guess (orange)"]
    assert shown[2:] == DIAGNOSTIC_CHARTS
    activations = chart_data(at, 2)
    assert sorted(set(activations["layer"])) == [f"layer {i + 1}" for i in range(config.n_layers)]
    first_loss = float(metric(at, "loss at step 1"))
    assert (first_loss > 10) == (preset == "naive")  # only the naive net starts confidently wrong
    assert float(metric(at, "val loss")) < first_loss
    assert any("samples are new words" in c.value for c in at.caption)


def test_clicking_through_presets_grows_the_comparison_table():
    at = quick(open_page())
    for preset in ("naive", "softmax"):
        at = finish_trainings(click(at, f"bn_preset_{preset}"))
    table = at.dataframe[0].value
    assert list(table["run"]) == ["1. Naive init", "2. Fix the softmax"]
    assert table["first loss"].iloc[0] > 10 > table["first loss"].iloc[1]
    bars = chart_data(at, 1)
    assert list(bars["run"]) == ["1. Naive init", "2. Fix the softmax"]


def test_the_step_slider_shows_the_network_later_in_training():
    at = finish_trainings(click(quick(open_page()), "bn_preset_naive"))
    saturated_at_start = chart_data(at, 3)["saturation"].iloc[0]
    step = next(s for s in at.select_slider if s.label == "Show the network at step")
    assert step.value == 1 and step.options[-1] == "500"
    step.set_value(500).run()
    assert not at.exception
    assert chart_data(at, 3)["saturation"].iloc[0] != saturated_at_start
    updates = chart_data(at, 6)  # the update ratios over the run, with a rule at the chosen step
    assert updates["step"].max() == 500 and 500 in set(updates["step"])


def test_recipe_buttons_set_the_training():
    at = open_page()
    next(b for b in at.button if b.label == "Lecture 3's recipe").click().run()
    assert at.select_slider(key="bn_steps").value == 200_000 and at.select_slider(key="bn_batch").value == 32
    assert at.radio(key="bn_optimizer").value == "SGD" and at.selectbox(key="bn_decay").value == "step"
    assert not at.button(key="bn_train").disabled  # the lecture's own run fits the time budget
    next(b for b in at.button if b.label == "Fast recipe").click().run()
    assert at.radio(key="bn_optimizer").value == "AdamW" and at.select_slider(key="bn_batch").value == 1024


def test_a_link_opens_its_settings():
    at = open_page({"bn_layers": "5", "bn_hidden": "100", "bn_batchnorm": "false", "bn_init": "1/√fan_in (no gain)",
                    "bn_out": "0.1", "bn_steps": "1000"})
    assert at.slider(key="bn_layers").value == 5 and at.slider(key="bn_hidden").value == 100
    assert at.toggle(key="bn_batchnorm").value is False and at.select_slider(key="bn_out").value == 0.1
    assert any(i.value.startswith("**Deep, no gain.**") for i in at.info)
    assert not at.warning


@pytest.mark.parametrize("query", [{"bn_layers": "99"}, {"bn_batchnorm": "maybe"}, {"bn_init": "zeros"},
                                   {"bn_out": "-1"}, {"bn_hidden": "x"}, {"bogus": "1"}])
def test_bad_link_parameters_fall_back_to_defaults_with_a_notice(query):
    at = open_page(query)
    assert any("could not be used" in w.value for w in at.warning)
    assert at.slider(key="bn_layers").value == 1 and at.toggle(key="bn_batchnorm").value is True


def test_a_run_over_the_time_budget_cannot_start():
    at = open_page()
    at.slider(key="bn_layers").set_value(8).run()
    at.slider(key="bn_hidden").set_value(512).run()
    at.select_slider(key="bn_steps").set_value(200_000).run()
    assert any("the playground allows" in w.value for w in at.warning)
    assert at.button(key="bn_train").disabled
    click(at, "bn_preset_deep")  # a preset keeps the training settings: still too long, so nothing starts
    assert shared.job_board().trainings_started == 0


def test_a_first_loss_at_the_uniform_guess_is_shown_as_the_goal_and_one_far_above_in_red():
    at = finish_trainings(click(quick(open_page()), "bn_preset_batchnorm"))
    good = next(m for m in at.metric if m.label == "loss at step 1")
    assert good.delta == "≈ uniform guess"
    assert good.proto.color == MetricProto.MetricColor.GREEN and good.proto.direction == MetricProto.MetricDirection.NONE
    at = finish_trainings(click(at, "bn_preset_naive"))  # logits far too large at first: a loss far above the guess
    bad = next(m for m in at.metric if m.label == "loss at step 1")
    assert bad.delta.startswith("+") and bad.delta.endswith("vs uniform guess")
    assert bad.proto.color == MetricProto.MetricColor.RED and bad.proto.direction == MetricProto.MetricDirection.UP
