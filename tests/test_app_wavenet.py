"""The WaveNet page under AppTest: a short training with every chart, the shapes of a typed name
through the blocks and the tree of what each unit reads, a message for every kind of bad name, the
lecture's presets side by side, the BatchNorm bug's running statistics, and settings in the URL.

The trainings are the shortest the sliders allow (500 steps) and go to one disk cache for the module:
the first test that needs the trained default net trains it, the others find it there."""

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from test_app import charts, metric, open_app, titles
from test_app_mlp import chart_data
from training import shared  # noqa: E402  (on sys.path through test_app_mlp: the app's own module)

from makemore.models import MODELS

PAGE = "stages/wavenet.py"
PRESETS = MODELS["wavenet"].presets
SHORT = {"wn_steps": "500"}  # a link to the page with the shortest training
CHARTS = ["Loss during training (train averaged, log scale)", "Which characters each unit reads",
          "Activations of each tanh layer", "Saturated units: |tanh| > 0.97",
          "Gradients flowing back into each tanh layer", "Gradient to weight: std(grad) / std(W)",
          "How much each step changes the weights: log10(std(update) / std(W))",
          "The learned embedding of every character"]


@pytest.fixture(scope="module")
def disk_cache(tmp_path_factory):
    return tmp_path_factory.mktemp("wavenet-cache")


@pytest.fixture(autouse=True)
def fresh_app(monkeypatch, disk_cache):
    """A new server for every test (an empty memory cache and job board) on the module's disk cache."""
    monkeypatch.setenv("MAKEMORE_CACHE_DIR", str(disk_cache))
    st.cache_resource.clear()
    yield
    for job in list(shared.job_board()._jobs.values()):
        job.stop()
        job.wait(30)
    st.cache_resource.clear()


def open_page(query: dict | None = None) -> AppTest:
    return open_app(PAGE, query)


def finish(at: AppTest) -> AppTest:
    """Wait for the trainings on the board (watched, as the live view does), then draw the page again."""
    for job in list(shared.job_board()._jobs.values()):
        while not job.wait(0.5):
            job.seen()
        assert job.status == "done", job.stop_reason or job.error
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def trained(query: dict | None = None) -> AppTest:
    """The page with its net trained for 500 steps: from the disk cache, or trained now."""
    at = open_page({**SHORT, **(query or {})})
    if not at.get("vega_lite_chart"):
        at.button(key="wn_train").click().run()
        finish(at)
    assert titles(charts(at))[0] == CHARTS[0]
    return at


def table(at: AppTest, column: str):
    """The table that has this column."""
    return next(df.value for df in at.dataframe if column in df.value.columns)


def started():
    """The one training started on this page (the board also holds the trained ones it has looked up)."""
    board = shared.job_board()
    assert board.trainings_started == 1
    return next(job for job in board._jobs.values() if not job.from_disk)


def summary(at: AppTest) -> str:
    return next(c.value for c in at.caption if "parameters**" in c.value)


def test_page_opens_on_the_lectures_final_net_with_its_estimate():
    at = open_page()
    assert at.title[0].value == "WaveNet: a hierarchical MLP"
    assert at.select_slider(key="wn_context").value == 8 and at.slider(key="wn_embd").value == 24
    assert at.slider(key="wn_hidden").value == 128 and at.toggle(key="wn_tree").value is True
    assert "**76,579 parameters**" in summary(at)  # the lecture's number
    assert any(i.value.startswith("**Scaled up.**") for i in at.info)
    assert at.button(key="wn_train").label.startswith("Train (about")
    assert not at.get("vega_lite_chart") and not at.error


def test_a_short_training_shows_its_charts_the_presets_side_by_side_and_samples():
    at = trained()
    assert titles(charts(at)) == CHARTS
    val = float(metric(at, "val loss"))
    assert val < 2.6  # far below the uniform guess, log 27 = 3.30
    assert set(chart_data(at, 2)["layer"]) == {"layer 1", "layer 2", "layer 3"}  # a tanh per level
    assert len(chart_data(at, 7)) == 27  # one point per character of the embedding table
    assert any("samples are new words" in c.value for c in at.caption)

    presets = table(at, "preset")
    assert len(presets) == len(PRESETS)
    assert list(presets["parameters"][:5]) == [12_097, 22_097, 22_397, 22_397, 76_579]
    scaled = presets[presets["preset"].str.endswith("Scaled up")].iloc[0]
    assert scaled["val loss"] == round(val, 4)  # the run just trained is the scaled-up preset's
    assert scaled["lecture's val (200k SGD steps)"] == 1.993
    assert presets["val loss"].isna().sum() == len(PRESETS) - 1  # the others: not trained yet


