"""The Backprop page under AppTest: the scalar engine's graph walked step by step and checked three
ways, the tiny network it trains, and every hand-written gradient of the MLP against autograd."""

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from test_app import chart_data, charts, open_app, titles

from makemore.lesson.backprop import FUSED, NAMES

PAGE = "stages/backprop.py"


@pytest.fixture(autouse=True)
def fresh_app(monkeypatch, tmp_path):
    monkeypatch.setenv("MAKEMORE_CACHE_DIR", str(tmp_path / "cache"))
    st.cache_data.clear()
    yield
    st.cache_data.clear()


@pytest.fixture(scope="module")
def page() -> AppTest:
    """The page as it opens (shared by the tests that only read it)."""
    return open_page()


def open_page() -> AppTest:
    return open_app(PAGE)


def graph(at: AppTest) -> str:
    charts_ = at.get("graphviz_chart")
    assert len(charts_) == 1
    return charts_[0].proto.spec


def slider(at: AppTest, label: str):
    return next(s for s in at.slider if s.label == label)


def markdown_with(at: AppTest, text: str) -> str:
    return next(m.value for m in at.markdown if text in m.value)


def test_the_page_opens_on_the_lectures_neuron_with_every_gradient_filled(page):
    assert page.title[0].value == "Backprop: the chain rule, by hand"
    dot = graph(page)
    assert dot.startswith("digraph")
    for label in ("x1w1", "x2w2", "x1w1x2w2", "n", "o"):
        assert f"{label} |" in dot
    assert "grad ?" not in dot and "data 0.7071" in dot  # o = tanh(0.8814) = 1/sqrt(2)
    checks = page.dataframe[0].value
    assert list(checks["input"]) == ["x1", "x2", "w1", "w2", "b"]
    assert list(checks["our engine"]) == pytest.approx([-1.5, 0.5, 1.0, 0.0, 0.5], abs=1e-6)
    assert set(checks["agree"]) == {"✓"}


def test_the_step_slider_replays_the_backward_pass(page):
    at = open_page()
    step = slider(at, "Backward pass: step")
    assert step.value == step.max  # opens on the finished pass
    step.set_value(0).run()
    assert "grad ?" in graph(at) and "grad 1.0000" not in graph(at)
    assert any("Before the backward pass" in c.value for c in at.caption)
    step.set_value(1).run()
    assert graph(at).count("grad ?") == graph(at).count("shape=record") - 1  # only the output is known
    assert any("starts with gradient 1" in c.value for c in at.caption)
    step.set_value(2).run()  # tanh passes its gradient to n: local 1 - o^2 = 0.5 times upstream 1
    assert "`n.grad` += local 0.5000 × upstream 1.0000 = **0.5000**" in markdown_with(at, "passes its gradient back")
    assert 'fillcolor="#fde9b6"' in graph(at) and "penwidth=3" in graph(at)


def test_another_expression_and_its_inputs_give_their_own_gradients():
    at = open_page()
    at.selectbox(key="bp_expression").set_value("lecture-L").run()
    assert not at.exception
    assert [s.label for s in at.slider][:4] == ["a", "b", "c", "f"]
    checks = at.dataframe[0].value
    assert list(checks["our engine"]) == pytest.approx([6.0, -4.0, -2.0, 4.0])  # the lecture's numbers
    slider(at, "f").set_value(1.0).run()  # dL/da = b * f: now -3
    assert at.dataframe[0].value["our engine"].iloc[0] == pytest.approx(-3.0)
    assert set(at.dataframe[0].value["agree"]) == {"✓"}


def test_the_tiny_network_trains_for_the_chosen_steps(page):
    assert "Loss on the 4 examples" in titles(charts(page))
    at = open_page()
    slider(at, "Gradient descent steps").set_value(120).run()
    losses = chart_data(at, 0)["loss"]
    assert len(losses) == 120 and losses.iloc[-1] < 0.05 * losses.iloc[0]
    predictions = at.dataframe[1].value
    assert list(predictions["prediction"].round()) == [1.0, -1.0, -1.0, 1.0]


def test_every_hand_written_gradient_is_in_the_table_and_matches(page):
    metrics = {m.label: m.value for m in page.metric}
    assert metrics["gradients that match autograd"] == "28 of 28"
    table = markdown_with(page, "| gradient | shape |")
    for name in (*NAMES, *FUSED):
        assert f"| `d{name}` |" in table
    assert "✗" not in table
    assert "(32, 27)" in table and "(64, 27)" in table  # dlogits, dW2 at the defaults


def test_batch_size_and_width_change_the_checked_network():
    at = open_page()
    at.select_slider(key="bp_batch").set_value(8).run()
    at.select_slider(key="bp_hidden").set_value(16).run()
    assert not at.exception
    table = markdown_with(at, "| gradient | shape |")
    assert "| `dlogits` | (8, 27) |" in table and "| `dW1` | (30, 16) |" in table
    assert {m.label: m.value for m in at.metric}["gradients that match autograd"] == "28 of 28"
    heatmap = chart_data(at, 1)
    assert len(heatmap) == 8 * 27 and set(heatmap["example"]) == set(range(8))


def test_training_with_our_gradients_follows_autograd(page):
    assert titles(charts(page))[1:] == ["dlogits for the minibatch",
                                        "The same network trained twice: the curves lie on top of each other"]
    difference = float({m.label: m.value for m in page.metric}["largest difference in the loss"])
    assert difference < 1e-4
    at = open_page()
    at.select_slider(key="bp_check_steps").set_value(200).run()
    assert not at.exception
    runs = chart_data(at, 2)
    assert set(runs["run"]) == {"autograd (loss.backward())", "our gradients"} and runs["step"].max() == 200