def test_a_trained_model_in_the_cache_shows_at_once():
    trained()
    st.cache_resource.clear()  # a server restart: the disk cache is left
    at = open_page(SHORT)
    assert titles(charts(at)) == CHARTS and shared.job_board().trainings_started == 0


def test_the_shapes_of_a_typed_name_through_every_layer():
    at = trained({"wn_name": "emma"})
    shapes = table(at, "output shape")
    assert list(shapes["output shape"]) == [
        "(B, 8)", "(B, 8, 24)",
        "(B, 4, 48)", "(B, 4, 128)", "(B, 4, 128)", "(B, 4, 128)",
        "(B, 2, 256)", "(B, 2, 128)", "(B, 2, 128)", "(B, 2, 128)",
        "(B, 256)", "(B, 128)", "(B, 128)", "(B, 128)", "(B, 27)"]
    assert shapes["layer"][2] == "FlattenConsecutive(2)" and shapes["layer"][3] == "Linear(48, 128, bias=False)"
    assert shapes["one example holds"][0].endswith(". . . . e m m a")  # the window before what follows "emma"
    assert shapes["one example holds"][2] == "4 vectors of 48: .. · .. · em · ma"
    assert shapes["one example holds"][6] == "2 vectors of 256: .... · emma"
    assert any(c.value.startswith("After “emma” this model expects:") for c in at.caption)
    tree = chart_data(at, 1)  # the edges, then the nodes
    nodes = tree.dropna(subset=["kind"])
    assert "".join(nodes[nodes["kind"] == "input"]["char"]) == "....emma"
    assert sorted(nodes[nodes["kind"] == "unit"]["reads"]) == sorted(["..", "..", "em", "ma", "....", "emma",
                                                                      "....emma"])

    at.text_input(key="wn_name").set_value("isabella").run()  # 8 letters: the window is the whole name
    assert table(at, "output shape")["one example holds"][2] == "4 vectors of 48: is · ab · el · la"


def test_a_longer_context_adds_a_level_to_the_shapes_and_the_tree():
    at = trained({"wn_context": "16", "wn_embd": "10", "wn_hidden": "32", "wn_name": "emma"})
    shapes = table(at, "output shape")
    assert list(shapes["output shape"][:3]) == ["(B, 16)", "(B, 16, 10)", "(B, 8, 20)"]
    assert len(shapes) == 2 + 4 * 4 + 1  # input, embedding, four levels of four blocks, the output layer
    nodes = chart_data(at, 1).dropna(subset=["kind"])
    assert (nodes["kind"] == "input").sum() == 16 and (nodes["kind"] == "unit").sum() == 8 + 4 + 2 + 1


@pytest.mark.parametrize("name, says", [
    ("", "Type a word"),
    ("Emma", "`E` is not among the characters of this word list"),
    ("zoë", "`ë` is not among the characters"),
    ("em.ma", "marks where words start and end"),
    ("a" * 33, "That is 33 characters"),
], ids=["empty", "upper case", "accent", "boundary", "too long"])
def test_a_bad_typed_name_gets_a_message_not_a_traceback(name, says):
    at = trained()
    at.text_input(key="wn_name").set_value(name).run()
    assert not at.exception, [e.value for e in at.exception]
    warnings = [w.value for w in at.warning]
    assert any(says in w for w in warnings), warnings
    assert not any("output shape" in df.value.columns for df in at.dataframe)  # no shape table
    assert titles(charts(at))[1] != "Which characters each unit reads"  # and no tree
    if name == "Emma":
        assert "This list has no capitals: try `emma`" in warnings[0]


def test_the_batchnorm_bug_shows_its_running_statistics_and_both_losses():
    at = trained()
    shapes = table(at, "the bug: statistics")
    assert list(shapes["the bug: statistics"]) == ["(1, 4, 128)", "(1, 2, 128)", "(128,)"]
    assert list(shapes["the fix: statistics"]) == ["(1, 1, 128)", "(1, 1, 128)", "(128,)"]
    assert list(shapes["numbers behind each (fix)"]) == ["1,024", "512", "256"]  # batch 256 × positions
    assert metric(at, "val loss with the bug") == "not trained"
    fixed = metric(at, "val loss with the fix")
    assert fixed == metric(at, "val loss")

    at.button(key="wn_bn_other").click().run()  # the same net and training, with the bug
    assert at.toggle(key="wn_bn").value is False and shared.job_board().trainings_started == 1
    finish(at)
    assert metric(at, "val loss with the fix") == fixed
    assert metric(at, "val loss with the bug") == metric(at, "val loss") != "not trained"
    assert at.button(key="wn_bn_other").label.startswith("Show")  # both trained: the button switches back
    runs = table(at, "run")  # both runs of the session, side by side
    assert sorted(runs["model"].str.endswith("BN bug")) == [False, True]


def test_context_3_makes_the_net_flat_and_the_tree_needs_8():
    at = open_page()
    at.select_slider(key="wn_context").set_value(3).run()
    assert at.toggle(key="wn_tree").value is False  # a tree cannot read 3 characters: the net turned flat
    assert "**" in summary(at) and not at.error
    at.toggle(key="wn_tree").set_value(True).run()
    assert at.select_slider(key="wn_context").value == 8  # and the tree takes 8 again
    assert not at.error and not at.exception


def test_a_link_to_an_impossible_net_says_why():
    at = open_page({"wn_context": "3"})  # the tree (the default) with 3 characters
    assert any("context must be a power of two" in e.value for e in at.error)
    assert not at.exception


def test_a_link_opens_its_settings():
    at = open_page({"wn_context": "16", "wn_embd": "10", "wn_hidden": "68", "wn_bn": "false", "wn_name": "olivia",
                    "wn_steps": "1000", "wn_batch": "64", "wn_optimizer": "SGD"})
    assert at.select_slider(key="wn_context").value == 16 and at.slider(key="wn_embd").value == 10
    assert at.slider(key="wn_hidden").value == 68 and at.toggle(key="wn_bn").value is False
    assert at.select_slider(key="wn_steps").value == 1000 and at.radio(key="wn_optimizer").value == "SGD"
    assert at.select_slider(key="wn_batch").value == 64
    assert not at.warning


@pytest.mark.parametrize("query", [{"wn_context": "5"}, {"wn_embd": "99"}, {"wn_tree": "maybe"}, {"bogus": "1"}])
def test_bad_link_parameters_fall_back_to_defaults_with_a_notice(query):
    at = open_page(query)
    assert any("could not be used" in w.value for w in at.warning)
    assert at.select_slider(key="wn_context").value == 8 and at.slider(key="wn_embd").value == 24


def test_a_preset_sets_its_net_and_trains_it():
    at = open_page(SHORT)
    at.button(key="wn_preset_hierarchical-bug").click().run()
    config = PRESETS["hierarchical-bug"].config
    assert at.slider(key="wn_hidden").value == config.n_hidden and at.toggle(key="wn_bn").value is False
    assert any(i.value.startswith("**Tree, BatchNorm bug.**") for i in at.info)
    job = started()  # a preset trains at once
    assert job.model_config == config and job.train_config.max_steps == 500


def test_a_preset_with_its_own_recipe_trains_with_all_of_it():
    at = open_page()
    at.button(key="wn_preset_longer").click().run()
    job = started()
    own = PRESETS["longer"].train
    assert {k: getattr(job.train_config, k) for k in own} == own  # weight decay too, which no slider sets
    assert at.select_slider(key="wn_steps").value == own["max_steps"]
    assert any(i.value.startswith("**Longer run.**") for i in at.info)


def test_recipe_buttons_set_the_training():
    at = open_page()
    next(b for b in at.button if b.label == "Lecture 5's recipe").click().run()
    assert at.select_slider(key="wn_steps").value == 200_000 and at.select_slider(key="wn_batch").value == 32
    assert at.radio(key="wn_optimizer").value == "SGD" and at.selectbox(key="wn_decay").value == "step"
    assert not at.button(key="wn_train").disabled  # the lecture's own run fits the time budget
    next(b for b in at.button if b.label == "Fast recipe").click().run()
    assert at.radio(key="wn_optimizer").value == "AdamW" and at.select_slider(key="wn_batch").value == 256


def test_a_missing_value_shows_as_a_dash_in_every_table_not_none():
    at = trained()
    presets = next(d for d in at.dataframe if "lecture's val (200k SGD steps)" in d.value.columns)
    longer = presets.value[presets.value["preset"].str.contains("Longer")]
    assert longer["lecture's val (200k SGD steps)"].isna().all()  # the lecture has no such run
    gaps = [d for d in at.dataframe if d.value.isna().any().any()]
    assert presets in gaps and all(d.proto.placeholder == "—" for d in gaps)
